"""yamlfast reads the usual front matter as parse.py's walk of PyYAML's nodes does, or declines.

Every test compares with the PyYAML path itself: the same values (of the same types), the same
marks in the same order, and never a value where PyYAML finds a mistake.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import parse
from generator.parse import MAX_YAML_DEPTH, MAX_YAML_NODES, YamlProblem, load_yaml, split_front_matter
from generator.yamlfast import NOT_SIMPLE, load_simple

ROOT = Path(__file__).resolve().parent.parent


def fast(text: str) -> object:
    return load_simple(text, 1, parse._plain, parse._shared, MAX_YAML_NODES, MAX_YAML_DEPTH)


def pyyaml(text: str, monkeypatch) -> tuple[object, dict] | str:
    """What load_yaml makes of the text without yamlfast: (value, marks), or its error."""
    with monkeypatch.context() as patch:
        patch.setattr(parse, "load_simple", lambda *args: NOT_SIMPLE)
        marks: dict = {}
        try:
            return load_yaml(text, 1, marks), marks
        except YamlProblem as exc:
            return f"error: {exc.message}"


def typed(value: object) -> object:
    """The value with each scalar's type spelled out (1 == True == 1.0 in Python)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return type(value).__name__, value


def assert_same(text: str, monkeypatch, *, simple: bool | None = None) -> None:
    got = fast(text)
    want = pyyaml(text, monkeypatch)
    if simple is not None:
        assert (got is not NOT_SIMPLE) == simple, (text, want)
    if got is NOT_SIMPLE:
        return
    assert not isinstance(want, str), f"yamlfast read YAML that PyYAML refuses ({want}):\n{text}"
    value, marks = got
    want_value, want_marks = want
    assert typed(value) == typed(want_value)
    assert list(marks.items()) == list(want_marks.items())   # same places, same order (parse.Shape)


SIMPLE = {
    "scalars": 'title: "A: quoted title"\ndate: 2025-02-04\ncount: 12\nratio: 0.5\nflag: true\n'
               "country: NO\nnote: it's plain\nempty_quotes: ''\nsingle: 'it''s'\nnothing: null\n",
    "nested": "source:\n  name: Kyiv Independent\n  url: https://example.org/a?b=c#d\nafter: x\n",
    "lists": "tags: [a, b, c d]\nnone: []\nquoted: [\"A\", 'B']\nnumbers: [1, 2.5, true]\n"
             "actors:\n  - one\n  - 'two'\ncompact:\n- x\n- y\nlast: z\n",
    "list of mappings": "proposals:\n  - id: p1\n    title: \"P 1\"\n    positions:\n      - actor: a\n"
                        "        stance: supports\n      - actor: b\n        stance: opposes\n  - id: p2\n",
    "block texts": "summary: >-\n  One line\n  and the next.\n\n  A new paragraph.\n"
                   "kept: |\n  line one\n  # not a comment\n  line three\n"
                   "clipped: >\n  text\n\n\nnext: value\n",
    "comments and blank lines": "# a comment\n\ntitle: x   \n   # indented comment\n\nlist:\n  # about it\n  - a\n",
    "odd keys": "yes: 1\ntrue: 2\n123: 3\n2024-01-01: 4\non_time: 5\n",
    "item scalars": "events:\n  - date: 2025-01-30\n    title: \"Talks\"\n    actors: [a]\n  - plain item\n"
                    "  - >-\n    folded item\n",
    "unicode": "title: Putin–Zelensky meeting — «тест» 🙂\nname: \"Zoë\"\n",
    # an actor file or site.yaml is read whole: its last line may have no line break to keep
    "folded text at the end, no final line break": "name: x\nbio: >\n  one\n  two",
    "literal text at the end, no final line break": "name: x\nbio: |\n  one\n\n  two",
}

NOT_SIMPLE_TEXTS = {
    "multi-line plain": "summary: one\n  two\n",
    "multi-line quoted": 'title: "one\n  two"\n',
    "escape": 'title: "a\\"b"\n',
    "backslash": 'title: "line\\nbreak"\n',
    "comment after a value": "title: x # note\n",
    "flow mapping": "source: {name: x}\n",
    "anchor": "a: &x 1\nb: *x\n",
    "tag": "a: !!str 1\n",
    "merge": "base:\n  a: 1\nother:\n  <<: x\n",
    "tab": "a:\tb\n",
    "empty value": "a:\nb: 1\n",
    "duplicate key": "a: 1\na: 2\n",
    "more-indented block line": "summary: >\n  a\n    b\n",
    "keep chomping": "summary: |+\n  a\n\n",
    "nested list on a line": "a:\n  - - x\n",
    "bad timestamp": "date: 2024-13-45\n",
    "value with ': '": "title: a: b\n",
    "first line indented": "  a: 1\n",
    "nothing": "# only a comment\n",
    "key with a space": "my key: 1\n",
    "wrong indentation": "a:\n    b: 1\n  c: 2\n",
    "unterminated list": "tags: [a, b\n",
    "trailing comma": "tags: [a, b,]\n",
    "item going on": "list:\n  - a\n    b\n",
    "document marker": "a: 1\n---\nb: 2\n",
    "control character": "a: b\x85c\n",
    "a comma inside a quoted item": 'tags: ["A, B"]\n',
}


