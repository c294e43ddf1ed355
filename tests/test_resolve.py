"""resolve: the story followed over time (FORMAT.md, "How a story is followed over time")."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from generator.errors import ERROR, Diagnostic
from generator.load import kind_of, load_site
from generator.model import ProposalStatusChange, Site, SiteConfig, StanceChange
from generator.parse import parse_document
from generator.quotes import quote_anchor
from generator.resolve import resolve

HISTORY = Path(__file__).parent / "sites" / "history"


def resolve_files(files: dict[str, str], *, drafts: bool = True, timezone: str = "UTC",
                  allow_problems: bool = False) -> tuple[Site, list[Diagnostic]]:
    """Parse and resolve an in-memory site; by default it must have no problems at all."""
    documents = [parse_document(kind_of(path), path, text.encode("utf-8")) for path, text in files.items()]
    site, problems = resolve(SiteConfig(title="T", timezone=timezone), documents, drafts=drafts)
    problems = [p for d in documents for p in d.diagnostics] + problems
    if not allow_problems:
        assert [p.format() for p in problems] == []
    return site, problems


def article(name: str, front: str, body: str = "Text.") -> tuple[str, str]:
    """('content/articles/<name>.md', text); the date comes from the name unless `front` sets one."""
    date = "" if re.search(r"^date:", front, re.MULTILINE) else f"date: {name[:10]}\n"
    return f"content/articles/{name}.md", f"---\ntitle: {name}\n{date}{front.strip()}\n---\n{body}\n"


def site_of(*articles: tuple[str, str], actors: dict[str, str] | None = None, **options):
    files = dict(articles)
    for ident, text in (actors or {}).items():
        files[f"content/actors/{ident}.yaml"] = text
    return resolve_files(files, **options)[0]


REGISTRY = {"ada-north": "name: Ada North\nrole: Envoy\naliases: [North]\n",
            "ben-south": "name: Ben South\n", "cal-east": "name: Cal East\n"}


# --------------------------------------------------------------------------- order

def test_story_order_is_date_then_slug() -> None:
    site = site_of(
        article("2025-01-02-b", ""),
        article("2025-01-01-z", ""),
        article("2025-01-02-a", ""),
        article("x-late-morning", "date: 2025-01-02T10:00:00"),
        article("2025-01-01-a", "slug: y-by-slug"),
    )
    assert [a.slug for a in site.articles] == ["y-by-slug", "z", "a", "b", "x-late-morning"]
    assert [(a.previous, a.next) for a in site.articles] == [
        ("", "z"), ("y-by-slug", "a"), ("z", "b"), ("a", "x-late-morning"), ("b", "")]
    assert site.article("b").slug == "b"


def test_input_order_does_not_matter() -> None:
    files = [article(f"2025-01-0{d}-n{d}", "") for d in (3, 1, 2)]
    assert [a.slug for a in site_of(*files).articles] == [a.slug for a in site_of(*reversed(files)).articles]


def test_dates_are_midnight_in_the_site_timezone_and_datetimes_keep_their_zone() -> None:
    site = site_of(article("2025-01-01-plain", ""),
                   article("2025-01-01-noon", "date: 2025-01-01T12:00:00"),
                   article("2025-01-01-aware", "date: 2024-12-31T23:30:00-05:00"),
                   timezone="Europe/Kyiv")
    kyiv = ZoneInfo("Europe/Kyiv")
    plain, noon, aware = (site.article(s).date for s in ("plain", "noon", "aware"))
    assert plain.at == dt.datetime(2025, 1, 1, tzinfo=kyiv) and not plain.has_time
    assert plain.iso() == "2025-01-01"
    assert noon.at == dt.datetime(2025, 1, 1, 12, tzinfo=kyiv) and noon.has_time
    assert aware.at.utcoffset() == dt.timedelta(hours=-5)
    # 2024-12-31 23:30 -05:00 is 06:30 in Kyiv on 1 January: after midnight, before noon
    assert [a.slug for a in site.articles] == ["plain", "aware", "noon"]


def test_slug_defaults_to_the_file_stem_without_its_date() -> None:
    site = site_of(article("2025-01-01-rutte-in-kyiv", ""), article("notes", "date: 2025-01-02"),
                   article("2025-01-03_underscore", ""))
    assert [a.slug for a in site.articles] == ["rutte-in-kyiv", "notes", "underscore"]


def test_a_file_name_that_is_no_slug_or_id_is_answered_with_one() -> None:
    files = dict([article("2025-01-01-Зустріч у Женеві", ""), ("content/actors/Mark Rutte.yaml", "name: Mark Rutte\n")])
    _, problems = resolve_files(files, allow_problems=True)
    assert sorted(f"{p.message} ({p.hint})" for p in problems) == [
        "invalid slug 'Зустріч у Женеві' (rename the file or set a slug; use lowercase letters, digits and "
        "single hyphens, like 'zustrich-u-zhenevi')",
        "the file name 'Mark Rutte' is not a valid actor id (rename the file: use lowercase letters, digits "
        "and single hyphens, like 'mark-rutte')",
    ]


# --------------------------------------------------------------------------- proposals

def test_proposal_texts_latest_given_wins_and_status_history() -> None:
    site = site_of(
        article("2025-01-01-one", """
