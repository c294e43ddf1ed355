"""The preview renders a page when a browser first asks for it (ondemand.py).

Engine level: a run renders only the pages a browser was sent; the others are pending, render
as a cold build would have them when asked for, and are announced only when a browser may show
them. Preview level: serve says it is ready without rendering the site, and a page whose
template fails when it is asked for is answered with the mistake, at its file and line.
"""
from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import jinja2
import pytest

from generator.engine import BuildResult, Engine
from generator.ondemand import Pending, shown, shows_change
from generator.serve import Preview, PreviewServer, respond

HISTORY = Path(__file__).resolve().parent / "sites" / "history"
THEME = Path(__file__).resolve().parent.parent / "templates"
ARTICLE = "content/articles/2024-03-11-talks-begin.md"
BRIEFING = "briefings/talks-begin/index.html"
ACTOR = "actors/mira-kovac/index.html"          # lists the briefing by its title
QUESTION = "questions/dry-year-flow/index.html"  # lists it too
NEW_TITLE = "Verran talks begin at dawn"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(HISTORY, tmp_path / "site")
    return tmp_path / "site"


def on_request(site: Path) -> tuple[Engine, BuildResult]:
    engine = Engine(site, drafts=True, parallel=False, on_request=True)
    result = engine.build()
    assert result.ok, [d.format() for d in result.diagnostics]
    return engine, result


def cold(site: Path) -> dict[str, bytes]:
    return dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)


def retitle(site: Path, new: str = NEW_TITLE) -> Path:
    path = site / ARTICLE
    path.write_text(re.sub(r"^title: .*$", f"title: {new}", path.read_text(), count=1, flags=re.MULTILINE))
    return path


def override(site: Path, name: str, old: str, new: str) -> Path:
    """The site's own copy of the theme's template `name`, with `old` replaced by `new`."""
    path = site / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (THEME / name).read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_first_run_renders_no_page_and_each_renders_as_a_cold_build_when_asked_for(site):
    engine, result = on_request(site)
    pages = [p for p in result.files if p.endswith(".html")]
    assert result.rendered == 0 and all(type(result.files[p]) is Pending for p in pages)
    expected = cold(site)
    assert {p: result.content(p) for p in result.files} == expected
    assert all(result.files[p].asked for p in pages)
    # asked once, kept: the next run renders none of them again unless an edit touches it
    again = engine.update([site / "content" / "nothing.md"])
    assert again.rendered == 0 and {p: again.content(p) for p in again.files} == expected


def test_an_edit_renders_only_the_pages_a_browser_was_sent_and_announces_those(site):
    engine, result = on_request(site)
    before = {p: result.content(p) for p in (BRIEFING, ACTOR)}
    after = engine.update([retitle(site)])
    assert after.ok and after.rendered == 2
    assert {BRIEFING, ACTOR} <= after.changed and QUESTION not in after.changed
    assert all(type(after.files[p]) is not Pending for p in (BRIEFING, ACTOR))
    assert type(after.files[QUESTION]) is Pending and not after.files[QUESTION].asked
    assert all(NEW_TITLE.encode() in after.content(p) and after.content(p) != before[p] for p in (BRIEFING, ACTOR))
    assert after.content(QUESTION) == cold(site)[QUESTION]
    assert NEW_TITLE.encode() in after.content(QUESTION)


def test_a_new_page_is_announced_though_it_is_not_rendered(site):
    engine, _ = on_request(site)
    article = site / "content" / "articles" / "2024-06-01-herons.md"
    article.write_text("---\ntitle: Herons return\ndate: 2024-06-01\n---\n\nHerons returned.\n")
    result = engine.update([article])
    assert "briefings/herons/index.html" in result.changed
    assert type(result.files["briefings/herons/index.html"]) is Pending
    assert b"Herons returned." in result.content("briefings/herons/index.html")


def test_an_older_results_page_renders_as_the_latest_run_has_it(site):
    """A browser may ask for a page of the result it was served just as a rebuild commits."""
    engine, first = on_request(site)
    engine.update([retitle(site)])
    assert NEW_TITLE.encode() in first.content(QUESTION)
    assert engine.files[QUESTION].asked   # the page the latest run has: a later edit announces it


