"""`briefing init` and `briefing new`: files a new user starts from."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from .slugs import slug_of

SITE_YAML = """\
title: {title}
base_url: /
language: en
description: A briefing site about a developing story.
timezone: UTC
"""

ACTOR_YAML = """\
name: Ada Example
kind: person
role: Spokesperson
aliases: [Example]
"""

ARTICLE = """\
---
title: {title}
date: {date}
summary: >
  One or two sentences: the bottom line a reader should take away.
why_it_matters: >
  Why this development matters for the story.
source:
  name: Example Source
  url: https://example.org/
tags: [example]
actors:
  - ada-example
proposals:
  - id: example-proposal
    title: An example proposal
    status: proposed
    proposed_by: [ada-example]
    positions:
      - actor: ada-example
        stance: supports
        quote: We back this plan
questions:
  - id: example-question
    question: Who will carry the plan out?
    raised_by: ada-example
    status: open
quotes:
  - actor: ada-example
    text: We back this plan
events:
  - date: {date}
    title: The plan is announced
    actors: [ada-example]
---
Ada Example announced the plan on {date}. "We back this plan," Example said.

Write the article's text here in Markdown. `[[example-proposal]]` links the proposal.
"""


def slugify(text: str) -> str:
    """A file name's slug for a title (`slugs.slug_of`), at most 60 characters, never empty."""
    return slug_of(text)[:60].rstrip("-") or "article"


def init_site(folder: Path, title: str = "My Briefing") -> list[Path]:
    """Write a new site that builds at once; refuses a folder that is not empty."""
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"'{folder}' is not empty; choose a new folder")
    today = dt.date.today().isoformat()
    files = {
        folder / "site.yaml": SITE_YAML.format(title=title),
        folder / "content" / "actors" / "ada-example.yaml": ACTOR_YAML,
        folder / "content" / "articles" / f"{today}-first-briefing.md":
            ARTICLE.format(title="First briefing", date=today),
        # the output and the build's caches (the model of a long story runs to 100 MB) are not sources
        folder / ".gitignore": "_site/\n.briefing-cache/\n",
        folder / "templates" / ".keep": "",
        folder / "static" / ".keep": "",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


def new_article(site: Path, title: str, date: dt.date | None = None) -> Path:
    """Write a dated article file with the front matter skeleton; refuses to overwrite."""
    date = date or dt.date.today()
    path = site / "content" / "articles" / f"{date.isoformat()}-{slugify(title)}.md"
    if path.exists():
        raise FileExistsError(f"'{path}' already exists")
    safe_title = '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""\
---
title: {safe_title}
date: {date.isoformat()}
draft: true
summary: >
  The bottom line.
source:
  name:
  url:
tags: []
actors: []
proposals: []
questions: []
quotes: []
events: []
---
Write the article here.
""", encoding="utf-8")
    return path