proposals:
  - id: pact
    title: A pact
    summary: First summary.
"""),
        article("2025-01-02-two", """
proposals:
  - id: pact
    status: under-negotiation
    summary: Second summary.
"""),
        article("2025-01-03-three", """
proposals:
  - id: pact
    title: The pact
"""),
        article("2025-01-04-four", """
proposals:
  - id: pact
    status: under-negotiation
"""),
        article("2025-01-05-five", """
proposals:
  - id: pact
    status: agreed
"""),
    )
    pact = site.proposals["pact"]
    assert (pact.title, pact.summary, pact.status) == ("The pact", "Second summary.", "agreed")
    assert [(h.article, h.old, h.new) for h in pact.status_history] == [
        ("one", "", "proposed"), ("two", "proposed", "under-negotiation"), ("five", "under-negotiation", "agreed")]
    assert pact.status_history[-1].date.iso() == "2025-01-05"
    assert pact.articles == ("one", "two", "three", "four", "five")
    # each update holds the values in force after its article
    assert [(u.title, u.status, u.summary) for u in pact.updates] == [
        ("A pact", "proposed", "First summary."),
        ("A pact", "under-negotiation", "Second summary."),
        ("The pact", "under-negotiation", "Second summary."),
        ("The pact", "under-negotiation", "Second summary."),
        ("The pact", "agreed", "Second summary."),
    ]
    assert site.article("three").proposals[0].title == "The pact"


def test_proposed_by_and_raised_by_are_unions_in_order_of_first_appearance() -> None:
    site = site_of(
        article("2025-01-01-one", """
actors: [ben-south, ada-north]
proposals:
  - id: pact
    title: Pact
    proposed_by: [ben-south, ada-north]
questions:
  - id: who
    question: Who?
    raised_by: ben-south
"""),
        article("2025-01-02-two", """
proposals:
  - id: pact
    proposed_by: [cal-east, ben-south]
questions:
  - id: who
    raised_by: [ada-north, ben-south, cal-east]
"""),
        actors=REGISTRY,
    )
    assert site.proposals["pact"].proposed_by == ("ben-south", "ada-north", "cal-east")
    assert site.questions["who"].raised_by == ("ben-south", "ada-north", "cal-east")
    assert site.article("one").proposals[0].proposed_by == ("ben-south", "ada-north")
    assert site.actor_questions["cal-east"] == ("who",)


def test_stance_history_per_actor() -> None:
    site = site_of(
        article("2025-01-01-one", """
proposals:
  - id: pact
    title: Pact
    positions:
      - actor: ben-south
        stance: opposes
      - actor: ada-north
        stance: supports
"""),
        article("2025-01-02-two", """
proposals:
  - id: pact
    positions:
      - actor: ben-south
        stance: conditional
        condition: A minimum flow.
        note: Softer.
"""),
        article("2025-01-03-three", """
proposals:
  - id: pact
    positions:
      - actor: ben-south
        stance: conditional
      - actor: cal-east
        stance: undecided
