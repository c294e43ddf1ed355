"""The front matter's shape, declared once.

The same declarations validate documents (with a diagnostic at the key's line for every
mistake) and print the JSON Schema that `briefing schema` gives to editors.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import WARNING, Diagnostic, did_you_mean
from .model import ACTOR_KINDS, CONFIDENCES, QUESTION_STATUSES, STANCES, STATUSES
from .slugs import slug_of

ID_PATTERN = r"[a-z0-9]+(-[a-z0-9]+)*"
ID_RE = re.compile(ID_PATTERN + r"\Z")
KEY = None  # a last path part meaning "the key itself": ('source', 'nmae', KEY) is where 'nmae' is written

Path = tuple  # a key path into the front matter: ('proposals', 0, 'positions', 1, 'actor')


def id_hint(value: str) -> str:
    """What to write instead of an invalid id: `value` spelt as one where it can be."""
    return f"use lowercase letters, digits and single hyphens, like '{slug_of(value) or 'mark-rutte'}'"


class Context:
    """Where diagnostics go while a document is validated."""

    def __init__(self, file: str, locate: Callable[[Path], tuple[int, int]]):
        self.file = file
        self.locate = locate
        self.diagnostics: list[Diagnostic] = []

    def report(self, path: Path, message: str, hint: str = "", severity: str = "error") -> None:
        line, column = self.locate(path)
        self.diagnostics.append(Diagnostic(self.file, line, column, message, hint, severity))


class Invalid(Exception):
    """A value did not fit; already reported."""


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (dt.date, dt.datetime)):
        return "a date"
    return type(value).__name__


def _name(path: Path) -> str:
    """'proposals[0].positions[1].actor' for messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "front matter"


class Type:
    description = ""

    def check(self, value: Any, path: Path, ctx: Context) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict:
        raise NotImplementedError

    def fail(self, ctx: Context, path: Path, expected: str, value: Any) -> Invalid:
        ctx.report(path, f"'{_name(path)}' must be {expected}, not {_describe(value)}")
        return Invalid()


class Text(Type):
    def check(self, value, path, ctx):
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # `title: 1984` means the text
        raise self.fail(ctx, path, "text", value)

    def json_schema(self):
        return {"type": "string"}


class Id(Type):
    def __init__(self, what: str = "id"):
        self.what = what

    def check(self, value, path, ctx):
        if not isinstance(value, str):
            raise self.fail(ctx, path, f"{'an' if self.what[0] in 'aeiou' else 'a'} {self.what} (text)", value)
        if not ID_RE.match(value):
            ctx.report(path, f"invalid {self.what} '{value}'", id_hint(value))
            raise Invalid()
        return value

    def json_schema(self):
        return {"type": "string", "pattern": f"^{ID_PATTERN}$"}


class Enum(Type):
    def __init__(self, values: tuple[str, ...], what: str):
        self.values, self.what = values, what

    def check(self, value, path, ctx):
        if isinstance(value, str) and value in self.values:
            return value
        if not isinstance(value, str):
            raise self.fail(ctx, path, f"one of {', '.join(self.values)}", value)
        hint = did_you_mean(value, self.values) or "one of " + ", ".join(self.values)
        ctx.report(path, f"unknown {self.what} '{value}'", hint)
        raise Invalid()

    def json_schema(self):
        return {"enum": list(self.values)}


_YAML11_BOOLS = {"yes": True, "on": True, "no": False, "off": False}


class Bool(Type):
    def check(self, value, path, ctx):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _YAML11_BOOLS:
            return _YAML11_BOOLS[value.lower()]
        raise self.fail(ctx, path, "true or false", value)

    def json_schema(self):
        return {"type": "boolean"}


class Int(Type):
    def __init__(self, low: int = 1):
        self.low = low

    def check(self, value, path, ctx):
        if isinstance(value, int) and not isinstance(value, bool) and value >= self.low:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ctx.report(path, f"'{_name(path)}' must be a whole number from {self.low}, not {value}")
            raise Invalid()
        raise self.fail(ctx, path, f"a whole number from {self.low}", value)

    def json_schema(self):
        return {"type": "integer", "minimum": self.low}


class Date(Type):
    """A date or datetime; text in ISO form is accepted too."""

    def check(self, value, path, ctx):
        if isinstance(value, (dt.date, dt.datetime)):
            return value
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value) if "T" in value or " " in value.strip() \
                    else dt.date.fromisoformat(value)
            except ValueError:
                pass
            ctx.report(path, f"bad date '{value}'", "write an ISO date like 2025-08-22 or 2025-08-22T14:30:00+03:00")
            raise Invalid()
        raise self.fail(ctx, path, "a date like 2025-08-22", value)

    def json_schema(self):
        return {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}


