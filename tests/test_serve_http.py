"""The preview's HTTP layer: `respond` without a socket, what a rebuild tells open pages, and a
few checks through a real socket (port fallback, IPv6, the event stream)."""
from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.engine import BuildResult
from generator.errors import Diagnostic
from generator.parallel import MIN_ITEMS
from generator.serve import (
    Preview,
    PreviewHTTPServer,
    PreviewServer,
    ServeError,
    bind,
    content_type,
    inject_script,
    page_event,
    rebuild_summary,
    respond,
)

PAGE = b"<!doctype html><html><head><title>t</title></head><body><h1>%s</h1></body></html>"
FILES = {
    "index.html": PAGE % b"home",
    "briefings/talks/index.html": PAGE % b"talks",
    "404.html": PAGE % b"not here",
    "static/style.3fa2c1d4.css": b"body{color:#111}",
    "static/app.js": b"console.log(1)",
    "static/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "static/logo.png": b"\x89PNG\r\n",
    "feed.xml": b"<?xml version='1.0'?><feed/>",
    "sitemap.xml": b"<?xml version='1.0'?><urlset/>",
    "search.json": b"[]",
    "robots.txt": b"User-agent: *\n",
}
SCRIPT = b"__briefing__/livereload.js"


def result(files=FILES, ok=True, diagnostics=(), changed=(), removed=()) -> BuildResult:
    return BuildResult(ok, tuple(diagnostics), dict(files), frozenset(changed), frozenset(removed), 0.01)


@pytest.fixture
def preview() -> Preview:
    return Preview("/briefing/", result())


def get(preview: Preview, path: str, method: str = "GET"):
    return respond(preview, method, path)


# -- paths -----------------------------------------------------------------------------------------

def test_serves_the_home_page_under_the_base_path(preview):
    response = get(preview, "/briefing/")
    assert response.status == 200
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    assert b"<h1>home</h1>" in response.body
    assert response.header("Cache-Control") == "no-store"
    assert response.header("Content-Length") == str(len(response.body))


def test_pretty_urls(preview):
    assert b"<h1>talks</h1>" in get(preview, "/briefing/briefings/talks/").body
    assert b"<h1>talks</h1>" in get(preview, "/briefing/briefings/talks/index.html").body


def test_a_folder_without_its_slash_redirects(preview):
    response = get(preview, "/briefing/briefings/talks?x=1")
    assert response.status == 301
    assert response.header("Location") == "/briefing/briefings/talks/?x=1"


def test_root_redirects_to_the_base_path(preview):
    assert (get(preview, "/").status, get(preview, "/").header("Location")) == (302, "/briefing/")
    assert (get(preview, "/briefing").status, get(preview, "/briefing").header("Location")) == (301, "/briefing/")


def test_a_site_at_the_root():
    preview = Preview("/", result())
    assert b"<h1>home</h1>" in get(preview, "/").body
    assert get(preview, "/briefings/talks/").status == 200
    assert get(preview, "/briefing/").status == 404


@pytest.mark.parametrize("path", [
    "/briefing/nope/", "/briefing/nope", "/elsewhere/", "/briefings/talks/", "/briefing/index.htm",
    "/briefing/briefings/talks/index.html/", "/briefing/__briefing__/nope",
])
def test_unknown_paths_get_the_404_page(preview, path):
    response = get(preview, path)
    assert response.status == 404
    if "__briefing__" not in path:
        assert b"<h1>not here</h1>" in response.body
        assert SCRIPT in response.body


def test_a_site_without_a_404_page_still_answers_404():
    preview = Preview("/", result({"index.html": PAGE % b"home"}))
    response = get(preview, "/missing")
    assert response.status == 404
    assert b"Not found" in response.body and SCRIPT in response.body


@pytest.mark.parametrize("path", [
    "/briefing/../etc/passwd",
    "/briefing/briefings/../index.html",
    "/briefing/%2e%2e/etc/passwd",
    "/briefing/%2E%2E/%2E%2E/etc/passwd",
    "/briefing/..%2fetc%2fpasswd",
    "/briefing/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/briefing/%252e%252e/etc/passwd",
    "/briefing/%252e%252e%252fetc%252fpasswd",
    "/briefing/..%5c..%5cwindows",
    "/briefing/..\\..\\windows",
    "/briefing/static\\style.3fa2c1d4.css",
    "/briefing//etc/passwd",
    "/briefing/%2fetc/passwd",
    "//etc/passwd",
    "/briefing/index.html%00.css",
    "/briefing/index.html\x00",
    "/briefing/%0d%0aSet-Cookie:x=1",
    "/briefing/./index.html",
    "etc/passwd",
    "/briefing/%ff",
])
def test_traversal_and_smuggling_are_refused(preview, path):
    response = get(preview, path)
    assert response.status == 400
    assert response.body == b"bad request\n"


