"""Which pages the site has, and which parts of the model each one shows.

`plan_site` lists every page (URL, output file, template, and the model entities it depends
on); `changed_deps` names the entities that differ between two models. Together they let the
engine re-render only the pages an edit touched:

    a page is rendered again when it is new, when its `PagePlan` differs from the previous
    one, or when one of its `deps` is in `changed_deps(old_site, new_site)`.

Dependency keys, and what a change to each means:

    'site'              the site's settings (title, language, base URL, ...)
    'pages'             the list of plain pages (slug and title: the footer links them)
    'page:<slug>'       one plain page
    'articles'          the list and order of all articles (pagination, neighbours)
    'article:<slug>'    one article, as resolved (its annotations, body, changes, neighbours)
    'article-row:<slug>'  an article as lists show it: title, date, draft or not, source,
                        summary (a front-matter edit elsewhere in it leaves its lists alone)
    'actor:<id>'        one actor's latest state and its indexes (briefings, quotes, events,
                        questions raised, members)
    'proposal:<id>'     one proposal (title, status, history, stances)
    'proposal-row:<id>' a proposal as an actor page lists it: title, status, proposers, and
                        when it was last reported (the list's order)
    'stance:<proposal>:<actor>'  one actor's stance history on one proposal
    'proposal-title:<id>'        a proposal's title (briefings name it in what changed)
    'proposal-stances:<id>'      every actor's stance history on a proposal and the briefings
                                 that report it (a briefing's stance table is made from them)
    'question:<id>'     one question (text, status, answer, history)
    'events'            the site-wide list of events
    'tags'              the tags and how many articles each has
    'assets'            the fingerprinted asset names (every page links the stylesheet); the
                        engine sets it when the assets' mapping changes

A change to a template is not a dependency key: the engine re-renders the pages whose template
extends, includes or imports the edited one (engine.Engine._templates_using).

The finer keys ('article-row', 'proposal-row', 'stance', 'proposal-title', 'proposal-stances')
say what the theme's own templates show. A site whose templates differ from the theme's may
show more, so it is planned with `fine=False`: each finer key becomes its whole entity's.
"""
from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from sys import intern

from .model import Article, Site, StanceHistory, built_by_fields
from .urls import output_file, page_path

COMMON_DEPS = frozenset({"site", "pages", "assets"})

# How many events the home page lists under "recent events".
RECENT_EVENTS = 8

_REFERENCE = re.compile(r"\[\[([a-z0-9]+(?:-[a-z0-9]+)*)\]\]")


@built_by_fields
@dataclass(frozen=True, slots=True)
class PagePlan:
    """One page to render.

    `url` is site-relative ('briefings/x/', '' for the home), `output` the file it is written
    to, `key` the entity id, article slug, tag, page slug or page number it shows. `items` lists
    the article slugs a list page shows (a page of the home, a tag); `number` and `count` place
    a page of the home among all of them.
    """

    url: str
    output: str
    template: str
    kind: str
    key: str
    deps: frozenset[str]
    items: tuple[str, ...] = ()
    number: int = 1
    count: int = 1


# The pages whose dependencies are nearly all of the plans' (a briefing depends on ~140 keys at
# 10,000 articles, through its proposers, raisers and stance tables): DepIndex keeps theirs.
INDEXED_KINDS = frozenset({"briefing", "actor", "proposal", "question"})
_NO_DEPS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DepIndex:
    """Which of a build's pages depend on each key: their plans' `deps` turned inside out.

    A CLI build keeps its plans for the next one (state.Story), which needs the dependencies
    only to find the pages an edit touched. Kept as plans without them (`without_deps`) and
    this index, they load in a fraction of the time: at 10,000 articles, 1.7 million keys in
    13,560 frozensets against each key once and two arrays. Key `keys[i]` is a dependency of
    the pages `outputs[j]` for j in `pages[starts[i]:starts[i + 1]]`.
    """

    keys: tuple[str, ...]
    starts: array
    pages: array
    outputs: tuple[str, ...]

    def pages_using(self, changed: Iterable[str]) -> set[str]:
        """The output paths of the indexed pages that depend on any of the keys `changed`."""
        slots = dict(zip(self.keys, range(len(self.keys)), strict=True))
        found: set[int] = set()
        for key in changed:
            slot = slots.get(key)
            if slot is not None:
                found.update(self.pages[self.starts[slot]:self.starts[slot + 1]])
        return {self.outputs[page] for page in found}


