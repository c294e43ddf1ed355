"""`briefing build`, the engine and the writer, on real sites in tmp folders."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from generator import sources as sources_module
from generator.cli import main
from generator.engine import Engine
from generator.errors import ContentError
from generator.scaffold import slugify
from generator.sources import digest, read_sources
from generator.write import (
    MANIFEST,
    STAGING,
    Staged,
    Staging,
    file_hash,
    read_manifest,
    safe_output_path,
    write_output,
)

REPO = Path(__file__).resolve().parent.parent
SITES = REPO / "tests" / "sites"


def copy_site(name: str, dest: Path) -> Path:
    """A writable copy of a test site (or of the example site for 'example')."""
    target = dest / name
    if name == "example":
        target.mkdir()
        shutil.copy(REPO / "site.yaml", target / "site.yaml")
        shutil.copytree(REPO / "content", target / "content")
    else:
        shutil.copytree(SITES / name, target)
    return target


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


# --------------------------------------------------------------------------- writer

def test_write_output_writes_then_leaves_unchanged_files_alone(tmp_path):
    out = tmp_path / "out"
    first = write_output(out, {"a/index.html": b"one", "b.txt": b"two"})
    assert sorted(first.written) == ["a/index.html", "b.txt"]
    stamp = (out / "b.txt").stat().st_mtime_ns
    os.utime(out / "b.txt", ns=(stamp - 10**9, stamp - 10**9))
    second = write_output(out, {"a/index.html": b"changed", "b.txt": b"two"})
    assert second.written == ("a/index.html",)
    assert (out / "b.txt").stat().st_mtime_ns == stamp - 10**9  # not rewritten
    assert (out / "a/index.html").read_bytes() == b"changed"


def test_write_output_removes_only_what_earlier_builds_wrote(tmp_path):
    out = tmp_path / "out"
    write_output(out, {"old/index.html": b"x", "keep.html": b"k"})
    (out / "CNAME").write_text("mine")            # a file the user put there
    (out / "old" / "notes.txt").write_text("mine")
    report = write_output(out, {"keep.html": b"k"})
    assert report.removed == ("old/index.html",)
    assert (out / "CNAME").read_text() == "mine"
    assert (out / "old" / "notes.txt").read_text() == "mine"
    assert set(read_manifest(out)) == {"keep.html"}


def test_write_output_removes_emptied_folders(tmp_path):
    out = tmp_path / "out"
    write_output(out, {"briefings/x/index.html": b"x"})
    write_output(out, {"index.html": b"home"})
    assert not (out / "briefings").exists()


@pytest.mark.parametrize("bad", ["../escape.html", "/etc/passwd", "a/../../b", "a\\b", "", "a//b", "./a"])
def test_writer_refuses_paths_outside_the_output(tmp_path, bad):
    with pytest.raises(ContentError):
        safe_output_path(tmp_path, bad)


def test_a_tampered_manifest_cannot_delete_outside(tmp_path):
    out = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    write_output(out, {"a.html": b"a"})
    (out / MANIFEST).write_text('{"files": {"../victim.txt": "x", "a.html": "y"}}')
    write_output(out, {"a.html": b"a"})
    assert victim.read_text() == "precious"


# --------------------------------------------------------------------------- build command

def test_build_example_site(tmp_path, capsys):
    site = copy_site("example", tmp_path)
    assert main(["build", "--site", str(site)]) == 0
    out = site / "_site"
    assert (out / "index.html").is_file()
    assert (out / "briefings" / "rutte-in-kyiv" / "index.html").is_file()
    assert (out / "actors" / "mark-rutte" / "index.html").is_file()
    assert (out / "404.html").is_file()
    assert (out / "feed.xml").is_file() and (out / "sitemap.xml").is_file()
    line = capsys.readouterr().out
    assert line.startswith("built ") and "-> " in line


def test_build_is_deterministic(tmp_path):
    site = copy_site("history", tmp_path)
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "one"), "--quiet"]) == 0
    shutil.rmtree(site / ".briefing-cache", ignore_errors=True)
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "two"), "--quiet"]) == 0
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_failed_build_leaves_previous_output_untouched(tmp_path, capsys):
    site = copy_site("history", tmp_path)
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    before = tree(out)
    article = next((site / "content" / "articles").glob("*.md"))
    article.write_text(article.read_text().replace("title:", "title: [broken", 1))
    assert main(["build", "--site", str(site), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and article.name in err
    assert tree(out) == before


def test_template_error_fails_the_build_naming_the_template(tmp_path, capsys):
    site = copy_site("minimal", tmp_path)
    (site / "templates").mkdir(exist_ok=True)
    (site / "templates" / "404.html").write_text(
        '{% extends "base.html" %}\n{% block main %}\n{{ no_such_name }}\n{% endblock %}\n')
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "templates/404.html:3" in err and "no_such_name" in err
    assert not (tmp_path / "out").exists()


def test_pages_rendered_before_a_template_error_never_reach_the_output(tmp_path, capsys):
    """Pages are staged as they render; a failure discards them and the output is as it was."""
    site = copy_site("history", tmp_path)
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    assert not (out / STAGING).exists()
    before = tree(out)
    (site / "templates").mkdir(exist_ok=True)
    # the home and every briefing change and render fine; the last kind of page fails
    (site / "templates" / "base.html").write_text(
        (REPO / "templates" / "base.html").read_text().replace("</body>", "<!-- changed --></body>"))
    (site / "templates" / "404.html").write_text('{% extends "base.html" %}{% block main %}{{ nope }}{% endblock %}')
    assert main(["build", "--site", str(site), "--out", str(out)]) == 1
    assert "templates/404.html" in capsys.readouterr().err
    assert tree(out) == before and not (out / STAGING).exists()


def test_staging_writes_only_changed_files_and_discard_leaves_no_trace(tmp_path):
    out = tmp_path / "out"
    write_output(out, {"a.html": b"one", "b.html": b"two"})
    staging = Staging(out).open()
    assert staging.stage("a.html", b"one") == Staged(file_hash(b"one"), False)   # the output holds it already
    assert staging.stage("b.html", b"TWO").written
    report = write_output(out, {}, staged={"a.html": staging.stage("a.html", b"one"),
                                           "b.html": staging.stage("b.html", b"TWO")}, staging=staging)
    assert report.written == ("b.html",) and tree(out) == {"a.html": b"one", "b.html": b"TWO"}
    assert not (out / STAGING).exists()
    fresh = Staging(tmp_path / "new").open()
    fresh.stage("x.html", b"x")
    fresh.discard()
    assert not (tmp_path / "new").exists(), "a folder the failed build made is removed again"
    kept = Staging(out).open()
    kept.discard()
    assert tree(out) == {"a.html": b"one", "b.html": b"TWO"}


def test_a_missing_or_empty_output_folder_gets_its_pages_in_place(tmp_path):
    """Nothing to keep: pages go straight where they belong, and a failed build empties the folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    staging = Staging(empty).open()
    assert staging.direct and not (empty / STAGING).exists()
    staged = {"briefings/a/index.html": staging.stage("briefings/a/index.html", b"A")}
    assert tree(empty) == {"briefings/a/index.html": b"A"}         # in place at once, no staging folder
    report = write_output(empty, {"feed.xml": b"F"}, staged=staged, staging=staging)
    assert report.written == ("briefings/a/index.html", "feed.xml")
    assert read_manifest(empty) == {"briefings/a/index.html": file_hash(b"A"), "feed.xml": file_hash(b"F")}
    assert (empty / "briefings/a/index.html").stat().st_mode & 0o777 == 0o644

    failed = tmp_path / "failed"
    failed.mkdir()
    staging = Staging(failed).open()
    staging.stage("briefings/a/index.html", b"A")
    staging.stage("index.html", b"I")
    staging.discard()
    assert failed.is_dir() and not any(failed.iterdir()), "the folder is as empty as it was"

    elsewhere = Staging(tmp_path / "first").open()           # the output folder moved meanwhile
    staged = {"a/index.html": elsewhere.stage("a/index.html", b"A")}
    write_output(tmp_path / "second", {}, staged=staged, staging=elsewhere)
    assert tree(tmp_path / "second") == {"a/index.html": b"A"}
    assert not Staging(empty).open().direct                   # a folder with a site in it is staged