def test_absolute_form_targets_are_reduced_to_their_path(preview):
    assert b"<h1>talks</h1>" in get(preview, "http://127.0.0.1:8000/briefing/briefings/talks/").body
    assert get(preview, "file:///etc/passwd").status == 404


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_path_gets_a_file_of_the_site_or_an_error(path):
    preview = Preview("/b/", result())
    response = respond(preview, "GET", "/b/" + path)
    assert response.status in (200, 301, 400, 404)
    if response.status == 200:
        served = re.sub(rb"<script src=\"/b/__briefing__/livereload.js\"[^>]*></script>", b"", response.body)
        assert served in FILES.values()


def test_percent_encoded_names_are_decoded_once():
    preview = Preview("/", result({"a b/index.html": PAGE % b"spaced", "404.html": b"x"}))
    assert get(preview, "/a%20b/").status == 200


# -- types and the script --------------------------------------------------------------------------

@pytest.mark.parametrize("path, mime", [
    ("static/style.3fa2c1d4.css", "text/css; charset=utf-8"),
    ("static/app.js", "text/javascript; charset=utf-8"),
    ("static/logo.svg", "image/svg+xml"),
    ("static/logo.png", "image/png"),
    ("feed.xml", "application/atom+xml"),
    ("sitemap.xml", "application/xml"),
    ("search.json", "application/json"),
    ("robots.txt", "text/plain; charset=utf-8"),
    ("index.html", "text/html; charset=utf-8"),
])
def test_mime_types(preview, path, mime):
    assert content_type(path) == mime
    response = get(preview, "/briefing/" + path)
    assert response.status == 200
    assert response.header("Content-Type") == mime
    assert response.header("X-Content-Type-Options") == "nosniff"


def test_unknown_types_are_octet_streams():
    assert content_type("static/data.zzz") == "application/octet-stream"
    assert content_type("LICENSE") == "application/octet-stream"


@pytest.mark.parametrize("path", ["static/style.3fa2c1d4.css", "static/app.js", "feed.xml",
                                  "static/logo.svg", "search.json"])
def test_only_html_gets_the_script(preview, path):
    response = get(preview, "/briefing/" + path)
    assert response.body == FILES[path]


def test_the_script_goes_before_the_last_body_end(preview):
    body = get(preview, "/briefing/").body
    tag = inject_script(b"", "/briefing/", preview.build, "index.html")
    assert body.endswith(tag + b"</body></html>")
    assert b'data-file="index.html"' in tag
    assert b'data-base="/briefing/"' in tag and b'src="/briefing/__briefing__/livereload.js"' in tag
    assert FILES["index.html"] == PAGE % b"home"         # the result's files are not changed
    assert inject_script(b"<p>no body", "/", "b.0") == b"<p>no body" + inject_script(b"", "/", "b.0")
    assert inject_script(b"<BODY></BODY>", "/", "b.0").endswith(b"</BODY>")


def test_head_has_the_headers_without_the_body(preview):
    response = get(preview, "/briefing/", "HEAD")
    assert response.status == 200 and response.body == b""
    assert int(response.header("Content-Length")) == len(get(preview, "/briefing/").body)


def test_other_methods_are_refused(preview):
    response = get(preview, "/briefing/", "POST")
    assert response.status == 405 and response.header("Allow") == "GET, HEAD"


def test_internal_urls(preview):
    script = get(preview, "/briefing/__briefing__/livereload.js")
    assert script.status == 200 and script.header("Content-Type").startswith("text/javascript")
    assert b"EventSource" in script.body
    events = get(preview, "/briefing/__briefing__/events")
    assert events.stream and events.header("Content-Type") == "text/event-stream"
    status = json.loads(get(preview, "/briefing/__briefing__/status").body)
    assert status == {"build": preview.build, "ok": True, "diagnostics": []}


