"""Parse one file at a time: bytes in, a validated `Document` (or diagnostics) out.

Nothing here looks at other files, so a result depends only on the file's bytes (and its kind
and path) and can be cached by content hash and run in parallel.
"""
from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from . import schema
from .errors import ERROR, Diagnostic
from .markdown import plain_text
from .model import built_by_fields
from .quotes import fold_text, quote_span
from .sources import digest
from .yamlfast import NOT_SIMPLE, load_simple

try:  # PyYAML's C loader, many times faster; the pure-Python one where libyaml is missing
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


# the safe loader's implicit resolvers by a plain scalar's first character, as tuples
_ANY_FIRST = tuple(_SafeLoader.yaml_implicit_resolvers.get(None, ()))   # (the safe loader has none)
_RESOLVERS = {first: tuple(resolvers) + _ANY_FIRST
              for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items() if first is not None}


class YamlLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader, resolving plain scalars' tags in fewer steps.

    The C composer calls back into Python to resolve each scalar's tag (a hundred per article);
    the safe loader has no path resolvers, so a scalar's tag depends on its own text alone.
    """

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else self.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node, current_index):
        pass   # (path resolvers only)

    def ascend_resolver(self):
        pass


def _plain_tag(value: str) -> str:
    """The tag the safe loader gives a plain (unquoted) scalar."""
    for tag, pattern in _RESOLVERS.get(value[:1], _ANY_FIRST):
        if pattern.match(value):
            return tag
    return _SafeLoader.DEFAULT_SCALAR_TAG


MAX_FILE_BYTES = 8 * 1024 * 1024
SHARED_TEXT = 64             # scalars up to this long are interned (ids, dates, statuses)
MAX_YAML_NODES = 20_000     # an alias bomb expands past this long before it hurts
MAX_YAML_DEPTH = 50         # lists and mappings within each other; front matter needs 4 or 5
KEY = schema.KEY             # marks[path + (key, KEY)]: where a mapping's key itself is written
_STANDARD = "tag:yaml.org,2002:"
_SEQ, _MAP, _STR, _BOOL = _STANDARD + "seq", _STANDARD + "map", _STANDARD + "str", _STANDARD + "bool"
KINDS = {"article": schema.ARTICLE, "actor": schema.ACTOR_FILE, "page": schema.PAGE, "site": schema.SITE}


@built_by_fields
@dataclass(frozen=True, slots=True)
class Document:
    """One file, parsed and checked on its own.

    `data` is the validated front matter (keys whose values were wrong are None or absent);
    `marks` knows the line and column in the file of each key path such as
    ('proposals', 0, 'status') (read them with `locate`), so later stages can point at the place
    of a mistake they find.
    """

    kind: str
    path: str
    data: dict[str, Any]
    body: str = ""
    body_line: int = 0
    # where each quote of the front matter (quotes' text, positions' quote) occurs in the body's
    # plain text as folded for matching (quotes.fold_text): (start, end), or None when it does
    # not; found here, in parallel and cached with the file, rather than keeping the text
    spans: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    marks: Marks = field(default_factory=lambda: Marks.of({}))
    diagnostics: tuple[Diagnostic, ...] = ()
    digest: str = ""                     # of the file's bytes
    # of the front matter's text (all of an actor file or site.yaml): equal when an edit left
    # everything but an article's body as it was (engine.py's body-only rebuilds)
    front_digest: str = ""

    @property
    def ok(self) -> bool:
        return not any(d.severity == ERROR for d in self.diagnostics)

    def locate(self, path: tuple) -> tuple[int, int]:
        """The closest known place of a key path: itself, else its nearest parent."""
        return _locate(self.marks, path)


def parse_document(kind: str, path: str, raw: bytes) -> Document:
    """Parse the bytes of one file of `kind` ('article', 'actor', 'page' or 'site')."""
    problems: list[Diagnostic] = []

    def fail(message: str, line: int = 0, column: int = 0, hint: str = "") -> Document:
        problems.append(Diagnostic(path, line, column, message, hint))
        return Document(kind, path, {}, diagnostics=tuple(problems), digest=digest(raw))

    if len(raw) > MAX_FILE_BYTES:
        return fail(f"file is too large ({len(raw) / 1048576:.1f} MiB; the limit is "
                    f"{MAX_FILE_BYTES // 1048576} MiB)", hint="split it, or move data out of it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return fail(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line, column,
                    "save the file as UTF-8")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return fail("file contains a NUL byte", line, 1, "is this a binary file?")

    if kind in ("article", "page"):
        if not text.strip():
            return fail("empty file", hint=f"{'an article' if kind == 'article' else 'a page'} starts with "
                        "front matter between '---' lines")
        front, body, yaml_line, body_line = split_front_matter(text)
        if front is None:
            return fail("no front matter", 1, 1,
                        "start the file with a '---' line, the YAML keys, and another '---' line")
        if body is None:
            return fail("front matter is not closed", 1, 1, "end it with a line of three dashes: ---")
    else:
        if not text.strip():
            return fail("empty file", hint="an actor file needs at least 'name:'" if kind == "actor"
                        else "site.yaml needs at least 'title:'")
        front, body, yaml_line, body_line = text, "", 0, 0

    marks: dict[tuple, int] = {}
    try:
        value = load_yaml(front, yaml_line, marks)
    except YamlProblem as exc:
        return fail(exc.message, exc.line, exc.column, exc.hint)
    if value is None:
        value = {}
    marks.setdefault((), _pack(yaml_line + 1, 1))

    ctx = schema.Context(path, lambda p: _locate(marks, p))
    try:
        data = KINDS[kind].check(value, (), ctx)
    except schema.Invalid:
        data = {}
    problems.extend(ctx.diagnostics)
    quotes = list(_quote_texts(data)) if kind == "article" else []
    text = fold_text(plain_text(body)) if body and quotes else ""
    spans = {quote: quote_span(quote, text) for quote in quotes}
    return Document(kind, path, data, body, body_line, spans, Marks.of(marks),
                    tuple(problems), digest(raw), digest(front.encode()))


def _quote_texts(data: dict) -> Iterator[str]:
    for quote in data.get("quotes") or ():
        if isinstance(quote, dict) and isinstance(quote.get("text"), str):
            yield quote["text"]
    for proposal in data.get("proposals") or ():
        for position in (proposal.get("positions") or ()) if isinstance(proposal, dict) else ():
            if isinstance(position, dict) and isinstance(position.get("quote"), str):
                yield position["quote"]


def _locate(marks: Mapping[tuple, int], path: tuple) -> tuple[int, int]:
    """The place of a key path in `marks`, or of its nearest parent that has one."""
    while path:
        packed = marks.get(path)
        if packed is not None:
            return _unpack(packed)
        path = path[:-1]
    return _unpack(marks.get((), _pack(1, 1)))


# A document has a mark for every key and value, and a story has thousands of documents with
# the same key paths (a few hundred in all at 10,000 articles), mostly in the same order: one
# tuple per path, and one Shape per sequence of paths, shared by every document that has it.
_PATHS: dict[tuple, tuple] = {}
_SHAPES: dict[tuple, Shape] = {}


class Shape:
    """The key paths of a document's front matter in order, shared by the documents written alike."""

    __slots__ = ("paths", "_positions")

    def __init__(self, paths: tuple[tuple, ...]):
        self.paths = paths
        self._positions: dict[tuple, int] | None = None   # made on first use, once per shape

    def position(self, path: tuple) -> int | None:
        if self._positions is None:
            self._positions = {p: i for i, p in enumerate(self.paths)}
        return self._positions.get(path)

    def __reduce__(self):
        return _shape, (self.paths,)   # shared again when unpickled (the cache, a worker's results)