def test_a_page_asked_for_during_a_run_waits_for_it_and_is_as_the_run_made_it(site):
    engine, first = on_request(site)
    answers: list[bytes] = []
    with engine.renderer.lock:   # as a run holds it from deciding what to render until it commits
        asker = threading.Thread(target=lambda: answers.append(first.content(QUESTION)))
        asker.start()
        asker.join(0.3)
        assert asker.is_alive() and answers == []
        assert engine.update([retitle(site)]).ok    # (the lock is reentrant: this thread runs)
    asker.join(5)
    assert len(answers) == 1 and NEW_TITLE.encode() in answers[0]


def test_a_mistake_in_a_template_fails_the_run_though_its_pages_wait(site):
    """One page of each template is rendered when the templates are new, as every page was."""
    override(site, "question.html", "{% block main %}", "{% block main %}{{ no_such_helper() }}")
    result = Engine(site, drafts=True, parallel=False, on_request=True).build()
    assert not result.ok and "question.html" in result.diagnostics[0].path
    engine, _ = on_request(override(site, "question.html", "{% block main %}", "{% block main %}").parent.parent)
    edited = override(site, "actor.html", "{% block main %}", "{% block main %}{{ no_such_helper() }}")
    result = engine.update([edited])
    assert not result.ok and "actor.html" in result.diagnostics[0].path


def test_a_page_whose_template_fails_when_asked_for_is_answered_with_the_mistake(site):
    override(site, "actor.html", "{% block main %}",
             '{% block main %}{% if actor.id == "mira-kovac" %}{{ no_such_helper() }}{% endif %}')
    engine, result = on_request(site)     # (the first actor page renders: the run is good)
    said: list[str] = []
    preview = Preview("/history/", result, site, said.append)
    response = respond(preview, "GET", "/history/actors/mira-kovac/")
    assert response.status == 500
    assert b"templates/actor.html" in response.body and b"livereload.js" in response.body
    assert len(said) == 1 and re.match(r"templates/actor\.html:\d+:\d+: error: .*no_such_helper", said[0])
    assert "opening /history/actors/mira-kovac/" in said[0]
    # saving the template again renders the page the browser holds, and announces it
    fixed = override(site, "actor.html", "{% block main %}", "{% block main %}")
    again = engine.update([fixed])
    assert again.ok and ACTOR in again.changed
    assert respond(Preview("/history/", again, site), "GET", "/history/actors/mira-kovac/").status == 200


def test_serve_says_it_is_ready_without_rendering_the_site(site):
    lines: list[str] = []
    server = PreviewServer(Engine(site, drafts=True, parallel=False, on_request=True), site, port=0,
                           watch=False, say=lines.append)
    server.start()
    try:
        assert re.fullmatch(r"ready in \d+ ms: \d+ pages, each rendered when first opened", lines[0]), lines
        assert respond(server.preview, "GET", "/history/briefings/talks-begin/").status == 200
        assert server.preview.result.files[BRIEFING].asked
    finally:
        server.stop()


@pytest.mark.parametrize(("old", "new", "change"), [
    (None, "pending", True),              # a new page: a browser may wait for it on a 404
    ("pending", "same", False),           # carried over, still pending
    ("pending", "pending", False),        # replaced, but no browser was sent it
    ("asked", "pending", True),           # replaced, and a browser holds it
    (b"page", "pending", True),
    ("asked", b"other page", True),
    ("asked", b"page", False),            # rendered again, the same bytes
    (b"page", b"page", False),
    (b"page", b"other", True),
])
def test_what_counts_as_a_change_a_browser_could_see(old, new, change):
    def value(kind):
        if kind in ("pending", "asked"):
            pending = Pending(None, None)
            if kind == "asked":
                pending.asked, pending.data = True, b"page"
            return pending
        return kind
    before = value(old)
    after = before if new == "same" else value(new)
    assert shows_change(before, after) is change
    assert shown(before) is (old is not None and old != "pending")


def test_a_404_page_whose_template_fails_is_answered_with_a_plain_one(site, monkeypatch):
    """(The 404 page's template is checked when the templates are new; this is what happens if
    it fails later all the same.)"""
    _, result = on_request(site)
    pending = result.files["404.html"]
    pending.data = None

    def broken(plan):
        raise jinja2.TemplateError("broken")
    monkeypatch.setattr(pending.renderer, "_render", broken)
    response = respond(Preview("/history/", result, site), "GET", "/history/no-such-page/")
    assert response.status == 404 and b"<h1>Not found</h1>" in response.body