@pytest.mark.parametrize("name", SIMPLE)
def test_the_usual_front_matter_is_read_as_pyyaml_reads_it(name, monkeypatch) -> None:
    assert_same(SIMPLE[name], monkeypatch, simple=True)


@pytest.mark.parametrize("name", NOT_SIMPLE_TEXTS)
def test_anything_else_is_left_to_pyyaml(name, monkeypatch) -> None:
    assert_same(NOT_SIMPLE_TEXTS[name], monkeypatch, simple=False)


def test_values_marks_and_types(monkeypatch) -> None:
    value, marks = fast("date: 2025-02-04\ntags: [a, b]\nsource:\n  name: X\n")
    assert value == {"date": dt.date(2025, 2, 4), "tags": ["a", "b"], "source": {"name": "X"}}
    place = {path: (packed >> 24, packed & 0xFFFFFF) for path, packed in marks.items()}
    assert place[("date",)] == (2, 7)                # the value (line 1 of the YAML is line 2)
    assert place[("date", None)] == (2, 1)           # the key itself (schema.KEY)
    assert place[("tags",)] == (3, 1)                # a list: at its key
    assert place[("tags", 1)] == (3, 11)
    assert place[("source", "name")] == (5, 9)


def test_collections_nested_deeper_than_allowed_are_left_to_pyyaml(monkeypatch) -> None:
    def nested(depth: int) -> str:
        return "top:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth - 2)) + "  " * depth + "a: 1\n"

    assert_same(nested(MAX_YAML_DEPTH), monkeypatch, simple=True)
    assert_same(nested(MAX_YAML_DEPTH + 1), monkeypatch, simple=False)
    assert pyyaml(nested(MAX_YAML_DEPTH + 1), monkeypatch) == "error: front matter nests lists and mappings too deep"
    compact = "top:\n" + "".join("  " * i + "- a:\n" for i in range(MAX_YAML_DEPTH)) + "  " * MAX_YAML_DEPTH + "- b\n"
    assert fast(compact) is NOT_SIMPLE


def test_too_many_values_are_left_to_pyyaml(monkeypatch) -> None:
    text = "list:\n" + "".join(f"  - {i}\n" for i in range(MAX_YAML_NODES + 1))
    assert fast(text) is NOT_SIMPLE
    assert "too large" in pyyaml(text, monkeypatch)


def test_every_front_matter_of_the_example_and_a_corpus_is_read_fast(monkeypatch, tmp_path) -> None:
    files = [p for folder in (ROOT / "content", ROOT / "tests/sites/history/content")
             for p in sorted(folder.rglob("*")) if p.suffix in (".md", ".yaml")]
    maker = ROOT.parent / "shared" / "bench" / "make_corpus.py"   # the benchmark's articles
    if maker.exists():
        subprocess.run([sys.executable, str(maker), str(tmp_path / "corpus"), "--articles", "200"], check=True)
        files += sorted((tmp_path / "corpus" / "content").rglob("*.*"))
    for path in files:
        text = path.read_text("utf-8")
        front = split_front_matter(text)[0] if path.suffix == ".md" else text
        assert_same(front, monkeypatch, simple=True)


# --------------------------------------------------------------------------- any text

_WORDS = st.sampled_from(["a", "id", "title", "yes", "No", "true", "null", "~", "12", "0x1F", "1_000", "3.5",
                          ".inf", "2024-03-01", "2024-3-1", "2024-03-01T10:00:00Z", "12:30", "<<", "=", "x y",
                          "a:b", "a: b", "a #b", "a#b", "-x", "- x", "[x]", "{x}", "&x", "*x", "!x", "%x",
                          "@x", "`x", "|", ">", "'q'", "'it''s'", '"q"', '"a\\"b"', '"a: b"', "a,b", "'", '"',
                          "é", "Zoë — «x»", "", " ", "#", "a ", "?", ":", ",", "x:"])
_KEYS = st.sampled_from(["a", "b", "id", "yes", "true", "123", "2024-01-01", "my key", "x.y", "-k", "k-1", "<<"])
_INDENT = st.sampled_from(["", " ", "  ", "   ", "    "])


@st.composite
def _lines(draw) -> str:
    """Front-matter-like lines: the shapes yamlfast reads, mixed with near misses."""
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        indent = draw(_INDENT)
        shape = draw(st.integers(0, 9))
        if shape <= 2:
            lines.append(f"{indent}{draw(_KEYS)}:{draw(st.sampled_from([' ', '  ', '']))}{draw(_WORDS)}")
        elif shape == 3:
            lines.append(f"{indent}{draw(_KEYS)}:")
        elif shape == 4:
            lines.append(f"{indent}- {draw(_WORDS)}")
        elif shape == 5:
            lines.append(f"{indent}- {draw(_KEYS)}: {draw(_WORDS)}")
        elif shape == 6:
            items = draw(st.lists(_WORDS, max_size=3))
            separator = draw(st.sampled_from([", ", ",", " , "]))
            lines.append(f"{indent}{draw(_KEYS)}: [{separator.join(items)}]")
        elif shape == 7:
            lines.append(f"{indent}{draw(_KEYS)}: {draw(st.sampled_from(['>-', '>', '|', '|-', '|+', '>2']))}")
        elif shape == 8:
            lines.append(draw(st.sampled_from(["", "# c", f"{indent}# c", indent])))
        else:
            lines.append(f"{indent}{draw(_WORDS)}")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_lines())
