"""After any sequence of edits, an incremental build's output is byte-identical to a cold build's.

Hypothesis applies random edits to a copy of tests/sites/history (change a body at its end or
its start, a status, a stance, add, delete or re-date an article, rename an actor) and after
each one compares `Engine.update` with a fresh `Engine.build`.
"""
from __future__ import annotations

import fcntl
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import engine as engine_module
from generator import resolve as resolve_module
from generator.cli import main
from generator.engine import BuildResult, Engine, OnScreen
from generator.errors import Diagnostic
from generator.load import configure, read_source, read_sources
from generator.model import STANCES, STATUSES
from generator.ondemand import Pending
from generator.packed import unpack
from generator.parse import parse_document
from generator.pickles import CACHE_DIR
from generator.plan import COMMON_DEPS
from generator.resolve import resolve, resolve_again
from generator.splice import BODIES_FILE
from generator.state import LOCK_FILE, STATE_FILE, STORY_FILE, wait_for_state
from generator.write import MANIFEST

HISTORY = Path(__file__).resolve().parent / "sites" / "history"
ROOT = Path(__file__).resolve().parent.parent

EDITS = ("append", "prepend", "status", "stance", "add", "delete", "redate", "rename", "css", "partial",
         "question", "list", "unlist", "define", "unask", "summary", "retag", "unquote", "event", "break", "mend",
         "move")
THEME = Path(__file__).resolve().parent.parent / "templates"


def articles(site: Path) -> list[Path]:
    return sorted((site / "content" / "articles").glob("*.md"))


def apply(site: Path, kind: str, pick: int, counter: int) -> list[Path]:
    """Make one edit on disk; return the paths it touched (created, changed or deleted)."""
    files = articles(site)
    if not files:
        kind = "add"
    path = files[pick % len(files)] if files else site / "content" / "articles" / "x.md"
    if kind == "append":
        path.write_text(path.read_text().rstrip("\n") + f"\n\nAn added closing sentence {counter}.\n")
    elif kind == "prepend":
        text = path.read_text()
        head, sep, body = text.partition("\n---\n")
        path.write_text(f"{head}{sep}An added opening sentence {counter}.\n\n{body}")
    elif kind == "status":
        path.write_text(re.sub(r"status: (" + "|".join(STATUSES) + ")",
                               f"status: {STATUSES[counter % len(STATUSES)]}", path.read_text(), count=1))
    elif kind == "stance":
        path.write_text(re.sub(r"stance: (" + "|".join(STANCES) + ")",
                               f"stance: {STANCES[counter % len(STANCES)]}", path.read_text(), count=1))
    elif kind == "question":   # open <-> answered
        path.write_text(re.sub(r"status: (open|answered)\b", lambda m: "status: " + (
            "answered" if m.group(1) == "open" else "open"), path.read_text(), count=1))
    elif kind in ("list", "unlist"):   # an actor more, or one fewer, in the article's actors list
        lines = path.read_text().split("\n")
        if "actors:" in lines:
            at = lines.index("actors:") + 1
            if kind == "list":
                lines.insert(at, f"  - {('arland', 'bestova', 'mira-kovac', 'tomas-eld')[counter % 4]}")
            elif re.fullmatch(r"  - [a-z0-9-]+", lines[at]):
                del lines[at]
            path.write_text("\n".join(lines))
    elif kind == "unask":   # the article's questions taken out
        path.write_text(re.sub(r"^questions:\n(?:[ -].*\n|\n)*", "", path.read_text(), count=1, flags=re.MULTILINE))
    elif kind == "summary":   # the bottom line, which lists of briefings show too
        text = path.read_text()
        if "\nsummary: >-\n  " in text:
            text = text.replace("\nsummary: >-\n  ", f"\nsummary: >-\n  Edited {counter}. ", 1)
        else:
            text = re.sub(r"^summary: .*$", f"summary: Edited {counter}", text, count=1, flags=re.MULTILINE)
        path.write_text(text)
    elif kind == "retag":   # the first tag replaced
        path.write_text(re.sub(r"^(tags:\n  - )\S+$", lambda m: m.group(1) + f"edited-{counter % 3}", path.read_text(),
                               count=1, flags=re.MULTILINE))
    elif kind == "unquote":   # the first quote taken out
        path.write_text(re.sub(r"^(quotes:\n)  - actor: .*\n(?:    .*\n)*", r"\1", path.read_text(), count=1,
                               flags=re.MULTILINE))
    elif kind == "event":   # the first event renamed
        path.write_text(re.sub(r"^(  - date: .*\n    title: )", lambda m: m.group(1) + f"Edited {counter}, ",
                               path.read_text(), count=1, flags=re.MULTILINE))
    elif kind == "break":   # front matter that is no longer YAML (the next "mend" repairs it)
        path.write_text(path.read_text().replace("\ntitle: ", "\ntitle: [unclosed ", 1))
    elif kind == "mend":
        path.write_text(path.read_text().replace("[unclosed ", ""))
    elif kind == "define":   # an inline definition refined
        path.write_text(re.sub(r"^    role: .*$", f"    role: Role {counter}", path.read_text(), count=1,
                               flags=re.MULTILINE))
    elif kind == "add":
        new = site / "content" / "articles" / f"2024-04-{(counter % 27) + 1:02d}-added-{counter}.md"
        source = files[pick % len(files)].read_text() if files else "---\ntitle: t\ndate: 2024-04-01\n---\nText.\n"
        text = re.sub(r"^date: .*$", f"date: {new.name[:10]}", source, count=1, flags=re.MULTILINE)
        text = re.sub(r"^slug: .*\n", "", text, flags=re.MULTILINE)
        text = re.sub(r"^draft: .*\n", "", text, flags=re.MULTILINE)
        new.write_text(text)
        return [new]
    elif kind == "delete":
        path.unlink()
    elif kind == "redate":
        path.write_text(re.sub(r"^date: .*$", f"date: 2024-03-{(counter % 27) + 1:02d}", path.read_text(),
                               count=1, flags=re.MULTILINE))
    elif kind == "move":   # the site moved under another path: every link and asset URL changes
        path = site / "site.yaml"
        path.write_text(re.sub(r"^base_url: .*$", f"base_url: https://example.org/moved-{counter}/",
                               path.read_text(), count=1, flags=re.MULTILINE))
    elif kind == "css":   # the site's stylesheet, laid over the theme's
        path = site / "static" / "style.css"
        path.parent.mkdir(exist_ok=True)
        base = path.read_text() if path.exists() else (THEME.parent / "static" / "style.css").read_text()
        path.write_text(base + f"\n.edit-{counter} {{ color: red; }}\n")
    elif kind == "partial":   # a site override of one partial template
        path = site / "templates" / "partials" / "quote.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        base = path.read_text() if path.exists() else (THEME / "partials" / "quote.html").read_text()
        path.write_text(base + f"{{# edit {counter} #}}<!-- edit {counter} -->\n")
    elif kind == "rename":
        actors = sorted((site / "content" / "actors").glob("*.yaml"))
        path = actors[pick % len(actors)]
        path.write_text(re.sub(r"^name: .*$", f"name: Renamed Person {counter}", path.read_text(),
                               count=1, flags=re.MULTILINE))
    return [path]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 20)), min_size=1, max_size=5),
       st.sampled_from([1, 64]), st.sampled_from(["plain", "packed", "on request"]))
