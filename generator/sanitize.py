"""Raw HTML that a site allows (`allow_html: true`), with everything that runs script taken out.

Scripts and other active elements are dropped with their content, event handler attributes
are dropped, and URL attributes keep only http(s), mailto and relative targets.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "applet", "noscript",
                        "frame", "frameset", "template", "svg", "math",
                        # raw-text elements: a browser would take the rest of the page as text
                        "plaintext", "xmp", "noembed", "noframes"}
DROPPED = {"base", "meta", "link", "form", "input", "button", "textarea", "select", "option"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "cite",
                  "data", "srcset", "ping", "longdesc", "lowsrc", "dynsrc"}
SAFE_URL = re.compile(r"^(?:https?:|mailto:|[^a-z:]*(?:[/?#]|$)|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
VOID = {"area", "br", "col", "hr", "img", "source", "track", "wbr"}
# A tag name as HTML writes one; anything else ('<scr<script>') is shown as text.
TAG_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _safe_url(value: str) -> bool:
    compact = re.sub(r"[\x00-\x20\x7f]+", "", value)
    return bool(SAFE_URL.match(compact)) and not re.match(r"(?i)(javascript|vbscript|data|file):", compact)


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping: list[str] = []

    def _attrs(self, attrs: list[tuple[str, str | None]]) -> str:
        kept = []
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on") or name in ("style", "srcdoc") or not re.fullmatch(r"[a-z][a-z0-9:_.-]*", name):
                continue
            if name in URL_ATTRIBUTES and value is not None and not _safe_url(value):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"' if value is not None else f" {name}")
        return "".join(kept)

    def handle_starttag(self, tag, attrs):
        if not TAG_NAME.fullmatch(tag):
            self.handle_data(self.get_starttag_text() or "")
            return
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self.skipping.append(tag)
        elif tag not in DROPPED:
            self.out.append(f"<{tag}{self._attrs(attrs)}>")

    def handle_startendtag(self, tag, attrs):
        if not TAG_NAME.fullmatch(tag):
            self.handle_data(self.get_starttag_text() or "")
            return
        if not self.skipping and tag not in DROPPED_WITH_CONTENT and tag not in DROPPED:
            self.out.append(f"<{tag}{self._attrs(attrs)}>")

    def handle_endtag(self, tag):
        if not TAG_NAME.fullmatch(tag):
            self.handle_data(f"</{tag}>")
            return
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag not in DROPPED and tag not in DROPPED_WITH_CONTENT and tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data):
        pass


def sanitize_html(fragment: str) -> str:
    parser = _Sanitizer()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.out)
