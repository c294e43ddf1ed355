"""Hand a built site to where readers get it: a local folder, or a branch of a git remote.

Both targets take a folder of built output and never leave a half-published site behind:

- A folder target (an nginx docroot) is a symbolic link to one of several complete releases kept
  beside it in `<target>.releases/`. A publish copies the site into a new release, then swaps the
  link with one rename, so a reader gets either the old site or the new one. `rollback_folder`
  points the link back at the previous release.
- A git target gets one new commit on its branch (default `gh-pages`) whose tree is exactly the
  site plus `.nojekyll` (and `CNAME`), made in a throwaway repository: the user's own repository,
  its working tree and its current branch are never touched. A rejected push changes nothing.

`dry_run` computes what would be added, changed and removed, and touches nothing.
"""
from __future__ import annotations

import errno
import fcntl
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from .write import MANIFEST

RELEASES_SUFFIX = ".releases"
_RELEASE_NAME = re.compile(r"^(\d+)-(\d{8}T\d{6}Z)$")
_INCOMING_PREFIX = ".incoming-"
_DEFAULT_IDENTITY = ("briefing", "briefing@localhost")
# Variables that would point git at another repository than the one we mean (set inside hooks).
_GIT_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                           "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                           "GIT_PREFIX", "GIT_QUARANTINE_PATH", "GIT_SHALLOW_FILE")


class PublishError(Exception):
    """Publishing cannot go on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What a publish changed (or, in a dry run, would change) at its target."""

    target: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    release: str = ""  # the release folder's name, or the commit id
    kind: str = "release"  # "release" (folder target) or "commit" (git target)
    action: str = "published"  # "published" or "rolled back"
    dry_run: bool = False

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        counts = f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"
        release = self.release[:12] if self.kind == "commit" else self.release
        if self.dry_run:
            verb = "publish to" if self.action == "published" else "roll back"
            return f"dry run, nothing changed: would {verb} {self.target}: {counts}"
        if self.unchanged and self.action == "published":
            return f"{self.target} is up to date ({self.kind} {release}): nothing to publish"
        return f"{self.action} {self.target} ({self.kind} {release}): {counts}"

    def details(self) -> list[str]:
        """One line per file: '+ added', '~ changed', '- removed'."""
        return ([f"+ {path}" for path in self.added] + [f"~ {path}" for path in self.changed]
                + [f"- {path}" for path in self.removed])


# --- what a site folder holds ------------------------------------------------------------------

def _site_files(root: Path) -> dict[str, Path]:
    """Every file under root, by its path relative to root with forward slashes, except the
    build's own manifest (which is not part of the site)."""
    files = {}
    for directory, _, names in os.walk(root):
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in names:
            files[prefix + name] = Path(directory, name)
    files.pop(MANIFEST, None)
    return files


def _diff(new: dict[str, Path], old: dict[str, Path]) -> tuple[tuple[str, ...], tuple[str, ...],
                                                             tuple[str, ...], set[str]]:
    """(added, changed, removed, unchanged) between two sets of files, comparing contents."""
    added = tuple(sorted(path for path in new if path not in old))
    removed = tuple(sorted(path for path in old if path not in new))
    changed, unchanged = [], set()
    for path in sorted(new.keys() & old.keys()):
        if filecmp.cmp(new[path], old[path], shallow=False):
            unchanged.add(path)
        else:
            changed.append(path)
    return added, tuple(changed), removed, unchanged


def _check_source(source: Path) -> Path:
    source = Path(source)
    if not source.is_dir():
        raise PublishError(f"nothing to publish: {source} is not a folder; build the site first")
    if not any(source.iterdir()):
        raise PublishError(f"nothing to publish: {source} is empty; build the site first")
    return source


# --- folder target -----------------------------------------------------------------------------

def releases_folder(target: Path) -> Path:
    """Where the releases of a folder target are kept: beside it, '<target>.releases'."""
    target = Path(target)
    return target.parent / (target.name + RELEASES_SUFFIX)


