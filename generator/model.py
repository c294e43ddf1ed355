"""The resolved content model: one immutable value for the whole story.

`resolve` builds these from parsed documents; nothing changes them afterwards. Collections are
tuples, and the `Site` indexes are dicts that are never mutated after `resolve` returns them.
Ids are `[a-z0-9]+(-[a-z0-9]+)*`; an article is named by its slug.
"""
from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields

ACTOR_KINDS = ("person", "organization", "state")
STATUSES = ("proposed", "under-negotiation", "agreed", "rejected", "withdrawn", "stalled")
STANCES = ("supports", "opposes", "conditional", "undecided")
QUESTION_STATUSES = ("open", "answered")
CONFIDENCES = ("high", "moderate", "low")


def built_by_fields(cls: type) -> type:
    """Make instances of a frozen slotted dataclass quick to make and to unpickle.

    A frozen dataclass's `__init__` stores each field through `object.__setattr__`, and
    unpickling one runs a Python `__setstate__` that does the same: about a microsecond per
    object, for the 300,000 the build's story (state.py) holds at 10,000 articles and the
    hundreds of thousands resolving makes. So `cls._Loader` is a plain class with the same
    slots whose `__init__` stores the values as any mutable object does and then makes the new
    object a `cls` (same slots, so CPython allows the switch); an instance is pickled as a call
    of it (a third of the time to load), and `cls(...)` makes its object a `_Loader` for as long
    as it takes to store the fields (resolving a story 7% faster). What comes out is an
    ordinary, frozen `cls`.
    """
    names = tuple(f.name for f in fields(cls))
    if getattr(cls, "__slots__", None) != names or not cls.__dataclass_params__.frozen:
        raise TypeError(f"{cls.__name__}: built_by_fields needs a frozen dataclass with slots=True")
    arguments = ", ".join(names)
    stores = "".join(f"    self.{name} = {name}\n" for name in names)
    namespace: dict[str, object] = {"target": cls}
    source = f"def __init__(self, {arguments}):\n{stores}    self.__class__ = target\n"
    exec(source, namespace)  # noqa: S102 - field names only, as dataclasses itself does
    cls._Loader = type(cls.__name__, (), {"__slots__": names, "__init__": namespace["__init__"],
                                          "__module__": cls.__module__,
                                          "__qualname__": f"{cls.__qualname__}._Loader"})
    values = operator.attrgetter(*names)
    if len(names) == 1:
        cls.__reduce__ = lambda self: (cls._Loader, (values(self),))
    else:
        cls.__reduce__ = lambda self: (cls._Loader, values(self))
    if all(f.init and not f.kw_only for f in fields(cls)):
        cls.__init__ = _quick_init(cls, stores)
    return cls


_FACTORY = object()   # a field left to its default_factory
_ARTICLE_OF = operator.attrgetter("article")


def _quick_init(cls: type, stores: str):
    """`cls.__init__` with the dataclass's parameters and defaults, storing the fields as a `_Loader`."""
    namespace: dict[str, object] = {"target": cls, "loader": cls._Loader, "become": object.__setattr__,
                                    "_FACTORY": _FACTORY}
    parameters, made = [], ""
    for f in fields(cls):
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
            parameters.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            parameters.append(f"{f.name}=_FACTORY")
            made += f"    if {f.name} is _FACTORY:\n        {f.name} = _factory_{f.name}()\n"
        else:
            parameters.append(f.name)
    source = (f"def __init__(self, {', '.join(parameters)}):\n{made}"
              f"    become(self, '__class__', loader)\n{stores}    self.__class__ = target\n")
    exec(source, namespace)  # noqa: S102 - field names only, as dataclasses itself does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


@built_by_fields
@dataclass(frozen=True, slots=True)
class When:
    """A content date: an aware datetime, and whether the author gave a time of day."""

    at: dt.datetime
    has_time: bool = False

    @property
    def date(self) -> dt.date:
        return self.at.date()

    def iso(self) -> str:
        return self.at.isoformat() if self.has_time else self.at.date().isoformat()


@built_by_fields
@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str
    kind: str = "person"
    role: str = ""
    affiliation: str = ""          # an actor id, or ''
    country: str = ""              # ISO 3166-1 alpha-2, or ''
    aliases: tuple[str, ...] = ()
    wikidata: str = ""
    description: str = ""
    url: str = ""
    path: str = ""                 # the file that first defined it


@built_by_fields
@dataclass(frozen=True, slots=True)
class Quote:
    actor: str
    text: str                      # as written in the front matter
    article: str                   # slug
    anchor: str                    # element id of the quoted span in the briefing's text
    verified: bool                 # found in the article's body
    date: When | None = None
    line: int = 0
    # where it occurs: (start, end) in the body's plain text as folded for matching
    # (quotes.fold_text); None when it was not found
    span: tuple[int, int] | None = None


@built_by_fields
@dataclass(frozen=True, slots=True)
class Position:
    """Where one actor stood on one proposal, as one article reports it."""

    actor: str
    stance: str
    article: str
    date: When
    note: str = ""
    condition: str = ""
    quote: Quote | None = None


@built_by_fields
@dataclass(frozen=True, slots=True)
class StatusChange:
    """One step in an entity's status history; `old` is '' for the first status."""

    date: When
    article: str
    old: str
    new: str


