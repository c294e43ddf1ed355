"""The link check over a built site: broken links, anchors and assets are found with their place;
what is not ours (other hosts, paths outside the base path) is left alone."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.errors import Diagnostic
from generator.linkcheck import (
    _DULL_TAG,
    _original_column,
    _PageParser,
    _srcset_urls,
    check_links,
    check_links_in_folder,
)


def page(body: str, head: str = "") -> bytes:
    return (f"<!doctype html>\n<html lang=\"en\">\n<head>\n<title>t</title>\n{head}</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n").encode()


def site(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {
        "index.html": page('<nav class="site"><a href="/briefing/">Home</a> '
                           '<a href="/briefing/briefings/rutte-in-kyiv/">Rutte</a></nav>',
                           head='<link rel="stylesheet" href="/briefing/static/style.3fa2c1.css">\n'),
        "briefings/rutte-in-kyiv/index.html": page(
            '<p id="q-too-early">It is too early.</p>\n<a name="old-anchor"></a>\n'
            '<a href="../../">Home</a> <a href="#q-too-early">the quote</a>'),
        "actors/mark-rutte/index.html": page(
            '<a href="/briefing/briefings/rutte-in-kyiv/#q-too-early">said</a>'),
        "static/style.3fa2c1.css": b"body { background: url(bg.png); }",
        "static/bg.png": b"\x89PNG",
        "404.html": page('<a href="/briefing/">Home</a>'),
        "feed.xml": b"<feed/>",
    }
    files.update(extra or {})
    return files


def messages(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.format() for d in diagnostics]


def test_a_sound_site_has_no_broken_links():
    assert check_links(site(), "/briefing/") == []


def test_broken_link_is_named_with_its_page_line_and_column():
    files = site({"about/index.html": page('<p>See <a class="x" href="/briefing/briefings/nope/">this</a></p>')})
    [diagnostic] = check_links(files, "/briefing/")
    assert diagnostic.path == "about/index.html"
    assert diagnostic.line == 7
    assert diagnostic.column == len("<p>See ") + 1
    assert diagnostic.message == "broken link '/briefing/briefings/nope/'"
    assert diagnostic.hint == "no such page: briefings/nope/"
    assert diagnostic.format() == ("about/index.html:7:8: error: broken link '/briefing/briefings/nope/' "
                                   "(no such page: briefings/nope/)")


def test_broken_anchor_on_another_page_and_on_the_same_page():
    files = site({
        "actors/x/index.html": page('<a href="/briefing/briefings/rutte-in-kyiv/#q-gone">a</a>\n'
                                   '<a href="#nowhere">b</a>')}
    )
    assert messages(check_links(files, "/briefing/")) == [
        "actors/x/index.html:7:1: error: broken anchor '#q-gone' in 'briefings/rutte-in-kyiv/' "
        "(no element with id 'q-gone' on that page)",
        "actors/x/index.html:8:1: error: broken anchor '#nowhere' in 'actors/x/' "
        "(no element with id 'nowhere' on that page)",
    ]


def test_anchors_may_be_a_name_top_or_empty_and_are_percent_decoded():
    files = site({"x/index.html": page(
        '<h2 id="caf\u00e9">x</h2><a href="/briefing/briefings/rutte-in-kyiv/#old-anchor">a</a>'
        '<a href="#top">top</a><a href="#">empty</a><a href="#caf%C3%A9">encoded</a>')})
    assert check_links(files, "/briefing/") == []


def test_links_outside_the_base_path_and_other_hosts_are_not_checked():
    files = site({"x/index.html": page(
        '<a href="/elsewhere/nope/">other app</a> <a href="https://example.com/nope/">other host</a>'
        '<a href="//cdn.example.com/x.js">scheme-relative</a> <a href="mailto:desk@example.org">mail</a>'
        '<a href="tel:+3212345">phone</a> <img src="data:image/png;base64,AAAA" alt="">'
        '<a href="javascript:void(0)">js</a>')})
    assert check_links(files, "/briefing/") == []


def test_absolute_links_to_the_site_itself_are_checked_when_its_url_is_given():
    files = site({"x/index.html": page(
        '<link rel="canonical" href="https://example.org/briefing/x/">'
        '<a href="https://example.org/briefing/gone/">gone</a>')})
    assert check_links(files, "/briefing/") == []
    assert messages(check_links(files, "/briefing/", site_url="https://example.org/briefing/")) == [
        "x/index.html:7:62: error: broken link 'https://example.org/briefing/gone/' (no such page: gone/)"]


def test_pretty_urls_resolve_to_index_html_and_a_missing_slash_is_reported():
    files = site({"x/index.html": page(
        '<a href="/briefing/briefings/rutte-in-kyiv/">ok</a> <a href="../briefings/rutte-in-kyiv/index.html">ok</a>'
        '\n<a href="/briefing/briefings/rutte-in-kyiv">no slash</a>')})
    assert messages(check_links(files, "/briefing/")) == [
        "x/index.html:8:1: error: broken link '/briefing/briefings/rutte-in-kyiv' "
        "(no such file; the page is briefings/rutte-in-kyiv/)"]


def test_srcset_candidates_are_each_checked():
    files = site({"x/index.html": page(
        '<picture><source srcset="/briefing/static/bg.png 1x, /briefing/static/big.png 2x">'
        '<img src="/briefing/static/bg.png" srcset="../static/bg.png 480w, ../static/gone.png 800w" alt="">'
        '</picture>')})
    assert [d.message for d in check_links(files, "/briefing/")] == [
        "broken link '/briefing/static/big.png'", "broken link '../static/gone.png'"]


def test_srcset_parsing():
    assert _srcset_urls("a.png") == ["a.png"]
    assert _srcset_urls(" a.png 1x ,b.png 2x") == ["a.png", "b.png"]
    assert _srcset_urls("a.png 1x,b.png 2x,c.png") == ["a.png", "b.png", "c.png"]
    assert _srcset_urls("data:image/png;base64,AAA,BBB 1x, c.png 2x") == ["data:image/png;base64,AAA,BBB", "c.png"]
    assert _srcset_urls("a.png,b.png") == ["a.png,b.png"]  # as the HTML standard parses it
    assert _srcset_urls("") == []


def test_assets_scripts_and_stylesheet_urls_are_checked():
    files = site({
        "x/index.html": page('<script src="/briefing/static/app.js"></script>',
                           head='<link rel="stylesheet" href="/briefing/static/style.000000.css">\n'),
        "static/extra.css": b"a {}\n.b { background: url('missing.svg') }\n@import \"/briefing/static/bg.png\";"}
    )
    assert messages(check_links(files, "/briefing/")) == [
        "static/extra.css:2:18: error: broken link 'missing.svg' (no such file: static/missing.svg)",
        "x/index.html:5:1: error: broken link '/briefing/static/style.000000.css' "
        "(no such file: static/style.000000.css)",
        "x/index.html:8:1: error: broken link '/briefing/static/app.js' (no such file: static/app.js)",
    ]


def test_relative_links_resolve_against_the_page_and_its_base_element():
    files = site({
        "briefings/a/index.html": page('<a href="../rutte-in-kyiv/">ok</a> <a href="../../actors/">missing</a>'),
        "briefings/b/index.html": page('<a href="briefings/rutte-in-kyiv/">via base</a>',
                                      head='<base href="/briefing/">\n')}
    )
    assert messages(check_links(files, "/briefing/")) == [
        "briefings/a/index.html:7:36: error: broken link '../../actors/' (no such page: actors/)"]


def test_the_404_page_must_not_use_relative_links():
    files = site({"404.html": page('<a href="briefings/rutte-in-kyiv/">x</a>')})
    [diagnostic] = check_links(files, "/briefing/")
    assert diagnostic.path == "404.html"
    assert diagnostic.message == "relative link 'briefings/rutte-in-kyiv/' in the 404 page"


def test_links_in_comments_and_scripts_are_not_links():
    files = site({"x/index.html": page(
        '<!-- <a href="/briefing/old/">old</a> -->\n'
        '<script>document.write(\'<a href="/briefing/nope/">x</a>\');</script>\n'
        '<script type="application/ld+json">{"url": "/briefing/nope/"}</script>')})
    assert check_links(files, "/briefing/") == []


def test_a_tag_spanning_lines_is_placed_at_its_start():
    files = site({"x/index.html": page('<p>\n  <a class="c"\n     href="/briefing/nope/">x</a></p>')})
    [diagnostic] = check_links(files, "/briefing/")
    assert (diagnostic.line, diagnostic.column) == (8, 3)


def test_base_path_is_normalized_and_root_works():
    files = {"index.html": page('<a href="/x/">x</a> <a href="/y/">y</a>'), "x/index.html": page("")}
    for base in ("/", ""):
        assert [d.message for d in check_links(files, base)] == ["broken link '/y/'"]
    assert check_links(site(), "briefing") == check_links(site(), "/briefing/") == []


def test_meta_refresh_redirect_pages_are_checked():
    files = site({"old/index.html": page(
        "", head='<meta http-equiv="refresh" content="0; url=/briefing/briefings/gone/">\n')})
    assert [d.message for d in check_links(files, "/briefing/")] == ["broken link '/briefing/briefings/gone/'"]


def test_folder_check_equals_memory_check(tmp_path: Path):
    files = site({"x/index.html": page('<a href="/briefing/nope/">x</a><a href="#q">q</a>')})
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    found = check_links_in_folder(tmp_path, "/briefing/")
    assert found == check_links(files, "/briefing/")
    assert len(found) == 2


def big_site(pages: int, broken_every: int = 0) -> dict[str, bytes]:
    """A site of `pages` briefings about the size of real ones, each linking its neighbours,
    actors and a quote anchor on another page."""
    nav = "".join(f'<li class="nav-item"><a href="/briefing/{s}/">{s}</a></li>'
                  for s in ("actors", "proposals", "timeline"))
    text = "<p>" + "The ministers met again to discuss the guarantees and the troops. " * 10 + "</p>\n"
    files: dict[str, bytes] = {f"{s}/index.html": page("") for s in ("actors", "proposals", "timeline")}
    files["static/style.3fa2c1.css"] = b"body {}"
    for i in range(pages):
        neighbour = (i + 1) % pages
        broken = "-gone" if broken_every and i % broken_every == 0 else ""
        body = (f'<header class="site"><ul class="nav">{nav}</ul></header>\n<main class="briefing">'
                + text * 8
                + "".join(f'<p class="q"><q id="q-{k}">quote {k}</q> <a href="#q-{k}">link</a></p>\n'
                          for k in range(5))
                + f'<a href="/briefing/briefings/b{neighbour}/#q-3{broken}">next</a></main>')
        files[f"briefings/b{i}/index.html"] = page(
            body, head='<link rel="stylesheet" href="/briefing/static/style.3fa2c1.css">\n')
    return files


def test_parallel_check_finds_what_the_serial_check_finds():
    files = big_site(300, broken_every=7)
    serial = check_links(files, "/briefing/", workers=1)
    assert len(serial) == len(range(0, 300, 7))
    assert check_links(files, "/briefing/", workers=2) == serial


@pytest.mark.slow
def test_ten_thousand_pages_take_seconds_not_minutes():
    files = big_site(10_000)
    started = time.perf_counter()
    assert check_links(files, "/briefing/") == []
    elapsed = time.perf_counter() - started
    # About two seconds of CPU; the bound only catches work that grows faster than the site
    # (parsing a page once per link to it, say), not a busy machine.
    assert elapsed < 60, f"{elapsed:.1f}s"


# --- the pre-filter that drops tags which cannot matter never changes what is found -----------

TAGS = st.sampled_from(["p", "div", "span", "a", "img", "li", "section", "q", "em", "meta", "br"])
ATTRIBUTE_NAMES = st.sampled_from(["class", "id", "href", "src", "name", "title", "data-x", "srcset", "alt"])
VALUES = st.sampled_from(["x", "/briefing/a/", "#q", "a b", "1>2", "it's", 'say "hi"', "", "&amp;"])


@st.composite
def tags(draw) -> str:
    name = draw(TAGS)
    if draw(st.booleans()):
        return f"</{name}>"
    attributes = []
    for attribute in draw(st.lists(ATTRIBUTE_NAMES, max_size=3, unique=True)):
        value = draw(VALUES)
        quote = '"' if "'" in value else draw(st.sampled_from(['"', "'"] + ([""] if value.isalnum() else [])))
        if quote == '"' and '"' in value:
            quote = "'"
        attributes.append(f" {attribute}={quote}{value}{quote}" if draw(st.booleans()) or value
                          else f" {attribute}")
    space = draw(st.sampled_from(["", " ", "\n"]))
    return f"<{name}{''.join(attributes)}{space}{draw(st.sampled_from(['', '/']))}>"


HTML = st.lists(st.one_of(tags(), st.sampled_from(["text", "\n", " ", "<!-- <a href='/c'> -->",
                                                   "<script>var a = '<a href=\"/s\">';</script>",
                                                   "<style>p > a { }</style>", "&lt;", "<br>", "</p >",
                                                   "<textarea><a href='/t'></textarea>", "<title>t</title>",
                                                   "<iframe src='/f'><p></iframe>", "<template>",
                                                   "<noscript><a href='/n'></noscript>"])),
                max_size=25).map("".join)


def unfiltered(text: str):
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser.page


def filtered(text: str):
    parser = _PageParser()
    parser.feed(_DULL_TAG.sub("", text))
    parser.close()
    return parser.page


@settings(max_examples=400, deadline=None)
@given(HTML)
def test_dropping_dull_tags_keeps_every_link_anchor_and_place(text: str):
    full, quick = unfiltered(text), filtered(text)
    assert quick.anchors == full.anchors
    lines = text.split("\n")
    assert [(link.url, link.line, _original_column(lines[link.line - 1], link.column)) for link in quick.links] \
        == [(link.url, link.line, link.column + 1) for link in full.links]
