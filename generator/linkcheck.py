"""Check that every internal link, asset and #anchor of a built site resolves.

The check runs over the site's output (in memory, or a folder) as a host would serve it under
`base_path`: a link to 'x/' is served by 'x/index.html', a '#fragment' must name an element's
`id` (or an `<a name>`) on the target page. Links outside `base_path` and links with a scheme
(http, https, mailto, ...) are somebody else's and are not followed.

Each page is parsed once with the standard library's `html.parser`. Before parsing, tags that
cannot carry a link or an anchor (end tags, `<p>`, `<div class="...">`) are dropped from the text;
that halves the parser's work on a typical page and keeps line numbers intact, since a dropped
tag never spans a line.
"""
from __future__ import annotations

import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin

from .errors import Diagnostic

# Which attributes of which elements hold a URL to check.
LINK_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "track": ("src",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "object": ("data",),
}

# Elements whose content is raw text to some version of html.parser: their start and end tags
# always stay. So do `base` (it changes how every other link resolves) and `meta` (refresh).
_RAW_TEXT = r"(?:script|style|textarea|title|xmp|iframe|noembed|noframes|noscript|plaintext)\b"
_KEEP = rf"(?:{_RAW_TEXT}|base\b|meta\b)"
_INTERESTING = r"(?:id|name|href|src|srcset|poster|data)[ \t]*="
_DULL_ATTRIBUTE = (rf"[ \t]+(?!{_INTERESTING})[^\s\"'<>/=]+"
                   r"(?:[ \t]*=[ \t]*(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'=<>`]+))?")
# A tag that cannot matter to a link check, written on one line.
_DULL_TAG = re.compile(
    rf"</(?!{_RAW_TEXT})[a-zA-Z][a-zA-Z0-9]*[ \t]*>"
    rf"|<(?!{_KEEP})[a-zA-Z][a-zA-Z0-9]*(?:{_DULL_ATTRIBUTE})*[ \t]*/?>",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:")
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"'\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""")
_REFRESH_URL = re.compile(r"""^\s*\d*(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?["']?([^"']*)["']?\s*$""",
                          re.IGNORECASE)


@dataclass(slots=True)
class _Link:
    url: str
    line: int
    column: int  # 0-based, in the filtered text
    attribute: str


@dataclass(slots=True)
class _Page:
    anchors: set[str] = field(default_factory=set)
    links: list[_Link] = field(default_factory=list)
    base_href: str = ""


