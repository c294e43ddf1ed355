"""packed.py: the preview keeps its pages compressed, and serves them as a build writes them."""
from __future__ import annotations

import pickle
import shutil
import zlib
from pathlib import Path

from generator.assets import Assets
from generator.engine import Engine
from generator.packed import Packed, asset_links, pack, unpack
from generator.serve import Preview, inject_script, page_event, respond
from generator.urls import Urls

HISTORY = Path(__file__).resolve().parent / "sites" / "history"
THEME_CSS = Path(__file__).resolve().parent.parent / "static" / "style.css"


def links(names: dict[str, str], base: str = "/") -> tuple:
    return asset_links(Assets(files={}, names=names), Urls(base))


def test_a_page_packs_smaller_and_unpacks_as_it_was() -> None:
    page = b"<html><head><link rel=stylesheet href=/b/static/style.1a2b3c4d.css></head>" \
           + b"<body>" + b"<p>The talks went on.</p>" * 200 + b"</body></html>"
    now = links({"style.css": "static/style.1a2b3c4d.css"}, "/b/")
    packed = pack(page, now)
    assert type(packed) is Packed and len(packed) < len(page) / 10
    assert b"style.1a2b3c4d" not in zlib.decompress(packed)   # a mark in its place
    assert unpack(packed, now) == page
    # as a render worker sends it back
    assert type(pickle.loads(pickle.dumps(packed))) is Packed and pickle.loads(pickle.dumps(packed)) == packed
    assert unpack(page, now) is page   # anything not packed is served as it is


def test_a_packed_page_unpacks_with_the_static_files_urls_of_the_moment() -> None:
    page = b'<link href="/static/style.1a2b3c4d.css"><link href="/static/style.1a2b3c4d.css.map">'
    before = links({"style.css": "static/style.1a2b3c4d.css", "style.css.map": "static/style.1a2b3c4d.css.map"})
    after = links({"style.css": "static/style.99999999.css", "style.css.map": "static/style.1a2b3c4d.css.map"})
    # the longer URL, which the shorter one begins, keeps its own name
    assert unpack(pack(page, before), after) == \
        b'<link href="/static/style.99999999.css"><link href="/static/style.1a2b3c4d.css.map">'


def built(engine: Engine) -> dict[str, bytes]:
    result = engine.build()
    assert result.ok
    return {path: result.content(path) for path in result.files}


def test_a_preview_engine_keeps_its_pages_packed_and_gives_the_same_site(tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False, pack_pages=True)
    result = engine.build()
    plain = Engine(site, drafts=True, use_cache=False, parallel=False).build()
    pages = [path for path in result.files if path.endswith(".html")]
    assert pages and all(type(result.files[path]) is Packed for path in pages)
    assert all(type(data) is not Packed for path, data in result.files.items() if not path.endswith(".html"))
    assert {path: result.content(path) for path in result.files} == dict(plain.files)
    assert sum(map(len, (result.files[p] for p in pages))) < sum(map(len, (plain.files[p] for p in pages))) / 3

    # a stylesheet edit leaves every packed page as it was, and they unpack with its new name
    (site / "static").mkdir()
    (site / "static" / "style.css").write_text(THEME_CSS.read_text() + "\n.edited { color: red; }\n")
    again = engine.update([site / "static" / "style.css"])
    assert again.ok and again.rendered == 0
    assert {p for p in again.changed | again.removed if not p.endswith(".css")} == set()
    assert page_event(result.files, again) == "css"
    assert {path: again.content(path) for path in again.files} \
        == dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)

    # a text edit renders its briefing, packed, into the same site a cold build makes
    article = sorted((site / "content" / "articles").glob("*.md"))[1]
    article.write_text(article.read_text().rstrip("\n") + "\n\nA new closing sentence.\n")
    edited = engine.update([article])
    assert edited.ok and edited.rendered == 1
    changed, = edited.changed
    assert type(edited.files[changed]) is Packed and b"A new closing sentence." in edited.content(changed)
    assert {path: edited.content(path) for path in edited.files} \
        == dict(Engine(site, drafts=True, use_cache=False, parallel=False).build().files)


def test_the_preview_serves_packed_pages_unpacked(tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    result = Engine(site, drafts=True, use_cache=False, parallel=False, pack_pages=True).build()
    plain = Engine(site, drafts=True, use_cache=False, parallel=False).build()
    preview = Preview("/", result)
    build = preview.snapshot()[1]
    page = next(path for path in result.files if path.startswith("briefings/"))
    answer = respond(preview, "GET", "/" + page.removesuffix("index.html"))
    assert answer.status == 200
    assert answer.body == inject_script(plain.files[page], "/", build, page)
    missing = respond(preview, "GET", "/no/such/page/")
    assert missing.status == 404 and missing.body == inject_script(plain.files["404.html"], "/", build, "")


def test_packed_pages_follow_the_site_to_another_path_and_then_a_stylesheet_edit(tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HISTORY, site)
    engine = Engine(site, drafts=True, use_cache=False, parallel=False, pack_pages=True)
    assert engine.build().ok
    config, stylesheet = site / "site.yaml", site / "static" / "style.css"

    def move() -> None:
        config.write_text(config.read_text().replace("https://example.org/history/", "https://example.org/moved/"))

    def restyle() -> None:
        stylesheet.parent.mkdir()
        stylesheet.write_text(THEME_CSS.read_text() + "\n.edited { color: red; }\n")

    for edit, touched in ((move, config), (restyle, stylesheet)):
        edit()
        result = engine.update([touched])
        cold = Engine(site, drafts=True, use_cache=False, parallel=False).build()
        assert result.ok and {path: result.content(path) for path in result.files} == dict(cold.files)
    assert b'href="/moved/static/style.' in result.content("index.html")
