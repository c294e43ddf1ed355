"""The pages a preview keeps in memory, compressed.

A preview serves every page from memory, and its pages outweighed everything else it held:
350 MiB at 10,000 articles, against ~400 MiB for the model, the documents and the rest. Kept
zlib-compressed (level 1: about a fifth of the size; a briefing packs in 0.22 ms, in the render
workers as they go, and unpacks in 0.09 ms when it is asked for) they take ~75 MiB: the
preview's peak fell from 761 to 486 MiB. `Engine(pack_pages=True)` keeps them so;
`BuildResult.content` unpacks.

A page is packed with the URLs of the site's static files (the fingerprinted stylesheet) put
back to a mark naming the file, and unpacked with the URLs of the moment. So a stylesheet edit,
which gives every page a new link, leaves the packed pages as they are: rewriting them all would
mean unpacking and packing them again (seconds at 10,000 articles, where replacing the link in
unpacked pages takes a quarter of one). As when the link is replaced in unpacked pages
(engine.Engine._relink_assets), a URL a page holds for any other reason is swapped too.
"""
from __future__ import annotations

import zlib

from .assets import Assets
from .urls import Urls

LEVEL = 1   # level 6 packs a briefing 14% smaller in 1.7 times the time

Links = tuple[tuple[bytes, bytes], ...]   # (mark, URL) for each static file


class Packed(bytes):
    """A page as `pack` made it: compressed, with marks for its static files' URLs."""

    __slots__ = ()


def asset_links(assets: Assets, urls: Urls) -> Links:
    """The mark and the URL of each static file, the longest URL first (so that no URL that
    begins another is swapped inside it)."""
    pairs = [(b"\0briefing-asset\0" + name.encode() + b"\0", urls.url(path).encode())
             for name, path in assets.names.items()]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[1])))


def pack(html: bytes, links: Links) -> Packed:
    for mark, url in links:
        html = html.replace(url, mark)
    return Packed(zlib.compress(html, LEVEL))


def unpack(data: bytes, links: Links) -> bytes:
    """The bytes of an output file: a packed page unpacked with `links`, anything else as it is."""
    if type(data) is not Packed:
        return data
    html = zlib.decompress(data)
    for mark, url in links:
        html = html.replace(mark, url)
    return html
