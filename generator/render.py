"""Render the planned pages with Jinja: the model in, HTML bytes out.

Templates come from the site's `templates/` first, then the default theme (a site's template can
also extend the theme's original as `theme/<name>`). Autoescaping is on and undefined names
fail, so a template mistake stops the build instead of printing an empty string.

`render_site` renders every page of a plan into memory; nothing here writes to the disk.
"""
from __future__ import annotations

import bisect
import collections
import contextlib
import datetime as dt
import functools
import itertools
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import jinja2.runtime
from markupsafe import Markup, escape

from .assets import Assets, theme_dirs, uses_theme_templates  # noqa: F401 (the engine's, from here before)
from .countries import country_name
from .model import (
    STANCES,
    STATUSES,
    Actor,
    Article,
    Position,
    Proposal,
    Question,
    Quote,
    Site,
    StanceHistory,
    When,
)
from .plan import RECENT_EVENTS, PagePlan, plan_site
from .urls import Urls

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")

# Statuses and stances read the same everywhere: one label each.
LABELS = {
    "proposed": "Proposed", "under-negotiation": "Under negotiation", "agreed": "Agreed",
    "rejected": "Rejected", "withdrawn": "Withdrawn", "stalled": "Stalled",
    "supports": "Supports", "opposes": "Opposes", "conditional": "Conditional",
    "undecided": "Undecided", "open": "Open", "answered": "Answered",
    "high": "High", "moderate": "Moderate", "low": "Low",
    "person": "Person", "organization": "Organization", "state": "State",
}
KIND_HEADINGS = {"person": "People", "organization": "Organizations", "state": "States"}
# A stance after a count of actors holding it: "3 in support", not "3 supports".
COUNTED_STANCES = {"supports": "in support", "opposes": "opposed"}   # the others read as their label
# Statuses of a proposal that is still in play, for the home page.
ON_THE_TABLE = ("proposed", "under-negotiation", "stalled")
HOME_LIST_LIMIT = 10


class _Globals(collections.ChainMap):
    """A template's globals (its own over the environment's), whose keys() is a set.

    Jinja subtracts them from the importing context's globals on every `{% from … import %}`;
    with a ChainMap's key view that difference is a Python loop over membership tests, about a
    tenth of the time Jinja spends rendering a briefing, which imports four partials.
    """

    def keys(self):  # type: ignore[override]
        return set().union(*self.maps)


class _Context(jinja2.runtime.Context):
    """Jinja's Context, calling macros and plain functions and methods directly.

    Every `{{ f(x) }}` in a template goes through `Context.call`, which asks the callable and its
    `__call__` whether it wants the context, the eval context or the environment passed first.
    A macro never does, and a function or method only when it carries `jinja_pass_arg`; those
    are most calls (a hundred a briefing), and asking took 8% of a cold build's CPU.
    Anything else goes the long way.
    """

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        kind = type(__obj)
        if kind is jinja2.runtime.Macro or (kind in _PLAIN_CALLABLES and not hasattr(__obj, "jinja_pass_arg")):
            if kwargs:
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception")
        return super().call(__obj, *args, **kwargs)


_PLAIN_CALLABLES = frozenset({types.FunctionType, types.MethodType, types.BuiltinFunctionType})


try:  # what markupsafe.escape runs on a str: in C, returning a str
    from markupsafe import _escape_inner as _escape_text
except ImportError:  # pragma: no cover - another MarkupSafe
    def _escape_text(text: str) -> str:
        return str(escape(text))


def _escape_output(value: Any) -> str:
    """`escape` for a template's output statements: the same text, without a Markup object.

    Compiled templates call `escape` only on what `{{ … }}` writes, and join it into the page
    (or into a macro's or block's result, which Jinja then marks safe itself); markupsafe's
    escape wraps each in a Markup object through two Python calls first, a sixth of a briefing's
    template time. Text already safe passes as it is; anything else goes the usual way.
    """
    kind = type(value)
    if kind is str:
        return _escape_text(value)
    if kind is Markup:
        return value
    return escape(value)