def without_deps(plans: Mapping[str, PagePlan]) -> tuple[dict[str, PagePlan], DepIndex]:
    """The plans with INDEXED_KINDS' dependencies left out (no keys at all), and the index
    of those dependencies. The other plans keep theirs: an index page's plan is made anew on
    every build, and compared whole with the last one."""
    using: dict[str, list[int]] = {}
    kept: dict[str, PagePlan] = {}
    for number, (output, plan) in enumerate(plans.items()):
        if plan.kind in INDEXED_KINDS and plan.deps:
            for key in plan.deps:
                using.setdefault(key, []).append(number)
            plan = replace(plan, deps=_NO_DEPS)
        kept[output] = plan
    starts, pages = array("I", [0]), array("I")
    for numbers in using.values():
        pages.extend(numbers)
        starts.append(len(pages))
    return kept, DepIndex(tuple(using), starts, pages, tuple(plans))


def plan_site(site: Site, *, per_page: int, fine: bool = True,
              last: tuple[Mapping[str, PagePlan], frozenset[str]] | None = None,
              before: Site | None = None, deps: bool = True) -> tuple[PagePlan, ...]:
    """Every page of the site, in a fixed order, each with what it depends on.

    `fine`: the pages are rendered by the theme's templates (see the keys above). `last`: the
    last run's plans (by output) and the keys changed since (changed_deps): a briefing whose
    article is not among them keeps its plan, which is a function of the article alone (a CLI
    rebuild's articles are new objects, equal to the last build's). `before`: the model `last`'s
    (fine) plans were made from: an entity page made from what it was made from keeps its plan
    too, as it does within one process (a CLI rebuild that took up the last build's story).

    Without `deps`, the briefings and the actor, proposal and question pages get no dependencies
    but COMMON_DEPS (finding theirs is nearly all of planning): plans that only say what to
    render, for a build that renders everything. Plan again with them before keeping the plans.
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    if not deps:
        return _plan(site, per_page, None, None, with_deps=False)
    plans = _plan(site, per_page, last, before if fine else None)
    return plans if fine else tuple(replace(p, deps=_coarse(p.deps)) for p in plans)


def _coarse(deps: frozenset[str]) -> frozenset[str]:
    """The dependencies with each finer key replaced by its whole entity's."""
    coarse = set()
    for key in deps:
        kind, _, rest = key.partition(":")
        if kind == "article-row":
            key = intern("article:" + rest)
        elif kind in ("proposal-row", "proposal-title", "proposal-stances", "stance"):
            key = intern("proposal:" + rest.split(":", 1)[0])
        coarse.add(key)
    return frozenset(coarse)


