"""Is the output folder already what a build would write? Then a rebuild has nothing to do.

A build records one digest of everything that decides its output (every source file's
bytes, the templates and static files of the site and the theme, the generator's own code,
and the options) in the output's manifest. The next build compares: when nothing changed and
every file it wrote is still there, it stops after reading the sources (Make's rule, on
content instead of times).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from .assets import theme_dirs
from .sources import Source
from .write import read_manifest, read_manifest_field

_PACKAGE = Path(__file__).resolve().parent


def _tree(hasher, folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            hasher.update(path.relative_to(folder).as_posix().encode() + b"\0")
            hasher.update(path.read_bytes() + b"\0")


def inputs_digest(site_dir: Path, sources: Iterable[Source], options: Iterable[object]) -> str:
    """One digest of everything that decides a build's output."""
    hasher = hashlib.blake2b(digest_size=20)
    hasher.update(setup_digest(site_dir, options).encode())
    for source in sources:
        hasher.update(source.path.encode() + b"\0")
        hasher.update(source.digest.encode())
    return hasher.hexdigest()


def setup_digest(site_dir: Path, options: Iterable[object]) -> str:
    """Everything but the content: options, templates, static files and the generator's code."""
    hasher = hashlib.blake2b(digest_size=20)
    hasher.update(repr(tuple(options)).encode())
    templates, static = theme_dirs()
    for folder in (site_dir / "templates", site_dir / "static", templates, static):
        _tree(hasher, folder)
    for path in sorted(_PACKAGE.glob("*.py")) + sorted(_PACKAGE.glob("*.js")):
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def is_fresh(out_dir: Path, digest: str) -> bool:
    """True when the last build into `out_dir` had these inputs and its files are all there."""
    if read_manifest_field(out_dir, "inputs") != digest:
        return False
    return all_present(out_dir, read_manifest(out_dir))


def all_present(out_dir: Path, relatives: Iterable[str]) -> bool:
    """Every one of these output files is still there (strings, not pathlib: 12,000 checks)."""
    base = str(out_dir)
    isfile = os.path.isfile
    return all(isfile(os.path.join(base, relative)) for relative in relatives)
