"""Whatever the bytes, parsing and loading end in a model plus diagnostics, never an exception."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import Diagnostic
from generator.load import load_site
from generator.model import Site
from generator.parse import Document, parse_document

KINDS = ("article", "actor", "page", "site")
PATHS = {"article": "content/articles/2025-01-01-x.md", "actor": "content/actors/x.yaml",
         "page": "content/pages/x.md", "site": "site.yaml"}

FRAGMENTS = [
    "---", "...", "\n", "\n", "\n", "  ", "    ", "\t", "\r\n", "\r", "\ufeff", "\u00a0", "\u2028", "\x85",
    "title:", "date:", "name:", "actors:", "proposals:", "questions:", "quotes:", "events:", "positions:",
    "id:", "status:", "stance:", "actor:", "text:", "slug:", "tags:", "source:", "url:", "raised_by:",
    "answer:", "draft:", "strict:", "timezone:", "base_url:", "affiliation:", "aliases:",
    "- ", "-", ": ", ":", "? ", "&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ",", "|", ">-", "#",
    '"', "'", "\\", "!!python/object:os.system", "!!binary", "!!set", "!x", "<<: ", "%YAML 1.1", "%TAG",
    "2025-08-22", "2025-02-30", "2025-08-22T10:00:00+03:00", "12:30", "1e999", "0x1F", "~", "null", "yes",
    "NO", "true", "mark-rutte", "Mark_Rutte", "../../etc/passwd", "javascript:alert(1)", "https://x.org/",
    "agreed", "supports", "answered", "open", "[[mark-rutte]]", "[[", "]]", "“", "”", "’", "—", "é", "Київ",
    "\U0001f600", "\x00", "\x07", "\udcff",
]

yamlish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map("".join)

scalars = st.one_of(
    st.text(max_size=20), st.sampled_from(["mark-rutte", "agreed", "supports", "answered", "open", "x"]),
    st.integers(-5, 3000), st.booleans(), st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["id", "name", "actor", "stance", "status", "title", "text", "date",
                                     "question", "answer", "quote", "actors", "positions", "x"]), inner, max_size=5),
), max_leaves=20)
ARTICLE_KEYS = ["title", "date", "updated", "slug", "draft", "summary", "source", "tags", "actors", "proposals",
                "questions", "quotes", "events", "name", "role", "affiliation", "aliases", "kind", "base_url",
                "timezone", "strict", "per_page", "unknown"]
structured = st.dictionaries(st.sampled_from(ARTICLE_KEYS), values, max_size=8).map(
    lambda d: yaml.safe_dump(d, allow_unicode=True))


def file_text(kind: str, front: str, body: str = "") -> str:
    return f"---\n{front}\n---\n{body}" if kind in ("article", "page") else front


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def assert_document(doc: Document, kind: str, path: str) -> None:
    assert isinstance(doc, Document)
    assert (doc.kind, doc.path) == (kind, path)
    assert isinstance(doc.data, dict)
    assert_diagnostics(doc.diagnostics)


def assert_diagnostics(diagnostics) -> None:
    for d in diagnostics:
        assert isinstance(d, Diagnostic)
        assert d.line >= 0 and d.column >= 0
        assert d.severity in ("error", "warning")
        assert d.message
        assert len(d.format().splitlines()) == 1, d.format()  # one problem, one line
        d.as_json()


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(KINDS), st.text(max_size=300))
def test_arbitrary_text(kind, text) -> None:
    assert_document(parse_document(kind, PATHS[kind], encode(text)), kind, PATHS[kind])


@SETTINGS
@given(st.sampled_from(KINDS), st.binary(max_size=300))
def test_arbitrary_bytes(kind, raw) -> None:
    assert_document(parse_document(kind, PATHS[kind], raw), kind, PATHS[kind])


@SETTINGS
@given(st.sampled_from(KINDS), yamlish, yamlish)
def test_yamlish_text(kind, front, body) -> None:
    for text in (front, file_text(kind, front, body)):
        assert_document(parse_document(kind, PATHS[kind], encode(text)), kind, PATHS[kind])


@SETTINGS
@given(st.sampled_from(KINDS), structured, yamlish)
def test_structured_front_matter_of_any_shape(kind, front, body) -> None:
    assert_document(parse_document(kind, PATHS[kind], encode(file_text(kind, front, body))), kind, PATHS[kind])


def any_front(kind: str):
    return st.one_of(yamlish, structured).map(lambda front: file_text(kind, front, "Body [[x]] “quote”."))


site_files = st.fixed_dictionaries({
    "site.yaml": st.one_of(st.just("title: T\n"), any_front("site")),
    "content/articles/2025-01-01-a.md": any_front("article"),
    "content/articles/2025-01-02-b.md": any_front("article"),
    "content/articles/2025-01-02-c.md": st.just("---\ntitle: C\ndate: 2025-01-02\nactors: [x]\n---\nx\n"),
    "content/actors/x.yaml": st.one_of(st.just("name: X\n"), any_front("actor")),
    "content/actors/mark-rutte.yaml": any_front("actor"),
    "content/pages/about.md": any_front("page"),
})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(site_files, st.booleans())
def test_whole_sites(files, drafts) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(encode(text))
        site, problems = load_site(root, drafts=drafts)
    assert isinstance(site, Site)
    assert_diagnostics(problems)
    paths = {p.path for p in problems}
    assert paths <= set(files), paths
