"""parse_document: one file's bytes in, a validated Document and its diagnostics out."""
from __future__ import annotations

import datetime as dt
import json
import pickle

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.errors import ERROR, WARNING
from generator.markdown import plain_text
from generator.parse import (
    MAX_FILE_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    Document,
    YamlLoader,
    parse_document,
    split_front_matter,
)
from generator.quotes import fold_text

ARTICLE = """---
title: Rutte in Kyiv
date: 2025-08-22
tags: [nato]
actors:
  - mark-rutte
  - id: andriy-yermak
    name: Andriy Yermak
proposals:
  - id: security-guarantees
    title: Security guarantees
    status: under-negotiation
    positions:
      - actor: sergei-lavrov
        stance: opposes
---
NATO's chief *met* Zelensky.

“It’s too early,” he said.
"""


def parse(text: str | bytes, kind: str = "article", path: str = "content/articles/x.md") -> Document:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_document(kind, path, raw)


def messages(doc: Document) -> list[str]:
    return [d.format() for d in doc.diagnostics]


# --------------------------------------------------------------------------- front matter

def test_article_data_body_and_places() -> None:
    doc = parse(ARTICLE)
    assert doc.ok and doc.diagnostics == ()
    assert doc.kind == "article" and doc.path == "content/articles/x.md"
    assert doc.data["title"] == "Rutte in Kyiv"
    assert doc.data["date"] == dt.date(2025, 8, 22)
    assert doc.data["tags"] == ("nato",)
    assert doc.data["actors"][0] == "mark-rutte"
    assert doc.data["actors"][1] == {"id": "andriy-yermak", "name": "Andriy Yermak"}
    assert doc.data["proposals"][0]["positions"][0]["stance"] == "opposes"
    assert doc.body.startswith("NATO's chief *met* Zelensky.")
    assert doc.body_line == 17
    assert ARTICLE.split("\n")[doc.body_line - 1] == "NATO's chief *met* Zelensky."
    # places: a scalar at its value, a container at its key
    assert doc.locate(("title",)) == (2, 8)
    assert doc.locate(("actors", 0)) == (6, 5)
    assert doc.locate(("proposals", 0, "status")) == (12, 13)
    assert doc.locate(("actors",)) == (5, 1)
    assert doc.locate(("proposals", 0, "positions", 0, "stance")) == (15, 17)
    assert doc.locate(("proposals", 0, "no-such-key")) == (10, 5)  # nearest parent
    assert doc.locate(()) == (2, 1)


def test_documents_written_alike_share_one_shape_of_marks_also_after_pickling() -> None:
    """A story's documents keep their marks as a shared Shape and packed places (parse.Marks):
    pickled (the parse cache, the state, a worker's results) they come back shared, in place."""
    doc = parse(ARTICLE)
    alike = parse(ARTICLE.replace("title: Rutte in Kyiv", "title: Another title").replace("tags: ", "tags:   "))
    other = parse(ARTICLE.replace("tags: [nato]\n", ""))
    assert alike.marks.shape is doc.marks.shape and other.marks.shape is not doc.marks.shape
    assert alike.locate(("title",)) == doc.locate(("title",)) and alike.marks != doc.marks
    line, column = doc.locate(("tags", 0))
    assert alike.locate(("tags", 0)) == (line, column + 2)
    assert other.locate(("actors", 0)) == (5, 5)
    copies = pickle.loads(pickle.dumps([doc, alike, other], protocol=pickle.HIGHEST_PROTOCOL))
    assert copies == [doc, alike, other]
    assert copies[0].marks.shape is doc.marks.shape and copies[2].marks.shape is other.marks.shape
    for path in doc.marks.shape.paths + (("proposals", 0, "no-such-key"), ("nothing",)):
        assert copies[0].locate(path) == doc.locate(path), path
    assert copies[0].locate(("proposals", 0, "status")) == (12, 13)


def test_quotes_are_found_in_the_folded_plain_text_of_the_body() -> None:
    quotes = ("quotes:\n  - actor: mark-rutte\n    text: It's too early\n"
              "  - actor: mark-rutte\n    text: Zelensky. It's\n  - actor: mark-rutte\n    text: not in it\n")
    quoted = ARTICLE.replace("        stance: opposes\n", "        stance: opposes\n        quote: chief met\n") \
        .replace("tags: [nato]\n", "tags: [nato]\n" + quotes)
    doc = parse(quoted)
    assert not doc.diagnostics
    text = fold_text(plain_text(doc.body))
    assert "*" not in text and "\x00" in text  # markup gone, blocks kept apart
    assert doc.spans["chief met"] == (text.index("chief met"), text.index("chief met") + len("chief met"))
    assert doc.spans["It's too early"] is not None   # the body's typographic apostrophe folds to a plain one
    assert doc.spans["Zelensky. It's"] is None    # across two paragraphs: not a quote
    assert doc.spans["not in it"] is None
    assert parse(ARTICLE).spans == {}


