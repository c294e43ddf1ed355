#!/usr/bin/env python3
"""Where a cold `briefing build` spends its CPU: py-spy over every process, summed by stage.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_cold.py --size 10000

Samples the build and its forked workers at 100 Hz (`py-spy record --subprocesses`), then
prints the CPU seconds by pipeline stage (the first engine frame a sample passes through; the
parse cache's writer, forked from the parse stage, counts there),
by library (markdown-it, Jinja, MarkupSafe, PyYAML: every sample with a frame of it), by the
file of the frame each sample was in (a template's own code is its .html file; what it calls
counts where it runs), and the functions most samples were in. The corpus is bench/run.py's
(bench/out/corpus-N).
"""
from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CACHE_DIR, WORK, corpus  # noqa: E402

RATE = 100   # samples a second per process
FRAME = re.compile(r"(.*) \((.*?):\d+\)$")
# the engine frame that names a sample's stage (the first one met from the root)
# (py-spy names a method Class.method and a closure outer.<locals>.inner: the last part counts)
STAGES = {("parse_all", "cache.py"): "parse", ("parse_sources", "cache.py"): "parse",
          ("_resolve", "engine.py"): "resolve", ("plan_site", "plan.py"): "plan",
          ("render_one", "engine.py"): "render", ("extra_files", "extras.py"): "feeds and sitemap",
          ("write_output", "write.py"): "write", ("read_sources", "sources.py"): "read"}
LIBRARIES = (("markdown_it/", "markdown-it"), ("jinja2/", "Jinja"), (".html", "Jinja"),
             ("markupsafe/", "MarkupSafe"), ("yaml/", "PyYAML"))


def _stage(frames: list[tuple[str, str]]) -> str:
    for name, file in frames:
        stage = STAGES.get((name.rsplit(".", 1)[-1], file.rsplit("/", 1)[-1]))
        if stage:
            return stage
    return "other"


def _home(file: str) -> str:
    """A frame's file, named by its package: jinja2/runtime.py, generator/render.py, a template."""
    if file.endswith(".html"):
        return "templates/*.html"
    parts = file.split("/")
    return "/".join(parts[-2:]) if len(parts) > 1 else file or "(unknown)"


def summarize(raw: str, top: int = 15) -> None:
    stages: collections.Counter = collections.Counter()
    libraries: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    files: collections.Counter = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = [(m.group(1), m.group(2)) if (m := FRAME.match(f)) else (f, "") for f in stack.split(";")]
        stages[_stage(frames)] += samples
        for library in {label for _name, file in frames for part, label in LIBRARIES if part in file}:
            libraries[library] += samples
        name, file = frames[-1]
        leaves[f"{name} ({file.rsplit('/', 1)[-1]})"] += samples
        files[_home(file)] += samples
    print(f"{total / RATE:.1f} CPU seconds sampled, all processes\n")
    for title, counter in (("stage", stages), ("library", libraries), ("file it ran in", files),
                           ("function", leaves)):
        print(f"{'by ' + title:<44} {'seconds':>8} {'share':>6}")
        for key, samples in counter.most_common(top):
            print(f"  {key:<42} {samples / RATE:8.1f} {100 * samples / total:5.1f}%")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000, help="corpus size (articles)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        sys.exit("bench: py-spy is not installed; `.venv/bin/pip install py-spy`")
    site = corpus(args.size)
    shutil.rmtree(site / CACHE_DIR, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=WORK) as scratch:
        raw = Path(scratch) / "cold.txt"
        subprocess.run([py_spy, "record", "--subprocesses", "--rate", str(RATE), "--format", "raw",
                        "--output", str(raw), "--", sys.executable, "-m", "generator", "build", "--quiet",
                        "--site", str(site), "--out", str(Path(scratch) / "site")],
                       cwd=Path(__file__).resolve().parent.parent, check=True, capture_output=True)
        summarize(raw.read_text())


if __name__ == "__main__":
    main()