class Url(Type):
    def check(self, value, path, ctx):
        if not isinstance(value, str):
            raise self.fail(ctx, path, "a URL", value)
        value = value.strip()
        if not re.match(r"https?://[^\s/]+", value, re.IGNORECASE) or re.search(r"[\s<>\"'`\x00-\x1f\x7f]", value):
            ctx.report(path, f"'{_name(path)}' must be an http(s) URL, not '{value[:80]}'",
                       "write the full address, starting with https://")
            raise Invalid()
        return value

    def json_schema(self):
        return {"type": "string", "format": "uri", "pattern": "^https?://"}


class Country(Type):
    def check(self, value, path, ctx):
        if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{2}", value):
            return value.upper()
        ctx.report(path, f"'{_name(path)}' must be a two-letter ISO 3166-1 country code, not '{value}'",
                   "for example UA, US, FR")
        raise Invalid()

    def json_schema(self):
        return {"type": "string", "pattern": "^[A-Za-z]{2}$"}


class ListOf(Type):
    """A list; `single=True` also takes one item written without brackets."""

    def __init__(self, item: Type, single: bool = False):
        self.item, self.single = item, single

    def check(self, value, path, ctx):
        if value is None:
            return ()
        if not isinstance(value, list):
            if self.single and not isinstance(value, dict):
                value = [value]
            else:
                raise self.fail(ctx, path, "a list", value)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(self.item.check(item, path + (i,), ctx))
            except Invalid:
                pass
        return tuple(out)

    def json_schema(self):
        schema = {"type": "array", "items": self.item.json_schema()}
        return {"anyOf": [schema, self.item.json_schema()]} if self.single else schema


@dataclass
class Field:
    type: Type
    required: bool = False
    description: str = ""


@dataclass
class Record(Type):
    fields: dict[str, Field]
    name: str = "front matter"
    extra_check: Callable[[dict, Path, Context], None] | None = field(default=None)

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            if not path:  # the whole file: name it by what it is
                ctx.report(path, f"{self.name} must be a mapping of keys to values, not {_describe(value)}")
                raise Invalid()
            raise self.fail(ctx, path, "a mapping of keys to values", value)
        out: dict[str, Any] = {}
        for key, item in value.items():
            spec = self.fields.get(key)
            if spec is None:
                ctx.report(path + (key, KEY), f"unknown key '{key}' in {self.name}",
                           did_you_mean(str(key), self.fields), WARNING)
                continue
            if item is None:  # `key:` with nothing after it
                if spec.required:
                    out[key] = None  # said below: 'key' is empty
                continue
            try:
                out[key] = spec.type.check(item, path + (key,), ctx)
            except Invalid:
                out[key] = None  # reported; keep the key so 'missing' is not said too
        for key, spec in self.fields.items():
            if spec.required and key not in value:
                ctx.report(path, f"missing required key '{key}' in {self.name}")
            elif spec.required and value.get(key) is None and key in value:
                ctx.report(path + (key,), f"'{key}' in {self.name} is empty")
        if self.extra_check:
            self.extra_check(out, path, ctx)
        return out

    def json_schema(self):
        return {
            "type": "object",
            "properties": {k: dict(f.type.json_schema(), **({"description": f.description} if f.description else {}))
                           for k, f in self.fields.items()},
            "required": [k for k, f in self.fields.items() if f.required],
            "additionalProperties": False,
        }


class OneOf(Type):
    """An id string or a mapping: how `actors:` entries are written."""

    def __init__(self, short: Type, full: Record):
        self.short, self.full = short, full

    def check(self, value, path, ctx):
        if isinstance(value, dict):
            return self.full.check(value, path, ctx)
        if isinstance(value, str):
            return self.short.check(value, path, ctx)
        raise self.fail(ctx, path, "an id or a mapping", value)

    def json_schema(self):
        return {"anyOf": [self.short.json_schema(), self.full.json_schema()]}


# --------------------------------------------------------------------------- the format

ACTOR_FIELDS = {
    "name": Field(Text(), description="Full name, as readers know it"),
    "kind": Field(Enum(ACTOR_KINDS, "actor kind"), description="person, organization or state"),
    "role": Field(Text(), description="Role or title, e.g. NATO Secretary General"),
    "affiliation": Field(Id("actor id"), description="Id of the organisation or state"),
    "country": Field(Country(), description="ISO 3166-1 alpha-2 code"),
    "aliases": Field(ListOf(Text(), single=True), description="Other names used in texts"),
    "wikidata": Field(Text(), description="Wikidata item, e.g. Q57792"),
    "description": Field(Text(), description="A sentence about the actor"),
    "url": Field(Url(), description="Official page"),
}


def _check_wikidata(record: dict, path: Path, ctx: Context) -> None:
    wd = record.get("wikidata")
    if wd and not re.fullmatch(r"Q[1-9][0-9]*", wd):
        ctx.report(path + ("wikidata",), f"bad wikidata id '{wd}'", "write the item id, like Q57792")
        record["wikidata"] = None


