"""Quote matching: fold typography so a quote matches its article's text, and name its anchor.

FORMAT.md: runs of white space (NBSP included) fold to one space, typographic quotes and
apostrophes to ' or ", dashes to -, and a quote's own leading and trailing quote marks and
spaces are ignored. Matching is case-sensitive.
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import re
from collections.abc import Callable

_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2039": "'", "\u203a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
}
_SPACE = re.compile(r"\s+")
_LONG_SPACE = re.compile(r"\s{2,}")
_EDGES = " '\""


def _typography(text: str) -> str:
    """Typographic quotes and dashes to ASCII, one character for one.

    A `str.replace` per character present beats `str.translate` with a table many times over
    on non-ASCII text, and an article holds only a few kinds of them.
    """
    if text.isascii():
        return text
    for fancy, plain in _FOLD.items():
        if fancy in text:
            text = text.replace(fancy, plain)
    return text


def fold(text: str) -> str:
    return " ".join(_typography(text).split())


def fold_quote(text: str) -> str:
    """A quote as it is searched for: folded, without its own surrounding quote marks."""
    return fold(text).strip(_EDGES)


def fold_with_map(text: str) -> tuple[str, Callable[[int], int]]:
    """The folded text, and a function from an index in it to the index it came from in `text`.

    Folding maps characters one to one except runs of two or more white-space characters,
    which become one space; only those runs shift indexes, so only they are remembered.
    """
    translated = _typography(text)
    folded_at: list[int] = []    # where each long run's space lands in the folded text
    run_bounds: list[tuple[int, int]] = []
    shift = 0
    for run in _LONG_SPACE.finditer(translated):
        folded_at.append(run.start() - shift)
        run_bounds.append((run.start(), run.end()))
        shift += run.end() - run.start() - 1

    def original(index: int) -> int:
        k = bisect.bisect_right(folded_at, index) - 1
        if k < 0:
            return index
        start, end = run_bounds[k]
        return start if index == folded_at[k] else end + (index - folded_at[k] - 1)

    return _SPACE.sub(" ", translated), original


def fold_text(plain: str) -> str:
    """An article's plain text folded for searching, its blocks kept apart by NUL."""
    return fold(plain.replace("\n\n", "\x00"))


def find_quote(quote: str, folded_text: str) -> int:
    """Where the quote first occurs in text folded by `fold_text`, or -1."""
    needle = fold_quote(quote)
    return folded_text.find(needle) if needle else -1


def quote_span(quote: str, folded_text: str) -> tuple[int, int] | None:
    """(start, end) of the quote in text folded by `fold_text`, or None when it is not there."""
    at = find_quote(quote, folded_text)
    return (at, at + len(fold_quote(quote))) if at >= 0 else None


@functools.lru_cache(maxsize=65536)
def quote_anchor(text: str) -> str:
    """An element id derived from the quote's own text, so it survives edits elsewhere."""
    folded = fold_quote(text)
    words = re.findall(r"[a-z0-9]+", folded.lower())[:5]
    digest = hashlib.blake2s(folded.encode("utf-8"), digest_size=3).hexdigest()
    return "q-" + "-".join(words + [digest])