def test_incremental_output_equals_a_cold_build(edits, every, mode) -> None:
    """`every`: the preview's resolve keeps a checkpoint every this many articles (resolve.Fold);
    `mode`: the engine keeps its pages compressed, as the preview's does (packed.py), and renders
    those no one asked for when they are asked for (ondemand.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(HISTORY, site)
        saved, resolve_module.CHECKPOINT_MIN = resolve_module.CHECKPOINT_MIN, every
        try:
            engine = Engine(site, drafts=True, use_cache=False, parallel=False, pack_pages=mode != "plain",
                            on_request=mode == "on request")
            shown: list[BuildResult] = []
            if mode != "plain":   # as the preview's: some pages are on screen, rendered and shown first
                engine.on_screen = OnScreen(lambda: sorted(engine.files)[::5], shown.append)
            result = engine.build()
            assert result.ok
            for counter, (kind, pick) in enumerate(edits):
                for path in sorted(result.files)[counter % 4::4]:   # a browser asks for some pages
                    result.content(path)
                touched = apply(site, kind, pick, counter)
                shown.clear()
                result = engine.update(touched)
                cold = Engine(site, drafts=True, use_cache=False, parallel=False).build()
                assert result.ok == cold.ok, (kind, [d.format() for d in result.diagnostics + cold.diagnostics])
                if cold.ok:
                    files = {path: unpack(value.content(ask=False), result.links) if type(value) is Pending
                             else result.content(path) for path, value in result.files.items()}
                    assert files == dict(cold.files), (kind, sorted(
                        p for p in set(files) | set(cold.files) if files.get(p) != cold.files.get(p)))
                    # what was shown early is what the run ended with
                    assert all(early.content(p) == files[p] for early in shown for p in early.changed), kind
        finally:
            resolve_module.CHECKPOINT_MIN = saved


def test_a_stylesheet_edit_renders_nothing_and_a_partial_edit_only_its_users(tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    pages = sum(1 for p in engine.build().files if p.endswith(".html"))
    touched = apply(site, "css", 0, 1)
    result = engine.update(touched)
    assert result.ok and result.rendered == 0
    assert dict(result.files) == dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)
    touched = apply(site, "partial", 0, 2)
    result = engine.update(touched)
    assert result.ok and 0 < result.rendered < pages
    assert dict(result.files) == dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)


def test_a_body_edit_renders_only_its_briefing(tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    engine.build()
    path = articles(site)[1]
    path.write_text(path.read_text().rstrip("\n") + "\n\nA new closing sentence.\n")
    result = engine.update([path])
    assert result.ok and result.rendered == 1
    assert len(result.changed) == 1 and next(iter(result.changed)).startswith("briefings/")
    assert b"A new closing sentence." in result.files[next(iter(result.changed))]


def test_a_deleted_folder_removes_its_articles(tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    engine.build()
    folder = site / "content" / "pages"
    shutil.rmtree(folder)
    result = engine.update([folder])
    assert result.ok and result.removed
    assert dict(result.files) == dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 20)), min_size=1, max_size=6),
       st.sampled_from([1, 50]))
def test_incremental_cli_builds_equal_a_cold_build(edits, limit) -> None:
    """`briefing build` again and again (state.py, body-only rebuilds, the parse cache) == a cold build."""
    with tempfile.TemporaryDirectory() as tmp:
        site, out, cold = Path(tmp) / "site", Path(tmp) / "out", Path(tmp) / "cold"
        shutil.copytree(HISTORY, site)
        saved, engine_module.BODY_ONLY_LIMIT = engine_module.BODY_ONLY_LIMIT, limit
        try:
            assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
            for counter, (kind, pick) in enumerate(edits):
                apply(site, kind, pick, counter)
                code = main(["build", "--site", str(site), "--out", str(out), "--quiet"])
                # the cold build: a copy of the site without the cache and the state, a new output folder
                if cold.exists():
                    wait_for_state(cold / "site")   # its last state's writer, before the folder goes
                shutil.rmtree(cold, ignore_errors=True)
                shutil.copytree(site, cold / "site", ignore=shutil.ignore_patterns(CACHE_DIR))
                assert code == main(["build", "--site", str(cold / "site"), "--out", str(cold / "out"),
                                     "--quiet"]), kind
                if code == 0:
                    got, want = tree(out), tree(cold / "out")
                    assert got == want, (kind, sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p)))
        finally:
            engine_module.BODY_ONLY_LIMIT = saved
            for folder in (site, cold / "site"):
                if folder.exists():
                    wait_for_state(folder)   # before the temporary folder is removed


def test_an_actors_questions_keep_the_storys_order_after_an_edit(tmp_path) -> None:
    """Resuming the walk re-follows the questions an edited article mentions; the actor's page
    still lists the questions it raised in the order the story first mentions them (not the
    order the walk met them again), as a cold build does."""
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, use_cache=False, parallel=False)
    assert engine.build().ok
    assert engine.site.actor_questions["tomas-eld"] == ("dry-year-flow", "gauge-calibration")
    first = articles(site)[0]   # raises dry-year-flow
    first.write_text(first.read_text().replace("title: ", "title: Now ", 1))
    assert engine.update([first]).ok
    assert engine.site.actor_questions["tomas-eld"] == ("dry-year-flow", "gauge-calibration")
    cold = Engine(site, use_cache=False, parallel=False)
    assert cold.build().ok
    assert engine.pages == cold.pages


def test_a_cli_rebuild_after_a_prose_edit_imports_neither_jinja_nor_markdown_it(tmp_path) -> None:
    """It writes the new body into the page on disk (splice.py): importing them was a third of
    its time at 1,000 articles."""
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    args = ["build", "--site", str(site), "--out", str(out)]
    assert main(args) == 0
    wait_for_state(site)
    article = site / "content" / "articles" / "2024-03-11-talks-begin.md"   # a body of prose alone
    article.write_text(article.read_text() + "\nThe delegations met again at noon.\n")
    script = ("import sys; from generator.cli import main; code = main(sys.argv[1:]); "
              "print(sorted(m for m in ('jinja2', 'markdown_it') if m in sys.modules)); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "(1 rendered)" in done.stdout and done.stdout.rstrip().endswith("[]"), done.stdout
    assert b"The delegations met again at noon." in (out / "briefings" / "talks-begin" / "index.html").read_bytes()


def test_a_cli_rebuild_after_a_body_edit_renders_one_page_and_keeps_the_state(tmp_path, capsys) -> None:
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    args = ["build", "--site", str(site), "--out", str(out)]
    assert main(args) == 0
    wait_for_state(site)
    state = site / CACHE_DIR / STATE_FILE
    made = state.stat().st_mtime_ns
    first, second = articles(site)[1], articles(site)[2]
    for path, counter in ((first, 1), (second, 2), (first, 3)):
        apply(site, "append", articles(site).index(path), counter)
        capsys.readouterr()
        assert main(args) == 0
        line = capsys.readouterr().out
        # every article edited since the state was made is rendered again (and left alone when unchanged)
        assert f"({len({first, second} if counter > 1 else {first})} rendered)" in line, line
        assert "1 written" in line, line
        assert state.stat().st_mtime_ns == made, "a body-only rebuild does not rewrite the state"
    apply(site, "status", 1, 4)   # front matter: the story is resolved again, and a new state left
    assert main(args) == 0
    wait_for_state(site)
    assert state.stat().st_mtime_ns != made


def read_story(path: Path) -> list:
    """The parts of a story file (state.py): (token, model), then (documents, fold, feeds, plans)."""
    with open(path, "rb") as fh:
        unpickler = pickle.Unpickler(fh)
        return [unpickler.load(), unpickler.load()]


def write_story(path: Path, parts: list) -> None:
    with open(path, "wb") as fh:
        pickler = pickle.Pickler(fh)
        for part in parts:
            pickler.dump(part)


@pytest.mark.parametrize("edit", ["append", "status"])
@pytest.mark.parametrize("harm", ["foreign", "truncated"])
def test_a_state_without_its_story_renders_everything_again(tmp_path, capsys, edit, harm) -> None:
    """The story is a file of its own, read only when needed (state.load_model, load_story); with
    another build's, half of one or none at all, a rebuild renders every page, and the output is a
    cold build's."""
    site, out, cold = tmp_path / "site", tmp_path / "out", tmp_path / "cold"
    shutil.copytree(HISTORY, site)
    args = ["build", "--site", str(site), "--out", str(out)]
    assert main(args) == 0
    wait_for_state(site)
    story, bodies = site / CACHE_DIR / STORY_FILE, site / CACHE_DIR / BODIES_FILE
    bodies.unlink()   # (which serves a body-only edit without the story: test_splice.py)
    if harm == "foreign":
        (_token, model), rest = read_story(story)
        write_story(story, [("another build's token", model), rest])
    else:  # the model is whole (a body-only rebuild could patch it), the documents and fold are not
        size = len(pickle.dumps(read_story(story)[0], protocol=pickle.HIGHEST_PROTOCOL))
        story.write_bytes(story.read_bytes()[:size + 200])
    for counter in (2, 3):   # (statuses that differ from the article's)
        apply(site, edit, 1, counter)
        capsys.readouterr()
        assert main(args) == 0
        wait_for_state(site)
        line = capsys.readouterr().out
        pages = int(re.search(r"built (\d+) pages", line).group(1))
        rendered = int(re.search(r"\((\d+) rendered\)", line).group(1))
        if harm == "truncated" and edit == "append" and counter == 2:
            assert rendered == 1, line            # the model alone serves a body-only rebuild
        else:
            assert rendered == pages, line        # no story to compare with or patch
        if story.exists():
            story.unlink()                        # and next time none at all
        bodies.unlink(missing_ok=True)
    shutil.copytree(site, cold / "site", ignore=shutil.ignore_patterns(CACHE_DIR))
    assert main(["build", "--site", str(cold / "site"), "--out", str(cold / "out"), "--quiet"]) == 0
    wait_for_state(cold / "site")
    assert tree(out) == tree(cold / "out")


