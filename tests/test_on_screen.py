"""The preview renders the pages on screen first (engine.OnScreen) and shows them before the rest.

Engine level: the early result holds the last good site with only those pages new, the run's
result is the one it would be without them, and there is no early result where showing pages
apart would be wrong (a stylesheet or site.yaml edit, errors, a first build) or pointless.
Preview level: the pages served are the ones on screen, and a rebuild's open pages hear of the
on-screen pages once, with the rest announced when they are done.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from generator.engine import BuildResult, Engine, OnScreen
from generator.serve import ON_SCREEN, SWITCH_INTERVAL, Preview, PreviewServer, respond, serve

HISTORY = Path(__file__).resolve().parent / "sites" / "history"
THEME = Path(__file__).resolve().parent.parent / "templates"
ARTICLE = "content/articles/2024-03-11-talks-begin.md"
BRIEFING = "briefings/talks-begin/index.html"
ACTOR = "actors/mira-kovac/index.html"          # lists the briefing by its title
QUESTION = "questions/index.html"               # a page the title edit leaves alone
OLD_TITLE, NEW_TITLE = "Verran talks begin under a Commission mediator", "Verran talks begin at dawn"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(HISTORY, tmp_path / "site")
    return tmp_path / "site"


def engine_showing(site: Path, pages: list[str], shown: list[BuildResult]) -> Engine:
    engine = Engine(site, drafts=True, parallel=False, pack_pages=True)
    engine.on_screen = OnScreen(lambda: pages, shown.append)
    assert engine.build().ok
    return engine


def retitle(site: Path, new: str = NEW_TITLE) -> Path:
    path = site / ARTICLE
    text = path.read_text()
    assert text.startswith("---\ntitle: ")
    path.write_text(re.sub(r"^title: .*$", f"title: {new}", text, count=1, flags=re.MULTILINE))
    return path


def contents(result: BuildResult) -> dict[str, bytes]:
    return {path: result.content(path) for path in result.files}


def test_the_page_on_screen_is_shown_before_the_rest_and_the_result_is_unchanged(site, tmp_path):
    shown: list[BuildResult] = []
    engine = engine_showing(site, [QUESTION, BRIEFING], shown)
    before = contents(engine.build())
    result = engine.update([retitle(site)])

    assert result.ok and len(shown) == 1
    early = shown[0]
    assert early.ok and early.changed == {BRIEFING} and early.removed == frozenset() and early.rendered == 1
    assert NEW_TITLE.encode() in early.content(BRIEFING)
    assert early.content(BRIEFING) == result.content(BRIEFING)
    # everything else is the last good site: the actor's page still lists the old title
    assert {p: early.content(p) for p in early.files if p != BRIEFING} == \
        {p: data for p, data in before.items() if p != BRIEFING}
    assert OLD_TITLE.encode() in early.content(ACTOR) and NEW_TITLE.encode() in result.content(ACTOR)
    # the run's own result is as without a page on screen: every change, and a cold build's bytes
    assert {BRIEFING, ACTOR} <= result.changed
    plain = tmp_path / "plain"
    shutil.copytree(site, plain)
    assert contents(Engine(plain, drafts=True, parallel=False, pack_pages=True).build()) == contents(result)


def test_pages_on_screen_are_shown_one_by_one_the_smallest_first(site):
    """Another tab's big page (a timeline) does not hold back the briefing being written."""
    shown: list[BuildResult] = []
    engine = engine_showing(site, [BRIEFING, ACTOR], shown)
    before = engine.build()
    assert len(before.files[ACTOR]) < len(before.files[BRIEFING])     # (the order below)
    result = engine.update([retitle(site)])
    assert [r.changed for r in shown] == [{ACTOR}, {ACTOR, BRIEFING}]
    assert shown[0].content(BRIEFING) == before.content(BRIEFING)
    assert shown[0].content(ACTOR) == shown[1].content(ACTOR) == result.content(ACTOR)
    assert shown[1].content(BRIEFING) == result.content(BRIEFING)