class _Template(jinja2.Template):
    """A template whose output statements escape through `_escape_output`."""

    @classmethod
    def _from_namespace(cls, environment, namespace, globals):
        namespace["escape"] = _escape_output    # the name compiled code looks up for output
        return super()._from_namespace(environment, namespace, globals)


class _Environment(jinja2.Environment):
    context_class = _Context
    template_class = _Template

    def make_globals(self, d):
        return _Globals({} if d is None else d, self.globals)


def make_environment(site_dir: Path | None, *, theme_templates: Path | None = None,
                     feeds: bool = True, auto_reload: bool = True,
                     bytecode_dir: Path | None = None) -> jinja2.Environment:
    """A Jinja environment for one site: its templates over the theme's, strict and escaping.

    `feeds` tells the templates that the build writes Atom feeds, so pages may link them.
    `auto_reload` checks template files for edits on every use (for a preview); a one-off build
    may turn it off. `bytecode_dir` keeps compiled templates between runs (Jinja checks each
    against its source): compiling the theme costs a rebuild that renders one page ~0.4 s.
    """
    bytecode_cache = None
    if bytecode_dir is not None:
        try:
            bytecode_dir.mkdir(parents=True, exist_ok=True)
            bytecode_cache = jinja2.FileSystemBytecodeCache(str(bytecode_dir))
        except OSError:
            pass  # a read-only site builds without it
    theme = jinja2.FileSystemLoader(str(theme_templates or theme_dirs()[0]))
    loaders: list[jinja2.BaseLoader] = []
    if site_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(site_dir / "templates")))
    loaders += [theme, jinja2.PrefixLoader({"theme": theme})]
    env = _Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=auto_reload,
        bytecode_cache=bytecode_cache,
    )
    env.filters.update(
        date=format_date,
        iso=iso_date,
        month=format_month,
        label=label,
        kind_heading=lambda kind: KIND_HEADINGS.get(kind, label(kind)),
        counted=lambda stance: COUNTED_STANCES.get(stance, label(stance).lower()),
        country=country_name,
    )
    env.globals.update(labels=LABELS, statuses=STATUSES, feeds=feeds)
    _install_binding(env)    # its helpers as filters too: they must exist before templates compile
    return env


def compile_templates(site_dir: Path, bytecode_dir: Path) -> None:
    """Compile every template into `bytecode_dir`, for render workers forked later to load
    instead of each compiling them again (~0.15 s a worker). A template that does not compile
    is left to the build, which reports it. The theme's `theme/` names are skipped: they name
    the theme's files, compiled under their plain names unless a site template of the same name
    hides one (a worker then compiles that one itself, if a page extends it)."""
    env = make_environment(site_dir, auto_reload=False, bytecode_dir=bytecode_dir)
    for name in env.list_templates(filter_func=lambda name: not name.startswith("theme/")):
        with contextlib.suppress(jinja2.TemplateError):
            env.get_template(name)


def _install_binding(env: jinja2.Environment) -> Binding:
    """A Binding's helpers as the environment's globals and filters; bind_site re-points it at each build."""
    binding = Binding()
    env.globals.update(binding.globals(), binding=binding)
    env.filters.update(binding.filters())
    return binding


def format_date(value: When | dt.date | dt.datetime) -> str:
    """'Aug 22, 2025' (and the time, when the author gave one): the same in every locale."""
    if isinstance(value, When):
        text = format_date(value.at.date())
        return f"{text}, {value.at:%H:%M}" if value.has_time else text
    if isinstance(value, dt.datetime):
        value = value.date()
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}"


def format_month(value: When | dt.date) -> str:
    day = value.date if isinstance(value, When) else value
    return f"{_LONG_MONTHS[day.month - 1]} {day.year}"


def iso_date(value: When | dt.date | dt.datetime) -> str:
    """A machine-readable date for `<time datetime>`, with the offset when it has a time."""
    if isinstance(value, When):
        return value.iso()
    return value.isoformat()


def label(value: str) -> str:
    """The reader's word for a status, stance, confidence or kind."""
    return LABELS.get(value, value.replace("-", " ").capitalize())