def _shape(paths: tuple[tuple, ...]) -> Shape:
    shape = _SHAPES.get(paths)
    if shape is None:
        paths = tuple(_PATHS.setdefault(path, path) for path in paths)
        shape = _SHAPES[paths] = Shape(paths)
    return shape


class Marks:
    """A document's marks: its Shape and, in the same order, the places (line, column) packed.

    Two objects rather than a dict of a hundred entries: a story's documents are unpickled
    from the parse cache, the build's state and the parse workers' results, and a dict of
    tuples and ints per document made most of their objects (a million ints at 10,000 articles).
    """

    __slots__ = ("shape", "places")

    def __init__(self, shape: Shape, places: array):
        self.shape, self.places = shape, places

    @classmethod
    def of(cls, marks: dict[tuple, int]) -> Marks:
        return cls(_shape(tuple(marks)), array("Q", marks.values()))

    def get(self, path: tuple, default: int | None = None) -> int | None:
        position = self.shape.position(path)
        return default if position is None else self.places[position]

    def __reduce__(self):
        return Marks, (self.shape, self.places)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Marks) and self.shape.paths == other.shape.paths and self.places == other.places

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Marks({len(self.places)} places)"


def _pack(line: int, column: int) -> int:
    return line << 24 | min(column, 0xFFFFFF)