"""),
        actors=REGISTRY,
    )
    stances = {s.actor: s for s in site.proposals["pact"].stances}
    assert list(stances) == ["ben-south", "ada-north", "cal-east"]
    ben = stances["ben-south"]
    assert [(p.stance, p.article) for p in ben.positions] == [
        ("opposes", "one"), ("conditional", "two"), ("conditional", "three")]
    assert ben.current.stance == "conditional" and ben.current.article == "three"
    assert ben.positions[1].condition == "A minimum flow." and ben.positions[1].note == "Softer."
    assert stances["ada-north"].current.stance == "supports"
    assert [p.actor for p in site.article("three").proposals[0].positions] == ["ben-south", "cal-east"]


# --------------------------------------------------------------------------- questions

def test_question_answered_then_reopened_then_answered_again() -> None:
    site = site_of(
        article("2025-01-01-one", """
questions:
  - id: who
    question: Who will pay?
"""),
        article("2025-01-02-two", """
questions:
  - id: who
    status: answered
    answer: The fund.
    confidence: moderate
"""),
        article("2025-01-03-three", """
questions:
  - id: who
    status: answered
    answer: The fund, mostly.
"""),
        article("2025-01-04-four", """
questions:
  - id: who
    status: open
"""),
    )
    who = site.questions["who"]
    assert (who.status, who.answered_in, who.answer, who.confidence) == ("open", "", "", "")
    assert who.raised_in == "one"
    assert [(h.article, h.old, h.new) for h in who.status_history] == [
        ("one", "", "open"), ("two", "open", "answered"), ("four", "answered", "open")]
    two, three, four = (site.article(s).questions[0] for s in ("two", "three", "four"))
    assert (two.status, two.answer, two.confidence) == ("answered", "The fund.", "moderate")
    assert (three.status, three.answer) == ("answered", "The fund, mostly.")  # the latest answer wins
    assert (four.status, four.answer, four.confidence) == ("open", "", "")

    again = site_of(
        article("2025-01-01-one", "questions:\n  - id: who\n    question: Who?\n    status: answered\n    answer: A."),
        article("2025-01-02-two", "questions:\n  - id: who\n    status: open"),
        article("2025-01-03-three", "questions:\n  - id: who\n    status: answered\n    answer: B."),
    ).questions["who"]
    assert (again.status, again.answered_in, again.answer) == ("answered", "three", "B.")
    assert [h.new for h in again.status_history] == ["answered", "open", "answered"]


def test_first_answer_is_the_one_that_counts() -> None:
    who = site_of(
        article("2025-01-01-one", "questions:\n  - id: who\n    question: Who?"),
        article("2025-01-02-two", "questions:\n  - id: who\n    status: answered\n    answer: A."),
        article("2025-01-03-three", "questions:\n  - id: who\n    status: answered\n    answer: A, again."),
    ).questions["who"]
    assert who.answered_in == "two"
    assert who.answer == "A, again."


# --------------------------------------------------------------------------- actors

def test_registry_is_the_base_and_inline_definitions_refine_it() -> None:
    site = site_of(
        article("2025-01-01-one", "actors: [ada-north, ben-south]"),
        article("2025-01-02-two", """
actors:
  - id: ada-north
    role: Foreign Minister
    affiliation: arland
    aliases: [Minister North, North]
  - id: arland
    name: Arland
    kind: state
"""),
        article("2025-01-03-three", "actors: [ada-north]"),
        article("2025-01-04-four", """
actors:
  - id: ada-north
    name: Ada North
    role: Prime Minister
    aliases: [PM North]
"""),
        actors=REGISTRY,
    )
    ada = site.actors["ada-north"]
    assert (ada.name, ada.role, ada.affiliation) == ("Ada North", "Prime Minister", "arland")
    assert ada.aliases == ("North", "Minister North", "PM North")
    assert ada.path == "content/actors/ada-north.yaml"
    snapshots = {a.slug: {x.id: x for x in a.actors}["ada-north"] for a in site.articles}
    assert [(s, snapshots[s].role, snapshots[s].affiliation) for s in ("one", "two", "three", "four")] == [
        ("one", "Envoy", ""), ("two", "Foreign Minister", "arland"),
        ("three", "Foreign Minister", "arland"), ("four", "Prime Minister", "arland")]
    assert snapshots["one"].aliases == ("North",)
    assert snapshots["three"].aliases == ("North", "Minister North")
    assert site.members == {"arland": ("ada-north",)}
    assert [a.id for a in site.article("one").actors] == ["ada-north", "ben-south"]
    assert site.actors["arland"].kind == "state"


def test_an_actor_listed_before_its_inline_definition_shows_as_first_defined() -> None:
    site = site_of(
        article("2025-01-01-one", "actors: [zed, ada-north]"),
        article("2025-01-02-two", "actors:\n  - id: zed\n    name: Zed\n    role: First role"),
        article("2025-01-03-three", "actors:\n  - id: zed\n    role: Second role"),
        actors=REGISTRY,
    )
    assert [(a.id, a.role) for a in site.article("one").actors] == [("zed", "First role"), ("ada-north", "Envoy")]
    assert site.actors["zed"].role == "Second role"
    assert site.actor_articles["zed"] == ("one", "two", "three")
    assert site.article("one").changes.new_actors == ("zed", "ada-north")


def test_changes_of_each_article() -> None:
    site = site_of(
        article("2025-01-01-one", """