@dataclass(frozen=True, slots=True)
class StanceRow:
    """One row of a briefing's stance table: where an actor stood after that briefing."""

    position: Position
    new: bool          # given in this briefing (else carried over from an earlier one)


class View:
    """Lookups the templates need that are more than attribute access on the model.

    One per site: it holds the story order of the articles for as-of questions.
    """

    def __init__(self, site: Site):
        self.site = site
        self.order = {a.slug: i for i, a in enumerate(site.articles)}
        self._position_orders: dict[int, list[int]] = {}   # id(StanceHistory) -> story order of each position
        self._held: dict[str, dict[int, dict[str, str]]] = {}   # see _stances_held
        self._by_actor: dict[str, list] | None = None              # see stances_of
        self._seen: dict[tuple[str, str], int] = {}                # see _last_seen
        self._ranks: dict[str, dict[str, int]] = {}                # see stance_table
        self.by_slug = site.by_slug or {a.slug: a for a in site.articles}

    def article(self, slug: str) -> Article:
        return self.by_slug[slug]

    def articles(self, slugs, newest_first: bool = False) -> list[Article]:
        found = [self.by_slug[s] for s in slugs]
        return found[::-1] if newest_first else found

    def actor(self, ident: str, at: Article | None = None) -> Actor:
        """An actor as of an article (its role then), or as it is now."""
        if at is not None:
            for actor in at.actors:
                if actor.id == ident:
                    return actor
        return self.site.actors[ident]

    def stances_at(self, proposal: str, article: Article) -> list[StanceRow]:
        """Each actor's stance on a proposal in force after `article`, this briefing's first."""
        here = self.order.get(article.slug, len(self.order))
        rows = []
        for history in self.site.proposals[proposal].stances:
            # positions are in story order: the one in force is the last at or before `here`
            orders = self._position_orders.get(id(history))
            if orders is None:
                orders = self._position_orders[id(history)] = [self.order.get(p.article, -1) for p in history.positions]
            index = bisect.bisect_right(orders, here) - 1
            if index >= 0:
                position = history.positions[index]
                rows.append(StanceRow(position, position.article == article.slug))
        return [r for r in rows if r.new] + [r for r in rows if not r.new]

    def stances_of(self, actor: str) -> list[tuple[Proposal, StanceHistory | None]]:
        """The proposals an actor took a stance on or proposed, most recently updated first."""
        if self._by_actor is None:  # one pass over every proposal, shared by all actor pages
            self._by_actor = {}
            for proposal in self.site.proposals.values():
                histories = {h.actor: h for h in proposal.stances}
                for ident in dict.fromkeys([*histories, *proposal.proposed_by]):
                    self._by_actor.setdefault(ident, []).append((proposal, histories.get(ident)))
        found = self._by_actor.get(actor, [])
        return sorted(found, key=lambda ph: (self._last_seen(ph[0]), ph[0].id), reverse=True)

    def stance_table(self, proposal: str, article: Article, carried_limit: int) -> tuple[list[StanceRow], list, bool]:
        """A briefing's stance table: the rows to list, the counts of earlier stances left out,
        and whether any listed row has a condition (the table then has that column)."""
        held = self._stances_held(proposal).get(self.order.get(article.slug, -1))
        new = [StanceRow(p, True) for u in article.proposals if u.proposal == proposal for p in u.positions]
        rank = self._ranks.get(proposal)
        if rank is None:   # once per proposal, not per briefing that reports it
            rank = self._ranks[proposal] = {h.actor: i for i, h in enumerate(self.site.proposals[proposal].stances)}
        new = sorted({row.position.actor: row for row in new}.values(),   # an actor's last word here,
                     key=lambda row: rank[row.position.actor])              # in the matrix's order
        if held is None or len(held) - len(new) <= carried_limit:
            rows = self.stances_at(proposal, article)   # few stances: list them all
            return rows, [], any(r.position.condition for r in rows)
        carried = dict(held)
        for row in new:
            carried.pop(row.position.actor, None)
        tally = collections.Counter(carried.values())
        counts = [(stance, tally[stance]) for stance in STANCES if tally[stance]]
        return new, counts, any(r.position.condition for r in new)

    def _stances_held(self, proposal: str) -> dict[int, dict[str, str]]:
        """Story order of each briefing that mentions the proposal -> actor -> stance held after it.

        Made once per proposal and build by one walk through its positions, so a long story's
        briefings need not each scan every actor's history.
        """
        found = self._held.get(proposal)
        if found is None:
            positions = sorted(((self.order.get(p.article, -1), i, p) for h in self.site.proposals[proposal].stances
                                for i, p in enumerate(h.positions)), key=lambda t: (t[0], t[1]))
            held: dict[str, str] = {}
            found = {}
            updates = sorted(self.order.get(u.article, -1) for u in self.site.proposals[proposal].updates)
            k = 0
            for order in updates:
                while k < len(positions) and positions[k][0] <= order:
                    held[positions[k][2].actor] = positions[k][2].stance
                    k += 1
                found[order] = dict(held)
            self._held[proposal] = found
        return found

    @staticmethod
    def stance_moves(history: StanceHistory) -> list[Position]:
        """The positions where the actor's stance changed (the first one included): how it moved."""
        moves: list[Position] = []
        for position in history.positions:
            if not moves or moves[-1].stance != position.stance:
                moves.append(position)
        return moves

    @staticmethod
    def count_stances(rows: list[StanceRow]) -> list[tuple[str, int]]:
        """How many of these rows hold each stance, in the order of STANCES."""
        held = [row.position.stance for row in rows]
        return [(stance, held.count(stance)) for stance in STANCES if stance in held]

    def stance_counts(self, proposal: Proposal) -> list[tuple[str, int]]:
        """How many actors currently hold each stance, in the order of STANCES."""
        current = [h.current.stance for h in proposal.stances]
        return [(stance, current.count(stance)) for stance in STANCES if stance in current]

    def on_the_table(self, limit: int = HOME_LIST_LIMIT) -> list[Proposal]:
        """Proposals still in play, most recently updated first."""
        live = [p for p in self.site.proposals.values() if p.status in ON_THE_TABLE]
        return sorted(live, key=lambda p: (self._last_seen(p), p.id), reverse=True)[:limit]

    def open_questions(self, limit: int | None = HOME_LIST_LIMIT) -> list[Question]:
        open_ = [q for q in self.site.questions.values() if q.status == "open"]
        ordered = sorted(open_, key=lambda q: (self._last_seen(q), q.id), reverse=True)
        return ordered if limit is None else ordered[:limit]

    def proposals_by_status(self) -> list[tuple[str, list[Proposal]]]:
        groups = []
        for status in STATUSES:
            members = sorted((p for p in self.site.proposals.values() if p.status == status),
                             key=lambda p: (p.title.casefold(), p.id))
            if members:
                groups.append((status, members))
        return groups

    def questions_open_first(self) -> list[tuple[str, list[Question]]]:
        groups = []
        for status in ("open", "answered"):
            members = sorted((q for q in self.site.questions.values() if q.status == status),
                             key=lambda q: (self._last_seen(q), q.id), reverse=True)
            if members:
                groups.append((status, members))
        return groups

    def actors_by_kind(self) -> list[tuple[str, list[Actor]]]:
        kinds: dict[str, list[Actor]] = {}
        for actor in self.site.actors.values():
            kinds.setdefault(actor.kind, []).append(actor)
        order = ["person", "organization", "state"]
        order += sorted(k for k in kinds if k not in order)
        return [(k, sorted(kinds[k], key=lambda a: (a.name.casefold(), a.id))) for k in order if k in kinds]

    def recent_events(self, limit: int = RECENT_EVENTS) -> list:
        return list(reversed(self.site.events[-limit:]))

    def events_by_month(self) -> list[tuple[str, list]]:
        groups: dict[str, list] = {}
        for event in self.site.events:
            groups.setdefault(format_month(event.date), []).append(event)
        return list(groups.items())

    def quotes_newest_first(self, actor: str) -> list[Quote]:
        return list(self.site.actor_quotes.get(actor, ()))

    def _last_seen(self, entity: Proposal | Question) -> int:
        key = (type(entity).__name__, entity.id)
        if key not in self._seen:
            self._seen[key] = max(map(self.order.get, entity.articles, itertools.repeat(-1)), default=-1)
        return self._seen[key]