def test_a_front_matter_rebuild_redoes_only_what_the_edit_touched(tmp_path, capsys, monkeypatch) -> None:
    """A CLI rebuild takes up the story where the last build left it (state.Story): the other
    documents come with it, and only the pages, entity plans and feeds depending on the edit are
    made again."""
    from generator import cache as cache_module
    from generator import extras as extras_module
    from generator import plan as plan_module
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    args = ["build", "--site", str(site), "--out", str(out)]
    made: dict[str, list] = {"parse": [], "feed": [], "actor plan": []}

    def counting(real, kind: str):
        def counted(*args):
            made[kind].append(args[2] if kind == "feed" else args[1])   # a feed's path, a file's, an actor's id
            return real(*args)
        return counted

    for module, name, kind in ((cache_module, "parse_document", "parse"), (extras_module, "atom_feed", "feed"),
                               (plan_module, "_actor_deps", "actor plan")):
        monkeypatch.setattr(module, name, counting(getattr(module, name), kind))

    def new_process() -> None:   # no plans remembered from earlier builds in this one (plan.py's memos)
        monkeypatch.setattr(plan_module, "_entity_plans", {})
        monkeypatch.setattr(plan_module, "_briefing_plans", {})

    new_process()
    assert main(args) == 0
    wait_for_state(site)
    everything = {kind: len(done) for kind, done in made.items()}
    def feeds() -> dict[str, tuple]:
        engine = Engine(site, use_cache=False, parallel=False)
        assert engine.build().ok
        return {path: shown[:extras_module.FEED_ENTRIES]
                for path, (_title, _page, shown) in extras_module.feed_paths(engine.site).items()}

    before = feeds()
    for done in made.values():
        done.clear()
    new_process()
    edited = apply(site, "summary", 0, 2)   # the first briefing's, shown in 6 of the 9 feeds
    capsys.readouterr()
    assert main(args) == 0
    wait_for_state(site)
    line = capsys.readouterr().out
    parsed, remade, planned = list(made["parse"]), sorted(made["feed"]), list(made["actor plan"])
    assert [site / p for p in parsed] == edited
    pages = int(re.search(r"built (\d+) pages", line).group(1))
    assert 0 < int(re.search(r"\((\d+) rendered\)", line).group(1)) < pages / 2, line
    changed = sorted(path for path, shown in feeds().items() if shown != before.get(path))
    assert remade == changed and 0 < len(changed) < everything["feed"], remade
    # (the first build left its plans' dependencies to the state's writer, another process)
    engine = Engine(site, use_cache=False, parallel=False)
    assert engine.build().ok
    actors = len(engine.site.actors)
    assert len(planned) < actors / 2, (planned, actors)


