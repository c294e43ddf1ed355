"""A CLI rebuild after a body-only edit writes the new body into the page on disk (splice.py)."""
from __future__ import annotations

import dataclasses
import pickle
import shutil
from pathlib import Path

import pytest

import generator.engine as engine_module
from generator.cli import main
from generator.engine import Engine
from generator.markdown import body_html
from generator.pickles import CACHE_DIR
from generator.splice import BODIES_FILE, BODY_AFTER, BODY_BEFORE, splice
from generator.state import wait_for_state
from generator.urls import Urls
from generator.write import MANIFEST

HISTORY = Path(__file__).resolve().parent / "sites" / "history"
GAUGE = "content/articles/2024-03-25-gauge-dispute.md"          # its text has [[references]]
TALKS = "content/articles/2024-03-11-talks-begin.md"             # a quote, actors named in the text


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def cold_tree(site: Path, tmp: Path) -> dict[str, bytes]:
    cold = tmp / "cold"
    shutil.copytree(site, cold / "site", ignore=shutil.ignore_patterns(CACHE_DIR))
    assert main(["build", "--site", str(cold / "site"), "--out", str(cold / "out"), "--quiet"]) == 0
    wait_for_state(cold / "site")
    found = tree(cold / "out")
    shutil.rmtree(cold)
    return found


@pytest.fixture
def built(tmp_path):
    """The history site built once into `out`, its state written."""
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(HISTORY, site)
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    wait_for_state(site)
    return site, out


class ModelRead(Exception):
    pass


@pytest.fixture
def no_model(monkeypatch):
    """Fails the build if it reads the model (the patching path) instead of splicing."""
    def refuse(*args, **kwargs):
        raise ModelRead
    monkeypatch.setattr(engine_module, "load_model", refuse)


def rebuild(site: Path, out: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["build", "--site", str(site), "--out", str(out)]) == 0
    return capsys.readouterr().out


def test_the_theme_writes_the_body_between_the_markers() -> None:
    """The markers are the theme's: a briefing's page holds each once, and between them exactly
    the body's HTML."""
    engine = Engine(HISTORY, use_cache=False, parallel=False)
    result = engine.build()
    assert result.ok
    for article in engine.site.articles:
        page = result.files[f"briefings/{article.slug}/index.html"]
        body = body_html(article, engine.site, Urls(engine.site.config.base_path)).encode()
        assert page.count(BODY_BEFORE) == page.count(BODY_AFTER) == 1
        assert page[page.index(BODY_BEFORE) + len(BODY_BEFORE):page.index(BODY_AFTER)] == body
        assert splice(page, body) == page
        assert splice(page, b"<p>new</p>\n") == page.replace(body, b"<p>new</p>\n")


@pytest.mark.parametrize("page, body", [
    (b"no markers at all", b"x"),
    (BODY_BEFORE + b"old" + BODY_AFTER + BODY_AFTER, b"x"),            # a marker twice
    (BODY_BEFORE + BODY_BEFORE + b"old" + BODY_AFTER, b"x"),
    (BODY_AFTER + b"old" + BODY_BEFORE, b"x"),                          # out of order
    (BODY_BEFORE + b"old" + BODY_AFTER, b"<p>" + BODY_AFTER + b"</p>"),  # the new body holds one
    (BODY_BEFORE + b"old" + BODY_AFTER, BODY_BEFORE),
])
def test_splice_refuses_a_page_it_cannot_split_for_certain(page, body) -> None:
    assert splice(page, body) is None


@pytest.mark.parametrize("path, edit", [
    (TALKS, lambda text: text + "\nA closing paragraph that names Ines Halvorsen and Tomas Eld again.\n"),
    (TALKS, lambda text: text.rstrip("\n") + " With *emphasis* and a [link](/about/).\n"),
    (GAUGE, lambda text: text.replace("[[", "A new sentence before the reference: [[", 1)),
])
def test_a_body_edit_is_spliced_and_the_site_is_a_cold_builds(built, tmp_path, capsys, no_model, path, edit) -> None:
    site, out = built
    file = site / path
    file.write_text(edit(file.read_text()))
    line = rebuild(site, out, capsys)
    assert "(1 rendered)" in line and "1 written" in line, line
    assert tree(out) == cold_tree(site, tmp_path)
    # and again: the page on disk is the spliced one, the state still the first build's
    file.write_text(file.read_text() + "\nOne more paragraph.\n")
    rebuild(site, out, capsys)
    assert tree(out) == cold_tree(site, tmp_path)


def test_an_edit_that_moves_a_quote_or_a_reference_is_not_spliced(built, tmp_path, capsys, no_model) -> None:
    site, out = built
    talks = site / TALKS
    talks.write_text(talks.read_text().replace("Delegations from", "Before the quote. Delegations from"))
    with pytest.raises(ModelRead):   # the quote's place in the text moved: the model is patched
        main(["build", "--site", str(site), "--out", str(out), "--quiet"])
    gauge = site / GAUGE
    talks.write_text((HISTORY / TALKS).read_text())
    gauge.write_text(gauge.read_text().replace("[[", "[[arland]] and [[", 1))
    with pytest.raises(ModelRead):   # a reference more
        main(["build", "--site", str(site), "--out", str(out), "--quiet"])


@pytest.mark.parametrize("harm", ["hand-edited page", "own template", "no bodies file", "foreign bodies file",
                                  "tampered bodies file"])
def test_without_what_splicing_needs_the_model_is_patched(built, tmp_path, capsys, harm) -> None:
    """A page on disk that is not the one the last build wrote, a site's own briefing template,
    a missing or another build's bodies file: the rebuild reads the model and renders the page,
    and the site is a cold build's."""
    site, out = built
    page = out / "briefings" / "talks-begin" / "index.html"
    bodies = site / CACHE_DIR / BODIES_FILE
    if harm == "hand-edited page":
        page.write_bytes(page.read_bytes().replace(b"<h1>", b"<h1 class=\"edited\">", 1))
    elif harm == "own template":
        (site / "templates").mkdir(exist_ok=True)
        (site / "templates" / "briefing.html").write_text(
            (HISTORY.parent.parent.parent / "templates" / "briefing.html").read_text() + "\n")
        assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0   # a new state for it
        wait_for_state(site)
    elif harm == "no bodies file":
        bodies.unlink()
    elif harm == "foreign bodies file":
        _token, config, inputs = pickle.loads(bodies.read_bytes())
        bodies.write_bytes(pickle.dumps(("another build's token", config, inputs)))
    else:   # its page's path leads out of the output folder
        token, config, inputs = pickle.loads(bodies.read_bytes())
        inputs[TALKS] = dataclasses.replace(inputs[TALKS], output="../outside/index.html")
        bodies.write_bytes(pickle.dumps((token, config, inputs)))
    talks = site / TALKS
    talks.write_text(talks.read_text() + "\nAn added paragraph.\n")
    read = []
    real = engine_module.load_model
    engine_module.load_model = lambda *args: read.append(1) or real(*args)
    try:
        line = rebuild(site, out, capsys)
    finally:
        engine_module.load_model = real
    assert read, "the model was read"
    assert "(1 rendered)" in line, line
    assert tree(out) == cold_tree(site, tmp_path)