_view_cache: tuple[Site, View] | None = None


def view_of(site: Site) -> View:
    """The `View` of a site, made once per model (pages of one build share it)."""
    global _view_cache
    if _view_cache is None or _view_cache[0] is not site:
        _view_cache = (site, View(site))
    return _view_cache[1]


@functools.lru_cache(maxsize=256)   # a handful of kinds and values, thousands of badges
def _badge(kind: str, value: str) -> Markup:
    value = escape(value)
    return Markup(f'<span class="badge {kind} {kind}-{value}">{escape(label(value))}</span>')


class Binding:
    """The build a Jinja environment is rendering: its site, links, view and assets.

    Partials import their macros without context, so Jinja compiles and caches them once per
    environment; a cached module keeps the globals it was made with. The globals are
    therefore this one object's proxies and methods, re-pointed by `bind_site` for each build.
    """

    # the markup helpers templates may call as functions or as filters
    HELPERS = ("actor_link", "actor_list", "proposal_link", "question_link", "status_badge", "stance_badge",
               "question_badge")

    def __init__(self) -> None:
        self.site: Site | None = None
        self.urls: Urls | None = None
        self.view: View | None = None
        self.assets: Assets | None = None
        self.fragments: dict[tuple, Any] = {}

    # ---- small pieces of markup: Python, not macros, as a macro call costs tens of
    # microseconds and a briefing's stance tables make hundreds of these calls per page
    def actor_link(self, ident: str, at: Article | None = None) -> Markup:
        # An actor keeps one name (resolve enforces it), so its link is the same on every page:
        # made once per build. f-strings over escape(): Markup.format is ten times slower.
        link = self.fragments.get(("actor-link", ident))
        if link is None:
            href = escape(self.urls.page("actor", ident))
            link = Markup(f'<a href="{href}">{escape(self.view.actor(ident, at).name)}</a>')
            self.fragments[("actor-link", ident)] = link
        return link

    def actor_list(self, idents, at: Article | None = None) -> Markup:
        # A proposal's proposers are listed in every briefing that reports it, the same tuple
        # until they change (resolve shares it): joined once per build. The links are Markup
        # already, so a plain join is safe, and it skips Markup.join's escape() per item.
        key = ("actor-list", tuple(idents))   # (a tuple is its own tuple: no copy)
        joined = self.fragments.get(key)
        if joined is None:
            joined = self.fragments[key] = Markup(", ".join([self.actor_link(i, at) for i in key[1]]))
        return joined

    def proposal_link(self, ident: str) -> Markup:
        return self._entity_link("proposal", ident)

    def question_link(self, ident: str) -> Markup:
        return self._entity_link("question", ident)

    def _entity_link(self, kind: str, ident: str) -> Markup:
        """A link to a proposal with its title or a question with its text: the same on every
        page, made once per build."""
        key = (f"{kind}-link", ident)
        link = self.fragments.get(key)
        if link is None:
            label = self.site.proposals[ident].title if kind == "proposal" else self.site.questions[ident].text
            link = self.fragments[key] = Markup(f'<a href="{escape(self.urls.page(kind, ident))}">{escape(label)}</a>')
        return link

    @staticmethod
    def status_badge(status: str) -> Markup:
        return _badge("status", status)

    @staticmethod
    def stance_badge(stance: str) -> Markup:
        return _badge("stance", stance)

    @staticmethod
    def question_badge(status: str) -> Markup:
        return _badge("question", status)

    @staticmethod
    def draft_badge(article: Article) -> Markup:
        return Markup(' <span class="badge draft">Draft</span>') if article.draft else Markup("")

    def memo(self, key: tuple, render: Callable[..., Any], *args: Any) -> Any:
        """render(*args), made once per build for a key: for fragments many pages repeat.

        Model values in the key count by identity (they are frozen, and live as long as the
        build's model), plain values by equality.
        """
        ident = tuple(k if isinstance(k, (str, int, bool, type(None))) else id(k) for k in key)
        found = self.fragments.get(ident)
        if found is None:
            found = self.fragments[ident] = render(*args)
        return found

    def asset(self, name: str) -> str:
        return self.urls.url(self.assets.asset_path(name))

    def absolute(self, rel: str) -> str:
        return absolute_url(self.site.config.base_url, self.urls, rel)

    def filters(self) -> dict[str, Any]:
        """The same helpers as filters: `p.actor|actor_link`, `p.stance|stance_badge`,
        `p.article|briefing_url` (and `actor_url`, `proposal_url`, `question_url`, `tag_url`).

        The theme uses these: Jinja calls a filter directly, where every function call goes
        through the context's `call` (a briefing makes some sixty of these; as filters its
        template time fell by a tenth). The functions stay for templates that use them.
        """
        urls = {f"{kind}_url": functools.partial(self._page_url, kind)
                for kind in ("briefing", "actor", "proposal", "question", "tag")}
        return {**{name: getattr(self, name) for name in self.HELPERS}, **urls}

    def _page_url(self, kind: str, ident: str) -> str:
        return self.urls.page(kind, ident)

    def globals(self) -> dict[str, Any]:
        names = (*self.HELPERS, "draft_badge", "asset", "absolute", "memo")
        proxies = {name: _Proxy(self, name) for name in ("site", "urls", "view")}
        return {"config": _Proxy(self, "site", "config"), **proxies,
                **{name: getattr(self, name) for name in names}}