def test_digest_depends_only_on_the_bytes() -> None:
    assert parse(ARTICLE).digest == parse(ARTICLE, path="elsewhere.md").digest
    assert parse(ARTICLE).digest != parse(ARTICLE + " ").digest
    assert parse(b"\xff").digest  # even a file that fails has one


def test_actor_file_and_site_file() -> None:
    actor = parse("name: Mark Rutte\nkind: person\naliases: [Rutte]\n", "actor", "content/actors/mark-rutte.yaml")
    assert actor.ok and actor.data == {"name": "Mark Rutte", "kind": "person", "aliases": ("Rutte",)}
    assert actor.body == "" and actor.body_line == 0
    site = parse("title: T\nbase_url: https://example.org/\nstrict: true\n", "site", "site.yaml")
    assert site.ok and site.data["strict"] is True


def test_page() -> None:
    page = parse("---\ntitle: About\n---\nAbout us.\n", "page", "content/pages/about.md")
    assert page.ok and page.data == {"title": "About"} and page.body == "About us.\n"


@pytest.mark.parametrize("text, front, body, body_line", [
    ("---\na: 1\n---\nBody\n", "a: 1\n", "Body\n", 4),
    ("---\na: 1\n---\n", "a: 1\n", "", 4),
    ("---\na: 1\n---", "a: 1\n", "", 4),
    ("---\na: 1\n...\nBody", "a: 1\n", "Body", 4),
    ("---  \na: 1\n---  \nBody", "a: 1\n", "Body", 4),
    ("---\n---\nBody", "", "Body", 3),
    ("---\na: 1\n\n\n---\n\nBody", "a: 1\n\n\n", "\nBody", 6),
])
def test_split_front_matter(text, front, body, body_line) -> None:
    got_front, got_body, yaml_line, got_body_line = split_front_matter(text)
    assert (got_front, got_body, yaml_line, got_body_line) == (front, body, 1, body_line)


def test_split_front_matter_absent_or_open() -> None:
    assert split_front_matter("no front matter")[:2] == (None, None)
    assert split_front_matter("--- \n")[1] is None
    assert split_front_matter("----\na: 1\n----\n")[:2] == (None, None)
    assert split_front_matter("---\na: 1\n")[1] is None


def test_a_dashes_line_inside_a_yaml_block_scalar_still_closes() -> None:
    """The first '---' line ends the front matter, as in Jekyll, Hugo and Zola."""
    doc = parse("---\ntitle: T\ndate: 2025-01-01\nsummary: |\n  a\n---\nBody\n")
    assert doc.ok and doc.body == "Body\n"


# --------------------------------------------------------------------------- encodings and line ends

def test_bom_and_crlf_keep_line_numbers() -> None:
    plain = parse(ARTICLE)
    windows = parse(("\ufeff" + ARTICLE).replace("\n", "\r\n"))
    old_mac = parse(ARTICLE.replace("\n", "\r"))
    for doc in (windows, old_mac):
        assert doc.ok
        assert doc.data == plain.data
        assert doc.marks == plain.marks
        assert doc.body == plain.body
        assert doc.body_line == plain.body_line


def test_bom_in_yaml_files() -> None:
    doc = parse(b"\xef\xbb\xbfname: Mark Rutte\r\nrole: x\r\n", "actor", "a.yaml")
    assert doc.ok and doc.data == {"name": "Mark Rutte", "role": "x"}
    assert doc.locate(("role",)) == (2, 7)


@pytest.mark.parametrize("raw, line, column, byte", [
    (b"---\ntitle: Caf\xe9\n---\n", 2, 11, "0xe9"),
    (b"\xff\xfe---\n", 1, 1, "0xff"),
    (b"---\ntitle: T\ndate: 2025-01-01\n---\nok\n\nbad \xc3\x28 here\n", 7, 5, "0xc3"),
])
def test_non_utf8_names_line_and_column(raw, line, column, byte) -> None:
    doc = parse(raw)
    assert not doc.ok and doc.data == {}
    (problem,) = doc.diagnostics
    assert (problem.line, problem.column, problem.message) == (line, column, f"not UTF-8 text (byte {byte})")
    assert problem.hint == "save the file as UTF-8"


def test_too_large_file_is_refused_before_decoding() -> None:
    raw = b"---\ntitle: T\n---\n" + b"\xff" * (MAX_FILE_BYTES + 1)
    (problem,) = parse(raw).diagnostics
    assert problem.message == "file is too large (8.0 MiB; the limit is 8 MiB)"
    assert problem.line == 0
    assert parse(b"---\ntitle: T\ndate: 2025-01-01\n---\n" + b"a" * (MAX_FILE_BYTES - 100)).ok