@built_by_fields
@dataclass(frozen=True, slots=True)
class ProposalUpdate:
    """A proposal as one article reports it: the values in force after that article."""

    proposal: str
    article: str
    date: When
    title: str
    status: str
    summary: str
    proposed_by: tuple[str, ...]
    positions: tuple[Position, ...]     # given in this article
    line: int = 0


@built_by_fields
@dataclass(frozen=True, slots=True)
class StanceHistory:
    actor: str
    positions: tuple[Position, ...]     # oldest first; the last is current

    @property
    def current(self) -> Position:
        return self.positions[-1]


@built_by_fields
@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    title: str
    status: str
    summary: str
    proposed_by: tuple[str, ...]
    updates: tuple[ProposalUpdate, ...]
    status_history: tuple[StatusChange, ...]
    stances: tuple[StanceHistory, ...]  # one per actor, in order of first position

    @property
    def articles(self) -> tuple[str, ...]:
        return tuple(map(_ARTICLE_OF, self.updates))   # (map and attrgetter: no Python frame per update)


@built_by_fields
@dataclass(frozen=True, slots=True)
class QuestionUpdate:
    """A question as one article reports it: the values in force after that article."""

    question: str                  # the question's id
    article: str
    date: When
    text: str
    status: str
    answer: str
    confidence: str
    raised_by: tuple[str, ...]
    line: int = 0


@built_by_fields
@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    status: str
    answer: str
    confidence: str
    raised_by: tuple[str, ...]
    raised_in: str                 # slug of the first article that mentions it
    answered_in: str               # slug of the article that answered it, or '' while open
    updates: tuple[QuestionUpdate, ...]
    status_history: tuple[StatusChange, ...]

    @property
    def articles(self) -> tuple[str, ...]:
        return tuple(map(_ARTICLE_OF, self.updates))   # (map and attrgetter: no Python frame per update)


@built_by_fields
@dataclass(frozen=True, slots=True)
class Event:
    date: When
    title: str
    actors: tuple[str, ...]
    article: str
    line: int = 0


@built_by_fields
@dataclass(frozen=True, slots=True)
class StanceChange:
    proposal: str
    actor: str
    old: str                       # '' when the actor had no stance before
    new: str


@built_by_fields
@dataclass(frozen=True, slots=True)
class ProposalStatusChange:
    proposal: str
    old: str
    new: str


@built_by_fields
@dataclass(frozen=True, slots=True)
class Changes:
    """What an article changed against the state after the previous briefing."""

    new_actors: tuple[str, ...] = ()
    new_proposals: tuple[str, ...] = ()
    status_changes: tuple[ProposalStatusChange, ...] = ()
    stance_changes: tuple[StanceChange, ...] = ()
    questions_opened: tuple[str, ...] = ()
    questions_answered: tuple[str, ...] = ()
    questions_reopened: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.new_actors, self.new_proposals, self.status_changes, self.stance_changes,
                    self.questions_opened, self.questions_answered, self.questions_reopened))


@built_by_fields
@dataclass(frozen=True, slots=True)
class Source:
    name: str = ""
    url: str = ""


@built_by_fields
@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    path: str                      # relative to the site folder, e.g. content/articles/x.md
    title: str
    date: When
    updated: When | None
    draft: bool
    summary: str
    why_it_matters: str
    source: Source
    tags: tuple[str, ...]
    body: str                      # Markdown source
    body_line: int                 # line of the file where the body starts
    actors: tuple[Actor, ...]      # as of this article (a later change of role does not show here)
    proposals: tuple[ProposalUpdate, ...]
    questions: tuple[QuestionUpdate, ...]
    quotes: tuple[Quote, ...]
    events: tuple[Event, ...]
    changes: Changes
    previous: str = ""             # slug of the previous briefing in story order, or ''
    next: str = ""


@built_by_fields
@dataclass(frozen=True, slots=True)
class Page:
    """A plain page from content/pages/."""

    slug: str
    path: str
    title: str
    body: str
    body_line: int
    draft: bool = False
    summary: str = ""


@built_by_fields
@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str
    base_url: str = "/"            # absolute URL or a path; always ends with '/'
    language: str = "en"
    description: str = ""
    timezone: str = "UTC"
    output: str = "_site"
    strict: bool = False
    allow_html: bool = False
    domain: str = ""
    per_page: int = 10

    @property
    def base_path(self) -> str:
        """The URL path the site lives under, e.g. '/briefing/'."""
        from urllib.parse import urlsplit
        path = urlsplit(self.base_url).path or "/"
        return path if path.endswith("/") else path + "/"


@built_by_fields
@dataclass(frozen=True, slots=True)
class Site:
    config: SiteConfig
    articles: tuple[Article, ...]             # story order: date, then slug
    actors: Mapping[str, Actor]               # latest state of each actor, by id
    proposals: Mapping[str, Proposal]
    questions: Mapping[str, Question]
    events: tuple[Event, ...]                 # every event, by date then article order
    pages: tuple[Page, ...]
    tags: Mapping[str, tuple[str, ...]]       # tag -> article slugs, story order
    by_slug: Mapping[str, Article] = field(default_factory=dict)
    # Indexes by actor id, for actor pages: article slugs they appear in (story order), their
    # quotes (newest first), events they take part in, questions they raised, and the actors
    # whose affiliation is them.
    actor_articles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    actor_quotes: Mapping[str, tuple[Quote, ...]] = field(default_factory=dict)
    actor_events: Mapping[str, tuple[Event, ...]] = field(default_factory=dict)
    actor_questions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def article(self, slug: str) -> Article:
        return self.by_slug[slug]