def test_a_state_that_cannot_be_written_leaves_no_half_file(tmp_path, monkeypatch) -> None:
    """A full disk while pickling: save_state gives up quietly, and removes its temporary file."""
    from generator import state as state_module
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, use_cache=False, parallel=False)
    assert engine.build().ok

    class FullDisk(pickle.Pickler):
        def dump(self, value):
            self.sink.write(b"half a pickle")
            raise OSError(28, "No space left on device")

    def full_disk(fh, protocol=None):
        pickler = FullDisk(fh, protocol)
        pickler.sink = fh
        return pickler

    monkeypatch.setattr(state_module.pickle, "Pickler", full_disk)
    story = state_module.Story(engine.site, engine.documents, engine.fold, engine.feeds, engine.plans)
    built = state_module.BuildState("key", str(out), "token", story, {}, {}, {}, ())
    state_module.save_state(site, built)
    left = sorted(p.name for p in (site / CACHE_DIR).iterdir())
    assert not [name for name in left if name.startswith(".tmp-") or name.endswith("pickle")], left


def test_a_build_leaves_its_state_to_a_detached_writer(tmp_path) -> None:
    """The command returns, and lets go of its output pipes, while its state is still being
    written; wait_for_state waits for the writer."""
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    slow_writer = ("import sys, time; from generator import state; from generator.cli import main; "
                   "write = state.save_state; "
                   "state.save_state = lambda site, built: (time.sleep(3), write(site, built)); "
                   "sys.exit(main(sys.argv[1:]))")
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", slow_writer, "build", "--site", str(site), "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT, timeout=60)
    assert time.monotonic() - started < 2.5, "the build (or its output pipe) waited for the state's writer"
    assert not (site / CACHE_DIR / STATE_FILE).exists()
    wait_for_state(site)
    assert time.monotonic() - started >= 3
    assert (site / CACHE_DIR / STATE_FILE).exists()


