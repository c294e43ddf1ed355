"""Front matter written the usual way, read without the YAML composer: twice as fast.

Nearly every front matter is block mappings and lists of keys with plain, quoted and `>-`
values, and one-line lists like `tags: [a, b]`. PyYAML's C loader still calls back into
Python for each of its hundred-odd values (to make a node, to resolve its tag) before
parse.py walks the nodes again: half of parsing an article. This reads that common shape
line by line, with the same values, the same marks and in the same order as parse.py's
walk of the composed nodes. Anything else (flow mappings, anchors, tags, escapes, multi-line
plain or quoted values, comments after a value, tabs, a YAML mistake) is NOT_SIMPLE, and
PyYAML reads the file as before: it alone decides what is valid YAML and says what is wrong.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from .schema import KEY  # marks[path + (key, KEY)]: where the key is written

NOT_SIMPLE = object()    # returned when PyYAML must read the text


class _NotSimple(Exception):
    pass


# what PyYAML's reader refuses, and line breaks other than \n (YAML 1.1 has three more): every
# character outside \x0a, \x20-\x7e, \xa0-\u2027, \u202a-\ud7ff, \ue000-\ufefe, \uff00-\ufffd and
# the astral planes, spelt as the ranges between those (the negated class took 10 ms to compile)
_UNUSUAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
# a key this reader takes: a word, then ':' and a space or the line's end
_KEY_VALUE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*):(?:$| +(.*))")     # and the value after it
_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")       # indicators: such a value is PyYAML's
_FLOW_ITEM_BAD = re.compile(r"[\[\]{},:#'\"]")
_BLOCK_HEADERS = {">": (True, "\n"), ">-": (True, ""), "|": (False, "\n"), "|-": (False, "")}


def load_simple(text: str, line_offset: int, plain: Callable[[str], Any], quoted: Callable[[str], str],
                max_nodes: int, max_depth: int) -> tuple[Any, dict] | object:
    """(value, marks) as parse.load_yaml makes them, or NOT_SIMPLE.

    `plain(text)` gives a plain scalar's value (resolved as the safe loader does), raising
    ValueError where PyYAML should decide; `quoted(text)` a quoted or block text's. A mark is
    (line << 24 | column), 1-based, the line counted from `line_offset`. More than `max_nodes`
    values, or collections nested deeper than `max_depth`, are PyYAML's to report.
    """
    if "\t" in text or _UNUSUAL.search(text):
        return NOT_SIMPLE
    lines = text.split("\n")
    # the lines that hold something, as (number, indentation, text from there)
    rows = [(number, len(line) - len(stripped), stripped) for number, line in enumerate(lines)
            if (stripped := line.lstrip(" ")) and stripped[0] != "#"]
    if not rows or rows[0][1] != 0:
        return NOT_SIMPLE          # nothing (PyYAML says None), or a first line further right
    reader = _Reader(lines, rows, line_offset, plain, quoted, max_depth)
    try:
        value, end = reader.block(0, 0, ())
    except (_NotSimple, ValueError):
        return NOT_SIMPLE
    if end != len(rows) or len(reader.marks) > max_nodes:
        return NOT_SIMPLE       # (more marks than values: PyYAML counts them exactly)
    return value, reader.marks


class _Reader:
    def __init__(self, lines: list[str], rows: list[tuple[int, int, str]], line_offset: int,
                 plain: Callable[[str], Any], quoted: Callable[[str], str], max_depth: int):
        self.lines = lines
        self.max_depth = max_depth
        self.rows = rows
        self.offset = line_offset + 1
        self.plain = plain
        self.quoted = quoted
        self.marks: dict[tuple, int] = {}

    def place(self, number: int, column: int) -> int:
        return (number + self.offset) << 24 | (column + 1)

    # ---------------------------------------------------------------- collections
    def block(self, r: int, indent: int, path: tuple) -> tuple[Any, int]:
        """The block collection starting at row r, at `indent`; and the row after it."""
        text = self.rows[r][2]
        if text[0] == "-":
            return self.sequence(r, indent, path)
        return self.mapping(r, indent, path, text)

    def mapping(self, r: int, indent: int, path: tuple, first: str) -> tuple[dict, int]:
        """A block mapping whose keys sit at `indent`; row r's text from its first key is `first`
        (the text after '- ' when the mapping starts a list item)."""
        # Too deep is PyYAML's to report, before Python's stack runs out. Every nesting passes
        # through here: a list directly in a list ('- - x') is not this reader's.
        if len(path) >= self.max_depth:
            raise _NotSimple
        rows, marks, plain = self.rows, self.marks, self.plain
        end, offset = len(rows), self.offset
        number = rows[r][0]
        marks.setdefault(path, self.place(number, indent))
        out: dict = {}
        text = first
        while True:
            match = _KEY_VALUE.match(text)
            if match is None:
                raise _NotSimple
            key = plain(match.group(1))
            if key.__class__ is not str:
                key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                raise _NotSimple   # PyYAML names the duplicate
            line = (number + offset) << 24
            at = line | (indent + 1)
            marks[path + (key, KEY)] = at
            inner = path + (key,)
            value_text = match.group(2)
            if value_text and (value_text := value_text.rstrip(" ")):
                column = indent + match.start(2)
                if value_text[0] in "[>|":
                    value, r = self.inline(r, number, column, value_text, indent, inner, at)
                else:   # (most values: inline's work, without the call)
                    marks[inner] = line | (column + 1)
                    value = self.scalar(value_text)
                    r += 1
            else:
                r += 1
                if r == end:
                    raise _NotSimple   # an empty value: PyYAML's
                nested, following = rows[r][1], rows[r][2]
                if nested > indent:
                    marks[inner] = at   # a list's or mapping's mistakes point at its key
                    value, r = self.block(r, nested, inner)
                elif nested == indent and following.startswith("- "):
                    marks[inner] = at
                    value, r = self.sequence(r, nested, inner)
                else:
                    raise _NotSimple
            out[key] = value
            if r == end:
                return out, r
            number, nested, text = rows[r]
            if nested < indent or (nested == indent and text[0] == "-"):
                return out, r       # (the list this mapping is an item of, if any, goes on)
            if nested > indent:
                raise _NotSimple    # a value going on below, or a key out of line: PyYAML's

    def sequence(self, r: int, indent: int, path: tuple) -> tuple[list, int]:
        rows = self.rows
        self.marks.setdefault(path, self.place(rows[r][0], indent))
        out: list = []
        while True:
            number, _, text = rows[r]
            if not text.startswith("- "):
                raise _NotSimple       # '-' alone, or '-x': PyYAML's
            value_text = text[2:].lstrip(" ")
            if not value_text:
                raise _NotSimple
            column = indent + len(text) - len(value_text)
            item = path + (len(out),)
            if _KEY_VALUE.match(value_text):
                value, r = self.mapping(r, column, item, value_text)
            else:   # (a nested '- -' list, or 'a b: c', is no scalar this reader takes)
                value, r = self.inline(r, number, column, value_text, indent, item, None)
            out.append(value)
            if r == len(rows):
                return out, r
            nested, text = rows[r][1], rows[r][2]
            if nested != indent or text[0] != "-":
                if nested > indent:
                    raise _NotSimple
                return out, r

    # ---------------------------------------------------------------- values
    def inline(self, r: int, number: int, column: int, text: str, indent: int, path: tuple,
               key_at: int | None) -> tuple[Any, int]:
        """The value written from `column` of row r (line `number`), inside a collection at
        `indent`; and the row after it. A list's mark points at its key, as parse.py's does."""
        text = text.rstrip(" ")
        first = text[0]
        if first == "[":
            self.marks[path] = key_at if key_at is not None else self.place(number, column)
            return self.flow_list(number, column, text, path), r + 1
        if first in ">|":
            self.marks[path] = self.place(number, column)
            return self.block_text(r, number, text, indent)
        self.marks[path] = self.place(number, column)
        return self.scalar(text), r + 1

    def scalar(self, text: str) -> Any:
        first = text[0]
        if first == '"':
            inner = text[1:-1]
            if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
                raise _NotSimple
            return self.quoted(inner)
        if first == "'":
            inner = text[1:-1]
            if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
                raise _NotSimple
            return self.quoted(inner.replace("''", "'"))
        if first in _PLAIN_START or ": " in text or " #" in text or text[-1] == ":":
            raise _NotSimple
        return self.plain(text)

    def flow_list(self, number: int, column: int, text: str, path: tuple) -> list:
        if text[-1] != "]":
            raise _NotSimple
        inner = text[1:-1]
        if not inner.strip(" "):
            return []
        out = []
        start = column + 1
        for item in inner.split(","):
            value = item.strip(" ")
            if value[:1] in ("'", '"'):
                value = self.scalar(value)   # (an item cut at a comma it holds is not one)
            elif not value or value[0] in _PLAIN_START or _FLOW_ITEM_BAD.search(value):
                raise _NotSimple
            else:
                value = self.plain(value)
            self.marks[path + (len(out),)] = self.place(number, start + len(item) - len(item.lstrip(" ")))
            out.append(value)
            start += len(item) + 1
        return out

    def block_text(self, r: int, number: int, header: str, indent: int) -> tuple[str, int]:
        """A `>`, `>-`, `|` or `|-` text whose lines all sit at one indentation (the usual way);
        and the row after it."""
        style = _BLOCK_HEADERS.get(header)
        if style is None:
            raise _NotSimple
        folded, ending = style
        lines = self.lines
        body: list[str] = []
        width = None
        j = number + 1
        while j < len(lines):
            line = lines[j]
            if not line:
                body.append("")
                j += 1
                continue
            stripped = line.lstrip(" ")
            depth = len(line) - len(stripped)
            if width is None:
                if depth <= indent or not stripped:
                    break
                width = depth
            if not stripped or depth > width:
                raise _NotSimple       # a line of spaces, or one further right: YAML's finer rules
            if depth < width:
                break
            body.append(stripped)
            j += 1
        while body and body[-1] == "":
            body.pop()
        if not body or body[0] == "":
            raise _NotSimple
        if j == len(lines) and lines[-1]:
            ending = ""    # the text's last line, with no line break after it for `>` or `|` to keep
        if folded:
            parts = [body[0]]
            for previous, line in itertools.pairwise(body):
                if line == "":
                    parts.append("\n")
                elif previous == "":
                    parts.append(line)
                else:
                    parts.append(" " + line)
            value = "".join(parts)
        else:
            value = "\n".join(body)
        rows = self.rows
        r += 1
        while r < len(rows) and rows[r][0] < j:
            r += 1         # the text's own lines (one may look like a comment)
        return self.quoted(value + ending), r
