"""The `briefing` command: check, build, serve, publish, init, new, schema.

Exit codes: 0 success, 1 content errors (or a failed publish), 2 usage errors.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import ERROR, ContentError, Diagnostic, closest, count_line
from .sources import SOURCE_KINDS

if TYPE_CHECKING:   # (the engine is imported where a command needs it: a no-change build never does)
    from .engine import BuildResult, Engine

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2

# What a command leaves to the process's exit instead of freeing it object by object on its
# way out (a third of a second for a build's model at 10,000 articles): a list only while
# run() is the caller, which exits at once after; main() called in-process frees as usual.
_left_for_exit: list | None = None


def leave_for_exit(*objects: object) -> None:
    if _left_for_exit is not None:
        _left_for_exit.extend(objects)


def strictly(diagnostics: Sequence[Diagnostic], strict: bool) -> list[Diagnostic]:
    """Sorted diagnostics; under `strict` every warning counts as an error."""
    out = [d.as_error() if strict else d for d in diagnostics]
    return sorted(out, key=Diagnostic.sort_key)


def print_diagnostics(diagnostics: Sequence[Diagnostic], stream=None) -> None:
    stream = stream or sys.stderr
    for d in diagnostics:
        print(d.format(), file=stream)
    if diagnostics:
        print(count_line(diagnostics), file=stream)


def site_folder(args: argparse.Namespace) -> Path:
    site = Path(args.site)
    if not site.is_dir():
        raise UsageError(f"no site folder '{site}'")
    return site


class UsageError(Exception):
    pass


# --------------------------------------------------------------------------- commands

def cmd_check(args: argparse.Namespace) -> int:
    from .load import load_site

    site_dir = site_folder(args)
    try:
        site, diagnostics = load_site(site_dir, drafts=True, fast=True)
    except ContentError as exc:
        site, diagnostics = None, list(exc.diagnostics)
    strict = args.strict or bool(site and site.config.strict)
    diagnostics = strictly(diagnostics, strict)
    if site is not None and args.links and not any(d.severity == ERROR for d in diagnostics):
        import tempfile

        from .linkcheck import check_links_in_folder

        with tempfile.TemporaryDirectory(prefix="briefing-check-") as temp:
            built = Path(temp) / "site"
            _, result = build_into(built, site_dir, drafts=False)
            diagnostics += strictly(result.diagnostics, strict)
            if result.ok:
                diagnostics += check_links_in_folder(built, site.config.base_path, site_url=site.config.base_url)
    failed = any(d.severity == ERROR for d in diagnostics)
    if args.format == "json":
        errors = sum(d.severity == ERROR for d in diagnostics)
        print(json.dumps({"ok": not failed, "errors": errors, "warnings": len(diagnostics) - errors,
                          "diagnostics": [d.as_json() for d in diagnostics]}, indent=2))
    else:
        print_diagnostics(diagnostics, sys.stdout)
        if not diagnostics and site is not None:
            print(f"ok: {len(site.articles)} articles, {len(site.actors)} actors, "
                  f"{len(site.proposals)} proposals, {len(site.questions)} questions")
    return EXIT_CONTENT if failed else EXIT_OK


def output_folder(args: argparse.Namespace, site_dir: Path, configured: str) -> Path:
    """The output folder: --out, else site.yaml's `output` under the site; refused if unsafe."""
    from .write import output_problem

    out = Path(args.out) if args.out else site_dir / configured
    problem = output_problem(site_dir, out)
    if problem:
        if args.out:
            raise UsageError(problem)
        raise ContentError(Diagnostic("site.yaml", 0, 0, problem, "set output: to a folder of its own, like _site"))
    return out


def check_base_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"(https?://[^/\s]+)?/?[^\s]*$", value):
        raise UsageError(f"--base-url must be an http(s) URL or a path like /briefing/, not '{value}'")
    if value is not None and not value.startswith(("http://", "https://", "/")):
        raise UsageError(f"--base-url must be an http(s) URL or a path like /briefing/, not '{value}'")
    return value


def configured_output(site_dir: Path) -> str:
    """site.yaml's `output`, read without building (for the freshness check); '_site' if unsure.

    Plain PyYAML, not parse.py: a build that finds nothing changed stops before importing the
    parser (and Markdown and Jinja), which would be most of its time."""
    import yaml

    try:
        data = yaml.load((site_dir / "site.yaml").read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError):
        return "_site"
    output = data.get("output") if isinstance(data, dict) else None
    return output if isinstance(output, str) and output else "_site"


