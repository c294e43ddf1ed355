"""`briefing init` and `briefing new`: files a new user starts from."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .errors import did_you_mean
from .model import ACTOR_KINDS
from .schema import ID_RE, id_hint
from .slugs import slug_of
from .urls import SECTIONS

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


def _slug(text: str) -> str:
    """`slugs.slug_of`, at most 60 characters: a file name's stem (possibly empty)."""
    return slug_of(text)[:60].rstrip("-")


def slugify(text: str) -> str:
    """A file name's slug for an article's title, never empty."""
    return _slug(text) or "article"


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


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar of `text` (a JSON string is one: quotes, backslashes and
    control characters escaped, so a title holding ': ' or '#' reads back as written)."""
    return json.dumps(text, ensure_ascii=False)


def _write_new(path: Path, text: str) -> Path:
    """Write a new file; refuses to overwrite one."""
    if path.exists():
        raise FileExistsError(f"'{path}' already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def new_article(site: Path, title: str, date: dt.date | None = None) -> Path:
    """Write a dated article file with the front matter skeleton; refuses to overwrite."""
    date = date or dt.date.today()
    path = site / "content" / "articles" / f"{date.isoformat()}-{slugify(title)}.md"
    return _write_new(path, f"""\
---
title: {_quoted(title)}
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
""")


def new_actor(site: Path, name: str, kind: str = "person", ident: str | None = None) -> tuple[Path, str]:
    """Write an actor file (content/actors/<id>.yaml) for `name`; returns it and the actor's id.

    The id is the name's slug unless given; the optional keys are there as comments, to fill in.
    """
    if kind not in ACTOR_KINDS:
        hint = did_you_mean(kind, ACTOR_KINDS)
        raise ValueError(f"unknown actor kind '{kind}' ({hint + ' ' if hint else ''}one of {', '.join(ACTOR_KINDS)})")
    if ident is not None and not ID_RE.match(ident):
        raise ValueError(f"invalid actor id '{ident}' ({id_hint(ident)})")
    ident = ident if ident is not None else _slug(name)
    if not ident:
        raise ValueError(f"no id can be made from the name {name!r}: give one with --id")
    path = site / "content" / "actors" / f"{ident}.yaml"
    _write_new(path, f"""\
name: {_quoted(name)}
kind: {kind}
# Optional keys, with examples: take away a line's '# ' and write the actor's own value.
# role: Secretary General             # as readers know it
# affiliation: nato                   # the actor id of its organisation or state
# country: NL                         # ISO 3166-1 alpha-2
# aliases: [Rutte]                    # other names the texts use; a mention links here
# wikidata: Q57792                    # its Wikidata item
# description: One sentence about the actor.
# url: https://example.org/           # an official page
""")
    return path, ident


def new_page(site: Path, title: str) -> Path:
    """Write a plain page (content/pages/<slug>.md, served at /<slug>/); refuses a slug a section has."""
    slug = _slug(title)
    if not slug:
        raise ValueError(f"no file name can be made from the title {title!r}: write one with letters or digits")
    if slug in SECTIONS:
        raise ValueError(f"the page would be served at /{slug}/, the site's own {slug} section: choose another title")
    return _write_new(site / "content" / "pages" / f"{slug}.md", f"""\
---
title: {_quoted(title)}
---
Write the page here in Markdown.
""")
