"""Spread a cold build's parsing and rendering over every core.

Workers are forked, so they start with the parent's memory: the resolved model, the Jinja
environment, the function to run and the items to run it on are inherited, not pickled (a
worker is sent only its chunk's number; sending the items cost the parent 0.1 s of CPU and
18 MB at 10,000 articles, each source's bytes going out again to a worker that had them).
Only the results come back through a pipe. Small jobs, single-core machines and platforms
without fork run in-process, with the same results.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

MIN_ITEMS = 200           # below this, starting workers costs more than it saves
CHUNKS_PER_WORKER = 4     # several chunks each, so a slow chunk does not idle a core

_task: Callable[[Any], Any] | None = None   # set before forking; the workers inherit it
_chunks: list[Sequence[Any]] = []           # likewise: a worker is sent a chunk's number, not its items


@contextlib.contextmanager
def no_gc(*, keep: bool = False):
    """Pause the cyclic garbage collector: loading or dumping a big pickle allocates millions
    of objects, and each collection it triggers would walk all of them again. With `keep`,
    what was allocated meanwhile is frozen (gc.freeze) afterwards: it lives as long as the
    build, and the collector need not walk it even once."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep:
            gc.freeze()
        if was_enabled:
            gc.enable()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _ignore_interrupts() -> None:
    """Ctrl-C reaches every process of the group: the parent stops the build (and its workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_worker() -> None:
    """A pool worker's signals: Ctrl-C is the parent's to handle (above), and SIGTERM, which
    Pool.terminate sends to a worker still waiting for work, ends it. A handler the parent
    set (the preview's, which stops it cleanly) must not carry over: the worker would live on
    and the pool wait for it forever."""
    _ignore_interrupts()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_chunk(number: int) -> list[Any]:
    assert _task is not None
    # What the worker inherited lives until it exits: never walk it. Rendering a page makes
    # thousands of short-lived objects; collecting the young generation less often saves ~5%
    # of a worker's time, and what it keeps stays small.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return [_task(item) for item in _chunks[number]]


def map_forked(task: Callable[[Any], Any], items: Sequence[Any], *, min_items: int = MIN_ITEMS) -> list[Any]:
    """[task(item) for item in items], in order, using every core when it pays."""
    global _task, _chunks
    import multiprocessing  # here, not at the top: a rebuild that finds nothing to do never needs it
    workers = cores()
    if workers < 2 or len(items) < min_items or "fork" not in multiprocessing.get_all_start_methods():
        return [task(item) for item in items]
    # Strided chunks (every n-th item), not slices: the items come in an order where the costly
    # ones bunch up (a site plans its briefings first, its big actor pages last), and a slice
    # holding all of those would keep one core busy long after the other ran out of work.
    count = min(len(items), workers * CHUNKS_PER_WORKER)
    chunks = [items[i::count] for i in range(count)]
    _task, _chunks = task, chunks
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_start_worker) as pool:
            results = pool.map(_run_chunk, range(count), chunksize=1)
    finally:
        _task, _chunks = None, []
    ordered: list[Any] = [None] * len(items)
    for i, chunk in enumerate(results):
        ordered[i::count] = chunk
    return ordered


def in_background(task: Callable[[], Any], *, fork: bool = True) -> Callable[[], None]:
    """Run `task` in a forked child while this process goes on; returns the function that waits for it.

    For writing caches: the child pickles from its copy of memory, so the pickler's memo and
    buffers never swell this process, and the work overlaps with what comes next. Without
    fork (or with `fork=False`, where threads are running) it runs here and now.
    """
    import multiprocessing
    if not fork or "fork" not in multiprocessing.get_all_start_methods():
        task()
        return lambda: None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; coverage does not follow it
        _ignore_interrupts()  # a Ctrl-C meant for the build: finish writing rather than leave half a file
        code = 0
        try:
            task()
        except BaseException:  # noqa: BLE001 - a cache not written is no cache; say nothing
            code = 1
        os._exit(code)
    return lambda: _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
