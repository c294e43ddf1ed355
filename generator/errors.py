"""One error type for content mistakes, carrying its place.

Every stage reports problems as `Diagnostic` values instead of raising on the first one, so a
run can show every mistake in the site at once. `ContentError` wraps diagnostics where a stage
must stop (a missing site.yaml, a refused output folder).
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 0x7f, 0x85]} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A mistake at a place: `path:line:col: severity: message (hint)`.

    `path` is relative to the site folder with forward slashes; `line` and `column` count from 1,
    and 0 means the place is the whole file.
    """

    path: str
    line: int
    column: int
    message: str
    hint: str = ""
    severity: str = ERROR

    def format(self) -> str:
        """One line, whatever the content quoted in it: line breaks and control characters escaped."""
        place = self.path
        if self.line:
            place += f":{self.line}:{self.column or 1}"
        text = f"{place}: {self.severity}: {self.message}"
        return (f"{text} ({self.hint})" if self.hint else text).translate(_ESCAPES)

    def as_json(self) -> dict:
        return {"path": self.path, "line": self.line, "column": self.column,
                "severity": self.severity, "message": self.message, "hint": self.hint}

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.severity != ERROR, self.message)

    def as_error(self) -> Diagnostic:
        return Diagnostic(self.path, self.line, self.column, self.message, self.hint, ERROR)


class ContentError(Exception):
    """Raised where a stage cannot go on; carries the diagnostics that say why."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        super().__init__("\n".join(d.format() for d in self.diagnostics))


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to `word`, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """A hint naming the closest known word, or '' when nothing is close."""
    close = closest(word, known)
    return f"did you mean '{close}'?" if close else ""


def count_line(diagnostics: Iterable[Diagnostic]) -> str:
    """`2 errors, 1 warning` — the closing line of a check."""
    diagnostics = list(diagnostics)
    errors = sum(d.severity == ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors

    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)