def _releases(releases: Path) -> list[str]:
    """The complete releases in a releases folder, oldest first."""
    if not releases.is_dir():
        return []
    names = [entry.name for entry in releases.iterdir()
             if _RELEASE_NAME.match(entry.name) and entry.is_dir() and not entry.is_symlink()]
    return sorted(names, key=lambda name: int(_RELEASE_NAME.match(name).group(1)))


def _current_release(target: Path) -> Path | None:
    """The folder the target link points at, or None when there is no (live) link."""
    if not target.is_symlink():
        return None
    pointed = Path(os.path.join(target.parent, os.readlink(target)))
    return pointed if pointed.is_dir() else None


def _check_folder_target(source: Path, target: Path) -> None:
    if target.is_symlink():
        pass
    elif target.is_dir():
        if any(target.iterdir()):
            raise PublishError(
                f"{target} is a real folder with files in it, not a link to a release; move it "
                f"away (or empty it) and publish again: publishing makes {target} a link to a "
                f"release in {releases_folder(target)}")
    elif target.exists():
        raise PublishError(f"{target} exists and is not a folder; remove it or publish elsewhere")
    resolved_source = source.resolve()
    for place in (target, releases_folder(target)):
        place = place.parent.resolve() / place.name  # the link itself, not where it points
        if resolved_source.is_relative_to(place) or place.is_relative_to(resolved_source):
            raise PublishError(f"the built site {source} and the target {target} overlap; "
                               "publish to a folder outside the build output")


class _Lock:
    """An exclusive lock on a releases folder, so two publishes cannot interleave."""

    def __init__(self, releases: Path) -> None:
        self.path = releases / ".lock"

    def __enter__(self) -> Self:
        self.file = open(self.path, "a")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self.file.close()
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise PublishError(f"another publish to {self.path.parent} is running; "
                                   "wait for it to finish and try again") from None
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def _next_release_name(releases: Path) -> str:
    existing = [int(_RELEASE_NAME.match(name).group(1)) for name in _releases(releases)]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"{max(existing, default=0) + 1:04d}-{stamp}"


def _copy_release(files: dict[str, Path], unchanged: set[str], previous: Path | None, into: Path) -> None:
    """Copy the site into a new release; files unchanged since the previous release are hard
    links to it (releases are never modified in place), so a release costs only what changed.

    Everything is made readable by all: a published site is read by the web server's user."""
    into.mkdir()
    os.chmod(into, 0o755)
    made = {into}
    for path, source_file in files.items():
        destination = into / path
        if destination.parent not in made:
            destination.parent.mkdir(parents=True, exist_ok=True)
            for folder in [destination.parent, *destination.parent.parents]:
                if folder in made:
                    break
                os.chmod(folder, 0o755)
                made.add(folder)
        if previous is not None and path in unchanged:
            try:
                os.link(previous / path, destination)
                continue
            except OSError:
                pass  # another file system, or links not allowed: copy instead
        shutil.copy2(source_file, destination)
        mode = os.stat(destination).st_mode
        if mode & 0o444 != 0o444:  # a published site must be readable by the web server
            os.chmod(destination, mode | 0o444)


