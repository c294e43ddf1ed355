#!/usr/bin/env python3
"""Measure `briefing serve`'s save-to-screen latency with a real browser.

    .venv/bin/python bench/preview_latency.py --sizes example,1000 --edits 10 [--edit text|title]

For each site (`example`: the example site at the repository root; a number N: a corpus of N
articles from ../shared/bench/make_corpus.py, cached in bench/out/corpus-N): copy it to a
scratch folder, start the real `briefing serve` on it, open the newest article's page in
headless Chromium (/usr/bin/chromium, or $BRIEFING_CHROMIUM), then --edits times: note the wall
clock t0 just before writing the article with a unique marker sentence appended to its body,
and wait until the page shows the marker. With --edit title the marker goes into the article's title
instead (a front-matter edit: the story is resolved again, and the pages that show it are rendered).
The page records the moment itself: a script added to
every document it loads checks the page's text on every animation frame (i.e. just before each
paint) and keeps the first wall-clock time (performance.timeOrigin + performance.now()) at which
each marker is there. Latency = that time - t0, so it covers the watcher's debounce, the
rebuild, the event to the page, the page's reload and its first frame with the new text.

One warm-up edit per site is not counted. Prints median and min-max per site, with two parts
of it: when the page received the server's event (watcher, debounce, rebuild, event stream) and
the server's own "rebuilt ... in N ms", with the part of it after which the page on screen was
shown, before the rest of the rebuild ("(1 page on screen in M ms)", engine.OnScreen: the
edits counted are those where it was); then the first build and start, and the serve
process's peak resident memory (VmHWM, read before it stops). Exits non-zero when serve
fails to start, dies, or a marker never shows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "out"
MAKE_CORPUS = ROOT.parent / "shared" / "bench" / "make_corpus.py"
CHROMIUM = os.environ.get("BRIEFING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
EXAMPLE_PARTS = ("site.yaml", "content", "static", "templates")
URL_LINE = re.compile(r"serving (http://\S+) \(Ctrl-C to stop\)")
REBUILT = re.compile(r"rebuilt (\d+) pages? in (\d+) ms")
ON_SCREEN = re.compile(r"\(\d+ pages? on screen in (\d+) ms\)")   # the open page, shown before the rest
LEADING_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}-")

# On every document the page loads: on each animation frame, look for markers not seen yet and
# keep the wall-clock time each first showed (sessionStorage survives the live reloads).
RECORDER = r"""
(() => {
  const KEY = "briefing-bench-marks", EVENTS = "briefing-bench-events";
  const seen = JSON.parse(sessionStorage.getItem(KEY) || "{}");
  const pattern = /zqxmark(\d+)zqx/g;
  function frame() {
    const now = performance.timeOrigin + performance.now();
    const text = document.body ? document.body.textContent : "";
    let changed = false;
    for (const match of text.matchAll(pattern)) {
      if (!(match[1] in seen)) { seen[match[1]] = now; changed = true; }
    }
    if (changed) sessionStorage.setItem(KEY, JSON.stringify(seen));
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
  // When the server's events reach the page: through the tabs' shared worker (livereload.js),
  // or a stream of the page's own where there is none.
  function record() {
    const times = JSON.parse(sessionStorage.getItem(EVENTS) || "[]");
    times.push(performance.timeOrigin + performance.now());
    sessionStorage.setItem(EVENTS, JSON.stringify(times));
  }
  const kinds = ["reload", "css", "errors", "ok"];
  const Native = window.EventSource;
  window.EventSource = function (...args) {
    const stream = new Native(...args);
    for (const kind of kinds) stream.addEventListener(kind, record);
    return stream;
  };
  Object.assign(window.EventSource, { CONNECTING: 0, OPEN: 1, CLOSED: 2 });
  if (typeof window.SharedWorker === "function") {
    const NativeWorker = window.SharedWorker;
    window.SharedWorker = function (...args) {
      const worker = new NativeWorker(...args);
      worker.port.addEventListener("message", (event) => { if (kinds.includes(event.data.type)) record(); });
      return worker;
    };
  }
})();
"""


class BenchError(Exception):
    pass


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_site(size: str) -> Path:
    """The site to copy: the repository's example site, or a cached corpus (made if missing)."""
    if size == "example":
        return ROOT
    corpus = WORK / f"corpus-{int(size)}"
    if not (corpus / "site.yaml").is_file():
        print(f"making {corpus} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(MAKE_CORPUS), str(corpus), "--articles", str(int(size))], check=True)
    return corpus


def scratch_copy(size: str, into: Path) -> Path:
    """A copy of the site to edit (never the repository's own files or the shared corpus)."""
    source = source_site(size)
    site = into / f"site-{size}"
    if size == "example":
        site.mkdir()
        for part in EXAMPLE_PARTS:
            if (source / part).is_dir():
                shutil.copytree(source / part, site / part)
            elif (source / part).is_file():
                shutil.copy2(source / part, site / part)
    else:
        shutil.copytree(source, site, ignore=shutil.ignore_patterns("_site", "public"))
    return site


def newest_article(site: Path) -> tuple[Path, str]:
    """The last article by file name (the newest date) and its slug."""
    article = sorted((site / "content" / "articles").glob("*.md"))[-1]
    front = article.read_text().split("\n---", 1)[0]
    slug = re.search(r"^slug:\s*['\"]?([a-z0-9-]+)", front, re.MULTILINE)
    return article, slug[1] if slug else (LEADING_DATE.sub("", article.stem) or article.stem)


class Server:
    """`briefing serve` on a site, in a subprocess; its output is collected line by line."""

    def __init__(self, site: Path, timeout: float):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "generator", "serve", "--site", str(site), "--port", "0"],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.SimpleQueue = queue.SimpleQueue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url(timeout)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            if match := URL_LINE.search(line):
                return match[1]
        self.stop()
        raise BenchError("briefing serve did not start:\n" + "".join(self.output[-30:]))

    def rebuild_times(self) -> list[tuple[int, int | None]]:
        """The 'rebuilt ... in N ms' figures printed since the last call, each with the time its
        page on screen was shown before the rest ('(1 page on screen in M ms)'), if it was."""
        times = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return times
            if line and (match := REBUILT.search(line)):
                early = ON_SCREEN.search(line)
                times.append((int(match[2]), int(early[1]) if early else None))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def peak_rss_mib(self) -> float | None:
        """The serve process's peak resident memory so far (VmHWM), or None off Linux. Its first
        build's render workers are short-lived processes of their own, not counted here."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        return int(match[1]) / 1024 if match else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for_mark(page, server: Server, mark: int, timeout: float) -> float:
    """The wall-clock time (ms) at which the page first showed marker `mark`."""
    from playwright.sync_api import Error

    expression = f"JSON.parse(sessionStorage.getItem('briefing-bench-marks') || '{{}}')['{mark}']"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError("briefing serve died:\n" + "".join(server.output[-30:]))
        try:
            return float(page.wait_for_function(expression, timeout=max(1, (deadline - time.monotonic()) * 1000))
                         .json_value())
        except Error as exc:     # a reload destroyed the context the wait ran in: wait again
            if "Timeout" in str(exc) and time.monotonic() >= deadline:
                break
    raise BenchError(f"marker {mark} did not show within {timeout:.0f} s:\n" + "".join(server.output[-30:]))


def event_time(page, after: float) -> float | None:
    """The wall-clock time (ms) of the first server event the page received after `after`."""
    times = page.evaluate("JSON.parse(sessionStorage.getItem('briefing-bench-events') || '[]')")
    return min((t for t in times if t >= after), default=None)


def edited(original: str, mark: int, kind: str) -> str:
    """The article with marker `mark` in its text (appended) or at the start of its title."""
    if kind == "text":
        return original.rstrip("\n") + f"\n\nThe preview benchmark wrote zqxmark{mark}zqx here.\n"
    quote = 'title: "' if 'title: "' in original else "title: "
    return original.replace(quote, f"{quote}zqxmark{mark}zqx ", 1)


def measure(browser, size: str, edits: int, pause: float, start_timeout: float, edit_timeout: float,
            kind: str = "text") -> dict:
    with tempfile.TemporaryDirectory(prefix="preview-", dir=WORK) as scratch:
        site = scratch_copy(size, Path(scratch))
        article, slug = newest_article(site)
        articles = len(list((site / "content" / "articles").glob("*.md")))
        original = article.read_text()
        started = time.perf_counter()
        server = Server(site, start_timeout)
        startup = time.perf_counter() - started
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            context.add_init_script(RECORDER)
            page = context.new_page()
            response = page.goto(server.url + f"briefings/{slug}/")
            if response is None or response.status != 200:
                raise BenchError(f"{server.url}briefings/{slug}/ answered {response and response.status}")
            page.wait_for_load_state("load")
            latencies, events, rebuilds, on_screen = [], [], [], []
            for mark in range(edits + 1):        # mark 0 is the warm-up
                body = edited(original, mark, kind)
                server.rebuild_times()
                t0 = time.time() * 1000
                article.write_text(body)
                shown = wait_for_mark(page, server, mark, edit_timeout)
                time.sleep(pause)               # let the server finish and the page settle
                if mark:
                    latencies.append(shown - t0)
                    notified = event_time(page, t0)
                    if notified is not None:
                        events.append(notified - t0)
                    for whole, early in server.rebuild_times():
                        rebuilds.append(whole)
                        if early is not None:
                            on_screen.append(early)
            peak = server.peak_rss_mib()
        finally:
            context.close()
            server.stop()
    return {"site": size, "edit": kind, "articles": articles, "latencies": latencies, "events": events,
            "rebuilds": rebuilds, "on_screen": on_screen, "startup": startup, "peak_rss_mib": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="example,1000,5000", help="comma-separated: example and/or article counts")
    parser.add_argument("--edits", type=int, default=10, help="timed edits per site (default 10; one warm-up more)")
    parser.add_argument("--edit", choices=("text", "title"), default="text",
                        help="what each edit changes: the newest article's text (default) or its title")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between edits (default 0.5)")
    parser.add_argument("--start-timeout", type=float, default=900, help="seconds to wait for serve's first build")
    parser.add_argument("--edit-timeout", type=float, default=60, help="seconds to wait for one edit to show")
    parser.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        if size != "example" and not size.isdigit():
            parser.error(f"--sizes: {size!r} is neither 'example' nor a number")
    if args.edits < 1:
        parser.error("--edits must be at least 1")

    from playwright.sync_api import sync_playwright

    WORK.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.now().astimezone()
    machine = f"{os.cpu_count()} cores, {cpu_name()}, Python {platform.python_version()}"
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for size in sizes:
                try:
                    result = measure(browser, size, args.edits, args.pause, args.start_timeout, args.edit_timeout,
                                     args.edit)
                except BenchError as exc:
                    print(f"preview_latency: {size}: {exc}", file=sys.stderr)
                    return 1
                results.append(result)
                lat = result["latencies"]
                print(f"{size}: {result['articles']} articles, first build + start {result['startup']:.1f} s, "
                      f"latencies ms: {' '.join(f'{x:.0f}' for x in lat)}", file=sys.stderr, flush=True)
        finally:
            browser.close()

    print(f"\nSave-to-screen latency of `briefing serve` ({when:%Y-%m-%d %H:%M %Z}; {machine})\n")
    print("| site | articles | edit | median | min–max | n | page notified (median) | server rebuild (median) "
          "| of which the page on screen (median, n) | first build + start | serve's peak RSS |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        lat = r["latencies"]
        rebuild = f"{statistics.median(r['rebuilds']):.0f} ms" if r["rebuilds"] else "–"
        early = f"{statistics.median(r['on_screen']):.0f} ms ({len(r['on_screen'])})" if r["on_screen"] else "–"
        notified = f"{statistics.median(r['events']):.0f} ms" if r["events"] else "–"
        peak = f"{r['peak_rss_mib']:.0f} MiB" if r["peak_rss_mib"] is not None else "–"
        print(f"| {r['site']} | {r['articles']:,} | {r['edit']} | {statistics.median(lat):.0f} ms | "
              f"{min(lat):.0f}–{max(lat):.0f} ms | {len(lat)} | {notified} | {rebuild} | {early} | "
              f"{r['startup']:.1f} s | {peak} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"when": when.isoformat(), "machine": machine, "results": results},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