class _Proxy:
    """Stands for an attribute of the current build (`binding.urls`), whichever build it is."""

    __slots__ = ("_binding", "_path")

    def __init__(self, binding: Binding, *path: str):
        self._binding, self._path = binding, path

    def _target(self) -> Any:
        target: Any = self._binding
        for name in self._path:
            target = getattr(target, name)
        return target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._target()[key]

    def __iter__(self):
        return iter(self._target())

    def __bool__(self) -> bool:
        return bool(self._target())

    def __eq__(self, other: object) -> bool:
        return self._target() == other

    __hash__ = None  # type: ignore[assignment]


def bind_site(env: jinja2.Environment, site: Site, urls: Urls, assets: Assets) -> None:
    """Point the environment's globals at one build's model, links and assets."""
    binding = env.globals.get("binding")
    if not isinstance(binding, Binding):
        binding = _install_binding(env)
    binding.site, binding.urls, binding.view, binding.assets = site, urls, view_of(site), assets
    binding.fragments = {}


def _markdown() -> tuple[Callable[..., str], Callable[..., str]]:
    from .markdown import body_html, page_html
    return body_html, page_html


def render_page(env: jinja2.Environment, site: Site, page: PagePlan, urls: Urls, assets: Assets) -> bytes:
    """One page as UTF-8 HTML."""
    binding = env.globals.get("binding")
    if not isinstance(binding, Binding) or binding.site is not site or binding.urls != urls \
            or binding.assets is not assets:
        bind_site(env, site, urls, assets)
    template = env.get_template(page.template)
    return template.render(page_context(site, page, urls, assets)).encode("utf-8")


