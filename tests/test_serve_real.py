"""The real `briefing serve`, started as a subprocess on a copy of a test site and seen through
Chromium: edits, stylesheet swaps, the error overlay, deletions, drafts, the port-in-use
fallback, Ctrl-C, and requests that try to leave the site."""
from __future__ import annotations

import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.browser import browser, page  # noqa: F401  (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
HISTORY = Path(__file__).resolve().parent / "sites" / "history"
MINIMAL = Path(__file__).resolve().parent / "sites" / "minimal"
THEME_CSS = REPO / "static" / "style.css"
ARTICLE = "content/articles/2024-03-11-talks-begin.md"     # served at briefings/talks-begin/
DRAFT = "content/articles/2024-04-01-assembly-vote.md"      # draft: true, served at briefings/assembly-vote/
URL_LINE = re.compile(r"serving (http://\S+) \(Ctrl-C to stop\)")


class Serve:
    """`python -m generator serve` in a subprocess; its output lines are read as they come."""

    def __init__(self, site: Path, *args: str, port: int = 0):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "generator", "serve", "--site", str(site), "--port", str(port), *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.SimpleQueue = queue.SimpleQueue()
        for stream, store in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, store), daemon=True).start()
        self.url = self.wait_for(URL_LINE)[1]

    def _read(self, stream, store: list[str]) -> None:
        for line in stream:
            store.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: re.Pattern, timeout: float = 20.0) -> re.Match:
        """The first stdout/stderr line from now on matching `pattern` (earlier lines included)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in (self.out + self.err)[seen:]:
                if match := pattern.search(line):
                    return match
            seen = len(self.out) + len(self.err)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None and self._lines.empty():
                raise AssertionError(f"no line matching {pattern.pattern!r}:\n{''.join(self.out)}{''.join(self.err)}")
            try:
                self._lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                pass

    def interrupt(self, timeout: float = 10.0) -> int:
        """Ctrl-C; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        finally:
            time.sleep(0.05)        # let the readers take the last lines

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def serve():
    """serve(site, *args, port=0) -> a running Serve; stopped after the test."""
    started: list[Serve] = []

    def start(site: Path, *args: str, port: int = 0) -> Serve:
        started.append(Serve(site, *args, port=port))
        return started[-1]

    yield start
    for server in started:
        server.interrupt()
        server.kill()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A copy of tests/sites/history (base URL https://example.org/history/) with a stylesheet
    of its own laid over the theme's (long pages, so there is room to scroll)."""
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    (site / "static").mkdir()
    (site / "static/style.css").write_text(THEME_CSS.read_text() + "\nbody { padding-bottom: 3000px }\n")
    return site


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def get(url: str, raw_path: str) -> tuple[int, bytes]:
    """A GET of `raw_path` sent exactly as given (no client-side normalisation)."""
    host, port = url.split("/")[2].rsplit(":", 1)
    connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=5)
    try:
        connection.putrequest("GET", raw_path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- editing ------------------------------------------------------------------------------------

def test_an_edited_body_shows_without_a_manual_reload(page, serve, history):  # noqa: F811
    server = serve(history)
    assert server.url.endswith("/history/")         # the base URL's subpath
    page.goto(server.url + "briefings/talks-begin/")
    expect(page.locator("h1")).to_contain_text("Verran talks begin")
    page.wait_for_load_state("load")
    page.evaluate("window.notReloaded = true; window.scrollTo(0, 400)")

    edit(history / ARTICLE, "The talks\nresume next week.",
         "The talks\nresume next week.\n\nObservers counted seventeen herons on the riverbank.")
    expect(page.get_by_text("Observers counted seventeen herons on the riverbank.")).to_be_attached(timeout=5000)
    # The new body was swapped in: no navigation, the reader's place kept.
    assert page.evaluate("[window.notReloaded, window.scrollY]") == [True, 400]
    server.wait_for(re.compile(r"rebuilt \d+ pages? in \d+ ms"))
    assert page.console_errors == []


def test_a_title_edit_shows_on_the_open_page_first_and_on_the_others_after(page, serve, history):  # noqa: F811
    """The pages on screen (the last ones served) are rendered and shown before the rest of the
    rebuild: here the pages opened earlier that list the briefing (its actor's page); those
    follow, and the terminal says when each was ready. A page never opened is rendered when it
    is, with the new title."""
    server = serve(history)
    page.goto(server.url + "actors/mira-kovac/")
    for other in ("actors/", "proposals/", "questions/", "timeline/", "tags/", "", "proposals/verran-water-accord/",
                  "proposals/flow-monitoring-station/"):
        page.goto(server.url + other)   # (8 pages since the actor's: it is no longer "on screen")
    page.goto(server.url + "briefings/talks-begin/")
    expect(page.locator("h1")).to_contain_text("Verran talks begin under a Commission mediator")
    edit(history / ARTICLE, "title: Verran talks begin under a Commission mediator",
         "title: Verran talks begin at dawn")
    expect(page.locator("h1")).to_contain_text("Verran talks begin at dawn", timeout=5000)
    server.wait_for(re.compile(r"rebuilt \d+ pages in \d+ ms \(\d+ pages? on screen in \d+ ms\)"))
    for path in ("actors/mira-kovac/", "questions/dry-year-flow/"):   # opened before; never opened
        other = page.context.new_page()
        other.goto(server.url + path)
        expect(other.get_by_role("link", name="Verran talks begin at dawn").first).to_be_visible(timeout=5000)
    assert page.console_errors == []


def test_a_page_whose_template_fails_for_its_data_shows_the_mistake_until_the_fix(page, serve, history):  # noqa: F811
    """Pages are rendered when opened: a template mistake only one actor's page meets shows when
    that page is opened, in the page and the terminal, and saving the fix reloads the page."""
    template = history / "templates" / "actor.html"
    template.parent.mkdir()
    theme = (REPO / "templates" / "actor.html").read_text()
    broken = '{% block main %}{% if actor.id == "mira-kovac" %}{{ actor.name|no_such_filter }}{% endif %}'
    template.write_text(theme.replace("{% block main %}", broken, 1))
    server = serve(history)
    page.goto(server.url + "actors/mira-kovac/")
    expect(page.locator("h1")).to_have_text("This page could not be rendered")
    expect(page.locator("pre")).to_contain_text("templates/actor.html:")
    server.wait_for(re.compile(r"templates/actor\.html:\d+:\d+: error: .*no_such_filter"
                               r".*opening /history/actors/mira-kovac/"))
    # (the browser logs the 500)
    assert all(e.startswith("Failed to load resource") for e in page.console_errors), page.console_errors
    logged = len(page.console_errors)
    template.write_text(theme)
    expect(page.locator("h1")).to_have_text("Mira Kovac", timeout=5000)
    assert page.console_errors[logged:] == []


def test_many_tabs_load_and_all_follow_an_edit(page, serve, history):  # noqa: F811
    """A browser opens at most six connections to one host: one event stream per tab would leave
    the seventh tab waiting forever. The tabs share one stream (a SharedWorker), so ten load,
    and every one of them shows the edit."""
    server = serve(history)
    tabs = [page] + [page.context.new_page() for _ in range(9)]
    errors = []
    for tab in tabs[1:]:
        tab.on("pageerror", lambda error: errors.append(str(error)))
    for tab in tabs:
        tab.goto(server.url + "briefings/talks-begin/", timeout=5000)
        expect(tab.locator("h1")).to_contain_text("Verran talks begin", timeout=5000)
    edit(history / ARTICLE, "The talks\nresume next week.",
         "The talks\nresume next week.\n\nEvery tab counted the same nine cormorants.")
    for tab in tabs:
        expect(tab.get_by_text("Every tab counted the same nine cormorants.")).to_be_attached(timeout=5000)
    # and a page opened now still loads, with all of them listening
    extra = page.context.new_page()
    extra.goto(server.url + "briefings/accord-proposed/", timeout=5000)
    expect(extra.locator("h1")).to_be_visible(timeout=5000)
    assert page.console_errors == [] and errors == []


def test_open_tabs_reload_when_the_server_restarts(page, serve, history):  # noqa: F811
    """The shared stream reconnects to a new server on the same port; each tab then asks what
    changed since its own build, which the new server cannot know, and reloads."""
    server = serve(history)
    port = int(server.url.split(":")[2].split("/")[0])
    tabs = [page, page.context.new_page()]
    for tab in tabs:
        tab.goto(server.url + "briefings/talks-begin/")
        tab.wait_for_load_state("load")
        tab.evaluate("window.fromTheFirstServer = true")
    assert server.interrupt() == 0
    edit(history / ARTICLE, "The talks\nresume next week.", "The talks\nresume after the holiday.")
    serve(history, port=port)
    for tab in tabs:
        tab.wait_for_function("window.fromTheFirstServer === undefined", timeout=10_000)
        expect(tab.get_by_text("resume after the holiday")).to_be_attached()


def test_without_shared_workers_each_tab_has_its_own_stream(page, serve, history):  # noqa: F811
    page.add_init_script("window.SharedWorker = undefined")   # as in a browser without them
    server = serve(history)
    page.goto(server.url + "briefings/talks-begin/")
    page.wait_for_load_state("load")
    page.evaluate("window.notReloaded = true")
    edit(history / ARTICLE, "The talks\nresume next week.", "The talks\nresume once the river falls.")
    expect(page.get_by_text("resume once the river falls")).to_be_attached(timeout=5000)
    assert page.evaluate("window.notReloaded") is True
    assert page.console_errors == []


def test_a_stylesheet_edit_swaps_the_style_without_a_navigation(page, serve, history):  # noqa: F811
    server = serve(history)
    page.goto(server.url + "briefings/talks-begin/")
    page.wait_for_load_state("load")
    page.evaluate("window.notReloaded = true; window.scrollTo(0, 600)")
    page.wait_for_function("window.scrollY === 600")
    origin = page.evaluate("performance.timeOrigin")
    old_href = page.locator('link[rel="stylesheet"]').first.get_attribute("href")

    with (history / "static/style.css").open("a") as css:
        css.write("\nbody { outline: 3px solid rgb(1, 2, 3) }\n")
    page.wait_for_function("getComputedStyle(document.body).outlineColor === 'rgb(1, 2, 3)'", timeout=5000)

    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("performance.timeOrigin") == origin
    assert page.evaluate("window.scrollY") == 600
    links = page.locator('link[rel="stylesheet"]')
    expect(links).to_have_count(1)
    assert links.first.get_attribute("href") != old_href        # the new fingerprint
    assert page.console_errors == []


def test_a_yaml_error_shows_an_overlay_until_it_is_fixed(page, serve, history):  # noqa: F811
    server = serve(history)
    page.goto(server.url + "briefings/talks-begin/")
    expect(page.locator("h1")).to_contain_text("Verran talks begin")
    page.evaluate("window.notReloaded = true")

    article = history / ARTICLE
    good = article.read_text()
    edit(article, "summary: >-\n", "summary: >- oops: [\n")        # line 5
    overlay = page.locator("#briefing-overlay")
    expect(overlay).to_be_visible(timeout=5000)
    expect(overlay.locator("li").first).to_contain_text(f"{ARTICLE}:5:")
    expect(overlay.locator("li").first).to_contain_text("YAML")
    expect(overlay.locator("h2")).to_contain_text("Build failed")
    expect(overlay.locator("li pre").first).to_contain_text("5 | summary: >- oops: [")    # the line, quoted
    server.wait_for(re.compile(re.escape(ARTICLE) + r":5:\d+: error: YAML"))     # the terminal says it too

    # The last good site is still served, and this page was left alone.
    expect(page.locator("h1")).to_contain_text("Verran talks begin")
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("fetch('../accord-proposed/').then((r) => r.status)") == 200
    assert get(server.url, "/history/method/")[0] == 200
    # A page opened now shows the overlay as well.
    late = page.context.new_page()
    late.goto(server.url + "method/")
    expect(late.locator("#briefing-overlay li").first).to_contain_text(f"{ARTICLE}:5:")

    article.write_text(good.replace("The talks\nresume next week.",
                                    "The talks\nresume next week.\n\nThe fixed version mentions a ferry."))
    expect(page.get_by_text("The fixed version mentions a ferry.")).to_be_visible(timeout=5000)
    expect(overlay).to_have_count(0)
    expect(late.locator("#briefing-overlay")).to_have_count(0)     # on pages the fix did not change too
    assert server.proc.poll() is None
    assert page.console_errors == []


def test_renamed_and_deleted_articles_move_and_answer_404(page, serve, history):  # noqa: F811
    server = serve(history)
    renamed = history / DRAFT.replace("assembly-vote", "assembly-delay")
    (history / DRAFT).rename(renamed)
    deadline = time.monotonic() + 5
    while get(server.url, "/history/briefings/assembly-delay/")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(server.url, "/history/briefings/assembly-delay/")[0] == 200
    assert get(server.url, "/history/briefings/assembly-vote/")[0] == 404

    response = page.goto(server.url + "briefings/assembly-delay/")
    assert response.status == 200
    page.evaluate("window.notReloaded = true")

    renamed.unlink()
    page.wait_for_function("window.notReloaded !== true", timeout=5000)    # the page reloaded itself
    page.wait_for_load_state("load")
    expect(page.locator("h1")).to_contain_text("not found", ignore_case=True)
    status, body = get(server.url, "/history/briefings/assembly-delay/")
    assert status == 404
    assert b"__briefing__/livereload.js" in body                # the 404 page live-reloads too
    assert get(server.url, "/history/briefings/talks-begin/")[0] == 200


def test_drafts_show_a_banner(page, serve, history):  # noqa: F811
    server = serve(history)
    page.goto(server.url + "briefings/assembly-vote/")
    expect(page.locator(".draft-banner")).to_contain_text("DRAFT")
    expect(page.locator(".draft-banner")).to_be_visible()
    page.goto(server.url + "briefings/talks-begin/")
    expect(page.locator(".draft-banner")).to_have_count(0)


# -- preview only -------------------------------------------------------------------------------

def test_the_live_reload_script_is_only_in_preview_pages(serve, history, tmp_path):
    out = tmp_path / "out"
    build = subprocess.run([sys.executable, "-m", "generator", "build", "--site", str(history), "--drafts",
                            "--out", str(out), "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, build.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files)
    assert [p for p in files if b"__briefing__" in p.read_bytes() or b"livereload" in p.read_bytes()] == []

    server = serve(history)
    status, body = get(server.url, "/history/briefings/talks-begin/")
    assert status == 200 and b"/history/__briefing__/livereload.js" in body


def test_a_subpath_given_on_the_command_line(serve, tmp_path):
    site = tmp_path / "minimal"
    shutil.copytree(MINIMAL, site)
    server = serve(site, "--base-url", "https://example.org/briefing/")
    assert server.url.endswith("/briefing/")
    status, body = get(server.url, "/briefing/")
    assert status == 200 and b'href="/briefing/' in body
    assert get(server.url, "/briefing/briefings/first-note/")[0] == 200
    assert get(server.url, "/")[0] == 302                    # to /briefing/
    assert get(server.url, "/briefings/first-note/")[0] == 404


def test_a_site_big_enough_for_workers_is_served_as_rendered_in_process(serve, history):
    # 200 more briefings: the first build parses on forked workers (parallel.MIN_ITEMS), before
    # the watcher starts, and leaves the pages to render as they are asked for (ondemand.py);
    # they must be the ones one process renders, and edits must follow.
    import datetime as dt

    from generator.engine import Engine

    first = dt.date(2024, 5, 1)
    for n in range(200):
        day = first + dt.timedelta(days=n)
        (history / f"content/articles/{day}-follow-up-{n}.md").write_text(
            f"---\ntitle: Follow-up {n} on the Verran talks\ndate: {day}\ntags: [water]\n"
            f"actors: [mira-kovac, arland]\n---\n\nMira Kovac met Arland's envoy again, day {n}.\n")
    expected = Engine(history, drafts=True, use_cache=False, parallel=False).build().files

    server = serve(history)
    server.wait_for(re.compile(r"ready in \d+ ms: \d+ pages, each rendered when first opened"))
    script = re.compile(rb'<script src="/history/__briefing__/livereload\.js"[^>]*></script>')
    pages = ["briefings/follow-up-0/index.html", "briefings/follow-up-199/index.html",
             "actors/mira-kovac/index.html", "tags/water/index.html", "index.html", "page/2/index.html"]
    for output in pages:
        status, body = get(server.url, "/history/" + output.removesuffix("index.html"))
        assert status == 200, output
        assert script.sub(b"", body) == expected[output], output

    article = history / "content/articles/2024-05-01-follow-up-0.md"
    edit(article, "day 0.", "day zero, after the first build.")
    server.wait_for(re.compile(r"rebuilt \d+ pages? in"))
    assert b"day zero, after the first build." in get(server.url, "/history/briefings/follow-up-0/")[1]


# -- the process --------------------------------------------------------------------------------

def test_a_port_in_use_moves_to_the_next(serve, history):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = serve(history, port=port)
        server.wait_for(re.compile(rf"port {port} is in use, trying {port + 1}"))
        served = int(server.url.split("/")[2].rsplit(":", 1)[1])
        assert served > port
        assert get(server.url, "/history/")[0] == 200


def test_ctrl_c_stops_cleanly(page, serve, history):  # noqa: F811
    server = serve(history)
    page.goto(server.url + "briefings/talks-begin/")       # an open page, and a live event stream
    page.evaluate("url => { window.stream = new EventSource(url); }", server.url + "__briefing__/events")
    page.wait_for_function("window.stream.readyState === 1")
    started = time.monotonic()
    assert server.interrupt() == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in "".join(server.err), "".join(server.err)
    assert "stopped" in "".join(server.out)


# -- requests that try to leave the site ---------------------------------------------------------

LEAKS = [
    "/history/../secret.txt", "/history/../../secret.txt", "/../secret.txt", "/history/%2e%2e/secret.txt",
    "/history/%2E%2E/%2e%2e/secret.txt", "/history/..%2fsecret.txt", "/history/%2e%2e%2fsecret.txt",
    "/history/%252e%252e/secret.txt", "/history/static/../../secret.txt", "/history/..\\secret.txt",
    "/history/%5c..%5csecret.txt", "//secret.txt", "/history//secret.txt", "/history/site.yaml",
    "/history/content/articles/2024-03-11-talks-begin.md", "/history/static/style.css/..",
    "http://localhost/history/../secret.txt", "/history/%00/../secret.txt", "/etc/passwd",
    "/history/../../../../../../etc/passwd", "/history/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
]


def test_requests_never_read_files_outside_the_site(serve, history):
    (history / "secret.txt").write_text("SECRET-IN-SITE\n")
    (history.parent / "secret.txt").write_text("SECRET-OUTSIDE\n")
    server = serve(history)
    for raw in LEAKS:
        status, body = get(server.url, raw)
        assert status in (301, 302, 400, 404), (raw, status)
        assert b"SECRET" not in body and b"root:" not in body and b"draft: true" not in body, raw
        assert b"title: Verran" not in body, raw
    assert server.proc.poll() is None


def test_a_symlink_out_of_the_site_is_not_served(serve, history):
    secret = history.parent / "linked-secret.txt"
    secret.write_text("SECRET-VIA-SYMLINK\n")
    (history / "static/leak.txt").symlink_to(secret)
    server = serve(history)
    status, body = get(server.url, "/history/static/leak.txt")
    assert b"SECRET" not in body and status == 404


def test_ipv6_loopback_when_asked(serve, history):
    try:
        socket.socket(socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6")
    server = serve(history, "--host", "::1")
    assert server.url.startswith("http://[::1]:")
    assert get(server.url, "/history/")[0] == 200


def test_the_overlay_quotes_the_line_inside_the_site_only(tmp_path):
    from generator.errors import Diagnostic
    from generator.serve import source_line

    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    (site / "content/a.md").write_text("---\ntitle:\tx: y\n---\n")
    (tmp_path / "outside.md").write_text("secret\n")
    assert source_line(site, Diagnostic("content/a.md", 2, 9, "m")) == {"line": 2, "text": "title:  x: y", "caret": 9}
    assert source_line(site, Diagnostic("content/a.md", 2, 0, "m"))["caret"] is None
    assert source_line(site, Diagnostic("content/a.md", 9, 1, "m")) is None
    assert source_line(site, Diagnostic("content/a.md", 0, 0, "m")) is None
    assert source_line(site, Diagnostic("../outside.md", 1, 1, "m")) is None
    assert source_line(site, Diagnostic(str(tmp_path / "outside.md"), 1, 1, "m")) is None
    assert source_line(None, Diagnostic("content/a.md", 2, 1, "m")) is None


@pytest.mark.skipif(os.environ.get("BRIEFING_SCREENSHOTS") != "1",
                    reason="rewrites docs/screenshots/overlay.png only when BRIEFING_SCREENSHOTS=1")
def test_overlay_screenshot(browser, serve, tmp_path):  # noqa: F811
    """docs/screenshots/overlay.png: the example site's article with a colon in its title."""
    site = tmp_path / "example"
    site.mkdir()
    for part in ("site.yaml", "content", "static", "templates"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, site / part)
    server = serve(site)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(server.url + "briefings/rutte-in-kyiv/")
        page.wait_for_load_state("load")
        edit(site / "content/articles/2025-08-22-rutte-in-kyiv.md",
             "title: NATO's Rutte in Kyiv as allies", "title: NATO's Rutte in Kyiv: allies")
        expect(page.locator("#briefing-overlay li pre")).to_be_visible()
        page.wait_for_timeout(200)
        (REPO / "docs/screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=REPO / "docs/screenshots/overlay.png")
    finally:
        context.close()
