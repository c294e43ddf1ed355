"""Resolve: the one stage that sees every document at once.

It merges actor definitions, follows proposals and questions across articles in story order
(building their histories and each article's "what changed"), checks every reference and
verifies every quote. It never stops at the first problem: it returns the model and a list of
every diagnostic found.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
import zoneinfo
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import WARNING, Diagnostic, did_you_mean
from .markdown import references
from .model import (
    Actor,
    Article,
    Changes,
    Event,
    Page,
    Position,
    Proposal,
    ProposalStatusChange,
    ProposalUpdate,
    Question,
    QuestionUpdate,
    Quote,
    Site,
    SiteConfig,
    Source,
    StanceChange,
    StanceHistory,
    StatusChange,
    When,
)
from .parse import Document
from .quotes import quote_anchor
from .schema import ID_RE, id_hint
from .urls import SECTIONS

LEADING_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[-_]?")
CHANGE_FIELDS = tuple(f.name for f in fields(Changes))
NO_CHANGES = Changes()
ACTOR_KEYS = ("kind", "role", "affiliation", "country", "wikidata", "description", "url")


class Problems(list):
    """Diagnostics collected while resolving."""

    def at(self, doc: Document, path: tuple, message: str, hint: str = "", severity: str = "error") -> None:
        line, column = doc.locate(path)
        self.append(Diagnostic(doc.path, line, column, message, hint, severity))


def to_when(value: Any, zone: dt.tzinfo) -> When:
    if isinstance(value, dt.datetime):
        return When(value if value.tzinfo else value.replace(tzinfo=zone), True)
    return When(dt.datetime(value.year, value.month, value.day, tzinfo=zone), False)


def _slug_hint(doc: Document, slug: str) -> str:
    """What to do about an invalid slug: set from the file name, or by the `slug` key."""
    return id_hint(slug) if doc.data.get("slug") else "rename the file or set a slug; " + id_hint(slug)


def article_slug(doc: Document) -> str:
    stem = doc.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return sys.intern(doc.data.get("slug") or LEADING_DATE.sub("", stem) or stem)  # named by many others


# --------------------------------------------------------------------------- actors

# The states below hold tuples, not lists: a checkpoint copies every state (Resolver.checkpoint),
# and a tuple needs no copy, so the checkpoints share whatever did not change between them, as
# the frozen entities share it with the last state (at 10,000 articles a quarter of a million
# lists fewer to make and to keep in the build's state); appending makes a new tuple.

@dataclass
class ActorState:
    """An actor being merged from its definitions, in story order."""

    id: str
    name: str
    fields: dict[str, Any]
    aliases: tuple[str, ...]
    path: str
    named_at: tuple[str, int] = ("", 0)
    frozen: Actor | None = None     # the last freeze(), until a definition refines the actor again

    def copy(self) -> ActorState:
        return ActorState(self.id, self.name, dict(self.fields), self.aliases, self.path, self.named_at,
                          self.frozen)

    def freeze(self) -> Actor:
        # one object per actor state: every briefing listing the actor shares it, which saves
        # building thousands of equal Actors and makes comparing two models a matter of identity
        if self.frozen is None:
            f = self.fields
            self.frozen = Actor(self.id, self.name, f.get("kind") or "person", f.get("role") or "",
                                f.get("affiliation") or "", f.get("country") or "", self.aliases,
                                f.get("wikidata") or "", f.get("description") or "", f.get("url") or "", self.path)
        return self.frozen


# --------------------------------------------------------------------------- the story

@dataclass
class ProposalState:
    id: str
    title: str = ""
    status: str = ""
    summary: str = ""
    proposed_by: tuple[str, ...] = ()
    updates: tuple[ProposalUpdate, ...] = ()
    history: tuple[StatusChange, ...] = ()
    stances: dict[str, tuple[Position, ...]] = field(default_factory=dict)
    first: tuple = ()               # (document, key path) where it first appears
    frozen: Proposal | None = None  # the last freeze_proposal(), until an update changes it

    def copy(self) -> ProposalState:
        return replace(self, stances=dict(self.stances))


@dataclass
class QuestionState:
    id: str
    text: str = ""
    status: str = ""
    answer: str = ""
    confidence: str = ""
    raised_by: tuple[str, ...] = ()
    raised_in: str = ""
    answered_in: str = ""
    updates: tuple[QuestionUpdate, ...] = ()
    history: tuple[StatusChange, ...] = ()
    first: tuple = ()               # (document, key path) where it first appears
    frozen: Question | None = None  # the last freeze_question(), until an update changes it

    def copy(self) -> QuestionState:
        return replace(self)


# A preview keeps the fold's states at about this many places in the story (and at least every
# CHECKPOINT_MIN articles), so re-resolving after an edit starts from the last one before it.
CHECKPOINTS = 16
CHECKPOINT_MIN = 64

# What one article did to one entity's state (Resolver.resolve_article): (key, output, changes,
# problems). key is ("actor" | "proposal" | "question", id); output is the actor as of the article,
# or the ProposalUpdate / QuestionUpdate (None when the item was refused); changes are the
# (Changes field, value) pairs it adds to the article's "what changed"; problems its diagnostics.
Step = tuple
_STEP_KEYS: dict[str, dict[str, tuple[str, str]]] = {"actor": {}, "proposal": {}, "question": {}}


def step_key(kind: str, ident: str) -> tuple[str, str]:
    """One tuple per entity for every step that names it (a story has 100,000 steps at 10,000 articles)."""
    known = _STEP_KEYS[kind]
    key = known.get(ident)
    if key is None:
        key = known[ident] = (kind, ident)
    return key


@dataclass
class Checkpoint:
    index: int                                  # articles folded before it
    actors: dict[str, ActorState]
    proposals: dict[str, ProposalState]
    questions: dict[str, QuestionState]
    seen_actors: set[str]
    first_defined: dict[str, Actor]


@dataclass
class Fold:
    """What one walk through the story left for the next (Resolver.run)."""

    key: tuple                                  # Resolver.fold_key
    entries: list                               # (date, slug, document), story order
    articles: list[Article]                     # one per entry, before backfill_actors
    steps: list[tuple[Step, ...]]               # one per entry: what it did to each entity it names
    problems: list[tuple[Diagnostic, ...]]      # one per entry: found while folding it
    checkpoints: list[Checkpoint]
    final: Checkpoint                           # the states after the last article (not copies)
    # path -> (body, body_line, its [[references]]): the body is the same string while it is unedited
    references: dict[str, tuple[str, int, list]] = field(default_factory=dict)
    site: Site | None = None                    # the model this walk ended in

    def patch_body(self, doc: Document) -> None:
        """Take in an edit to an article's text alone (engine.patch_bodies checked it is one).

        Resolving the new document would give the same article with the new body, so the
        walk stays valid past it, and the next edit resumes from where that one is.
        """
        for index, (when, slug, old) in enumerate(self.entries):
            if old.path == doc.path:
                self.entries[index] = (when, slug, doc)
                self.articles[index] = replace(self.articles[index], body=doc.body, body_line=doc.body_line)
                return


def changed_entries(old: list, new: list) -> list[int] | None:
    """Where only documents changed (the same articles, in the same order): the changed places; else None."""
    if len(old) != len(new):
        return None
    changed = []
    for index, (before, after) in enumerate(zip(old, new, strict=True)):
        if before[2] is not after[2]:
            if before[0] != after[0] or before[1] != after[1] or before[2].path != after[2].path:
                return None
            changed.append(index)
    return changed


def neighbours(slugs: list[str], index: int) -> tuple[str, str]:
    return (slugs[index - 1] if index else "", slugs[index + 1] if index + 1 < len(slugs) else "")


def carry(following: set[tuple[str, str]], source: Checkpoint | Resolver, target: Checkpoint | Resolver) -> None:
    """Copy the followed entities' states, and whether each followed actor was seen or defined, across."""
    for kind, ident in following:
        states, into = getattr(source, kind + "s"), getattr(target, kind + "s")
        if ident in states:
            into[ident] = states[ident].copy()
        else:
            into.pop(ident, None)
        if kind == "actor":
            target.seen_actors.discard(ident)
            if ident in source.seen_actors:
                target.seen_actors.add(ident)
            if ident in source.first_defined:
                target.first_defined[ident] = source.first_defined[ident]
            else:
                target.first_defined.pop(ident, None)