actors: [ada-north, ben-south]
proposals:
  - id: pact
    title: Pact
    positions:
      - actor: ada-north
        stance: supports
questions:
  - id: who
    question: Who?
"""),
        article("2025-01-02-two", """
actors: [ada-north, cal-east]
proposals:
  - id: pact
    status: agreed
    positions:
      - actor: ada-north
        stance: supports
      - actor: ben-south
        stance: opposes
  - id: fund
    title: Fund
questions:
  - id: who
    status: answered
    answer: Them.
"""),
        article("2025-01-03-three", """
actors: [ada-north]
proposals:
  - id: pact
    status: agreed
questions:
  - id: who
    status: open
  - id: when
    question: When?
"""),
        article("2025-01-04-four", "actors: [ada-north]"),
        actors=REGISTRY,
    )
    one, two, three, four = (site.article(s).changes for s in ("one", "two", "three", "four"))
    assert one.new_actors == ("ada-north", "ben-south")
    assert one.new_proposals == ("pact",)
    assert one.status_changes == ()
    assert one.stance_changes == (StanceChange("pact", "ada-north", "", "supports"),)
    assert one.questions_opened == ("who",)
    assert two.new_actors == ("cal-east",)
    assert two.new_proposals == ("fund",)
    assert two.status_changes == (ProposalStatusChange("pact", "proposed", "agreed"),)
    assert two.stance_changes == (StanceChange("pact", "ben-south", "", "opposes"),)
    assert two.questions_answered == ("who",)
    assert three.new_actors == () and three.status_changes == () and three.stance_changes == ()
    assert three.questions_reopened == ("who",)
    assert three.questions_opened == ("when",)
    assert not four and bool(one)


# --------------------------------------------------------------------------- drafts

DRAFT_STORY = (
    article("2025-01-01-one", "actors: [ada-north]\nproposals:\n  - id: pact\n    title: Pact"),
    article("2025-01-02-two", """
draft: true
tags: [secret]
actors:
  - id: newcomer
    name: Newcomer
proposals:
  - id: pact
    status: stalled
quotes:
  - actor: newcomer
    text: Text
events:
  - date: 2025-01-02
    title: Hidden
"""),
)


def test_drafts_excluded_with_drafts_false() -> None:
    site = site_of(*DRAFT_STORY, actors=REGISTRY, drafts=False)
    assert [a.slug for a in site.articles] == ["one"]
    assert "newcomer" not in site.actors
    assert site.proposals["pact"].status == "proposed"
    assert site.tags == {} and site.events == ()
    assert site.article("one").next == ""


def test_drafts_included_with_drafts_true() -> None:
    site = site_of(*DRAFT_STORY, actors=REGISTRY, drafts=True)
    assert [(a.slug, a.draft) for a in site.articles] == [("one", False), ("two", True)]
    assert site.proposals["pact"].status == "stalled"
    assert site.tags == {"secret": ("two",)}


def test_draft_pages_follow_the_same_rule() -> None:
    files = {"content/pages/about.md": "---\ntitle: About\n---\nA.\n",
             "content/pages/soon.md": "---\ntitle: Soon\ndraft: true\n---\nS.\n",
             "content/pages/method.md": "---\ntitle: Method\nslug: how\n---\nM.\n"}
    assert [p.slug for p in resolve_files(files, drafts=True)[0].pages] == ["about", "how", "soon"]
    assert [p.slug for p in resolve_files(files, drafts=False)[0].pages] == ["about", "how"]


# --------------------------------------------------------------------------- quotes and events

def test_quotes_verified_after_folding_with_anchors_from_their_text() -> None:
    site = site_of(
        article("2025-01-01-one", """
