"""A CLI rebuild after edits to articles' text alone, without reading the model.

An edit is body-only when the article's front matter, `[[references]]` and quote places are as
they were (engine.patch_bodies); every page but the article's briefing is then as it was, and
in that briefing only the body's HTML changes. The theme's briefing template writes the body
in one place, between `BODY_BEFORE` and `BODY_AFTER`, and nothing else on the page reads the
text. So the build that leaves a state also leaves, for each article, what rendering its body
takes and what telling a body-only edit takes (`BodyInputs`, in the bodies file beside the
story); a rebuild then renders each new body and writes it into the page on disk in place of
the old one. Reading the model instead was 0.6 s of a 1.5 s rebuild at 10,000 articles.

Anything unusual (the site's own templates, a page on disk that is not the one the last build
wrote, a body whose HTML would hold a marker) and `splice_bodies` says None: the caller patches
the model as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ContentError
from .markdown import REFERENCE, quote_anchors, reference_label, render_body
from .model import Actor, Article, Site, SiteConfig
from .parse import Document
from .pickles import load
from .urls import Urls, output_file, page_path
from .write import file_hash, safe_output_path

Spans = tuple[tuple[str, "tuple[int, int] | None"], ...]   # (a quote's text, its place in the text)

BODIES_FILE = "build-bodies.pickle"   # (token, config, {source path: BodyInputs})

# where the theme's briefing.html writes {{ body }}: a test checks them against the template
BODY_BEFORE = b'<section class="full-text">\n  <h2>Full text</h2>\n  <div class="body">\n'
BODY_AFTER = b'\n  </div>\n</section>\n</article>\n'


@dataclass(frozen=True, slots=True)
class BodyInputs:
    """What an article's body needs besides its text, and what its text held, for one build."""

    output: str                                   # its briefing's output path
    references: frozenset[str]                    # the ids its text [[referenced]]
    spans: Spans                                  # each quote's text and place in the text
    labels: tuple[tuple[str, str, str], ...]      # (id, kind, label) of each reference that resolves
    anchors: tuple[tuple[str, str], ...]          # markdown.quote_anchors, in its order
    actors: tuple[Actor, ...]                     # the actors it may link, as of the article


def places(article: Article) -> tuple[frozenset[str], Spans]:
    """What an edit of the article's text must leave as it was to be body-only: the ids its text
    [[references]], and each quote's text (its own and its positions') with its place in the text."""
    quotes = [*article.quotes, *(p.quote for u in article.proposals for p in u.positions if p.quote)]
    return frozenset(REFERENCE.findall(article.body)), tuple((q.text, q.span) for q in quotes)


def keeps_places(doc: Document, references: frozenset[str], spans: Spans) -> bool:
    """True when the edited document's text references the same ids and holds each quote where it was."""
    return frozenset(REFERENCE.findall(doc.body)) == references and all(doc.spans.get(t) == span for t, span in spans)


def body_inputs(site: Site) -> dict[str, BodyInputs]:
    """Every article's BodyInputs, by its source path (for the state's writer)."""
    found = {}
    for article in site.articles:
        references, spans = places(article)
        labels = tuple((ident, *label) for ident in sorted(references)
                       if (label := reference_label(site, ident)) is not None)
        found[article.path] = BodyInputs(output_file(page_path("briefing", article.slug)), references, spans,
                                         labels, tuple(quote_anchors(article).items()), article.actors)
    return found


def load_bodies(site_dir: Path, token: str) -> tuple[SiteConfig, dict[str, BodyInputs]] | None:
    """The bodies file's config and inputs, if the build that left the state `token` wrote it."""
    loaded = load(site_dir, BODIES_FILE)
    if not isinstance(loaded, tuple) or len(loaded) != 3:
        return None
    saved, config, bodies = loaded
    if saved != token or not isinstance(config, SiteConfig) or not isinstance(bodies, dict):
        return None
    return config, bodies


def splice_bodies(out_dir: Path, hashes: dict[str, str], config: SiteConfig, bodies: dict[str, BodyInputs],
                  documents: list[Document]) -> dict[str, bytes] | None:
    """The edited articles' briefings (output path -> page), each the page on disk with its new
    body written in; None unless every edit is body-only and every page can be spliced."""
    urls = Urls(config.base_path)
    pages = {}
    for doc in documents:
        inputs = bodies.get(doc.path)
        if doc.kind != "article" or not doc.ok or inputs is None:
            return None
        if not keeps_places(doc, inputs.references, inputs.spans):
            return None
        try:
            old = safe_output_path(out_dir, inputs.output).read_bytes()
        except (OSError, ContentError):   # (gone, or a path no build writes: a tampered file)
            return None
        if file_hash(old) != hashes.get(inputs.output):
            return None   # not the page the last build wrote
        labels = {ident: (kind, label) for ident, kind, label in inputs.labels}
        html = render_body(doc.body, config.allow_html, labels.get, urls, inputs.actors, dict(inputs.anchors))
        page = splice(old, html.encode("utf-8"))
        if page is None:
            return None
        pages[inputs.output] = page
    return pages


def splice(page: bytes, body: bytes) -> bytes | None:
    """`page` with the body between its markers replaced by `body`; None unless each marker is
    there exactly once, in order, and `body` holds neither."""
    if page.count(BODY_BEFORE) != 1 or page.count(BODY_AFTER) != 1 or BODY_BEFORE in body or BODY_AFTER in body:
        return None
    start = page.index(BODY_BEFORE) + len(BODY_BEFORE)
    end = page.index(BODY_AFTER)
    if end < start:
        return None
    return page[:start] + body + page[end:]
