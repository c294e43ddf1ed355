"""What one `briefing build` leaves for the next: the model, the plan and the sources it came from.

With it, a later build in a new process renders only the pages an edit touched and keeps
every other file of the output folder as it is: an edit to an article's text alone patches
the model and renders that one briefing (engine.py), any other edit compares the new model
with this one (`plan.changed_deps`).

It is only a shortcut. It is used only when it was made with the same options, templates,
static files and generator code, and when the output folder was last written by a build
that used it (the manifest names the state's token) and still holds every file it wrote;
otherwise the build renders everything.

A body-only rebuild leaves the state as it is (writing 100 MB for one changed paragraph
would cost more than the build), so the sources may have moved on from `digests`; the next
build compares against the state again and re-checks those files, until it writes a new one.
"""
from __future__ import annotations

import os
import pickle
import secrets
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from .cache import CACHE_DIR
from .errors import Diagnostic
from .freshness import all_present
from .model import Site
from .parallel import no_gc
from .plan import PagePlan
from .write import read_manifest, read_manifest_field

STATE_FILE = "build-state.pickle"


@dataclass(frozen=True, slots=True)
class BuildState:
    key: str                                # freshness.setup_digest of the build that made it
    out_dir: str
    token: str                              # recorded in the manifest of every build that used it
    site: Site
    plans: dict[str, PagePlan]
    asset_names: dict[str, str]
    digests: dict[str, str]                 # source path -> content digest, as `site` was resolved
    fronts: dict[str, str]                  # source path -> digest of its front matter
    diagnostics: tuple[Diagnostic, ...]     # the warnings of the build that resolved `site`
    hashes: dict[str, str] = field(default_factory=dict)   # the output's manifest (read, never saved)


def new_token() -> str:
    return secrets.token_hex(8)


def load_state(site_dir: Path, key: str, out_dir: Path) -> BuildState | None:
    """The previous build's state, if it fits this build and the output folder is as it left it."""
    token = read_manifest_field(out_dir, "state")
    if not isinstance(token, str):
        return None
    try:
        with open(site_dir / CACHE_DIR / STATE_FILE, "rb") as fh, no_gc(keep=True):
            state = pickle.load(fh)
    except Exception:  # noqa: BLE001 - an unreadable state is simply no state
        return None
    if not isinstance(state, BuildState) or \
            (state.key, state.token, state.out_dir) != (key, token, str(out_dir.resolve())):
        return None
    hashes = read_manifest(out_dir)
    # a file someone deleted must be written again, so it cannot be kept
    return replace(state, hashes=hashes) if all_present(out_dir, hashes) else None


def save_state(site_dir: Path, state: BuildState) -> None:
    folder = site_dir / CACHE_DIR
    try:
        folder.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh, no_gc():
            pickle.dump(replace(state, hashes={}), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, folder / STATE_FILE)
    except OSError:
        pass
