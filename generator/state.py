"""What one `briefing build` leaves for the next: the model, the plan and the sources it came from.

With it, a later build in a new process renders only the pages an edit touched and keeps
every other file of the output folder as it is: an edit to an article's text alone patches
the model and renders that one briefing (engine.py); any other edit takes up the story where
this build left it (`Story`: the parsed documents and the walk through them, resolve.Fold),
re-parses only the edited files and resolves again as the preview does, following only the
entities the edit touches, then compares the new model with this one (`plan.changed_deps`,
cheap: the two share every object the edit left alone).

It is only a shortcut. It is used only when it was made with the same options, templates,
static files and generator code, and when the output folder was last written by a build
that used it (the manifest names the state's token) and still holds every file it wrote;
otherwise the build renders everything.

It is two files (and splice.py's): the state proper, and the story (nearly all of it: 120 MB
at 10,000 articles), read only when the build needs it. The story's file is one pickle stream of two parts sharing
one memo: the model first, then the documents, the fold, the feeds made from the model (so
that only the feeds an edit changed are made again) and the pages' plans, which refer to the
model's objects (the articles' text and titles, the entities) rather than repeat them. The
briefings' and entity pages' plans are kept without their dependencies, which an index holds
turned inside out (plan.DepIndex: the story's second part then loads in two thirds of the
time). A body-only rebuild reads the first part alone: it plans the briefings it renders itself.
With the theme's templates it reads none of the story: a third file, the bodies file
(splice.py, 3.4 MB at 10,000 articles), holds what rendering an article's body takes, and the
rebuild writes the new bodies into the pages on disk.

The state is written after the build's output, by a detached process that holds the state's
lock (`save_state_detached`): at 10,000 articles planning what is left and pickling it takes
about three seconds the user need not wait for, as git leaves its auto-gc running. A first
build's pages are planned without their dependencies (it renders them all), and so are a
rebuild's that took up a story (it found the pages to render by the index): that process
finds them for the story.
The next build takes the lock before reading the state, so it waits for a writer still at
work instead of missing the state.

A body-only rebuild leaves the state as it is (writing 120 MB for one changed paragraph
would cost more than the build), so the sources may have moved on from `digests`; the next
build compares against the state again and re-checks those files, until it writes a new one.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import Diagnostic
from .freshness import all_present
from .model import Site
from .parallel import no_gc
from .parse import Document
from .pickles import CACHE_DIR, dump
from .plan import DepIndex, PagePlan, without_deps
from .resolve import Fold
from .splice import BODIES_FILE, body_inputs
from .write import read_manifest, read_manifest_field

STATE_FILE = "build-state.pickle"    # the BuildState without its story
STORY_FILE = "build-story.pickle"    # (token, model), then (documents, fold, feeds, plans, index): see above
LOCK_FILE = "build-state.lock"   # held by the state's writer, and by a build while it reads the state


@dataclass(frozen=True, slots=True)
class Story:
    """Where a build left the story: what the next build takes up instead of starting over."""

    site: Site
    documents: dict[str, Document]          # by site-relative path
    fold: Fold                              # fold.site is `site`; its entries hold `documents`
    feeds: dict[str, tuple]   # extras.extra_files' cache: unchanged feeds (and lastmods) are not made again
    plans: dict[str, PagePlan]              # by output path, as plan_site made them from `site`
    # as loaded, the briefings' and entity pages' plans come without their dependencies, which
    # this index holds (plan.without_deps); None: every plan has its own
    deps_index: DepIndex | None = None


@dataclass(frozen=True, slots=True)
class BuildState:
    key: str                                # freshness.setup_digest of the build that made it
    out_dir: str
    token: str                              # recorded in the manifest of every build that used it
    # None as loaded: it is in a file of its own (load_model, load_story), read when needed
    story: Story | None
    asset_names: dict[str, str]
    digests: dict[str, str]                 # source path -> content digest, as the story was resolved
    fronts: dict[str, str]                  # source path -> digest of its front matter
    diagnostics: tuple[Diagnostic, ...]     # the warnings of the build that resolved the story
    hashes: dict[str, str] = field(default_factory=dict)   # the output's manifest (read, never saved)


def new_token() -> str:
    return secrets.token_hex(8)


def load_state(site_dir: Path, key: str, out_dir: Path) -> BuildState | None:
    """The previous build's state, if it fits this build and the output folder is as it left it."""
    token = read_manifest_field(out_dir, "state")
    if not isinstance(token, str):
        return None
    try:
        with _locked(site_dir, shared=True), open(site_dir / CACHE_DIR / STATE_FILE, "rb") as fh, \
                no_gc(keep=True):
            state = pickle.load(fh)
    except Exception:  # noqa: BLE001 - an unreadable state is simply no state
        return None
    if not isinstance(state, BuildState) or \
            (state.key, state.token, state.out_dir) != (key, token, str(out_dir.resolve())):
        return None
    hashes = read_manifest(out_dir)
    # a file someone deleted must be written again, so it cannot be kept
    return replace(state, hashes=hashes) if all_present(out_dir, hashes) else None