def page_context(site: Site, page: PagePlan, urls: Urls, assets: Assets) -> dict[str, Any]:
    """What a template sees: the model, the page's own entity, and helpers for links and dates."""
    view = view_of(site)
    context: dict[str, Any] = {
        "site": site,
        "config": site.config,
        "plan": page,
        "urls": urls,
        "view": view,
        "asset": lambda name: urls.url(assets.asset_path(name)),
        "absolute": lambda rel: absolute_url(site.config.base_url, urls, rel),
        "section": _SECTION_OF.get(page.kind, ""),
        "draft": False,
        "ld": None,
    }
    kind, key = page.kind, page.key
    if kind == "briefing":
        article = view.article(key)
        body_html, _ = _markdown()
        context.update(article=article, draft=article.draft,
                       body=Markup(body_html(article, site, urls)),
                       previous=view.article(article.previous) if article.previous else None,
                       next=view.article(article.next) if article.next else None)
        context["ld"] = briefing_ld(site, article, urls)
    elif kind == "home":
        context.update(articles=[view.article(s) for s in page.items],
                       latest=site.articles[-1] if site.articles else None)
    elif kind == "actor":
        context["actor"] = site.actors[key]
        context["ld"] = actor_ld(site, site.actors[key], urls)
    elif kind == "proposal":
        context["proposal"] = site.proposals[key]
    elif kind == "question":
        context["question"] = site.questions[key]
    elif kind == "tag":
        context.update(tag=key, articles=[view.article(s) for s in page.items])
    elif kind == "page":
        plain = next(p for p in site.pages if p.slug == key)
        _, page_html = _markdown()
        context.update(page=plain, draft=plain.draft, body=Markup(page_html(plain, site, urls)))
    return context


