"""The watcher: its ignore rule and debouncer without a file system, then a real Observer on a
temporary site, fed the save patterns of common editors."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from watchdog.events import (
    DirDeletedEvent,
    DirModifiedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
)

from generator.watch import (
    Debouncer,
    Watcher,
    changed_between,
    event_paths,
    finishes_save,
    ignored,
    relevant,
    stamps,
)

SITE = Path("/site")


# -- the ignore rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "content/articles/.talks.md.swp", "content/articles/.talks.md.swx", "content/articles/talks.md.swp",
    "content/articles/talks.md~", "content/articles/.#talks.md", "content/articles/#talks.md#",
    "content/articles/4913", "content/.DS_Store", "static/Thumbs.db",
    "content/articles/.talks.md.tmp1234", "content/articles/talks.md.tmp", "content/articles/talks.md.part",
    "content/articles/.goutputstream-AB12CD", "content/articles/talks.md___jb_tmp___",
    "content/articles/talks.md___jb_old___", "content/articles/talks.md.crswap",
    "content/.git/index", "content/.git/objects/ab/cdef", ".git/HEAD",
    "content/_site/index.html", "_site/briefings/x/index.html", ".briefing-cache/parse/ab12",
    "content/node_modules/x/index.js", "templates/__pycache__/x.pyc", "static/.hidden/logo.svg",
    "content/articles/.~lock.talks.md#", "",
])
def test_noise_is_ignored(path):
    assert ignored(path)


@pytest.mark.parametrize("path", [
    "content/articles/talks.md", "content/actors/rutte.yaml", "templates/base.html", "static/style.css",
    "site.yaml", "content/articles/2024/talks-day-2.md", "content/pages/about.md", "static/fonts/inter.woff2",
    "content/articles/4913-notes.md", "content/articles/tilde~name.md",
])
def test_sources_are_kept(path):
    assert not ignored(path)


def test_the_output_and_cache_folders_can_be_named():
    assert ignored("content/public/x.md", ignored_dirs=["public"])
    assert not ignored("content/public/x.md")


@pytest.mark.parametrize("path, kept", [
    ("/site/site.yaml", True), ("/site/content/articles/x.md", True), ("/site/templates/base.html", True),
    ("/site/static/style.css", True), ("/site/content", True),
    ("/site/README.md", False), ("/site/site.yaml.swp", False), ("/site/.site.yaml.swp", False),
    ("/site/_site/index.html", False), ("/elsewhere/content/x.md", False), ("/site/bench/x.md", False),
])
def test_relevant_paths(path, kept):
    assert relevant(path, SITE) is kept


def test_event_paths_take_both_ends_of_a_move():
    move = FileMovedEvent("/site/content/articles/old.md", "/site/content/articles/new.md")
    assert event_paths(move, SITE) == {SITE / "content/articles/old.md", SITE / "content/articles/new.md"}


def test_an_atomic_save_counts_as_a_change_to_the_target():
    move = FileMovedEvent("/site/content/articles/.talks.md.tmp81", "/site/content/articles/talks.md")
    assert event_paths(move, SITE) == {SITE / "content/articles/talks.md"}


def test_event_paths_skip_noise_and_folder_modifications():
    assert event_paths(FileModifiedEvent("/site/content/articles/.talks.md.swp"), SITE) == set()
    assert event_paths(DirModifiedEvent("/site/content/articles"), SITE) == set()
    assert event_paths(FileCreatedEvent("/site/content/x.md"), SITE) == {SITE / "content/x.md"}
    assert event_paths(FileDeletedEvent("/site/content/x.md"), SITE) == {SITE / "content/x.md"}
    assert event_paths(DirDeletedEvent("/site/content/old"), SITE) == {SITE / "content/old"}


# -- the debouncer -----------------------------------------------------------------------------------

A, B, C = Path("/s/a.md"), Path("/s/b.md"), Path("/s/c.md")


def test_a_burst_becomes_one_batch():
    debouncer = Debouncer(quiet=0.03, max_wait=1.0)
    debouncer.add([A], now=10.000)
    debouncer.add([B], now=10.010)
    debouncer.add([A], now=10.020)
    assert debouncer.take(now=10.049) is None           # 29 ms after the last event: still in the burst
    assert debouncer.deadline() == pytest.approx(10.050)
    assert debouncer.take(now=10.050) == {A, B}
    assert debouncer.take(now=11.0) is None and debouncer.deadline() is None


def test_quiet_gaps_split_batches():
    debouncer = Debouncer(quiet=0.03)
    debouncer.add([A], now=1.0)
    assert debouncer.take(now=1.05) == {A}
    debouncer.add([B], now=1.06)
    debouncer.add([C], now=1.07)
    assert debouncer.take(now=1.2) == {B, C}


def test_a_never_ending_burst_is_released_after_max_wait():
    debouncer = Debouncer(quiet=0.03, max_wait=0.2)
    released = None
    for tick in range(100):                         # a change every 10 ms, for a second
        if debouncer.take(now=tick / 100) is not None:
            released = tick
            break
        debouncer.add([A], now=tick / 100)
    assert released == 20                           # 200 ms after the first change


def test_a_finished_save_settles_sooner():
    debouncer = Debouncer(quiet=0.03, settle=0.01)
    debouncer.add([A], now=1.000)                   # truncated, written...
    debouncer.add([A], now=1.001, finished=True)    # ...and closed
    assert debouncer.deadline() == pytest.approx(1.011)
    debouncer.add([B], now=1.005)                   # another file is being written: wait again
    assert debouncer.deadline() == pytest.approx(1.035)
    assert debouncer.take(now=1.035) == {A, B}


@pytest.mark.parametrize(("event", "finished"), [
    (FileClosedEvent("/site/content/x.md"), True),
    (FileMovedEvent("/site/content/.x.md.tmp1", "/site/content/x.md"), True),     # an atomic save
    (FileMovedEvent("/site/content/x.md", "/site/content/x.md~"), False),         # vim's backup
    (FileModifiedEvent("/site/content/x.md"), False),
    (FileCreatedEvent("/site/content/x.md"), False),
    (FileDeletedEvent("/site/content/x.md"), False),
    (FileClosedEvent("/site/content/.x.md.swp"), False),
])
def test_which_events_finish_a_save(event, finished):
    assert finishes_save(event, event_paths(event, SITE)) is finished


def test_adding_nothing_starts_no_batch():
    debouncer = Debouncer()
    debouncer.add([], now=1.0)
    assert debouncer.deadline() is None


# -- a real observer -----------------------------------------------------------------------------

class Recorder:
    """Collects the batches and checks that two never overlap."""

    def __init__(self, delay: float = 0.0):
        self.batches: list[frozenset[Path]] = []
        self.delay = delay
        self.running = 0
        self.overlapped = False
        self.changed = threading.Condition()

    def __call__(self, paths):
        with self.changed:
            self.running += 1
            self.overlapped |= self.running > 1
        time.sleep(self.delay)
        with self.changed:
            self.running -= 1
            self.batches.append(paths)
            self.changed.notify_all()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[frozenset[Path]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.batches) >= count, timeout), self.batches
            return list(self.batches)

    def settle(self, seconds: float = 0.3) -> list[frozenset[Path]]:
        time.sleep(seconds)
        with self.changed:
            return list(self.batches)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for folder in ("content/articles", "templates", "static", "_site", ".git"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "site.yaml").write_text("title: t\n")
    (tmp_path / "content/articles/talks.md").write_text("one\n")
    return tmp_path.resolve()


@pytest.fixture
def watch(site):
    watchers = []

    def start(recorder, **options):
        watcher = Watcher(site, recorder, **options)
        watcher.start()
        watchers.append(watcher)
        time.sleep(0.1)
        return watcher

    yield start
    for watcher in watchers:
        watcher.stop()


def test_a_plain_write(site, watch):
    recorder = Recorder()
    watch(recorder)
    (site / "content/articles/talks.md").write_text("two\n")
    assert recorder.wait() == [{site / "content/articles/talks.md"}]
    assert recorder.settle() == [{site / "content/articles/talks.md"}]


def test_an_atomic_save(site, watch):
    recorder = Recorder()
    watch(recorder)
    temporary = site / "content/articles/.talks.md.tmp4242"
    temporary.write_text("two\n")
    os.replace(temporary, site / "content/articles/talks.md")
    assert recorder.wait() == [{site / "content/articles/talks.md"}]
    assert recorder.settle() == [{site / "content/articles/talks.md"}]


def test_a_vim_save(site, watch):
    recorder = Recorder()
    watch(recorder)
    folder = site / "content/articles"
    (folder / ".talks.md.swp").write_text("swap")
    (folder / "4913").write_text("")
    (folder / "4913").unlink()
    os.rename(folder / "talks.md", folder / "talks.md~")
    (folder / "talks.md").write_text("two\n")
    (folder / "talks.md~").unlink()
    (folder / ".talks.md.swp").unlink()
    assert recorder.wait() == [{folder / "talks.md"}]
    assert recorder.settle() == [{folder / "talks.md"}]


def test_an_emacs_save(site, watch):
    recorder = Recorder()
    watch(recorder)
    folder = site / "content/articles"
    os.symlink("user@host.1234", folder / ".#talks.md")
    (folder / "#talks.md#").write_text("autosave")
    (folder / "talks.md").write_text("two\n")
    (folder / "#talks.md#").unlink()
    (folder / ".#talks.md").unlink()
    assert recorder.wait() == [{folder / "talks.md"}]


def test_rename_delete_and_site_yaml(site, watch):
    recorder = Recorder()
    watch(recorder)
    folder = site / "content/articles"
    os.rename(folder / "talks.md", folder / "summit.md")
    assert recorder.wait(1)[0] == {folder / "talks.md", folder / "summit.md"}
    (folder / "summit.md").unlink()
    assert recorder.wait(2)[1] == {folder / "summit.md"}
    (site / "site.yaml").write_text("title: u\n")
    assert recorder.wait(3)[2] == {site / "site.yaml"}


def test_output_git_and_other_files_are_not_watched(site, watch):
    recorder = Recorder()
    watch(recorder)
    (site / "_site/index.html").write_text("x")
    (site / ".git/index").write_text("x")
    (site / "README.md").write_text("x")
    (site / "content/.DS_Store").write_text("x")
    assert recorder.settle(0.3) == []


def test_a_folder_created_after_start_is_watched(site, watch):
    recorder = Recorder()
    (site / "templates").rmdir()
    watch(recorder)
    (site / "templates").mkdir()
    time.sleep(0.1)
    (site / "templates/base.html").write_text("<html>")
    batches = recorder.wait(1)
    time.sleep(0.2)
    assert site / "templates/base.html" in set().union(*recorder.settle(0))
    assert batches


def test_changes_during_a_rebuild_wait_for_the_next_batch(site, watch):
    recorder = Recorder(delay=0.3)
    watch(recorder)
    folder = site / "content/articles"
    (folder / "talks.md").write_text("two\n")
    with recorder.changed:                          # wait until the first rebuild is running
        deadline = time.monotonic() + 5
        while not recorder.running and time.monotonic() < deadline:
            recorder.changed.wait(0.01)
    (folder / "a.md").write_text("a\n")
    (folder / "b.md").write_text("b\n")
    batches = recorder.wait(2)
    assert batches == [{folder / "talks.md"}, {folder / "a.md", folder / "b.md"}]
    assert not recorder.overlapped


def test_a_failing_callback_does_not_stop_the_watcher(site, watch):
    calls = []

    def explode(paths):
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("boom")

    watch(explode)
    (site / "content/articles/talks.md").write_text("two\n")
    time.sleep(0.2)
    (site / "content/articles/talks.md").write_text("three\n")
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(calls) == 2


def test_latency_is_the_quiet_window(site, watch):
    seen = threading.Event()
    watch(lambda paths: seen.set(), quiet=0.03)
    started = time.monotonic()
    (site / "content/articles/talks.md").write_text("two\n")
    assert seen.wait(5)
    assert time.monotonic() - started < 0.5


def test_two_snapshots_name_what_changed_between_them(site):
    (site / "templates/base.html").write_text("<html>")
    (site / "content/articles/gone.md").write_text("soon deleted\n")
    before = stamps(site)
    assert set(before) == {site / "site.yaml", site / "templates/base.html",
                           site / "content/articles/talks.md", site / "content/articles/gone.md"}

    (site / "content/articles/talks.md").write_text("two, longer\n")     # edited
    (site / "content/articles/gone.md").unlink()                         # deleted
    (site / "content/articles/new.md").write_text("new\n")               # created
    moved = site / "templates/base.html"                                 # replaced by a rename,
    (site / "templates/.base.html.tmp").write_text("<html>")             # same size: a new inode
    os.replace(site / "templates/.base.html.tmp", moved)
    (site / "_site/index.html").write_text("output")                     # none of these is a source
    (site / ".git/HEAD").write_text("ref")
    (site / "content/articles/.talks.md.swp").write_text("vim")

    assert changed_between(before, stamps(site)) == {
        site / "content/articles/talks.md", site / "content/articles/gone.md",
        site / "content/articles/new.md", moved}
    assert changed_between(before, before) == set()