def load_model(site_dir: Path, state: BuildState) -> Site | None:
    """The model `state` was made with (its story's first part alone), or None (see load_story)."""
    parts = _read_story(site_dir, state, 1)
    return None if parts is None else parts[0]


def load_story(site_dir: Path, state: BuildState) -> Story | None:
    """The story `state` was made with, or None when its file is missing, unreadable or another build's."""
    parts = _read_story(site_dir, state, 2)
    if parts is None:
        return None
    site, rest = parts
    if not isinstance(rest, tuple) or len(rest) != 5:
        return None
    documents, fold, feeds, plans, index = rest
    if not isinstance(documents, dict) or not isinstance(fold, Fold) or fold.site is not site \
            or not isinstance(index, DepIndex):
        return None
    return Story(site, documents, fold, feeds, plans, index)


def _read_story(site_dir: Path, state: BuildState, count: int) -> list | None:
    """The first `count` parts of the story's file (the model first), or None if it is not `state`'s."""
    try:
        with _locked(site_dir, shared=True), open(site_dir / CACHE_DIR / STORY_FILE, "rb") as fh, \
                no_gc(keep=True):
            unpickler = pickle.Unpickler(fh)   # one memo for every part: the later ones refer to the first
            token, site = unpickler.load()
            if token != state.token or not isinstance(site, Site):
                return None
            return [site] + [unpickler.load() for _ in range(count - 1)]
    except Exception:  # noqa: BLE001 - an unreadable story is simply no story
        return None


def save_state(site_dir: Path, state: BuildState) -> None:
    story = state.story
    plans, index = without_deps(story.plans)   # (story.plans have their dependencies, as made)
    try:
        # first: the state names the story's token
        dump(site_dir, STORY_FILE, (state.token, story.site),
             (story.documents, story.fold, story.feeds, plans, index))
        dump(site_dir, BODIES_FILE, (state.token, story.site.config, body_inputs(story.site)))
        dump(site_dir, STATE_FILE, replace(state, story=None, hashes={}))
    except OSError:
        pass


def save_state_detached(site_dir: Path, make_state: Callable[[], BuildState]) -> None:
    """save_state(make_state()) in a detached process, holding the state's lock until the state is written.

    The state is made there too: what the build left for it to find (the plans' dependencies,
    engine.Engine.plans_with_deps) is found while the user goes on.

    The lock is taken here, before forking, so a build started the moment this one returns
    already finds it held. The writer is a grandchild in its own session: init adopts it (a
    long-lived caller, such as a test run, collects no zombie), a Ctrl-C or a closed terminal
    does not cut it short, and it holds none of the build's output streams open. Without fork
    it writes here and now.
    """
    # Taken exclusively (an earlier writer may still be at work). Leaving the block closes this
    # process's copy of the lock's descriptor without unlocking it: the lock goes with the writer's.
    with _locked(site_dir, shared=False):
        try:
            pid = os.fork()
        except (AttributeError, OSError):
            save_state(site_dir, make_state())
            return
        if pid == 0:  # pragma: no cover - the child and grandchild; coverage does not follow them
            try:
                if os.fork() == 0:
                    os.setsid()
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    # let go of the build's output streams: whoever reads them (a pipe, `| tee`, a
                    # CI runner) would otherwise wait for the writer too
                    quiet = os.open(os.devnull, os.O_RDWR)
                    for stream in (0, 1, 2):
                        os.dup2(quiet, stream)
                    save_state(site_dir, make_state())
            finally:
                os._exit(0)
        os.waitpid(pid, 0)


def wait_for_state(site_dir: Path) -> None:
    """Until no detached writer is writing this site's state (for callers about to remove it)."""
    with _locked(site_dir, shared=True):
        pass


@contextlib.contextmanager
def _locked(site_dir: Path, *, shared: bool):
    """Holds the state's lock (where the platform and the folder allow one)."""
    try:
        import fcntl
        folder = site_dir / CACHE_DIR
        folder.mkdir(exist_ok=True)
        lock = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)
