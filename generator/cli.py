"""The `briefing` command: check, build, serve, publish, init, new, schema.

Exit codes: 0 success, 1 content errors (or a failed publish), 2 usage errors.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ERROR, ContentError, Diagnostic, count_line

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


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
        site, diagnostics = load_site(site_dir, drafts=True)
    except ContentError as exc:
        site, diagnostics = None, list(exc.diagnostics)
    strict = args.strict or bool(site and site.config.strict)
    diagnostics = strictly(diagnostics, strict)
    if site is not None and args.links and not any(d.severity == ERROR for d in diagnostics):
        from .engine import Engine
        from .linkcheck import check_links

        result = Engine(site_dir, drafts=False).build()
        diagnostics += strictly(result.diagnostics, strict)
        if result.ok:
            diagnostics += check_links(result.files, site.config.base_path)
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


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema

    print(json.dumps(json_schema(), indent=2))
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
    check.add_argument("--links", action="store_true", help="also build in memory and check every internal link")
    check.set_defaults(run=cmd_check)

    schema = commands.add_parser("schema", help="print the JSON Schema of front matter and actor files")
    schema.set_defaults(run=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"briefing {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ContentError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_CONTENT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