def entity_keys(data: dict) -> tuple[set[tuple[str, str]], set[str]]:
    """The entities an article's front matter writes to (defines inline, reports), and the actors it lists."""
    writes, listed = set(), set()
    for item in data.get("actors") or ():
        if isinstance(item, dict):
            if item.get("id"):
                writes.add(("actor", item["id"]))
                listed.add(item["id"])
        elif isinstance(item, str):
            listed.add(item)
    for kind, field_name in (("proposal", "proposals"), ("question", "questions")):
        for item in data.get(field_name) or ():
            if isinstance(item, dict) and item.get("id"):
                writes.add((kind, item["id"]))
    return writes, listed


class Resolver:
    def __init__(self, config: SiteConfig, documents: list[Document], drafts: bool):
        self.config = config
        self.zone = zoneinfo.ZoneInfo(config.timezone)
        self.problems = Problems()
        self.registry = [d for d in documents if d.kind == "actor"]
        self.page_docs = [d for d in documents if d.kind == "page" and (drafts or not d.data.get("draft"))]
        # an article whose title or date is broken is still followed, so its other mistakes show too
        self.unreadable = sorted(d.path for d in documents if d.kind == "article" and not d.data)
        self.article_docs = [d for d in documents if d.kind == "article" and d.data
                             and (drafts or not d.data.get("draft"))]
        self.actors: dict[str, ActorState] = {}
        self.proposals: dict[str, ProposalState] = {}
        self.questions: dict[str, QuestionState] = {}

    # ---- actors, all definitions first: an id is known if any file defines it
    def define_actors(self) -> None:
        self.inline_defined: set[str] = set()
        for doc in self.article_docs:
            for item in doc.data.get("actors") or ():
                if isinstance(item, dict) and item.get("id"):
                    self.inline_defined.add(item["id"])
        for doc in self.registry:
            ident = doc.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            if not ID_RE.match(ident):
                self.problems.at(doc, (), f"the file name '{ident}' is not a valid actor id",
                                 "rename the file: " + id_hint(ident))
                continue
            if not doc.data.get("name"):
                continue  # parse reported the missing name
            state = ActorState(ident, doc.data["name"], {}, (), doc.path, (doc.path, doc.locate(("name",))[0]))
            self.actors[ident] = state
        for doc in self.registry:
            ident = doc.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            if ident in self.actors:
                self.refine(self.actors[ident], doc.data, doc, ())

    def refine(self, state: ActorState, data: dict, doc: Document, path: tuple) -> None:
        """Apply one definition: scalars replace, aliases add up, the name never changes."""
        state.frozen = None
        name = data.get("name")
        if name and state.name and name != state.name:
            where, line = state.named_at
            self.problems.at(doc, path + ("name",), f"actor '{state.id}' has two names: '{name}' here and "
                             f"'{state.name}' in {where}:{line}", "an actor keeps one name; put other names in aliases")
        elif name and not state.name:
            state.name = name
            state.named_at = (doc.path, doc.locate(path + ("name",))[0])
        for key in ACTOR_KEYS:
            if data.get(key):
                if key == "affiliation" and not self.check_actor(doc, path + (key,), data[key], "affiliation"):
                    continue
                state.fields[key] = data[key]
        for alias in data.get("aliases") or ():
            if alias and alias not in state.aliases:
                state.aliases += (alias,)

    def known_actor(self, ident: str) -> bool:
        return ident in self.actors or ident in self.inline_defined

    def check_actor(self, doc: Document, path: tuple, ident: str | None, what: str = "actor") -> bool:
        if not ident:
            return False
        if self.known_actor(ident):
            return True
        known = set(self.actors) | self.inline_defined | {
            d.path.rsplit("/", 1)[-1].rsplit(".", 1)[0] for d in self.registry}
        hint = did_you_mean(ident, sorted(known))
        if not hint and self.unreadable:
            # a broken article may be where it is defined: say so rather than send the author hunting
            hint = f"it may be defined in {self.unreadable[0]}, whose front matter could not be read"
        self.problems.at(doc, path, f"unknown {what} '{ident}'",
                         hint or f"define it in content/actors/{ident}.yaml or inline under actors:")
        return False

    # ---- the walk through the story
    def run(self, previous: Fold | None = None, keep: bool = False) -> Site:
        """The whole story; with `previous` (the fold of an earlier run), only what changed is folded again.

        With `keep`, the fold is recorded (`self.fold`) for the next run: a preview resolves
        again after every save. When the story holds the same articles in the same order and
        only some of their documents changed, only the entities those edits touch are followed
        again (`refold`); otherwise the walk resumes at the last checkpoint before the first
        article that differs (`resume`).
        """
        self.define_actors()
        # (date, slug, document) of each article; a document the last run had gives the same ones
        known = {id(e[2]): e for e in previous.entries} if previous and previous.key[0] == self.config else {}
        entries = []
        for doc in self.article_docs:
            entry = known.get(id(doc))
            if entry is None or entry[2] is not doc:
                entry = (to_when(doc.data.get("date") or dt.date(1970, 1, 1), self.zone), article_slug(doc), doc)
            entries.append(entry)
        entries.sort(key=lambda e: (e[0].at, e[1]))
        self.check_unique_slugs(entries)
        before, self.problems = self.problems, Problems()

        self.seen_actors: set[str] = set()
        self.first_defined: dict[str, Actor] = {}
        self.following: set[tuple[str, str]] | None = None    # None: every entity
        self.known_references = previous.references if previous is not None else {}
        self.references: dict[str, tuple[str, int, list]] = {}
        key = self.fold_key()
        changed = None
        if previous is None or previous.key != key:
            fold = self.walk(entries, key, None, keep)
        else:
            changed = changed_entries(previous.entries, entries)
            fold = self.walk(entries, key, previous, keep) if changed is None else \
                self.refold(previous, entries, changed)
        if keep:
            self.fold = fold
        self.problems = Problems(before)
        for found in fold.problems:
            self.problems.extend(found)
        articles = [self.backfill_actors(a) for a in fold.articles]

        actors = {ident: state.freeze() for ident, state in self.actors.items() if state.name}
        proposals = {p.id: self.freeze_proposal(p) for p in self.proposals.values() if p.title}
        questions = {q.id: self.freeze_question(q) for q in self.questions.values() if q.text}
        self.check_id_kinds()
        self.check_references(articles, actors, proposals, questions)
        fold.references = self.references
        pages = self.resolve_pages()
        if changed is not None and previous.site is not None:  # the same articles: patch the last site's indexes
            fold.site = self.assemble_again(previous.site, articles, actors, proposals, questions, pages)
        else:
            fold.site = self.assemble(articles, actors, proposals, questions, pages)
        return fold.site

    def fold_key(self) -> tuple:
        """What every article's resolution depends on besides the articles before it."""
        # the actor files themselves (not their ids: a freed document's id may be reused)
        return (self.config, tuple(self.registry), frozenset(self.inline_defined), tuple(self.unreadable))

    def walk(self, entries: list, key: tuple, previous: Fold | None, keep: bool) -> Fold:
        """Fold every article in story order; with `previous`, from its last checkpoint before the first difference."""
        start, articles, steps, problems, checkpoints = 0, [], [], [], []
        if previous is not None:
            start, checkpoints = self.resume(previous, entries)
            articles, steps, problems = previous.articles[:start], previous.steps[:start], previous.problems[:start]
        interval = max(CHECKPOINT_MIN, len(entries) // CHECKPOINTS)
        slugs = [slug for _when, slug, _doc in entries]
        for index in range(start, len(entries)):
            when, slug, doc = entries[index]
            if keep and index % interval == 0 and not (checkpoints and checkpoints[-1].index == index):
                checkpoints.append(self.checkpoint(index))
            article, done, found = self.resolve_article(doc, slug, when, neighbours(slugs, index))
            articles.append(article)
            steps.append(done)
            problems.append(found)
        return Fold(key, entries, articles, steps, problems, checkpoints, self.final(len(entries)))

    def resume(self, previous: Fold, entries: list) -> tuple[int, list[Checkpoint]]:
        """Restore the earlier fold's last checkpoint before the first article that differs.

        An article is the same when its document is the same object (a preview re-parses only
        edited files) at the same place in story order; the one before the first difference
        is folded again too, as its `next` may have changed.
        """
        same = 0
        for old, new in zip(previous.entries, entries, strict=False):  # the shorter one ends it
            if old[2] is not new[2] or old[1] != new[1] or old[0] != new[0]:
                break
            same += 1
        first_different = max(0, same - 1) if same < max(len(entries), len(previous.entries)) else same
        usable = [cp for cp in previous.checkpoints if cp.index <= first_different]
        if not usable:
            return 0, []
        self.restore(usable[-1])
        return usable[-1].index, usable

    def refold(self, previous: Fold, entries: list, changed: list[int]) -> Fold:
        """Fold again only the entities the changed articles write to, or list in one version only.

        An entity's state depends on nothing but the articles naming it, so every other
        entity's state is the one the last walk left, and an article naming none of the
        followed entities is as it was (the same object, so planning and diffing skip it).
        The followed ones are restored from the last checkpoint before the first change;
        articles naming them are resolved again, taking their other entities' steps as they were.
        """
        following: set[tuple[str, str]] = set()
        for index in changed:
            old_writes, old_listed = entity_keys(previous.entries[index][2].data)
            new_writes, new_listed = entity_keys(entries[index][2].data)
            following |= old_writes | new_writes | {("actor", ident) for ident in old_listed ^ new_listed}
        first = changed[0] if changed else len(entries)
        usable = [cp for cp in previous.checkpoints if cp.index <= first]
        if not usable:
            return self.walk(entries, previous.key, None, True)
        final = previous.final
        self.actors, self.proposals, self.questions = dict(final.actors), dict(final.proposals), dict(final.questions)
        self.first_defined = dict(final.first_defined)
        self.restore_followed(usable[-1], following)
        self.following = following
        articles, steps, problems = list(previous.articles), list(previous.steps), list(previous.problems)
        checkpoints = usable
        later = [cp for cp in previous.checkpoints if cp.index > first]
        slugs = [slug for _when, slug, _doc in entries]
        changed_set = set(changed)
        for index in range(usable[-1].index, len(entries)):
            if later and later[0].index == index:
                checkpoints.append(self.checkpoint_followed(later.pop(0)))
            if index not in changed_set and not any(step[0] in following for step in steps[index]):
                continue
            reuse: dict[tuple[str, str], list[Step]] = {}
            for step in steps[index]:
                if step[0] not in following:
                    reuse.setdefault(step[0], []).append(step)
            when, slug, doc = entries[index]
            article, done, found = self.resolve_article(doc, slug, when, neighbours(slugs, index), reuse)
            if index >= first:  # before it, resolving only brought the followed states up to date
                articles[index] = articles[index] if article == articles[index] else article
                steps[index], problems[index] = done, found
        self.following = None
        return Fold(previous.key, entries, articles, steps, problems, checkpoints, self.final(len(entries)))

    def final(self, index: int) -> Checkpoint:
        """The states as the walk leaves them (not copies: the next refold takes over the untouched ones)."""
        return Checkpoint(index, self.actors, self.proposals, self.questions, self.seen_actors, self.first_defined)

    def checkpoint(self, index: int) -> Checkpoint:
        return Checkpoint(index, {k: s.copy() for k, s in self.actors.items()},
                          {k: s.copy() for k, s in self.proposals.items()},
                          {k: s.copy() for k, s in self.questions.items()},
                          set(self.seen_actors), dict(self.first_defined))

    def checkpoint_followed(self, old: Checkpoint) -> Checkpoint:
        """An earlier walk's checkpoint with the followed entities' states as this walk has them there."""
        new = Checkpoint(old.index, dict(old.actors), dict(old.proposals), dict(old.questions),
                         set(old.seen_actors), dict(old.first_defined))
        carry(self.following, self, new)
        return new

    def restore(self, checkpoint: Checkpoint) -> None:
        """The states as they were at the checkpoint (copied: the checkpoint serves later runs too)."""
        self.actors = {k: s.copy() for k, s in checkpoint.actors.items()}
        self.proposals = {k: s.copy() for k, s in checkpoint.proposals.items()}
        self.questions = {k: s.copy() for k, s in checkpoint.questions.items()}
        self.seen_actors = set(checkpoint.seen_actors)
        self.first_defined = dict(checkpoint.first_defined)

    def restore_followed(self, checkpoint: Checkpoint, following: set[tuple[str, str]]) -> None:
        """`restore`, for the followed entities only (seen_actors then holds followed actors only)."""
        self.seen_actors = set()
        carry(following, checkpoint, self)

    def check_unique_slugs(self, entries: list) -> None:
        first: dict[str, Document] = {}
        for _when, slug, doc in entries:
            if not ID_RE.match(slug):
                self.problems.at(doc, ("slug",) if doc.data.get("slug") else (),
                                 f"invalid slug '{slug}'",
                                 _slug_hint(doc, slug))
            elif slug in first:
                self.problems.at(doc, ("slug",),
                                 f"two articles have the slug '{slug}': this one and {first[slug].path}",
                                 "give one of them another slug")
            else:
                first[slug] = doc

    def resolve_article(self, doc: Document, slug: str, when: When, neighbours: tuple[str, str],
                        reuse: dict[tuple[str, str], list[Step]] | None = None,
                        ) -> tuple[Article, tuple[Step, ...], tuple[Diagnostic, ...]]:
        """One article folded into the story: the article, its steps, and the problems found in it.

        Entities outside `self.following` take their steps from `reuse` (this article's last
        resolution) instead of reading or changing their states.
        """
        data, problems, following = doc.data, self.problems, self.following
        start = len(problems)
        steps: list[Step] = []
        # actors: refine the ones defined here, then take each listed one as of this article
        listed: list[str] = []
        defined: dict[str, list[Diagnostic]] = {}       # problems with the definitions here, by actor
        for i, item in enumerate(data.get("actors") or ()):
            if isinstance(item, dict):
                ident = item.get("id")
                if not ident:
                    continue
                if following is None or ("actor", ident) in following:
                    mark = len(problems)
                    state = self.actors.get(ident)
                    if state is None:
                        if not item.get("name"):
                            problems.at(doc, ("actors", i), f"actor '{ident}' has no name",
                                        "give its name: here or in content/actors/" + ident + ".yaml")
                        state = self.actors[ident] = ActorState(ident, "", {}, (), doc.path)
                    self.refine(state, item, doc, ("actors", i))
                    if state.name and ident not in self.first_defined:
                        self.first_defined[ident] = state.freeze()
                    defined.setdefault(ident, []).extend(problems[mark:])
                    del problems[mark:]
            else:
                ident = item
                if not self.check_actor(doc, ("actors", i), ident):
                    continue
            if ident not in listed:
                listed.append(ident)
        for ident in listed:
            key = step_key("actor", ident)
            if following is None or key in following:
                state = self.actors.get(ident)
                new = ident not in self.seen_actors
                if new:
                    self.seen_actors.add(ident)
                # an actor defined inline only by a later article is filled in by backfill_actors
                steps.append((key, state.freeze() if state is not None and state.name else Actor(ident, ""),
                              (("new_actors", ident),) if new else (),
                              tuple(defined[ident]) if ident in defined else ()))
            else:
                steps.append(reuse[key].pop(0))

        quotes = tuple(self.resolve_quote(doc, slug, when, i, q) for i, q in enumerate(data.get("quotes") or ())
                       if q.get("actor") and q.get("text"))
        for kind, items, update in (("proposal", data.get("proposals"), self.update_proposal),
                                    ("question", data.get("questions"), self.update_question)):
            for i, item in enumerate(items or ()):
                if not item.get("id"):
                    continue
                key = step_key(kind, item["id"])
                if following is None or key in following:
                    mark, changes = len(problems), []
                    output = update(doc, slug, when, i, item, changes)
                    if len(problems) > mark:
                        steps.append((key, output, tuple(changes), tuple(problems[mark:])))
                        del problems[mark:]
                    else:
                        steps.append((key, output, tuple(changes) if changes else (), ()))
                else:
                    steps.append(reuse[key].pop(0))
        events = tuple(self.resolve_event(doc, slug, i, e) for i, e in enumerate(data.get("events") or ())
                       if e.get("date") and e.get("title"))
        found = problems[start:]
        del problems[start:]
        listed_actors, proposals, questions, changes = [], [], [], None
        for (kind, _), output, step_changes, step_problems in steps:  # one pass: there are 10,000s
            if kind == "actor":
                listed_actors.append(output)
            elif output is not None:
                (proposals if kind == "proposal" else questions).append(output)
            if step_changes:
                if changes is None:
                    changes = {name: [] for name in CHANGE_FIELDS}
                for name, value in step_changes:
                    changes[name].append(value)
            if step_problems:
                found.extend(step_problems)
        source = data.get("source") or {}
        article = Article(
            slug=slug, path=doc.path, title=data.get("title") or slug, date=when,
            updated=to_when(data["updated"], self.zone) if data.get("updated") else None,
            draft=bool(data.get("draft")), summary=data.get("summary") or "",
            why_it_matters=data.get("why_it_matters") or "",
            source=Source(source.get("name") or "", source.get("url") or ""),
            tags=tuple(dict.fromkeys(t for t in data.get("tags") or () if t)),
            body=doc.body, body_line=doc.body_line,
            actors=tuple(listed_actors), proposals=tuple(proposals), questions=tuple(questions),
            quotes=quotes, events=events,
            changes=NO_CHANGES if changes is None else Changes(*(tuple(changes[name]) for name in CHANGE_FIELDS)),
            previous=neighbours[0], next=neighbours[1],
        )
        return article, tuple(steps), tuple(found)

    def backfill_actors(self, article: Article) -> Article:
        """An actor listed by id before the article that defines it inline shows as first defined."""
        if all(a.name for a in article.actors):
            return article
        actors = (a if a.name else self.first_defined.get(a.id) for a in article.actors)
        return replace(article, actors=tuple(a for a in actors if a))

    def verify(self, doc: Document, path: tuple, text: str) -> tuple[int, int] | None:
        """Where a quote occurs in the article's folded text (found by parse), or None (and a warning)."""
        span = doc.spans.get(text)
        if span is not None:
            return span
        self.problems.at(doc, path, f"quote not found in the article's text: '{text[:60]}'",
                         "quote the body word for word; typographic quotes, dashes and spaces may differ",
                         WARNING)
        return None

    def resolve_quote(self, doc: Document, slug: str, when: When, i: int, data: dict) -> Quote:
        self.check_actor(doc, ("quotes", i, "actor"), data["actor"])
        span = self.verify(doc, ("quotes", i, "text"), data["text"])
        date = to_when(data["date"], self.zone) if data.get("date") else when
        return Quote(data["actor"], data["text"], slug, quote_anchor(data["text"]), span is not None, date,
                     doc.locate(("quotes", i))[0], span)

    def resolve_event(self, doc: Document, slug: str, i: int, data: dict) -> Event:
        actors = []
        for j, ident in enumerate(data.get("actors") or ()):
            if self.check_actor(doc, ("events", i, "actors", j), ident):
                actors.append(ident)
        return Event(to_when(data["date"], self.zone), data["title"], tuple(actors), slug,
                     doc.locate(("events", i))[0])

    def update_proposal(self, doc: Document, slug: str, when: When, i: int, data: dict,
                        changes: list) -> ProposalUpdate | None:
        path = ("proposals", i)
        state = self.proposals.get(data["id"])
        if state is None:
            state = self.proposals[data["id"]] = ProposalState(data["id"], first=(doc, path))
            changes.append(("new_proposals", state.id))
            if not data.get("title"):
                self.problems.at(doc, path, f"proposal '{state.id}' needs a title where it first appears")
                return None
        state.frozen = None
        state.title = data.get("title") or state.title
        state.summary = data.get("summary") or state.summary
        new_status = data.get("status") or state.status or "proposed"
        if new_status != state.status:
            if state.status:
                changes.append(("status_changes", ProposalStatusChange(state.id, state.status, new_status)))
            state.history += (StatusChange(when, slug, state.status, new_status),)
            state.status = new_status
        for j, who in enumerate(data.get("proposed_by") or ()):
            if self.check_actor(doc, path + ("proposed_by", j), who) and who not in state.proposed_by:
                state.proposed_by += (who,)
        positions = []
        for j, pos in enumerate(data.get("positions") or ()):
            ppath = path + ("positions", j)
            if not pos.get("actor") or not pos.get("stance"):
                continue
            if not self.check_actor(doc, ppath + ("actor",), pos["actor"]):
                continue
            quote = None
            if pos.get("quote"):
                span = self.verify(doc, ppath + ("quote",), pos["quote"])
                quote = Quote(pos["actor"], pos["quote"], slug, quote_anchor(pos["quote"]), span is not None, when,
                              doc.locate(ppath + ("quote",))[0], span)
            position = Position(pos["actor"], pos["stance"], slug, when, pos.get("note") or "",
                                pos.get("condition") or "", quote)
            before = state.stances.get(pos["actor"])
            if not before or before[-1].stance != position.stance:
                changes.append(("stance_changes", StanceChange(state.id, pos["actor"],
                                                               before[-1].stance if before else "", position.stance)))
            state.stances[pos["actor"]] = (*before, position) if before else (position,)
            positions.append(position)
        update = ProposalUpdate(state.id, slug, when, state.title, state.status, state.summary,
                                state.proposed_by, tuple(positions), doc.locate(path)[0])
        state.updates += (update,)
        return update

    def update_question(self, doc: Document, slug: str, when: When, i: int, data: dict,
                        changes: list) -> QuestionUpdate | None:
        path = ("questions", i)
        state = self.questions.get(data["id"])
        if state is None:
            state = self.questions[data["id"]] = QuestionState(data["id"], raised_in=slug, first=(doc, path))
            if not data.get("question"):
                self.problems.at(doc, path, f"question '{state.id}' needs its 'question' where it first appears")
                return None
        state.frozen = None
        state.text = data.get("question") or state.text
        if data.get("answer"):
            state.answer = data["answer"]
        if data.get("confidence"):
            state.confidence = data["confidence"]
        new_status = data.get("status") or state.status or "open"
        if new_status != state.status:
            if new_status == "answered":
                state.answered_in = slug
                changes.append(("questions_answered", state.id))
            elif state.status == "answered":
                state.answered_in = ""
                changes.append(("questions_reopened", state.id))
            else:
                changes.append(("questions_opened", state.id))
            state.history += (StatusChange(when, slug, state.status, new_status),)
            state.status = new_status
        for j, who in enumerate(data.get("raised_by") or ()):
            if self.check_actor(doc, path + ("raised_by", j), who) and who not in state.raised_by:
                state.raised_by += (who,)
        update = QuestionUpdate(state.id, slug, when, state.text, state.status,
                                state.answer if state.status == "answered" else "",
                                state.confidence if state.status == "answered" else "",
                                state.raised_by, doc.locate(path)[0])
        state.updates += (update,)
        return update

    def freeze_proposal(self, s: ProposalState) -> Proposal:
        # kept on the state: a preview's next resolve gives the same object for an untouched proposal
        if s.frozen is None:
            stances = tuple(StanceHistory(actor, positions) for actor, positions in s.stances.items())
            s.frozen = Proposal(s.id, s.title, s.status, s.summary, s.proposed_by, s.updates, s.history, stances)
        return s.frozen

    def freeze_question(self, s: QuestionState) -> Question:
        if s.frozen is None:
            answered = s.status == "answered"
            s.frozen = Question(s.id, s.text, s.status, s.answer if answered else "",
                                s.confidence if answered else "", s.raised_by, s.raised_in, s.answered_in,
                                s.updates, s.history)
        return s.frozen

    # ---- checks that need everything
    def check_id_kinds(self) -> None:
        clashes = [(p, "an actor") for p in self.proposals.values() if p.id in self.actors]
        clashes += [(q, "an actor" if q.id in self.actors else "a proposal") for q in self.questions.values()
                    if q.id in self.actors or q.id in self.proposals]
        for state, other in clashes:
            kind = "proposal" if isinstance(state, ProposalState) else "question"
            doc, path = state.first
            self.problems.at(doc, path + ("id",), f"the id '{state.id}' names both a {kind} and {other}",
                             "ids are unique across actors, proposals and questions")

    def check_references(self, articles, actors, proposals, questions) -> None:
        known = list(actors) + list(proposals) + list(questions)
        for article in articles:
            for ident, line, column in self.references_of(article):
                if ident not in actors and ident not in proposals and ident not in questions:
                    self.problems.append(Diagnostic(article.path, line, column, f"unknown reference [[{ident}]]",
                                                    did_you_mean(ident, known) or
                                                    "[[id]] names an actor, proposal or question"))

    def references_of(self, article: Article) -> list[tuple[str, int, int]]:
        """The article's [[references]], looked up in the last run's when its body is the same string."""
        known = self.known_references.get(article.path)
        if known is not None and known[0] is article.body and known[1] == article.body_line:
            found = known[2]
        else:
            found = references(article.body, article.body_line) if "[[" in article.body else []
        self.references[article.path] = (article.body, article.body_line, found)
        return found

    def resolve_pages(self) -> tuple[Page, ...]:
        pages, first = [], {}
        for doc in self.page_docs:
            if not doc.data.get("title"):
                continue
            stem = doc.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            slug = doc.data.get("slug") or stem
            if not ID_RE.match(slug):
                self.problems.at(doc, ("slug",), f"invalid page slug '{slug}'",
                                 _slug_hint(doc, slug))
                continue
            if slug in SECTIONS:
                self.problems.at(doc, ("slug",), f"the page slug '{slug}' collides with the site's /{slug}/ section",
                                 "choose another slug")
                continue
            if slug in first:
                self.problems.at(doc, ("slug",), f"two pages have the URL /{slug}/: this one and {first[slug]}",
                                 "give one of them another slug")
                continue
            first[slug] = doc.path
            pages.append(Page(slug, doc.path, doc.data["title"], doc.body, doc.body_line,
                              bool(doc.data.get("draft")), doc.data.get("summary") or ""))
        return tuple(sorted(pages, key=lambda p: p.slug))

    def assemble(self, articles, actors, proposals, questions, pages) -> Site:
        tags: dict[str, list[str]] = {}
        actor_articles: dict[str, list[str]] = {}
        actor_quotes: dict[str, list[Quote]] = {}
        actor_events: dict[str, list[Event]] = {}
        events = []
        for article in articles:
            for tag in article.tags:
                tags.setdefault(tag, []).append(article.slug)
            for actor in article.actors:
                actor_articles.setdefault(actor.id, []).append(article.slug)
            for quote in article.quotes:
                actor_quotes.setdefault(quote.actor, []).append(quote)
            for event in article.events:
                events.append(event)
                for ident in event.actors:
                    actor_events.setdefault(ident, []).append(event)
        order = {a.slug: i for i, a in enumerate(articles)}
        return self.site(articles, actors, proposals, questions, pages, events_in_order(events, order),
                         {t: tuple(s) for t, s in tags.items()}, {k: tuple(v) for k, v in actor_articles.items()},
                         {k: newest_quotes_first(v, order) for k, v in actor_quotes.items()},
                         {k: events_in_order(v, order) for k, v in actor_events.items()})

    def assemble_again(self, previous: Site, articles, actors, proposals, questions, pages) -> Site:
        """`assemble`, patching `previous` (made from the same articles in the same order, some of
        them since resolved anew): only the index entries the changed articles are in are made again."""
        order = {a.slug: i for i, a in enumerate(articles)}

        def in_story_order(slugs: list[str]) -> tuple[str, ...]:
            return tuple(sorted(slugs, key=order.__getitem__))

        tags, actor_articles = dict(previous.tags), dict(previous.actor_articles)
        actor_quotes, actor_events = dict(previous.actor_quotes), dict(previous.actor_events)
        events, events_changed = previous.events, False
        for old, new in zip(previous.articles, articles, strict=True):
            if old is new:
                continue
            slug = new.slug
            for tag in set(old.tags) ^ set(new.tags):
                refile(tags, tag, [s for s in tags.get(tag, ()) if s != slug] + [slug] * (tag in new.tags),
                       in_story_order)
            listed = {a.id for a in new.actors}
            for ident in {a.id for a in old.actors} ^ listed:
                refile(actor_articles, ident,
                       [s for s in actor_articles.get(ident, ()) if s != slug] + [slug] * (ident in listed),
                       in_story_order)
            if old.quotes != new.quotes:
                for ident in {q.actor for q in old.quotes} | {q.actor for q in new.quotes}:
                    refile(actor_quotes, ident, [q for q in actor_quotes.get(ident, ()) if q.article != slug]
                           + [q for q in new.quotes if q.actor == ident],
                           lambda quotes: newest_quotes_first(quotes, order))
            if old.events != new.events:
                events, events_changed = [e for e in events if e.article != slug] + list(new.events), True
                for ident in {a for e in old.events for a in e.actors} | {a for e in new.events for a in e.actors}:
                    refile(actor_events, ident, [e for e in actor_events.get(ident, ()) if e.article != slug]
                           + [e for e in new.events if ident in e.actors], lambda found: events_in_order(found, order))
        return self.site(articles, actors, proposals, questions, pages,
                         events_in_order(events, order) if events_changed else previous.events,
                         tags, actor_articles, actor_quotes, actor_events)

    def site(self, articles, actors, proposals, questions, pages, events, tags, actor_articles, actor_quotes,
             actor_events) -> Site:
        """The model from the articles, the entities and the indexes made from the articles."""
        # each actor's questions in the order the story first mentions them: not the order of
        # `questions`, which a walk resumed from a checkpoint (resolve_again) leaves otherwise
        actor_questions: dict[str, list[str]] = {}
        listed: set[str] = set()
        for article in articles:
            for update in article.questions:
                if update.question in listed or update.question not in questions:
                    continue
                listed.add(update.question)
                for ident in questions[update.question].raised_by:
                    actor_questions.setdefault(ident, []).append(update.question)
        members: dict[str, list[str]] = {}
        for actor in actors.values():
            if actor.affiliation:
                members.setdefault(actor.affiliation, []).append(actor.id)
        return Site(
            config=self.config, articles=tuple(articles), actors=dict(sorted(actors.items())),
            proposals=dict(sorted(proposals.items())), questions=dict(sorted(questions.items())),
            events=events, pages=pages, tags=dict(sorted(tags.items())), by_slug={a.slug: a for a in articles},
            actor_articles=actor_articles, actor_quotes=actor_quotes, actor_events=actor_events,
            actor_questions={k: tuple(v) for k, v in actor_questions.items()},
            members={k: tuple(sorted(v)) for k, v in members.items()},
        )


def newest_quotes_first(quotes, order: dict[str, int]) -> tuple[Quote, ...]:
    # newest first; one article's in its order (the sort is stable)
    return tuple(sorted(quotes, key=lambda q: (q.date.at, order[q.article]), reverse=True))


def events_in_order(events, order: dict[str, int]) -> tuple[Event, ...]:
    return tuple(sorted(events, key=lambda e: (e.date.at, order[e.article])))


def refile(index: dict, key: str, items: list, arrange) -> None:
    """Put `items`, arranged, under `key` in one of the site's indexes, or drop the key when none are left."""
    if items:
        index[key] = arrange(items)
    else:
        index.pop(key, None)


def resolve(config: SiteConfig, documents: list[Document], *, drafts: bool = True) -> tuple[Site, list[Diagnostic]]:
    """The model of the whole story, and every problem found while building it."""
    resolver = Resolver(config, documents, drafts)
    site = resolver.run()
    return site, list(resolver.problems)


def resolve_again(config: SiteConfig, documents: list[Document], previous: Fold | None, *,
                  drafts: bool = True) -> tuple[Site, list[Diagnostic], Fold]:
    """`resolve`, resuming `previous` (this function's last fold) where the story first differs.

    The result is the same as `resolve`'s; the returned fold serves the next call.
    """
    resolver = Resolver(config, documents, drafts)
    site = resolver.run(previous, keep=True)
    return site, list(resolver.problems), resolver.fold