def test_drafts_are_left_out_unless_asked(tmp_path):
    site = copy_site("history", tmp_path)
    drafts = [p for p in (site / "content" / "articles").glob("*.md") if "draft: true" in p.read_text()]
    assert drafts, "the history site has a draft"
    engine = Engine(site)
    result = engine.build()
    assert result.ok
    with_drafts = Engine(site, drafts=True)
    assert with_drafts.build().ok
    draft_slugs = {a.slug for a in with_drafts.site.articles if a.draft}
    assert draft_slugs
    for slug in draft_slugs:
        assert f"briefings/{slug}/index.html" not in result.files
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "d"), "--drafts", "--quiet"]) == 0
    for slug in draft_slugs:
        page = (tmp_path / "d" / "briefings" / slug / "index.html").read_text()
        assert "DRAFT" in page.upper()


def test_an_output_that_cannot_be_a_folder_is_a_usage_error_not_a_traceback(tmp_path, capsys):
    site = copy_site("minimal", tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "a-file")]) == 2
    assert capsys.readouterr().err.strip().endswith("a-file': Not a directory")
    assert (tmp_path / "a-file").read_text() == "not a folder"


@pytest.mark.parametrize("out", [".", "content", "content/x", "templates", "static/out", ".."])
def test_unsafe_output_folders_are_refused(tmp_path, capsys, out):
    site = copy_site("minimal", tmp_path)
    code = main(["build", "--site", str(site), "--out", str(site / out)])
    assert code == 2
    assert "output folder" in capsys.readouterr().err


