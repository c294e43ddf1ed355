"""Pickles in the site's cache folder: shortcuts between builds, each written whole or not at all.

Every one of them is only a shortcut: a missing, stale or unreadable file means doing the
work again, never a wrong build.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from pathlib import Path

from .parallel import no_gc

CACHE_DIR = ".briefing-cache"


def load(site_dir: Path, name: str) -> object | None:
    """The cache folder's pickle `name` (its first part), or None when it is missing or unreadable."""
    try:
        with open(site_dir / CACHE_DIR / name, "rb") as fh, no_gc(keep=True):
            return pickle.load(fh)
    except Exception:  # noqa: BLE001 - an unreadable shortcut is simply no shortcut
        return None


def dump(site_dir: Path, name: str, *parts: object) -> None:
    """Pickle `parts` into the cache folder's file `name`, replacing it at once.

    The parts follow one another sharing one memo (read them back with one Unpickler), so a
    later part refers to the objects of an earlier one rather than repeat them. Raises OSError
    (a read-only site, a full disk), leaving no temporary file behind.
    """
    folder = site_dir / CACHE_DIR
    folder.mkdir(exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh, no_gc():
            pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
            for part in parts:
                pickler.dump(part)
        os.replace(temp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
