"""What a build writes for feed readers, crawlers and link previews: Atom feeds (site-wide, per
actor, per proposal), sitemap.xml, robots.txt, and the JSON-LD and social tags in the pages.

Built in memory from the `history` test site (four published briefings and a draft; see
tests/sites/README.md) and from small sites made for one test; read back with feedparser and lxml.
The end-to-end versions, over HTTP from nginx, are in test_publish_e2e.py.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.engine import Engine
from generator.extras import FEED_ENTRIES, LASTMODS

feedparser = pytest.importorskip("feedparser")
etree = pytest.importorskip("lxml.etree")
lxml_html = pytest.importorskip("lxml.html")

REPO = Path(__file__).resolve().parent.parent
HISTORY = REPO / "tests" / "sites" / "history"
SITEMAP_XSD = REPO.parent / "shared" / "specs" / "sitemap.xsd"  # the shared/ folder beside the clone
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
BASE = "https://example.org/history/"
TITLE = "Verran Water Talks (test site)"
# The published briefings, newest first; the draft (assembly-vote) must appear nowhere.
NEWEST_FIRST = ["gauge-dispute", "accord-agreed", "talks-begin", "accord-proposed"]
DRAFT = "assembly-vote"


def copy_site(dest: Path, source: Path = HISTORY) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".briefing-cache", "_site"))
    return dest


def build(site: Path, **options) -> Mapping[str, bytes]:
    result = Engine(site, use_cache=False, **options).build()
    assert result.ok, [d.format() for d in result.diagnostics]
    return result.files


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, bytes]:
    return build(copy_site(tmp_path_factory.mktemp("feeds") / "history"))


def parse(files: Mapping[str, bytes], path: str):
    feed = feedparser.parse(files[path])
    assert not feed.bozo, f"{path}: {feed.get('bozo_exception')}"
    assert feed.version == "atom10"
    return feed


def slugs(feed) -> list[str]:
    return [re.fullmatch(re.escape(BASE) + r"briefings/([\w-]+)/", entry.link).group(1) for entry in feed.entries]


def links(feed) -> dict[str, str]:
    return {link.rel: link.href for link in feed.feed.links}


def day(parsed) -> str:
    return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC).date().isoformat()


def document(files: Mapping[str, bytes], path: str):
    return lxml_html.fromstring(files[path])


def feed_links_of(files: Mapping[str, bytes], path: str) -> list[str]:
    return [e.get("href") for e in document(files, path).iter("link")
            if e.get("rel") == "alternate" and e.get("type") == "application/atom+xml"]


def json_ld(files: Mapping[str, bytes], path: str) -> list[dict]:
    blocks = [json.loads(e.text) for e in document(files, path).iter("script")
              if e.get("type") == "application/ld+json"]
    return [node for block in blocks for node in block.get("@graph", [block])]


# --- feeds -------------------------------------------------------------------------------------

def test_the_site_feed_lists_the_published_briefings_newest_first(history):
    feed = parse(history, "feed.xml")
    assert feed.feed.title == TITLE
    assert feed.feed.subtitle.startswith("A fictional briefing site")
    assert links(feed) == {"self": BASE + "feed.xml", "alternate": BASE}
    assert feed.feed.id == BASE + "feed.xml"
    assert slugs(feed) == NEWEST_FIRST
    assert day(feed.feed.updated_parsed) == "2024-03-25", "the feed changed when its newest entry did"
    first = feed.entries[-1]
    assert first.title == "Arland proposes a Verran water-sharing accord"
    assert first.id == first.link == BASE + "briefings/accord-proposed/"
    assert first.summary.startswith("Arland's Foreign Minister proposed")
    assert {tag.term for tag in first.tags} == {"water", "verran-basin"}
    assert DRAFT.encode() not in history["feed.xml"]


def test_an_updated_briefing_keeps_its_publication_date_and_shows_its_update(history):
    entry = parse(history, "feed.xml").entries[NEWEST_FIRST.index("talks-begin")]
    assert day(entry.published_parsed) == "2024-03-11"
    assert day(entry.updated_parsed) == "2024-03-12"


@pytest.mark.parametrize(("path", "expected"), [
    ("actors/tomas-eld/feed.xml", NEWEST_FIRST),
    ("actors/ines-halvorsen/feed.xml", ["gauge-dispute", "accord-agreed", "talks-begin"]),  # new in article 2
    ("actors/basin-commission/feed.xml", ["gauge-dispute", "accord-agreed", "talks-begin"]),
    ("proposals/verran-water-accord/feed.xml", NEWEST_FIRST),
    ("proposals/flow-monitoring-station/feed.xml", ["gauge-dispute", "talks-begin"]),
])
def test_actor_and_proposal_feeds_list_their_briefings(history, path: str, expected: list[str]):
    feed = parse(history, path)
    page = path.removesuffix("feed.xml")
    assert links(feed) == {"self": BASE + path, "alternate": BASE + page}
    assert slugs(feed) == expected
    assert feed.feed.title.endswith(f" — {TITLE}")


def test_feed_titles_name_their_actor_or_proposal(history):
    assert parse(history, "actors/ines-halvorsen/feed.xml").feed.title == f"Ines Halvorsen — {TITLE}"
    assert parse(history, "proposals/verran-water-accord/feed.xml").feed.title == \
        f"Verran water-sharing accord — {TITLE}"


def test_every_actor_and_proposal_page_has_a_feed_and_nothing_else_does(history):
    pages = {p.removesuffix("index.html") for p in history
             if re.fullmatch(r"(actors|proposals)/[\w-]+/index\.html", p)}
    feeds = {p.removesuffix("feed.xml") for p in history if p.endswith("feed.xml")}
    assert feeds == pages | {""}
    assert "actors/lena-brask/" not in pages, "an actor only a draft names has no page and no feed"
    assert not any(DRAFT in p or "lena-brask" in p for p in history)


def test_pages_link_the_site_feed_and_their_own(history):
    for path in (p for p in history if p.endswith(".html")):
        own = re.fullmatch(r"((?:actors|proposals)/[\w-]+/)index\.html", path)
        expected = ["/history/feed.xml"] + ([f"/history/{own.group(1)}feed.xml"] if own else [])
        assert feed_links_of(history, path) == expected, path


def test_feeds_escape_markup_in_titles_and_summaries(make_site):
    site = make_site({
        "content/articles/2024-05-01-terms.md": (
            "---\ntitle: 'Talks & \"terms\" <resumed> — Ørsted'\ndate: 2024-05-01\n"
            "summary: 'Fish & chips <b>not bold</b>'\nactors:\n  - id: ada-north\n    name: Ada & Co\n"
            "---\nAda & Co said little.\n"),
    }, site_yaml="title: 'Q&A <Desk> \"Briefs\"'\nbase_url: https://example.org/q&a/\n")
    files = build(site)
    feed = parse(files, "feed.xml")
    assert feed.feed.title == 'Q&A <Desk> "Briefs"'
    [entry] = feed.entries
    assert entry.title == 'Talks & "terms" <resumed> — Ørsted'
    assert entry.summary == "Fish & chips <b>not bold</b>"
    assert entry.link == "https://example.org/q&a/briefings/terms/"
    assert parse(files, "actors/ada-north/feed.xml").feed.title == 'Ada & Co — Q&A <Desk> "Briefs"'
    etree.fromstring(files["sitemap.xml"])  # well-formed with the & in the URL


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab&<>\"'\n\r\t é")), max_size=12))
def test_feed_text_and_attributes_are_escaped_as_the_standard_library_does(text):
    from xml.sax import saxutils

    from generator.extras import escape, quoteattr

    assert escape(text) == saxutils.escape(text)
    assert quoteattr(text) == saxutils.quoteattr(text)


def test_a_long_feed_keeps_the_newest_entries(make_site):
    start = dt.date(2024, 1, 1)
    articles = {
        f"content/articles/{start + dt.timedelta(days=n)}-note-{n}.md":
            f"---\ntitle: Note {n}\ndate: {start + dt.timedelta(days=n)}\nactors: [ada-north]\n---\nText {n}.\n"
        for n in range(FEED_ENTRIES + 3)}
    files = build(make_site({"content/actors/ada-north.yaml": "name: Ada North\nkind: person\n", **articles}))
    for path in ("feed.xml", "actors/ada-north/feed.xml"):
        feed = parse(files, path)
        assert [e.title for e in feed.entries] == [f"Note {n}" for n in range(FEED_ENTRIES + 2, 2, -1)]


def test_an_empty_feed_is_dated_with_the_site_not_1970(make_site):
    site = make_site({
        "content/actors/ada-north.yaml": "name: Ada North\n",
        "content/actors/bo-quiet.yaml": "name: Bo Quiet\n",
        "content/articles/2024-05-01-one.md": "---\ntitle: One\ndate: 2024-05-01\nactors: [ada-north]\n---\nText.\n",
        "content/articles/2024-05-03-two.md": "---\ntitle: Two\ndate: 2024-05-03\n---\nText.\n",
    })
    engine = Engine(site, use_cache=False)
    files = engine.build().files
    feed = parse(files, "actors/bo-quiet/feed.xml")
    assert feed.entries == []
    assert feed.feed.updated.startswith("2024-05-03"), feed.feed.updated   # the site's newest briefing
    assert parse(files, "actors/ada-north/feed.xml").feed.updated.startswith("2024-05-01")
    # a newer briefing dates it again, in a preview's update as in a new build
    newer = site / "content/articles/2024-05-09-three.md"
    newer.write_text("---\ntitle: Three\ndate: 2024-05-09\n---\nText.\n")
    updated = engine.update([newer]).files["actors/bo-quiet/feed.xml"]
    assert updated == build(site)["actors/bo-quiet/feed.xml"]
    assert parse({"f": updated}, "f").feed.updated.startswith("2024-05-09")


# --- sitemap and robots.txt --------------------------------------------------------------------

def sitemap_entries(files: Mapping[str, bytes]) -> dict[str, str | None]:
    root = etree.fromstring(files["sitemap.xml"])
    entries = root.findall("s:url", SITEMAP_NS)
    found = {u.findtext("s:loc", namespaces=SITEMAP_NS): u.findtext("s:lastmod", namespaces=SITEMAP_NS)
             for u in entries}
    assert len(found) == len(entries), "every page once"
    return found


def test_the_feed_cache_keeps_only_the_feeds_the_site_still_has(tmp_path: Path):
    """The engine's feed cache is kept with the build's story (state.py): a feed whose actor or
    proposal is gone leaves it, so it does not grow with every entity that ever was."""
    site = tmp_path / "site"
    shutil.copytree(Path(__file__).resolve().parent / "sites" / "history", site)
    engine = Engine(site, use_cache=False, parallel=False)
    assert engine.build().ok
    feeds = {path for path in engine.files if path.endswith("feed.xml")}
    assert set(engine.feeds) - {"sitemap.xml", LASTMODS} == feeds
    engine.feeds["actors/no-longer-here/feed.xml"] = ((), b"<feed/>")
    article = next((site / "content" / "articles").glob("*.md"))
    article.write_text(article.read_text().replace("title:", "title: Retitled —", 1))
    result = engine.update([article])
    assert result.ok and "actors/no-longer-here/feed.xml" not in engine.feeds
    assert set(engine.feeds) - {"sitemap.xml", LASTMODS} == {path for path in result.files if path.endswith("feed.xml")}


def test_the_sitemap_validates_against_the_sitemaps_org_schema(history):
    if not SITEMAP_XSD.is_file():
        pytest.skip(f"no sitemaps.org schema at {SITEMAP_XSD} (the shared/ folder beside the repository)")
    schema = etree.XMLSchema(etree.parse(str(SITEMAP_XSD)))
    assert schema.validate(etree.fromstring(history["sitemap.xml"])), schema.error_log


def test_the_sitemap_lists_every_page_but_the_404_page(history):
    pages = {BASE + p.removesuffix("index.html") for p in history if p.endswith(".html") and p != "404.html"}
    assert set(sitemap_entries(history)) == pages


def test_sitemap_dates_come_from_the_content(history):
    lastmod = {loc.removeprefix(BASE): value for loc, value in sitemap_entries(history).items()}
    assert lastmod["briefings/accord-proposed/"] == "2024-03-04"
    assert lastmod["briefings/talks-begin/"] == "2024-03-12", "`updated` wins over `date`"
    assert lastmod[""] == "2024-03-25", "the home page changed with the newest briefing"
    assert lastmod["actors/ines-halvorsen/"] == "2024-03-25"
    assert lastmod["tags/diplomacy/"] == "2024-03-18", "the newest briefing with that tag"
    assert lastmod["proposals/flow-monitoring-station/"] == "2024-03-25"
    assert lastmod["method/"] is None, "a plain page has no content date, so no lastmod"
    content_dates = {"2024-03-04", "2024-03-11", "2024-03-12", "2024-03-18", "2024-03-25"}
    assert {value for value in lastmod.values() if value} <= content_dates


def test_robots_txt_allows_everything_and_names_the_sitemap(history):
    assert history["robots.txt"].decode() == f"User-agent: *\nAllow: /\nSitemap: {BASE}sitemap.xml\n"


def test_output_depends_on_the_content_only_not_on_file_times_or_the_day(tmp_path: Path):
    first = build(copy_site(tmp_path / "one"))
    second_site = copy_site(tmp_path / "two")
    later = dt.datetime.now().timestamp() + 86_400 * 400
    for path in second_site.rglob("*"):
        os.utime(path, (later, later))
    second = build(second_site)
    extras = [p for p in first if p.endswith((".xml", ".txt"))]
    assert extras and all(first[p] == second[p] for p in extras)
    today = dt.date.today().isoformat().encode()
    assert not any(today in first[p] for p in extras), "no date from the clock"
    assert all(first[p] == second[p] for p in first), "pages too are the same bytes"


def test_a_base_url_without_a_host_gets_path_urls_and_no_sitemap(tmp_path: Path):
    files = build(copy_site(tmp_path / "site"), base_url="/history/")
    assert "sitemap.xml" not in files
    assert files["robots.txt"] == b"User-agent: *\nAllow: /\n"
    feed = feedparser.parse(files["feed.xml"])
    assert not feed.bozo and feed.entries[0].link == "/history/briefings/gauge-dispute/"
    page = document(files, "briefings/talks-begin/index.html")
    assert not [e for e in page.iter("link") if e.get("rel") == "canonical"], "no canonical without a host"


def test_base_url_override_moves_every_absolute_url(tmp_path: Path):
    base = "https://news.example.com/verran/"
    files = build(copy_site(tmp_path / "site"), base_url=base)
    assert all(loc.startswith(base) for loc in sitemap_entries(files))
    feed = parse(files, "feed.xml")
    assert links(feed) == {"self": base + "feed.xml", "alternate": base}
    assert feed.entries[0].link == base + "briefings/gauge-dispute/"
    assert f"Sitemap: {base}sitemap.xml".encode() in files["robots.txt"]
    assert not any(b"example.org/history" in data for path, data in files.items() if not path.startswith("static/"))


# --- JSON-LD and social tags -------------------------------------------------------------------

def test_a_briefing_is_a_news_article_with_its_quotations_and_events(history):
    nodes = json_ld(history, "briefings/talks-begin/index.html")
    [article] = [n for n in nodes if n["@type"] == "NewsArticle"]
    url = BASE + "briefings/talks-begin/"
    assert article["headline"] == "Verran talks begin under a Commission mediator"
    assert (article["url"], article["@id"]) == (url, url)
    assert (article["datePublished"], article["dateModified"]) == ("2024-03-11", "2024-03-12")
    assert article["keywords"] == ["water", "verran-basin", "diplomacy"]
    quotations = [n for n in nodes if n["@type"] == "Quotation"]
    assert {(q["creator"]["name"], q["creator"]["@type"]) for q in quotations} == {
        ("Tomas Eld", "Person"), ("Ines Halvorsen", "Person")}
    assert all(q["isPartOf"] == {"@id": url} for q in quotations)
    events = [n for n in nodes if n["@type"] == "Event"]
    assert {"name": "First round of Verran talks, chaired by Halvorsen", "startDate": "2024-03-08"} in [
        {k: e[k] for k in ("name", "startDate")} for e in events]


@pytest.mark.parametrize(("actor", "kind"), [("tomas-eld", "Person"), ("arland", "Organization"),
                                             ("basin-commission", "Organization")])
def test_actors_are_people_or_organisations(history, actor: str, kind: str):
    [node] = json_ld(history, f"actors/{actor}/index.html")
    assert node["@context"] == "https://schema.org"
    assert node["@type"] == kind and node["url"] == f"{BASE}actors/{actor}/"
    assert "sameAs" not in node, "no wikidata id, no sameAs"


def test_same_as_points_at_wikidata(make_site):
    files = build(make_site({
        "content/actors/mark-rutte.yaml": "name: Mark Rutte\nkind: person\nrole: NATO Secretary General\n"
                                          "wikidata: Q57792\n",
        "content/articles/2024-05-01-visit.md": "---\ntitle: Visit\ndate: 2024-05-01\nactors: [mark-rutte]\n"
                                                "---\nMark Rutte visited.\n"}))
    [node] = json_ld(files, "actors/mark-rutte/index.html")
    assert node["@type"] == "Person" and node["jobTitle"] == "NATO Secretary General"
    assert node["sameAs"] == "https://www.wikidata.org/wiki/Q57792"


def test_json_ld_cannot_be_broken_out_of(make_site):
    title = "Closing </script><script>alert(1)</script> tags & <!-- comments"
    files = build(make_site({"content/articles/2024-05-01-tricky.md": (
        f"---\ntitle: '{title}'\ndate: 2024-05-01\nactors:\n  - id: ada-north\n    name: Ada North\n---\nText.\n")}))
    page = files["briefings/tricky/index.html"]
    assert b"<script>alert(1)" not in page
    [article] = [n for n in json_ld(files, "briefings/tricky/index.html") if n["@type"] == "NewsArticle"]
    assert article["headline"] == title


def test_briefings_carry_canonical_open_graph_and_twitter_tags(history):
    page = document(history, "briefings/talks-begin/index.html")
    url = BASE + "briefings/talks-begin/"

    def meta(attribute: str, value: str) -> str | None:
        found = [e.get("content") for e in page.iter("meta") if e.get(attribute) == value]
        return found[0] if found else None

    assert [e.get("href") for e in page.iter("link") if e.get("rel") == "canonical"] == [url]
    assert meta("property", "og:url") == url
    assert meta("property", "og:type") == "article"
    assert meta("property", "og:title").startswith("Verran talks begin under a Commission mediator")
    assert meta("property", "og:site_name") == TITLE
    assert meta("property", "og:description").startswith("The first round of talks")
    assert meta("name", "twitter:card") == "summary"
    not_found = document(history, "404.html")
    assert not [e for e in not_found.iter("link") if e.get("rel") == "canonical"], "the 404 page has no canonical"


@pytest.mark.parametrize("updated", ["2024-12-31", "2024-03-12T09:30:00+02:00", None])
def test_the_sitemap_follows_an_articles_last_change_between_runs(tmp_path: Path, updated):
    """lastmods keeps each listing page's newest briefing from one run to the next: an edit to an
    article's `updated` date (later than every other briefing, a time of day, or none) moves
    the lastmod of every page that lists it, as a cold build dates them."""
    site = tmp_path / "site"
    shutil.copytree(Path(__file__).resolve().parent / "sites" / "history", site)
    engine = Engine(site, use_cache=False, parallel=False)
    assert engine.build().ok
    article = site / "content" / "articles" / "2024-03-11-talks-begin.md"
    line = "" if updated is None else f"updated: {updated}\n"
    article.write_text(article.read_text().replace("updated: 2024-03-12\n", line))
    result = engine.update([article])
    assert result.ok
    cold = Engine(site, use_cache=False, parallel=False).build()
    assert sitemap_entries(result.files) == sitemap_entries(cold.files)
    if updated == "2024-12-31":   # (the edit shows: talks-begin is now the newest on its actors' pages)
        assert sitemap_entries(result.files)[BASE + "actors/tomas-eld/"] == "2024-12-31"
