"""The default theme renders the model: sections, links, escaping, strictness, validity."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from factories import story_site, when
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from generator.assets import build_assets, load_assets
from generator.plan import plan_site
from generator.render import bind_site, format_date, iso_date, label, make_environment, render_page, render_site
from generator.urls import Urls


@pytest.fixture(scope="module")
def env():
    return make_environment(None)


@pytest.fixture(scope="module")
def assets():
    return load_assets(None)


def render(site, url, env, assets, base="/"):
    plan = next(p for p in plan_site(site, per_page=site.config.per_page) if p.url == url)
    return render_page(env, site, plan, Urls(base), assets).decode("utf-8")


def section(page: str, heading: str) -> str:
    """The HTML of the <section> whose <h2> is `heading`."""
    start = page.index(f"<h2>{heading}</h2>")
    return page[start:page.index("</section>", start)]


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.hrefs.append(attrs[name])
        if attrs.get("id"):
            self.ids.append(attrs["id"])


def links(page: str) -> Links:
    parser = Links()
    parser.feed(page)
    return parser


# --------------------------------------------------------------------------- briefing

def test_briefing_shows_its_sections_in_order(env, assets):
    page = render(story_site(), "briefings/rutte-in-kyiv/", env, assets)
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == ["The bottom line", "Who’s who", "On the table", "Key quotes", "Timeline",
                        "What changed", "Full text"]
    assert "<h1>Allies weigh security guarantees</h1>" in page
    assert '<time datetime="2025-08-22">Aug 22, 2025</time>' in page
    assert '<a class="source" href="https://kyivindependent.com/">Kyiv Independent</a>' in page
    assert "NATO&#39;s chief met Zelensky in Kyiv." in section(page, "The bottom line")
    assert "The guarantees decide the peace." in section(page, "The bottom line")


def test_whos_who_shows_each_actor_as_of_the_briefing(env, assets):
    site = story_site()
    then = section(render(site, "briefings/summit/", env, assets), "Who’s who")
    assert "Prime Minister of the Netherlands" in then and "NATO Secretary General" not in then
    now = section(render(site, "briefings/rutte-in-kyiv/", env, assets), "Who’s who")
    assert 'href="/actors/mark-rutte/">Mark Rutte</a>' in now
    assert 'NATO Secretary General, <a href="/actors/nato/">NATO</a>' in now


def test_stance_table_shows_the_attributed_stances(env, assets):
    site = story_site()
    table = section(render(site, "briefings/rutte-in-kyiv/", env, assets), "On the table")
    assert '<span class="badge status status-under-negotiation">Under negotiation</span>' in table
    rows = re.findall(r"<tr.*?</tr>", table, re.S)[1:]
    assert len(rows) == 3
    # this briefing's stances first, then the one carried over from the summit
    assert "Sergei Lavrov" in rows[0] and ">Opposes</span>" in rows[0] and "Not without Russia." in rows[0]
    assert "Mark Rutte" in rows[1] and ">Conditional</span>" in rows[1]
    assert "US commitments to deter Russia" in rows[1]
    assert "Volodymyr Zelensky" in rows[2] and ">Supports</span>" in rows[2] and 'class="earlier"' in rows[2]
    assert 'since <a href="/briefings/summit/">' in rows[2]


def test_stance_table_is_as_of_its_briefing(env, assets):
    table = section(render(story_site(), "briefings/summit/", env, assets), "On the table")
    assert "Sergei Lavrov" not in table and ">Proposed</span>" in table


def test_evidence_and_key_quotes_link_to_their_sentence(env, assets):
    site = story_site()
    page = render(site, "briefings/rutte-in-kyiv/", env, assets)
    lavrov = site.article("rutte-in-kyiv").quotes[0]
    assert lavrov.anchor.startswith("q-")
    table = section(page, "On the table")
    assert f'<a href="#{lavrov.anchor}">No meeting is planned</a>' in table
    carried = site.article("summit").quotes[0]
    assert f'href="/briefings/summit/#{carried.anchor}"' in table
    quotes = section(page, "Key quotes")
    for q in site.article("rutte-in-kyiv").quotes:
        assert f'href="#{q.anchor}">in context</a>' in quotes
    # every in-page link lands on an element of the page
    found = links(page)
    for href in found.hrefs:
        if href.startswith("#"):
            assert href[1:] in found.ids, href


def test_unverified_quote_is_not_linked(env, assets):
    from dataclasses import replace
    site = story_site()
    a = site.article("rutte-in-kyiv")
    quotes = (replace(a.quotes[0], verified=False),) + a.quotes[1:]
    article = replace(a, quotes=quotes)
    site = replace(site, articles=tuple(article if x.slug == a.slug else x for x in site.articles),
                   by_slug={**site.by_slug, a.slug: article})
    page = section(render(site, "briefings/rutte-in-kyiv/", env, assets), "Key quotes")
    assert f"#{quotes[0].anchor}" not in page and "not found in the text" in page


def test_what_changed_lists_status_and_stance_changes(env, assets):
    site = story_site()
    changed = section(render(site, "briefings/rutte-in-kyiv/", env, assets), "What changed")
    assert re.search(r"Status</span> <a href=\"/proposals/security-guarantees/\">Security guarantees for Ukraine"
                     r"</a>: <span[^>]*>Proposed</span> → <span[^>]*>Under negotiation</span>", changed)
    assert re.search(r"Stance</span> <a[^>]*>Sergei Lavrov</a> on <a[^>]*>[^<]*</a>: <span[^>]*>Opposes</span>",
                     changed)
    assert re.search(r"New actors</span> <a[^>]*>Sergei Lavrov</a>, <a href=\"/actors/nato/\">NATO</a>", changed)
    later = section(render(site, "briefings/answer/", env, assets), "What changed")
    assert re.search(r">Opposes</span> → <span[^>]*>Undecided</span>", later)
    assert "Answered</span> <a href=\"/questions/troop-contributors/\">" in later


def test_the_first_briefing_folds_its_changes_away(env, assets):
    changed = section(render(story_site(), "briefings/summit/", env, assets), "What changed")
    assert "<details" in changed and "This is the first briefing" in changed
    assert "New proposal</span> <a href=\"/proposals/security-guarantees/\">" in changed


def test_questions_and_timeline_of_a_briefing(env, assets):
    site = story_site()
    first = render(site, "briefings/summit/", env, assets)
    assert "Who will contribute troops?" in section(first, "Open questions")
    assert '<time datetime="2025-08-17">Aug 17, 2025</time>' in section(first, "Timeline")
    last = section(render(site, "briefings/answer/", env, assets), "Open questions")
    assert "Britain and France." in last and "Moderate confidence" in last


def test_previous_and_next_briefings_are_linked(env, assets):
    page = render(story_site(), "briefings/rutte-in-kyiv/", env, assets)
    assert '<a rel="prev" href="/briefings/summit/">Leaders meet in Washington</a>' in page
    assert '<a rel="next" href="/briefings/answer/">Britain and France to send troops</a>' in page


def test_full_text_links_actors_and_marks_quotes(env, assets):
    site = story_site()
    body = section(render(site, "briefings/rutte-in-kyiv/", env, assets), "Full text")
    anchor = site.article("rutte-in-kyiv").quotes[0].anchor
    assert f'id="{anchor}"' in body and "quote-mark" in body
    assert 'href="/actors/mark-rutte/"' in body


def test_draft_banner_only_on_drafts(env, assets):
    site = story_site(draft_last=True)
    assert "draft-banner" in render(site, "briefings/answer/", env, assets)
    assert '<meta name="robots" content="noindex">' in render(site, "briefings/answer/", env, assets)
    assert "draft-banner" not in render(site, "briefings/summit/", env, assets)


# --------------------------------------------------------------------------- entity pages

def test_actor_page(env, assets):
    site = story_site()
    page = render(site, "actors/sergei-lavrov/", env, assets)
    assert "<h1>Sergei Lavrov</h1>" in page and "Foreign Minister of Russia" in page
    stances = section(page, "Stances")
    assert re.search(r"Stance now.*Undecided", stances, re.S)
    assert stances.index(">Opposes<") < stances.index(">Undecided<", stances.index(">Opposes<"))
    quote = site.article("rutte-in-kyiv").quotes[0]
    assert f'href="/briefings/rutte-in-kyiv/#{quote.anchor}"' in section(page, "Quotes")
    rutte = render(site, "actors/mark-rutte/", env, assets)
    assert "NATO Secretary General" in rutte and "Prime Minister of the Netherlands" not in rutte
    assert "(proposed it)" in rutte
    assert "Washington summit" in section(rutte, "Events")
    briefings = section(rutte, "Briefings")
    assert briefings.index("Allies weigh") < briefings.index("Leaders meet")      # newest first
    zelensky = render(site, "actors/volodymyr-zelensky/", env, assets)
    assert "Who will contribute troops?" in section(zelensky, "Questions raised")
    assert 'href="/actors/mark-rutte/"' in section(render(site, "actors/nato/", env, assets), "Members")


@pytest.mark.parametrize("code, shown", [("UA", "Ukraine"), ("RU", "Russia"), ("CD", "DR Congo"),
                                         ("KR", "South Korea"), ("UK", "United Kingdom"), ("XK", "Kosovo"),
                                         ("ZZ", "ZZ")])
def test_an_actor_page_names_the_country_of_its_code(env, assets, code, shown):
    # ISO 3166-1 names, newsroom forms where ISO's are inverted or formal, the codes written in
    # place of one (UK, EU, XK); an unknown code as written
    site = story_site()
    site = replace(site, actors={**site.actors, "sergei-lavrov": replace(site.actors["sergei-lavrov"], country=code)})
    assert f"<dt>Country</dt><dd>{shown}</dd>" in render(site, "actors/sergei-lavrov/", env, assets)


def test_actor_quotes_are_newest_first(env, assets):
    page = section(render(story_site(), "actors/mark-rutte/", env, assets), "Briefings")
    assert page  # the section exists even with one quote
    from dataclasses import replace
    site = story_site()
    q_old = replace(site.article("summit").quotes[0], actor="mark-rutte", text="Older words")
    q_new = site.article("rutte-in-kyiv").quotes[1]
    site = replace(site, actor_quotes={**site.actor_quotes, "mark-rutte": (q_new, q_old)})
    quotes = section(render(site, "actors/mark-rutte/", env, assets), "Quotes")
    assert quotes.index("too early") < quotes.index("Older words")


def test_proposal_page(env, assets):
    page = render(story_site(), "proposals/security-guarantees/", env, assets)
    assert "<h1>Security guarantees for Ukraine</h1>" in page
    assert "Status: <span class=\"badge status status-under-negotiation\">Under negotiation</span>" in page
    assert "A two-part security pact." in page
    assert 'Proposed by <a href="/actors/mark-rutte/">Mark Rutte</a>' in page
    matrix = section(page, "Where everyone stands")
    lavrov = re.search(r"<tr>\s*<th scope=\"row\"><a[^>]*>Sergei Lavrov</a>.*?</tr>", matrix, re.S).group(0)
    assert ">Undecided</span>" in lavrov and "<details>" in lavrov and "1 earlier stance" in lavrov
    assert ">Opposes</span>" in lavrov and "Not without Russia." in lavrov
    history = section(page, "Status history")
    rows = re.findall(r"<tr>.*?</tr>", history, re.S)[1:]
    assert len(rows) == 2 and ">Proposed</span> → <span" in rows[1] and "Allies weigh" in rows[1]
    assert "Leaders meet in Washington" in section(page, "Briefings")


def test_question_page(env, assets):
    page = render(story_site(), "questions/troop-contributors/", env, assets)
    assert "<h1>Who will contribute troops?</h1>" in page
    answer = section(page, "Answer")
    assert "Britain and France." in answer and ">Moderate</span>" in answer
    assert 'href="/briefings/answer/">Britain and France to send troops</a>' in answer
    raised = section(page, "Raised")
    assert "Volodymyr Zelensky" in raised and 'href="/briefings/summit/"' in raised
    history = section(page, "History")
    assert history.index(">Open</span>") < history.index(">Answered</span>")


# --------------------------------------------------------------------------- lists

def test_home_page(env, assets):
    page = render(story_site(), "", env, assets)
    lead = page[page.index('class="bottom-line lead"'):page.index('class="home-grid"')]
    assert "Britain and France to send troops" in lead          # the latest briefing first
    briefings = section(page, "Latest briefings")
    assert briefings.index("Britain and France") < briefings.index("Allies weigh") < briefings.index("Leaders")
    assert ">Under negotiation</span> <a href=\"/proposals/security-guarantees/\">" in section(page, "On the table")
    assert "No open questions." in section(page, "Open questions")
    assert "Washington summit" in section(page, "Recent events")


def test_home_pager(env, assets):
    site = story_site(per_page=1)
    first = render(site, "", env, assets)
    assert 'rel="next" href="/page/2/"' in first and 'rel="prev"' not in first
    second = render(site, "page/2/", env, assets)
    assert 'rel="prev" href="/"' in second and 'rel="next" href="/page/3/"' in second
    assert "Allies weigh" in second and "<h1>Briefings, page 2</h1>" in second
    assert "On the table" not in second


def test_tag_pager(env, assets):
    site = story_site(per_page=1)
    first = render(site, "tags/nato/", env, assets)
    assert 'rel="next" href="/tags/nato/page/2/"' in first and 'rel="prev"' not in first
    second = render(site, "tags/nato/page/2/", env, assets)
    assert 'rel="prev" href="/tags/nato/"' in second and 'rel="next"' not in second
    assert "#nato, page 2</h1>" in second and "<title>#nato, page 2 · " in second
    assert "Allies weigh security guarantees" in second and "Britain and France" not in second
    assert "Page 2 of 2" in second


def test_indexes(env, assets):
    site = story_site()
    actors = render(site, "actors/", env, assets)
    assert re.findall(r"<h2>(.*?)</h2>", actors) == ["People", "Organizations"]
    proposals = render(site, "proposals/", env, assets)
    assert "<h2>Under negotiation</h2>" in proposals and "1 in support · 1 conditional · 1 undecided" in proposals
    questions = render(site, "questions/", env, assets)
    assert "<h2>Answered</h2>" in questions
    timeline = render(site, "timeline/", env, assets)
    assert "<h2>August 2025</h2>" in timeline
    assert timeline.index("Washington summit") < timeline.index("arrives in Kyiv")
    tags = render(site, "tags/", env, assets)
    assert 'href="/tags/nato/">#nato</a> <span class="count">2 briefings' in tags
    tag = render(site, "tags/nato/", env, assets)
    assert tag.index("Britain and France") < tag.index("Allies weigh")
    assert "About" in render(site, "about/", env, assets)
    assert "Page not found" in render(site, "404.html", env, assets)


# --------------------------------------------------------------------------- site-wide

def test_every_link_works_under_a_base_path(env, assets):
    site = story_site(base_url="https://example.org/briefing/")
    files = render_site(site, env, Urls("/briefing/"), assets)
    outputs = set(files)
    for output, data in files.items():
        if not output.endswith(".html"):
            continue
        for href in links(data.decode()).hrefs:
            if href.startswith(("https://", "#")):
                continue
            assert href.startswith("/briefing/"), (output, href)
            target = href[len("/briefing/"):].split("#")[0]
            if target in ("feed.xml",) or target.endswith("/feed.xml"):
                continue  # written by the feeds stage
            assert (target + "index.html" if target.endswith("/") or not target else target) in outputs, \
                (output, href)


def test_canonical_and_structured_data(env, assets):
    import json
    site = story_site(base_url="https://example.org/briefing/")
    plan = next(p for p in plan_site(site, per_page=10) if p.url == "briefings/rutte-in-kyiv/")
    page = render_page(env, site, plan, Urls("/briefing/"), assets).decode()
    assert '<link rel="canonical" href="https://example.org/briefing/briefings/rutte-in-kyiv/">' in page
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    types = [node["@type"] for node in data["@graph"]]
    assert types[0] == "NewsArticle" and "Quotation" in types and "Event" in types


def test_output_is_deterministic(env, assets):
    first = render_site(story_site(), env, Urls("/"), assets)
    second = render_site(story_site(), make_environment(None), Urls("/"), load_assets(None))
    assert first == second
    assert any(name.startswith("static/style.") and name.endswith(".css") for name in first)


HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_text_renders_as_text(env, assets, evil):
    site = story_site(title=f"Title {evil}", rutte_name=f"Mark {evil}", lavrov_quote=f"Said {evil}")
    files = render_site(site, env, Urls("/"), assets)
    for output, data in files.items():
        if output.endswith(".html"):
            page = data.decode()
            assert "<script>alert" not in page, output
            assert "<img" not in page, output
            parser = Links()
            parser.feed(page)
            assert not [a for a in parser.attributes if a.startswith("on")], output
            assert parser.tags.count("script") <= 1, output          # only the JSON-LD one
    briefing = files["briefings/rutte-in-kyiv/index.html"].decode()
    assert str(escape(f"Title {evil}")) in briefing
    assert str(escape(f"Mark {evil}")) in briefing
    # inside JSON-LD, '<' is escaped so the script element cannot be closed early
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', briefing, re.S).group(1)
    assert "<" not in ld


# --------------------------------------------------------------------------- environment

def test_strict_undefined_catches_template_mistakes(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "404.html").write_text(
        '{% extends "base.html" %}{% block main %}{{ no_such_thing }}{% endblock %}')
    env = make_environment(tmp_path)
    site = story_site()
    plan = next(p for p in plan_site(site, per_page=10) if p.kind == "404")
    with pytest.raises(jinja2.UndefinedError):
        render_page(env, site, plan, Urls("/"), load_assets(None))


def test_template_calls_pass_what_jinja_passes():
    """Macros and plain functions are called directly (render._Context); the rest as Jinja does."""
    env = make_environment(None)

    @jinja2.pass_context
    def who(context, greeting):
        return f"{greeting}, {context['name']}"

    class Counter:
        @jinja2.pass_environment
        def __call__(self, environment, n):
            return f"{n} with {type(environment).__name__}"

    def stop():
        raise StopIteration

    env.globals.update(who=who, counter=Counter(), stop=stop, plain=lambda x, y=0: x + y, bound=" and ".join)
    template = env.from_string(
        "{% macro twice(x) %}{{ x }}{{ x }}{% endmacro %}"
        "{% for i in [1] %}{{ twice(i) }} {{ who('Hi') }} {{ plain(i, y=2) }}{% endfor %} "
        "{{ counter(3) }} {{ bound(['a', 'b']) }} [{{ stop() is undefined }}]")
    assert template.render(name="Ana") == "11 Hi, Ana 3 3 with _Environment a and b [True]"
    assert type(template.new_context()).call is not jinja2.runtime.Context.call


def test_the_markup_helpers_are_filters_too():
    """The theme calls the helpers as filters (Binding.filters); they give what the functions give."""
    env, site = make_environment(None), story_site()
    bind_site(env, site, Urls("/base/"), load_assets(None))
    article = site.articles[-1]
    values = dict(a=next(iter(site.actors)), at=article, s=article.slug, p=next(iter(site.proposals)),
                  q=next(iter(site.questions)))
    pairs = [("actor_link(a)", "a|actor_link"), ("actor_link(a, at)", "a|actor_link(at)"),
             ("actor_list([a, a], at)", "[a, a]|actor_list(at)"),
             ("stance_badge('supports')", "'supports'|stance_badge"),
             ("status_badge('agreed')", "'agreed'|status_badge"), ("question_badge('open')", "'open'|question_badge"),
             ("urls.page('briefing', s)", "s|briefing_url"), ("urls.page('actor', a)", "a|actor_url"),
             ("urls.page('proposal', p)", "p|proposal_url"), ("urls.page('question', q)", "q|question_url"),
             ("urls.page('tag', 'talks')", "'talks'|tag_url"), ("proposal_link(p)", "p|proposal_link"),
             ("question_link(q)", "q|question_link")]
    for call, filtered in pairs:
        expected = env.from_string("{{ " + call + " }}").render(values)
        assert env.from_string("{{ " + filtered + " }}").render(values) == expected
        assert "/base/" in expected or "badge" in expected, expected
    # what the macros they replaced wrote
    proposal, question = site.proposals[values["p"]], site.questions[values["q"]]
    assert env.from_string("{{ p|proposal_link }}").render(values) == \
        f'<a href="/base/proposals/{proposal.id}/">{escape(proposal.title)}</a>'
    assert env.from_string("{{ q|question_link }}").render(values) == \
        f'<a href="/base/questions/{question.id}/">{escape(question.text)}</a>'


class _HasHtml:
    def __html__(self):
        return "<i>own</i>"


_OUTPUTS = (
    "{% macro m(x) %}<b>{{ x }}</b>{% endmacro %}"
    "{{ text }}|{{ safe }}|{{ n }}|{{ own }}|{{ m(text) }}|{{ m(safe) }}|{{ text ~ safe }}|"
    "{% set block %}{{ text }}{% endset %}{{ block }}|{{ block|upper }}|"
    "{% filter upper %}{{ text }}{% endfilter %}|{% autoescape false %}{{ text }}{% endautoescape %}|"
    "{{ [text, safe]|join(',') }}|{{ text|e }}|{{ none }}"
)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab<>&\"' \u00e9\u201c")), max_size=12))
def test_output_is_escaped_as_markupsafe_escapes_it(text):
    """Output statements escape through render._escape_output; Jinja as shipped must agree."""
    ours = make_environment(None)
    stock = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=True)
    values = dict(text=text, safe=Markup("<b>&amp;" + str(escape(text)) + "</b>"), n=3, own=_HasHtml())
    assert ours.from_string(_OUTPUTS).render(**values) == stock.from_string(_OUTPUTS).render(**values)
    with pytest.raises(jinja2.UndefinedError):
        ours.from_string("{{ missing }}").render()


def test_a_site_template_overrides_the_theme_and_can_extend_it(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "base.html").write_text(
        '{% extends "theme/base.html" %}{% block head %}<meta name="x-custom" content="yes">{% endblock %}')
    (tmp_path / "templates" / "404.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Lost at {{ config.title }}</h1>{% endblock %}')
    env = make_environment(tmp_path)
    site = story_site()
    plans = {p.kind: p for p in plan_site(site, per_page=10)}
    page = render_page(env, site, plans["404"], Urls("/"), load_assets(None)).decode()
    assert "<h1>Lost at Test Briefing</h1>" in page and 'name="x-custom"' in page
    assert "Skip to content" in page
    home = render_page(env, site, plans["home"], Urls("/"), load_assets(None)).decode()
    assert 'name="x-custom"' in home and "Latest briefings" in home


def test_assets_are_linked_with_their_fingerprint(env):
    site = story_site()
    assets = build_assets({"style.css": b"body{}", "favicon.svg": b"<svg/>"})
    page = render(site, "", env, assets, base="/sub/")
    assert re.search(r'<link rel="stylesheet" href="/sub/static/style\.[0-9a-f]{8}\.css">', page)


def test_filters():
    assert format_date(when("2025-08-22")) == "Aug 22, 2025"
    assert format_date(when("2025-08-22", "14:30")) == "Aug 22, 2025, 14:30"
    assert format_date(dt.date(2024, 1, 5)) == "Jan 5, 2024"
    assert iso_date(when("2025-08-22")) == "2025-08-22"
    assert iso_date(when("2025-08-22", "14:30")) == "2025-08-22T14:30:00+00:00"
    assert label("under-negotiation") == "Under negotiation" and label("supports") == "Supports"


# --------------------------------------------------------------------------- validity

REPO = Path(__file__).resolve().parent.parent


def _vnu() -> list[str] | None:
    """The Nu Html Checker: $VNU_JAR, the one scripts/setup-tests installs, or `vnu` on PATH."""
    for jar in (os.environ.get("VNU_JAR"), REPO / "tools/vnu/node_modules/vnu-jar/build/dist/vnu.jar"):
        if jar and Path(jar).is_file() and shutil.which("java"):
            return ["java", "-jar", str(jar)]
    if shutil.which("vnu"):
        return ["vnu"]
    return None


@pytest.mark.skipif(_vnu() is None, reason="the Nu Html Checker is not installed (set VNU_JAR)")
def test_every_page_is_valid_html(tmp_path, env, assets):
    site = story_site(draft_last=True, per_page=1)
    for output, data in render_site(site, env, Urls("/sub/"), assets).items():
        if output.endswith(".html"):
            path = tmp_path / output
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    result = subprocess.run([*_vnu(), "--errors-only", "--skip-non-html", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_stance_table_shortcut_agrees_with_the_full_scan(tmp_path):
    """View.stance_table counts earlier stances from per-proposal snapshots; on a long story it
    must give exactly what scanning every actor's history (stances_at) gives."""
    import subprocess
    import sys

    from generator.engine import Engine
    from generator.render import view_of

    corpus = tmp_path / "corpus"
    maker = Path(__file__).resolve().parents[2] / "shared" / "bench" / "make_corpus.py"
    if not maker.exists():
        pytest.skip("../shared/bench/make_corpus.py is not beside the repository")
    subprocess.run([sys.executable, str(maker), str(corpus), "--articles", "300"], check=True)
    engine = Engine(corpus, parallel=False, use_cache=False)
    assert engine.build().ok
    view = view_of(engine.site)
    compared = 0
    for article in engine.site.articles:
        for update in article.proposals:
            rows = view.stances_at(update.proposal, article)
            carried = [r for r in rows if not r.new]
            listed = rows if len(carried) <= 8 else [r for r in rows if r.new]
            counts = view.count_stances(carried) if len(listed) < len(rows) else []
            assert view.stance_table(update.proposal, article, 8) == (
                listed, counts, any(r.position.condition for r in listed)), (article.slug, update.proposal)
            compared += bool(counts)
    assert compared > 50  # the shortcut path was taken