def kept_plans(site: Path) -> tuple[dict, object]:
    """The plans in the story the last build left, and their dependency index (plan.DepIndex)."""
    with open(site / CACHE_DIR / STORY_FILE, "rb") as fh:
        unpickler = pickle.Unpickler(fh)
        unpickler.load()
        _documents, _fold, _feeds, kept, index = unpickler.load()
    return kept, index


def with_indexed_deps(plans: dict, index) -> dict:
    """Plans kept without their dependencies (plan.without_deps), given them back from the index."""
    deps = {output: set(plan.deps) for output, plan in plans.items()}
    for slot, key in enumerate(index.keys):
        for page in index.pages[index.starts[slot]:index.starts[slot + 1]]:
            deps[index.outputs[page]].add(key)
    return {output: replace(plan, deps=frozenset(deps[output])) for output, plan in plans.items()}


def test_a_first_build_leaves_its_plans_dependencies_to_the_state_writer(tmp_path) -> None:
    """A CLI build that renders everything plans its pages without their dependencies
    (Engine.defer_deps); the state's writer plans them: the story keeps the plans a build that
    planned them has, and the next build renders only what an edit touched."""
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    wait_for_state(site)
    kept, index = kept_plans(site)
    planned = Engine(site, use_cache=False, parallel=False)
    assert planned.build().ok and not planned.deps_left_out
    assert with_indexed_deps(kept, index) == planned.plans

    deferred = Engine(site, use_cache=False, parallel=False, defer_deps=True)
    assert deferred.build().ok and deferred.deps_left_out
    assert all(p.deps == COMMON_DEPS for p in deferred.plans.values() if p.kind == "briefing")
    assert deferred.plans_with_deps() == planned.plans
    # a later run of such an engine plans with them: a deferred run's plans are never reused
    # (another engine: plans_with_deps has left plans of this one's articles in plan.py's memos)
    deferred = Engine(site, use_cache=False, parallel=False, defer_deps=True)
    assert deferred.build().ok and deferred.deps_left_out
    edited = apply(site, "status", 0, 1)
    assert deferred.update(edited).ok and not deferred.deps_left_out
    fresh = Engine(site, use_cache=False, parallel=False)
    assert fresh.build().ok
    assert deferred.plans == fresh.plans


@pytest.mark.parametrize("kind", ["status", "stance", "summary", "list", "unlist", "define", "unask",
                                  "retag", "event", "rename", "redate", "add", "delete"])
def test_the_dependency_index_finds_the_pages_the_plans_own_dependencies_would(tmp_path, monkeypatch, kind) -> None:
    """A rebuild that takes up a story finds the pages to render by plan.DepIndex; with every
    plan holding its own dependencies instead, it renders the same pages, to the same bytes."""
    from generator import engine as engine_module
    from generator import plan as plan_module
    from generator import state as state_module
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    wait_for_state(site)
    edited = apply(site, kind, 3 if kind == "delete" else 1, 7)   # (the first briefings define actors)
    # the state as written, every output file on disk (load_state would check the setup's digest)
    with open(site / CACHE_DIR / STATE_FILE, "rb") as fh:
        previous = replace(pickle.load(fh), hashes=dict(
            (p.relative_to(tmp_path / "out").as_posix(), "x") for p in (tmp_path / "out").rglob("*") if p.is_file()))
    story = state_module.load_story(site, previous)
    assert story is not None and story.deps_index is not None
    whole = replace(story, plans=with_indexed_deps(story.plans, story.deps_index), deps_index=None)
    results = []
    for taken_up in (story, whole):
        monkeypatch.setattr(engine_module, "load_story", lambda *_args, taken_up=taken_up: taken_up)
        monkeypatch.setattr(plan_module, "_entity_plans", {})    # as in a new process
        monkeypatch.setattr(plan_module, "_briefing_plans", {})
        engine = Engine(site, use_cache=False, parallel=False)
        result = engine.build(read_sources(site), previous=previous)
        assert result.ok, (kind, result.diagnostics)
        results.append((result.kept, result.rendered, dict(result.files)))
    assert results[0] == results[1], kind
    assert edited


