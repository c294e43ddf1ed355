"""The incremental build engine shared by `build`, `serve` and `publish`.

One pipeline, kept in memory between runs: read → parse → resolve → plan → render. `build()`
runs it all; `update(paths)` re-reads and re-parses only the files that changed, resolves the
story again (cheap), and re-renders only the pages whose dependencies (plan.py) changed, or
everything when a template, a static file or site.yaml changed. Writing is not its job: the
caller writes `files` (`write.write_output`) or serves them from memory.
"""
from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from . import cache as parse_cache
from .assets import Assets, load_assets, uses_theme_templates
from .errors import ERROR, ContentError, Diagnostic
from .extras import extra_files
from .load import configure
from .model import Article, Site, SiteConfig
from .ondemand import PageRenderer, Pending, shown, shows_change
from .packed import Links, asset_links, pack, unpack
from .parallel import MIN_ITEMS, in_background, map_forked, no_gc
from .parse import Document, parse_document
from .pickles import CACHE_DIR
from .plan import DepIndex, PagePlan, briefing_plan, changed_deps, plan_site
from .resolve import Fold, resolve_again
from .sources import SITE_FILE, Source, kind_of, read_source, read_sources
from .splice import keeps_places, load_bodies, places, splice_bodies
from .state import BuildState, load_model, load_story
from .urls import Urls, output_file, page_path
from .write import Staged, Staging

if TYPE_CHECKING:
    import jinja2