class _PageParser(HTMLParser):
    """Collects a page's anchors (ids, `<a name>`) and the URLs it refers to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.page = _Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        page = self.page
        wanted = LINK_ATTRIBUTES.get(tag, ())
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                page.anchors.add(value)
            elif name in wanted:
                line, column = self.getpos()
                if name == "srcset":
                    for url in _srcset_urls(value):
                        page.links.append(_Link(url, line, column, name))
                else:
                    page.links.append(_Link(value, line, column, name))
        if tag == "base" and not page.base_href:
            page.base_href = dict(attrs).get("href") or ""
        elif tag == "meta":
            attributes = dict(attrs)
            if (attributes.get("http-equiv") or "").lower() == "refresh":
                match = _REFRESH_URL.match(attributes.get("content") or "")
                if match and match.group(1).strip():
                    line, column = self.getpos()
                    page.links.append(_Link(match.group(1).strip(), line, column, "content"))

    handle_startendtag = handle_starttag


def _srcset_urls(srcset: str) -> list[str]:
    """The URLs of a srcset: candidates 'url [descriptor]' separated by commas.

    A comma inside a URL is part of it (data: URLs); a candidate's URL ends at white space or
    at a comma that ends the candidate.
    """
    urls = []
    position, size = 0, len(srcset)
    while position < size:
        while position < size and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < size and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        ended = url.endswith(",")
        url = url.rstrip(",")
        if url:
            urls.append(url)
        if not ended:  # skip the descriptor, up to the comma that ends the candidate
            depth = 0
            while position < size and (srcset[position] != "," or depth):
                depth += {"(": 1, ")": -1}.get(srcset[position], 0)
                position += 1
    return urls


def _parse_page(text: str) -> _Page:
    parser = _PageParser()
    parser.feed(_DULL_TAG.sub("", text))
    parser.close()
    return parser.page


def _original_column(line_text: str, filtered_column: int) -> int:
    """Map a column in the filtered text of a line back to the original line (1-based)."""
    removed = 0
    for match in _DULL_TAG.finditer(line_text):
        if match.start() - removed > filtered_column:
            break
        removed += match.end() - match.start()
    return filtered_column + removed + 1


def normalize_base_path(base_path: str) -> str:
    """'/briefing', 'briefing/' and '/briefing/' all mean '/briefing/'; '' means '/'."""
    return "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"


def _pretty(path: str) -> str:
    """The URL a reader sees for an output file: 'x/index.html' -> 'x/'."""
    if path == "index.html":
        return "/"
    return path[: -len("index.html")] if path.endswith("/index.html") else path


# Below this many pages a site is checked in one process: starting workers would cost more.
PARALLEL_THRESHOLD = 1500


@dataclass(frozen=True, slots=True)
class _PageResult:
    """What checking one page leaves for the cross-page step: its anchors, its links to
    anchors on other pages, and the broken links already found."""

    path: str
    anchors: frozenset[str]
    fragment_links: tuple[tuple[_Link, str, str, str], ...]  # (link, written url, target, fragment)
    diagnostics: tuple[Diagnostic, ...]


class _Checker:
    def __init__(self, paths: Collection[str], read: Callable[[str], bytes], base_path: str,
                 site_url: str) -> None:
        self.paths = paths if isinstance(paths, (set, frozenset, Mapping)) else set(paths)
        self.read = read
        self.base_path = normalize_base_path(base_path)
        self.site_url = site_url.rstrip("/") + "/" if site_url else ""
        self.resolved: dict[tuple[str, str], tuple[str, str] | None] = {}

    def run(self, *, workers: int | None = None) -> list[Diagnostic]:
        html_paths = sorted(p for p in self.paths if p.endswith((".html", ".htm")))
        results = self._check_pages_in_parallel(html_paths, workers)
        if results is None:
            results = self.check_pages(html_paths)
        diagnostics: list[Diagnostic] = []
        anchors = {}
        for result in results:
            diagnostics.extend(result.diagnostics)
            anchors[result.path] = result.anchors
        for result in results:
            for link, _url, target, fragment in result.fragment_links:
                if target in anchors and fragment not in anchors[target]:
                    diagnostics.append(self._broken_anchor(result.path, link, target, fragment))
        for path in sorted(p for p in self.paths if p.endswith(".css")):
            diagnostics.extend(self._check_stylesheet(path))
        return sorted(diagnostics, key=Diagnostic.sort_key)

    def _check_pages_in_parallel(self, paths: list[str], workers: int | None) -> list[_PageResult] | None:
        """Spread the pages over forked worker processes, or None when that would not pay.

        Workers are forked so that they share the site's bytes without copying them; forking is
        only safe while this process runs a single thread.
        """
        if workers is None:
            workers = min(os.cpu_count() or 1, 8) if len(paths) >= PARALLEL_THRESHOLD else 1
        if (workers < 2 or "fork" not in multiprocessing.get_all_start_methods()
                or threading.active_count() > 1):
            return None
        global _FORKED_CHECKER
        _FORKED_CHECKER = self
        try:
            chunks = [paths[i::workers * 4] for i in range(workers * 4)]
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                return [result for chunk in pool.map(_check_pages_in_worker, chunks) for result in chunk]
        finally:
            _FORKED_CHECKER = None

    def check_pages(self, paths: list[str]) -> list[_PageResult]:
        return [self._check_page(path) for path in paths]

    def _resolve(self, url: str, page_url: str) -> tuple[str, str] | None:
        """The output file and fragment a URL refers to, or None when it is not ours to check."""
        key = (url, page_url if not url.startswith("/") else "")
        if key in self.resolved:
            return self.resolved[key]
        result = None
        if self.site_url and url.startswith(self.site_url):
            url = self.base_path + url[len(self.site_url):]
        if not url.startswith("//") and not _SCHEME.match(url):
            if url.startswith("#"):  # the common cases, without urljoin's cost
                joined = page_url + url
            elif url.startswith("/") and "/." not in url:
                joined = url
            else:
                joined = urljoin(page_url, url)
            path, _, fragment = joined.partition("#")
            path = unquote(path.partition("?")[0])
            if path.startswith(self.base_path):
                relative = path[len(self.base_path):]
                if relative == "" or relative.endswith("/"):
                    relative += "index.html"
                result = (relative, unquote(fragment))
        self.resolved[key] = result
        return result

    def _diagnostic(self, path: str, link: _Link, message: str, hint: str, text: str | None = None) -> Diagnostic:
        """A diagnostic at the link's place in the original (unfiltered) page."""
        if text is None:
            text = self.read(path).decode("utf-8", errors="replace")
        lines = text.split("\n")
        line_text = lines[link.line - 1] if 0 < link.line <= len(lines) else ""
        return Diagnostic(path, link.line, _original_column(line_text, link.column), message, hint)

    def _broken_anchor(self, path: str, link: _Link, target: str, fragment: str,
                       text: str | None = None) -> Diagnostic:
        return self._diagnostic(path, link, f"broken anchor '#{fragment}' in {_pretty(target)!r}",
                                f"no element with id {fragment!r} on that page", text)

    def _check_page(self, path: str) -> _PageResult:
        text = self.read(path).decode("utf-8", errors="replace")
        page = _parse_page(text)
        page_url = self.base_path + path
        if page.base_href:
            page_url = urljoin(page_url, page.base_href)
        diagnostics = []
        fragment_links = []
        for link in page.links:
            url = link.url.strip()
            if path == "404.html" and not page.base_href and url and not url.startswith(("/", "#")) \
                    and not _SCHEME.match(url):
                diagnostics.append(self._diagnostic(
                    path, link, f"relative link {url!r} in the 404 page",
                    "the 404 page is served at any missing URL, so its links must start with the "
                    "base path", text))
                continue
            resolved = self._resolve(url, page_url)
            if resolved is None:
                continue
            target, fragment = resolved
            if target not in self.paths:
                if target.endswith("index.html"):
                    hint = f"no such page: {_pretty(target)}"
                elif target + "/index.html" in self.paths:
                    hint = f"no such file; the page is {_pretty(target + '/index.html')}"
                else:
                    hint = f"no such file: {target}"
                diagnostics.append(self._diagnostic(path, link, f"broken link {url!r}", hint, text))
            elif fragment and fragment.lower() != "top" and not fragment.startswith(":~:") \
                    and target.endswith((".html", ".htm")):
                if target != path:
                    fragment_links.append((link, url, target, fragment))
                elif fragment not in page.anchors:
                    diagnostics.append(self._broken_anchor(path, link, target, fragment, text))
        return _PageResult(path, frozenset(page.anchors), tuple(fragment_links), tuple(diagnostics))

    def _check_stylesheet(self, path: str) -> list[Diagnostic]:
        text = self.read(path).decode("utf-8", errors="replace")
        diagnostics = []
        for match in _CSS_URL.finditer(text):
            url = next(group for group in match.groups() if group is not None).strip()
            if not url or url.startswith("#"):
                continue
            resolved = self._resolve(url, self.base_path + path)
            if resolved is not None and resolved[0] not in self.paths:
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                diagnostics.append(Diagnostic(path, line, column, f"broken link {url!r}",
                                              f"no such file: {resolved[0]}"))
        return diagnostics