def cmd_build(args: argparse.Namespace) -> int:
    # only what finding nothing changed needs; the rest is imported once there is work to do
    from .freshness import inputs_digest, is_fresh, setup_digest
    from .sources import read_sources
    from .write import Staging, output_problem, write_output

    site_dir = site_folder(args)
    started = time.perf_counter()
    base_url = check_base_url(args.base_url)
    sources = read_sources(site_dir, stat_cache=True)
    options = ("build", args.drafts, base_url, args.strict, args.out)
    inputs = inputs_digest(site_dir, sources, options)
    read = time.perf_counter() - started
    configured = Path(args.out) if args.out else site_dir / configured_output(site_dir)
    if is_fresh(configured, inputs) and not output_problem(site_dir, configured):
        if not args.quiet:
            print(f"nothing changed since the last build ({time.perf_counter() - started:.2f} s) -> {configured}")
        return EXIT_OK
    from .engine import Engine
    from .state import BuildState, Story, load_state, new_token, save_state_detached

    setup = setup_digest(site_dir, options)
    started_state = time.perf_counter()
    previous = load_state(site_dir, setup, configured)
    loaded = time.perf_counter()
    # pages go to a staging folder as they are rendered (the build then never holds them all);
    # an unsafe output folder is left for the build to report, and nothing is staged there
    try:
        staging = None if output_problem(site_dir, configured) else Staging(configured).open()
    except OSError as exc:
        raise UsageError(f"cannot write to '{configured}': {exc.strerror or exc}") from None
    # (defer_deps: the state's writer finds the plans' dependencies, make_state below)
    engine = Engine(site_dir, drafts=args.drafts, base_url=base_url, strict=args.strict, staging=staging,
                    defer_deps=True)
    handed = [sources]
    del sources  # the engine lets go of them once they are parsed (65 MB at 10,000 articles)
    try:
        result = engine.build(handed.pop(), previous=previous)
    finally:
        if staging is not None and not (engine.last_ok and engine.config is not None):
            staging.discard()
    print_diagnostics(result.diagnostics)
    if not result.ok:
        print("build failed: nothing was written", file=sys.stderr)
        return EXIT_CONTENT
    out = output_folder(args, site_dir, engine.config.output)
    writing = time.perf_counter()
    token = previous.token if previous is not None and engine.reused_state else new_token()
    try:
        report = write_output(out, result.files, inputs=inputs, kept=result.kept, state=token,
                              staged=result.staged, staging=staging)
        wrote = time.perf_counter()
    except OSError as exc:  # a full disk, a folder turned read-only: say so, without a traceback
        print(f"briefing build: writing '{out}' failed: {exc.strerror or exc} ({exc.filename or out})", file=sys.stderr)
        return EXIT_CONTENT
    if not engine.reused_state:
        # after the output: a state whose token the manifest does not name is never used, and the
        # next build waits for the writer (state.py)
        def make_state() -> BuildState:
            story = Story(engine.site, engine.documents, engine.fold, engine.feeds, engine.plans_with_deps())
            return BuildState(setup, str(out.resolve()), token, story, dict(engine.assets.names),
                              engine.source_digests, engine.front_digests, result.diagnostics)

        save_state_detached(site_dir, make_state)
    if args.timings:
        stages = dict(engine.timings, read=read, state=loaded - started_state + time.perf_counter() - wrote,
                      write=wrote - writing)
        print("timings: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items()), file=sys.stderr)
    leave_for_exit(engine, result, previous)
    pages = sum(1 for p in report.hashes if p.endswith(".html"))
    if not args.quiet:
        print(f"built {pages} pages ({result.rendered} rendered), {len(report.hashes)} files in "
              f"{time.perf_counter() - started:.2f} s: {len(report.written)} written, {report.unchanged} unchanged, "
              f"{len(report.removed)} removed -> {out}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .serve import ServeError, serve

    site_dir = site_folder(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, not {args.port}")
    # drafts shown (with a DRAFT banner); no forked workers once the server's threads run
    # (it allows them for the first build, before they start)
    # pages kept compressed in memory (packed.py): the peak at 10,000 articles 761 -> 486 MiB;
    # and rendered when a browser first asks for them (ondemand.py): at 10,000 articles ready
    # in 8 s, not 22 s
    engine = Engine(site_dir, drafts=True, base_url=check_base_url(args.base_url), parallel=False,
                    pack_pages=True, on_request=True)
    try:
        serve(engine, site_dir, args.host, args.port, open_browser=args.open)
    except ServeError as exc:
        print(f"briefing serve: {exc}", file=sys.stderr)
        return EXIT_CONTENT
    return EXIT_OK


def build_into(folder: Path, site_dir: Path, **options: Any) -> tuple[Engine, BuildResult]:
    """The whole site built into `folder` (missing or empty) as `briefing build` writes it: the
    render workers write each page as they make it, so no process holds every page (holding
    them, publish peaked at 864 MiB at 10,000 articles, now 485). A failed build leaves `folder` empty."""
    from .engine import Engine
    from .write import Staging, write_output

    staging = Staging(folder).open()
    engine = Engine(site_dir, staging=staging, defer_deps=True, **options)   # (no next run to plan for)
    try:
        result = engine.build()
    finally:
        if not engine.last_ok:
            staging.discard()
    if result.ok:
        write_output(folder, result.files, staged=result.staged, staging=staging)
    return engine, result


def cmd_publish(args: argparse.Namespace) -> int:
    import tempfile

    from .linkcheck import check_links_in_folder
    from .publish import GitTarget, PublishError, parse_target, publish_to_folder, publish_to_git, rollback_folder

    try:
        target = parse_target(args.to)
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    if args.keep < 1:
        raise UsageError(f"--keep must be at least 1, not {args.keep}")
    try:
        if args.rollback:
            if isinstance(target, GitTarget):
                raise UsageError("--rollback works on folder targets; for git, push an earlier commit of the branch")
            report = rollback_folder(target, dry_run=args.dry_run)
        else:
            site_dir = site_folder(args)
            base_url = check_base_url(args.base_url)
            with tempfile.TemporaryDirectory(prefix="briefing-publish-") as temp:
                built = Path(temp) / "site"
                engine, result = build_into(built, site_dir, drafts=False, base_url=base_url, strict=args.strict)
                print_diagnostics(result.diagnostics)
                if not result.ok:
                    print("publish stopped: fix the errors above; nothing was published", file=sys.stderr)
                    return EXIT_CONTENT
                config = engine.site.config
                broken = check_links_in_folder(built, config.base_path, site_url=config.base_url)
                if broken:
                    print_diagnostics(broken)
                    print("publish stopped: fix the broken links above (briefing check --links shows them); "
                          "nothing was published", file=sys.stderr)
                    return EXIT_CONTENT
                if isinstance(target, GitTarget):
                    report = publish_to_git(built, target.remote, target.branch, cname=config.domain,
                                            dry_run=args.dry_run, repo=site_dir)
                else:
                    report = publish_to_folder(built, target, keep=args.keep, dry_run=args.dry_run)
    except PublishError as exc:
        print(f"briefing publish: {exc}", file=sys.stderr)
        return EXIT_CONTENT
    if args.dry_run:
        for line in report.details():
            print(line)
    print(report.summary())
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import init_site

    folder = Path(args.folder)
    try:
        init_site(folder, args.title)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    print(f"created a new site in {folder}; preview it with: briefing serve --site {folder}")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import new_actor, new_article, new_page

    site_dir = site_folder(args)
    try:
        if args.kind == "actor":
            path, ident = new_actor(site_dir, args.name, args.type, args.id)
            print(f"wrote {path}; articles name the actor as {ident}")
        elif args.kind == "page":
            path = new_page(site_dir, args.title)
            print(f"wrote {path}; the site links it in its footer")
        else:
            try:
                date = dt.date.fromisoformat(args.date) if args.date else None
            except ValueError:
                raise UsageError(f"--date must be an ISO date like 2025-08-22, not '{args.date}'") from None
            path = new_article(site_dir, args.title, date)
            print(f"wrote {path} (a draft: set draft: false to publish it)")
    except (FileExistsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema

    print(json.dumps(json_schema(args.kind), indent=2))
    return EXIT_OK


# --------------------------------------------------------------------------- parser

def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="briefing", description="Build, preview and publish briefing sites.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    check = commands.add_parser("check", help="validate the site and report every problem")
    check.add_argument("--site", default=".", help="site folder (default: .)")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--links", action="store_true",
                       help="also build into a temporary folder and check every internal link")
    check.set_defaults(run=cmd_check, parser=check)

    build = commands.add_parser("build", help="check the site, then write it to the output folder")
    build.add_argument("--site", default=".", help="site folder (default: .)")
    build.add_argument("--out", help="output folder (default: site.yaml's output, _site)")
    build.add_argument("--base-url", help="override site.yaml's base_url, e.g. https://example.org/briefing/")
    build.add_argument("--drafts", action="store_true", help="include draft articles")
    build.add_argument("--strict", action="store_true", help="treat warnings as errors")
    build.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    build.add_argument("--timings", action="store_true", help="print how long each stage took")
    build.set_defaults(run=cmd_build, parser=build)

    serve = commands.add_parser("serve", help="preview the site, rebuilding and reloading on every save")
    serve.add_argument("--site", default=".", help="site folder (default: .)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; ::1 for IPv6)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000; the next free one if taken)")
    serve.add_argument("--base-url", help="override site.yaml's base_url; the preview lives under its path")
    serve.add_argument("--open", action="store_true", help="open the preview in a browser")
    serve.set_defaults(run=cmd_serve, parser=serve)

    publish = commands.add_parser("publish", help="build, check links, and publish to a folder or a git branch")
    publish.add_argument("--to", required=True, metavar="TARGET",
                         help="a folder (a symlink to releases kept beside it) or git:REMOTE[#BRANCH] "
                              "(default branch gh-pages)")
    publish.add_argument("--site", default=".", help="site folder (default: .)")
    publish.add_argument("--base-url", help="override site.yaml's base_url")
    publish.add_argument("--dry-run", action="store_true", help="show what would be added, changed and removed")
    publish.add_argument("--rollback", action="store_true", help="point a folder target back at its previous release")
    publish.add_argument("--keep", type=int, default=5, help="releases kept beside a folder target (default: 5)")
    publish.add_argument("--strict", action="store_true", help="treat warnings as errors")
    publish.set_defaults(run=cmd_publish, parser=publish)

    init = commands.add_parser("init", help="create a new site that builds at once")
    init.add_argument("folder")
    init.add_argument("--title", default="My Briefing")
    init.set_defaults(run=cmd_init, parser=init)

    new = commands.add_parser("new", help="write a new file from a skeleton")
    new_kinds = new.add_subparsers(dest="kind", metavar="KIND")
    new_kinds.required = True
    new_article = new_kinds.add_parser("article", help="a dated article with the front matter skeleton")
    new_article.add_argument("title")
    new_article.add_argument("--site", default=".", help="site folder (default: .)")
    new_article.add_argument("--date", help="ISO date (default: today)")
    new_article.set_defaults(run=cmd_new, parser=new_article)
    new_actor = new_kinds.add_parser("actor", help="an actor file, content/actors/<id>.yaml, optional keys commented")
    new_actor.add_argument("name")
    # (dest "type": args.kind names the KIND of file, actor here)
    new_actor.add_argument("--kind", dest="type", default="person", metavar="KIND",
                           help="person, organization or state (default: person)")
    new_actor.add_argument("--id", help="the actor's id (default: the name's slug, e.g. mark-rutte)")
    new_actor.add_argument("--site", default=".", help="site folder (default: .)")
    new_actor.set_defaults(run=cmd_new, parser=new_actor)
    new_page = new_kinds.add_parser("page", help="a plain page (content/pages/<slug>.md), like about or methodology")
    new_page.add_argument("title")
    new_page.add_argument("--site", default=".", help="site folder (default: .)")
    new_page.set_defaults(run=cmd_new, parser=new_page)

    schema = commands.add_parser("schema", help="print the JSON Schema of front matter and actor files")
    schema.add_argument("--kind", choices=("all", *SOURCE_KINDS), default="all",
                        help="one kind of file only: article front matter, actor file, page or site.yaml")
    schema.set_defaults(run=cmd_schema, parser=schema)
    return parser


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, with a misspelt command or option answered by the closest real one, and an
    unknown option reported by the command it was given to (with that command's usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _check_subcommands(parser, argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        command: argparse.ArgumentParser = args.parser    # the one the leaf command set (make_parser)
        hint = ""
        if extra[0].startswith("--"):   # (compared without the dashes, which every option shares)
            options = {option[2:]: option for action in command._actions for option in action.option_strings
                       if option.startswith("--")}
            close = closest(extra[0][2:].split("=", 1)[0], options)
            hint = f" (did you mean '{options[close]}'?)" if close else ""
        elif not extra[0].startswith("-") and "--site" in command._option_string_actions \
                and os.path.isdir(extra[0]):
            # `briefing build mysite`, as `init mysite` was: the folder goes by --site
            from shlex import quote
            hint = f" (for the site in '{extra[0]}': --site {quote(extra[0])})"
        command.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    return args


def _check_subcommands(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A misspelt command (`briefing biuld`) or kind (`briefing new actr`) is refused by the
    parser it was given to, naming the closest; argparse's own message lists the choices only."""
    # (argparse keeps a parser's actions, the subcommands' among them, in no public attribute)
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not actions or not argv or argv[0].startswith("-"):
        return
    choices, what = actions[0].choices, (actions[0].metavar or "command").lower()
    if argv[0] not in choices:
        close = closest(argv[0], choices)
        hint = f" (did you mean '{close}'?)" if close else ""
        parser.error(f"unknown {what} '{argv[0]}'{hint}; the {what}s: {', '.join(choices)}")
    _check_subcommands(choices[argv[0]], argv[1:])


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parse_arguments(parser, argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"briefing {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ContentError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_CONTENT
    except KeyboardInterrupt:
        print(f"briefing {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `briefing schema | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def run() -> NoReturn:
    """The `briefing` command: main(), then exit at once.

    Tearing down the interpreter would free the model object by object (a quarter of a
    second at 10,000 articles) for nothing: every file is written and closed by then.
    """
    global _left_for_exit
    _left_for_exit = []
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left, or a closed stream: nothing to lose
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
