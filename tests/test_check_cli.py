"""`briefing check` and `briefing schema` as a user runs them: exit codes and exact output.

Most cases live in tests/fixtures/diagnostics/*.txt (one case per rule of FORMAT.md and per
error message); see `read_cases` for their shape.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SITE_YAML, write_site

from generator.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "diagnostics"


# --------------------------------------------------------------------------- fixture cases

@dataclass
class Case:
    """One site and what `briefing check` prints for it."""

    name: str
    source: str                                  # fixture file and line, for failure messages
    files: dict[str, bytes] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)
    args: list[str] = field(default_factory=lambda: ["check"])
    exit_code: int = 0
    expected: list[str] = field(default_factory=list)


def _file_bytes(lines: list[str], flags: set[str]) -> bytes:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    text = "\n".join(lines) + ("" if "no-eol" in flags or not lines else "\n")
    if "crlf" in flags:
        text = text.replace("\n", "\r\n")
    if "cr" in flags:
        text = text.replace("\n", "\r")
    if "bom" in flags:
        text = "\ufeff" + text
    data = text.encode("utf-8")
    if "bytes" in flags:  # \xNN writes one raw byte
        data = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), data)
    return data


def read_cases(path: Path) -> list[Case]:
    """Cases from a fixture file.

        === name of the case
        >>> content/articles/2025-01-01-x.md [crlf] [bom] [cr] [no-eol] [bytes] [absent]
        file text, up to the next marker line (trailing blank lines dropped)
        $ briefing check --strict        (optional; default `briefing check`)
        <<< exit 1
        expected output, line for line ({site} stands for the site folder)

    Every case gets `site.yaml` with SITE_YAML unless it writes its own or marks it [absent].
    Lines before the first `===` are comments.
    """
    cases: list[Case] = []
    case: Case | None = None
    target: list[str] | None = None
    file_lines: list[str] = []
    file_name, file_flags = "", set()

    def flush_file() -> None:
        nonlocal file_name
        if case is not None and file_name:
            if "absent" in file_flags:
                case.absent.add(file_name)
            else:
                case.files[file_name] = _file_bytes(file_lines, file_flags)
        file_name = ""

    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.startswith("=== "):
            flush_file()
            case = Case(line[4:].strip(), f"{path.name}:{number}")
            cases.append(case)
            target = None
        elif case is None:
            continue
        elif line.startswith(">>> "):
            flush_file()
            name, *flags = line[4:].split()
            file_name, file_flags, file_lines = name, {f.strip("[]") for f in flags}, []
            target = file_lines
        elif line.startswith("$ briefing "):
            flush_file()
            case.args = line[len("$ briefing "):].split()
            target = None
        elif line.startswith("<<< exit "):
            flush_file()
            case.exit_code = int(line[len("<<< exit "):])
            target = case.expected
        elif target is not None:
            target.append(line)
    flush_file()
    for case in cases:
        while case.expected and not case.expected[-1].strip():
            case.expected.pop()
    return cases


def all_cases() -> list:
    params = []
    for path in sorted(FIXTURES.glob("*.txt")):
        for case in read_cases(path):
            params.append(pytest.param(case, id=f"{path.stem}: {case.name}"))
    return params


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case", all_cases())
def test_diagnostic_fixture(case: Case, tmp_path: Path, capsys) -> None:
    site = tmp_path / "site"
    files = dict(case.files)
    if "site.yaml" not in files and "site.yaml" not in case.absent:
        files["site.yaml"] = SITE_YAML.encode()
    write_site(site, files, site_yaml=None)
    argv = case.args + ["--site", str(site)] if case.args[:1] == ["check"] else case.args
    code, out, err = run_cli(argv, capsys)
    output = (out + err).replace(str(site), "{site}").rstrip("\n").split("\n")
    assert output == case.expected, f"output of the case at {case.source}"
    assert code == case.exit_code, f"exit code of the case at {case.source}"


def test_fixture_files_hold_cases() -> None:
    cases = [c for p in FIXTURES.glob("*.txt") for c in read_cases(p)]
    assert len(cases) >= 80
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names are unique"
    for case in cases:
        assert case.expected, f"{case.source}: a case says what check prints"


# --------------------------------------------------------------------------- exit codes and shape

ARTICLE = "content/articles/2025-01-01-first.md"
CLEAN = {ARTICLE: "---\ntitle: First\ndate: 2025-01-01\n---\nText.\n"}


def test_clean_site_exits_0_with_a_summary(make_site, capsys) -> None:
    code, out, err = run_cli(["check", "--site", str(make_site(CLEAN))], capsys)
    assert (code, out, err) == (0, "ok: 1 articles, 0 actors, 0 proposals, 0 questions\n", "")


def test_content_errors_exit_1(make_site, capsys) -> None:
    site = make_site({ARTICLE: "---\ndate: 2025-01-01\n---\nText.\n"})
    code, out, _ = run_cli(["check", "--site", str(site)], capsys)
    assert code == 1
    assert out.splitlines()[-1] == "1 error, 0 warnings"


def test_warnings_alone_exit_0(make_site, capsys) -> None:
    site = make_site({ARTICLE: "---\ntitle: First\ndate: 2025-01-01\ntitel: x\n---\nText.\n"})
    code, out, _ = run_cli(["check", "--site", str(site)], capsys)
    assert code == 0
    assert out.splitlines()[-1] == "0 errors, 1 warning"


@pytest.mark.parametrize("argv", [
    ["check", "--no-such-flag"],
    ["check", "--format", "xml"],
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: briefing" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["biuld"], "briefing: error: unknown command 'biuld' (did you mean 'build'?); "
                "the commands: check, build, serve, publish, init, new, schema"),
    (["frobnicate"], "briefing: error: unknown command 'frobnicate'; the commands: check, build,"),
    (["build", "--base_url", "https://example.org/"],
     "briefing build: error: unrecognized arguments: --base_url https://example.org/ (did you mean '--base-url'?)"),
    (["build", "--output=x"], "briefing build: error: unrecognized arguments: --output=x (did you mean '--out'?)"),
    (["serve", "--prot", "8001"],
     "briefing serve: error: unrecognized arguments: --prot 8001 (did you mean '--port'?)"),
    (["check", "--bogus"], "briefing check: error: unrecognized arguments: --bogus\n"),
    (["build", "--bogus"], "briefing build: error: unrecognized arguments: --bogus\n"),   # not '--out'
    (["new", "article", "Title", "extra"], "briefing new article: error: unrecognized arguments: extra\n"),
    (["new", "actr", "Mark Rutte"], "briefing new: error: unknown kind 'actr' (did you mean 'actor'?); "
                                    "the kinds: article, actor, page\n"),
    (["new", "actor", "X", "--knd", "state"],
     "briefing new actor: error: unrecognized arguments: --knd state (did you mean '--kind'?)"),
])
def test_a_misspelt_command_or_option_is_answered_by_the_closest(argv, said, capsys) -> None:
    """An unknown option is reported by the command it was given to, with that command's usage;
    a misspelt command or option gets the closest real one, and nothing far off is suggested."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert said in err
    command = " ".join(word for word in argv[:2] if word in ("check", "build", "serve", "new", "article", "actor"))
    assert err.startswith(f"usage: briefing {command}".rstrip() + " ")