def test_the_story_a_front_matter_rebuild_leaves_has_every_plans_dependencies(tmp_path, monkeypatch) -> None:
    """Such a rebuild kept most plans as the story had them, without their dependencies: the
    state's writer plans them all again, so the next rebuild's index misses no page."""
    from generator import plan as plan_module
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    def new_process() -> None:   # none of the plans an earlier build left in plan.py's memos
        monkeypatch.setattr(plan_module, "_entity_plans", {})
        monkeypatch.setattr(plan_module, "_briefing_plans", {})

    for counter, kind in enumerate(("status", "stance", "summary")):
        new_process()
        assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
        wait_for_state(site)
        kept, index = kept_plans(site)
        new_process()
        planned = Engine(site, use_cache=False, parallel=False)
        assert planned.build().ok
        assert with_indexed_deps(kept, index) == planned.plans, (counter, kind)
        apply(site, kind, 2, counter)


def test_the_next_build_waits_for_a_state_writer_still_at_work(tmp_path) -> None:
    """A build started while the last one's state is being written reads that state once it is there."""
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    args = [sys.executable, "-m", "generator.cli", "build", "--site", str(site), "--out", str(out)]
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
    apply(site, "append", 1, 1)
    with open(site / CACHE_DIR / LOCK_FILE, "rb+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # as a writer holds it
        build = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        time.sleep(1.5)
        assert build.poll() is None, "the build did not wait for the state's writer"
    stdout, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr
    pages = int(re.search(rb"built (\d+) pages", stdout).group(1))
    rendered = int(re.search(rb"\((\d+) rendered\)", stdout).group(1))
    assert rendered < pages, stdout   # it found the state: not everything was rendered again


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 20)), min_size=1, max_size=6),
       st.sampled_from([1, 2, 64]))
def test_resolving_again_from_the_last_fold_equals_resolving_from_scratch(edits, every) -> None:
    """resolve_again resumes the previous walk at a checkpoint; the model and problems are a fresh resolve's."""
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(HISTORY, site)
        documents = {s.path: parse_document(s.kind, s.path, s.raw) for s in read_sources(site)}
        saved, resolve_module.CHECKPOINT_MIN = resolve_module.CHECKPOINT_MIN, every
        try:
            fold = None
            for counter, (kind, pick) in enumerate([("none", 0), *edits]):
                if kind != "none":
                    for path in apply(site, kind, pick, counter):
                        relative = path.relative_to(site).as_posix()
                        source = read_source(site, relative)
                        if source is None:
                            documents.pop(relative, None)
                        else:   # only what changed is parsed again: the rest are the same objects
                            documents[relative] = parse_document(source.kind, source.path, source.raw)
                docs = sorted(documents.values(), key=lambda d: d.path)
                config, _ = configure(docs, site)
                content = [d for d in docs if d.kind != "site"]
                again, problems, fold = resolve_again(config, content, fold)
                fresh, expected = resolve(config, content)
                assert again == fresh, kind
                assert sorted(problems, key=Diagnostic.sort_key) == sorted(expected, key=Diagnostic.sort_key), kind
        finally:
            resolve_module.CHECKPOINT_MIN = saved


def test_a_text_edit_then_a_later_front_matter_edit_keeps_the_new_text(tmp_path, monkeypatch) -> None:
    """The preview's fold takes in a body-only edit, so resuming past that article keeps its new text."""
    monkeypatch.setattr(resolve_module, "CHECKPOINT_MIN", 1)
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    assert engine.build().ok
    first, last = articles(site)[0], articles(site)[-2]   # [-1] is a draft with a quoted title
    first.write_text(first.read_text().rstrip("\n") + "\n\nA sentence only the text edit wrote.\n")
    assert engine.update([first]).rendered == 1          # the body-only path
    last.write_text(last.read_text().replace("title: ", "title: Retitled, ", 1))
    result = engine.update([last])                        # resumes the fold after the first article
    assert result.ok, [d.format() for d in result.diagnostics]
    assert dict(result.files) == dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)
    assert any(b"A sentence only the text edit wrote." in html for html in result.files.values())


UNLISTED = {
    "content/actors/ana.yaml": "name: Ana Example\n",
    "content/actors/ben.yaml": "name: Ben Example\n",
    "content/articles/2025-01-01-first.md": (
        "---\ntitle: First\ndate: 2025-01-01\nactors: [ana]\nproposals:\n  - id: plan\n    title: The plan\n"
        "    status: proposed\n    positions:\n      - actor: ben\n        stance: supports\n---\nText.\n"),
    "content/articles/2025-01-02-second.md": (
        "---\ntitle: Second\ndate: 2025-01-02\nactors: [ana]\nproposals:\n  - id: plan\n    status: {status}\n"
        "    positions:\n      - actor: ben\n        stance: {stance}\n---\nMore text.\n"),
}


