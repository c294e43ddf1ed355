#!/usr/bin/env python3
"""How long the preview's engine takes to rebuild after one edit, by kind of edit.

Usage: bench/engine_updates.py [--sizes example,1000,5000] [--edits 5]

For each site (the example site at the repo root, or a `make_corpus.py` corpus cached under
bench/out/corpus-N), one `Engine` (as `briefing serve` makes it) builds once, then times
`Engine.update` after each of: appending a sentence to the middle article's text, retitling
it in its front matter, retitling the newest article (the one a desk is writing; resolving
resumes from the last checkpoint before the edit, so this is the common and the cheap case),
changing the middle article's first proposal (or question) status, and appending a rule to
the site's stylesheet. Edits go to a scratch copy.
Prints the median and min–max in milliseconds. The browser side (save to screen) is
bench/preview_latency.py.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generator.engine import Engine  # noqa: E402

OUT = REPO / "bench" / "out"
MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"


def corpus(size: str) -> Path:
    if size == "example":
        return REPO
    folder = OUT / f"corpus-{size}"
    if not (folder / "site.yaml").exists():
        subprocess.run([sys.executable, str(MAKE_CORPUS), str(folder), "--articles", size], check=True)
    return folder


def scratch_copy(source: Path, into: Path) -> Path:
    site = into / "site"
    site.mkdir()
    shutil.copy(source / "site.yaml", site / "site.yaml")
    shutil.copytree(source / "content", site / "content")
    for folder in ("templates", "static"):
        if (source / folder).is_dir() and source != REPO:
            shutil.copytree(source / folder, site / folder)
    return site


def restatused(text: str, i: int) -> str:
    """The article with its first proposal or question status set to another value."""
    match = re.search(r"^(\s*status: )(\S+)", text, flags=re.MULTILINE)
    if match is None:
        return text
    choices = [s for s in ("stalled", "agreed", "rejected", "open", "answered") if s != match.group(2)]
    kind = ("open", "answered") if match.group(2) in ("open", "answered") else ("stalled", "agreed", "rejected")
    new = [c for c in choices if c in kind][i % 2]
    return text[:match.start(2)] + new + text[match.end(2):]


def retitled(text: str, i: int) -> str:
    """The article with `Edit i, ` put in front of its title, quoted or not."""
    if 'title: "' in text:
        return text.replace('title: "', f'title: "Edit {i}, ', 1)
    return text.replace("title: ", f"title: Edit {i}, ", 1)


def measure(site: Path, edits: int) -> dict[str, list[float]]:
    engine = Engine(site, drafts=True, parallel=False)
    if not engine.build().ok:
        raise SystemExit(f"{site}: the first build failed")
    articles = sorted((site / "content" / "articles").glob("*.md"))
    article = articles[len(articles) // 2]
    original = article.read_text()
    newest = articles[-1]              # the briefing a desk is writing today
    newest_original = newest.read_text()
    stylesheet = site / "static" / "style.css"
    stylesheet.parent.mkdir(exist_ok=True)
    theme_css = (REPO / "static" / "style.css").read_text()
    times: dict[str, list[float]] = {"text": [], "front matter": [], "front matter, newest": [], "status": [],
                                     "stylesheet": []}
    for i in range(edits):
        for kind, path, text in (
            ("text", article, original.rstrip("\n") + f"\n\nA sentence added by the bench, {i}.\n"),
            ("front matter", article, retitled(original, i)),
            ("front matter, newest", newest, retitled(newest_original, i)),
            ("status", article, restatused(original, i)),
            ("stylesheet", stylesheet, theme_css + f"\n.bench-{i} {{ color: red; }}\n"),
        ):
            path.write_text(text)
            started = time.perf_counter()
            result = engine.update([path])
            times[kind].append(time.perf_counter() - started)
            if not result.ok:
                raise SystemExit(f"{kind} edit failed: {[d.format() for d in result.diagnostics]}")
            article.write_text(original)
            newest.write_text(newest_original)
            engine.update([article, newest])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="example,1000,5000")
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    print("$ " + " ".join([sys.executable, *sys.argv]))
    print(f"machine: {len(os.sched_getaffinity(0))} cores; load average {os.getloadavg()[0]:.2f}")
    print(f"{'site':>8}  {'edit':<21} {'median':>9}  min–max")
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory(dir=OUT if OUT.is_dir() else None) as tmp:
            times = measure(scratch_copy(corpus(size), Path(tmp)), args.edits)
        for kind, samples in times.items():
            ms = [t * 1000 for t in samples]
            print(f"{size:>8}  {kind:<21} {statistics.median(ms):7.0f} ms  {min(ms):.0f}–{max(ms):.0f} ms")


if __name__ == "__main__":
    main()