def _plan(site: Site, per_page: int, last: tuple[Mapping[str, PagePlan], frozenset[str]] | None,
          before: Site | None, *, with_deps: bool = True) -> tuple[PagePlan, ...]:
    plans: list[PagePlan] = []
    plans.extend(_home_pages(site, per_page))
    if not with_deps:   # (and without the caches below, which hold plans with their dependencies)
        plans.extend(_page("briefing", article.slug, ()) for article in site.articles)
        plans.extend(_page(kind, ident, ()) for kind in ("actor", "proposal", "question")
                     for ident in sorted(getattr(site, kind + "s")))
        return _plan_indexes(site, per_page, plans)
    global _briefing_plans
    known, _briefing_plans = _briefing_plans, {}
    for article in site.articles:
        # a briefing's plan is a function of its article alone: a preview re-plans only the
        # articles that resolving again made anew (resolve.Fold keeps the others as they were)
        plan = known.get(id(article), (None, None))
        if plan[0] is not article:
            old = None
            if last is not None and "article:" + article.slug not in last[1]:
                old = last[0].get(output_file(page_path("briefing", article.slug)))
            plan = (article, old or briefing_plan(site, article))
        if plan[1].deps:   # (not one kept from a story without them: DepIndex)
            _briefing_plans[id(article)] = plan
        plans.append(plan[1])
    # an entity page's plan is a function of what it is made from: a preview re-plans the few an
    # edit touched (proposals and questions are the same objects when untouched: resolve.py)
    global _entity_plans
    known_entities, _entity_plans = _entity_plans, {}
    for kind, idents, inputs, deps in (
            ("actor", sorted(site.actors), _actor_inputs, _actor_deps),
            ("proposal", sorted(site.proposals), lambda site, ident: site.proposals[ident], _proposal_deps),
            ("question", sorted(site.questions), lambda site, ident: site.questions[ident], _question_deps)):
        earlier = {} if before is None or last is None else getattr(before, kind + "s")
        for ident in idents:
            made_from = inputs(site, ident)
            plan = known_entities.get((kind, ident))
            if plan is None and ident in earlier:   # a new process: the last build's plan and what made it
                old = last[0].get(output_file(page_path(kind, ident)))
                plan = None if old is None else (inputs(before, ident), old)
            if plan is None or plan[0] is not made_from and plan[0] != made_from:
                plan = (made_from, _page(kind, ident, deps(site, ident)))
            if plan[1].deps:
                _entity_plans[kind, ident] = plan
            plans.append(plan[1])
    return _plan_indexes(site, per_page, plans)


def _plan_indexes(site: Site, per_page: int, plans: list[PagePlan]) -> tuple[PagePlan, ...]:
    """`plans` and, after them, the indexes, tag pages, plain pages and the 404 page."""
    plans.append(_page("actors", "", _entity_keys("actor", _actors_shown_in_index(site))))
    plans.append(_page("proposals", "", _entity_keys("proposal", site.proposals)))
    raisers = {a for q in site.questions.values() for a in q.raised_by}  # named beside each question
    plans.append(_page("questions", "", _entity_keys("question", site.questions) | _entity_keys("actor", raisers)))
    timeline_actors = {a for e in site.events for a in e.actors}
    plans.append(_page("timeline", "", {"events"} | _entity_keys("actor", timeline_actors)))
    plans.append(_page("tags", "", {"tags"}))
    for tag in sorted(site.tags):
        plans.extend(_tag_pages(tag, site.tags[tag], per_page))
    for page in site.pages:
        plans.append(_page("page", page.slug, {f"page:{page.slug}"} | _references(page.body)))
    plans.append(PagePlan(url="404.html", output="404.html", template="404.html", kind="404",
                          key="", deps=COMMON_DEPS))
    return tuple(plans)


_briefing_plans: dict[int, tuple[Article, PagePlan]] = {}   # id(article) -> (article, its plan), last plan_site
_entity_plans: dict[tuple[str, str], tuple[object, PagePlan]] = {}  # (kind, id) -> (what it was made from, plan)


def briefing_plan(site: Site, article: Article) -> PagePlan:
    """A briefing's plan, with its fine dependencies: a function of its article alone."""
    return _page("briefing", article.slug, _briefing_deps(site, article))


def _page(kind: str, key: str, deps: Iterable[str], *, items: tuple[str, ...] = ()) -> PagePlan:
    url = page_path(kind, key)
    return PagePlan(url=url, output=output_file(url), template=f"{kind}.html", kind=kind, key=key,
                    deps=COMMON_DEPS | frozenset(deps), items=items)


def _pages_of(newest_first: tuple[str, ...], per_page: int) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(number, count, items) of each page of a paginated list (one page when it is empty)."""
    count = max(1, -(-len(newest_first) // per_page))
    for number in range(1, count + 1):
        yield number, count, newest_first[(number - 1) * per_page:number * per_page]


def _tag_pages(tag: str, slugs: tuple[str, ...], per_page: int) -> list[PagePlan]:
    """A tag's briefings, newest first, `per_page` to a page (its items and their rows are all it shows)."""
    pages = []
    for number, count, items in _pages_of(slugs[::-1], per_page):
        url = page_path("tag", tag, number)
        pages.append(PagePlan(url=url, output=output_file(url), template="tag.html", kind="tag", key=tag,
                              deps=COMMON_DEPS | frozenset(_entity_keys("article-row", items)), items=items,
                              number=number, count=count))
    return pages


