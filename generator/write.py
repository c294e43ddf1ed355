"""Write: the last stage, and the only one besides read that touches the disk.

It runs only after every earlier stage succeeded. Each changed file is written atomically
(a temporary file in the same folder, then a rename), unchanged files are left untouched, and
a manifest of what this build wrote lets the next build remove exactly the files that no
longer exist, and nothing else in the folder.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import ContentError, Diagnostic

MANIFEST = ".briefing-manifest.json"
STAGING = ".briefing-staging"       # pages of a build in progress (Staging)


@dataclass(frozen=True, slots=True)
class WriteReport:
    written: tuple[str, ...]
    unchanged: int
    removed: tuple[str, ...]
    hashes: Mapping[str, str] = field(default_factory=dict)   # the manifest written: path -> content hash


def safe_output_path(out_dir: Path, relative: str) -> Path:
    """The file for an output path, refusing anything that would land outside `out_dir`."""
    pure = PurePosixPath(relative)
    if (not relative or pure.is_absolute() or "\\" in relative or "\x00" in relative
            or any(part in ("..", ".", "") for part in relative.split("/"))):
        raise ContentError(Diagnostic(relative, 0, 0, f"refusing to write '{relative}' outside the output folder"))
    return out_dir.joinpath(*pure.parts)


def file_hash(data: bytes) -> str:
    # SHA-256 runs in the CPU's SHA instructions on today's x86 and ARM machines: twice as fast
    # as BLAKE2b here over a site's 350 MB of pages (kept to 128 bits, as BLAKE2b's was)
    return hashlib.sha256(data).hexdigest()[:32]


def read_manifest(out_dir: Path) -> dict[str, str]:
    """Output path -> content hash of every file the previous build wrote."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text("utf-8"))
        files = manifest.get("files", {})
        return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def read_manifest_field(out_dir: Path, name: str) -> object:
    try:
        return json.loads((out_dir / MANIFEST).read_text("utf-8")).get(name)
    except (OSError, ValueError, AttributeError):
        return None


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix="~")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


@dataclass(frozen=True, slots=True)
class Staged:
    """A file a worker has dealt with: its hash, and whether it waits in the staging folder."""

    digest: str
    written: bool      # False when the output folder already holds these bytes


class Staging:
    """Where a build's pages wait until the whole build has succeeded.

    Render workers hand each page to `stage` as soon as it is made, so no process holds the
    whole site in memory; a page the output already holds (by the manifest's hash) is not
    even written. `write_output(staging=...)` then moves the waiting files into place; a
    failed build calls `discard`, and the output folder is as it was. The folder lives inside
    the output folder (a rename never crosses file systems) under a name no page can have.

    An output folder that is missing or empty has nothing to keep: pages are written in place
    at once (`direct`), by the workers, and `discard` empties the folder again. A first build
    then skips a folder of 10,000 files and as many renames and folders made one by one.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.made_out_dir = False
        self.direct = False
        self.folder = out_dir / STAGING
        self.previous = read_manifest(out_dir)

    def open(self) -> Staging:
        self.made_out_dir = not self.out_dir.exists()
        shutil.rmtree(self.folder, ignore_errors=True)   # left by a build that was killed
        self.direct = self.made_out_dir or (self.out_dir.is_dir() and not any(self.out_dir.iterdir()))
        if self.direct:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.folder.mkdir(parents=True)
        return self

    def path(self, relative: str) -> Path:
        if self.direct:
            return safe_output_path(self.out_dir, relative)
        return self.folder / hashlib.blake2b(relative.encode(), digest_size=12).hexdigest()

    def stage(self, relative: str, data: bytes) -> Staged:
        digest = file_hash(data)
        target = safe_output_path(self.out_dir, relative)
        if self.direct:
            path = target
            path.parent.mkdir(parents=True, exist_ok=True)
        elif _holds(target, data, digest, self.previous.get(relative)):
            return Staged(digest, False)
        else:
            path = self.path(relative)
        path.write_bytes(data)
        os.chmod(path, 0o644)
        return Staged(digest, True)

    def discard(self) -> None:
        if not self.direct:
            shutil.rmtree(self.folder, ignore_errors=True)
        elif self.out_dir.is_dir():    # it was empty: empty it again
            for child in list(self.out_dir.iterdir()):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        if self.made_out_dir:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()


def write_output(out_dir: Path, files: Mapping[str, bytes], *, inputs: str = "",
                 kept: frozenset[str] = frozenset(), state: str = "",
                 staged: Mapping[str, Staged] | None = None, staging: Staging | None = None) -> WriteReport:
    """Make `out_dir` hold `files`: write what changed, remove what earlier builds wrote and this one did not.

    `inputs` (freshness.inputs_digest) is recorded so the next build can tell nothing changed.
    `kept` names files the previous build wrote that this one knows to be unchanged without
    holding their bytes (an incremental build); they stay as they are and stay in the manifest.
    `state` is the token of the build state (state.py) that describes what was written.
    `staged` are files already handed to `staging` (their bytes wait there, or are in place).
    """
    targets = {relative: safe_output_path(out_dir, relative) for relative in files}
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(out_dir)
    hashes: dict[str, str] = {path: previous[path] for path in kept if path in previous}
    written: list[str] = []
    in_place = staging is not None and staging.direct and staging.out_dir.resolve() == out_dir.resolve()
    for relative, item in (staged or {}).items():
        hashes[relative] = item.digest
        if item.written:
            assert staging is not None
            if not in_place:
                target = safe_output_path(out_dir, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging.path(relative), target)
            written.append(relative)
    for relative, data in files.items():
        digest = file_hash(data)
        hashes[relative] = digest
        target = targets[relative]
        if _holds(target, data, digest, previous.get(relative)):
            continue
        atomic_write(target, data)
        written.append(relative)
    removed = []
    for relative in sorted(set(previous) - set(hashes)):
        try:
            target = safe_output_path(out_dir, relative)
        except ContentError:
            continue  # a tampered manifest cannot make us delete outside the folder
        try:
            target.unlink()
            removed.append(relative)
        except FileNotFoundError:
            pass
        _remove_empty_parents(target.parent, out_dir)
    manifest = {"generator": "briefing", "inputs": inputs, "state": state, "files": dict(sorted(hashes.items()))}
    atomic_write(out_dir / MANIFEST, json.dumps(manifest, indent=0).encode("utf-8"))
    if staging is not None and not staging.direct:
        shutil.rmtree(staging.folder, ignore_errors=True)
    return WriteReport(tuple(written), len(hashes) - len(written), tuple(removed), hashes)


def _holds(target: Path, data: bytes, digest: str, recorded: str | None) -> bool:
    """The output file already has these bytes: the manifest says so and it is still there, as long."""
    return recorded == digest and target.is_file() and target.stat().st_size == len(data)


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def output_problem(site_dir: Path, output: Path) -> str:
    """Why an output folder may not be used, or '' when it may (FORMAT.md's output rule)."""
    site = site_dir.resolve()
    out = output.resolve()
    if out == site or site.is_relative_to(out):
        return f"the output folder '{output}' is the site folder or contains it"
    for name in ("content", "templates", "static"):
        if out.is_relative_to(site / name):
            return f"the output folder '{output}' lies inside the site's {name}/ folder"
    return ""
