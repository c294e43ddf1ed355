"""`briefing init` and `briefing new`: files a new user starts from."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

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


# Cyrillic to Latin for file names: Ukrainian by the national system of 2010 (Київ → kyiv,
# Харків → kharkiv), Russian much as BGN/PCGN, without its marks (Москва → moskva, объём → obyom).
# Where a letter is spelt otherwise at the start of a word, that spelling comes second.
_UKRAINIAN = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": ("ie", "ye"),
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": ("i", "yi"), "й": ("i", "y"), "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": ("iu", "yu"),
    "я": ("ia", "ya"), "'": "", "’": "", "ʼ": "",
}
_APOSTROPHES = "'’ʼ"
_RUSSIAN = {
    **{letter: spelling for letter, spelling in _UKRAINIAN.items() if letter not in "гєиіїй"},
    "г": "g", "ё": "yo", "и": "i", "й": "y", "ъ": "", "ы": "y", "э": "e", "ю": "yu", "я": "ya",
}
# Latin letters that Unicode does not decompose into a base letter and an accent
_LATIN = {"ß": "ss", "ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ı": "i"}


def slugify(text: str) -> str:
    """A file name's slug for a title: lowercase ASCII letters and digits joined by hyphens
    (FORMAT.md's slugs), Cyrillic transliterated and accents dropped (Genève → geneve)."""
    text = unicodedata.normalize("NFC", text.lower())
    # a title with ы, э, ё or ъ is Russian; any other Cyrillic is read as Ukrainian
    ukrainian = re.search("[ыэёъ]", text) is None
    table = _UKRAINIAN if ukrainian else _RUSSIAN
    latin = []
    for i, char in enumerate(text):
        spelling = table.get(char, _LATIN.get(char, char))
        if isinstance(spelling, tuple):   # (an apostrophe inside a word is no start: п'ять → piat)
            spelling = spelling[1] if i == 0 or not (text[i - 1].isalpha() or text[i - 1] in _APOSTROPHES) \
                else spelling[0]
        elif ukrainian and char == "г" and i and text[i - 1] == "з":
            spelling = "gh"    # зг is zgh, so that it does not read as ж (zh)
        latin.append(spelling)
    decomposed = unicodedata.normalize("NFKD", "".join(latin))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")
    return slug[:60].rstrip("-") or "article"


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