_home_memo: tuple[tuple, list[PagePlan]] = ((), [])   # what _home_pages made its plans from, and them


def _home_pages(site: Site, per_page: int) -> list[PagePlan]:
    global _home_memo
    newest_first = tuple(a.slug for a in reversed(site.articles))
    made_from = (newest_first, per_page, tuple(site.proposals), tuple(site.questions))
    if _home_memo[0] != made_from:
        _home_memo = (made_from, _make_home_pages(site, newest_first, per_page))
    return _home_memo[1]


def _make_home_pages(site: Site, newest_first: tuple[str, ...], per_page: int) -> list[PagePlan]:
    pages = []
    for number, count, items in _pages_of(newest_first, per_page):
        deps = {"articles"} | _entity_keys("article-row", items)
        if number == 1:
            # The first page also carries the latest bottom line, the proposals on the
            # table, the open questions and the recent events.
            deps |= _entity_keys("article", newest_first[:1])
            deps |= _entity_keys("proposal", site.proposals)
            deps |= _entity_keys("question", site.questions)
            deps.add("events")
        url = page_path("home", str(number))
        pages.append(PagePlan(url=url, output=output_file(url), template="home.html", kind="home",
                              key=str(number), deps=COMMON_DEPS | frozenset(deps), items=items,
                              number=number, count=count))
    return pages


def article_references(article: Article) -> tuple[set[str], set[str], set[str]]:
    """The actor, proposal and question ids an article mentions anywhere."""
    actors: set[str] = set()
    proposals: set[str] = set()
    questions: set[str] = set()
    for actor in article.actors:
        actors.add(actor.id)
        if actor.affiliation:
            actors.add(actor.affiliation)
    for update in article.proposals:
        proposals.add(update.proposal)
        actors.update(update.proposed_by)
        actors.update(p.actor for p in update.positions)
    for update in article.questions:
        questions.add(update.question)
        actors.update(update.raised_by)
    actors.update(q.actor for q in article.quotes)
    for event in article.events:
        actors.update(event.actors)
    changes = article.changes
    actors.update(changes.new_actors)
    actors.update(c.actor for c in changes.stance_changes)
    proposals.update(changes.new_proposals)
    proposals.update(c.proposal for c in changes.status_changes)
    proposals.update(c.proposal for c in changes.stance_changes)
    questions.update(changes.questions_opened + changes.questions_answered + changes.questions_reopened)
    return actors, proposals, questions


def _briefing_deps(site: Site, article: Article) -> set[str]:
    actors, proposals, questions = article_references(article)
    deps = {f"article:{article.slug}"}
    deps |= _entity_keys("article-row", [s for s in (article.previous, article.next) if s])
    deps |= _entity_keys("actor", actors)
    # of a proposal a briefing shows its title (in what changed) and, when it reports on it, its
    # stance table as of this briefing; its own update (status, summary) is in the article
    deps |= _entity_keys("proposal-title", proposals)
    deps |= _entity_keys("proposal-stances", {u.proposal for u in article.proposals})
    deps |= _entity_keys("question", questions)
    deps |= _references(article.body)            # [[id]] links show the target's name or title
    return deps


def _actor_inputs(site: Site, ident: str) -> tuple:
    """Everything _actor_deps reads of the model for one actor."""
    return (site.actors[ident], site.members.get(ident), _proposals_with_stance(site, ident),
            site.actor_questions.get(ident), site.actor_articles.get(ident), site.actor_quotes.get(ident),
            site.actor_events.get(ident))