ACTOR_FILE = Record(dict(ACTOR_FIELDS, name=Field(Text(), required=True, description=ACTOR_FIELDS["name"].description)),
                    name="actor file", extra_check=_check_wikidata)
INLINE_ACTOR = Record(dict(ACTOR_FIELDS, id=Field(Id("actor id"), required=True)), name="actor",
                      extra_check=_check_wikidata)

POSITION = Record({
    "actor": Field(Id("actor id"), required=True),
    "stance": Field(Enum(STANCES, "stance"), required=True, description="supports, opposes, conditional, undecided"),
    "note": Field(Text(), description="What the article says of the stance"),
    "condition": Field(Text(), description="What a conditional stance depends on"),
    "quote": Field(Text(), description="Evidence; must occur in the article's body"),
}, name="position")

PROPOSAL = Record({
    "id": Field(Id("proposal id"), required=True),
    "title": Field(Text()),
    "status": Field(Enum(STATUSES, "status"), description=", ".join(STATUSES)),
    "summary": Field(Text()),
    "proposed_by": Field(ListOf(Id("actor id"), single=True)),
    "positions": Field(ListOf(POSITION)),
}, name="proposal")


def _check_question(record: dict, path: Path, ctx: Context) -> None:
    if record.get("status") == "answered" and not record.get("answer"):
        ctx.report(path + ("status",), "an answered question needs an 'answer'",
                   "add answer: with what was learned, or set status: open")


QUESTION = Record({
    "id": Field(Id("question id"), required=True),
    "question": Field(Text()),
    "raised_by": Field(ListOf(Id("actor id"), single=True)),
    "status": Field(Enum(QUESTION_STATUSES, "question status"), description="open or answered"),
    "answer": Field(Text(), description="Required when status is answered"),
    "confidence": Field(Enum(CONFIDENCES, "confidence"), description="high, moderate or low"),
}, name="question", extra_check=_check_question)

QUOTE = Record({
    "actor": Field(Id("actor id"), required=True),
    "text": Field(Text(), required=True, description="Verbatim; must occur in the article's body"),
    "date": Field(Date()),
    "context": Field(Text()),
}, name="quote")

EVENT = Record({
    "date": Field(Date(), required=True),
    "title": Field(Text(), required=True),
    "actors": Field(ListOf(Id("actor id"), single=True)),
}, name="event")

SOURCE = Record({"name": Field(Text()), "url": Field(Url())}, name="source")

ARTICLE = Record({
    "title": Field(Text(), required=True),
    "date": Field(Date(), required=True),
    "updated": Field(Date()),
    "slug": Field(Id("slug")),
    "draft": Field(Bool()),
    "summary": Field(Text(), description="The bottom line, shown first"),
    "why_it_matters": Field(Text()),
    "source": Field(SOURCE),
    "tags": Field(ListOf(Id("tag"), single=True)),
    "actors": Field(ListOf(OneOf(Id("actor id"), INLINE_ACTOR))),
    "proposals": Field(ListOf(PROPOSAL)),
    "questions": Field(ListOf(QUESTION)),
    "quotes": Field(ListOf(QUOTE)),
    "events": Field(ListOf(EVENT)),
}, name="article front matter")

PAGE = Record({
    "title": Field(Text(), required=True),
    "slug": Field(Id("slug")),
    "draft": Field(Bool()),
    "summary": Field(Text()),
    "date": Field(Date()),
    "updated": Field(Date()),
}, name="page front matter")

SITE = Record({
    "title": Field(Text(), required=True),
    "base_url": Field(Text(), description="Where the site is published; may include a subpath"),
    "language": Field(Text()),
    "description": Field(Text()),
    "timezone": Field(Text(), description="IANA zone, e.g. Europe/Kyiv"),
    "output": Field(Text()),
    "strict": Field(Bool()),
    "allow_html": Field(Bool()),
    "domain": Field(Text()),
    "per_page": Field(Int(), description="Briefings per home page"),
}, name="site.yaml")


def json_schema(kind: str = "all") -> dict:
    """The JSON Schema of article front matter, actor files, pages and site.yaml.

    `kind` narrows it to one kind of file, for editors that map a schema to a file pattern
    (content/actors/*.yaml -> actor).
    """
    if kind != "all":
        record = {"article": ARTICLE, "actor": ACTOR_FILE, "page": PAGE, "site": SITE}[kind]
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"briefing {record.name}", **record.json_schema()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://briefing.invalid/schema.json",
        "title": "briefing site content",
        "$defs": {
            "article": ARTICLE.json_schema(),
            "actor": ACTOR_FILE.json_schema(),
            "page": PAGE.json_schema(),
            "site": SITE.json_schema(),
        },
        "anyOf": [{"$ref": "#/$defs/article"}, {"$ref": "#/$defs/actor"}],
    }