def test_unsafe_output_in_site_yaml_is_a_content_error(tmp_path, capsys):
    site = copy_site("minimal", tmp_path)
    with open(site / "site.yaml", "a") as fh:
        fh.write("output: content\n")
    assert main(["build", "--site", str(site)]) == 1
    assert "site.yaml" in capsys.readouterr().err
    assert not (site / "content" / "index.html").exists()


def test_base_url_subpath_prefixes_every_link(tmp_path):
    site = copy_site("history", tmp_path)
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "o"), "--quiet",
                 "--base-url", "https://example.org/deep/path/"]) == 0
    home = (tmp_path / "o" / "index.html").read_text()
    assert 'href="/deep/path/briefings/' in home
    assert 'href="/briefings/' not in home


def test_bad_base_url_is_a_usage_error(tmp_path, capsys):
    site = copy_site("minimal", tmp_path)
    assert main(["build", "--site", str(site), "--base-url", "ftp://x"]) == 2


def test_init_writes_a_site_that_builds(tmp_path, capsys):
    folder = tmp_path / "new"
    assert main(["init", str(folder)]) == 0
    assert main(["check", "--site", str(folder)]) == 0
    assert "0 errors" not in capsys.readouterr().out  # clean sites print the ok line only
    assert main(["build", "--site", str(folder), "--quiet"]) == 0
    assert (folder / "_site" / "index.html").is_file()
    assert (folder / ".gitignore").read_text().split() == ["_site/", ".briefing-cache/"]
    assert (folder / ".briefing-cache").is_dir()   # what the .gitignore is for
    assert main(["init", str(folder)]) == 2  # not empty


def test_new_article_writes_a_dated_draft(tmp_path):
    folder = tmp_path / "new"
    main(["init", str(folder)])
    assert main(["new", "article", "Talks resume: day 2", "--site", str(folder), "--date", "2025-09-01"]) == 0
    path = folder / "content" / "articles" / "2025-09-01-talks-resume-day-2.md"
    assert "draft: true" in path.read_text()
    assert main(["check", "--site", str(folder)]) == 0
    assert main(["new", "article", "Talks resume: day 2", "--site", str(folder), "--date", "2025-09-01"]) == 2


@pytest.mark.parametrize(("title", "slug"), [
    ("Talks resume: day 2", "talks-resume-day-2"),
    # Ukrainian by the national system (the examples of its table)
    ("Київ", "kyiv"), ("Харків", "kharkiv"), ("Згорани", "zghorany"), ("Знам'янка", "znamianka"),
    ("Єнакієве", "yenakiieve"), ("Їжакевич", "yizhakevych"), ("Олексій", "oleksii"), ("Юрій", "yurii"),
    ("Яготин", "yahotyn"), ("Переговори в Києві", "perehovory-v-kyievi"), ("подвір’я", "podviria"),
    # Russian, known by ы, э, ё or ъ
    ("Переговоры в Москве", "peregovory-v-moskve"), ("Объём поставок", "obyom-postavok"),
    # accents dropped; letters Unicode does not decompose spelt out
    ("Talks / resume: in Genève?", "talks-resume-in-geneve"), ("Zürich: Gespräche", "zurich-gesprache"),
    ("Łódź — Straße", "lodz-strasse"),
    # nothing a file name can keep
    ("北京会谈", "article"), ("?!", "article"),
])
def test_new_article_file_names_transliterate_the_title(title, slug):
    assert slugify(title) == slug