def _actor_deps(site: Site, ident: str) -> set[str]:
    actor = site.actors[ident]
    deps = {f"actor:{ident}"}
    if actor.affiliation:
        deps.add(f"actor:{actor.affiliation}")
    deps |= _entity_keys("actor", site.members.get(ident, ()))
    # not the whole proposal: a status set in some briefing, or another actor's stance, leaves
    # the page as it is (at 5,000 articles one status edit re-rendered 173 actor pages for none)
    for proposal in _proposals_with_stance(site, ident):
        deps |= _entity_keys("proposal-row", [proposal]) | _entity_keys("stance", [f"{proposal}:{ident}"])
    deps |= _entity_keys("question", site.actor_questions.get(ident, ()))
    slugs = set(site.actor_articles.get(ident, ()))
    slugs.update(q.article for q in site.actor_quotes.get(ident, ()))
    slugs.update(e.article for e in site.actor_events.get(ident, ()))
    deps |= _entity_keys("article-row", slugs)
    return deps


def _proposal_deps(site: Site, ident: str) -> set[str]:
    proposal = site.proposals[ident]
    actors = set(proposal.proposed_by)
    actors.update(h.actor for h in proposal.stances)
    slugs = set(proposal.articles)
    slugs.update(c.article for c in proposal.status_history)
    slugs.update(p.article for h in proposal.stances for p in h.positions)
    return {f"proposal:{ident}"} | _entity_keys("actor", actors) | _entity_keys("article-row", slugs)


def _question_deps(site: Site, ident: str) -> set[str]:
    question = site.questions[ident]
    slugs = set(question.articles) | {s for s in (question.raised_in, question.answered_in) if s}
    slugs.update(c.article for c in question.status_history)
    actors = set(question.raised_by)
    for update in question.updates:
        actors.update(update.raised_by)
    return {f"question:{ident}"} | _entity_keys("actor", actors) | _entity_keys("article-row", slugs)


def _actors_shown_in_index(site: Site) -> set[str]:
    """Every actor, and the affiliations the index names beside them."""
    shown = set(site.actors)
    shown.update(a.affiliation for a in site.actors.values() if a.affiliation)
    return shown


def _proposals_with_stance(site: Site, actor: str) -> list[str]:
    return _stance_index(site).get(actor, [])


_stance_cache: list[tuple[Site, dict[str, list[str]]]] = []   # the last two models' (plan_site's `before`)


def _stance_index(site: Site) -> dict[str, list[str]]:
    """Actor id -> the proposals it took a stance on or proposed, built once per model."""
    for made_for, index in _stance_cache:
        if made_for is site:
            return index
    index = {}
    for pid, proposal in site.proposals.items():
        for actor in dict.fromkeys([h.actor for h in proposal.stances] + list(proposal.proposed_by)):
            index.setdefault(actor, []).append(pid)
    _stance_cache[:] = [*_stance_cache[-1:], (site, index)]
    return index


_keys: dict[str, dict[str, str]] = {}   # kind -> id -> 'kind:id', see _entity_keys


def _entity_keys(kind: str, idents: Iterable[str]) -> set[str]:
    # Made once per id and interned: every page names the same few thousand keys (a cold plan
    # at 10,000 articles asks for ~400,000), and the plans are kept (state.py).
    known = _keys.get(kind)
    if known is None:
        known = _keys[kind] = {}
    keys = set()
    for ident in idents:
        key = known.get(ident)
        if key is None:
            key = known[ident] = intern(f"{kind}:{ident}")
        keys.add(key)
    return keys


def _references(body: str) -> set[str]:
    """Dependency keys for the `[[id]]` links of a body; an id is an actor, proposal or question.

    The kind is not known here, so every kind is named: only the one that exists ever changes.
    """
    keys: set[str] = set()
    for ident in set(_REFERENCE.findall(body)):
        keys |= _entity_keys("actor", [ident]) | _entity_keys("proposal", [ident]) | _entity_keys("question", [ident])
    return keys


