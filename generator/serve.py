"""The live preview: `briefing serve`.

A thin shell around the engine: a `Watcher` feeds changed paths to `Builder.update`, each result
goes to a `Preview` (the site's files in memory and the list of open pages), and an HTTP server
answers from that `Preview` only — never from the build output folder, never from the disk.
Open pages listen on one Server-Sent Events stream on the same port and reload, swap their
stylesheets, or show the build's errors in an overlay.

Request handling is the pure function `respond(preview, method, raw_path)`, tested without a
socket; `PreviewServer` wires it to a socket and the watcher; `serve` runs one until Ctrl-C.
"""
from __future__ import annotations

import errno
import html
import ipaddress
import itertools
import json
import mimetypes
import queue
import re
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import webbrowser
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import jinja2

from .engine import Builder, BuildResult, OnScreen, template_diagnostic
from .errors import ContentError, Diagnostic, count_line
from .ondemand import Pending
from .parallel import MIN_ITEMS
from .watch import Watcher, changed_between, stamps

INTERNAL = "__briefing__/"          # preview-only URLs under the base path: events, livereload.js, status
PORT_TRIES = 20
KEEPALIVE_SECONDS = 15.0
RELOAD_PATHS_LIMIT = 500            # events list the changed files up to this many
HISTORY = 64                        # rebuilds remembered for pages that reconnect
ON_SCREEN = 8                       # pages last served, rendered first after an edit (OnScreen)
SWITCH_INTERVAL = 0.001             # seconds a thread may hold the GIL while another waits (see serve)

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".pdf": "application/pdf",
}
FEEDS = {"feed.xml": "application/atom+xml"}