@pytest.mark.parametrize("edit", [{"status": "stalled"}, {"stance": "opposes"}])
def test_an_actor_page_follows_a_stance_or_status_reported_without_listing_the_actor(make_site, edit) -> None:
    """Ben's stance is reported in articles that do not list Ben: his page still depends on it."""
    values = {"status": "proposed", "stance": "supports"}
    files = dict(UNLISTED)
    second = "content/articles/2025-01-02-second.md"
    files[second] = UNLISTED[second].format(**values)
    site = make_site(files)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    assert engine.build().ok
    (site / second).write_text(UNLISTED[second].format(**{**values, **edit}))
    result = engine.update([site / second])
    cold = Engine(site, drafts=True, use_cache=False, parallel=False).build()
    assert result.ok and cold.ok
    assert result.files["actors/ben/index.html"] == cold.files["actors/ben/index.html"]
    assert "actors/ben/index.html" in result.changed


def test_a_cli_rebuild_follows_an_actor_page_that_starts_to_show_a_proposal(make_site, tmp_path) -> None:
    """An actor page's plan is taken over from the last build only when what it is made from is
    unchanged (plan_site's `before`): once Cara takes a stance, her page follows the proposal."""
    files = dict(UNLISTED)
    files["content/actors/cara.yaml"] = "name: Cara Example\n"
    second = "content/articles/2025-01-02-second.md"
    steps = [UNLISTED[second].format(status="proposed", stance="supports"),
             UNLISTED[second].format(status="proposed", stance="supports") .replace(
                 "---\nMore", "      - actor: cara\n        stance: opposes\n---\nMore"),
             UNLISTED[second].format(status="stalled", stance="supports").replace(
                 "---\nMore", "      - actor: cara\n        stance: opposes\n---\nMore")]
    site = make_site({**files, second: steps[0]})
    out = tmp_path / "out"
    try:
        for number, text in enumerate(steps):
            (site / second).write_text(text)
            assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
            wait_for_state(site)
            cold = make_site({**files, second: text})
            assert main(["build", "--site", str(cold), "--out", str(tmp_path / f"cold{number}"), "--quiet"]) == 0
            wait_for_state(cold)
            assert tree(out) == tree(tmp_path / f"cold{number}"), number
        assert b"stalled" in (out / "actors" / "cara" / "index.html").read_bytes().lower()
    finally:
        wait_for_state(site)


def _story(first_stance: str, title: str, late_title: str = "") -> dict[str, str]:
    """Five briefings on one proposal: Ana's stance is reported in the first only; `late_title`
    renames the proposal in the last."""
    files = {"content/actors/ana.yaml": "name: Ana Example\n", "content/actors/ben.yaml": "name: Ben Example\n"}
    for day in range(1, 6):
        lines = [f"title: Day {day}", f"date: 2025-01-0{day}", "actors: [ben]", "proposals:", "  - id: plan"]
        if day == 1:
            lines += [f"    title: {title}", "    status: proposed", "    positions:",
                      "      - actor: ana", f"        stance: {first_stance}"]
        else:
            statuses = {2: "under-negotiation", 3: "stalled", 4: "under-negotiation", 5: "agreed"}
            if day == 5 and late_title:
                lines.append(f"    title: {late_title}")
            lines += [f"    status: {statuses[day]}", "    positions:", "      - actor: ben",
                      f"        stance: {'supports' if day % 2 else 'opposes'}"]
        files[f"content/articles/2025-01-0{day}-day-{day}.md"] = "---\n" + "\n".join(lines) + "\n---\nText.\n"
    return files


@pytest.mark.parametrize("edit", [("opposes", "The plan"), ("supports", "The renamed plan"),
                                  ("supports", "The plan", "Renamed on day 5")])
def test_a_later_briefing_follows_an_earlier_stance_or_the_proposal_title(make_site, edit) -> None:
    """Day 3 is no neighbour of day 1 or 5, yet its stance table carries Ana's stance from day 1,
    and its 'what changed' names the proposal by its title now (even one set on day 5)."""
    site = make_site(_story("supports", "The plan"))
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    assert engine.build().ok
    for path, text in _story(*edit).items():
        if (site / path).read_text() != text:
            (site / path).write_text(text)
            touched = site / path
    result = engine.update([touched])
    cold = Engine(site, drafts=True, use_cache=False, parallel=False).build()
    assert result.ok and cold.ok
    assert result.files["briefings/day-3/index.html"] == cold.files["briefings/day-3/index.html"]
    assert "briefings/day-3/index.html" in result.changed


def test_a_site_template_showing_more_of_an_article_is_followed(tmp_path) -> None:
    """Lists depend on an article's row (title, date, summary...) with the theme's templates; a site
    template that shows more makes them depend on the whole article again."""
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    partial = site / "templates" / "partials" / "article_list.html"
    partial.parent.mkdir(parents=True)
    partial.write_text((THEME / "partials" / "article_list.html").read_text().replace(
        "<p>{{ a.summary }}</p>", "<p>{{ a.summary }}</p><p class=why>{{ a.why_it_matters }}</p>"))
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)
    assert engine.build().ok
    path = articles(site)[1]
    path.write_text(path.read_text().replace("\nsummary:", "\nwhy_it_matters: A reason only lists show.\nsummary:", 1))
    result = engine.update([path])
    cold = Engine(site, drafts=True, use_cache=False, parallel=False).build()
    assert result.ok and cold.ok
    assert dict(result.files) == dict(cold.files)
    assert any(p.startswith("tags/") and b"A reason only lists show." in result.files[p] for p in result.changed)


