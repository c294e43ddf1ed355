"""`briefing publish` end to end: the example site published through the command line, served by a
real nginx under a subpath, crawled over HTTP, read by feedparser, lxml and Chromium.

The example site is copied (with one extra draft article, which must never be published) and
published once per module; the tests that change the site or the target make their own copies.
"""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from support.browser import browser, page  # noqa: F401  (fixtures)
from support.nginx import NGINX, NginxServer, nginx, nginx_server  # noqa: F401  (fixture)

from generator.cli import main
from generator.engine import Engine
from generator.write import MANIFEST

feedparser = pytest.importorskip("feedparser")
etree = pytest.importorskip("lxml.etree")
lxml_html = pytest.importorskip("lxml.html")

REPO = Path(__file__).resolve().parent.parent
# The shared specs live beside the repository clone, here and in CI: <parent>/shared/specs/.
SITEMAP_XSD = REPO.parent / "shared" / "specs" / "sitemap.xsd"

SITE_URL = "https://example.org/briefing/"
PREFIX = "/briefing/"
SITE_TITLE = "Ukraine Security Guarantees Briefing"
BRIEFING = "briefings/rutte-in-kyiv/"
BRIEFING_TITLE = "NATO's Rutte in Kyiv as allies shape security guarantees for Ukraine"
CONTENT_DATES = {"2025-08-22"}  # every `date`/`updated` of the example's published articles
DRAFT_SLUG = "rutte-in-bucharest"
DRAFT_TITLE = "Unpublished draft: Rutte weighs a stop in Bucharest"
DRAFT_MARKER = "ZZ-DRAFT-MARKER-7f3c"
DRAFT = f"""---
title: "{DRAFT_TITLE}"
date: 2025-08-25
draft: true
summary: A draft that stays in the content folder and never reaches readers ({DRAFT_MARKER}).
actors:
  - mark-rutte
  - romania
---
Mark Rutte was said to be weighing a stop in Bucharest. {DRAFT_MARKER}
"""
FINGERPRINTED = re.compile(r"/static/(?:[\w.-]+/)*[\w-]+\.([0-9a-f]{8})\.(?:css|js)$")


# --- the site and its publication --------------------------------------------------------------

def copy_example(dest: Path, *, draft: bool = True) -> Path:
    """A writable copy of the repository's example site, with an extra draft article."""
    dest.mkdir(parents=True)
    shutil.copy(REPO / "site.yaml", dest / "site.yaml")
    shutil.copytree(REPO / "content", dest / "content")
    if draft:
        (dest / "content" / "articles" / f"2025-08-25-{DRAFT_SLUG}.md").write_text(DRAFT)
    return dest


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---", 2)[1])


def example_actors() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (REPO / "content" / "actors").glob("*.yaml")}


def example_proposals() -> set[str]:
    return {proposal["id"] for article in (REPO / "content" / "articles").glob("*.md")
            for proposal in front_matter(article).get("proposals", [])}


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def releases(target: Path) -> list[str]:
    folder = target.parent / (target.name + ".releases")
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def state(target: Path) -> tuple:
    """Everything a publish could change at a folder target: the link, the releases, every file."""
    folder = target.parent / (target.name + ".releases")
    files = sorted((str(p.relative_to(target.parent)), p.stat().st_mtime_ns, p.stat().st_ino)
                   for p in folder.rglob("*")) if folder.is_dir() else []
    return os.readlink(target) if target.is_symlink() else None, files


def publish(*arguments: str | Path) -> int:
    return main(["publish", *map(str, arguments)])


@dataclass(frozen=True)
class Published:
    site: Path
    target: Path


