"""parallel.py: forked workers and background writers give the results an in-process run gives."""
from __future__ import annotations

import os
from pathlib import Path

from generator.parallel import in_background, map_forked


def test_map_forked_keeps_order_and_matches_a_plain_map() -> None:
    items = list(range(1000))
    results = map_forked(lambda n: n * n, items, min_items=10)
    assert results == [n * n for n in items]


def test_map_forked_uses_other_processes_for_big_jobs() -> None:
    pids = set(map_forked(lambda _: os.getpid(), list(range(400)), min_items=10))
    assert os.getpid() not in pids or len(os.sched_getaffinity(0)) < 2


def test_in_background_runs_the_task_in_a_child_and_waits_for_it(tmp_path: Path) -> None:
    target = tmp_path / "written"
    parent = os.getpid()
    wait = in_background(lambda: target.write_text(str(os.getpid())))
    wait()
    assert target.read_text() != str(parent), "written by another process"
    wait()  # waiting twice is harmless


def test_in_background_without_fork_runs_here(tmp_path: Path) -> None:
    target = tmp_path / "written"
    wait = in_background(lambda: target.write_text(str(os.getpid())), fork=False)
    assert target.read_text() == str(os.getpid())
    wait()


def test_a_failing_background_task_does_not_reach_the_caller(tmp_path: Path) -> None:
    def fail() -> None:
        raise OSError("disk full")

    in_background(fail)()   # the cache is simply not written
