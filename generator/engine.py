"""The incremental build engine shared by `build`, `serve` and `publish`.

It keeps each stage's values between runs, so an edit re-parses only the files that changed
and re-renders only the pages whose inputs changed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import Diagnostic


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What one run of the pipeline produced.

    `files` maps output paths ('briefings/x/index.html', 'static/style.3fa2c1d4.css') to bytes.
    When the run failed (`ok` is False) `files` is still the last good site, so a preview can
    keep serving it while it shows `diagnostics`.
    """

    ok: bool
    diagnostics: tuple[Diagnostic, ...]
    files: Mapping[str, bytes]
    changed: frozenset[str]     # output paths added or changed against the previous good result
    removed: frozenset[str]     # output paths the previous good result had and this one has not
    seconds: float


class Builder(Protocol):
    """What the dev server needs from the engine."""

    base_path: str              # the URL path the site lives under, e.g. '/briefing/'

    def build(self) -> BuildResult:
        """Run the whole pipeline."""

    def update(self, paths: Iterable[Path]) -> BuildResult:
        """Run again after these files (absolute paths) changed, were created or deleted."""