def test_any_text_is_read_as_pyyaml_reads_it_or_left_to_it(text) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(text, monkeypatch)


_SAFE_WORDS = st.sampled_from(["a", "id", "Some title", "yes", "No", "true", "null", "12", "3.5", "2024-03-01",
                               "2024-03-01T10:00:00Z", "12:30", "'it''s'", '"a: b"', "Zoë — «x»", "https://x.org/a#b",
                               "a#b", '"a\\\\tb"', "x y ", "-x", "a: b", "a #b"])
_SAFE_KEYS = st.sampled_from(["a", "b", "id", "yes", "true", "123", "2024-01-01", "k-1", "x.y", "title", "c"])


@st.composite
def _document(draw, indent: int = 0, depth: int = 0) -> list[str]:
    """The lines of a block mapping at `indent`, written the ways front matter is."""
    lines = []
    for key in draw(st.lists(_SAFE_KEYS, min_size=1, max_size=4, unique=True)):
        pad = " " * indent
        shape = draw(st.integers(0, 6 if depth < 2 else 2))
        if shape == 0:
            lines.append(f"{pad}{key}: {draw(_SAFE_WORDS)}")
        elif shape == 1:
            items = draw(st.lists(_SAFE_WORDS.filter(lambda w: "," not in w), max_size=3))
            lines.append(f"{pad}{key}: [{', '.join(items)}]")
        elif shape == 2:
            header = draw(st.sampled_from([">-", ">", "|", "|-"]))
            text = draw(st.lists(st.sampled_from(["word", "two words", "", "# hash", "x: y"]), min_size=1, max_size=4))
            width = indent + draw(st.integers(1, 3))
            lines.append(f"{pad}{key}: {header}")
            lines += [" " * width + t if t else "" for t in text]
        elif shape == 3:
            lines.append(f"{pad}{key}:")
            lines += draw(_document(indent + draw(st.integers(1, 3)), depth + 1))
        else:
            lines.append(f"{pad}{key}:")
            dash = indent + draw(st.sampled_from([0, 2, 4]))
            for _ in range(draw(st.integers(1, 3))):
                if shape == 4:
                    lines.append(" " * dash + f"- {draw(_SAFE_WORDS)}")
                else:
                    inner = draw(_document(dash + 2, depth + 1))
                    lines.append(" " * dash + "- " + inner[0].lstrip(" "))
                    lines += inner[1:]
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# comment", pad + "  # comment"])))
    return lines


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document(), st.integers(0, 3), st.integers(0, 1000), st.integers(0, 1000))
def test_documents_and_near_misses_are_read_as_pyyaml_reads_them(lines, change, where, what) -> None:
    # mostly well-formed documents; some with a line shifted, doubled, cut or joined
    if change and len(lines) > 1:
        i = where % len(lines)
        if change == 1:
            lines[i] = " " * (what % 3) + lines[i]
        elif change == 2:
            lines.insert(i, lines[i - 1])
        else:
            lines[i] = lines[i][: what % (len(lines[i]) + 1)]
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same("\n".join(lines) + "\n", monkeypatch)



_VALUES = st.recursive(
    st.one_of(st.text(max_size=12), st.integers(-5, 3000), st.booleans(), st.none(), st.floats(allow_nan=False),
              st.dates(), st.sampled_from(["mark-rutte", "supports", "a: b", "x #y", "yes", "~", "2025-08-22"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["id", "title", "actor", "text", "tags", "x-y"]),
                                            inner, max_size=4)),
    max_leaves=15)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["title", "date", "summary", "tags", "actors", "proposals", "source"]),
                       _VALUES, min_size=1, max_size=6),
       st.sampled_from([None, True, False]), st.sampled_from([20, 80]))
def test_what_pyyaml_writes_is_read_as_pyyaml_reads_it(data, flow, width) -> None:
    # PyYAML's emitter quotes, wraps long values over lines and lays out lists in its own ways
    text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=flow, width=width)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(text, monkeypatch)


def test_unusual_characters_are_exactly_those_outside_what_pyyaml_reads() -> None:
    """_UNUSUAL lists the ranges between the characters PyYAML's reader takes (and \\n), rather
    than negating them (quicker to compile): over every code point, the same characters."""
    import re

    from generator.yamlfast import _UNUSUAL
    negated = re.compile("[^\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
    every = "".join(map(chr, range(0x110000)))
    found = [m.start() for m in _UNUSUAL.finditer(every)]
    assert found == [m.start() for m in negated.finditer(every)]
    assert len(found) == 0x110000 - (1 + 0x5f + 0x1f88 + 0xb7d6 + 0x1eff + 0xfe + 0x100000)