@pytest.mark.parametrize(("broken", "shown_before"), [("briefing.html", [{ACTOR}]), ("actor.html", [])])
def test_a_page_on_screen_that_fails_ends_the_early_results(site, broken, shown_before):
    """The actor's page is the smaller: rendered first. Once a page fails, nothing more is shown."""
    shown: list[BuildResult] = []
    engine = engine_showing(site, [BRIEFING, ACTOR], shown)
    template = site / "templates" / broken
    template.parent.mkdir()
    template.write_text((THEME / broken).read_text().replace(
        "{% block main %}", "{% block main %}{{ nothing.at.all() }}", 1))
    failed = engine.update([retitle(site), template])
    assert not failed.ok and f"templates/{broken}" in failed.diagnostics[0].format()
    assert [r.changed for r in shown] == shown_before


def test_the_engine_asks_for_the_pages_on_screen_at_each_run(site):
    shown: list[BuildResult] = []
    on_screen = [BRIEFING]
    engine = engine_showing(site, on_screen, shown)
    engine.update([retitle(site)])
    on_screen[:] = [ACTOR]          # the reader went on to the actor's page
    engine.update([retitle(site, "Verran talks begin at noon")])
    assert [r.changed for r in shown] == [{BRIEFING}, {ACTOR}]


@pytest.mark.parametrize("on_screen", [[QUESTION], ["briefings/gone/index.html"], []],
                         ids=["unchanged page", "no such page", "nothing"])
def test_no_early_result_when_no_page_on_screen_is_rendered(site, on_screen):
    shown: list[BuildResult] = []
    engine = engine_showing(site, on_screen, shown)
    assert engine.update([retitle(site)]).ok
    assert shown == []


def test_no_early_result_when_the_page_on_screen_is_rendered_the_same(site):
    shown: list[BuildResult] = []
    engine = engine_showing(site, [BRIEFING], shown)
    path = site / ARTICLE
    path.write_text(path.read_text().replace("\ntags:", "\n# a comment changes no page\ntags:", 1))
    result = engine.update([path])
    assert result.ok and result.rendered >= 1 and BRIEFING not in result.changed
    assert shown == []


def test_pages_on_screen_are_shown_before_the_feeds_though_no_other_page_is_left(site):
    """At 10,000 articles the feeds and sitemap take ~0.1 s after the pages (and a preview that
    renders pages when they are asked for often has only the page on screen to render)."""
    shown: list[BuildResult] = []
    engine = engine_showing(site, [], shown)
    engine.on_screen = OnScreen(lambda: list(engine.files), shown.append)
    result = engine.update([retitle(site)])
    assert len(shown) == result.rendered > 1
    assert "feed.xml" in result.changed and not any("feed.xml" in early.changed for early in shown)


def test_no_early_result_with_a_stylesheet_or_site_yaml_edit(site):
    shown: list[BuildResult] = []
    engine = engine_showing(site, [BRIEFING], shown)
    (site / "static").mkdir()
    (site / "static/style.css").write_text("body { color: teal }\n")
    assert engine.update([retitle(site), site / "static/style.css"]).ok     # the page would link a new file
    config = site / "site.yaml"
    config.write_text(config.read_text() + "\n# a comment\n")
    assert engine.update([retitle(site, "Verran talks begin at noon"), config]).ok
    assert shown == []


def test_no_early_result_when_the_edit_has_an_error_and_one_when_it_is_fixed(site):
    shown: list[BuildResult] = []
    engine = engine_showing(site, [BRIEFING], shown)
    path = retitle(site)
    path.write_text(path.read_text().replace("date: 2024-03-11", "date: 2024-13-11", 1))
    assert not engine.update([path]).ok
    assert shown == []
    # the author fixes it while the page shows the error overlay: the fix shows first
    path.write_text(path.read_text().replace("date: 2024-13-11", "date: 2024-03-11", 1))
    result = engine.update([path])
    assert result.ok and [r.changed for r in shown] == [{BRIEFING}]
    assert shown[0].content(BRIEFING) == result.content(BRIEFING) and NEW_TITLE.encode() in result.content(BRIEFING)