def test_the_shared_stream_and_a_tabs_own_state(preview):
    """Tabs share one event stream through a SharedWorker (livereload-worker.js) and ask for what
    changed since their own build with a plain request (its answer is the stream's first event)."""
    worker = get(preview, "/briefing/__briefing__/livereload-worker.js")
    assert worker.status == 200 and worker.header("Content-Type").startswith("text/javascript")
    assert b"onconnect" in worker.body and b'new EventSource("events")' in worker.body
    assert worker.header("Cache-Control") == "no-store"
    first = preview.build
    assert json.loads(get(preview, "/briefing/__briefing__/state?since=" + first).body) == {
        "build": first, "seq": 0, "paths": [], "ok": True, "diagnostics": []}
    preview.publish(result({**FILES, "index.html": PAGE % b"home again"}, changed={"index.html"}))
    state = json.loads(get(preview, "/briefing/__briefing__/state?since=" + first).body)
    assert state["build"] != first and state["paths"] == ["index.html"] and state["seq"] == 1
    assert json.loads(get(preview, "/briefing/__briefing__/state").body)["paths"] is None   # not known
    stream = preview.subscribe(first)
    assert stream.get_nowait() == f"event: state\ndata: {json.dumps(state)}\n\n".encode()


def test_a_failed_build_keeps_serving_the_last_good_site(preview):
    error = Diagnostic("content/articles/talks.md", 3, 7, "unknown actor 'rute'", "did you mean 'rutte'?")
    preview.publish(result(ok=False, diagnostics=[error]))
    assert b"<h1>home</h1>" in get(preview, "/briefing/").body
    status = json.loads(get(preview, "/briefing/__briefing__/status").body)
    assert status["ok"] is False
    assert status["diagnostics"][0]["text"] == (
        "content/articles/talks.md:3:7: error: unknown actor 'rute' (did you mean 'rutte'?)")
    assert status["diagnostics"][0]["line"] == 3


def test_serves_the_current_result_after_a_rebuild(preview):
    files = {**FILES, "index.html": PAGE % b"home again"}
    preview.publish(result(files, changed={"index.html"}))
    assert b"<h1>home again</h1>" in get(preview, "/briefing/").body


# -- what a rebuild tells open pages -----------------------------------------------------------------

def page(css: str, text: str = "x") -> bytes:
    return (f'<html><head><link rel="stylesheet" href="/b/{css}"></head>'
            f"<body><p>{text}</p></body></html>").encode()


OLD = {"index.html": page("static/style.aaaaaaaa.css"), "a/index.html": page("static/style.aaaaaaaa.css", "a"),
       "static/style.aaaaaaaa.css": b"p{}", "static/app.js": b"1"}


def test_a_failed_build_sends_errors():
    assert page_event(OLD, result(OLD, ok=False)) == "errors"


def test_nothing_changed_sends_nothing():
    assert page_event(OLD, result(OLD)) is None


def test_a_content_change_reloads():
    new = {**OLD, "a/index.html": page("static/style.aaaaaaaa.css", "b")}
    assert page_event(OLD, result(new, changed={"a/index.html"})) == "reload"


def test_a_fingerprinted_stylesheet_change_swaps_css():
    new = {"index.html": page("static/style.bbbbbbbb.css"), "a/index.html": page("static/style.bbbbbbbb.css", "a"),
           "static/style.bbbbbbbb.css": b"p{color:red}", "static/app.js": b"1"}
    changed = {"index.html", "a/index.html", "static/style.bbbbbbbb.css"}
    assert page_event(OLD, result(new, changed=changed, removed={"static/style.aaaaaaaa.css"})) == "css"


def test_a_stylesheet_change_with_a_content_change_reloads():
    new = {"index.html": page("static/style.bbbbbbbb.css"), "a/index.html": page("static/style.bbbbbbbb.css", "b"),
           "static/style.bbbbbbbb.css": b"p{color:red}", "static/app.js": b"1"}
    changed = {"index.html", "a/index.html", "static/style.bbbbbbbb.css"}
    assert page_event(OLD, result(new, changed=changed, removed={"static/style.aaaaaaaa.css"})) == "reload"


def test_an_unfingerprinted_stylesheet_change_swaps_css():
    old = {"index.html": page("style.css"), "style.css": b"p{}"}
    new = {**old, "style.css": b"p{color:red}"}
    assert page_event(old, result(new, changed={"style.css"})) == "css"


