"""Shared fixtures: small sites written into tmp_path."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

SITE_YAML = "title: Test site\nbase_url: https://example.org/\n"

MakeSite = Callable[..., Path]


def write_site(root: Path, files: Mapping[str, str | bytes], site_yaml: str | None = SITE_YAML) -> Path:
    """Write `files` (site-relative path -> text or bytes) under `root`, with a default site.yaml.

    `site_yaml=None` leaves site.yaml out; a 'site.yaml' entry in `files` replaces the default.
    """
    root.mkdir(parents=True, exist_ok=True)
    if site_yaml is not None and "site.yaml" not in files:
        files = {"site.yaml": site_yaml, **files}
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


@pytest.fixture
def make_site(tmp_path: Path) -> MakeSite:
    """make_site({path: content}, site_yaml=...) -> a fresh site folder in tmp_path."""
    counter = itertools.count(1)

    def make(files: Mapping[str, str | bytes], site_yaml: str | None = SITE_YAML) -> Path:
        return write_site(tmp_path / f"site{next(counter)}", files, site_yaml)

    return make