# Jinja (and render.py) are imported where pages are rendered, not above: a rebuild after a text
# edit writes the new bodies into the pages on disk (splice.py) and renders no template, and
# importing Jinja was a sixth of its time at 1,000 articles.


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What one run of the pipeline produced.

    `files` maps output paths ('briefings/x/index.html', 'static/style.3fa2c1d4.css') to bytes.
    When the run failed (`ok` is False) `files` is still the last good site, so a preview can
    keep serving it while it shows `diagnostics`. A preview's engine keeps its pages packed
    (packed.py): `content(path)` gives any file's bytes as they are to be served or written.
    """

    ok: bool
    diagnostics: tuple[Diagnostic, ...]
    files: Mapping[str, bytes]
    changed: frozenset[str]     # output paths added or changed against the previous good result
    removed: frozenset[str]     # output paths the previous good result had and this one has not
    seconds: float
    rendered: int = 0           # pages rendered by this run (the rest were reused)
    # pages an incremental CLI build knows are unchanged in the output folder without holding
    # their bytes (state.py); only `write_output(kept=...)` may be given such a result
    kept: frozenset[str] = frozenset()
    # pages handed to the engine's `staging` as they were rendered, instead of kept in `files`;
    # only `write_output(staged=..., staging=...)` may be given such a result
    staged: Mapping[str, Staged] = field(default_factory=dict)
    links: Links = ()           # the static files' URLs packed pages are unpacked with

    def content(self, path: str) -> bytes:
        value = self.files[path]
        if type(value) is Pending:   # a preview's page no one asked for yet (ondemand.py)
            value = value.content()
        return unpack(value, self.links)


@dataclass(frozen=True, slots=True)
class OnScreen:
    """The pages a preview's browsers show, rendered before the rest of a rebuild and shown at once.

    At 10,000 articles a title edit renders ~16 pages (the briefing, its actors', proposals' and
    tags' pages, the indexes), the feeds and the sitemap: ~0.5 s on a slow machine, of which
    the page on screen is ~15 ms. With this, `update` renders the pages `pages()` names first,
    the smallest first, and after each hands `show` a result of its own (the last good site
    with the pages rendered so far new) before it renders the rest; `hugo server`'s fast render
    does the same for the pages its browsers visited.
    """

    pages: Callable[[], Collection[str]]   # output paths, e.g. 'briefings/x/index.html'
    show: Callable[[BuildResult], None]


class Builder(Protocol):
    """What the dev server needs from the engine."""

    base_path: str              # the URL path the site lives under, e.g. '/briefing/'

    def build(self) -> BuildResult:
        """Run the whole pipeline."""

    def update(self, paths: Iterable[Path]) -> BuildResult:
        """Run again after these files (absolute paths) changed, were created or deleted."""


# A CLI rebuild patches the previous state for at most this many files edited since it was made;
# past that it resolves the story again and leaves a new state (re-rendering the edited articles
# of every earlier rebuild on each one would cost more than that).
BODY_ONLY_LIMIT = 50


class Engine:
    """Builds one site, remembering each stage's values so the next run redoes only what changed."""

    def __init__(self, site_dir: Path, *, drafts: bool = False, base_url: str | None = None,
                 strict: bool = False, use_cache: bool = True, parallel: bool = True,
                 staging: Staging | None = None, defer_deps: bool = False, pack_pages: bool = False,
                 on_request: bool = False):
        self.site_dir = Path(site_dir).resolve()
        self.drafts = drafts
        self.base_url = base_url
        self.strict = strict
        self.use_cache = use_cache
        # fork workers for big runs; off where threads are running (the preview turns it on for
        # its first build alone, before its threads start: serve.PreviewServer._first_build)
        self.parallel = parallel
        self.staging = staging        # where rendered pages go instead of memory (a CLI build)
        # a preview's: pages kept in memory compressed (packed.py), and those no browser was
        # sent rendered only when one asks for them (ondemand.py; packed, as a pending page
        # links the static files of the run that renders it)
        self.pack_pages = pack_pages or on_request
        self.on_request = on_request
        self.renderer = PageRenderer()
        self.fold: Fold | None = None    # the last resolve's walk through the story (resolve.Fold)
        self.staged: dict[str, Staged] = {}
        self.documents: dict[str, Document] = {}     # by site-relative path
        self.site: Site | None = None
        self.config: SiteConfig | None = None         # the last good run's (a spliced rebuild has no site)
        self.plans: dict[str, PagePlan] = {}          # by output path
        self.pages: dict[str, bytes] = {}             # rendered pages, by output path
        self.files: dict[str, bytes] = {}             # the last good site
        self.links: Links = ()                        # its packed pages' links (packed.asset_links)
        self.env: jinja2.Environment | None = None
        self.fine_deps = True         # plan.plan_site(fine=...): the site uses the theme's templates as they are
        self.assets: Assets | None = None
        self.base_path = "/"
        self.diagnostics: tuple[Diagnostic, ...] = ()   # the last good run's warnings
        self.last_ok = False
        self.timings: dict[str, float] = {}
        self.disk_hashes: dict[str, str] = {}            # from a previous build's state (state.py)
        self.disk_assets: dict[str, str] | None = None
        self.kept: frozenset[str] = frozenset()
        self.feeds: dict[str, tuple] = {}   # extras.extra_files' cache
        self.changed_templates: set[str] = set()          # edited since the last good run
        self.last_assets: Assets | None = None
        # what the model was made from, for the next CLI build's state (state.py)
        self.source_digests: dict[str, str] = {}
        self.front_digests: dict[str, str] = {}
        self.reused_state = False     # the last build patched a previous state (still valid) instead of resolving
        self.on_screen: OnScreen | None = None   # a preview's open pages, rendered and shown first (OnScreen)
        # A first run renders everything: it needs no dependencies to know what to render. A CLI
        # build keeps its plans only in the state, which a detached process writes after the
        # build: with `defer_deps`, a first run plans without them (plan_site(deps=False)) and
        # `plans_with_deps` finds them in that process, off the time the user waits. The run
        # after such a run renders everything again, with them.
        self.defer_deps = defer_deps
        self.deps_left_out = False
        # A story taken up (state.Story) brings its briefings' and entity pages' plans without
        # their dependencies, and this index of them: enough to find the pages an edit touched.
        # The plans of that run are then the old ones mixed with new: plans_with_deps plans again.
        self.deps_index: DepIndex | None = None

    # ------------------------------------------------------------------ runs
    def build(self, sources: list[Source] | None = None, previous: BuildState | None = None) -> BuildResult:
        """Everything from the disk up (or from `sources` already read), reusing cached parse results.

        With `previous` (the state a build into the same output folder left), only the pages
        whose dependencies changed are rendered; the rest are reported as `kept`.
        """
        started = time.perf_counter()
        try:
            sources = read_sources(self.site_dir) if sources is None else sources
        except ContentError as exc:
            return self._failed(exc.diagnostics, started)
        self.timings = {"read": time.perf_counter() - started}
        if previous is not None:
            fast = self._body_only_build(sources, previous, started)
            self.reused_state = fast is not None and fast.ok
            if fast is not None:
                return fast
            # only the edited files' bytes are kept while the story is read (the caller has handed them over)
            present = {s.path: s.digest for s in sources}
            edited = [s for s in sources if previous.digests.get(s.path) != s.digest]
            del sources
            if self._take_up_story(previous, present, edited):
                return self._run(started, everything=False)
            del edited
            try:
                sources = read_sources(self.site_dir)   # no story to take up (rare): start over
            except ContentError as exc:
                return self._failed(exc.diagnostics, started)
        with self._timed("parse"):
            documents, cache_written = parse_cache.parse_all(self.site_dir, sources, use_cache=self.use_cache,
                                                             fork=self.parallel)
            self._adopt({d.path: d for d in documents})
        del documents, sources  # parsed: let go of the bytes
        self.fold, self.site = None, None
        try:
            if previous is not None:  # no story to compare with: every page is rendered again
                self.plans, self.pages = {}, {}
                self.disk_hashes, self.disk_assets = previous.hashes, previous.asset_names
            return self._run(started, everything=True)
        finally:
            cache_written()  # the parse cache, written meanwhile by a forked child

    def _take_up_story(self, previous: BuildState, present: dict[str, str], edited: list[Source]) -> bool:
        """Where the previous CLI build left the story (state.Story), with the edited files parsed again.

        The new model is then resolved by resuming the story's fold, as a preview does after a
        save, and compared with the story's model (`_render`). False when there is no story.
        """
        with self._timed("story"):
            story = load_story(self.site_dir, previous)
        if story is None:
            return False
        with self._timed("parse"):
            documents = {path: doc for path, doc in story.documents.items() if present.get(path) == doc.digest}
            with no_gc(keep=True):
                documents.update((doc.path, doc) for doc in parse_cache.parse_sources(edited, fork=self.parallel))
        if documents.keys() != present.keys():
            return False  # cannot be (the story was resolved from previous.digests); but it would be wrong
        self._adopt(documents)
        self.fold, self.site, self.feeds = story.fold, story.site, story.feeds
        self.plans, self.pages, self.deps_index = story.plans, {}, story.deps_index
        self.disk_hashes, self.disk_assets = previous.hashes, previous.asset_names
        return True

    def _adopt(self, documents: dict[str, Document]) -> None:
        """The whole site's documents (by path), as a build starts on them: they are long-lived
        from here on (see _run), and the next CLI build's state records what they were made from."""
        self.documents = documents
        gc.freeze()
        self.source_digests = {path: doc.digest for path, doc in documents.items()}
        self.front_digests = {path: doc.front_digest for path, doc in documents.items()}
        self.env, self.assets = None, None

    def update(self, paths: Iterable[Path]) -> BuildResult:
        """Run again after these files changed, appeared or disappeared."""
        started = time.perf_counter()
        everything = content_changed = False
        reparse: list[Source] = []
        for path in paths:
            try:
                relative = Path(path).resolve().relative_to(self.site_dir).as_posix()
            except ValueError:
                continue
            top = relative.split("/", 1)[0]
            if top == "templates":
                # reload them all (cheap); re-render only the pages whose templates use this one
                self.env = None
                self.changed_templates.add(relative.split("/", 1)[1] if "/" in relative else "")
                continue
            if top == "static":
                self.assets = None
                continue
            if relative == SITE_FILE:
                everything = True
            inside = [d for d in self.documents if d.startswith(relative + "/")]
            if inside:  # a folder moved or deleted: look again at every document it held
                for doc_path in inside:
                    source = read_source(self.site_dir, doc_path)
                    if source is None:
                        content_changed |= self.documents.pop(doc_path, None) is not None
                    else:
                        reparse.append(source)
                continue
            if kind_of(relative) is None:
                continue
            source = read_source(self.site_dir, relative)
            if source is None:
                content_changed |= self.documents.pop(relative, None) is not None
            else:
                reparse.append(source)
        if len(reparse) == 1 and not everything:
            fast = self._body_only_update(reparse[0], started)
            if fast is not None:
                return fast
        if not reparse and not content_changed and not everything and self.last_ok and self.site is not None:
            return self._run(started, everything=False, same_model=True)  # templates or static files only
        for source in reparse:  # a handful of files: the disk cache would cost more than it saves
            self.documents[source.path] = parse_document(source.kind, source.path, source.raw)
        if SITE_FILE not in self.documents:
            return self.build()  # site.yaml gone: let read_sources say so
        return self._run(started, everything=everything)

    def _body_only_update(self, source: Source, started: float) -> BuildResult | None:
        """The common edit while writing: an article's text changed, its front matter did not.

        Then the story is unchanged but for that article's body, so the model is patched and
        only its briefing page is rendered again. None when the edit is anything more (front
        matter, a quote found elsewhere or no longer, other [[references]]): the caller then
        runs the whole pipeline.
        """
        old, site = self.documents.get(source.path), self.site
        if old is None or site is None or not self.last_ok:
            return None
        new = parse_document(source.kind, source.path, source.raw)
        patched = patch_bodies(site, [new], {new.path: old.front_digest})
        if patched is None:
            return None
        new_site, slugs = patched
        import jinja2
        with self.renderer.lock:   # (ondemand.py)
            try:
                pages = self._render_briefings(new_site, slugs)
            except jinja2.TemplateError as exc:
                return self._failed([template_diagnostic(exc, self.site_dir)], started)
            self.documents[source.path] = new
            if self.fold is not None:
                self.fold.patch_body(new)
            self.site = new_site
            self.pages.update(pages)
            changed = frozenset(p for p, html in pages.items() if shows_change(self.files.get(p), html))
            self.files = {**self.files, **pages}
            self._commit_renderer(new_site, self.links)
        return BuildResult(True, self.diagnostics, self.files, changed, frozenset(),
                           time.perf_counter() - started, len(pages), links=self.links)

    def _body_only_build(self, sources: list[Source], previous: BuildState, started: float) -> BuildResult | None:
        """A CLI rebuild after edits to articles' text alone, straight from the previous build's state.

        Nothing but the edited files is parsed and the parse cache is not even read: the model
        is the state's, patched with the new bodies, and only their briefings are rendered. None
        when any edit is more than that (or a file came or went): the caller runs the pipeline.
        """
        if len(sources) != len(previous.digests):
            return None
        changed = [s for s in sources if previous.digests.get(s.path) != s.digest]
        if not changed or len(changed) > BODY_ONLY_LIMIT:
            return None
        documents = [parse_document(s.kind, s.path, s.raw) for s in changed]
        if any(d.front_digest != previous.fronts.get(d.path) for d in documents):
            return None   # front matter edited: patch_bodies would say so, after reading the model
        spliced = self._spliced_build(previous, documents, started)
        if spliced is not None:
            return spliced
        model = load_model(self.site_dir, previous)   # the story's first part alone
        patched = None if model is None else patch_bodies(model, documents, previous.fronts)
        if patched is None:
            return None
        assets = load_assets(self.site_dir)
        if dict(assets.names) != previous.asset_names:
            return None  # cannot be, as the state is made for these static files; but pages link them
        site, slugs = patched
        import jinja2

        from .render import make_environment
        self.site, self.plans, self.assets = site, {}, assets   # (_render_briefings plans its pages)
        self.env = make_environment(self.site_dir, auto_reload=False, bytecode_dir=self._bytecode_dir())
        try:
            with self._timed("render"):
                pages = self._render_briefings(site, slugs)
        except jinja2.TemplateError as exc:
            return self._failed([template_diagnostic(exc, self.site_dir)], started)
        return self._body_only_result(previous, documents, site.config, pages, started)

    def _spliced_build(self, previous: BuildState, documents: list[Document], started: float) -> BuildResult | None:
        """A body-only rebuild that writes the new bodies into the pages on disk (splice.py),
        reading neither the model nor the templates; None when it cannot."""
        if not uses_theme_templates(self.site_dir):
            return None   # (splice.py knows where the theme's briefing holds its body, not another's)
        loaded = load_bodies(self.site_dir, previous.token)
        if loaded is None:
            return None
        config, bodies = loaded
        with self._timed("render"):
            pages = splice_bodies(Path(previous.out_dir), previous.hashes, config, bodies, documents)
        if pages is None:
            return None
        self.site, self.plans = None, {}
        return self._body_only_result(previous, documents, config, pages, started)

    def _body_only_result(self, previous: BuildState, documents: list[Document], config: SiteConfig,
                          pages: dict[str, bytes], started: float) -> BuildResult:
        """A body-only rebuild's outcome: these briefings written, every other file kept, and the
        previous build's state still the one to compare with (its digests, fronts and warnings)."""
        self.config, self.diagnostics, self.last_ok = config, previous.diagnostics, True
        self.source_digests = {**previous.digests, **{d.path: d.digest for d in documents}}
        self.front_digests = previous.fronts
        self.pages, self.files = pages, dict(pages)
        self.kept = frozenset(previous.hashes) - set(pages)
        self.base_path = config.base_path
        return BuildResult(True, previous.diagnostics, self.files, frozenset(pages), frozenset(),
                           time.perf_counter() - started, len(pages), self.kept)

    def _render_briefings(self, site: Site, slugs: Iterable[str]) -> dict[str, bytes]:
        from .render import render_page
        urls = Urls(site.config.base_path)
        pages = {}
        for slug in slugs:
            output = output_file(page_path("briefing", slug))
            # a CLI body-only rebuild has no plans at hand (they are in the story's second part)
            plan = self.plans.get(output) or briefing_plan(site, site.by_slug[slug])
            html = render_page(self.env, site, plan, urls, self.assets)
            pages[output] = pack(html, self.links) if self.pack_pages else html
        return pages

    # ------------------------------------------------------------------ stages
    def _bytecode_dir(self) -> Path | None:
        return self.site_dir / CACHE_DIR / "templates" if self.use_cache else None

    def _run(self, started: float, *, everything: bool, same_model: bool = False) -> BuildResult:
        """Resolve, plan and render; with `same_model`, only render again (templates or static changed)."""
        if same_model:
            site, config, diagnostics = self.site, self.site.config, list(self.diagnostics)
        else:
            # Resolving a whole site keeps one core; a child compiles the templates on the other
            # meanwhile, so the render workers load them instead of each compiling them again.
            bytecode_dir = self._bytecode_dir()
            first = self.site is None and self.parallel and len(self.documents) >= MIN_ITEMS
            from .render import compile_templates
            compiled = in_background(lambda: compile_templates(self.site_dir, bytecode_dir)) \
                if first and bytecode_dir is not None else lambda: None
            try:
                site, config, diagnostics = self._resolve()
            finally:
                compiled()
            if any(d.severity == ERROR for d in diagnostics):
                return self._failed(diagnostics, started)
        # a browser asking for a pending page waits for the run to decide and commit (ondemand.py)
        with self.renderer.lock:
            return self._render_and_commit(site, config, diagnostics, started, everything, same_model)

    def _render_and_commit(self, site: Site, config: SiteConfig, diagnostics: list[Diagnostic], started: float,
                           everything: bool, same_model: bool) -> BuildResult:
        import jinja2

        from .render import make_environment
        try:
            fresh_env = self.env is None
            if fresh_env:
                # update() drops it on a template edit
                self.env = make_environment(self.site_dir, auto_reload=False, bytecode_dir=self._bytecode_dir())
                self.fine_deps = uses_theme_templates(self.site_dir)
            if self.assets is None:
                old_assets = self.last_assets
                self.assets = load_assets(self.site_dir)
                if self.disk_assets is not None and dict(self.assets.names) != self.disk_assets:
                    everything = True  # every page on disk links the stylesheet by its fingerprinted name
                elif old_assets is not None and old_assets.names != self.assets.names:
                    self._relink_assets(old_assets, self.assets, Urls(config.base_path))
            links = asset_links(self.assets, Urls(config.base_path)) if self.pack_pages else ()
            early = self._show_early(everything, diagnostics, started, links)
            files, rendered = self._render(site, everything, same_model, links, early, fresh_env)
        except jinja2.TemplateError as exc:
            return self._failed([template_diagnostic(exc, self.site_dir)] + diagnostics, started)
        except ContentError as exc:
            return self._failed(list(exc.diagnostics) + diagnostics, started)
        previous = self.files
        changed = frozenset(p for p, data in files.items() if shows_change(previous.get(p), data))
        changed |= {p for p, staged in self.staged.items() if staged.written}
        removed = frozenset(set(previous) - set(files) - set(self.staged))
        self.site, self.files, self.links = site, files, links
        self.config = config
        self.diagnostics, self.last_ok = tuple(diagnostics), True
        self.changed_templates, self.last_assets = set(), self.assets
        self.base_path = config.base_path
        self._commit_renderer(site, links)
        return BuildResult(True, tuple(diagnostics), files, changed, removed,
                           time.perf_counter() - started, rendered, self.kept, self.staged, links)

    def _commit_renderer(self, site: Site, links: Links) -> None:
        """Pending pages are rendered from here on as this good run would have them (ondemand.py)."""
        self.renderer.commit(self.env, site, Urls(site.config.base_path), self.assets, links, self.pages)

    def _show_early(self, everything: bool, diagnostics: list[Diagnostic], started: float,
                    links: Links) -> tuple[frozenset[str], Callable[[dict[str, bytes]], None]] | None:
        """The pages on screen (OnScreen) and what `_render` calls with those it rendered first, or None.

        Only where the rest of the site can stay as the last good run left it for a moment: not
        after a static file changed (the pages would link files not served yet) nor when
        everything is rendered again (site.yaml: the base path may move), and never into a
        staging folder.
        """
        on_screen = self.on_screen
        if on_screen is None or everything or self.assets is not self.last_assets or self.staging is not None:
            return None

        def show(pages: dict[str, bytes]) -> None:
            changed = frozenset(p for p, data in pages.items() if shows_change(self.files.get(p), data))
            if changed:
                on_screen.show(BuildResult(True, tuple(diagnostics), {**self.files, **pages}, changed, frozenset(),
                                           time.perf_counter() - started, len(pages), links=links))
        return frozenset(on_screen.pages()), show

    def _resolve(self) -> tuple[Site, SiteConfig, list[Diagnostic]]:
        documents = sorted(self.documents.values(), key=lambda d: d.path)
        config, problems = configure(documents, self.site_dir)
        if self.base_url is not None:
            config = replace(config, base_url=self.base_url if self.base_url.endswith("/") else self.base_url + "/")
        content = [d for d in documents if d.kind != "site"]
        # The model is made of a million small objects that live as long as the build, and hardly
        # any garbage with cycles: collecting while they are made only walks them again and again
        # (nearly half of resolve's time at 10,000 articles). Frozen once made (below).
        with self._timed("resolve"), no_gc(keep=True):
            # resume the last fold (a preview's, or the story a CLI build took up) where the story first differs
            site, resolve_problems, self.fold = resolve_again(config, content, self.fold, drafts=self.drafts)
        # The documents and the model live as long as the build: keep the cyclic garbage
        # collector from walking them again and again (a third of resolve's time at 5,000
        # articles), and keep forked workers from touching, and so copying, their pages.
        gc.freeze()
        diagnostics = problems + [p for d in content for p in d.diagnostics
                                  if self.drafts or not d.data.get("draft")] + resolve_problems
        strict = self.strict or config.strict
        return site, config, sorted((d.as_error() if strict else d for d in diagnostics), key=Diagnostic.sort_key)

    def _render(self, site: Site, everything: bool, same_model: bool, links: Links,
                early: tuple[frozenset[str], Callable[[dict[str, bytes]], None]] | None = None,
                fresh_env: bool = False) -> tuple[dict[str, bytes], int]:
        import jinja2

        from .render import render_page
        urls = Urls(site.config.base_path)
        with self._timed("plan"), no_gc(keep=True):   # (as resolve: plans live as long as the build)
            if same_model:
                plans, dirty, indexed = self.plans, frozenset(), set()
            else:
                old = self.site
                dirty = None if everything or old is None or self.deps_left_out else changed_deps(old, site)
                last = None if dirty is None else (self.plans, dirty)
                with_deps = not (self.defer_deps and old is None)   # (a first run: nothing to reuse)
                plans = {p.output: p for p in plan_site(site, per_page=site.config.per_page, fine=self.fine_deps,
                                                        last=last, before=old, deps=with_deps)}
                # (a plan kept from the story has no dependencies of its own: the index knows them)
                indexed = self.deps_index.pages_using(dirty) if dirty is not None and self.deps_index else set()
                self.deps_left_out = not with_deps or (last is not None and self.deps_index is not None)
                self.deps_index = None
                del old
        stale_templates = self._templates_using(self.changed_templates, {p.template for p in plans.values()})
        pages: dict[str, bytes] = {}
        todo: list[PagePlan] = []
        kept: set[str] = set()
        for output, plan in plans.items():
            old = self.pages.get(output)
            before = self.plans.get(output)
            reusable = dirty is not None and (before is plan or before == plan) and not (plan.deps & dirty) \
                and output not in indexed and plan.template not in stale_templates
            if reusable and old is not None:
                pages[output] = old
            elif reusable and output in self.disk_hashes:
                kept.add(output)
            else:
                todo.append(plan)

        deferred: list[PagePlan] = []
        if self.on_request:   # only the pages a browser was sent; the rest when one asks (ondemand.py)
            split: tuple[list[PagePlan], list[PagePlan]] = ([], [])
            for plan in todo:
                split[shown(self.pages.get(plan.output))].append(plan)
            deferred, todo = split
        staging = self.staging

        def render_one(plan: PagePlan) -> bytes | Staged | Diagnostic:
            try:
                html = render_page(self.env, site, plan, urls, self.assets)
            except jinja2.TemplateError as exc:  # made here, where the traceback still points into the template
                return template_diagnostic(exc, self.site_dir)
            if staging is not None:
                return staging.stage(plan.output, html)
            return pack(html, links) if self.pack_pages else html   # (packed by the workers, when they run)

        first: list[PagePlan] = []
        show = None
        if early is not None:   # the pages on screen first (OnScreen), shown while the rest are rendered
            on_screen, show = early
            # smallest first, by their last version: a briefing (25 KiB) shows before the
            # timeline (3.8 MiB at 10,000 articles) another tab holds; each as soon as it is ready
            # (shown early even when they are all there is to render: the feeds and sitemap follow)
            first = sorted((p for p in todo if p.output in on_screen), key=lambda p: _size(self.files.get(p.output)))
            todo = first + [p for p in todo if p.output not in on_screen]
        with self._timed("render"):
            results: list[bytes | Staged | Diagnostic] = []
            ready: dict[str, bytes] = {}
            for plan in first:
                results.append(render_one(plan))
                if isinstance(results[-1], Diagnostic):
                    show = None     # the run fails: nothing more is shown
                elif show is not None:
                    ready[plan.output] = results[-1]
                    show(dict(ready))
            rest = todo[len(first):]
            results += map_forked(render_one, rest) if self.parallel else [render_one(p) for p in rest]
            # With new templates, one page of each template is rendered now, so that a mistake
            # in one shows over every open page, as it did when every page was rendered.
            checked = {} if not fresh_env else \
                {p.output: render_one(p) for p in _first_of_each_template(deferred, {p.template for p in todo})}
        problems = [r for r in [*results, *checked.values()] if isinstance(r, Diagnostic)]
        if problems:
            raise ContentError(problems[:1])
        if staging is None:
            pages.update((plan.output, html) for plan, html in zip(todo, results, strict=True))
        else:
            self.staged = {plan.output: staged for plan, staged in zip(todo, results, strict=True)}
        for plan in deferred:
            pages[plan.output] = pending = Pending(plan, self.renderer)
            pending.data = checked.get(plan.output)
        pages = {output: pages[output] for output in plans if output in pages}  # plan order
        rendered = len(todo)
        self.plans, self.pages, self.kept = plans, pages, frozenset(kept)
        files = dict(pages)
        files.update(self.assets.files)
        with self._timed("feeds and sitemap"):
            files.update(extra_files(site, urls, plans.values(), self.feeds))
        return files, rendered

    def _templates_using(self, changed: set[str], names: set[str]) -> set[str]:
        """Which of the page templates `names` use (extend, include or import) a changed template."""
        if not changed:
            return set()
        import jinja2
        import jinja2.meta
        uses: dict[str, set[str]] = {}

        def closure(name: str) -> set[str]:
            if name not in uses:
                uses[name] = {name}
                try:
                    source = self.env.loader.get_source(self.env, name)[0]
                    referenced = jinja2.meta.find_referenced_templates(self.env.parse(source))
                except jinja2.TemplateError:
                    return uses[name]  # the render will report it
                for other in referenced:
                    if other is None:
                        uses[name] |= changed  # a name only known at run time: assume the worst
                    else:
                        uses[name] |= closure(other)
                        uses[name] |= {other.removeprefix("theme/")}
            return uses[name]

        return {name for name in names if closure(name) & changed}

    def plans_with_deps(self) -> dict[str, PagePlan]:
        """The last good run's plans with their dependencies (planned now if the run left them out)."""
        if not self.deps_left_out or self.site is None:
            return self.plans
        site = self.site
        return {p.output: p for p in plan_site(site, per_page=site.config.per_page, fine=self.fine_deps)}

    def _relink_assets(self, old: Assets, new: Assets, urls: Urls) -> None:
        """A static file changed: point the pages in memory at its new fingerprinted name.

        Only the asset URLs differ between the pages as they are and as they would render, so a
        byte replacement gives the same result as rendering every page again, in milliseconds.
        """
        swaps = [(urls.url(old.names[name]).encode(), urls.url(new.names[name]).encode())
                 for name in old.names if name in new.names and old.names[name] != new.names[name]]
        if any(name not in new.names for name in old.names):
            self.pages = {}  # a file went away: pages that linked it must render (and fail) again
            return
        if self.pack_pages:
            return  # packed pages hold marks for the links, not the names (packed.py)
        for output, html in self.pages.items():
            for before, after in swaps:
                html = html.replace(before, after)
            self.pages[output] = html

    @contextlib.contextmanager
    def _timed(self, stage: str):
        """Adds the time a stage takes to `timings` (seconds by stage, for --timings and profiles)."""
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - begin

    def _failed(self, diagnostics: Iterable[Diagnostic], started: float) -> BuildResult:
        self.last_ok = False  # the next run goes the whole way, so the model matches the files again
        return BuildResult(False, tuple(diagnostics), self.files, frozenset(), frozenset(),
                           time.perf_counter() - started, links=self.links)


def _first_of_each_template(plans: list[PagePlan], rendered: set[str]) -> list[PagePlan]:
    """The first of `plans` of each template not in `rendered`."""
    first: dict[str, PagePlan] = {}
    for plan in plans:
        if plan.template not in rendered:
            first.setdefault(plan.template, plan)
    return list(first.values())


def _size(value: bytes | Pending | None) -> int:
    """A page's size as it was last rendered (0 if never)."""
    if type(value) is Pending:
        value = value.data
    return len(value) if value is not None else 0


def patch_bodies(site: Site, documents: Iterable[Document],
                 fronts: Mapping[str, str]) -> tuple[Site, list[str]] | None:
    """The model with these articles' new bodies, and their slugs; None unless that is all that changed.

    An edit is body-only when the article is in the model, parses cleanly, its front matter is
    the text it was (`fronts`: path -> front matter digest when the model was made), its
    [[references]] are the same ids, and each of its quotes is found where it was (or is
    still missing). Every page but the article's briefing is then as it was.
    """
    by_path = {a.path: a for a in site.articles}
    patched: dict[str, Article] = {}
    for new in documents:
        article = by_path.get(new.path)
        if new.kind != "article" or article is None or not new.ok or new.front_digest != fronts.get(new.path):
            return None
        if not keeps_places(new, *places(article)):
            return None
        patched[article.slug] = replace(article, body=new.body, body_line=new.body_line)
    articles = tuple(patched.get(a.slug, a) for a in site.articles)
    return replace(site, articles=articles, by_slug={**site.by_slug, **patched}), list(patched)


def template_diagnostic(exc: jinja2.TemplateError, site_dir: Path) -> Diagnostic:
    """A template mistake as a diagnostic at the template's file and line."""
    filename = getattr(exc, "filename", None) or getattr(exc, "name", None)
    line = getattr(exc, "lineno", 0) or 0
    if not filename:
        tb = exc.__traceback__
        while tb is not None:  # Jinja rewrites frames so they point into the template source
            code = tb.tb_frame.f_code.co_filename
            if code.endswith((".html", ".xml", ".txt", ".j2")):
                filename, line = code, tb.tb_lineno
            tb = tb.tb_next
    path = str(filename or "templates")
    try:
        path = Path(path).resolve().relative_to(site_dir).as_posix()
    except ValueError:
        pass
    return Diagnostic(path, line, 0, f"template error: {exc.message or exc}",
                      "fix the template; the last good site is kept")