def test_other_assets_and_removals_reload():
    assert page_event(OLD, result({**OLD, "static/app.js": b"2"}, changed={"static/app.js"})) == "reload"
    gone = {k: v for k, v in OLD.items() if k != "a/index.html"}
    assert page_event(OLD, result(gone, removed={"a/index.html"})) == "reload"


def test_fixing_an_error_without_a_visible_change_clears_the_overlay():
    preview = Preview("/", result(OLD))
    assert preview.publish(result(OLD, ok=False, diagnostics=[Diagnostic("site.yaml", 1, 1, "bad")])) == "errors"
    assert preview.publish(result(OLD)) == "ok"
    assert preview.publish(result(OLD)) is None


def test_subscribers_get_the_state_first_then_events():
    preview = Preview("/", result(OLD))
    build = preview.build
    events = preview.subscribe()
    first = events.get_nowait().decode()
    assert first.startswith("event: state\n")
    assert json.loads(first.split("data: ", 1)[1]) == {"build": build, "seq": 0, "ok": True, "diagnostics": [],
                                                       "paths": None}
    preview.publish(result({**OLD, "static/app.js": b"2"}, changed={"static/app.js"}))
    message = events.get_nowait().decode()
    assert message.startswith("event: reload\n") and preview.build != build
    assert json.loads(message.split("data: ", 1)[1]) == {"build": preview.build, "seq": 1, "paths": ["static/app.js"]}
    preview.publish(result(OLD, ok=False, diagnostics=[Diagnostic("site.yaml", 2, 1, "bad <b>")]))
    message = events.get_nowait().decode()
    assert message.startswith("event: errors\n")
    assert json.loads(message.split("data: ", 1)[1])["diagnostics"][0]["text"] == "site.yaml:2:1: error: bad <b>"
    assert json.loads(message.split("data: ", 1)[1])["seq"] == 2        # events are counted: pages order them
    assert preview.state()["seq"] == 2                                   # against the state replies
    assert preview.publish(result(OLD)) == "ok" and preview.state()["seq"] == 3
    events.get_nowait()
    preview.close()
    assert events.get_nowait() is None


def state(preview: Preview, since: str) -> dict:
    return json.loads(preview.subscribe(since).get_nowait().decode().split("data: ", 1)[1])


def test_a_page_that_reconnects_learns_what_changed_since_its_build():
    preview = Preview("/", result(OLD))
    first = preview.build
    assert state(preview, first)["paths"] == []
    preview.publish(result({**OLD, "a/index.html": b"2"}, changed={"a/index.html"}))
    second = preview.build
    preview.publish(result({**OLD, "a/index.html": b"2", "index.html": b"3"}, changed={"index.html"}))
    assert state(preview, first)["paths"] == ["a/index.html", "index.html"]
    assert state(preview, second)["paths"] == ["index.html"]
    assert state(preview, preview.build)["paths"] == []
    assert state(preview, "another-run.0")["paths"] is None
    assert state(preview, "")["paths"] is None
    assert state(preview, first.split(".")[0] + ".99")["paths"] is None


def test_the_history_is_bounded():
    preview = Preview("/", result(OLD))
    first = preview.build
    files = dict(OLD)
    for n in range(70):
        files = {**files, "index.html": b"%d" % n}
        preview.publish(result(files, changed={"index.html"}))
    assert state(preview, first)["paths"] is None           # too old to know
    assert state(preview, preview.build.split(".")[0] + ".60")["paths"] == ["index.html"]


def test_404_pages_carry_no_file(preview):
    assert b'data-file=""' in get(preview, "/briefing/nope/").body


# -- through a socket --------------------------------------------------------------------------------

def test_a_port_in_use_moves_to_the_next_one():
    preview = Preview("/", result())
    first = bind(preview, "127.0.0.1", 0)
    taken = first.server_address[1]
    lines = []
    try:
        second = bind(preview, "127.0.0.1", taken, say=lines.append)
    except ServeError:
        pytest.skip("the next port is taken too")
    try:
        assert second.server_address[1] > taken
        assert lines[0] == f"port {taken} is in use, trying {taken + 1}"
    finally:
        second.server_close()
        first.server_close()


