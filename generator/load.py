"""Read a site folder and turn it into the model: read → parse → resolve.

Reading is sources.py's (the only part that touches the disk); its names are here too.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from .cache import parse_all
from .config import site_config
from .errors import Diagnostic
from .model import Site, SiteConfig
from .parallel import no_gc
from .parse import Document, parse_document
from .resolve import resolve
from .sources import Source, kind_of, read_source, read_sources  # noqa: F401 - this module's names too
from .write import output_problem


def parse_sources(sources: Iterable[Source]) -> list[Document]:
    return [parse_document(s.kind, s.path, s.raw) for s in sources]


def configure(documents: Iterable[Document], site_dir: Path) -> tuple[SiteConfig, list[Diagnostic]]:
    """The site's settings from site.yaml, with its problems and a refused output folder."""
    site_doc = next(d for d in documents if d.kind == "site")
    config, problems = site_config(site_doc)
    refused = output_problem(site_dir, site_dir / config.output)
    if refused:
        line, column = site_doc.locate(("output",))
        problems.append(Diagnostic(site_doc.path, line, column, refused,
                                   "set output: to a folder of its own, like _site"))
    return config, list(site_doc.diagnostics) + problems


def load_site(site_dir: Path, *, drafts: bool = True, fast: bool = False) -> tuple[Site, list[Diagnostic]]:
    """The whole story and every problem found in it (check's pipeline).

    With `fast`, as a build reads it (`briefing check`): parsed on every core, through the
    parse cache, and resolved without the cyclic garbage collector walking the new model again
    and again (engine.Engine._resolve says why). Otherwise in this process, no cache.
    """
    sources = read_sources(site_dir)
    if fast:
        documents, cache_written = parse_all(site_dir, sources, use_cache=True, fork=True)
    else:
        documents, cache_written = parse_sources(sources), lambda: None
    del sources
    try:
        config, problems = configure(documents, site_dir)
        content = [d for d in documents if d.kind != "site"]
        with no_gc() if fast else contextlib.nullcontext():
            site, resolve_problems = resolve(config, content, drafts=drafts)
    finally:
        cache_written()
    problems += [p for d in content for p in d.diagnostics] + resolve_problems
    return site, problems