def test_a_template_edit_shows_the_page_on_screen_first_unless_it_fails(site):
    shown: list[BuildResult] = []
    engine = engine_showing(site, [BRIEFING], shown)
    template = site / "templates" / "briefing.html"
    template.parent.mkdir()
    theme = (THEME / "briefing.html").read_text()
    template.write_text(theme.replace("{% block main %}", "{% block main %}<p>Edited template</p>", 1))
    result = engine.update([template])
    assert result.ok and result.rendered > 1
    assert [r.changed for r in shown] == [{BRIEFING}]
    assert b"Edited template" in shown[0].content(BRIEFING)

    template.write_text(theme.replace("{% block main %}", "{% block main %}{{ nothing.at.all() }}", 1))
    failed = engine.update([template])
    assert not failed.ok and "templates/briefing.html" in failed.diagnostics[0].format()
    assert len(shown) == 1


def test_a_first_build_shows_nothing_early(site):
    shown: list[BuildResult] = []
    engine_showing(site, [BRIEFING], shown)
    assert shown == []


# -- the preview -----------------------------------------------------------------------------------

def test_the_pages_on_screen_are_the_html_pages_last_served():
    files = {f"p{i}/index.html": b"<body>page</body>" for i in range(ON_SCREEN + 2)}
    files |= {"feed.xml": b"<feed/>", "static/style.css": b"body{}", "404.html": b"<body>gone</body>"}
    preview = Preview("/b/", BuildResult(True, (), files, frozenset(), frozenset(), 0.0))
    for path in ("/b/p0/", "/b/feed.xml", "/b/static/style.css", "/b/missing/", "/b/p1/index.html", "/b/p0/"):
        respond(preview, "GET", path)
    assert preview.on_screen() == ["p1/index.html", "p0/index.html"]    # the latest last
    for i in range(ON_SCREEN + 2):
        respond(preview, "GET", f"/b/p{i}/")
    assert preview.on_screen() == [f"p{i}/index.html" for i in range(2, ON_SCREEN + 2)]


def messages(queue) -> list[tuple[str, dict]]:
    found = []
    while not queue.empty():
        event, data = queue.get().decode().split("\n")[:2]
        found.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return found


def test_a_rebuild_announces_each_page_on_screen_once_and_then_the_rest(site):
    lines: list[str] = []
    engine = Engine(site, drafts=True, parallel=False, pack_pages=True)
    server = PreviewServer(engine, site, port=0, watch=False, say=lines.append)
    server.start()
    try:
        base = server.preview.base_path
        for page in ("briefings/talks-begin/", "actors/mira-kovac/"):
            assert respond(server.preview, "GET", base + page).status == 200
        stream = server.preview.subscribe()
        messages(stream)        # (the state it starts with)
        result = server.rebuild([retitle(site)])
        events = messages(stream)
    finally:
        server.stop()
    assert result.ok and {BRIEFING, ACTOR} <= result.changed
    assert [kind for kind, _ in events] == ["reload", "reload", "reload"]
    paths = [data["paths"] for _, data in events]
    assert paths[:2] == [[ACTOR], [BRIEFING]]           # the smaller first
    assert set(paths[2]) == result.changed - {BRIEFING, ACTOR}   # on screen already: not again
    assert NEW_TITLE.encode() in server.preview.result.content(ACTOR)
    assert lines[-1].startswith(f"rebuilt {sum(p.endswith('.html') for p in result.changed)} pages in ")
    assert lines[-1].endswith(" ms)") and "(2 pages on screen in " in lines[-1]


def test_serve_lets_threads_take_the_gil_sooner_while_it_runs(monkeypatch, tmp_path, capsys):
    """The page on screen is fetched while the rebuild renders the rest: a shorter switch
    interval lets the HTTP thread answer sooner. It is the process's, so it is put back."""
    during = []

    def start(server):
        during.append(sys.getswitchinterval())
        raise KeyboardInterrupt     # as Ctrl-C would

    monkeypatch.setattr(PreviewServer, "start", start)
    before = sys.getswitchinterval()
    serve(Engine(tmp_path), tmp_path, port=0)
    assert during == [SWITCH_INTERVAL] and before > SWITCH_INTERVAL
    assert sys.getswitchinterval() == before and capsys.readouterr().out.strip() == "stopped"