_FORKED_CHECKER: _Checker | None = None


def _check_pages_in_worker(paths: list[str]) -> list[_PageResult]:
    assert _FORKED_CHECKER is not None, "workers are forked from a running check"
    return _FORKED_CHECKER.check_pages(paths)


def check_links(files: Mapping[str, bytes], base_path: str, *, site_url: str = "",
                workers: int | None = None) -> list[Diagnostic]:
    """Every broken internal link, asset and anchor in a built site held in memory.

    `files` maps output paths ('briefings/x/index.html', 'static/style.3fa2c1.css') to their
    bytes; `base_path` is where the site is served ('/briefing/'). Absolute links that start
    with `site_url` (the full base URL, if given) are checked like internal ones. Large sites
    are checked by several processes (`workers`, default: one per core).
    """
    return _Checker(files, files.__getitem__, base_path, site_url).run(workers=workers)


def check_links_in_folder(folder: Path, base_path: str, *, site_url: str = "",
                          workers: int | None = None) -> list[Diagnostic]:
    """`check_links` over a built site on disk; only HTML and CSS files are read."""
    folder = Path(folder)
    paths = set()
    for directory, _, names in os.walk(folder):
        relative = os.path.relpath(directory, folder)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        paths.update(prefix + name for name in names)
    return _Checker(paths, lambda path: (folder / path).read_bytes(), base_path, site_url).run(
        workers=workers)