def changed_deps(old: Site | None, new: Site) -> frozenset[str]:
    """The dependency keys whose values differ between two models (added and removed ones too).

    With no previous model, every key of `new` counts as changed.
    """
    if old is None:
        return frozenset(_all_keys(new))
    changed: set[str] = set()
    if old.config != new.config:
        changed.add("site")
    if [(p.slug, p.title) for p in old.pages] != [(p.slug, p.title) for p in new.pages]:
        changed.add("pages")
    changed |= _diff("page", {p.slug: p for p in old.pages}, {p.slug: p for p in new.pages})
    if [a.slug for a in old.articles] != [a.slug for a in new.articles]:
        changed.add("articles")
    articles = _diff("article", _articles(old), _articles(new))
    changed |= articles
    if articles:  # an article's row can only have changed with the article
        slugs = {key.split(":", 1)[1] for key in articles}
        changed |= _diff("article-row", _article_rows(old, slugs), _article_rows(new, slugs))
    changed |= _diff("actor", _actor_values(old), _actor_values(new))
    proposals = _diff("proposal", old.proposals, new.proposals)
    changed |= proposals
    if proposals:  # the finer keys can only have changed within a changed proposal
        idents = {key.split(":", 1)[1] for key in proposals}
        changed |= _diff("proposal-row", _proposal_rows(old, idents), _proposal_rows(new, idents))
        changed |= _diff("stance", _stances(old, idents), _stances(new, idents))
        changed |= _diff("proposal-title", _titles(old, idents), _titles(new, idents))
        changed |= _diff("proposal-stances", _stance_tables(old, idents), _stance_tables(new, idents))
    changed |= _diff("question", old.questions, new.questions)
    if old.events != new.events:
        changed.add("events")
    if _tag_counts(old) != _tag_counts(new):
        changed.add("tags")
    return frozenset(changed)


def _all_keys(site: Site) -> set[str]:
    keys = {"site", "pages", "articles", "events", "tags", "assets"}
    keys |= _entity_keys("page", [p.slug for p in site.pages])
    keys |= _entity_keys("article", [a.slug for a in site.articles])
    keys |= _entity_keys("article-row", [a.slug for a in site.articles])
    keys |= _entity_keys("actor", site.actors)
    keys |= _entity_keys("proposal", site.proposals)
    keys |= _entity_keys("proposal-row", site.proposals)
    keys |= _entity_keys("stance", _stances(site, site.proposals))
    keys |= _entity_keys("proposal-title", site.proposals) | _entity_keys("proposal-stances", site.proposals)
    keys |= _entity_keys("question", site.questions)
    return keys


def _articles(site: Site) -> dict[str, Article]:
    return {a.slug: a for a in site.articles}


def _article_rows(site: Site, slugs: Iterable[str]) -> dict[str, tuple]:
    """What lists of briefings show of these articles (partials/article_list.html, quote and history rows)."""
    return {slug: (a.title, a.date, a.draft, a.source, a.summary)
            for slug in slugs if (a := site.by_slug.get(slug)) is not None}


def _actor_values(site: Site) -> dict[str, tuple]:
    return {ident: (actor, site.actor_articles.get(ident), site.actor_quotes.get(ident),
                    site.actor_events.get(ident), site.actor_questions.get(ident),
                    site.members.get(ident))
            for ident, actor in site.actors.items()}


def _proposal_rows(site: Site, idents: Iterable[str]) -> dict[str, tuple]:
    """What an actor page shows of these proposals (render.View.stances_of and its order)."""
    order = {a.slug: i for i, a in enumerate(site.articles)}
    return {pid: (p.title, p.status, p.proposed_by, max((order.get(s, -1) for s in p.articles), default=-1))
            for pid in idents if (p := site.proposals.get(pid)) is not None}


def _stances(site: Site, idents: Iterable[str]) -> dict[str, StanceHistory]:
    return {f"{pid}:{h.actor}": h for pid in idents if pid in site.proposals for h in site.proposals[pid].stances}


def _titles(site: Site, idents: Iterable[str]) -> dict[str, str]:
    return {pid: site.proposals[pid].title for pid in idents if pid in site.proposals}


def _stance_tables(site: Site, idents: Iterable[str]) -> dict[str, tuple]:
    """What briefings' stance tables are made from (render.View.stance_table)."""
    return {pid: (p.stances, p.articles) for pid in idents if (p := site.proposals.get(pid)) is not None}


def _tag_counts(site: Site) -> dict[str, int]:
    return {tag: len(slugs) for tag, slugs in site.tags.items()}


def _diff(kind: str, old, new) -> set[str]:
    keys = set(old) | set(new)
    return {f"{kind}:{k}" for k in keys if old.get(k) is not new.get(k) and old.get(k) != new.get(k)}
