"""Static files: the site's laid over the theme's, stylesheets and scripts fingerprinted."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.assets import build_assets, fingerprinted_name, load_assets, read_static
from generator.render import theme_dirs


def write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_site_files_override_the_theme_file_by_file(tmp_path):
    theme = write(tmp_path / "theme", {"style.css": b"theme", "print.css": b"print", "img/logo.svg": b"<svg/>"})
    site = write(tmp_path / "site", {"static/style.css": b"site", "static/img/extra.png": b"png"})
    assets = load_assets(site, theme)
    sources = {name: assets.files[path] for name, path in assets.names.items()}
    assert sources == {"style.css": b"site", "print.css": b"print", "img/logo.svg": b"<svg/>",
                       "img/extra.png": b"png"}


def test_css_and_js_are_fingerprinted_other_files_keep_their_names():
    assets = build_assets({"style.css": b"a{}", "js/app.min.js": b"1", "img/logo.svg": b"<svg/>"})
    assert re.fullmatch(r"static/style\.[0-9a-f]{8}\.css", assets.asset_path("style.css"))
    assert re.fullmatch(r"static/js/app\.min\.[0-9a-f]{8}\.js", assets.asset_path("js/app.min.js"))
    assert assets.asset_path("img/logo.svg") == "static/img/logo.svg"
    assert assets.asset_path("/img/logo.svg") == "static/img/logo.svg"
    assert set(assets.files) == set(assets.names.values())


def test_fingerprint_follows_the_content():
    assert fingerprinted_name("style.css", b"a") == fingerprinted_name("style.css", b"a")
    assert fingerprinted_name("style.css", b"a") != fingerprinted_name("style.css", b"b")
    assert fingerprinted_name("robots.txt", b"a") == "robots.txt"


def test_assets_are_deterministic(tmp_path):
    site = write(tmp_path / "site", {"static/b.css": b"b", "static/a.js": b"a", "static/c/d.txt": b"d"})
    first, second = load_assets(site), load_assets(site)
    assert first == second and list(first.files) == sorted(first.files)


def test_hidden_files_are_skipped(tmp_path):
    root = write(tmp_path, {"a.css": b"a", ".DS_Store": b"x", ".git/config": b"x", "img/.keep": b""})
    assert read_static(root) == {"a.css": b"a"}


def test_missing_folders_are_empty(tmp_path):
    assert read_static(tmp_path / "nope", None) == {}


def test_unknown_asset_names_fail_loudly():
    with pytest.raises(KeyError, match="no static file named 'missing.css'"):
        build_assets({}).asset_path("missing.css")


def test_the_theme_ships_a_stylesheet():
    templates, static = theme_dirs()
    assert (templates / "base.html").is_file() and (static / "style.css").is_file()
    assert "style.css" in load_assets(None).names