def require_nginx() -> None:
    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"no nginx at {NGINX} in CI; run scripts/setup-tests")
        pytest.skip(f"no nginx at {NGINX}; run scripts/setup-tests")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The example site (with a draft) published once to <tmp>/www/briefing."""
    root = tmp_path_factory.mktemp("published")
    site = copy_example(root / "site")
    target = root / "www" / "briefing"
    assert publish("--to", target, "--site", site) == 0
    assert target.is_symlink()
    return Published(site, target)


@pytest.fixture(scope="module")
def served(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """nginx serving the published link (it follows the symlink to the live release) at /briefing/."""
    require_nginx()
    with nginx_server(published.target, PREFIX, workdir=tmp_path_factory.mktemp("nginx")) as server:
        yield server


# --- over HTTP ---------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is not a 200: report it as it is
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str

    @property
    def html(self) -> bool:
        return self.content_type.startswith("text/html")

    def document(self):
        return lxml_html.fromstring(self.body)


def fetch(url: str) -> Response:
    try:
        with _OPENER.open(url, timeout=10) as response:
            return Response(response.status, response.read(), response.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), error.headers.get("Content-Type", ""))


def srcset_urls(value: str) -> list[str]:
    return [candidate.split()[0] for candidate in value.split(",") if candidate.strip()]


def links_in(response: Response) -> list[str]:
    """Every URL a page or a feed/sitemap/robots file points at."""
    if response.html:
        urls = []
        for element in response.document().iter():
            if not isinstance(element.tag, str):
                continue
            for name in ("href", "src"):
                if element.get(name):
                    urls.append(element.get(name).strip())
            if element.get("srcset"):
                urls += srcset_urls(element.get("srcset"))
        return urls
    if "xml" in response.content_type or response.body.startswith(b"<?xml"):
        root = etree.fromstring(response.body)
        return ([e.get("href") for e in root.iter("{http://www.w3.org/2005/Atom}link")]
                + [e.text.strip() for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")])
    if response.content_type.startswith("text/plain"):
        return [line.split(":", 1)[1].strip() for line in response.body.decode().splitlines()
                if line.lower().startswith("sitemap:")]
    return []


@dataclass
class Crawl:
    server: NginxServer
    responses: dict[str, Response] = field(default_factory=dict)  # by URL, without fragment
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (page, link as written, absolute URL)

    def path(self, url: str) -> str:
        """The site-relative path of a served URL: 'http://127.0.0.1:P/briefing/x/' -> 'x/'."""
        return urlsplit(url).path[len(self.server.prefix):]

    def pages(self) -> dict[str, Response]:
        """The HTML pages reached, by site-relative path."""
        return {self.path(url): r for url, r in self.responses.items() if r.status == 200 and r.html}

    def files(self) -> set[str]:
        """The output files reached: 'x/' counts as 'x/index.html'."""
        return {(path + "index.html" if path == "" or path.endswith("/") else path)
                for path in (self.path(url) for url, r in self.responses.items() if r.status == 200)}


def crawl(server: NginxServer, site_url: str) -> Crawl:
    """Follow every internal link from the home page (and robots.txt) over HTTP.

    Absolute links to the site's own URL (`site_url`: canonical, feed and sitemap URLs) are
    followed on the server under test."""
    result = Crawl(server)

    def internal(url: str) -> str | None:
        if url.startswith(site_url):
            url = server.base_url + url[len(site_url):]
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.netloc != urlsplit(server.origin).netloc:
            return None
        return url if parts.path.startswith(server.prefix) else None

    queue = [server.url(""), server.url("robots.txt")]
    seen = set(queue)
    while queue:
        url = queue.pop(0)
        response = result.responses[url] = fetch(url)
        if response.status != 200:
            continue
        for link in links_in(response):
            absolute = internal(urljoin(url, link))
            if absolute is None:
                continue
            result.links.append((url, link, absolute))
            target = urldefrag(absolute).url
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return result


def element_ids(response: Response) -> set[str]:
    document = response.document()
    return {e.get("id") for e in document.iter() if isinstance(e.tag, str) and e.get("id")} | {
        e.get("name") for e in document.iter("a") if e.get("name")}


def broken_links(result: Crawl) -> list[tuple[str, str, str]]:
    """(page, link, why) for every link that does not answer 200 or names a missing anchor."""
    broken = []
    for page_url, link, absolute in result.links:
        target, fragment = urldefrag(absolute)
        response = result.responses[target]
        if response.status != 200:
            broken.append((result.path(page_url), link, f"HTTP {response.status}"))
        elif fragment and response.html and fragment != "top" and fragment not in element_ids(response):
            broken.append((result.path(page_url), link, f"no element with id {fragment!r}"))
    return broken


@pytest.fixture(scope="module")
def crawled(served: NginxServer) -> Crawl:
    return crawl(served, SITE_URL)


def alternates(response: Response) -> list[str]:
    return [e.get("href") for e in response.document().iter("link")
            if e.get("rel") == "alternate" and e.get("type") == "application/atom+xml"]


def json_ld(response: Response) -> list[dict]:
    return [json.loads(e.text) for e in response.document().iter("script")
            if e.get("type") == "application/ld+json"]


def ld_nodes(blocks: list[dict]) -> list[dict]:
    """Every top-level node of the JSON-LD blocks, with @graph unwrapped."""
    return [node for block in blocks for node in block.get("@graph", [block])]


def meta(response: Response, attribute: str, value: str) -> str | None:
    found = [e.get("content") for e in response.document().iter("meta") if e.get(attribute) == value]
    return found[0] if found else None


def canonical(response: Response) -> str | None:
    found = [e.get("href") for e in response.document().iter("link") if e.get("rel") == "canonical"]
    return found[0] if found else None


# --- 1. the published example over HTTP ----------------------------------------------------------

@pytest.mark.nginx
def test_every_internal_link_answers_200_and_every_file_is_reachable(crawled: Crawl, published: Published):
    assert broken_links(crawled) == []
    assert all(r.status == 200 for r in crawled.responses.values()), \
        {crawled.path(u): r.status for u, r in crawled.responses.items() if r.status != 200}
    # Nothing is an orphan: every file but the 404 page is reached from the home page or robots.txt.
    assert crawled.files() == set(tree(published.target)) - {"404.html"}
    assert len(crawled.pages()) == sum(p.endswith(".html") for p in tree(published.target)) - 1 > 40


@pytest.mark.nginx
def test_stylesheets_and_scripts_carry_their_fingerprint(crawled: Crawl, published: Published):
    for path, response in crawled.pages().items():
        document = response.document()
        assets = [e.get("href") for e in document.iter("link") if e.get("rel") == "stylesheet"]
        assets += [e.get("src") for e in document.iter("script") if e.get("src")]
        assert assets, f"{path} has no stylesheet"
        for url in assets:
            match = FINGERPRINTED.search(url)
            assert match, f"{path}: {url} is not fingerprinted (name.<8 hex>.css)"
            body = crawled.responses[urljoin(crawled.server.url(path), url)].body
            assert hashlib.sha256(body).hexdigest()[:8] == match.group(1), f"{url}: the fingerprint is its content's"
    static = [p for p in tree(published.target) if p.startswith("static/") and p.endswith((".css", ".js"))]
    assert static and all(FINGERPRINTED.search("/" + p) for p in static)


@pytest.mark.nginx
def test_an_unknown_url_answers_404_with_the_sites_404_page(served: NginxServer, published: Published):
    not_found = (published.target / "404.html").read_bytes()
    for path in ("no/such/page/", "briefings/no-such-briefing/", "static/style.00000000.css"):
        response = fetch(served.url(path))
        assert response.status == 404, path
        assert response.html and response.body == not_found, path
    # Its links start with the base path, so they work from any depth.
    deep = served.url("a/b/c/d/")
    for link in links_in(Response(404, not_found, "text/html")):
        if link.startswith("#"):
            continue  # on the page itself
        url = urljoin(deep, link)
        if urlsplit(url).netloc == urlsplit(served.origin).netloc:
            assert fetch(urldefrag(url).url).status == 200, link


def parse_feed(crawled: Crawl, path: str):
    response = crawled.responses[crawled.server.url(path)]
    assert response.status == 200, path
    assert response.content_type.startswith(("application/atom+xml", "text/xml", "application/xml")), \
        f"{path} is served as {response.content_type}"
    feed = feedparser.parse(response.body)
    assert not feed.bozo, f"{path}: {feed.get('bozo_exception')}"
    return feed


def feed_links(feed) -> dict[str, str]:
    return {link.rel: link.href for link in feed.feed.links}


def assert_lists_the_briefing(feed, path: str) -> None:
    assert [(e.title, e.link) for e in feed.entries] == [(BRIEFING_TITLE, SITE_URL + BRIEFING)], path
    entry = feed.entries[0]
    assert entry.id == SITE_URL + BRIEFING
    # The article's date is midnight in the site's time zone (Europe/Kyiv), an instant in the feed.
    midnight = dt.datetime(2025, 8, 22, tzinfo=ZoneInfo("Europe/Kyiv")).timestamp()
    assert calendar.timegm(entry.published_parsed) == calendar.timegm(entry.updated_parsed) == midnight
    assert feed_links(feed)["self"] == SITE_URL + path


@pytest.mark.nginx
def test_the_site_feed_lists_the_published_briefing(crawled: Crawl):
    feed = parse_feed(crawled, "feed.xml")
    assert feed.feed.title == SITE_TITLE
    assert feed_links(feed)["alternate"] == SITE_URL
    assert_lists_the_briefing(feed, "feed.xml")
    assert {tag.term for tag in feed.entries[0].tags} == {"security-guarantees", "nato", "diplomacy"}


@pytest.mark.nginx
def test_every_actor_and_proposal_has_a_feed_of_its_briefings(crawled: Crawl, published: Published):
    actors, proposals = example_actors(), example_proposals()
    assert "mark-rutte" in actors and "security-guarantees" in proposals
    expected = {"feed.xml"} | {f"actors/{a}/feed.xml" for a in actors} | {f"proposals/{p}/feed.xml" for p in proposals}
    assert {p for p in tree(published.target) if p.endswith("feed.xml")} == expected
    for ident, actor in actors.items():
        feed = parse_feed(crawled, f"actors/{ident}/feed.xml")
        assert feed.feed.title == f"{actor['name']} — {SITE_TITLE}"
        assert feed_links(feed)["alternate"] == f"{SITE_URL}actors/{ident}/"
        assert_lists_the_briefing(feed, f"actors/{ident}/feed.xml")
    for ident in proposals:
        feed = parse_feed(crawled, f"proposals/{ident}/feed.xml")
        assert feed_links(feed)["alternate"] == f"{SITE_URL}proposals/{ident}/"
        assert_lists_the_briefing(feed, f"proposals/{ident}/feed.xml")


@pytest.mark.nginx
def test_pages_link_their_feeds(crawled: Crawl, served: NginxServer):
    pages = {**crawled.pages(), "404.html": fetch(served.url("no/such/page/"))}
    for path, response in pages.items():
        own = re.fullmatch(r"(actors|proposals)/([\w-]+)/", path)
        expected = [PREFIX + "feed.xml"] + ([f"{PREFIX}{path}feed.xml"] if own else [])
        assert alternates(response) == expected, path
    assert "actors/mark-rutte/" in pages and "proposals/security-guarantees/" in pages


@pytest.mark.nginx
def test_the_sitemap_is_valid_and_lists_every_page_with_content_dates(crawled: Crawl, published: Published):
    if not SITEMAP_XSD.is_file():
        pytest.skip(f"no sitemaps.org schema at {SITEMAP_XSD} (the shared/ folder beside the repository)")
    schema = etree.XMLSchema(etree.parse(str(SITEMAP_XSD)))
    response = crawled.responses[crawled.server.url("sitemap.xml")]
    document = etree.fromstring(response.body)
    assert schema.validate(document), schema.error_log

    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = {u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
            for u in document.findall("s:url", ns)}
    pages = {SITE_URL + (p[: -len("index.html")] if p.endswith("index.html") else p)
             for p in tree(published.target) if p.endswith(".html") and p != "404.html"}
    assert set(urls) == pages
    assert len(urls) == len(document.findall("s:url", ns)), "every page once"
    assert set(urls) == {SITE_URL + p for p in crawled.pages()}, "the crawl and the sitemap agree"
    today = dt.date.today().isoformat()
    dated = {loc: lastmod for loc, lastmod in urls.items() if lastmod}
    assert {lastmod[:10] for lastmod in dated.values()} <= CONTENT_DATES
    assert today not in {lastmod[:10] for lastmod in dated.values()} or today in CONTENT_DATES
    assert dated[SITE_URL] == dated[SITE_URL + BRIEFING] == "2025-08-22"
    assert SITE_URL + "actors/mark-rutte/" in dated
    assert urls[SITE_URL + "about/"] is None, "a plain page has no content date"


@pytest.mark.nginx
def test_robots_txt_names_the_sitemap(crawled: Crawl):
    response = crawled.responses[crawled.server.url("robots.txt")]
    assert response.content_type.startswith("text/plain")
    lines = response.body.decode().splitlines()
    assert "User-agent: *" in lines
    assert f"Sitemap: {SITE_URL}sitemap.xml" in lines


@pytest.mark.nginx
def test_json_ld_parses_with_the_right_types(crawled: Crawl):
    pages = crawled.pages()
    for response in pages.values():
        json_ld(response)  # every block on every page is JSON

    nodes = ld_nodes(json_ld(pages[BRIEFING]))
    by_type: dict[str, list[dict]] = {}
    for node in nodes:
        by_type.setdefault(node["@type"], []).append(node)
    assert {"NewsArticle", "Quotation", "Event"} <= set(by_type)
    [article] = by_type["NewsArticle"]
    assert article["headline"] == BRIEFING_TITLE
    assert article["url"] == SITE_URL + BRIEFING
    assert article["datePublished"] == "2025-08-22"
    for quotation in by_type["Quotation"]:
        assert quotation["text"] and quotation["creator"]["@type"] in ("Person", "Organization")
    assert any(q["creator"]["name"] == "Mark Rutte" and q["creator"]["@type"] == "Person"
               for q in by_type["Quotation"])
    for event in by_type["Event"]:
        assert event["name"] and re.match(r"\d{4}-\d{2}-\d{2}", event["startDate"])

    for ident, actor in example_actors().items():
        [node] = json_ld(pages[f"actors/{ident}/"])
        assert node["@context"] == "https://schema.org"
        assert node["@type"] == ("Person" if actor["kind"] == "person" else "Organization"), ident
        assert node["name"] == actor["name"]
        assert node["url"] == f"{SITE_URL}actors/{ident}/"
        if actor.get("wikidata"):
            assert node["sameAs"] == f"https://www.wikidata.org/wiki/{actor['wikidata']}"
    [rutte] = json_ld(pages["actors/mark-rutte/"])
    assert rutte["@type"] == "Person" and rutte["sameAs"] == "https://www.wikidata.org/wiki/Q57792"


@pytest.mark.nginx
def test_pages_carry_canonical_open_graph_and_twitter_tags(crawled: Crawl):
    for path, response in crawled.pages().items():
        assert canonical(response) == SITE_URL + path, path
        assert meta(response, "property", "og:url") == SITE_URL + path, path
        assert meta(response, "property", "og:title"), path
        assert meta(response, "name", "twitter:card"), path
    briefing = crawled.pages()[BRIEFING]
    assert BRIEFING_TITLE in meta(briefing, "property", "og:title")
    assert meta(briefing, "property", "og:type") == "article"
    assert meta(briefing, "name", "twitter:card") == "summary"
    assert meta(briefing, "property", "og:description")


def test_drafts_are_never_published(published: Published):
    # The draft is a valid article: a build with --drafts has it, so its absence below means something.
    assert f"briefings/{DRAFT_SLUG}/index.html" in Engine(published.site, drafts=True, use_cache=False).build().files
    for path, data in tree(published.target).items():
        assert DRAFT_SLUG not in path
        for needle in (DRAFT_SLUG, DRAFT_MARKER, "Bucharest"):
            assert needle.encode() not in data, f"{path} mentions the draft ({needle})"


# --- 2. in a real browser ----------------------------------------------------------------------

@pytest.mark.nginx
@pytest.mark.browser
@pytest.mark.parametrize("path", ["", BRIEFING])
def test_chromium_loads_the_page_without_errors_or_failed_requests(served: NginxServer, page, path: str):  # noqa: F811
    console, failed, bad = [], [], []
    page.on("console", lambda message: message.type == "error" and console.append(message.text))
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    page.on("response", lambda response: response.status >= 400 and bad.append(f"{response.status} {response.url}"))
    response = page.goto(served.url(path), wait_until="networkidle")
    assert response.status == 200
    assert console == [] and page.console_errors == []
    assert failed == []
    assert bad == []
    # The fingerprinted stylesheet was loaded and applied.
    assert page.evaluate("[...document.styleSheets].filter(s => s.href && s.cssRules.length).length") >= 1
    assert page.title()


# --- 3. what `briefing publish` does at its target ----------------------------------------------

def run(capsys: pytest.CaptureFixture, *arguments: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = publish(*arguments)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def edit_about(site: Path, text: str) -> None:
    about = site / "content" / "pages" / "about.md"
    about.write_text(about.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")


def test_publishing_twice_keeps_two_releases_and_links_the_newest(tmp_path: Path, capsys):
    site, target = copy_example(tmp_path / "site"), tmp_path / "www" / "briefing"
    assert run(capsys, "--to", target, "--site", site)[0] == 0
    [first] = releases(target)

    code, out, _ = run(capsys, "--to", target, "--site", site)
    assert code == 0 and "up to date" in out and "nothing to publish" in out
    assert releases(target) == [first], "an unchanged site makes no new release"

    edit_about(site, "Second edition of this page.")
    code, out, _ = run(capsys, "--to", target, "--site", site)
    assert code == 0 and out.startswith(f"published {target} (release ")
    assert "0 added, 1 changed, 0 removed" in out
    assert len(releases(target)) == 2 and releases(target)[0] == first
    second = releases(target)[1]
    assert os.readlink(target) == f"briefing.releases/{second}"
    assert b"Second edition" in (target / "about" / "index.html").read_bytes()
    assert b"Second edition" not in (target.parent / "briefing.releases" / first / "about" / "index.html").read_bytes()


@pytest.mark.nginx
def test_rollback_restores_the_previous_release(tmp_path: Path, capsys, nginx):  # noqa: F811
    site, target = copy_example(tmp_path / "site"), tmp_path / "www" / "briefing"
    assert run(capsys, "--to", target, "--site", site)[0] == 0
    server = nginx(target, PREFIX)
    old_about = fetch(server.url("about/")).body
    edit_about(site, "Second edition of this page.")
    assert run(capsys, "--to", target, "--site", site)[0] == 0
    assert b"Second edition" in fetch(server.url("about/")).body
    first, second = releases(target)

    code, out, _ = run(capsys, "--rollback", "--dry-run", "--to", target)
    assert code == 0 and "~ about/index.html" in out and out.rstrip().endswith(
        f"dry run, nothing changed: would roll back {target}: 0 added, 1 changed, 0 removed")
    assert os.readlink(target) == f"briefing.releases/{second}"

    code, out, _ = run(capsys, "--rollback", "--to", target)
    assert code == 0 and out.startswith(f"rolled back {target} (release {first})")
    assert os.readlink(target) == f"briefing.releases/{first}"
    assert fetch(server.url("about/")).body == old_about
    assert releases(target) == [first, second], "a rollback keeps the newer release"

    code, _, err = run(capsys, "--rollback", "--to", target)
    assert code == 1 and "no earlier release" in err


BROKEN_TEMPLATE = "{% block main %}{% endblock %}{% if unclosed %}"


def break_template(site: Path) -> str:
    (site / "templates").mkdir()
    text = (REPO / "templates" / "base.html").read_text(encoding="utf-8")
    assert "{% block main %}{% endblock %}" in text
    (site / "templates" / "base.html").write_text(text.replace("{% block main %}{% endblock %}", BROKEN_TEMPLATE))
    return "templates/base.html"


def break_content(site: Path) -> str:
    (site / "content" / "articles" / "2025-08-23-broken.md").write_text(
        "---\ntitle: Broken\ndate: 2025-08-23\nactors:\n  - no-such-actor\n---\nText.\n")
    return "content/articles/2025-08-23-broken.md"


@pytest.mark.nginx
@pytest.mark.parametrize("breakage", [break_template, break_content], ids=["template", "content"])
def test_a_failed_build_changes_nothing_at_the_target(tmp_path: Path, capsys, nginx, breakage):  # noqa: F811
    site, target = copy_example(tmp_path / "site"), tmp_path / "www" / "briefing"
    assert run(capsys, "--to", target, "--site", site)[0] == 0
    server = nginx(target, PREFIX)
    home, about = fetch(server.url("")).body, fetch(server.url("about/")).body
    before = state(target)

    edit_about(site, "This edition must not reach readers.")
    culprit = breakage(site)
    code, out, err = run(capsys, "--to", target, "--site", site)
    assert code == 1
    assert culprit in err and "error" in err
    assert "publish stopped" in err and "nothing was published" in err
    assert out == ""
    assert state(target) == before, "no new release, no debris, the link untouched"
    assert fetch(server.url("")).body == home and fetch(server.url("about/")).body == about


def test_dry_run_lists_the_changes_and_changes_nothing(tmp_path: Path, capsys):
    site, target = copy_example(tmp_path / "site"), tmp_path / "www" / "briefing"
    code, out, _ = run(capsys, "--dry-run", "--to", target, "--site", site)
    assert code == 0 and "+ index.html" in out.splitlines() and "+ sitemap.xml" in out.splitlines()
    assert out.splitlines()[-1].startswith(f"dry run, nothing changed: would publish to {target}")
    assert not target.exists() and not target.is_symlink() and releases(target) == []

    assert run(capsys, "--to", target, "--site", site)[0] == 0
    (site / "content" / "pages" / "about.md").unlink()
    (site / "content" / "pages" / "contact.md").write_text("---\ntitle: Contact\n---\nWrite to the desk.\n")
    before = state(target)
    code, out, _ = run(capsys, "--dry-run", "--to", target, "--site", site)
    lines = out.splitlines()
    assert code == 0
    assert "+ contact/index.html" in lines and "- about/index.html" in lines and "~ index.html" in lines
    assert "~ sitemap.xml" in lines
    assert all(re.match(r"[+~-] \S", line) for line in lines[:-1]), lines
    assert lines[-1].startswith(f"dry run, nothing changed: would publish to {target}: 1 added, ")
    assert lines[-1].endswith(" changed, 1 removed")
    assert state(target) == before


def test_a_broken_internal_link_stops_publish_naming_the_page_and_link(tmp_path: Path, capsys):
    site, target = copy_example(tmp_path / "site"), tmp_path / "www" / "briefing"
    assert run(capsys, "--to", target, "--site", site)[0] == 0
    before = state(target)
    (site / "content" / "pages" / "broken.md").write_text(
        "---\ntitle: Broken\n---\nSee [this page](/no-such-page/) for more.\n")
    code, out, err = run(capsys, "--to", target, "--site", site)
    assert code == 1 and out == ""
    [problem] = [line for line in err.splitlines() if "no-such-page" in line and "broken link" in line]
    assert problem.startswith("broken/index.html:") and f"'{PREFIX}no-such-page/'" in problem
    assert "nothing was published" in err
    assert state(target) == before

    capsys.readouterr()
    assert main(["check", "--links", "--site", str(site)]) == 1
    assert "broken/index.html" in capsys.readouterr().out


def git(*arguments: str | Path, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *map(str, arguments)], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def bare_remote(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", remote)
    return remote


def built(site: Path, out: Path) -> dict[str, bytes]:
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    return tree(out)


def test_publish_to_git_puts_exactly_the_built_site_on_gh_pages(tmp_path: Path, capsys, bare_remote: Path):
    site = copy_example(tmp_path / "site")
    with open(site / "site.yaml", "a") as config:
        config.write("domain: briefing.example.org\n")
    code, out, _ = run(capsys, "--to", f"git:{bare_remote}", "--site", site)
    assert code == 0 and out.startswith(f"published {bare_remote}#gh-pages (commit ")
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--branch", "gh-pages", bare_remote, clone)
    files = {k: v for k, v in tree(clone).items() if not k.startswith(".git/")}
    expected = built(site, tmp_path / "out")
    assert files == {**expected, ".nojekyll": b"", "CNAME": b"briefing.example.org\n"}
    assert not any(DRAFT_SLUG in path for path in files)
    assert git("for-each-ref", "--format=%(refname)", cwd=bare_remote) == "refs/heads/gh-pages", "one branch"

    # A second publish of a changed site is a second commit on top; the branch's history is kept.
    edit_about(site, "Second edition of this page.")
    code, out, _ = run(capsys, "--dry-run", "--to", f"git:{bare_remote}", "--site", site)
    assert code == 0 and out.splitlines() == ["~ about/index.html", out.splitlines()[-1]]
    assert git("rev-list", "--count", "gh-pages", cwd=bare_remote) == "1", "a dry run pushes nothing"
    assert run(capsys, "--to", f"git:{bare_remote}", "--site", site)[0] == 0
    assert git("rev-list", "--count", "gh-pages", cwd=bare_remote) == "2"
    assert b"Second edition" in git("show", "gh-pages:about/index.html", cwd=bare_remote).encode()


def test_a_rejected_push_leaves_the_branch_as_it_was(tmp_path: Path, capsys, bare_remote: Path):
    site = copy_example(tmp_path / "site", draft=False)
    assert run(capsys, "--to", f"git:{bare_remote}#pages", "--site", site)[0] == 0
    tip = git("rev-parse", "pages", cwd=bare_remote)
    hook = bare_remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pages are frozen today' >&2\nexit 1\n")
    hook.chmod(0o755)
    edit_about(site, "Second edition of this page.")
    code, out, err = run(capsys, "--to", f"git:{bare_remote}#pages", "--site", site)
    assert code == 1 and out == ""
    assert "rejected" in err and "nothing changed there" in err and "pages are frozen today" in err
    assert git("rev-parse", "pages", cwd=bare_remote) == tip


def test_publish_to_git_origin_leaves_the_sites_own_repository_alone(tmp_path: Path, capsys, bare_remote: Path):
    """`--to git:origin`, as on GitHub: the site's repository names the remote; its branch, index and
    working tree stay as they were."""
    site = copy_example(tmp_path / "site", draft=False)
    shutil.copy(REPO / ".gitignore", site / ".gitignore")
    git("init", "--quiet", "--initial-branch=main", cwd=site)
    git("add", ".", cwd=site)
    git("-c", "user.name=Desk", "-c", "user.email=desk@example.org", "commit", "--quiet", "-m", "site", cwd=site)
    git("remote", "add", "origin", bare_remote, cwd=site)
    edit_about(site, "An edit not committed yet.")

    def repository() -> tuple[str, ...]:
        return (git("status", "--porcelain", cwd=site), git("rev-parse", "HEAD", cwd=site),
                git("symbolic-ref", "HEAD", cwd=site), git("for-each-ref", cwd=site), git("stash", "list", cwd=site))

    before = repository()
    code, out, _ = run(capsys, "--to", "git:origin", "--site", site)
    assert code == 0 and out.startswith("published origin#gh-pages (commit ")
    assert repository() == before
    assert b"An edit not committed yet." in git("show", "gh-pages:about/index.html", cwd=bare_remote).encode()
    assert git("log", "-1", "--format=%s", "gh-pages", cwd=bare_remote).startswith(
        f"Publish briefing site from {git('rev-parse', '--short', 'HEAD', cwd=site)}")


def test_a_real_folder_with_files_at_the_target_is_refused(tmp_path: Path, capsys):
    site, target = copy_example(tmp_path / "site", draft=False), tmp_path / "www" / "briefing"
    target.mkdir(parents=True)
    (target / "index.html").write_text("hand-made")
    code, out, err = run(capsys, "--to", target, "--site", site)
    assert code == 1 and out == ""
    assert "real folder with files" in err and "move it away" in err
    assert [p.name for p in target.iterdir()] == ["index.html"] and not target.is_symlink()
    assert not (target.parent / "briefing.releases").exists()


# --- 4. under another subpath ------------------------------------------------------------------

@pytest.mark.nginx
def test_published_under_another_subpath_every_link_resolves(tmp_path: Path, nginx):  # noqa: F811
    site, target = copy_example(tmp_path / "site", draft=False), tmp_path / "www" / "deep"
    # nginx first, for its port: the base URL names it, and the link it serves does not exist yet.
    server = nginx(target, "/other/deep/")
    assert publish("--to", target, "--site", site, "--base-url", server.base_url) == 0
    result = crawl(server, server.base_url)
    assert broken_links(result) == []
    assert all(r.status == 200 for r in result.responses.values())
    assert result.files() == set(tree(target)) - {"404.html"}

    pages = result.pages()
    assert canonical(pages[""]) == server.base_url
    assert canonical(pages[BRIEFING]) == server.url(BRIEFING)
    for path, response in pages.items():
        for link in links_in(response):
            assert not link.startswith(("/briefing/", SITE_URL)), f"{path} links {link} (the old base URL)"
    feed = feedparser.parse(result.responses[server.url("feed.xml")].body)
    assert not feed.bozo and [e.link for e in feed.entries] == [server.url(BRIEFING)]
    assert f"Sitemap: {server.url('sitemap.xml')}" in result.responses[server.url("robots.txt")].body.decode()
    not_found = fetch(server.url("missing/"))
    assert not_found.status == 404 and not_found.body == (target / "404.html").read_bytes()


def break_tag_pages(site: Path) -> str:
    """A template that fails on the tag pages alone: the other pages render (and are written)."""
    (site / "templates").mkdir()
    (site / "templates" / "tag.html").write_text("{{ no_such_name.at_all }}\n")
    return "templates/tag.html"


@pytest.mark.parametrize("breakage", [break_template, break_content, break_tag_pages],
                         ids=["template", "content", "tag-template"])
def test_publish_and_check_links_build_into_a_folder_as_build_writes_it(tmp_path: Path, breakage):
    """publish and check --links build as `briefing build` does, the workers writing each page,
    instead of holding every page in memory: the folder holds exactly what a build in memory
    makes, and a failed build leaves it empty."""
    from generator.cli import build_into

    site = copy_example(tmp_path / "site")
    engine, result = build_into(tmp_path / "out", site, drafts=False)
    assert result.ok and engine.staging is not None and not result.files.keys() & result.staged.keys()
    assert any(path.endswith(".html") for path in result.staged)   # the pages went to the folder
    assert tree(tmp_path / "out") == dict(Engine(site, drafts=False, use_cache=False).build().files)

    breakage(site)
    _, failed = build_into(tmp_path / "failed", site, drafts=False)
    assert not failed.ok
    assert not (tmp_path / "failed").exists() or list((tmp_path / "failed").iterdir()) == []