class ServeError(Exception):
    """The preview cannot start (no free port, an address that cannot be bound)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    stream: bool = False        # the event stream: the server keeps the connection and sends events

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


# -- what a rebuild means for open pages ---------------------------------------------------------

_FINGERPRINTED = re.compile(r"^(?P<stem>.+)\.[0-9a-f]{6,64}(?P<ext>\.css)$")


def _unfingerprinted(path: str) -> str:
    match = _FINGERPRINTED.match(path)
    return match["stem"] + match["ext"] if match else path


def page_event(previous: Mapping[str, bytes] | None, result: BuildResult) -> str | None:
    """What open pages should do after `result`: 'errors', 'reload', 'css' (swap stylesheets
    only), or None (nothing visible changed).

    A stylesheet's name carries its fingerprint, so a CSS edit also changes every page that links
    it; the change is still CSS-only when those pages differ from before by the new names alone.
    """
    if not result.ok:
        return "errors"
    touched = set(result.changed) | set(result.removed)
    if not touched:
        return None
    stylesheets = {p for p in touched if p.endswith(".css")}
    if previous is None or not stylesheets:
        return "reload"
    old_by_stem = {_unfingerprinted(p): p for p in result.removed if p.endswith(".css")}
    renames = [(old_by_stem[_unfingerprinted(p)].encode(), p.encode())
               for p in result.changed
               if p.endswith(".css") and p not in previous and _unfingerprinted(p) in old_by_stem]
    for path in touched - stylesheets:
        if not path.endswith(".html") or path not in previous or path not in result.files:
            return "reload"
        before = previous[path]
        if not isinstance(before, bytes) or not isinstance(result.files[path], bytes):
            return "reload"   # a page not rendered yet (ondemand.py)
        for old, new in renames:
            before = before.replace(old, new)
        if before != result.files[path]:
            return "reload"
    return "css"


EXCERPT_CHARS = 240                 # the overlay quotes at most this much of a line
EXCERPTS = 20                       # and the lines of this many diagnostics


def source_line(site_dir: Path | None, diagnostic: Diagnostic) -> dict | None:
    """The line a diagnostic points at, as the overlay shows it under the message: its number,
    its text (tabs expanded, cut at EXCERPT_CHARS) and the caret's offset in that text. None
    when there is no line or no such file inside the site."""
    if site_dir is None or diagnostic.line < 1 or not diagnostic.path or diagnostic.path.startswith("("):
        return None
    try:
        root = site_dir.resolve()
        path = (root / diagnostic.path).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        with path.open("rb") as source:
            raw = next(itertools.islice(source, diagnostic.line - 1, None), None)
    except (OSError, ValueError):
        return None
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    caret = len(text[:max(diagnostic.column - 1, 0)].expandtabs(4))
    text = text.expandtabs(4)
    if len(text) > EXCERPT_CHARS:
        start = max(0, min(caret - EXCERPT_CHARS // 2, len(text) - EXCERPT_CHARS))
        text, caret = text[start:start + EXCERPT_CHARS], caret - start
    return {"line": diagnostic.line, "text": text, "caret": caret if diagnostic.column else None}


def _diagnostics_json(diagnostics: Iterable[Diagnostic], site_dir: Path | None = None) -> list[dict]:
    """The diagnostics for pages: each with its one-line text, the first EXCERPTS with the
    line they point at."""
    return [{**d.as_json(), "text": d.format(), "source": source_line(site_dir, d) if i < EXCERPTS else None}
            for i, d in enumerate(diagnostics)]


class Preview:
    """The site as the preview shows it: the latest `BuildResult` (its files are the last good
    site) and the event streams of the open pages.

    `build` names the files being served; it changes with every rebuild that changes them. Pages
    carry the build and the file they were served with, so a page that missed an event (it was
    loading, or its connection dropped) learns on reconnecting which files changed since.
    """

    def __init__(self, base_path: str, result: BuildResult, site_dir: str | Path | None = None,
                 say: Callable[[str], None] = lambda line: None):
        self.base_path = base_path if base_path.endswith("/") else base_path + "/"
        self.site_dir = Path(site_dir) if site_dir is not None else None   # to quote the lines errors point at
        self.say = say      # the terminal, for a page that fails as it is rendered when asked for
        self._lock = threading.Lock()
        self._token = secrets.token_hex(4)      # differs per server run: a restart reloads pages
        self._generation = 0
        self._events = 0                        # events sent: orders them against state replies
        self._history: deque[tuple[int, frozenset[str]]] = deque(maxlen=HISTORY)
        self._result = result
        self._subscribers: set[queue.SimpleQueue] = set()
        self._closed = False
        self._served: OrderedDict[str, None] = OrderedDict()   # the HTML pages last served, newest last

    def served(self, path: str) -> None:
        """Note that a browser was sent the page `path` (an output path): it is likely on screen."""
        with self._lock:
            self._served[path] = None
            self._served.move_to_end(path)
            if len(self._served) > ON_SCREEN:
                self._served.popitem(last=False)

    def on_screen(self) -> list[str]:
        """The pages last served (at most ON_SCREEN), which a rebuild renders and shows first."""
        with self._lock:
            return list(self._served)

    @property
    def result(self) -> BuildResult:
        return self._result

    @property
    def build(self) -> str:
        return f"{self._token}.{self._generation}"

    def snapshot(self) -> tuple[BuildResult, str]:
        with self._lock:
            return self._result, self.build

    def publish(self, result: BuildResult) -> str | None:
        """Make `result` the current state and tell every open page; returns the event sent."""
        with self._lock:
            previous = self._result
            kind = page_event(previous.files if previous.files else None, result)
            if kind is None and result.ok and not previous.ok:
                kind = "ok"
            self._result = result
            if kind in ("reload", "css"):
                self._generation += 1
                self._history.append((self._generation, result.changed | result.removed))
            if kind:
                self._events += 1
                message = self._message(kind)
                for subscriber in self._subscribers:
                    subscriber.put(message)
        return kind

    def status(self) -> dict:
        result, build = self.snapshot()
        return {"build": build, "ok": result.ok,
                "diagnostics": _diagnostics_json(result.diagnostics, self.site_dir)}

    def subscribe(self, since: str = "") -> queue.SimpleQueue:
        """A queue of SSE messages for a page served with build `since`, starting with the
        current state; None ends it."""
        subscriber: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            subscriber.put(None if self._closed else self._message("state", since))
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: queue.SimpleQueue) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def close(self) -> None:
        """End every event stream (the server is stopping)."""
        with self._lock:
            self._closed = True
            for subscriber in self._subscribers:
                subscriber.put(None)

    def _changed_since(self, build: str) -> list[str] | None:
        """The output files changed after `build`, or None when that is not known (another server
        run, a build older than the history, or too many files to list)."""
        token, _, generation = build.partition(".")
        if token != self._token or not generation.isdigit():
            return None
        since = int(generation)
        if since > self._generation or (since < self._generation and
                                        (not self._history or self._history[0][0] > since + 1)):
            return None
        touched = set().union(*(paths for g, paths in self._history if g > since))
        return sorted(touched) if len(touched) <= RELOAD_PATHS_LIMIT else None

    def state(self, since: str = "") -> dict:
        """The site now and what changed since build `since`: the stream's first event, for a
        tab that listens through the shared worker (livereload-worker.js)."""
        with self._lock:
            return self._data("state", since)

    def _message(self, kind: str, since: str = "") -> bytes:
        return f"event: {kind}\ndata: {json.dumps(self._data(kind, since))}\n\n".encode()

    def _data(self, kind: str, since: str = "") -> dict:
        data: dict = {"build": self.build, "seq": self._events}
        if kind == "reload":
            data["paths"] = self._changed_since(f"{self._token}.{self._generation - 1}")
        if kind == "state":
            data["paths"] = self._changed_since(since)
        if kind in ("state", "errors"):
            data["ok"] = self._result.ok
            data["diagnostics"] = _diagnostics_json(self._result.diagnostics, self.site_dir)
        return data


# -- HTTP, as a pure function --------------------------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ENCODED_AGAIN = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_NOT_FOUND = (b"<!doctype html><html><head><meta charset=utf-8><title>Not found</title></head>"
              b"<body><h1>Not found</h1></body></html>")


def content_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name in FEEDS:
        return FEEDS[name]
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return MIME_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


@cache
def preview_script(name: str) -> bytes:
    """livereload.js or livereload-worker.js, read once."""
    return Path(__file__).with_name(name).read_bytes()


def inject_script(page: bytes, base_path: str, build: str, file: str = "") -> bytes:
    """The page with the live-reload <script> before its last </body> (or at the end); the
    script knows the build and the output file it came with."""
    tag = (f'<script src="{html.escape(base_path + INTERNAL)}livereload.js" data-base="{html.escape(base_path)}"'
           f' data-build="{build}" data-file="{html.escape(file)}"></script>').encode()
    at = page.lower().rfind(b"</body>")
    return page + tag if at < 0 else page[:at] + tag + page[at:]


def _unsafe(path: str) -> bool:
    """Traversal and smuggling: '..' or '.' segments, '//', backslashes, NUL and other control
    characters, and the same again percent-encoded (for anything that decodes twice)."""
    return (any(segment in (".", "..") for segment in path.split("/")) or "//" in path or "\\" in path
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or bool(_ENCODED_AGAIN.search(path)))


def _plain(status: int, text: str, *extra: tuple[str, str]) -> Response:
    body = text.encode()
    return Response(status, (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                             ("Cache-Control", "no-store"), *extra), body)


def _redirect(status: int, location: str) -> Response:
    return Response(status, (("Location", location), ("Content-Length", "0"), ("Cache-Control", "no-store")))


def _file(status: int, path: str, body: bytes, base_path: str, build: str) -> Response:
    kind = content_type(path)
    if kind.startswith("text/html"):
        body = inject_script(body, base_path, build, path if status == 200 else "")
    return Response(status, (("Content-Type", kind), ("Content-Length", str(len(body))),
                             ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")), body)


def respond(preview: Preview, method: str, raw_path: str) -> Response:
    """The answer to one request for `raw_path` (the request target, still percent-encoded)."""
    if method not in ("GET", "HEAD"):
        return _plain(405, "method not allowed\n", ("Allow", "GET, HEAD"))
    response = _respond_get(preview, raw_path)
    if method == "HEAD":
        return Response(response.status, response.headers)
    return response


def _respond_get(preview: Preview, raw_path: str) -> Response:
    if raw_path.startswith("/"):
        encoded, _, query = raw_path.partition("#")[0].partition("?")
    elif _SCHEME.match(raw_path):
        target = urlsplit(raw_path)
        encoded, query = target.path or "/", target.query
    else:
        return _plain(400, "bad request\n")
    try:
        path = unquote_to_bytes(encoded).decode("utf-8")
    except UnicodeDecodeError:
        return _plain(400, "bad request\n")
    if _unsafe(path):
        return _plain(400, "bad request\n")
    suffix = "?" + query if query else ""

    base = preview.base_path
    result, build = preview.snapshot()
    files = result.files
    if path + "/" == base:
        return _redirect(301, base + suffix)
    if path == "/" and base != "/":
        return _redirect(302, base + suffix)
    if not path.startswith(base):
        return _not_found(result, base, build)
    relative = path[len(base):]

    if relative.startswith(INTERNAL):
        return _internal(preview, relative[len(INTERNAL):], query)
    key = relative + "index.html" if relative == "" or relative.endswith("/") else relative
    if key in files:
        if key.endswith(".html"):
            preview.served(key)
        try:
            return _file(200, key, result.content(key), base, build)
        except jinja2.TemplateError as exc:   # a page rendered as it is asked for (ondemand.py)
            diagnostic = replace(template_diagnostic(exc, preview.site_dir or Path.cwd()),
                                 hint=f"opening {path}; fix the template: the page is rendered again when it is saved")
            preview.say(diagnostic.format())
            return _file(500, key, _failed_page(diagnostic), base, build)
    if not relative.endswith("/") and relative + "/index.html" in files:
        return _redirect(301, encoded + "/" + suffix)
    return _not_found(result, base, build)


def _failed_page(diagnostic: Diagnostic) -> bytes:
    """What a browser is sent for a page whose template failed as it was rendered."""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Template error</title>"
            "<link rel=icon href=\"data:,\"></head>"
            f"<body><h1>This page could not be rendered</h1><pre>{html.escape(diagnostic.format())}</pre>"
            "</body></html>").encode()


def _not_found(result: BuildResult, base: str, build: str) -> Response:
    try:
        page = result.content("404.html") if "404.html" in result.files else _NOT_FOUND
    except jinja2.TemplateError:   # (rendered when first asked for: ondemand.py)
        page = _NOT_FOUND
    return _file(404, "404.html", page, base, build)


def _internal(preview: Preview, name: str, query: str = "") -> Response:
    if name == "events":
        return Response(200, (("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                              ("X-Accel-Buffering", "no")), stream=True)
    if name in ("livereload.js", "livereload-worker.js"):
        return _uncached("text/javascript; charset=utf-8", preview_script(name))
    if name == "status":
        return _uncached("application/json", json.dumps(preview.status()).encode())
    if name == "state":
        since = parse_qs(query).get("since", [""])[0]
        return _uncached("application/json", json.dumps(preview.state(since)).encode())
    return _plain(404, "not found\n")


def _uncached(kind: str, body: bytes) -> Response:
    return Response(200, (("Content-Type", kind), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")),
                    body)


# -- the socket ----------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "briefing"
    # Headers and body go out as two writes; with Nagle's algorithm on, the second waits for the
    # browser's delayed ACK (40 ms on Linux) on every keep-alive response, a stylesheet's included.
    disable_nagle_algorithm = True
    server: PreviewHTTPServer

    def do_GET(self) -> None:
        response = respond(self.server.preview, self.command, self.path)
        if self.command not in ("GET", "HEAD"):
            self.close_connection = True        # its body, if any, was not read
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.stream and self.command == "GET":
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._stream()
            return
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _stream(self) -> None:
        preview = self.server.preview
        since = parse_qs(urlsplit(self.path).query).get("since", [""])[0]
        subscriber = preview.subscribe(since)
        try:
            self.wfile.write(b"retry: 300\n\n")
            while True:
                try:
                    message = subscriber.get(timeout=KEEPALIVE_SECONDS)
                except queue.Empty:
                    message = b": keep-alive\n\n"
                if message is None:
                    return
                self.wfile.write(message)
        except OSError:             # the page went away
            pass
        finally:
            preview.unsubscribe(subscriber)

    def log_message(self, format: str, *args) -> None:
        pass


class PreviewHTTPServer(ThreadingHTTPServer):
    """Serves one `Preview`; IPv6 when the host has a ':'."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], preview: Preview):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.preview = preview
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up in DNS, which can stall; we need none of it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def bind(preview: Preview, host: str, port: int, say: Callable[[str], None] = print,
         tries: int = PORT_TRIES) -> PreviewHTTPServer:
    """A server on `host:port`, or on the next free port when that one is taken."""
    host = host.strip("[]")
    for candidate in range(port, port + (tries if port else 1)):
        try:
            return PreviewHTTPServer((host, candidate), preview)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ServeError(f"cannot listen on {_authority(host, candidate)}: {exc.strerror or exc}") from exc
            if candidate + 1 < port + tries:
                say(f"port {candidate} is in use, trying {candidate + 1}")
    raise ServeError(f"ports {port} to {port + tries - 1} are all in use: choose another with --port")


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- the whole preview ---------------------------------------------------------------------------