def test_new_article_with_a_ukrainian_title_is_a_valid_slug(tmp_path):
    folder = tmp_path / "new"
    main(["init", str(folder)])
    assert main(["new", "article", "Зустріч у Женеві", "--site", str(folder), "--date", "2025-09-01"]) == 0
    assert main(["new", "article", "Переговори в Києві", "--site", str(folder), "--date", "2025-09-01"]) == 0
    written = sorted(p.name for p in (folder / "content" / "articles").glob("2025-09-01-*.md"))
    assert written == ["2025-09-01-perehovory-v-kyievi.md", "2025-09-01-zustrich-u-zhenevi.md"]
    assert main(["check", "--site", str(folder)]) == 0


def test_new_article_titles_read_back_as_written(tmp_path):
    folder = tmp_path / "new"
    main(["init", str(folder)])
    title = 'Talks: "day 2" # of 3 \\ in Genève'
    assert main(["new", "article", title, "--site", str(folder), "--date", "2025-09-01"]) == 0
    assert main(["build", "--site", str(folder), "--drafts", "--quiet"]) == 0
    page = (folder / "_site" / "briefings" / "talks-day-2-of-3-in-geneve" / "index.html").read_text()
    assert "<h1>Talks: &#34;day 2&#34; # of 3 \\ in Genève</h1>" in page


def test_new_actor_writes_a_registry_file_articles_can_name(tmp_path, capsys):
    folder = tmp_path / "new"
    main(["init", str(folder)])
    capsys.readouterr()
    assert main(["new", "actor", "Mark Rutte", "--site", str(folder)]) == 0
    assert "articles name the actor as mark-rutte" in capsys.readouterr().out
    assert main(["new", "actor", "Володимир Зеленський", "--site", str(folder)]) == 0
    assert main(["new", "actor", "NATO", "--kind", "organization", "--id", "nato", "--site", str(folder)]) == 0
    actors = folder / "content" / "actors"
    assert (actors / "mark-rutte.yaml").read_text().startswith('name: "Mark Rutte"\nkind: person\n# ')
    assert (actors / "volodymyr-zelenskyi.yaml").read_text().startswith('name: "Володимир Зеленський"\n')
    assert "kind: organization" in (actors / "nato.yaml").read_text()
    article = next((folder / "content" / "articles").glob("*.md"))
    named = article.read_text().replace("  - ada-example\n", "  - ada-example\n  - mark-rutte\n  - nato\n", 1)
    article.write_text(named)
    assert main(["check", "--strict", "--site", str(folder)]) == 0     # the commented keys are no keys
    assert main(["build", "--site", str(folder), "--quiet"]) == 0
    assert "Mark Rutte" in (folder / "_site" / "actors" / "mark-rutte" / "index.html").read_text()


@pytest.mark.parametrize(("argv", "said"), [
    (["Mark Rutte"], "'{folder}/content/actors/mark-rutte.yaml' already exists"),
    (["X", "--kind", "persn"],
     "unknown actor kind 'persn' (did you mean 'person'? one of person, organization, state)"),
    (["Y", "--id", "../evil"],
     "invalid actor id '../evil' (use lowercase letters, digits and single hyphens, like 'evil')"),
    (["!!!"], "no id can be made from the name '!!!': give one with --id"),
])
def test_new_actor_refuses_with_the_reason(tmp_path, capsys, argv, said):
    folder = tmp_path / "new"
    main(["init", str(folder)])
    main(["new", "actor", "Mark Rutte", "--site", str(folder)])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    capsys.readouterr()
    assert main(["new", "actor", *argv, "--site", str(folder)]) == 2
    assert capsys.readouterr().err == f"briefing new: {said.format(folder=folder)}\n"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_new_page_writes_a_plain_page_the_site_links(tmp_path, capsys):
    folder = tmp_path / "new"
    main(["init", str(folder)])
    assert main(["new", "page", 'Methodology: how we "verify" quotes', "--site", str(folder)]) == 0
    path = folder / "content" / "pages" / "methodology-how-we-verify-quotes.md"
    assert path.read_text().startswith('---\ntitle: "Methodology: how we \\"verify\\" quotes"\n---\n')
    assert main(["build", "--site", str(folder), "--quiet"]) == 0
    page = (folder / "_site" / "methodology-how-we-verify-quotes" / "index.html").read_text()
    assert "Methodology: how we &#34;verify&#34; quotes" in page
    assert 'href="/methodology-how-we-verify-quotes/"' in (folder / "_site" / "index.html").read_text()
    capsys.readouterr()
    assert main(["new", "page", "Actors", "--site", str(folder)]) == 2
    assert capsys.readouterr().err == ("briefing new: the page would be served at /actors/, the site's own "
                                       "actors section: choose another title\n")
    assert not (folder / "content" / "pages" / "actors.md").exists()
    assert main(["new", "page", 'Methodology: how we "verify" quotes', "--site", str(folder)]) == 2


