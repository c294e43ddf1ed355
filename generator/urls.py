"""Where each page lives: one place that maps entities to URLs and output files.

URLs are site-relative paths without the base path ('briefings/x/'); `Urls.url` puts the base
URL's path in front, so the same site renders correctly under any subpath.
"""
from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("briefings", "actors", "proposals", "questions", "timeline", "tags", "page", "static",
            "feed.xml", "sitemap.xml", "robots.txt", "404.html", "__briefing__")


def page_path(kind: str, ident: str = "", number: int = 1) -> str:
    """The site-relative URL of a page, e.g. page_path('actor', 'mark-rutte') == 'actors/mark-rutte/'.

    `number` is the page of a paginated tag: page_path('tag', 'nato', 2) == 'tags/nato/page/2/'.
    """
    if kind == "tag" and number > 1:
        return f"tags/{ident}/page/{number}/"
    if kind == "home":
        return "" if not ident or ident == "1" else f"page/{ident}/"
    if kind == "briefing":
        return f"briefings/{ident}/"
    if kind in ("actor", "proposal", "question", "tag"):
        return f"{kind}s/{ident}/"
    if kind in ("actors", "proposals", "questions", "timeline", "tags"):
        return f"{kind}/"
    if kind == "page":
        return f"{ident}/"
    raise ValueError(f"unknown page kind {kind!r}")


def output_file(url: str) -> str:
    """The file a site-relative URL is written to: 'briefings/x/' -> 'briefings/x/index.html'."""
    if url == "" or url.endswith("/"):
        return url + "index.html"
    return url


@dataclass(frozen=True, slots=True)
class Urls:
    """Builds links under a base path such as '/' or '/briefing/'."""

    base_path: str = "/"

    def url(self, site_relative: str) -> str:
        return self.base_path + site_relative.lstrip("/")

    def page(self, kind: str, ident: str = "", number: int = 1) -> str:
        return self.url(page_path(kind, ident, number))
