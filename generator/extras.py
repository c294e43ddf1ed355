"""The files beside the pages: Atom feeds, sitemap.xml and robots.txt.

Dates come from the content (`date`, `updated`), never from file times, so the same input
gives the same bytes. URLs are absolute when the base URL names a host, as feeds and
sitemaps want; a site whose base URL is only a path gets path URLs in feeds and no sitemap.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from urllib.parse import urlsplit

from .model import Article, Site, When
from .plan import PagePlan
from .urls import Urls

FEED_ENTRIES = 50


# xml.sax.saxutils' escape and quoteattr, written out: importing that module brings urllib.request
# and http.client along, 14 ms at the start of every build (a front-matter rebuild takes 1.5 s).
def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    text = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace('"', "&quot;") + '"'


def absolute(site: Site, urls: Urls, relative: str) -> str:
    parts = urlsplit(site.config.base_url)
    path = urls.url(relative)
    return f"{parts.scheme}://{parts.netloc}{path}" if parts.scheme and parts.netloc else path


def has_host(site: Site) -> bool:
    parts = urlsplit(site.config.base_url)
    return bool(parts.scheme and parts.netloc)


def stamp(when: When) -> str:
    return when.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_change(article: Article) -> When:
    return article.updated if article.updated and article.updated.at > article.date.at else article.date


# --------------------------------------------------------------------------- feeds

def feed_paths(site: Site) -> dict[str, tuple[str, str, tuple[Article, ...]]]:
    """Output path -> (title, page URL, articles newest first) for every feed the site has."""
    newest = tuple(reversed(site.articles))
    feeds = {"feed.xml": (site.config.title, "", newest)}
    def newest_of(slugs: Sequence[str]) -> tuple[Article, ...]:
        # only the entries a feed holds: an actor of a long story is in thousands of briefings
        newest, seen = [], set()
        for slug in reversed(slugs):
            if slug not in seen:
                seen.add(slug)
                newest.append(site.by_slug[slug])
                if len(newest) == FEED_ENTRIES:
                    break
        return tuple(newest)

    for ident, actor in site.actors.items():
        feeds[f"actors/{ident}/feed.xml"] = (f"{actor.name} — {site.config.title}", f"actors/{ident}/",
                                              newest_of(site.actor_articles.get(ident, ())))
    for ident, proposal in site.proposals.items():
        feeds[f"proposals/{ident}/feed.xml"] = (f"{proposal.title} — {site.config.title}", f"proposals/{ident}/",
                                                 newest_of(proposal.articles))
    return feeds


def atom_feed(site: Site, urls: Urls, path: str, title: str, page: str, articles: Iterable[Article],
              empty_updated: When | None = None, entries: dict[int, str] | None = None) -> bytes:
    """One Atom feed; `empty_updated` dates it when it has no entries (extra_files: the site's last change).

    `entries` keeps each article's <entry> by id(article) for the feeds made after this one
    (the caller keeps the articles alive meanwhile): a briefing is in the site's feed and in
    those of its actors and proposals, the same text in each.
    """
    articles = tuple(articles)[:FEED_ENTRIES]
    entries = {} if entries is None else entries
    updated = max((last_change(a) for a in articles), key=lambda w: w.at, default=empty_updated)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(site.config.language)}>',
        f"  <title>{escape(title)}</title>",
        f"  <id>{escape(absolute(site, urls, path))}</id>",
        f'  <link rel="self" type="application/atom+xml" href={quoteattr(absolute(site, urls, path))}/>',
        f'  <link rel="alternate" type="text/html" href={quoteattr(absolute(site, urls, page))}/>',
        f"  <updated>{stamp(updated) if updated else '1970-01-01T00:00:00Z'}</updated>",
        f"  <author><name>{escape(site.config.title)}</name></author>",
    ]
    if site.config.description:
        lines.append(f"  <subtitle>{escape(site.config.description)}</subtitle>")
    for article in articles:
        entry = entries.get(id(article))
        if entry is None:
            entry = entries[id(article)] = _entry(site, urls, article)
        lines.append(entry)
    lines.append("</feed>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _entry(site: Site, urls: Urls, article: Article) -> str:
    link = absolute(site, urls, f"briefings/{article.slug}/")
    lines = [
        "  <entry>",
        f"    <title>{escape(article.title)}</title>",
        f"    <id>{escape(link)}</id>",
        f'    <link rel="alternate" type="text/html" href={quoteattr(link)}/>',
        f"    <published>{stamp(article.date)}</published>",
        f"    <updated>{stamp(last_change(article))}</updated>",
    ]
    if article.summary:
        lines.append(f"    <summary>{escape(article.summary)}</summary>")
    lines += [f"    <category term={quoteattr(tag)}/>" for tag in article.tags]
    lines.append("  </entry>")
    return "\n".join(lines)


# --------------------------------------------------------------------------- sitemap

# extra_files' cache entry (not a file) for lastmods: the last run's changes and each listing page's newest
LASTMODS = "lastmods"


def lastmods(site: Site, plans: Iterable[PagePlan], cache: dict | None = None) -> list[tuple[str, When | None]]:
    """(URL, the content's own last change) for every page in the sitemap: a briefing's own, or
    the newest of the briefings a page shows.

    An actor's, proposal's or tag's page shows hundreds of briefings at 10,000 articles, and
    finding each page's newest was ~100 ms of a preview's rebuild after a title edit. With a
    `cache` (extra_files'), a page that shows the same briefings as last time, none of whose
    last changes is another object now, keeps the newest it had: the same object max() would
    pick again. Checking that is a tuple comparison and a set's isdisjoint, both in C.
    """
    changed = {a.slug: last_change(a) for a in site.articles}
    before, newest_before = cache.get(LASTMODS, (None, {})) if cache is not None else (None, {})
    moved = None if before is None else {slug for slug, when in changed.items() if before.get(slug) is not when}
    newest_now: dict[str, tuple] = {}
    at = attrgetter("at")

    def newest(output: str, slugs: Sequence[str]) -> When | None:
        hit = newest_before.get(output)
        if hit is not None and moved is not None and (hit[0] is slugs or hit[0] == slugs) \
                and moved.isdisjoint(slugs):
            when = hit[1]
        else:
            when = max(map(changed.__getitem__, slugs), key=at, default=None)
        newest_now[output] = (slugs, when)
        return when

    latest = changed[site.articles[-1].slug] if site.articles else None
    found = []
    for plan in plans:
        kind, key = plan.kind, plan.key
        if kind == "404":
            continue
        if kind == "briefing":
            when = changed[key]
        elif kind == "actor":
            when = newest(plan.output, site.actor_articles.get(key, ()))
        elif kind == "proposal":
            when = newest(plan.output, site.proposals[key].articles)
        elif kind == "question":
            when = newest(plan.output, site.questions[key].articles)
        elif kind == "tag":
            when = newest(plan.output, plan.items)
        elif kind == "page":
            when = None
        else:
            when = latest
        found.append((plan.url, when))
    if cache is not None:
        cache[LASTMODS] = (changed, newest_now)
    return found


def sitemap(site: Site, urls: Urls, pages: Iterable[tuple[str, When | None]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, when in pages:
        lines.append(f"  <url><loc>{escape(absolute(site, urls, url))}</loc>")
        if when:
            lines.append(f"    <lastmod>{stamp(when) if when.has_time else when.date.isoformat()}</lastmod>")
        lines.append("  </url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def robots(site: Site, urls: Urls) -> bytes:
    text = "User-agent: *\nAllow: /\n"
    if has_host(site):
        text += f"Sitemap: {absolute(site, urls, 'sitemap.xml')}\n"
    return text.encode("utf-8")


def _feed_key(site: Site, urls: Urls, title: str, page: str, articles: tuple[Article, ...],
              empty_updated: When | None) -> tuple:
    """Everything a feed shows, as one comparable value (the articles themselves: an unchanged one
    is the same object from one preview run to the next, so comparing it costs nothing)."""
    return (site.config.base_url, site.config.title, site.config.language, site.config.description,
            urls.base_path, title, page, articles[:FEED_ENTRIES], empty_updated)


def extra_files(site: Site, urls: Urls, plans: Iterable[PagePlan],
                cache: dict[str, tuple] | None = None) -> Mapping[str, bytes]:
    """Feeds, sitemap.xml and robots.txt for a site, by output path.

    With a `cache` (kept by the engine between runs: output path -> (key, bytes), and lastmods'
    entry), a feed whose entries did not change is not written out again: an edit touches a
    handful of the site's hundreds of feeds; nor is the sitemap when no page's last change did.
    """
    files = {}
    entries: dict[int, str] = {}           # atom_feed's, shared by this run's feeds
    site_changed: list[When | None] = []   # the site's last change, found when a feed is empty
    for path, (title, page, articles) in feed_paths(site).items():
        if not articles and not site_changed:
            site_changed.append(max((last_change(a) for a in site.articles), key=lambda w: w.at, default=None))
        # a feed with no entries yet (an actor no published briefing names) is dated with the site
        empty_updated = None if articles else site_changed[0]
        key = _feed_key(site, urls, title, page, articles, empty_updated)
        hit = cache.get(path) if cache is not None else None
        if hit is not None and hit[0] == key:
            files[path] = hit[1]
            continue
        files[path] = atom_feed(site, urls, path, title, page, articles, empty_updated, entries)
        if cache is not None:
            cache[path] = (key, files[path])
    if has_host(site):
        pages = lastmods(site, plans, cache)
        key = (site.config.base_url, urls.base_path, pages)
        hit = cache.get("sitemap.xml") if cache is not None else None
        files["sitemap.xml"] = hit[1] if hit is not None and hit[0] == key else sitemap(site, urls, pages)
        if cache is not None:
            cache["sitemap.xml"] = (key, files["sitemap.xml"])
    files["robots.txt"] = robots(site, urls)
    if cache is not None:   # feeds of actors or tags that are gone (the cache is kept with the story)
        for path in set(cache) - set(files) - {LASTMODS}:
            del cache[path]
    return files