def _point_link(target: Path, release: Path) -> None:
    """Atomically make target a link to release: a new link under a temporary name, renamed over."""
    link_value = os.path.relpath(release, target.parent)
    temporary = target.parent / f".{target.name}.link-{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    os.symlink(link_value, temporary)
    try:
        if target.is_dir() and not target.is_symlink():
            target.rmdir()  # an empty real folder, checked before: a rename cannot replace it
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def publish_to_folder(source: Path, target: Path, *, keep: int = 5, dry_run: bool = False) -> PublishReport:
    """Publish the built site in `source` as a new release at `target` (a symbolic link).

    The last `keep` releases stay in `<target>.releases/` for `rollback_folder`. When the live
    release already holds exactly this site, nothing is made and the report says so.
    """
    if keep < 1:
        raise PublishError(f"keep must be at least 1 (got {keep}): the live release is always kept")
    source, target = _check_source(source), Path(target)
    _check_folder_target(source, target)
    releases = releases_folder(target)
    files = _site_files(source)
    if dry_run:
        current = _current_release(target)
        added, changed, removed, _ = _diff(files, _site_files(current) if current else {})
        return PublishReport(str(target), added, changed, removed, "", dry_run=True)

    releases.mkdir(parents=True, exist_ok=True)
    with _Lock(releases):
        current = _current_release(target)
        added, changed, removed, unchanged = _diff(files, _site_files(current) if current else {})
        if current is not None and current.resolve().parent != releases.resolve():
            current = None  # not one of our releases: never hard-link to files someone else may edit
        if current is not None and not (added or changed or removed):
            # The live release already is this site: a copy of it would only push an older,
            # different release out of the kept ones, and make a rollback a no-op.
            return PublishReport(str(target), release=current.name)
        for leftover in releases.glob(_INCOMING_PREFIX + "*"):  # from a publish that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        name = _next_release_name(releases)
        incoming = releases / (_INCOMING_PREFIX + name)
        try:
            _copy_release(files, unchanged, current, incoming)
            os.replace(incoming, releases / name)
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            raise
        _point_link(target, releases / name)
        _prune(releases, keep, live=releases / name)
    return PublishReport(str(target), added, changed, removed, name)


def _prune(releases: Path, keep: int, live: Path) -> None:
    names = _releases(releases)
    for name in names[:-keep]:
        if (releases / name).resolve() != live.resolve():
            shutil.rmtree(releases / name, ignore_errors=True)


def rollback_folder(target: Path, *, dry_run: bool = False) -> PublishReport:
    """Point `target` back at the release before the one it points at now."""
    target = Path(target)
    current = _current_release(target)
    releases = releases_folder(target)
    if current is None:
        raise PublishError(f"{target} is not a link to a release: there is nothing to roll back")
    names = _releases(releases)
    if current.resolve().parent != releases.resolve() or current.name not in names:
        raise PublishError(f"{target} points at {current}, which is not one of the releases in "
                           f"{releases}; cannot tell which release came before it")
    position = names.index(current.name)
    if position == 0:
        raise PublishError(f"{target} is at its oldest kept release ({current.name}); there is no "
                           "earlier release to roll back to")
    previous = releases / names[position - 1]
    added, changed, removed, _ = _diff(_site_files(previous), _site_files(current))
    report = PublishReport(str(target), added, changed, removed, previous.name,
                           action="rolled back", dry_run=dry_run)
    if not dry_run:
        with _Lock(releases):
            _point_link(target, previous)
    return report


# --- git target --------------------------------------------------------------------------------

def _git_environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in _GIT_LOCATION_VARIABLES}
    if not sys.stdin or not sys.stdin.isatty():
        environment["GIT_TERMINAL_PROMPT"] = "0"  # fail instead of waiting for a password
    environment["LC_ALL"] = "C"  # git's messages are matched below, in English
    environment.pop("LANGUAGE", None)
    return environment


