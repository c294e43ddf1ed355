"""Parse results cached on disk by content hash, so a rebuild re-parses only edited files.

The cache is one pickle per site in `.briefing-cache/` inside the site folder, keyed by
(kind, path) and checked against the file's content hash and the generator's version. It is
only ever a shortcut: a missing, stale or unreadable cache means parsing again.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import pickles
from .parallel import in_background, map_forked, no_gc
from .parse import Document, parse_document
from .sources import Source

CACHE_FILE = "documents.pickle"
FORMAT_VERSION = 1  # bump when Document or parsing changes meaning


def _code_version() -> str:
    """Changes whenever the parsing code changes, so an upgrade never reuses stale results."""
    here = Path(__file__).parent
    stamp = [FORMAT_VERSION]
    for name in ("parse.py", "yamlfast.py", "schema.py", "slugs.py", "markdown.py", "sanitize.py", "urls.py",
                 "quotes.py", "model.py"):
        try:
            info = (here / name).stat()
            stamp.append((name, info.st_size, info.st_mtime_ns))
        except OSError:
            pass
    return repr(stamp)


def load(site_dir: Path) -> dict[tuple[str, str], Document]:
    cached = pickles.load(site_dir, CACHE_FILE)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == _code_version():
        return cached[1]
    return {}


def save(site_dir: Path, documents: dict[tuple[str, str], Document]) -> None:
    try:
        pickles.dump(site_dir, CACHE_FILE, (_code_version(), documents))
    except OSError:
        pass  # a read-only site still builds, just without the shortcut


def parse_all(site_dir: Path, sources: list[Source], *, use_cache: bool = True,
              fork: bool = True) -> tuple[list[Document], Callable[[], None]]:
    """Parse sources on every core, reusing cached documents whose file content is unchanged.

    Returns the documents and a function that waits until the updated cache is written (in
    a forked child when `fork`, while the build goes on).
    """
    cached = load(site_dir) if use_cache else {}
    stale = [s for s in sources
             if (doc := cached.get((s.kind, s.path))) is None or doc.digest != s.digest]
    # the documents come back as one pickle per chunk of workers' results, and live as long as
    # the build: collecting while millions of their objects are unpickled only walks them again
    with no_gc(keep=True):
        for doc in parse_sources(stale):
            cached[(doc.kind, doc.path)] = doc
    documents = {(s.kind, s.path): cached[(s.kind, s.path)] for s in sources}
    saved = in_background(lambda: save(site_dir, documents), fork=fork) if use_cache and stale else lambda: None
    return list(documents.values()), saved


def parse_sources(sources: list[Source], *, fork: bool = True) -> list[Document]:
    """The sources parsed, in order, on every core when there are enough of them (and `fork`)."""
    return map_forked(_parse_source, sources) if fork else [_parse_source(s) for s in sources]


def _parse_source(source: Source) -> Document:
    return parse_document(source.kind, source.path, source.raw)