actors: [ada-north]
quotes:
  - actor: ada-north
    text: "It's too early - to tell"
  - actor: ada-north
    text: never said
    date: 2024-12-30
proposals:
  - id: pact
    title: Pact
    positions:
      - actor: ada-north
        stance: undecided
        quote: too early
""", body="“It’s too\u00a0early — to *tell*,” North said. It's too early - to tell, again."),
        actors=REGISTRY, allow_problems=True,
    )
    said, unsaid = site.article("one").quotes
    assert said.verified and not unsaid.verified
    assert said.anchor == quote_anchor("It's too early - to tell") == quote_anchor("“It’s too early — to tell”")
    assert said.article == "one" and said.date.iso() == "2025-01-01" and said.line == 6
    assert unsaid.date.iso() == "2024-12-30"
    position_quote = site.article("one").proposals[0].positions[0].quote
    assert position_quote.verified and position_quote.anchor == quote_anchor("too early")
    assert [q.text for q in site.actor_quotes["ada-north"]] == ["It's too early - to tell", "never said"]


def test_the_same_quote_in_two_articles_has_one_anchor() -> None:
    site = site_of(
        article("2025-01-01-one", "quotes:\n  - actor: ada-north\n    text: No meeting is planned",
                "No meeting is planned."),
        article("2025-01-02-two", "quotes:\n  - actor: ada-north\n    text: No meeting is planned",
                "Elsewhere. “No meeting is planned”, again."),
        actors=REGISTRY,
    )
    assert site.article("one").quotes[0].anchor == site.article("two").quotes[0].anchor
    assert [q.article for q in site.actor_quotes["ada-north"]] == ["two", "one"]  # newest first


def test_events_are_sorted_by_date_then_article() -> None:
    site = site_of(
        article("2025-01-05-one", """
events:
  - date: 2025-01-03
    title: Third
    actors: [ada-north]
  - date: 2025-01-01
    title: First
"""),
        article("2025-01-06-two", """
events:
  - date: 2025-01-02
    title: Second
    actors: [ada-north, ben-south]