@pytest.mark.parametrize("kind", ["article", "actor", "page", "site"])
@pytest.mark.parametrize("text", ["", " \n\t\n", "\ufeff", "\r\n\r\n"])
def test_empty_files(kind, text) -> None:
    (problem,) = parse(text, kind).diagnostics
    assert problem.message == "empty file" and problem.line == 0


# --------------------------------------------------------------------------- YAML

def test_yaml_syntax_error_names_its_line_in_the_file() -> None:
    doc = parse("---\ntitle: T\ndate: 2025-01-01\nsummary: \"open\n---\nBody\n")
    (problem,) = doc.diagnostics
    assert problem.message.startswith("YAML syntax: ")
    assert problem.line == 5  # the file's line, counting the opening '---'
    assert "started at line 4" in problem.hint


@pytest.mark.parametrize("text, line", [
    ("---\ntitle: T\ntags:\n\t- a\n---\n", 4),
    ("---\ntitle: T\nsource:\n\tname: x\n---\n", 4),
    ("---\ntitle: T\nsource:\n  name: x\n\turl: y\n---\n", 5),
])
def test_tabs_get_a_hint(text, line) -> None:
    (problem,) = parse(text).diagnostics
    assert problem.line == line
    assert problem.hint == "YAML indentation must use spaces, not tabs"


def test_alias_bomb_is_stopped() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for this, previous in zip("bcdefghij", "abcdefghi", strict=True):
        lines.append(f"{this}: &{this} [" + ", ".join([f"*{previous}"] * 9) + "]")
    doc = parse("---\ntitle: T\ndate: 2025-01-01\n" + "\n".join(lines) + "\n---\nBody\n")
    (problem,) = doc.diagnostics
    assert problem.message == "front matter is too large or repeats itself through aliases"
    assert problem.hint == f"a document may hold at most {MAX_YAML_NODES} values"
    assert doc.data == {}


@pytest.mark.parametrize(("extra", "message"), [
    ("[" * 600 + "]" * 600, "front matter nests lists and mappings too deep"),
    ("\n" + "".join("  " * (i + 1) + "- a:\n" for i in range(800)), "front matter nests lists and mappings too deep"),
    ("\n" + "".join("  " * (i + 1) + "a:\n" for i in range(1500)) + "  " * 1501 + "b: 1",
     "YAML syntax: exceeded maximum nesting depth"),
])
def test_front_matter_nested_too_deep_is_a_mistake_not_a_crash(extra, message) -> None:
    # (walked as nested as that, the YAML builder or yamlfast would exhaust Python's stack)
    doc = parse(f"---\ntitle: T\ndate: 2025-01-01\nextra: {extra}\n---\nBody\n")
    (problem,) = doc.diagnostics
    assert problem.message == message and problem.line >= 4
    assert doc.data == {}


def test_front_matter_nested_as_deep_as_allowed_is_read() -> None:
    extra = "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1)
    doc = parse(f"---\ntitle: T\ndate: 2025-01-01\nextra: {extra}\n---\nBody\n")
    assert [p.message for p in doc.diagnostics] == ["unknown key 'extra' in article front matter"]