_SECTION_OF = {"home": "home", "briefing": "home", "actor": "actors", "actors": "actors",
               "proposal": "proposals", "proposals": "proposals", "question": "questions",
               "questions": "questions", "timeline": "timeline", "tags": "tags", "tag": "tags"}


def absolute_url(base_url: str, urls: Urls, rel: str) -> str:
    """The full URL of a site-relative path, or '' when the base URL has no scheme and host."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}{urls.url(rel)}"


def briefing_ld(site: Site, article: Article, urls: Urls) -> dict[str, Any]:
    """schema.org data for a briefing: the NewsArticle, its quotations and its events."""
    from .urls import page_path
    url = absolute_url(site.config.base_url, urls, page_path("briefing", article.slug))
    view = view_of(site)
    news: dict[str, Any] = {
        "@type": "NewsArticle",
        "headline": article.title,
        "datePublished": article.date.iso(),
        "dateModified": (article.updated or article.date).iso(),
        "inLanguage": site.config.language,
        "publisher": {"@type": "Organization", "name": site.config.title},
    }
    if url:
        news["url"] = url
        news["@id"] = url
    if article.summary:
        news["description"] = article.summary
    if article.source.url:
        news["isBasedOn"] = article.source.url
    if article.tags:
        news["keywords"] = list(article.tags)
    graph: list[dict[str, Any]] = [news]
    for quote in article.quotes:
        speaker = view.actor(quote.actor, article)
        graph.append({"@type": "Quotation", "text": quote.text,
                      "creator": {"@type": _ld_type(speaker), "name": speaker.name},
                      **({"isPartOf": {"@id": url}} if url else {})})
    for event in article.events:
        graph.append({"@type": "Event", "name": event.title, "startDate": event.date.iso()})
    return {"@context": "https://schema.org", "@graph": graph}


def actor_ld(site: Site, actor: Actor, urls: Urls) -> dict[str, Any]:
    from .urls import page_path
    data: dict[str, Any] = {"@context": "https://schema.org", "@type": _ld_type(actor), "name": actor.name}
    url = absolute_url(site.config.base_url, urls, page_path("actor", actor.id))
    if url:
        data["url"] = url
    if actor.aliases:
        data["alternateName"] = list(actor.aliases)
    if actor.role and actor.kind == "person":
        data["jobTitle"] = actor.role
    if actor.wikidata:
        data["sameAs"] = f"https://www.wikidata.org/wiki/{actor.wikidata}"
    return data


def _ld_type(actor: Actor) -> str:
    return "Person" if actor.kind == "person" else "Organization"


def render_site(site: Site, env: jinja2.Environment, urls: Urls, assets: Assets,
                plans: tuple[PagePlan, ...] | None = None) -> dict[str, bytes]:
    """Every page and static file of the site: output path -> bytes."""
    if plans is None:
        plans = plan_site(site, per_page=site.config.per_page)
    files: dict[str, bytes] = {}
    for page in plans:
        files[page.output] = render_page(env, site, page, urls, assets)
    files.update(assets.files)
    return files


def site_urls(site: Site, base_path: str | None = None) -> Urls:
    """The link builder for a site, under its own base path unless another is given."""
    return Urls(base_path if base_path is not None else site.config.base_path)