def _unpack(packed: int) -> tuple[int, int]:
    return packed >> 24, packed & 0xFFFFFF


_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def split_front_matter(text: str) -> tuple[str | None, str | None, int, int]:
    """(front matter, body, line before the YAML, first line of the body); None where absent."""
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        return None, None, 0, 0
    close = _CLOSE.search(rest)
    if close is None:
        return rest, None, 1, 0
    front = rest[:close.start()]
    body = rest[close.end():].removeprefix("\n")
    body_line = 2 + front.count("\n") + 1
    return front, body, 1, body_line


class YamlProblem(Exception):
    def __init__(self, message: str, line: int, column: int, hint: str = ""):
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint


def load_yaml(text: str, line_offset: int, marks: dict[tuple, int]) -> Any:
    """The YAML's plain values, recording where each key is: read by yamlfast when it is
    written the usual way, else composed with the C loader."""
    simple = load_simple(text, line_offset, _plain, _shared, MAX_YAML_NODES, MAX_YAML_DEPTH)
    if simple is not NOT_SIMPLE:
        value, found = simple
        marks.update(found)
        return value
    loader = YamlLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else 0
        column = mark.column + 1 if mark else 0
        message = f"YAML syntax: {exc.problem or exc.context}"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            message = f"YAML syntax: {exc.context}, {exc.problem}"  # 'expected …, but found …'
        lines = text.split("\n")
        bad_line = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "\t" in bad_line[:len(bad_line) - len(bad_line.lstrip())] or "'\\t'" in str(exc.problem):
            hint = "YAML indentation must use spaces, not tabs"
        elif "mapping values are not allowed" in str(exc.problem) and ": " in bad_line.split(": ", 1)[-1]:
            # the commonest slip in front matter: a title or note with ': ' in it
            key = bad_line.split(":", 1)[0].strip()
            hint = f"a value containing ': ' must be quoted, like {key}: \"…: …\""
        elif exc.context and exc.problem and not exc.problem.startswith("but "):
            hint = exc.context
            if exc.context_mark and mark and exc.context_mark.line != mark.line:
                hint += f" started at line {exc.context_mark.line + 1 + line_offset}"
        else:
            hint = ""
        raise YamlProblem(message, line, column, hint) from exc
    except yaml.reader.ReaderError as exc:
        before = text[:exc.position]
        line, column = before.count("\n") + 1 + line_offset, exc.position - (before.rfind("\n") + 1) + 1
        raise YamlProblem(f"YAML cannot hold the character U+{exc.character:04X}", line, column,
                          "remove it") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML: {exc}", line_offset + 1, 1) from exc
    finally:
        loader.dispose()
    if node is None:
        return None
    builder = _Builder(line_offset, marks)
    return builder.build(node, ())


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, counting nodes against alias bombs."""

    def __init__(self, line_offset: int, marks: dict[tuple, int]):
        self.offset = line_offset
        self.marks = marks
        self.budget = MAX_YAML_NODES

    def place(self, node) -> tuple[int, int]:
        return node.start_mark.line + 1 + self.offset, node.start_mark.column + 1

    def mark(self, path: tuple, node) -> None:
        # (_pack inlined: this runs for every value and key of every document)
        if path not in self.marks:
            start = node.start_mark
            self.marks[path] = (start.line + 1 + self.offset) << 24 | min(start.column + 1, 0xFFFFFF)

    def build(self, node, path: tuple) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise YamlProblem("front matter is too large or repeats itself through aliases",
                              *self.place(node), hint=f"a document may hold at most {MAX_YAML_NODES} values")
        if len(path) > MAX_YAML_DEPTH:   # (walking deeper would exhaust Python's stack)
            raise YamlProblem("front matter nests lists and mappings too deep", *self.place(node),
                              hint=f"at most {MAX_YAML_DEPTH} levels")
        self.mark(path, node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if node.tag not in (_SEQ, _MAP):
            what = "list" if isinstance(node, SequenceNode) else "mapping"
            raise YamlProblem(f"unsupported YAML tag '{_tag_name(node.tag)}' on a {what}", *self.place(node),
                              hint="remove the tag; plain values are enough")
        if isinstance(node, SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise YamlProblem("a key must be plain text", *self.place(key_node))
                key = self.scalar(key_node)
                if not isinstance(key, str):
                    key = str(key).lower() if isinstance(key, bool) else str(key)
                self.mark(path + (key, KEY), key_node)
                if key in out:
                    raise YamlProblem(f"duplicate key '{key}'", *self.place(key_node),
                                      hint="each key may appear once in a mapping")
                if not isinstance(value_node, ScalarNode):
                    # point a container's mistakes at its key, where the reader looks
                    self.mark(path + (key,), key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        raise YamlProblem("unsupported YAML node", *self.place(node))  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        try:
            return _scalar(node.tag, node.value)
        except _BadScalar as exc:
            if node.tag.endswith("timestamp"):
                return node.value  # looks like a date but is none; the schema says so at its key
            raise YamlProblem(exc.message, *self.place(node), hint=exc.hint) from exc


def _shared(value: str) -> str:
    # ids, stances and statuses repeat thousands of times across a story: one copy each keeps
    # the model, the caches and the pickles between processes small
    return sys.intern(value) if len(value) <= SHARED_TEXT else value


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


_PLAIN_VALUES: dict[str, Any] = {}    # the ids, statuses and dates a story repeats, read once
_NOT_KNOWN = object()


def _plain(value: str) -> Any:
    """A plain scalar's value as _Builder.scalar makes it; ValueError (_BadScalar) where only
    PyYAML's composed node can say what is wrong and where (a merge key, a bad value)."""
    known = _PLAIN_VALUES.get(value, _NOT_KNOWN)
    if known is _NOT_KNOWN:
        known = _scalar(_plain_tag(value), value)
        if len(value) <= SHARED_TEXT and len(_PLAIN_VALUES) < 100_000:
            _PLAIN_VALUES[value] = known   # (every value here is immutable: text, numbers, dates)
    return known