def test_only_a_site_template_that_differs_from_the_theme_counts_as_its_own(tmp_path) -> None:
    from generator.render import uses_theme_templates
    assert uses_theme_templates(tmp_path)
    (tmp_path / "templates" / "partials").mkdir(parents=True)
    copy = tmp_path / "templates" / "partials" / "quote.html"
    copy.write_text((THEME / "partials" / "quote.html").read_text())
    assert uses_theme_templates(tmp_path)      # a copy of the theme's, as in this repository
    copy.write_text(copy.read_text() + "<!-- mine -->\n")
    assert not uses_theme_templates(tmp_path)
    copy.write_text((THEME / "partials" / "quote.html").read_text())
    (tmp_path / "templates" / "extra.html").write_text("{{ site.config.title }}")
    assert not uses_theme_templates(tmp_path)


def _resolved_both_ways(site: Path, documents: dict, fold):
    docs = sorted(documents.values(), key=lambda d: d.path)
    config, _ = configure(docs, site)
    content = [d for d in docs if d.kind != "site"]
    again, problems, fold = resolve_again(config, content, fold)
    fresh, expected = resolve(config, content)
    return again, fresh, sorted(problems, key=Diagnostic.sort_key), sorted(expected, key=Diagnostic.sort_key), fold


@pytest.mark.parametrize("every", [1, 64])
def test_refining_an_inline_definition_reaches_an_earlier_listing(make_site, monkeypatch, every) -> None:
    """An actor listed by id before the article defining it inline shows as first defined there;
    editing that definition changes the earlier briefing too (resolve.refold follows the actor)."""
    monkeypatch.setattr(resolve_module, "CHECKPOINT_MIN", every)
    defining = "content/articles/2025-01-03-third.md"
    text = ("---\ntitle: Third\ndate: 2025-01-03\nactors:\n  - id: ines\n    name: Ines Example\n"
            "    role: {role}\n---\nText.\n")
    site = make_site({
        "content/articles/2025-01-01-first.md": "---\ntitle: First\ndate: 2025-01-01\nactors: [ines]\n---\nText.\n",
        "content/articles/2025-01-02-second.md": "---\ntitle: Second\ndate: 2025-01-02\n---\nText.\n",
        defining: text.format(role="Mediator"),
        "content/articles/2025-01-04-fourth.md": "---\ntitle: Fourth\ndate: 2025-01-04\n---\nText.\n",
    })
    documents = {s.path: parse_document(s.kind, s.path, s.raw) for s in read_sources(site)}
    *_, fold = _resolved_both_ways(site, documents, None)
    (site / defining).write_text(text.format(role="Chief mediator"))
    source = read_source(site, defining)
    documents[defining] = parse_document(source.kind, source.path, source.raw)
    again, fresh, problems, expected, fold = _resolved_both_ways(site, documents, fold)
    assert again == fresh and problems == expected
    assert again.articles[0].actors[0].role == "Chief mediator"
    # then a later article lists the actor: the walk resumes from a checkpoint the first edit updated
    fourth = "content/articles/2025-01-04-fourth.md"
    (site / fourth).write_text("---\ntitle: Fourth\ndate: 2025-01-04\nactors: [ines]\n---\nText.\n")
    source = read_source(site, fourth)
    documents[fourth] = parse_document(source.kind, source.path, source.raw)
    again, fresh, problems, expected, _ = _resolved_both_ways(site, documents, fold)
    assert again == fresh and problems == expected
    assert again.articles[0].actors[0].role == "Chief mediator"


@pytest.mark.parametrize("way", ["preview", "cli"])
def test_a_newly_referenced_actor_is_followed_by_the_next_rebuild(make_site, tmp_path, way) -> None:
    """A briefing's plan is reused while its article is unchanged; once its text links another
    actor, renaming that actor must reach the briefing (its plan was made anew)."""
    first = "content/articles/2025-01-01-first.md"
    article = "---\ntitle: First\ndate: 2025-01-01\nactors: [ana]\n---\nAna spoke.{more}\n"
    site = make_site({
        "content/actors/ana.yaml": "name: Ana Example\n",
        "content/actors/ben.yaml": "name: Ben Example\n",
        first: article.format(more=""),
        "content/articles/2025-01-02-second.md": "---\ntitle: Second\ndate: 2025-01-02\nactors: [ben]\n---\nText.\n",
    })
    out = tmp_path / "out"
    engine = Engine(site, drafts=True, use_cache=False, parallel=False)

    def rebuild(paths):
        if way == "cli":
            assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
            return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
                    if p.is_file() and p.name != MANIFEST}
        result = engine.update(paths) if engine.site is not None else engine.build()
        assert result.ok
        return dict(result.files)

    rebuild([])
    (site / first).write_text(article.format(more=" So did [[ben]]."))
    rebuild([site / first])
    (site / "content/actors/ben.yaml").write_text("name: Benedikt Example\n")
    files = rebuild([site / "content/actors/ben.yaml"])
    cold = Engine(site, drafts=True, use_cache=False, parallel=False).build()
    assert files["briefings/first/index.html"] == cold.files["briefings/first/index.html"]
    assert b"Benedikt Example" in files["briefings/first/index.html"]
