"""The front matter's declared shape: validation messages, and the JSON Schema editors use."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from generator import schema
from generator.cli import main
from generator.parse import split_front_matter

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parent.parent
SITES = [REPO, REPO / "tests" / "sites" / "history", REPO / "tests" / "sites" / "minimal"]


def check(record: schema.Type, value) -> tuple[object, list[str]]:
    ctx = schema.Context("f.md", lambda path: (1, 1))
    try:
        out = record.check(value, (), ctx)
    except schema.Invalid:
        out = None
    return out, [d.message + (f" ({d.hint})" if d.hint else "") for d in ctx.diagnostics]


def as_json(value):
    """YAML values as an editor's YAML 1.2 extension sees them: dates are strings."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def front_matter(path: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        text = split_front_matter(text)[0]
    return as_json(yaml.safe_load(text) or {})


@pytest.fixture(scope="module")
def printed_schema() -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    return json.loads(out.getvalue())


def validator(full: dict, kind: str):
    """A validator for one kind of file, as an editor mapping a glob to `#/$defs/<kind>` uses it."""
    return jsonschema.Draft202012Validator({"$defs": full["$defs"], "$ref": f"#/$defs/{kind}"})


def test_schema_is_valid_json_schema(printed_schema) -> None:
    jsonschema.Draft202012Validator.check_schema(printed_schema)
    assert printed_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(printed_schema["$defs"]) == {"article", "actor", "page", "site"}
    assert printed_schema == schema.json_schema()


@pytest.mark.parametrize("site", SITES, ids=lambda p: p.name)
def test_real_front_matter_validates(printed_schema, site) -> None:
    checked = 0
    for kind, pattern in [("article", "content/articles/*.md"), ("actor", "content/actors/*.yaml"),
                          ("page", "content/pages/*.md"), ("site", "site.yaml")]:
        v = validator(printed_schema, kind)
        for path in sorted(site.glob(pattern)):
            errors = [e.message for e in v.iter_errors(front_matter(path))]
            assert errors == [], f"{path.relative_to(site)}: {errors}"
            checked += 1
    assert checked >= 2


def test_the_top_level_schema_takes_articles_and_actor_files(printed_schema) -> None:
    v = jsonschema.Draft202012Validator(printed_schema)
    assert v.is_valid(front_matter(REPO / "tests/sites/history/content/articles/2024-03-04-accord-proposed.md"))
    assert v.is_valid(front_matter(REPO / "tests/sites/history/content/actors/mira-kovac.yaml"))
    assert not v.is_valid({"title": "T", "date": "2025-01-01", "status": "x"})


ARTICLE = {"title": "T", "date": "2025-01-01"}


@pytest.mark.parametrize("change", [
    {"title": None},
    {"proposals": [{"id": "p", "title": "P", "status": "agred"}]},
    {"proposals": [{"id": "p", "positions": [{"actor": "a", "stance": "suports"}]}]},
    {"questions": [{"id": "q", "confidence": "very"}]},
    {"actors": ["Mark_Rutte"]},
    {"actors": [{"id": "../../etc/passwd", "name": "x"}]},
    {"slug": "../x"},
    {"tags": ["Foo Bar"]},
    {"source": {"url": "javascript:alert(1)"}},
    {"source": ["a"]},
    {"tags": {"a": 1}},
    {"draft": "maybe"},
    {"titel": "typo"},
    {"events": [{"title": "no date"}]},
    {"quotes": [{"actor": "a"}]},
])
def test_schema_refuses_what_check_refuses(printed_schema, change) -> None:
    value = {**ARTICLE, **change}
    value = {k: v for k, v in value.items() if v is not None}
    assert not validator(printed_schema, "article").is_valid(value)
    _, problems = check(schema.ARTICLE, value)
    assert problems, f"check should refuse {change}"


def test_schema_accepts_the_short_forms(printed_schema) -> None:
    value = {**ARTICLE, "tags": "nato", "actors": ["mark-rutte", {"id": "ada-north", "name": "Ada"}],
             "proposals": [{"id": "p", "proposed_by": "mark-rutte"}],
             "questions": [{"id": "q", "raised_by": "mark-rutte", "status": "answered", "answer": "A"}],
             "date": "2025-01-01T10:00:00+02:00"}
    assert validator(printed_schema, "article").is_valid(value)
    assert check(schema.ARTICLE, value)[1] == []


def test_schema_describes_keys_for_editors(printed_schema) -> None:
    status = printed_schema["$defs"]["article"]["properties"]["proposals"]["items"]["properties"]["status"]
    assert status["enum"] == list(schema.STATUSES)
    assert "description" in status
    assert printed_schema["$defs"]["actor"]["required"] == ["name"]
    assert printed_schema["$defs"]["site"]["required"] == ["title"]


# --------------------------------------------------------------------------- validation messages

