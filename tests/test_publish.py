"""Publishing a built site: to a folder of releases behind a symbolic link, and to a git branch.

Everything here is real: real folders and links, a real git with a bare repository standing in
for GitHub, and a real nginx serving the published folder.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from support.nginx import nginx  # noqa: F401  (fixture)
from support.vnu import check_html, format_messages, require_vnu

from generator.linkcheck import check_links_in_folder
from generator.publish import (
    GitTarget,
    PublishError,
    PublishReport,
    parse_target,
    publish_to_folder,
    publish_to_git,
    releases_folder,
    rollback_folder,
)
from generator.write import MANIFEST

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="/briefing/static/style.3fa2c1.css">
</head>
<body>
<nav><a href="/briefing/">Home</a> <a href="/briefing/briefings/rutte-in-kyiv/">Rutte in Kyiv</a></nav>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""

SITE_V1 = {
    "index.html": PAGE.format(title="Briefing", body='<p>Latest: <a href="briefings/rutte-in-kyiv/">Rutte</a></p>'),
    "briefings/rutte-in-kyiv/index.html": PAGE.format(
        title="Rutte in Kyiv",
        body='<p id="q-too-early">It is too early.</p>\n<p><a href="../../actors/mark-rutte/">Mark Rutte</a></p>'),
    "actors/mark-rutte/index.html": PAGE.format(
        title="Mark Rutte", body='<p><a href="/briefing/briefings/rutte-in-kyiv/#q-too-early">said</a></p>'),
    "static/style.3fa2c1.css": "body { font-family: serif; }\n",
    "404.html": PAGE.format(title="Not found", body="<p>No such page.</p>"),
    "feed.xml": '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>\n',
}


def site_v2() -> dict[str, str]:
    files = dict(SITE_V1)
    files["index.html"] = PAGE.format(title="Briefing", body="<p>Updated.</p>")
    files["briefings/new-talks/index.html"] = PAGE.format(title="New talks", body="<p>More.</p>")
    del files["feed.xml"]
    return files


def write_tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def read_tree(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): path.read_text()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def built(tmp_path: Path):
    """built(files, name) -> a folder of built output."""
    def make(files: dict[str, str], name: str = "_site") -> Path:
        return write_tree(tmp_path / name, files)
    return make


# --- folder target -----------------------------------------------------------------------------

def test_publish_to_a_new_folder_makes_a_link_to_a_complete_release(tmp_path: Path, built):
    target = tmp_path / "www" / "briefing"
    source = built(SITE_V1)
    (source / MANIFEST).write_text('{"files": {}}')  # the build's own bookkeeping is not published
    report = publish_to_folder(source, target)
    assert target.is_symlink()
    assert not os.path.isabs(os.readlink(target)), "a relative link survives moving the folder"
    assert read_tree(target) == SITE_V1
    assert report.added == tuple(sorted(SITE_V1)) and report.changed == report.removed == ()
    assert [p.name for p in releases_folder(target).iterdir() if not p.name.startswith(".")] == [report.release]
    assert report.summary() == f"published {target} (release {report.release}): 6 added, 0 changed, 0 removed"


def test_publishing_twice_keeps_two_releases_and_points_at_the_newest(tmp_path: Path, built):
    target = tmp_path / "briefing"
    first = publish_to_folder(built(SITE_V1, "v1"), target)
    second = publish_to_folder(built(site_v2(), "v2"), target)
    assert first.release != second.release
    releases = releases_folder(target)
    assert sorted(p.name for p in releases.iterdir() if not p.name.startswith(".")) == [first.release, second.release]
    assert Path(os.readlink(target)).name == second.release
    assert read_tree(target) == site_v2()
    assert read_tree(releases / first.release) == SITE_V1, "the old release is intact"
    assert second.added == ("briefings/new-talks/index.html",)
    assert second.changed == ("index.html",)
    assert second.removed == ("feed.xml",)
    assert second.details() == ["+ briefings/new-talks/index.html", "~ index.html", "- feed.xml"]


def test_unchanged_files_are_shared_with_the_previous_release(tmp_path: Path, built):
    target = tmp_path / "briefing"
    first = publish_to_folder(built(SITE_V1, "v1"), target)
    second = publish_to_folder(built(site_v2(), "v2"), target)
    releases = releases_folder(target)
    css = "static/style.3fa2c1.css"
    def inode(release: str, path: str) -> int:
        return (releases / release / path).stat().st_ino

    assert inode(first.release, css) == inode(second.release, css)
    assert inode(first.release, "index.html") != inode(second.release, "index.html")


def test_published_files_are_readable_by_the_web_server(tmp_path: Path, built):
    source = built(SITE_V1)
    (source / "index.html").chmod(0o600)
    target = tmp_path / "briefing"
    publish_to_folder(source, target)
    assert (target / "index.html").stat().st_mode & 0o444 == 0o444
    assert (target / "briefings").stat().st_mode & 0o555 == 0o555


def test_readers_never_see_a_half_site(tmp_path: Path, built):
    """While releases are swapped again and again, every look at the target finds a whole site."""
    sites = [built(SITE_V1, "v1"), built(site_v2(), "v2")]
    complete = [set(SITE_V1), set(site_v2())]
    target = tmp_path / "briefing"
    rounds = 12  # all releases are kept: a release is only ever pruned long after it was live
    publish_to_folder(sites[0], target, keep=rounds + 1)
    seen, problems, done = [], [], threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                release = Path(target.parent, os.readlink(target))  # one release per look
            except OSError as error:  # no link at all would be a half-published moment
                problems.append(repr(error))
                continue
            files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
            seen.append(files)
            if files not in complete:
                problems.append(sorted(files))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_ in range(rounds):
            publish_to_folder(sites[(round_ + 1) % 2], target, keep=rounds + 1)
    finally:
        done.set()
        thread.join()
    assert problems == []
    assert seen


def test_rollback_points_back_at_the_previous_release(tmp_path: Path, built):
    target = tmp_path / "briefing"
    first = publish_to_folder(built(SITE_V1, "v1"), target)
    second = publish_to_folder(built(site_v2(), "v2"), target)
    dry = rollback_folder(target, dry_run=True)
    assert Path(os.readlink(target)).name == second.release and dry.dry_run
    report = rollback_folder(target)
    assert report.release == first.release
    assert read_tree(target) == SITE_V1
    assert report.summary().startswith(f"rolled back {target} (release {first.release})")
    assert report.added == ("feed.xml",) and report.removed == ("briefings/new-talks/index.html",)
    with pytest.raises(PublishError, match="no earlier release"):
        rollback_folder(target)
    third = publish_to_folder(built(site_v2(), "v2"), target)
    assert Path(os.readlink(target)).name == third.release
    assert read_tree(target) == site_v2()


def test_rollback_needs_a_link_to_a_release(tmp_path: Path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(PublishError, match="not a link to a release"):
        rollback_folder(tmp_path / "plain")
    with pytest.raises(PublishError, match="not a link to a release"):
        rollback_folder(tmp_path / "missing")


def test_only_the_last_releases_are_kept(tmp_path: Path, built):
    target = tmp_path / "briefing"
    reports = [publish_to_folder(built({**SITE_V1, "n.txt": str(n)}, f"v{n}"), target, keep=2) for n in range(4)]
    kept = sorted(p.name for p in releases_folder(target).iterdir() if not p.name.startswith("."))
    assert kept == [reports[2].release, reports[3].release]
    assert (target / "n.txt").read_text() == "3"
    with pytest.raises(PublishError, match="at least 1"):
        publish_to_folder(built(SITE_V1), target, keep=0)


def test_a_real_folder_with_files_is_refused_and_left_alone(tmp_path: Path, built):
    target = write_tree(tmp_path / "docroot", {"index.html": "hand-made"})
    with pytest.raises(PublishError, match="real folder with files") as raised:
        publish_to_folder(built(SITE_V1), target)
    assert "move it away" in str(raised.value)
    assert read_tree(target) == {"index.html": "hand-made"}
    assert not releases_folder(target).exists()


def test_an_empty_real_folder_is_replaced_by_the_link(tmp_path: Path, built):
    target = tmp_path / "docroot"
    target.mkdir()
    publish_to_folder(built(SITE_V1), target)
    assert target.is_symlink() and read_tree(target) == SITE_V1


def test_a_file_at_the_target_and_overlapping_folders_are_refused(tmp_path: Path, built):
    source = built(SITE_V1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PublishError, match="not a folder"):
        publish_to_folder(source, tmp_path / "file")
    with pytest.raises(PublishError, match="overlap"):
        publish_to_folder(source, source / "published")
    with pytest.raises(PublishError, match="build the site first"):
        publish_to_folder(tmp_path / "nothing-built", tmp_path / "briefing")


def test_dry_run_reports_and_changes_nothing(tmp_path: Path, built):
    target = tmp_path / "briefing"
    report = publish_to_folder(built(SITE_V1, "v1"), target, dry_run=True)
    assert report.dry_run and report.added == tuple(sorted(SITE_V1))
    assert report.summary().startswith("dry run, nothing changed: would publish to")
    assert not target.exists() and not target.is_symlink() and not releases_folder(target).exists()

    first = publish_to_folder(built(SITE_V1, "v1"), target)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    report = publish_to_folder(built(site_v2(), "v2"), target, dry_run=True)
    assert (report.added, report.changed, report.removed) == (
        ("briefings/new-talks/index.html",), ("index.html",), ("feed.xml",))
    assert sorted(str(p) for p in tmp_path.rglob("*") if "/v2" not in str(p)) == \
        [p for p in before if "/v2" not in p]
    assert Path(os.readlink(target)).name == first.release


def test_a_failed_copy_leaves_the_live_site_and_no_debris(tmp_path: Path, built):
    target = tmp_path / "briefing"
    first = publish_to_folder(built(SITE_V1, "v1"), target)
    broken = built(site_v2(), "v2")
    (broken / "dangling.html").symlink_to(broken / "does-not-exist.html")  # cannot be copied
    with pytest.raises(OSError):
        publish_to_folder(broken, target)
    assert Path(os.readlink(target)).name == first.release
    assert read_tree(target) == SITE_V1
    assert sorted(p.name for p in releases_folder(target).iterdir()) == [".lock", first.release]


def test_two_publishes_at_once_are_refused(tmp_path: Path, built):
    target = tmp_path / "briefing"
    publish_to_folder(built(SITE_V1), target)
    with open(releases_folder(target) / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(PublishError, match="another publish"):
            publish_to_folder(built(site_v2(), "v2"), target)


def test_parse_target():
    assert parse_target("git:origin") == GitTarget("origin", "gh-pages")
    assert parse_target("git:git@github.com:desk/briefing.git#pages") == GitTarget(
        "git@github.com:desk/briefing.git", "pages")
    assert parse_target("/srv/www/briefing") == Path("/srv/www/briefing")
    with pytest.raises(PublishError):
        parse_target("git:")


def test_report_summary_when_nothing_changed():
    report = PublishReport("origin#gh-pages", release="0123456789abcdef0123", kind="commit")
    assert report.summary() == "origin#gh-pages is up to date (commit 0123456789ab): nothing to publish"


# --- git target --------------------------------------------------------------------------------

def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(path))
    return path


def branch_files(remote: Path, branch: str, into: Path) -> dict[str, str]:
    git("clone", "--quiet", "--branch", branch, str(remote), str(into))
    return {p.relative_to(into).as_posix(): p.read_text() for p in sorted(into.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(into).parts}


def test_publish_to_git_commits_exactly_the_site(tmp_path: Path, built, remote: Path):
    source = built(SITE_V1)
    (source / MANIFEST).write_text('{"files": {}}')  # the build's own bookkeeping is not published
    report = publish_to_git(source, str(remote), cname="briefing.example.org")
    assert branch_files(remote, "gh-pages", tmp_path / "clone") == {
        **SITE_V1, ".nojekyll": "", "CNAME": "briefing.example.org\n"}
    assert report.release == git("rev-parse", "gh-pages", cwd=remote)
    assert report.added == tuple(sorted([*SITE_V1, ".nojekyll", "CNAME"]))
    assert report.summary().startswith(f"published {remote}#gh-pages (commit {report.release[:12]})")


def test_publishing_again_adds_a_commit_on_top(tmp_path: Path, built, remote: Path):
    first = publish_to_git(built(SITE_V1, "v1"), str(remote), message="first")
    second = publish_to_git(built(site_v2(), "v2"), str(remote), message="second")
    assert git("rev-list", "--count", "gh-pages", cwd=remote) == "2"
    assert git("rev-parse", "gh-pages^", cwd=remote) == first.release
    assert git("log", "-1", "--format=%s", "gh-pages", cwd=remote) == "second"
    assert (second.added, second.changed, second.removed) == (
        ("briefings/new-talks/index.html",), ("index.html",), ("feed.xml",))
    assert branch_files(remote, "gh-pages", tmp_path / "clone") == {**site_v2(), ".nojekyll": ""}

    again = publish_to_git(built(site_v2(), "v2"), str(remote))
    assert again.unchanged and again.release == second.release
    assert git("rev-list", "--count", "gh-pages", cwd=remote) == "2", "nothing to publish, no empty commit"


def test_git_dry_run_pushes_nothing(built, remote: Path):
    report = publish_to_git(built(SITE_V1), str(remote), dry_run=True)
    assert report.dry_run and ".nojekyll" in report.added
    assert git("for-each-ref", cwd=remote) == ""


def test_a_rejected_push_raises_and_leaves_the_remote_as_it_was(built, remote: Path):
    first = publish_to_git(built(SITE_V1, "v1"), str(remote))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pages are frozen today' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PublishError) as raised:
        publish_to_git(built(site_v2(), "v2"), str(remote))
    message = str(raised.value)
    assert "rejected" in message and "nothing changed there" in message
    assert "pages are frozen today" in message, "git's own reason is shown"
    assert git("rev-parse", "gh-pages", cwd=remote) == first.release


def test_the_users_repository_is_never_touched(tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch):
    repo = tmp_path / "project"
    repo.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    write_tree(repo, {"site.yaml": "title: t\n", "content/a.md": "hello\n", ".gitignore": "_site/\n"})
    git("add", ".", cwd=repo)
    git("-c", "user.name=Ed", "-c", "user.email=ed@example.org", "commit", "--quiet", "-m", "start", cwd=repo)
    (repo / "content/a.md").write_text("edited, not committed\n")
    (repo / "content/b.md").write_text("staged\n")
    git("add", "content/b.md", cwd=repo)
    git("remote", "add", "origin", str(remote), cwd=repo)
    source = write_tree(repo / "_site", SITE_V1)

    def state() -> tuple[str, ...]:
        return (git("status", "--porcelain", "--ignored", cwd=repo), git("rev-parse", "HEAD", cwd=repo),
                git("symbolic-ref", "HEAD", cwd=repo), git("for-each-ref", cwd=repo),
                git("diff", "--cached", cwd=repo), git("stash", "list", cwd=repo))

    def files() -> dict[str, bytes]:  # the index is left out: `git status` may refresh it
        return {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted(repo.rglob("*"))
                if p.is_file() and p != repo / ".git" / "index"}

    before = state()
    files_before = files()
    # As inside a git hook: variables that would point a careless git at the user's repository.
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    monkeypatch.chdir(repo)
    report = publish_to_git(source, "origin", repo=repo)
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert state() == before
    assert files() == files_before, "no file, object or ref of the user's repository changed"
    assert git("rev-parse", "gh-pages", cwd=remote) == report.release
    assert git("log", "-1", "--format=%s", "gh-pages", cwd=remote).startswith(
        f"Publish briefing site from {git('rev-parse', '--short', 'HEAD', cwd=repo)}")


def test_a_default_identity_is_used_when_none_is_configured(tmp_path: Path, built, remote: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    publish_to_git(built(SITE_V1), str(remote), repo=tmp_path)
    assert git("log", "-1", "--format=%an <%ae>", "gh-pages", cwd=remote) == "briefing <briefing@localhost>"


def test_unreachable_remote_and_bad_branch_are_reported(tmp_path: Path, built, remote: Path):
    with pytest.raises(PublishError, match="cannot read"):
        publish_to_git(built(SITE_V1), str(tmp_path / "no-such-remote.git"))
    with pytest.raises(PublishError, match="not a valid branch name"):
        publish_to_git(built(SITE_V1), str(remote), branch="bad..name")


# --- served by a real nginx --------------------------------------------------------------------

class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.urls.append(value)


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


@pytest.mark.nginx
def test_a_published_folder_served_by_nginx(tmp_path: Path, built, nginx):  # noqa: F811
    target = tmp_path / "www" / "briefing"
    source = built(SITE_V1, "v1")
    assert check_links_in_folder(source, "/briefing/") == []
    publish_to_folder(source, target)
    server = nginx(target, "/briefing/")

    # Crawl from the home page: every internal link answers 200.
    queue, visited = [server.url("")], set()
    while queue:
        url = queue.pop()
        if url in visited:
            continue
        visited.add(url)
        status, body, content_type = fetch(url)
        assert status == 200, url
        if content_type.startswith("text/html"):
            links = Links()
            links.feed(body.decode())
            for link in links.urls:
                absolute = urljoin(url, link).partition("#")[0]
                if urlsplit(absolute).path.startswith("/briefing/"):
                    queue.append(absolute)
    assert {urlsplit(url).path for url in visited} == {
        "/briefing/", "/briefing/briefings/rutte-in-kyiv/", "/briefing/actors/mark-rutte/",
        "/briefing/static/style.3fa2c1.css"}

    status, body, content_type = fetch(server.url("no/such/page/"))
    assert status == 404 and b"No such page." in body and content_type.startswith("text/html")
    assert fetch(server.url("feed.xml"))[0] == 200

    # The link is followed on every request: a new release is live at once, and a rollback too.
    publish_to_folder(built(site_v2(), "v2"), target)
    assert b"Updated." in fetch(server.url(""))[1]
    assert fetch(server.url("briefings/new-talks/"))[0] == 200
    assert fetch(server.url("feed.xml"))[0] == 404
    rollback_folder(target)
    assert b"Latest:" in fetch(server.url(""))[1]
    assert fetch(server.url("briefings/new-talks/"))[0] == 404


def test_the_hand_made_site_is_valid_html(built):
    require_vnu()
    messages = check_html(built(SITE_V1))
    assert messages == [], format_messages(messages)