def test_a_large_but_honest_front_matter_is_fine() -> None:
    tags = "\n".join(f"  - tag-{i}" for i in range(MAX_YAML_NODES // 2))
    assert parse(f"---\ntitle: T\ndate: 2025-01-01\ntags:\n{tags}\n---\nBody\n").ok


def test_duplicate_key_is_an_error_at_the_second() -> None:
    (problem,) = parse("name: A\nrole: x\nname: B\n", "actor").diagnostics
    assert (problem.line, problem.column, problem.message) == (3, 1, "duplicate key 'name'")


@pytest.mark.parametrize("value, message", [
    ("!!python/object:os.system x", "unsupported YAML tag '!!python/object:os.system'"),
    ("!!python/object/apply:os.system [ls]", "unsupported YAML tag '!!python/object/apply:os.system' on a list"),
    ("!!python/name:os.system", "unsupported YAML tag '!!python/name:os.system'"),
    ("!!set {a, b}", "unsupported YAML tag '!!set' on a mapping"),
    ("!custom x", "unsupported YAML tag '!custom'"),
    ("!!float many", "bad !!float value 'many'"),
])
def test_tags_are_refused(value, message) -> None:
    doc = parse(f"name: Mark Rutte\nrole: {value}\n", "actor")
    assert [d.message for d in doc.diagnostics] == [message]
    assert doc.diagnostics[0].line == 2


def test_yaml_1_1_booleans_are_text_but_still_booleans_where_one_belongs() -> None:
    actor = parse("name: Norway\ncountry: NO\naliases: [no, off, Yes]\n", "actor")
    assert actor.ok and actor.data["country"] == "NO" and actor.data["aliases"] == ("no", "off", "Yes")
    article = parse("---\ntitle: T\ndate: 2025-01-01\ndraft: yes\n---\n")
    assert article.ok and article.data["draft"] is True
    assert parse("---\ntitle: T\ndate: 2025-01-01\ndraft: Off\n---\n").data["draft"] is False


def test_keys_that_are_not_text() -> None:
    doc = parse("name: A\n1: x\ntrue: y\n2025-01-01: z\n", "actor")
    assert [d.message for d in doc.diagnostics] == [
        "unknown key '1' in actor file", "unknown key 'true' in actor file", "unknown key '2025-01-01' in actor file"]
    assert all(d.severity == WARNING for d in doc.diagnostics)
    (problem,) = parse("name: A\n? [a, b]\n: c\n", "actor").diagnostics
    assert problem.message == "a key must be plain text"


def test_unknown_key_points_at_the_key() -> None:
    doc = parse("---\ntitle: T\ndate: 2025-01-01\nsource:\n  name: N\n  ulr: https://x.org/\n---\n")
    (problem,) = doc.diagnostics
    assert (problem.line, problem.column) == (6, 3)
    assert problem.format() == ("content/articles/x.md:6:3: warning: unknown key 'ulr' in source "
                                "(did you mean 'url'?)")


def test_a_file_with_errors_still_gives_its_good_values() -> None:
    doc = parse("---\ntitle: T\ndate: not a date\ntags: [ok, Not_OK]\nsummary: S\n---\nBody\n")
    assert not doc.ok
    assert doc.data["title"] == "T" and doc.data["summary"] == "S"
    assert doc.data["date"] is None
    assert doc.data["tags"] == ("ok",)
    assert doc.body == "Body\n"
    assert [d.severity for d in doc.diagnostics] == [ERROR, ERROR]


def test_control_characters_in_yaml() -> None:
    (problem,) = parse("---\ntitle: T\u0007\n---\n").diagnostics
    assert (problem.line, problem.column, problem.message) == (2, 9, "YAML cannot hold the character U+0007")


def test_nul_byte() -> None:
    (problem,) = parse(b"name: A\nrole: \x00\n", "actor").diagnostics
    assert (problem.line, problem.message) == (2, "file contains a NUL byte")


@pytest.mark.parametrize("kind", ["article", "actor", "page", "site"])
def test_a_scalar_or_list_instead_of_a_mapping(kind) -> None:
    for front in ("just text", "- a\n- b", "42"):
        text = f"---\n{front}\n---\nBody\n" if kind in ("article", "page") else front + "\n"
        doc = parse(text, kind)
        (problem,) = doc.diagnostics
        assert "must be a mapping of keys to values" in problem.message
        assert doc.data == {}


# parse.YamlLoader resolves plain scalars' tags its own, shorter way: the tags must be the safe
# loader's for any scalar, plain or quoted, in any place (keys, lists, nested mappings).
_SCALARS = st.one_of(
    st.sampled_from(["", "~", "null", "Null", "NULL", "yes", "No", "on", "OFF", "true", "False", "y", "n",
                     "0", "-1", "+12", "0x1F", "0o17", "1_000", "3.14", "-.5", ".inf", "-.INF", ".nan", "1e3",
                     "2024-03-01", "2024-03-01T10:00:00Z", "2024-3-1", "<<", "=", "12:30", "1:20:00",
                     "190:20:30", "NO", "Norway", "- x", "2024", "0.", "+.inf", "1,000"]),
    st.text(alphabet="0123456789.+-:eExXoOabnNyYtTfF_ ~", min_size=1, max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.lists(_SCALARS, min_size=1, max_size=6), st.booleans())
def test_yaml_loader_tags_scalars_as_the_safe_loader_does(values, quoted) -> None:
    def dumped(value: str) -> str:
        return json.dumps(value) if quoted else value

    lines = [f"k{i}: {dumped(v)}" for i, v in enumerate(values)] + ["list:"] + [f"  - {dumped(v)}" for v in values]
    text = "\n".join(lines) + "\n"

    def tags(loader_class) -> list[str] | str:
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            return type(exc).__name__
        finally:
            loader.dispose()
        out = [node.tag]
        for key, value in node.value:
            out += [key.tag, value.tag] + ([item.tag for item in value.value] if key.value == "list" else [])
        return out

    assert tags(YamlLoader) == tags(yaml.CSafeLoader)
