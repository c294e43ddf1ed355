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


class _Unpicklable:
    def __init__(self, n: int):
        self.n = n

    def __reduce__(self):
        raise AssertionError("map_forked pickled an item: its workers have them already")


def test_map_forked_does_not_send_the_items_to_its_workers() -> None:
    items = [_Unpicklable(n) for n in range(400)]
    assert map_forked(lambda item: item.n, items, min_items=10) == list(range(400))


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


SLOW_MAP = """
import sys, time
sys.path.insert(0, {repo!r})
from generator.parallel import map_forked
print("started", flush=True)
try:
    map_forked(lambda n: time.sleep(0.05) or n, list(range(400)), min_items=10)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_stops_the_workers_without_a_traceback_from_each(tmp_path: Path) -> None:
    """Ctrl-C goes to the whole process group: the parent stops, the workers leave quietly."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "slow_map.py"
    script.write_text(SLOW_MAP.format(repo=str(Path(__file__).resolve().parent.parent)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    time.sleep(1.0)   # the workers are in the middle of their chunks
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


HANDLED_TERM = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from generator.parallel import map_forked
signal.signal(signal.SIGTERM, lambda *_: None)   # as the preview does, to stop cleanly
parent = os.getpid()
seen = map_forked(lambda n: (os.getpid() != parent, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
                             signal.getsignal(signal.SIGINT) is signal.SIG_IGN), list(range(300)), min_items=10)
print(sorted(set(seen)), flush=True)
for _ in range(10):
    assert map_forked(lambda n: n * 2, list(range(300)), min_items=10) == [n * 2 for n in range(300)]
print("done", flush=True)
"""


def test_a_parent_that_handles_sigterm_still_gets_its_pool_back(tmp_path: Path) -> None:
    # Pool.terminate ends the workers left waiting for work with SIGTERM; a worker that kept
    # the parent's handler would live on, and the parent wait for it forever (the preview's
    # first build hung so).
    import subprocess
    import sys

    script = tmp_path / "handled_term.py"
    script.write_text(HANDLED_TERM.format(repo=str(Path(__file__).resolve().parent.parent)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    # in a worker: SIGTERM ends it, Ctrl-C is left to the parent
    assert proc.returncode == 0 and proc.stdout == "[(True, True, True)]\ndone\n", proc.stderr