"""),
        actors=REGISTRY,
    )
    assert [e.title for e in site.events] == ["First", "Second", "Third"]
    assert [(e.title, e.article) for e in site.actor_events["ada-north"]] == [("Second", "two"), ("Third", "one")]


# --------------------------------------------------------------------------- problems never stop the walk

def test_a_broken_article_is_still_followed() -> None:
    text = "---\ntitle: [broken]\ndate: soon\nactors: [nobody]\nproposals:\n  - id: pact\n    title: Pact\n---\n"
    site, problems = resolve_files({"content/articles/one.md": text}, allow_problems=True)
    assert [p.message for p in problems if p.severity == ERROR] == [
        "'title' must be text, not a list", "bad date 'soon'", "unknown actor 'nobody'"]
    assert site.proposals["pact"].articles == ("one",)


def test_every_problem_is_reported_at_once() -> None:
    _, problems = resolve_files(dict([
        article("2025-01-01-one", "actors: [nobody]\nquotes:\n  - actor: no-one\n    text: zzz"),
        article("2025-01-02-two",
                "proposals:\n  - id: p\n    positions:\n      - actor: none\n        stance: opposes"),
        ("content/actors/bad.yaml", "role: x\n"),
    ]), allow_problems=True)
    assert sorted((p.path, p.line) for p in problems) == [
        ("content/actors/bad.yaml", 1),
        ("content/articles/2025-01-01-one.md", 4),
        ("content/articles/2025-01-01-one.md", 6),
        ("content/articles/2025-01-01-one.md", 7),
        ("content/articles/2025-01-02-two.md", 5),
    ]


def test_an_unknown_reference_names_its_line_and_column() -> None:
    _, problems = resolve_files(dict([article("2025-01-01-one", "", "Line one.\n\nLine [[three]] and [[four]].")]),
                                allow_problems=True)
    assert [(p.line, p.column, p.message) for p in problems] == [
        (8, 6, "unknown reference [[three]]"), (8, 20, "unknown reference [[four]]")]


def test_reference_columns_in_list_items_and_block_quotes() -> None:
    _, problems = resolve_files(dict([article("2025-01-01-one", "", "- item [[nobody]]\n\n> quoted [[nobody-else]]")]),
                                allow_problems=True)
    # the front matter ends on line 5 (title, date, a blank line from the empty `front`), the body starts on 6
    assert [(p.line, p.column) for p in problems] == [(6, 8), (8, 10)]


def test_a_reference_in_a_code_span_is_only_text() -> None:
    resolve_files(dict([article("2025-01-01-one", "", "Write `[[some-id]]` to link an actor.")]))


# --------------------------------------------------------------------------- the history test site

@pytest.fixture(scope="module")
def history() -> Site:
    site, problems = load_site(HISTORY, drafts=False)
    assert problems == []
    return site


def test_history_order_and_draft(history) -> None:
    assert [(a.slug, a.date.iso()) for a in history.articles] == [
        ("accord-proposed", "2024-03-04"), ("talks-begin", "2024-03-11"),
        ("accord-agreed", "2024-03-18"), ("gauge-dispute", "2024-03-25")]
    assert history.article("talks-begin").updated.iso() == "2024-03-12"
    assert "lena-brask" not in history.actors
    assert "lena-brask" in load_site(HISTORY, drafts=True)[0].actors


def test_history_proposals(history) -> None:
    accord = history.proposals["verran-water-accord"]
    assert accord.status == "agreed"
    assert [(h.article, h.old, h.new) for h in accord.status_history] == [
        ("accord-proposed", "", "proposed"), ("talks-begin", "proposed", "under-negotiation"),
        ("accord-agreed", "under-negotiation", "agreed")]
    eld = {s.actor: s for s in accord.stances}["tomas-eld"]
    assert [p.stance for p in eld.positions] == ["opposes", "conditional", "supports", "supports"]
    assert eld.positions[1].condition and eld.positions[1].quote.verified
    station = history.proposals["flow-monitoring-station"]
    assert [h.new for h in station.status_history] == ["proposed", "stalled"]
    assert station.proposed_by == ("ines-halvorsen",)
    drafted = load_site(HISTORY, drafts=True)[0].proposals["verran-water-accord"]
    assert drafted.status == "stalled"


def test_history_question(history) -> None:
    flow = history.questions["dry-year-flow"]
    assert (flow.status, flow.answered_in, flow.raised_in) == ("open", "", "accord-proposed")
    assert flow.raised_by == ("tomas-eld", "ines-halvorsen")
    assert [h.new for h in flow.status_history] == ["open", "answered", "open"]
    answered = history.article("accord-agreed").questions[0]
    assert (answered.status, answered.confidence) == ("answered", "moderate")
    assert history.article("gauge-dispute").changes.questions_reopened == ("dry-year-flow",)


def test_history_actors(history) -> None:
    def role(slug: str) -> str:
        return {a.id: a for a in history.article(slug).actors}["mira-kovac"].role

    assert role("accord-proposed") == role("talks-begin") == "Foreign Minister of Arland"
    assert role("accord-agreed") == role("gauge-dispute") == "Prime Minister of Arland"
    assert history.actors["mira-kovac"].role == "Prime Minister of Arland"
    assert history.article("talks-begin").changes.new_actors == ("basin-commission", "ines-halvorsen")
    assert history.actors["ines-halvorsen"].path.endswith("2024-03-11-talks-begin.md")
    assert history.members["basin-commission"] == ("ines-halvorsen",)


def test_history_quotes_all_verified(history) -> None:
    quotes = [q for a in history.articles for q in a.quotes]
    quotes += [p.quote for a in history.articles for u in a.proposals for p in u.positions if p.quote]
    assert len(quotes) == 13
    assert all(q.verified for q in quotes)


def test_history_indexes(history) -> None:
    assert history.tags == {"diplomacy": ("talks-begin", "accord-agreed"),
                            "verran-basin": ("accord-proposed", "talks-begin", "accord-agreed", "gauge-dispute"),
                            "water": ("accord-proposed", "talks-begin", "accord-agreed", "gauge-dispute")}
    assert [p.slug for p in history.pages] == ["method"]
    assert [e.date.iso() for e in history.events] == sorted(e.date.iso() for e in history.events)
    assert all(e.date.at < history.article(e.article).date.at + dt.timedelta(days=1) for e in history.events)
