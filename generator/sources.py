"""Read a site folder's sources: which files are content, their bytes and their digests.

The first stage of every build, and all a rebuild with nothing to do runs before it stops
(freshness.py): so this module imports nothing heavy (no YAML, Markdown or Jinja), and
`briefing build` with nothing changed starts and stops in a fraction of the full import time.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import pickles
from .errors import ContentError, Diagnostic
from .write import file_hash

SITE_FILE = "site.yaml"
SOURCE_KINDS = ("article", "actor", "page", "site")
# a source's digest is made as a page's (write.file_hash); DIGEST names how, recorded beside
# digests kept across versions (the stat cache): change both together
digest = file_hash
DIGEST = "sha256/128"


CONTENT_GLOBS = (("article", "content/articles", (".md", ".markdown")),
                 ("actor", "content/actors", (".yaml", ".yml")),
                 ("page", "content/pages", (".md", ".markdown")))


@dataclass(frozen=True, slots=True)
class Source:
    kind: str       # 'site', 'article', 'actor' or 'page'
    path: str       # relative to the site folder, forward slashes
    content: bytes | None    # None: not read, as the stat cache vouched for `digest` (`raw` reads it)
    digest: str = ""   # digest(raw): made once, compared by the caches and the freshness check
    file: str = ""     # where `raw` reads the content from when it was not read

    def __post_init__(self):
        if not self.digest:
            object.__setattr__(self, "digest", digest(self.content))

    @property
    def raw(self) -> bytes:
        """The file's bytes (read now if the stat cache spared reading them; empty if it is gone)."""
        if self.content is not None:
            return self.content
        try:
            with open(self.file, "rb") as fh:
                return fh.read()
        except OSError:
            return b""


def kind_of(relative: str) -> str | None:
    """Which kind of source a site-relative path is, or None when it is not content."""
    if relative == SITE_FILE:
        return "site"
    for kind, folder, suffixes in CONTENT_GLOBS:
        if relative.startswith(folder + "/") and relative.endswith(suffixes):
            name = relative.rsplit("/", 1)[-1]
            if not name.startswith((".", "_", "#")):
                return kind
    return None


def source_paths(site_dir: Path) -> list[str]:
    """Every content file of the site, relative, sorted; links leading out of the site left out.

    Plain strings and os.scandir rather than pathlib: at 10,000 articles this walk is half of
    a rebuild that finds nothing changed.
    """
    found = []
    base = str(site_dir)
    if os.path.isfile(os.path.join(base, SITE_FILE)):
        found.append(SITE_FILE)
    root = os.path.realpath(base)
    for _kind, folder, _suffixes in CONTENT_GLOBS:
        top = os.path.join(base, folder)
        if os.path.isdir(top):
            _walk(top, folder, root, found, set())
    return sorted(found)


def _walk(directory: str, relative: str, root: str, found: list[str], seen: set[str]) -> None:
    # one realpath per folder, and one per file only when the file itself is a link
    real = os.path.realpath(directory)
    if real in seen:  # a link back to a folder this walk is inside of
        return
    inside = _within(real, root)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    seen = seen | {real}
    for entry in entries:
        path = f"{relative}/{entry.name}"
        try:
            if entry.is_dir():  # follows links, as the walk always has; realpath vets where they lead
                if _within(os.path.realpath(entry.path), root):
                    _walk(entry.path, path, root, found, seen)
                continue
            if not kind_of(path) or not entry.is_file():
                continue
            if inside and (not entry.is_symlink() or _within(os.path.realpath(entry.path), root)):
                found.append(path)
        except OSError:
            continue


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def inside_site(site_dir: Path, relative: str) -> bool:
    """False for a symbolic link that leads out of the site: its content is not the site's."""
    return (site_dir / relative).resolve().is_relative_to(site_dir.resolve())


def read_source(site_dir: Path, relative: str) -> Source | None:
    """One file by its site-relative path, or None when it is not content (or not the site's)."""
    kind = kind_of(relative)
    try:
        return Source(kind, relative, (site_dir / relative).read_bytes()) \
            if kind and inside_site(site_dir, relative) else None
    except OSError:
        return None


def read_sources(site_dir: Path, *, stat_cache: bool = False) -> list[Source]:
    """Every content file of the site, read and digested.

    With `stat_cache` (a CLI build), a file whose size, times and inode are those recorded the
    last time it was read is not read again: its recorded digest stands (git's index does the
    same). At 10,000 articles reading and hashing is 0.3 s, asking for the 10,000 stats 0.03 s.
    """
    if not (site_dir / SITE_FILE).is_file():
        raise ContentError(Diagnostic(
            SITE_FILE, 0, 0, f"no {SITE_FILE} in '{site_dir}'",
            "run briefing in a site folder, pass --site DIR, or create one with briefing init DIR"))
    known = _load_stats(site_dir) if stat_cache else {}
    seen: dict[str, tuple] = {}
    sources = []
    base = str(site_dir)
    now = time.time_ns()
    for relative in source_paths(site_dir):  # already vetted: read without asking again
        file = os.path.join(base, relative)
        try:
            if stat_cache:
                info = os.stat(file)
                stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
                entry = known.get(relative)
                if entry is not None and entry[0] == stamp:
                    sources.append(Source(kind_of(relative), relative, None, entry[1], file))
                    seen[relative] = entry
                    continue
            with open(file, "rb") as fh:
                source = Source(kind_of(relative), relative, fh.read())
            sources.append(source)
            # A file changed just before it was read might change again within the same tick of
            # its clock, keeping its stamp: only a digest older than that is trusted next time.
            if stat_cache and max(info.st_mtime_ns, info.st_ctime_ns) < now - RACY_NS:
                seen[relative] = (stamp, source.digest)
        except OSError:
            pass
    if stat_cache and seen != known:
        _save_stats(site_dir, seen)
    return sources


STATS_FILE = "source-stats.pickle"   # in the cache folder: (DIGEST, {path: (stamp, digest)})
RACY_NS = 2_000_000_000              # a file's times can lag the clock by a tick: leave a margin


def _load_stats(site_dir: Path) -> dict[str, tuple]:
    known = pickles.load(site_dir, STATS_FILE)
    # digests made another way (an older version) would never match the parse cache's again
    if isinstance(known, tuple) and len(known) == 2 and known[0] == DIGEST and isinstance(known[1], dict):
        return known[1]
    return {}   # none: every file is read


def _save_stats(site_dir: Path, stats: dict[str, tuple]) -> None:
    try:
        pickles.dump(site_dir, STATS_FILE, (DIGEST, stats))
    except OSError:
        pass  # a read-only site still builds, reading every file