def _git(*args: str, options: tuple[str, ...] = (), cwd: Path | None = None, env: dict[str, str] | None = None,
         input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `git [options] args`; unless `check` is false, a failure raises PublishError."""
    result = subprocess.run(["git", *options, *args], cwd=cwd, env=env or _git_environment(), input=input,
                            capture_output=True, check=False)
    if check and result.returncode != 0:
        raise PublishError(f"git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result


def _looks_like_local_path(remote: str) -> bool:
    """git's rule: a colon before the first slash means host:path (ssh), a scheme means a URL."""
    if "://" in remote:
        return False
    colon = remote.find(":")
    slash = remote.find("/")
    return colon == -1 or (slash != -1 and slash < colon)


def _remote_urls(remote: str, repo: Path) -> tuple[str, str]:
    """The (fetch, push) URLs for what the user named: a remote of their repository, a URL or a path."""
    if remote and "/" not in remote and ":" not in remote and repo.is_dir():
        fetch = _git("remote", "get-url", remote, cwd=repo, check=False)
        push = _git("remote", "get-url", "--push", remote, cwd=repo, check=False)
        if fetch.returncode == 0 and push.returncode == 0:
            return fetch.stdout.decode().strip(), push.stdout.decode().strip()
    if _looks_like_local_path(remote):
        path = str(Path(remote).expanduser().absolute())
        return path, path
    return remote, remote


def _identity(repo: Path) -> tuple[str, str]:
    """The user's configured git identity (their repository's, then global), or a default one."""
    cwd = repo if repo.is_dir() else None
    name, email = (_git("config", "--get", key, cwd=cwd, check=False).stdout.decode().strip()
                   for key in ("user.name", "user.email"))
    return name or _DEFAULT_IDENTITY[0], email or _DEFAULT_IDENTITY[1]


def _default_message(repo: Path) -> str:
    head = _git("rev-parse", "--short", "HEAD", cwd=repo if repo.is_dir() else None, check=False)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if head.returncode == 0 and head.stdout.strip():
        return f"Publish briefing site from {head.stdout.decode().strip()} ({stamp})"
    return f"Publish briefing site ({stamp})"


def _push_error(remote: str, branch: str, stderr: str) -> PublishError:
    reason = stderr.strip()
    if "non-fast-forward" in reason or "fetch first" in reason or "stale info" in reason:
        advice = f"someone else updated {branch} meanwhile; publish again to build on their commit"
    elif "hook declined" in reason or "protected branch" in reason:
        advice = (f"the remote refused the update (a hook or a branch protection rule); check "
                  f"whether {branch} accepts pushes from you")
    elif "Authentication failed" in reason or "Permission denied" in reason or "403" in reason:
        advice = "check your credentials and your permission to push to this remote"
    else:
        advice = "check the remote's address and that you may push to it"
    return PublishError(f"the push of {branch} to {remote} was rejected, and nothing changed there: "
                        f"{advice}.\ngit said:\n{reason}")


def publish_to_git(source: Path, remote: str, branch: str = "gh-pages", *, cname: str = "",
                   message: str = "", dry_run: bool = False, repo: Path | None = None) -> PublishReport:
    """Commit the built site as the whole content of `branch` on `remote` and push it.

    Like `mkdocs gh-deploy`: the new commit's parent is the branch's current tip (its history
    is kept), and its tree is the site plus `.nojekyll` (and `CNAME` when `cname` is given).
    `remote` is a remote of the repository `repo` (default: the current folder), a URL or a path.
    """
    source = _check_source(source)
    if shutil.which("git") is None:
        raise PublishError("git is not installed; install it to publish to a git remote")
    repo = Path(repo) if repo is not None else Path.cwd()
    if _git("check-ref-format", "--branch", branch, check=False).returncode != 0:
        raise PublishError(f"{branch!r} is not a valid branch name")
    fetch_url, push_url = _remote_urls(remote, repo)
    described = f"{remote}#{branch}"
    name, email = _identity(repo)
    environment = _git_environment()

    with tempfile.TemporaryDirectory(prefix="briefing-publish-") as scratch:
        git_dir = Path(scratch, "repo.git")
        index = Path(scratch, "index")
        _git("init", "--quiet", "--bare", str(git_dir), env=environment)
        options = ("-c", f"user.name={name}", "-c", f"user.email={email}", "-c", "core.autocrlf=false",
                   "-c", "core.safecrlf=false", "--git-dir", str(git_dir))
        # The index is a file of our own, and the work tree the built site, which is only read.
        in_site = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(source.absolute())}

        def git(*args: str, check: bool = True, input: bytes | None = None,
                **extra_environment: str) -> subprocess.CompletedProcess:
            return _git(*args, options=options, cwd=Path(scratch), env={**environment, **extra_environment},
                        input=input, check=check)

        listed = git("ls-remote", "--heads", fetch_url, f"refs/heads/{branch}", check=False)
        if listed.returncode != 0:
            raise PublishError(f"cannot read {remote}: {listed.stderr.decode(errors='replace').strip()}; "
                               "check the remote's address and your access to it")
        parent = ""
        if listed.stdout.strip():
            # Only the tip is needed: it becomes the parent, and its tree is what we compare with.
            fetched = git("fetch", "--quiet", "--no-tags", "--depth=1", fetch_url, f"refs/heads/{branch}",
                          check=False)
            if fetched.returncode != 0:  # a server that cannot send a shallow history
                git("fetch", "--quiet", "--no-tags", fetch_url, f"refs/heads/{branch}")
            parent = git("rev-parse", "FETCH_HEAD^{commit}").stdout.decode().strip()

        git("add", "--all", "--force", "--", ":/", **in_site)
        git("update-index", "--force-remove", "--", MANIFEST, **in_site)
        extras = {".nojekyll": b""}
        if cname:
            extras["CNAME"] = cname.strip().encode() + b"\n"
        for path, content in extras.items():
            blob = git("hash-object", "-w", "--stdin", input=content).stdout.decode().strip()
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", **in_site)
        tree = git("write-tree", **in_site).stdout.decode().strip()

        if parent:
            parent_tree = git("rev-parse", f"{parent}^{{tree}}").stdout.decode().strip()
            listing = git("diff-tree", "-r", "-z", "--no-renames", "--name-status", parent_tree, tree)
            added, changed, removed = _parse_name_status(listing.stdout)
        else:
            listing = git("ls-tree", "-r", "-z", "--name-only", tree)
            added, changed, removed = tuple(sorted(_split_z(listing.stdout))), (), ()

        if dry_run:
            return PublishReport(described, added, changed, removed, "", kind="commit", dry_run=True)
        if parent and not (added or changed or removed):
            return PublishReport(described, release=parent, kind="commit")

        arguments = ["commit-tree", tree, "-m", message or _default_message(repo)]
        if parent:
            arguments += ["-p", parent]
        commit = git(*arguments).stdout.decode().strip()
        # --no-verify: the user's own pre-push hooks are about their code, not this branch.
        pushed = git("push", "--quiet", "--no-verify", push_url, f"{commit}:refs/heads/{branch}", check=False)
        if pushed.returncode != 0:
            raise _push_error(remote, branch, pushed.stderr.decode(errors="replace"))
    return PublishReport(described, added, changed, removed, commit, kind="commit")


def _split_z(output: bytes) -> list[str]:
    return [item.decode("utf-8", errors="surrogateescape") for item in output.split(b"\0") if item]


def _parse_name_status(output: bytes) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """`git diff-tree -z --name-status` output: status, NUL, path, NUL, ..."""
    items = _split_z(output)
    added, changed, removed = [], [], []
    for status, path in zip(items[0::2], items[1::2], strict=True):
        {"A": added, "D": removed}.get(status[:1], changed).append(path)
    return tuple(sorted(added)), tuple(sorted(changed)), tuple(sorted(removed))


# --- targets as the command line names them ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class GitTarget:
    remote: str
    branch: str = "gh-pages"


def parse_target(spec: str) -> Path | GitTarget:
    """'git:REMOTE[#BRANCH]' names a git target; anything else is a folder."""
    if spec.startswith("git:"):
        remote, _, branch = spec[len("git:"):].partition("#")
        if not remote:
            raise PublishError(f"{spec!r} names no remote; write git:REMOTE or git:REMOTE#BRANCH")
        return GitTarget(remote, branch or "gh-pages")
    return Path(spec)
