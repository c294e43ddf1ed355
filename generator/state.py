"""What one `briefing build` leaves for the next: the model, the plan and the output's hashes.

With it, a later build in a new process can compare the new model with the old one
(`plan.changed_deps`) and render only the pages an edit touched, keeping every other file
of the output folder as it is. It is only a shortcut: it is used only when it was made with
the same options, templates, static files and generator code, and when the output folder
still holds exactly what it recorded; otherwise the build renders everything.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cache import CACHE_DIR
from .model import Site
from .parallel import no_gc
from .plan import PagePlan
from .write import read_manifest

STATE_FILE = "build-state.pickle"


@dataclass(frozen=True, slots=True)
class BuildState:
    key: str                        # freshness.setup_digest of the build that made it
    out_dir: str
    site: Site
    plans: dict[str, PagePlan]
    asset_names: dict[str, str]
    hashes: dict[str, str]          # the output manifest it wrote


def load_state(site_dir: Path, key: str, out_dir: Path) -> BuildState | None:
    """The previous build's state, if it fits this build and the output folder is as it left it."""
    try:
        with open(site_dir / CACHE_DIR / STATE_FILE, "rb") as fh, no_gc():
            state = pickle.load(fh)
    except Exception:  # noqa: BLE001 - an unreadable state is simply no state
        return None
    if not isinstance(state, BuildState) or state.key != key or state.out_dir != str(out_dir.resolve()):
        return None
    if read_manifest(out_dir) != state.hashes:
        return None
    # a file someone deleted must be written again, so it cannot be kept
    return state if all((out_dir / relative).is_file() for relative in state.hashes) else None


def save_state(site_dir: Path, state: BuildState) -> None:
    folder = site_dir / CACHE_DIR
    try:
        folder.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh, no_gc():
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, folder / STATE_FILE)
    except OSError:
        pass