def test_record_reports_every_problem_and_keeps_good_values() -> None:
    out, problems = check(schema.QUOTE, {"actor": "Bad Id", "text": "Hi", "dat": "2025-01-01"})
    assert out == {"actor": None, "text": "Hi"}
    assert problems == [
        "invalid actor id 'Bad Id' (use lowercase letters, digits and single hyphens, like 'bad-id')",
        "unknown key 'dat' in quote (did you mean 'date'?)",
    ]


@pytest.mark.parametrize(("value", "example"), [
    ("Mark Rutte", "mark-rutte"), ("mark_rutte", "mark-rutte"), ("безпека", "bezpeka"),
    ("Sécurité", "securite"), ("Зеленський", "zelenskyi"),
    ("北京", "mark-rutte"),   # nothing to spell: the usual example
])
def test_an_invalid_id_is_answered_with_its_own_spelling_as_one(value, example) -> None:
    _, problems = check(schema.Id("tag"), value)
    assert problems == [f"invalid tag '{value}' (use lowercase letters, digits and single hyphens, like '{example}')"]


@pytest.mark.parametrize("value, message", [
    ([], "'x' must be text, not a list"),
    ({}, "'x' must be text, not a mapping"),
    (True, "'x' must be text, not true/false"),
    (dt.date(2025, 1, 1), "'x' must be text, not a date"),
])
def test_text_type_names_what_it_got(value, message) -> None:
    out, problems = check(schema.Record({"x": schema.Field(schema.Text())}), {"x": value})
    assert problems == [message]


def test_text_takes_numbers_and_strips() -> None:
    assert check(schema.Text(), 1984) == ("1984", [])
    assert check(schema.Text(), "  padded \n") == ("padded", [])


@pytest.mark.parametrize("value, ok", [
    ("mark-rutte", True), ("a", True), ("a1-b2", True), ("2025", True),
    ("Mark-Rutte", False), ("mark_rutte", False), ("-a", False), ("a-", False), ("a--b", False),
    ("../../etc/passwd", False), ("a/b", False), ("", False), ("a b", False), ("ä", False), ("a\n", False),
])
def test_id_pattern(value, ok) -> None:
    assert (check(schema.Id(), value)[1] == []) is ok


def test_enum_hint_is_the_closest_value_or_the_list() -> None:
    kinds = schema.Enum(schema.ACTOR_KINDS, "actor kind")
    assert check(kinds, "organisation")[1] == ["unknown actor kind 'organisation' (did you mean 'organization'?)"]
    assert check(kinds, "thing")[1] == ["unknown actor kind 'thing' (one of person, organization, state)"]


@pytest.mark.parametrize("value, expected", [
    ("2025-08-22", dt.date(2025, 8, 22)),
    ("2025-08-22T14:30:00+03:00", dt.datetime(2025, 8, 22, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
    ("2025-08-22 14:30", dt.datetime(2025, 8, 22, 14, 30)),
    (dt.date(2025, 8, 22), dt.date(2025, 8, 22)),
])
def test_dates(value, expected) -> None:
    assert check(schema.Date(), value) == (expected, [])


def test_list_single_form_and_bad_items() -> None:
    ids = schema.ListOf(schema.Id("actor id"), single=True)
    assert check(ids, "a") == (("a",), [])
    assert check(ids, None) == ((), [])
    out, problems = check(ids, ["a", "B", "c"])
    assert out == ("a", "c") and len(problems) == 1
    assert check(schema.ListOf(schema.Id()), "a")[1] == ["'front matter' must be a list, not text"]


def test_answered_question_needs_an_answer() -> None:
    _, problems = check(schema.QUESTION, {"id": "q", "status": "answered"})
    assert problems == ["an answered question needs an 'answer' "
                        "(add answer: with what was learned, or set status: open)"]
    assert check(schema.QUESTION, {"id": "q", "status": "answered", "answer": "A"})[1] == []


@pytest.mark.parametrize("url, ok", [
    ("https://kyivindependent.com/", True), ("http://example.org/a?b=c#d", True), ("HTTPS://EXAMPLE.ORG", True),
    ("javascript:alert(1)", False), ("ftp://x.org/", False), ("//example.org/", False), ("/relative", False),
    ("https://", False), ("https://x.org/\"onmouseover=", False), ("https://x.org/<script>", False),
    ("data:text/html,hi", False),
])
def test_urls(url, ok) -> None:
    assert (check(schema.Url(), url)[1] == []) is ok


def test_schema_for_one_kind_validates_that_kind_alone(capsys) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema", "--kind", "actor"]) == 0
    actor_schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(actor_schema)
    validator = jsonschema.Draft202012Validator(actor_schema)
    assert not list(validator.iter_errors({"name": "Mark Rutte", "kind": "person", "aliases": ["Rutte"]}))
    assert list(validator.iter_errors({"kind": "person"}))            # name is required
    assert list(validator.iter_errors({"name": "X", "kind": "persn"}))