def _pages(paths: Iterable[str]) -> int:
    return sum(p.endswith(".html") for p in paths)


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def rebuild_summary(result: BuildResult, named: int = 3) -> str:
    """What a rebuild changed, for the terminal: 'rebuilt 1 page', 'rebuilt 3 pages, removed 2
    pages', or, when no page changed, the other files that did (a stylesheet edit: 'updated
    static/style.1a2b3c4d.css'), up to `named` of them."""
    parts = []
    if pages := _pages(result.changed):
        parts.append(f"rebuilt {_counted(pages, 'page')}")
    if gone := _pages(result.removed):
        parts.append(f"removed {_counted(gone, 'page')}")
    others = sorted(p for p in result.changed if not p.endswith(".html"))
    if others and not pages:
        more = f" and {len(others) - named} more" if len(others) > named else ""
        parts.append(f"updated {', '.join(others[:named])}{more}")
    return ", ".join(parts) or "nothing changed"


class PreviewServer:
    """Build, serve and watch one site. `serve` runs one until Ctrl-C; tests start and stop one
    themselves (port 0 picks a free port).
    """

    def __init__(self, builder: Builder, site_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, *,
                 watch: bool = True, quiet: float = 0.03, say: Callable[[str], None] | None = None):
        self.builder = builder
        self.site_dir = Path(site_dir)
        self.host = host.strip("[]")
        self.port = port
        self.say = say or (lambda line: print(line, flush=True))
        self.preview: Preview | None = None
        self._watch = watch
        self._quiet = quiet
        self._server: PreviewHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._watcher: Watcher | None = None
        self._rebuild_lock = threading.Lock()
        self._needs_full_build = False
        self._ready = threading.Event()         # the first build is done and the server is up
        self._early: BuildResult | None = None  # what the running rebuild showed before it was done
        self._stopped = False

    @property
    def url(self) -> str:
        assert self._server is not None and self.preview is not None
        return f"http://{_authority(self.host, self._server.server_address[1])}{self.preview.base_path}"

    def start(self) -> str:
        """Build the site, start serving and watching; returns the URL."""
        # The watcher starts after the first build, so that the build may fork workers (below);
        # what was saved meanwhile is what changed between two snapshots of the sources' stamps.
        before = stamps(self.site_dir)
        started = time.perf_counter()
        result = self._first_build(len(before))
        if self._watch:
            self._watcher = Watcher(self.site_dir, self.rebuild, quiet=self._quiet)
            self._watcher.start()
            self._watcher.add(changed_between(before, stamps(self.site_dir)), finished=True)
        self._report(result, time.perf_counter() - started, first=True)
        self.preview = Preview(self.builder.base_path, result, self.site_dir, self.say)
        if hasattr(self.builder, "on_screen"):   # (an engine; a builder of an embedding program may not)
            self.builder.on_screen = OnScreen(self.preview.on_screen, self._show_early)
        self._server = bind(self.preview, self.host, self.port, self.say)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="briefing-http", daemon=True)
        self._thread.start()
        self._ready.set()
        return self.url

    def _first_build(self, sources: int) -> BuildResult:
        """The whole site, on every core when it is big and this is the process's only thread.

        An engine that may fork (`parallel`) builds with workers, as `briefing build` does: at
        10,000 articles that is the difference between waiting ~15 s and ~24 s for the preview.
        With any other thread running (the watcher and the HTTP server start after this; an
        embedding program may have its own), a forked worker could inherit a lock that thread
        holds, so the build stays in this process; so do all the rebuilds after it. A site of
        fewer sources than would fill the workers builds in this process too, as it always did.
        """
        forks = sources >= MIN_ITEMS and hasattr(self.builder, "parallel") and threading.active_count() == 1
        if forks:
            self.builder.parallel = True
        try:
            return self._run(self.builder.build, None)
        finally:
            if forks:
                self.builder.parallel = False

    def rebuild(self, paths: Iterable[Path]) -> BuildResult | None:
        """Rebuild after `paths` changed and tell the open pages. The watcher calls this; it
        waits for the first build, and does nothing once the server stopped."""
        self._ready.wait()
        if self._stopped or self.preview is None:
            return None
        with self._rebuild_lock:
            started = time.perf_counter()
            previous = self.preview.result
            self._early = None
            if self._needs_full_build:
                result = self._run(self.builder.build, previous)
            else:
                paths = list(paths)
                result = self._run(lambda: self.builder.update(paths), previous)
            # (a run that fails after showing pages falls back to the last good site, as any failure does)
            self.preview.publish(self._news(result) if result.ok else result)
            early, self._early = self._early, None
            self._report(result, time.perf_counter() - started, early)
            return result

    def _show_early(self, result: BuildResult) -> None:
        """Pages on screen, rendered before the rest of the rebuild (engine.OnScreen)."""
        assert self.preview is not None
        self.preview.publish(self._news(result))
        self._early = result

    def _news(self, result: BuildResult) -> BuildResult:
        """`result` announcing only the files it changes against what this rebuild showed early:
        the open pages are told once about each."""
        shown = self._early
        if shown is None:
            return result
        return replace(result, changed=frozenset(p for p in result.changed
                                                if shown.files.get(p) != result.files.get(p)))

    def stop(self) -> None:
        self._stopped = True
        self._ready.set()
        if self._watcher is not None:
            self._watcher.stop()
        if self.preview is not None:
            self.preview.close()
        if self._server is not None:
            if self._thread is not None and self._thread.is_alive():
                self._server.shutdown()
            self._server.server_close()

    def _run(self, step: Callable[[], BuildResult], previous: BuildResult | None) -> BuildResult:
        """Run a build step; a step that raises becomes a failed result, so the preview lives on
        (and the next change runs a full build, since the engine's state is in doubt)."""
        self._needs_full_build = True
        try:
            result = step()
        except ContentError as exc:
            diagnostics = exc.diagnostics
        except Exception as exc:  # noqa: BLE001 - any bug in a stage must not end the preview
            self.say(traceback.format_exc().rstrip())
            diagnostics = (Diagnostic("(internal)", 0, 0, f"{type(exc).__name__}: {exc}",
                                      "a bug in briefing: the terminal shows the traceback"),)
        else:
            self._needs_full_build = False
            return result
        if previous is None:
            return BuildResult(False, diagnostics, {}, frozenset(), frozenset(), 0.0)
        return BuildResult(False, diagnostics, previous.files, frozenset(), frozenset(), 0.0, links=previous.links)

    def _report(self, result: BuildResult, seconds: float, early: BuildResult | None = None,
                first: bool = False) -> None:
        for diagnostic in result.diagnostics:
            self.say(diagnostic.format())
        if not result.ok:
            self.say(count_line(result.diagnostics))
        elif first and any(type(value) is Pending for value in result.files.values()):   # (ondemand.py)
            self.say(f"ready in {seconds * 1000:.0f} ms: {_counted(_pages(result.files), 'page')}, "
                     f"each rendered when first opened")
        elif first:
            self.say(f"built {_counted(_pages(result.files), 'page')} in {seconds * 1000:.0f} ms")
        else:
            shown = "" if early is None else \
                f" ({_counted(_pages(early.changed), 'page')} on screen in {early.seconds * 1000:.0f} ms)"
            self.say(f"{rebuild_summary(result)} in {seconds * 1000:.0f} ms{shown}")


def serve(builder: Builder, site_dir: str | Path, host: str = "127.0.0.1", port: int = 8000,
          open_browser: bool = False) -> None:
    """Preview the site at http://host:port/<base path>/ until Ctrl-C (or SIGTERM).

    Raises ServeError when no port can be bound.
    """
    server = PreviewServer(builder, site_dir, host, port)
    stopping = threading.Event()
    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    # A rebuild renders the rest of its pages while the page on screen is fetched, and the HTTP
    # thread waits up to the switch interval (5 ms) for the GIL at each step of its answer: at
    # 1,000 articles 32-37 ms passed between a page's event and its new content on screen after
    # a title edit, 25-26 ms with 1 ms (bench/preview_latency.py).
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        url = server.start()
        server.say(f"serving {url} (Ctrl-C to stop)")
        if not _loopback(server.host):
            server.say(f"warning: listening on {server.host}: other machines can reach this preview")
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        try:
            server.stop()
        except KeyboardInterrupt:
            pass
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
        sys.setswitchinterval(switch)
    server.say("stopped")