# --------------------------------------------------------------------------- incremental engine

def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_incremental_update_matches_a_cold_build(tmp_path):
    site = copy_site("history", tmp_path)
    engine = Engine(site, use_cache=False)
    assert engine.build().ok
    articles = sorted((site / "content" / "articles").glob("*.md"))
    edit(articles[0], "\n---\n", "\n---\nAn added opening line.\n\n")
    result = engine.update([articles[0]])
    assert result.ok
    assert 0 < result.rendered < len([p for p in result.files if p.endswith(".html")])
    cold = Engine(site, use_cache=False).build()
    assert dict(result.files) == dict(cold.files)


def test_update_after_delete_removes_the_page(tmp_path):
    site = copy_site("history", tmp_path)
    engine = Engine(site, use_cache=False)
    first = engine.build()
    articles = sorted((site / "content" / "articles").glob("*.md"))
    victim = articles[-2]
    slug_pages = {p for p in first.files if p.startswith("briefings/")}
    victim.unlink()
    result = engine.update([victim])
    assert result.ok
    assert result.removed and all(p in slug_pages for p in result.removed if p.startswith("briefings/"))
    assert dict(result.files) == dict(Engine(site, use_cache=False).build().files)


def test_update_with_an_error_keeps_the_last_good_files(tmp_path):
    site = copy_site("history", tmp_path)
    engine = Engine(site, use_cache=False)
    good = engine.build()
    article = sorted((site / "content" / "articles").glob("*.md"))[0]
    edit(article, "date:", "date: [")
    broken = engine.update([article])
    assert not broken.ok and broken.files == good.files
    assert any(d.path.endswith(article.name) for d in broken.diagnostics)


def test_cache_is_used_and_invalidated_by_content(tmp_path):
    site = copy_site("history", tmp_path)
    first = Engine(site).build()
    assert (site / ".briefing-cache").is_dir()
    again = Engine(site).build()
    assert dict(again.files) == dict(first.files)
    article = sorted((site / "content" / "articles").glob("*.md"))[0]
    edit(article, "title:", "title: Changed —")
    changed = Engine(site).build()
    assert changed.files != first.files