@pytest.mark.parametrize("command", ["build", "check", "serve", "publish"])
def test_a_site_folder_given_as_an_argument_is_answered_with_site(command, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my site").mkdir()
    with pytest.raises(SystemExit) as exc:
        main([command, "my site", *(["--to", "out"] if command == "publish" else [])])
    assert exc.value.code == 2
    assert f"briefing {command}: error: unrecognized arguments: my site (for the site in 'my site': " \
           "--site 'my site')\n" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([command, "no-such-folder"])
    assert "(for the site" not in capsys.readouterr().err   # not a folder: no such guess


def test_build_quiet_has_a_short_form(tmp_path, capsys) -> None:
    site = tmp_path / "site"
    assert main(["init", str(site)]) == 0
    capsys.readouterr()
    assert main(["build", "--site", str(site), "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_missing_site_folder_is_a_usage_error(tmp_path, capsys) -> None:
    code, out, err = run_cli(["check", "--site", str(tmp_path / "nowhere")], capsys)
    assert (code, out) == (2, "")
    assert err == f"briefing check: no site folder '{tmp_path / 'nowhere'}'\n"


def test_site_folder_without_site_yaml_exits_1(tmp_path, capsys) -> None:
    code, out, _ = run_cli(["check", "--site", str(tmp_path)], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith(f"site.yaml: error: no site.yaml in '{tmp_path}'")


def test_site_defaults_to_the_current_folder(make_site, capsys, monkeypatch) -> None:
    monkeypatch.chdir(make_site(CLEAN))
    code, out, _ = run_cli(["check"], capsys)
    assert (code, out) == (0, "ok: 1 articles, 0 actors, 0 proposals, 0 questions\n")


MESSY = {
    "content/actors/b-actor.yaml": "name: B\nkind: persn\n",
    "content/actors/a-actor.yaml": "name: A\nrole: [x]\n",
    "content/articles/2025-01-02-later.md":
        "---\ntitle: Later\ndate: 2025-01-02\nactors: [a-actr]\ntitel: x\n---\nSee [[nobody]].\n",
    "content/articles/2025-01-01-early.md":
        "---\ntitle: Early\ndate: 2025-01-01\nzzz: 1\nactors: [b-actr]\n"
        "quotes:\n  - actor: a-actor\n    text: not there\n---\nText.\n",
}


def test_output_is_sorted_by_file_and_line_then_counted(make_site, capsys) -> None:
    code, out, _ = run_cli(["check", "--site", str(make_site(MESSY))], capsys)
    assert code == 1
    assert out.splitlines() == [
        "content/actors/a-actor.yaml:2:1: error: 'role' must be text, not a list",
        "content/actors/b-actor.yaml:2:7: error: unknown actor kind 'persn' (did you mean 'person'?)",
        "content/articles/2025-01-01-early.md:4:1: warning: unknown key 'zzz' in article front matter",
        "content/articles/2025-01-01-early.md:5:10: error: unknown actor 'b-actr' (did you mean 'b-actor'?)",
        "content/articles/2025-01-01-early.md:8:11: warning: quote not found in the article's text: "
        "'not there' (quote the body word for word; typographic quotes, dashes and spaces may differ)",
        "content/articles/2025-01-02-later.md:4:10: error: unknown actor 'a-actr' (did you mean 'a-actor'?)",
        "content/articles/2025-01-02-later.md:5:1: warning: unknown key 'titel' in article front matter "
        "(did you mean 'title'?)",
        "content/articles/2025-01-02-later.md:7:5: error: unknown reference [[nobody]] "
        "([[id]] names an actor, proposal or question)",
        "5 errors, 3 warnings",
    ]


def test_json_format(make_site, capsys) -> None:
    code, out, err = run_cli(["check", "--format", "json", "--site", str(make_site(MESSY))], capsys)
    assert (code, err) == (1, "")
    report = json.loads(out)
    assert set(report) == {"ok", "errors", "warnings", "diagnostics"}
    assert (report["ok"], report["errors"], report["warnings"]) == (False, 5, 3)
    first = report["diagnostics"][0]
    assert first == {"path": "content/actors/a-actor.yaml", "line": 2, "column": 1, "severity": "error",
                     "message": "'role' must be text, not a list", "hint": ""}
    places = [(d["path"], d["line"], d["column"]) for d in report["diagnostics"]]
    assert places == sorted(places)
    for d in report["diagnostics"]:
        assert set(d) == {"path", "line", "column", "severity", "message", "hint"}
        assert d["severity"] in ("error", "warning")


def test_json_format_clean_and_strict(make_site, capsys) -> None:
    code, out, _ = run_cli(["check", "--format", "json", "--site", str(make_site(CLEAN))], capsys)
    assert code == 0
    assert json.loads(out) == {"ok": True, "errors": 0, "warnings": 0, "diagnostics": []}
    site = make_site({ARTICLE: "---\ntitle: First\ndate: 2025-01-01\ntitel: x\n---\nText.\n"})
    code, out, _ = run_cli(["check", "--strict", "--format", "json", "--site", str(site)], capsys)
    report = json.loads(out)
    assert (code, report["ok"], report["errors"], report["warnings"]) == (1, False, 1, 0)
    assert report["diagnostics"][0]["severity"] == "error"


def test_check_reads_through_the_parse_cache_to_the_same_report(make_site, capsys, monkeypatch) -> None:
    """`check` parses as a build does: a second run reuses every unchanged file's parse and says
    exactly what the first said; an edited file is parsed again and reported as it is now."""
    from generator import cache

    parsed: list[str] = []
    parse = cache._parse_source
    monkeypatch.setattr(cache, "_parse_source", lambda source: parsed.append(source.path) or parse(source))
    site = make_site(MESSY)
    first = run_cli(["check", "--site", str(site)], capsys)
    assert first[0] == 1 and len(parsed) == len(MESSY) + 1       # every file, site.yaml too
    parsed.clear()
    assert run_cli(["check", "--site", str(site)], capsys) == first
    assert parsed == []
    later = site / "content" / "articles" / "2025-01-02-later.md"
    later.write_text(later.read_text().replace("titel: x\n", ""))
    code, out, _ = run_cli(["check", "--site", str(site)], capsys)
    assert parsed == ["content/articles/2025-01-02-later.md"]
    assert "unknown key 'titel'" in first[1] and "unknown key 'titel'" not in out
    assert out.splitlines()[-1] == "5 errors, 2 warnings"


def test_every_file_is_checked_in_one_run(make_site, capsys) -> None:
    files = {f"content/articles/2025-01-{day:02d}-a{day}.md": "---\ntitle: [broken\n---\nText.\n"
             for day in range(1, 8)}
    files["content/actors/x.yaml"] = b"name: \xff\n"
    code, out, _ = run_cli(["check", "--site", str(make_site(files))], capsys)
    assert code == 1
    assert out.splitlines()[-1] == "8 errors, 0 warnings"


def test_big_file_is_refused_with_its_name(make_site, capsys) -> None:
    big = b"---\ntitle: Big\ndate: 2025-01-01\n---\n" + b"word " * (9 * 1024 * 1024 // 5)
    code, out, _ = run_cli(["check", "--site", str(make_site({ARTICLE: big}))], capsys)
    assert code == 1
    assert out.splitlines() == [
        f"{ARTICLE}: error: file is too large (9.0 MiB; the limit is 8 MiB) (split it, or move data out of it)",
        "1 error, 0 warnings",
    ]


def test_files_that_are_not_content_are_ignored(make_site, capsys) -> None:
    site = make_site({
        **CLEAN,
        "content/articles/.hidden.md": "not front matter",
        "content/articles/_partial.md": "not front matter",
        "content/articles/notes.txt": "not content",
        "content/actors/readme.md": "not an actor",
    })
    code, out, _ = run_cli(["check", "--site", str(site)], capsys)
    assert (code, out) == (0, "ok: 1 articles, 0 actors, 0 proposals, 0 questions\n")


def test_python_dash_m_generator(make_site) -> None:
    site = make_site(MESSY)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "generator", "check", "--site", str(site)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == "5 errors, 3 warnings"
    clean = subprocess.run([sys.executable, "-m", "generator", "check", "--site", str(make_site(CLEAN))],
                           capture_output=True, text=True, env=env, timeout=120)
    assert (clean.returncode, clean.stdout) == (0, "ok: 1 articles, 0 actors, 0 proposals, 0 questions\n")
    usage = subprocess.run([sys.executable, "-m", "generator", "check", "--bogus"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


# --------------------------------------------------------------------------- real sites

def copied(folders: list[Path], dest: Path) -> Path:
    """A copy of a site's files (check fills the parse cache of the site it reads: not the repository's)."""
    dest.mkdir()
    for path in folders:
        copy = shutil.copytree if path.is_dir() else shutil.copy
        copy(path, dest / path.name)
    return dest


def test_example_site_is_clean(capsys, tmp_path) -> None:
    site = copied([REPO / "site.yaml", REPO / "content"], tmp_path / "example")
    code, out, err = run_cli(["check", "--strict", "--site", str(site)], capsys)
    assert (code, err) == (0, "")
    assert re.fullmatch(r"ok: 1 articles, \d+ actors, \d+ proposals, \d+ questions\n", out), out


@pytest.mark.parametrize("name", ["history", "minimal"])
def test_test_sites_are_clean(name, capsys, tmp_path) -> None:
    source = REPO / "tests" / "sites" / name
    site = copied([source / "site.yaml", source / "content"], tmp_path / name)
    code, out, _ = run_cli(["check", "--strict", "--site", str(site)], capsys)
    assert code == 0, out
    assert out.startswith("ok: ")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A 1,000-article site from the shared benchmark generator, made once per session."""
    script = Path("/work/shared/bench/make_corpus.py")
    if not script.exists():  # pragma: no cover - the script lives beside the repository
        pytest.skip("make_corpus.py is not available")
    out = tmp_path_factory.mktemp("corpus") / "site"
    subprocess.run([sys.executable, str(script), str(out), "--articles", "1000"], check=True,
                   capture_output=True, timeout=300)
    return out


@pytest.mark.slow
def test_thousand_article_corpus_is_clean(corpus, capsys) -> None:
    code, out, _ = run_cli(["check", "--site", str(corpus)], capsys)
    assert code == 0, out[:2000]
    assert out.startswith("ok: 1000 articles, ")


@pytest.mark.slow
def test_one_broken_article_in_the_corpus_is_named(corpus, tmp_path, capsys) -> None:
    site = tmp_path / "site"
    shutil.copytree(corpus, site)
    victim = sorted((site / "content" / "articles").glob("*.md"))[500]
    victim.write_text(victim.read_text().replace("title:", "titel:", 1))
    code, out, _ = run_cli(["check", "--site", str(site)], capsys)
    relative = victim.relative_to(site).as_posix()
    assert code == 1
    assert out.splitlines() == [
        f"{relative}:2:1: error: missing required key 'title' in article front matter",
        f"{relative}:2:1: warning: unknown key 'titel' in article front matter (did you mean 'title'?)",
        "1 error, 1 warning",
    ]


# --------------------------------------------------------------------------- schema

def test_schema_prints_a_valid_json_schema(capsys) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    code, out, err = run_cli(["schema"], capsys)
    assert (code, err) == (0, "")
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]) >= {"article", "actor", "page", "site"}
