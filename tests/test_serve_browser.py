"""The preview in a real browser: a `PreviewServer` with a fake builder, driven by file changes
through the real watcher, seen through Chromium."""
from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest
from support.browser import browser, page  # noqa: F401  (fixtures)

from generator.engine import BuildResult
from generator.errors import Diagnostic
from generator.serve import PreviewServer

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

BASE = "/briefing/"


def html(title: str, css: str) -> bytes:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="{BASE}static/{css}"></head>'
            f'<body><h1>{title}</h1><div style="height: 4000px">text</div><p>end</p></body></html>').encode()


def site(title: str, css: str = "style.aaaaaaaa.css", color: str = "rgb(0, 0, 0)") -> dict[str, bytes]:
    return {"index.html": html(title, css), "404.html": html("Not found", css),
            f"static/{css}": f"h1 {{ color: {color} }}".encode()}


class FakeBuilder:
    """Answers each update with the result the test set last; later updates change nothing.

    A site set to fail stays failing, as a real one does until the file is fixed: one save can
    reach the server as two rebuilds (the watcher's events split by a busy machine), and a
    second rebuild that succeeded would take the overlay away before the test looked.
    """

    base_path = BASE

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self._next: BuildResult | None = None
        self._failing: BuildResult | None = None
        self._lock = threading.Lock()

    def build(self) -> BuildResult:
        return BuildResult(True, (), self.files, frozenset(self.files), frozenset(), 0.001)

    def update(self, paths) -> BuildResult:
        with self._lock:
            result, self._next = self._next, None
            failing = self._failing
        return result or failing or BuildResult(True, (), self.files, frozenset(), frozenset(), 0.001)

    def succeed(self, files: dict[str, bytes]) -> None:
        changed = {p for p, body in files.items() if self.files.get(p) != body}
        removed = set(self.files) - set(files)
        with self._lock:
            self.files = files
            self._next = BuildResult(True, (), files, frozenset(changed), frozenset(removed), 0.001)
            self._failing = None

    def fail(self, *diagnostics: Diagnostic) -> None:
        with self._lock:
            self._next = self._failing = BuildResult(False, diagnostics, self.files, frozenset(), frozenset(),
                                                     0.001)


@pytest.fixture
def preview(tmp_path: Path):
    (tmp_path / "content/articles").mkdir(parents=True)
    builder = FakeBuilder(site("Talks resume"))
    server = PreviewServer(builder, tmp_path, port=0, say=lambda line: None)
    server.start()
    counter = iter(range(1_000_000))

    def save() -> None:
        """An author saves an article: the watcher sees it and the server rebuilds."""
        (tmp_path / "content/articles/talks.md").write_text(f"edit {next(counter)}\n")

    yield server, builder, save
    server.stop()


def test_live_reload_overlay_and_stylesheet_swap(page, preview):  # noqa: F811
    server, builder, save = preview
    page.goto(server.url)
    expect(page.locator("h1")).to_have_text("Talks resume")

    # An edit shows without a manual reload.
    builder.succeed(site("Talks stall"))
    save()
    expect(page.locator("h1")).to_have_text("Talks stall")

    # A broken file shows an overlay naming the place; the page keeps the last good content.
    builder.fail(Diagnostic("content/articles/talks.md", 4, 9, "unknown actor '<b>rute</b>'",
                            "did you mean 'rutte'?"))
    save()
    overlay = page.locator("#briefing-overlay")
    expect(overlay.locator("li")).to_have_text(
        "content/articles/talks.md:4:9: error: unknown actor '<b>rute</b>' (did you mean 'rutte'?)")
    expect(overlay).to_be_visible()
    assert overlay.locator("li b").count() == 0                 # shown as text, never as markup
    expect(page.locator("h1")).to_have_text("Talks stall")

    # A page opened while the site is broken shows the overlay too.
    late = page.context.new_page()
    late.goto(server.url)
    expect(late.locator("#briefing-overlay li")).to_contain_text("content/articles/talks.md:4:9")
    late.close()

    # The fix removes the overlay and shows the new content.
    builder.succeed(site("Talks resume again"))
    save()
    expect(page.locator("h1")).to_have_text("Talks resume again")
    expect(overlay).to_have_count(0)

    # A stylesheet change swaps the stylesheet: no navigation, the scroll position stays.
    page.wait_for_load_state("load")    # after a reload, Chromium restores the old scroll position
    page.evaluate("window.notReloaded = true; window.scrollTo(0, 1500)")
    page.wait_for_function("window.scrollY === 1500")
    builder.succeed(site("Talks resume again", css="style.bbbbbbbb.css", color="rgb(200, 0, 0)"))
    save()
    expect(page.locator("h1")).to_have_css("color", "rgb(200, 0, 0)")
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("window.scrollY") == 1500
    links = page.locator('link[rel="stylesheet"]')
    expect(links).to_have_count(1)
    assert links.get_attribute("href") == f"{BASE}static/style.bbbbbbbb.css"
    assert page.console_errors == []


def test_a_state_reply_older_than_an_event_does_not_hide_the_overlay(page, preview):  # noqa: F811
    """A tab asks for the site's state as it loads and when the stream connects; the reply may
    arrive after a later event. Here it is held until a failed build's overlay is up."""
    server, builder, save = preview
    held = []
    page.route("**/__briefing__/state*",
               lambda route: held.append((route, urllib.request.urlopen(route.request.url).read())))
    page.goto(server.url)
    expect(page.locator("h1")).to_have_text("Talks resume")
    for _ in range(500):                # the page's own request, and the one when the stream connected
        if len(held) >= 2:
            break
        page.wait_for_timeout(20)
    assert len(held) >= 2 and all(json.loads(body)["ok"] for _, body in held)
    builder.fail(Diagnostic("content/articles/talks.md", 4, 9, "unknown actor 'rute'"))
    save()
    overlay = page.locator("#briefing-overlay")
    expect(overlay.locator("li")).to_contain_text("unknown actor 'rute'")
    for route, body in held:
        route.fulfill(status=200, content_type="application/json", body=body)
    page.evaluate("new Promise((done) => setTimeout(done, 300))")    # the replies are read and applied
    expect(overlay).to_be_visible(timeout=100)
    expect(overlay.locator("li")).to_contain_text("unknown actor 'rute'")


def test_unknown_pages_show_the_404_page(page, preview):  # noqa: F811
    server, _, _ = preview
    response = page.goto(server.url + "no-such-briefing/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    root = page.goto(server.url.removesuffix(BASE) + "/")
    assert root.url == server.url


def test_only_pages_whose_file_changed_reload(page, preview):  # noqa: F811
    server, builder, save = preview
    builder.succeed({**site("Home"), "briefings/talks/index.html": html("Talks", "style.aaaaaaaa.css")})
    save()
    page.goto(server.url + "briefings/talks/")
    expect(page.locator("h1")).to_have_text("Talks")
    page.evaluate("window.notReloaded = true")

    builder.succeed({**site("Home, edited"), "briefings/talks/index.html": html("Talks", "style.aaaaaaaa.css")})
    save()
    page.wait_for_timeout(300)
    assert page.evaluate("window.notReloaded") is True

    builder.succeed(site("Home, edited"))       # the briefing was deleted: its page is gone
    save()
    expect(page.locator("h1")).to_have_text("Not found")