def test_the_parse_cache_is_stamped_with_every_module_that_shapes_a_document():
    """An upgrade that changes how files are read must not reuse documents read the old way."""
    import ast

    from generator import cache, parse
    here = Path(parse.__file__).parent
    not_shaping = {"errors.py", "sources.py"}   # (the Diagnostic type; the file's digest)
    shaping, todo = {"parse.py"}, ["parse.py"]
    while todo:   # every module parse.py imports, and each of theirs (schema.py's slugs.py, ...)
        tree = ast.parse((here / todo.pop()).read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for name in [f"{node.module}.py"] if node.module else [f"{a.name}.py" for a in node.names]:
                    if name not in shaping | not_shaping and (here / name).exists():
                        shaping.add(name)
                        todo.append(name)
    assert {"yamlfast.py", "slugs.py"} <= shaping
    stamp = cache._code_version()
    assert all(f"'{name}'" in stamp for name in shaping), (shaping, stamp)


def test_a_first_build_compiles_the_templates_in_a_child_while_it_resolves(tmp_path, monkeypatch):
    """The render workers then load the templates from the bytecode cache instead of each
    compiling them; a small build, one without forked workers or without a cache, and a
    rebuild have no such child."""
    from generator import engine as engine_module
    from generator import render as render_module
    from generator.render import compile_templates, make_environment
    calls = tmp_path / "calls"

    def compiling(site_dir, bytecode_dir):
        with open(calls, "a") as fh:
            fh.write(f"{os.getpid()} {bytecode_dir}\n")
        compile_templates(site_dir, bytecode_dir)

    monkeypatch.setattr(render_module, "compile_templates", compiling)   # (the engine imports it when it builds)
    site = copy_site("history", tmp_path)
    Engine(site).build()   # too few articles to fork render workers: the build compiles what it uses
    assert not calls.exists()
    monkeypatch.setattr(engine_module, "MIN_ITEMS", 1)
    shutil.rmtree(site / ".briefing-cache")
    engine = Engine(site)
    cold = engine.build()
    (pid, folder), = (line.split() for line in calls.read_text().splitlines())
    assert int(pid) != os.getpid() and Path(folder) == site / ".briefing-cache" / "templates"
    with pytest.raises(ChildProcessError):
        # the child was waited for (before the render workers start); asked by its pid, as an
        # earlier test's process may still be this one's child
        os.waitpid(int(pid), os.WNOHANG)
    loading = make_environment(site, auto_reload=False, bytecode_dir=Path(folder))
    monkeypatch.setattr(loading, "compile", lambda *a, **k: pytest.fail("compiled again"))
    for name in loading.list_templates():
        loading.get_template(name)
    engine.update([site / "site.yaml"])   # a rebuild: the templates are compiled
    Engine(site, parallel=False).build()
    Engine(site, use_cache=False).build()
    assert len(calls.read_text().splitlines()) == 1
    assert dict(Engine(site, use_cache=False, parallel=False).build().files) == dict(cold.files)


def test_a_template_that_does_not_compile_is_reported_by_the_build_not_its_compiling_child(tmp_path, monkeypatch):
    from generator import engine as engine_module
    monkeypatch.setattr(engine_module, "MIN_ITEMS", 1)
    site = copy_site("history", tmp_path)
    (site / "templates").mkdir(exist_ok=True)
    (site / "templates" / "404.html").write_text('{% extends "base.html" %}\n{% block main %}{% if %}{% endblock %}')
    result = Engine(site).build()
    assert not result.ok
    (problem,) = result.diagnostics
    assert problem.path.endswith("404.html") and problem.line == 2


def test_the_stat_cache_reads_only_the_files_whose_stamp_changed(tmp_path, monkeypatch):
    """read_sources(stat_cache=True): a file whose size, times and inode are as recorded is not
    read again, its recorded digest stands; edited, added and deleted files are seen."""
    monkeypatch.setattr(sources_module, "RACY_NS", 0)   # written just now, yet trusted (see below)
    site = copy_site("history", tmp_path)
    first = read_sources(site, stat_cache=True)
    assert all(s.content is not None for s in first)
    again = {s.path: s for s in read_sources(site, stat_cache=True)}
    assert all(s.content is None for s in again.values())
    assert {p: s.digest for p, s in again.items()} == {s.path: s.digest for s in first}
    assert all(again[s.path].raw == s.content for s in first)   # read when asked for
    articles = sorted((site / "content" / "articles").glob("*.md"))
    edit(articles[0], "title:", "title: Changed —")
    articles[1].unlink()
    (site / "content" / "articles" / "2030-01-01-new.md").write_text(articles[2].read_text())
    later = {s.path: s for s in read_sources(site, stat_cache=True)}
    read = sorted(p for p, s in later.items() if s.content is not None)
    assert read == sorted(["content/articles/2030-01-01-new.md", articles[0].relative_to(site).as_posix()])
    assert articles[1].relative_to(site).as_posix() not in later
    assert later == {s.path: s for s in read_sources(site)} | {p: later[p] for p in later if p not in read}


def test_the_stat_cache_keeps_only_digests_made_the_current_way(tmp_path, monkeypatch):
    """Digests recorded by a version that digested otherwise would never match the parse cache's
    again (so every build would parse everything): such a stats file counts as none."""
    monkeypatch.setattr(sources_module, "RACY_NS", 0)
    site = copy_site("history", tmp_path)
    read_sources(site, stat_cache=True)
    assert all(s.content is None for s in read_sources(site, stat_cache=True))
    recorded = sources_module.pickles.load(site, sources_module.STATS_FILE)
    assert recorded[0] == sources_module.DIGEST
    for stale in (recorded[1], ("blake2b/128", recorded[1])):   # an older version's, another digest's
        sources_module.pickles.dump(site, sources_module.STATS_FILE, stale)
        sources = read_sources(site, stat_cache=True)
        assert all(s.content is not None for s in sources)
        assert all(s.digest == digest(s.content) for s in sources)


def test_a_file_changed_within_its_clock_tick_is_not_missed(tmp_path, monkeypatch):
    """Two writes in one tick of the file system's clock, of the same size, leave the same stamp:
    a digest is trusted only for a file whose times were older than RACY_NS when it was read."""
    site = copy_site("history", tmp_path)
    article = sorted((site / "content" / "articles").glob("*.md"))[0]
    real_stat = os.stat

    def frozen_stat(path, *args, **kwargs):   # the clock has not ticked since the first write
        info = real_stat(path, *args, **kwargs)
        if Path(path) != article:
            return info
        return SimpleNamespace(st_size=info.st_size, st_mtime_ns=stamp, st_ctime_ns=stamp, st_ino=1, st_dev=2)

    stamp = time.time_ns()
    monkeypatch.setattr(sources_module.os, "stat", frozen_stat)
    before = {s.path: s.digest for s in read_sources(site, stat_cache=True)}
    text = article.read_text()
    article.write_text(text[:-2] + ("x" if text[-2] != "x" else "y") + "\n")   # the same size
    after = {s.path: s.digest for s in read_sources(site, stat_cache=True)}
    key = article.relative_to(site).as_posix()
    assert after[key] != before[key]


NOTHING_TO_DO = """
import sys
from generator.cli import main
code = main(["build", "--site", sys.argv[1]])
heavy = ("yaml._yaml", "markdown_it", "jinja2", "multiprocessing",
         "generator.model", "generator.parse", "generator.engine")
print(code, [name for name in heavy if name in sys.modules])
"""


def test_a_rebuild_with_nothing_changed_imports_no_parser_markdown_or_jinja(tmp_path):
    """Most of such a rebuild would be importing them (0.21 s of 0.22 s at 1,000 articles): it
    reads the sources' stats, site.yaml's `output` and the manifest, and stops."""
    import subprocess
    import sys
    site = copy_site("history", tmp_path)
    assert main(["build", "--site", str(site), "--quiet"]) == 0   # into site.yaml's output: _site
    run = subprocess.run([sys.executable, "-c", NOTHING_TO_DO, str(site)], capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert run.stdout.startswith("nothing changed") and run.stdout.splitlines()[-1] == "0 ['yaml._yaml']"


@pytest.mark.parametrize("text, output", [("output: public\n", "public"), ("output: [public\n", "_site"),
                                          ("output: 3\n", "_site"), ("- a list\n", "_site"), ("", "_site")])
def test_the_freshness_check_reads_the_output_folder_from_site_yaml_or_assumes_site(tmp_path, text, output):
    from generator.cli import configured_output
    (tmp_path / "site.yaml").write_text("title: T\n" + text if text.startswith("output") else text)
    assert configured_output(tmp_path) == output
    assert configured_output(tmp_path / "missing") == "_site"


def test_a_rebuild_with_nothing_changed_stops_early(tmp_path, capsys):
    site = copy_site("history", tmp_path)
    out = tmp_path / "out"
    args = ["build", "--site", str(site), "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("nothing changed")
    (out / "index.html").unlink()                       # a file the build wrote went missing
    assert main(args) == 0
    assert "1 written" in capsys.readouterr().out
    (site / "templates").mkdir(exist_ok=True)           # a template override appears
    (site / "templates" / "404.html").write_text('{% extends "theme/404.html" %}')
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("built ")
    assert main(args + ["--drafts"]) == 0                # other options, other output
    assert capsys.readouterr().out.startswith("built ")


def test_an_incremental_cli_build_writes_what_a_cold_build_writes(tmp_path, capsys):
    site = copy_site("history", tmp_path)
    out, cold = tmp_path / "out", tmp_path / "cold"
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    article = sorted((site / "content" / "articles").glob("*.md"))[1]
    edits = [("\n---\n", "\n---\nA new first paragraph.\n\n"),             # body
             ("status: under-negotiation", "status: stalled"),            # front matter
             ("title: ", "title: Retitled, ")]                             # shown on most pages
    for number, (old, new) in enumerate(edits):
        text = article.read_text()
        if old not in text:
            continue
        article.write_text(text.replace(old, new, 1))
        capsys.readouterr()
        assert main(["build", "--site", str(site), "--out", str(out)]) == 0
        line = capsys.readouterr().out
        rendered = int(line.split("(")[1].split(" rendered")[0])
        total = int(line.split("built ")[1].split(" pages")[0])
        assert 0 < rendered <= total, line
        if number == 0:
            assert rendered < total, line   # a body edit leaves, at least, the 404 page alone
        shutil.rmtree(cold, ignore_errors=True)
        assert main(["build", "--site", str(site), "--out", str(cold), "--quiet"]) == 0
        assert tree(out) == tree(cold)


def test_a_deleted_output_file_is_written_again_by_an_incremental_build(tmp_path):
    site = copy_site("history", tmp_path)
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    (out / "actors" / "index.html").unlink()
    article = sorted((site / "content" / "articles").glob("*.md"))[0]
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    assert (out / "actors" / "index.html").is_file()


def test_symlinks_out_of_the_site_are_neither_read_nor_published(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not publish")
    (tmp_path / "secret-article.md").write_text("---\ntitle: Secret\ndate: 2025-01-01\n---\nsecret body\n")
    site = copy_site("minimal", tmp_path)
    (site / "static").mkdir(exist_ok=True)
    (site / "static" / "leak.txt").symlink_to(secret)
    (site / "content" / "articles" / "2025-01-01-leak.md").symlink_to(tmp_path / "secret-article.md")
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    published = tree(tmp_path / "out")
    assert not any(b"do not publish" in data or b"secret body" in data for data in published.values())
    assert "static/leak.txt" not in published


def test_timings_name_every_stage(tmp_path, capsys):
    site = copy_site("history", tmp_path)
    assert main(["build", "--site", str(site), "--out", str(tmp_path / "out"), "--quiet", "--timings"]) == 0
    line = capsys.readouterr().err.strip().splitlines()[-1]
    stages = dict(part.rsplit(" ", 2)[:2] for part in line.removeprefix("timings: ").split(", "))
    assert list(stages) == ["read", "parse", "resolve", "plan", "render", "feeds and sitemap", "state", "write"]
    assert all(float(seconds) >= 0 for seconds in stages.values())   # seconds, two decimals


def test_the_benchs_peer_layout_renders_every_page_as_small_as_the_peers(tmp_path):
    """bench/run.py --peer-layout builds the corpus with these templates: they must keep building
    every page of the product, each in peer_sites.py's shape (an article: title, date, body; a
    listing: one line per article, newest first), or the bench measures something else."""
    site = copy_site("history", tmp_path)
    shutil.copytree(REPO / "bench" / "peer_layout" / "templates", site / "templates")
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out), "--quiet"]) == 0
    full = tmp_path / "full"
    assert main(["build", "--site", str(copy_site("history", tmp_path / "theme")), "--out", str(full), "--quiet"]) == 0
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert pages == sorted(p.relative_to(full).as_posix() for p in full.rglob("*.html"))
    head = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>'
    shapes = {page: (out / page).read_text() for page in pages}
    assert not [page for page, html in shapes.items()
                if not html.startswith(head) or "</title></head>\n<body>\n<h1>" not in html or "<link" in html]

    briefing = (out / "briefings" / "accord-agreed" / "index.html").read_text()
    body = briefing.split("<body>\n", 1)[1]
    assert body.startswith("<h1>Verran accord agreed as Kovac becomes Prime Minister</h1>\n"
                           "<p><time>2024-03-18</time></p>\n<p>")
    assert body.count("<h1>") == 1 and 'class="actor-link"' in body    # the body, its actors linked
    arland = (out / "actors" / "arland" / "index.html").read_text()
    listed = r'<li><a href="/history/briefings/([a-z-]+)/">[^<]+</a> <time>([0-9-]+)</time></li>\n'
    assert re.findall(listed, arland) == [
        ("gauge-dispute", "2024-03-25"), ("accord-agreed", "2024-03-18"),
        ("talks-begin", "2024-03-11"), ("accord-proposed", "2024-03-04")]
