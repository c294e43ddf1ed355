"""Watch a site's sources and hand each burst of edits to a rebuild function, one batch at a time.

An editor's save is rarely one event: a swap file, a backup, a temporary file renamed over the
original, a lock file. `Watcher` drops the noise (`ignored`), gathers what is left until the
folder has been quiet for a moment (`Debouncer`), and calls the callback with one set of
absolute paths from a single worker thread, so two rebuilds never run at once; changes that
arrive during a rebuild wait for the next batch. The moment is shorter when the last event
finished a save (the file was closed after writing, or renamed into place).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Self

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = logging.getLogger(__name__)

WATCHED_DIRS = ("content", "templates", "static")
WATCHED_FILES = ("site.yaml",)
DEFAULT_IGNORED_DIRS = ("_site", ".briefing-cache", "node_modules", "__pycache__")

# Editor and tool droppings, by name. Anything whose name starts with '.' is ignored as well:
# that covers vim's .x.swp, emacs' .#x locks, and most atomic-save temporaries (.x.tmp1234).
_IGNORED_NAMES = frozenset({"4913", ".DS_Store", "Thumbs.db", "desktop.ini"})
_IGNORED_SUFFIXES = (
    "~", ".swp", ".swx", ".swo", ".tmp", ".temp", ".bak", ".part", ".crdownload", ".crswap",
    "___jb_tmp___", "___jb_old___",
)
_IGNORED_PREFIXES = (".", "#", "~$", "~lock.")

# The watchdog events worth a rebuild; opened/closed-without-write/attrib/dir-modified are noise.
_EVENT_TYPES = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
                DirCreatedEvent, DirDeletedEvent, DirMovedEvent]


def ignored(relative: str, ignored_dirs: Iterable[str] = DEFAULT_IGNORED_DIRS) -> bool:
    """Whether a change to this path (relative to the site folder, '/'-separated) is noise.

    The last part is a file name; every earlier part is a folder, ignored when it is hidden
    ('.git', '.briefing-cache') or one of `ignored_dirs` (the output and cache folders).
    """
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return True
    skip = set(ignored_dirs)
    if any(p.startswith(".") or p in skip for p in parts[:-1]):
        return True
    name = parts[-1]
    return (name in _IGNORED_NAMES or name in skip or name.startswith(_IGNORED_PREFIXES)
            or name.endswith(_IGNORED_SUFFIXES) or (name.startswith("#") and name.endswith("#")))


def relevant(path: str | os.PathLike, site_dir: Path,
             ignored_dirs: Iterable[str] = DEFAULT_IGNORED_DIRS) -> bool:
    """Whether a changed absolute path is a site source: under content/, templates/ or static/,
    or site.yaml itself, and not editor noise."""
    try:
        relative = Path(path).relative_to(site_dir).as_posix()
    except ValueError:
        return False
    if relative in WATCHED_FILES or relative in WATCHED_DIRS:
        return True
    return relative.split("/", 1)[0] in WATCHED_DIRS and not ignored(relative, ignored_dirs)


def stamps(site_dir: Path, ignored_dirs: Iterable[str] = DEFAULT_IGNORED_DIRS) -> dict[Path, tuple[int, ...]]:
    """(size, modified, changed, inode) of every source file a Watcher of `site_dir` reports, by
    absolute path: two of these, taken before a Watcher starts and after, name what changed
    in between (`changed_between`)."""
    site_dir = Path(site_dir).resolve()
    base = str(site_dir)
    relatives = list(WATCHED_FILES)
    for name in WATCHED_DIRS:
        for folder, _dirs, files in os.walk(os.path.join(base, name)):
            inside = os.path.relpath(folder, base).replace(os.sep, "/")
            relatives += [f"{inside}/{file}" for file in files]
    found: dict[Path, tuple[int, ...]] = {}
    for relative in relatives:
        if relative not in WATCHED_FILES and ignored(relative, ignored_dirs):
            continue   # the same test as `relevant`, on the path as this walk made it
        try:
            info = os.stat(os.path.join(base, relative))
        except OSError:
            continue   # not there (site.yaml), or gone meanwhile: the later snapshot says so
        found[site_dir / relative] = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
    return found


def changed_between(before: Mapping[Path, tuple[int, ...]], after: Mapping[Path, tuple[int, ...]]) -> set[Path]:
    """The files that appeared, disappeared or changed between two `stamps`."""
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def event_paths(event: FileSystemEvent, site_dir: Path,
                ignored_dirs: Iterable[str] = DEFAULT_IGNORED_DIRS) -> set[Path]:
    """The source paths one watchdog event touches: both ends of a move, minus the noise.

    Folders count only when they disappear or move (their files may not get events of their
    own); a created folder's files arrive as events of their own.
    """
    if event.is_directory and event.event_type not in ("deleted", "moved"):
        return set()
    ends = [event.src_path]
    if event.event_type == "moved":
        ends.append(event.dest_path)
    return {Path(os.fsdecode(p)) for p in ends if p and relevant(os.fsdecode(p), site_dir, ignored_dirs)}


def finishes_save(event: FileSystemEvent, paths: set[Path]) -> bool:
    """Whether the event ends a save of a source file: closed after writing, or renamed into
    place (an atomic save). A rename away (vim's backup) or a deletion may be followed by the
    new file, so those do not."""
    if event.is_directory or not paths:
        return False
    if event.event_type == "closed":
        return True
    return event.event_type == "moved" and Path(os.fsdecode(event.dest_path)) in paths


class Debouncer:
    """Gathers paths into one batch until no new one came for `quiet` seconds, or for `settle`
    seconds when the last one finished a save (`add(..., finished=True)`).

    Pure bookkeeping over the timestamps it is given, so it is tested without a clock. A batch
    is also released once its first path has waited `max_wait`, so a file that changes
    continuously cannot hold rebuilds back forever.
    """

    def __init__(self, quiet: float = 0.03, max_wait: float = 1.0, settle: float | None = None):
        self.quiet = quiet
        self.max_wait = max_wait
        self.settle = quiet if settle is None else min(settle, quiet)
        self._paths: set[Path] = set()
        self._first = 0.0
        self._last = 0.0
        self._finished = False

    def add(self, paths: Iterable[Path], now: float, finished: bool = False) -> None:
        paths = set(paths)
        if not paths:
            return
        if not self._paths:
            self._first = now
        self._paths |= paths
        self._last = now
        self._finished = finished

    def deadline(self) -> float | None:
        """When the pending batch is due, or None when nothing is pending."""
        if not self._paths:
            return None
        return min(self._last + (self.settle if self._finished else self.quiet), self._first + self.max_wait)

    def take(self, now: float) -> frozenset[Path] | None:
        """The pending batch if it is due at `now` (and forget it), else None."""
        due = self.deadline()
        if due is None or now < due:
            return None
        batch = frozenset(self._paths)
        self._paths.clear()
        return batch


class Watcher:
    """Watches content/, templates/, static/ and site.yaml under `site_dir` and calls
    `on_change(paths)` with each debounced batch of absolute paths from one worker thread.

    `on_change` may receive the path of a deleted or moved folder, meaning everything under it.
    A batch is due `quiet` seconds after the last event, or `settle` seconds after it when that
    event finished a save: a file closed after writing, or renamed into place.
    """

    def __init__(self, site_dir: str | os.PathLike, on_change: Callable[[frozenset[Path]], None], *,
                 quiet: float = 0.03, max_wait: float = 1.0, settle: float = 0.01,
                 ignored_dirs: Iterable[str] = DEFAULT_IGNORED_DIRS):
        self.site_dir = Path(site_dir).resolve()
        self.on_change = on_change
        self.ignored_dirs = tuple(ignored_dirs)
        self._debouncer = Debouncer(quiet, max_wait, settle)
        self._wakeup = threading.Condition()
        self._stopping = False
        self._observer = Observer()
        self._handler = _Handler(self)
        self._watches: dict[str, object] = {}
        self._worker = threading.Thread(target=self._run, name="briefing-rebuild", daemon=True)

    def start(self) -> None:
        # The site folder itself, not recursively: site.yaml, and content/ etc. appearing later.
        self._observer.schedule(self._handler, str(self.site_dir), recursive=False, event_filter=_EVENT_TYPES)
        for name in WATCHED_DIRS:
            self._watch_dir(self.site_dir / name)
        self._observer.start()
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; waits up to `timeout` seconds for a rebuild in progress to finish."""
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def add(self, paths: Iterable[Path], finished: bool = False) -> None:
        """Queue changed paths as if the file system had reported them; `finished`: the change
        completed a save (a shorter wait for more)."""
        paths = set(paths)
        if not paths:
            return
        with self._wakeup:
            self._debouncer.add(paths, time.monotonic(), finished)
            self._wakeup.notify_all()

    def _watch_dir(self, path: Path) -> None:
        if path.is_dir():
            old = self._watches.pop(path.name, None)
            if old is not None:
                try:
                    self._observer.unschedule(old)
                except KeyError:
                    pass
            self._watches[path.name] = self._observer.schedule(
                self._handler, str(path), recursive=True, event_filter=_EVENT_TYPES)

    def _on_event(self, event: FileSystemEvent) -> None:
        # A watched folder (re)appearing at the top of the site gets a watch of its own.
        if event.is_directory and event.event_type in ("created", "moved"):
            target = Path(os.fsdecode(event.dest_path or event.src_path))
            if target.parent == self.site_dir and target.name in WATCHED_DIRS:
                self._watch_dir(target)
        paths = event_paths(event, self.site_dir, self.ignored_dirs)
        self.add(paths, finished=finishes_save(event, paths))

    def _run(self) -> None:
        while True:
            with self._wakeup:
                batch = None
                while not self._stopping:
                    due = self._debouncer.deadline()
                    now = time.monotonic()
                    if due is not None and now >= due:
                        batch = self._debouncer.take(now)
                        break
                    self._wakeup.wait(None if due is None else due - now)
                if self._stopping:
                    return
            try:
                self.on_change(batch)
            except Exception:  # the watcher must outlive a failing rebuild
                log.exception("rebuild failed")


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.watcher._on_event(event)