def test_no_free_port_is_a_clear_error():
    preview = Preview("/", result())
    first = bind(preview, "127.0.0.1", 0)
    try:
        with pytest.raises(ServeError, match="in use"):
            bind(preview, "127.0.0.1", first.server_address[1], say=lambda line: None, tries=1)
    finally:
        first.server_close()


def serving(server: PreviewHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = bind(Preview("/", result()), "::1", 0)
    except ServeError:
        pytest.skip("::1 is not available here")
    serving(server)
    try:
        connection = http.client.HTTPConnection("::1", server.server_address[1], timeout=5)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and b"<h1>home</h1>" in response.read()
    finally:
        server.shutdown()
        server.server_close()


def test_the_event_stream_over_http():
    preview = Preview("/b/", result())
    server = bind(preview, "127.0.0.1", 0)
    serving(server)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        connection.request("GET", "/b/__briefing__/events")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.fp.readline() == b"retry: 300\n"
        assert response.fp.readline() == b"\n"
        assert response.fp.readline() == b"event: state\n"
        response.fp.readline(), response.fp.readline()
        preview.publish(result({**FILES, "index.html": b"<p>new"}, changed={"index.html"}))
        assert response.fp.readline() == b"event: reload\n"
        preview.close()
        response.fp.readline(), response.fp.readline()
        assert response.fp.readline() == b""         # the server ended the stream
    finally:
        server.shutdown()
        server.server_close()


def test_keep_alive_and_raw_traversal_over_http():
    server = bind(Preview("/b/", result()), "127.0.0.1", 0)
    serving(server)
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            sock.sendall(b"GET /b/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /b/robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 400 ")
        assert b"HTTP/1.1 200 " in data and data.endswith(b"User-agent: *\n")
        assert b"root:" not in data
    finally:
        server.shutdown()
        server.server_close()


# -- the rebuild loop, with a fake builder -----------------------------------------------------------

class FakeBuilder:
    base_path = "/"

    def __init__(self, *results):
        self.results = list(results)
        self.calls = []

    def build(self):
        self.calls.append("build")
        return self._next()

    def update(self, paths):
        self.calls.append(("update", sorted(map(str, paths))))
        return self._next()

    def _next(self):
        outcome = self.results.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_rebuild_reports_one_line_per_rebuild(tmp_path):
    error = Diagnostic("content/a.md", 2, 1, "bad date", "use YYYY-MM-DD")
    builder = FakeBuilder(result(), result(changed={"index.html", "feed.xml"}),
                          result(ok=False, diagnostics=[error]))
    lines = []
    server = PreviewServer(builder, tmp_path, port=0, watch=False, say=lines.append)
    server.start()
    try:
        server.rebuild([tmp_path / "content/a.md"])
        server.rebuild([tmp_path / "content/a.md"])
    finally:
        server.stop()
    assert lines[0] == f"built {sum(k.endswith('.html') for k in FILES)} pages in {lines[0].split()[-2]} ms"
    assert lines[1].startswith("rebuilt 1 page in ") and lines[1].endswith(" ms")
    assert lines[2:] == ["content/a.md:2:1: error: bad date (use YYYY-MM-DD)", "1 error, 0 warnings"]
    assert builder.calls[1] == ("update", [str(tmp_path / "content/a.md")])


def test_a_crashing_builder_does_not_stop_the_preview(tmp_path):
    builder = FakeBuilder(result(), RuntimeError("boom"), result(changed={"index.html"}))
    lines = []
    server = PreviewServer(builder, tmp_path, port=0, watch=False, say=lines.append)
    server.start()
    try:
        failed = server.rebuild([tmp_path / "content/a.md"])
        assert not failed.ok and failed.files == FILES
        assert failed.diagnostics[0].format().startswith("(internal): error: RuntimeError: boom")
        assert server.preview.result is failed
        server.rebuild([tmp_path / "content/a.md"])
    finally:
        server.stop()
    assert builder.calls[-1] == "build"     # after a crash the engine's state is in doubt: build it all
    assert "Traceback" in lines[1] and lines[-1].startswith("rebuilt 1 page in")


@pytest.mark.parametrize(("changed", "removed", "said"), [
    ({"briefings/a/index.html"}, set(), "rebuilt 1 page"),
    ({"index.html", "briefings/a/index.html", "feed.xml"}, set(), "rebuilt 2 pages"),
    ({"index.html"}, {"briefings/a/index.html", "briefings/b/index.html"}, "rebuilt 1 page, removed 2 pages"),
    ({"static/style.1a2b3c4d.css"}, {"static/style.00000000.css"}, "updated static/style.1a2b3c4d.css"),
    ({"a.css", "b.css", "c.css", "d.css", "e.css"}, set(), "updated a.css, b.css, c.css and 2 more"),
    (set(), set(), "nothing changed"),
])
def test_a_rebuild_says_what_changed(changed, removed, said):
    assert rebuild_summary(result(changed=changed, removed=removed)) == said


# -- serve(): the entry point the CLI calls ----------------------------------------------------------

SERVE_SCRIPT = """
import sys
from generator.engine import BuildResult
from generator.serve import serve

class Builder:
    base_path = "/b/"
    def build(self):
        return BuildResult(True, (), {"index.html": b"<body>hi</body>"}, frozenset(), frozenset(), 0.0)
    def update(self, paths):
        return self.build()

serve(Builder(), sys.argv[1], "127.0.0.1", int(sys.argv[2]))
"""


@pytest.mark.parametrize("stop_signal", ["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly(tmp_path, stop_signal):
    blocker = bind(Preview("/", result()), "127.0.0.1", 0)      # the asked-for port is taken
    port = blocker.server_address[1]
    process = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT, str(tmp_path), str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parent.parent)
    try:
        lines = [process.stdout.readline().rstrip("\n")]
        while lines[-1] and not lines[-1].startswith("serving"):
            lines.append(process.stdout.readline().rstrip("\n"))
        assert lines[0].startswith("built 1 page in ")
        assert lines[1] == f"port {port} is in use, trying {port + 1}"
        served = int(re.fullmatch(r"serving http://127\.0\.0\.1:(\d+)/b/ \(Ctrl-C to stop\)", lines[-1])[1])
        assert served > port
        connection = http.client.HTTPConnection("127.0.0.1", served, timeout=5)
        connection.request("GET", "/b/")
        assert b"hi" in connection.getresponse().read()
        process.send_signal(getattr(signal, stop_signal))
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        blocker.server_close()
    assert process.returncode == 0
    assert err == ""
    assert out == "stopped\n"


def test_an_edit_saved_during_the_first_build_is_not_missed(tmp_path):
    (tmp_path / "content").mkdir()

    class SlowBuilder(FakeBuilder):
        def build(self):
            (tmp_path / "content/a.md").write_text("saved while building\n")
            time.sleep(0.2)                 # the watcher sees the save while the build runs
            return super().build()

    builder = SlowBuilder(result(), result(changed={"index.html"}))
    server = PreviewServer(builder, tmp_path, port=0, say=lambda line: None)
    server.start()
    try:
        deadline = time.monotonic() + 5
        while len(builder.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.stop()
    assert builder.calls == ["build", ("update", [str(tmp_path.resolve() / "content/a.md")])]


class ForkingBuilder(FakeBuilder):
    """A builder that may fork workers (`parallel`), recording whether it could at each run."""

    parallel = False

    def build(self):
        self.calls.append(("build", self.parallel))
        return self._next()

    def update(self, paths):
        self.calls.append(("update", self.parallel))
        return self._next()


@pytest.mark.parametrize("articles, threads, forks", [(MIN_ITEMS, 1, True), (MIN_ITEMS, 2, False),
                                                     (MIN_ITEMS - 1, 1, False)])
def test_the_first_build_forks_only_for_a_big_site_while_no_other_thread_runs(tmp_path, monkeypatch,
                                                                             articles, threads, forks):
    # The preview's own threads (watcher, HTTP server) start after its first build; another
    # thread of an embedding program would keep that build in-process too, as would a site too
    # small to fill the workers.
    (tmp_path / "content/articles").mkdir(parents=True)
    for n in range(articles):
        (tmp_path / f"content/articles/a-{n}.md").write_text("---\ntitle: A\n---\n")
    monkeypatch.setattr(threading, "active_count", lambda: threads)
    builder = ForkingBuilder(result(), result(changed={"index.html"}))
    server = PreviewServer(builder, tmp_path, port=0, watch=False, say=lambda line: None)
    server.start()
    try:
        server.rebuild([tmp_path / "content/a.md"])
    finally:
        server.stop()
    assert builder.calls == [("build", forks), ("update", False)]
    assert builder.parallel is False