class _BadScalar(ValueError):
    """A scalar its tag cannot make (a ValueError: yamlfast leaves such a text to PyYAML)."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


def _scalar(tag: str, value: str) -> Any:
    """A scalar's value from its tag, as the safe loader makes it, for _Builder and yamlfast alike."""
    if tag == _STR:
        return _shared(value)
    if tag == _BOOL and value.lower() not in ("true", "false"):
        return value  # YAML 1.2: `country: NO` is Norway; schema.Bool still takes yes/no
    if tag == _STANDARD + "merge":
        raise _BadScalar("YAML merge keys ('<<') are not supported", "write the keys out")
    construct = _CONSTRUCTOR.yaml_constructors.get(tag)
    if construct is None:
        raise _BadScalar(f"unsupported YAML tag '{_tag_name(tag)}'", "remove the tag; plain values are enough")
    try:
        return construct(_CONSTRUCTOR, ScalarNode(tag, value))
    except Exception as exc:  # noqa: BLE001 - PyYAML's constructors fail in many ways on explicit tags
        raise _BadScalar(f"bad {_tag_name(tag)} value '{value}'",
                         "remove the tag, or write a value of that type") from exc


def _tag_name(tag: str) -> str:
    """'!!python/object' as the author wrote it, not 'tag:yaml.org,2002:python/object'."""
    return "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag
