"""Which pages exist, where they go, and what each one depends on."""
from __future__ import annotations

from dataclasses import replace

import pytest
from factories import many_articles_site, story_site

from generator.plan import COMMON_DEPS, changed_deps, plan_site


def by_url(site, per_page=10):
    return {p.url: p for p in plan_site(site, per_page=per_page)}


def test_every_page_of_the_url_table_is_planned():
    plans = by_url(story_site())
    expected = {
        "": ("home", "home.html", "index.html"),
        "briefings/summit/": ("briefing", "briefing.html", "briefings/summit/index.html"),
        "briefings/rutte-in-kyiv/": ("briefing", "briefing.html", "briefings/rutte-in-kyiv/index.html"),
        "actors/mark-rutte/": ("actor", "actor.html", "actors/mark-rutte/index.html"),
        "proposals/security-guarantees/": ("proposal", "proposal.html",
                                           "proposals/security-guarantees/index.html"),
        "questions/troop-contributors/": ("question", "question.html",
                                          "questions/troop-contributors/index.html"),
        "actors/": ("actors", "actors.html", "actors/index.html"),
        "proposals/": ("proposals", "proposals.html", "proposals/index.html"),
        "questions/": ("questions", "questions.html", "questions/index.html"),
        "timeline/": ("timeline", "timeline.html", "timeline/index.html"),
        "tags/": ("tags", "tags.html", "tags/index.html"),
        "tags/nato/": ("tag", "tag.html", "tags/nato/index.html"),
        "about/": ("page", "page.html", "about/index.html"),
        "404.html": ("404", "404.html", "404.html"),
    }
    for url, (kind, template, output) in expected.items():
        plan = plans[url]
        assert (plan.kind, plan.template, plan.output) == (kind, template, output), url
    assert len(plans) == len(plan_site(story_site(), per_page=10)), "two pages share a URL"


def test_home_is_paginated_newest_first():
    site = many_articles_site(25)
    homes = [p for p in plan_site(site, per_page=10) if p.kind == "home"]
    assert [p.url for p in homes] == ["", "page/2/", "page/3/"]
    assert [p.output for p in homes] == ["index.html", "page/2/index.html", "page/3/index.html"]
    assert [(p.number, p.count) for p in homes] == [(1, 3), (2, 3), (3, 3)]
    assert homes[0].items[0] == "note-024" and homes[2].items == ("note-004", "note-003", "note-002",
                                                                 "note-001", "note-000")
    assert sum(len(p.items) for p in homes) == 25


def test_a_site_without_articles_still_has_a_home():
    homes = [p for p in plan_site(many_articles_site(0), per_page=10) if p.kind == "home"]
    assert [(p.url, p.items, p.count) for p in homes] == [("", (), 1)]


def test_per_page_must_be_positive():
    with pytest.raises(ValueError):
        plan_site(story_site(), per_page=0)


def test_every_page_depends_on_the_settings_and_assets():
    for plan in plan_site(story_site(), per_page=10):
        assert {"site", "pages", "assets"} <= plan.deps, plan.url


def test_briefing_depends_on_all_it_shows():
    deps = by_url(story_site())["briefings/rutte-in-kyiv/"].deps
    # itself, and the neighbours as the prev/next links show them
    assert {"article:rutte-in-kyiv", "article-row:summit", "article-row:answer",
            "actor:mark-rutte", "actor:sergei-lavrov", "actor:nato", "actor:volodymyr-zelensky",
            # a proposal's title now, and what its stance table is made from
            "proposal-title:security-guarantees", "proposal-stances:security-guarantees"} <= deps
    assert "articles" not in deps, "a new article elsewhere must not re-render every briefing"


def test_briefing_depends_on_the_targets_of_its_references():
    # the body says [[security-guarantees]]: the link shows the proposal's title
    site = story_site()
    deps = by_url(site)["briefings/rutte-in-kyiv/"].deps
    assert "proposal:security-guarantees" in deps
    assert "actor:nato" in by_url(site)["about/"].deps


def test_actor_page_depends_on_its_proposals_questions_and_briefings():
    plans = by_url(story_site())
    # of a proposal, only what the page shows: its row (title, status, proposers, when last
    # reported) and this actor's stances, not the whole history
    assert {"actor:volodymyr-zelensky", "proposal-row:security-guarantees",
            "stance:security-guarantees:volodymyr-zelensky", "question:troop-contributors",
            "article-row:summit", "article-row:rutte-in-kyiv"} <= plans["actors/volodymyr-zelensky/"].deps
    assert "proposal:security-guarantees" not in plans["actors/volodymyr-zelensky/"].deps
    # affiliation and members are named on the pages
    assert "actor:nato" in plans["actors/mark-rutte/"].deps
    assert "actor:mark-rutte" in plans["actors/nato/"].deps


def test_proposal_and_question_pages_depend_on_their_actors_and_briefings():
    plans = by_url(story_site())
    assert {"proposal:security-guarantees", "actor:mark-rutte", "actor:sergei-lavrov",
            "actor:volodymyr-zelensky", "article-row:summit", "article-row:rutte-in-kyiv",
            "article-row:answer"} <= plans["proposals/security-guarantees/"].deps
    assert {"question:troop-contributors", "actor:volodymyr-zelensky", "article-row:summit",
            "article-row:answer"} <= plans["questions/troop-contributors/"].deps


def test_lists_depend_on_what_they_list():
    plans = by_url(story_site())
    home = plans[""].deps
    # the newest briefing's bottom line, then the others as rows
    assert {"articles", "events", "article:answer", "article-row:rutte-in-kyiv", "article-row:summit",
            "proposal:security-guarantees", "question:troop-contributors"} <= home
    assert {f"actor:{a}" for a in ("nato", "mark-rutte", "sergei-lavrov", "volodymyr-zelensky")} \
        <= plans["actors/"].deps
    assert "proposal:security-guarantees" in plans["proposals/"].deps
    assert "question:troop-contributors" in plans["questions/"].deps
    assert {"events", "actor:mark-rutte"} <= plans["timeline/"].deps
    assert "tags" in plans["tags/"].deps
    assert {"article-row:rutte-in-kyiv", "article-row:answer"} <= plans["tags/nato/"].deps
    assert "page:about" in plans["about/"].deps


def test_tag_pages_are_paginated_newest_first():
    plans = [p for p in plan_site(story_site(), per_page=1) if p.kind == "tag" and p.key == "nato"]
    assert [(p.url, p.output, p.number, p.count) for p in plans] == [
        ("tags/nato/", "tags/nato/index.html", 1, 2), ("tags/nato/page/2/", "tags/nato/page/2/index.html", 2, 2)]
    assert [p.items for p in plans] == [("answer",), ("rutte-in-kyiv",)]
    # each page depends on the rows it lists; which briefings those are is in the plan itself
    assert "article-row:answer" in plans[0].deps and "article-row:answer" not in plans[1].deps


def test_later_home_pages_depend_only_on_their_articles():
    plans = by_url(many_articles_site(25), per_page=10)
    deps = plans["page/2/"].deps
    assert "article-row:note-014" in deps and "article-row:note-024" not in deps
    assert not any(key.startswith("article:") for key in deps)


def test_a_site_with_its_own_templates_gets_whole_entity_keys():
    """Templates other than the theme's may show any part of an article or a proposal."""
    fine = by_url(story_site())
    coarse = {p.url: p for p in plan_site(story_site(), per_page=10, fine=False)}
    assert fine.keys() == coarse.keys()
    for url, plan in coarse.items():
        assert not any(k.split(":")[0] in ("article-row", "proposal-row", "stance", "proposal-title",
                                           "proposal-stances") for k in plan.deps), url
    assert {"article:summit", "proposal:security-guarantees"} <= coarse["actors/volodymyr-zelensky/"].deps
    assert "proposal:security-guarantees" in coarse["briefings/rutte-in-kyiv/"].deps


def test_plan_is_deterministic():
    assert plan_site(story_site(), per_page=2) == plan_site(story_site(), per_page=2)


def test_changed_deps_names_what_an_edit_touched():
    old = story_site()
    assert changed_deps(old, story_site()) == frozenset()

    renamed = story_site(title="A new headline")
    changed = changed_deps(old, renamed)
    assert "article:rutte-in-kyiv" in changed and "article:summit" not in changed
    assert "site" not in changed and "articles" not in changed
    pages = [p.url for p in plan_site(renamed, per_page=10) if p.deps & changed]
    assert "briefings/rutte-in-kyiv/" in pages and "" in pages and "briefings/summit/" in pages  # next
    assert "proposals/security-guarantees/" in pages and "actors/sergei-lavrov/" in pages
    assert "questions/troop-contributors/" not in pages


def test_changed_deps_sees_settings_order_and_actor_indexes():
    old = story_site()
    assert "site" in changed_deps(old, replace(old, config=replace(old.config, title="Other")))
    fewer = replace(old, articles=old.articles[:2])
    assert "articles" in changed_deps(old, fewer)
    new_role = replace(old, actors={**old.actors, "nato": replace(old.actors["nato"], role="Alliance")})
    assert changed_deps(old, new_role) == frozenset({"actor:nato"})
    assert "actor:mark-rutte" in changed_deps(old, replace(old, actor_quotes={}))


def test_changed_deps_without_a_previous_model_is_everything():
    site = story_site()
    every = changed_deps(None, site)
    for plan in plan_site(site, per_page=10):
        assert plan.deps & every, plan.url


def test_plans_without_deps_are_the_same_pages_and_leave_the_memos_alone():
    """plan_site(deps=False) (a first CLI build's: the state's writer plans the dependencies)."""
    site = story_site()
    full = plan_site(site, per_page=1)
    bare = plan_site(site, per_page=1, deps=False)
    assert [replace(p, deps=frozenset()) for p in bare] == [replace(p, deps=frozenset()) for p in full]
    assert {p.kind for p in bare if p.deps == COMMON_DEPS} >= {"briefing", "actor", "proposal", "question"}
    assert all(p.deps == COMMON_DEPS for p in bare if p.kind in ("briefing", "actor", "proposal", "question"))
    assert [p for p in bare if p.kind not in ("briefing", "actor", "proposal", "question")] == \
        [p for p in full if p.kind not in ("briefing", "actor", "proposal", "question")]
    # the memos of the last plans (plan._briefing_plans, _entity_plans) still hold plans with deps
    assert plan_site(site, per_page=1) == full
    assert all(p.deps != COMMON_DEPS for p in full if p.kind in ("briefing", "actor", "proposal", "question"))
