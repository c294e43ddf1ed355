"""Markdown bodies: their plain text (for quote checking) and their HTML (for briefings).

One configured markdown-it instance per HTML policy. The briefing-specific parts work on the
token stream between parsing and rendering: `[[id]]` references, root-relative links moved
under the base path, the first mention of each annotated actor linked, and each verified
quote wrapped in a `<mark>` whose id is the quote's anchor.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from typing import TYPE_CHECKING

from .quotes import fold, fold_quote, fold_with_map
from .sanitize import sanitize_html

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

    from .model import Article, Page, Site
    from .urls import Urls

# markdown-it-py and its tokens are imported only where a body needs them: a body of prose alone
# (prose_blocks) is written from its text, and a rebuild after a text edit (splice.py) then never
# imports the parser (a sixth of its time at 1,000 articles).


def escape_html(raw: str) -> str:
    """markdown-it's escapeHtml: '&', '<', '>' and '"' as entities (not the single quote)."""
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _token(*args, **kwargs) -> Token:
    from markdown_it.token import Token
    return Token(*args, **kwargs)


REFERENCE = re.compile(r"\[\[([^\[\]\s]{1,200})\]\]")
# a [[reference]]'s id -> (the kind of entity, its label), or None for no such entity
Labels = Callable[[str], "tuple[str, str] | None"]


@lru_cache(maxsize=2)
def markdown(allow_html: bool = False) -> MarkdownIt:
    """CommonMark with tables and strikethrough; raw HTML only when the site allows it."""
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark", {"html": allow_html, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Its `normalize` rule (line endings to \n, NUL to U+FFFD) runs a regular expression over
    # the whole body, 35 µs a body, an eighth of the parse: `normalized` does the same with
    # str.replace, and only when there is anything to replace (parse.py has done it already).
    md.disable("normalize")
    if allow_html:
        md.add_render_rule("html_block", lambda self, tokens, idx, options, env: sanitize_html(tokens[idx].content))
        md.add_render_rule("html_inline", lambda self, tokens, idx, options, env: sanitize_html(tokens[idx].content))
    # our own markup (quote marks), made here and so trusted under either policy
    md.add_render_rule("trusted_html", lambda self, tokens, idx, options, env: tokens[idx].content)
    return md


def normalized(body: str) -> str:
    """The body as markdown-it's `normalize` rule leaves it; parse `markdown()`'s input through this."""
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in body:
        body = body.replace("\0", "\ufffd")
    return body


# --------------------------------------------------------------------------- plain text

def _inline_text(token: Token) -> str:
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def plain_text(body: str) -> str:
    """The body's text with Markdown markup removed; blocks separated by a blank line."""
    body = normalized(body)
    blocks = prose_blocks(body)
    if blocks is not None:
        return "\n\n".join(" ".join(lines) for _tag, _first, lines in blocks)
    tokens = markdown(False).parse(body)
    return "\n\n".join(_inline_text(t) for t in tokens if t.type == "inline")


def references(body: str, first_line: int) -> list[tuple[str, int, int]]:
    """Every `[[id]]` in the body's text (not in code) as (id, line, column) in the file.

    The place is looked up in the block's source lines, so list markers and '>' count
    toward the column as an editor shows it.
    """
    found = []
    body = normalized(body)
    lines = body.split("\n")
    for token in markdown(False).parse(body):
        if token.type != "inline" or "[[" not in token.content or not token.map:
            continue
        first, last = token.map
        source = "\n".join(lines[first:last])
        cursor = 0
        for child in token.children or ():
            if child.type != "text":
                continue
            for match in REFERENCE.finditer(child.content):
                at = source.find(match.group(0), cursor)
                if at < 0:
                    continue
                cursor = at + len(match.group(0))
                before = source[:at]
                found.append((match.group(1), first_line + first + before.count("\n"),
                              at - (before.rfind("\n") + 1) + 1))
    return found


# --------------------------------------------------------------------------- prose

# Most article bodies are prose: paragraphs and '#' headings of plain text. markdown-it's block
# and inline parsers cost 0.3 ms a body, twice an article (its plain text for checking quotes,
# then its HTML), to find just that; this finds it in a fifth of the time and gives markdown-it's
# own tokens. Anything that could be other Markdown sends the body to markdown-it: a character
# of inline syntax, a line that opens another block or starts or ends with white space (indented
# code, a hard break, text CommonMark strips). `in` per character: one regular expression for
# all of it costs 30 times as much.
_INLINE_SYNTAX = "\\`*_[]<>~|\t"
_ENTITY = re.compile(r"&(?:#|[A-Za-z0-9]+;)")
_BLOCK_MARKERS = frozenset(">+-=")
_ORDERED_ITEM = re.compile(r"[0-9]+[.)]")
_HEADING = re.compile(r"#{1,6} [^#]+")


def prose_blocks(body: str) -> list[tuple[str, int, list[str]]] | None:
    """The body's blocks as (tag, first line, lines) when it is only prose; else None.

    `body` is normalized. A heading's one line holds its text without the '#' marks.
    """
    for char in _INLINE_SYNTAX:
        if char in body:
            return None
    if "&" in body and _ENTITY.search(body):
        return None
    blocks: list[tuple[str, int, list[str]]] = []
    lines = None     # the open paragraph's lines
    for number, line in enumerate(body.split("\n")):
        if not line or line[0] == " " and not line.strip(" "):
            lines = None
            continue
        first = line[0]
        if first.isspace() or line[-1].isspace() or first in _BLOCK_MARKERS:
            return None
        if first == "#":
            marks, _, text = line.partition(" ")
            if not _HEADING.fullmatch(line) or text[0].isspace():
                return None
            blocks.append((f"h{len(marks)}", number, [text]))
            lines = None
        elif first.isdigit() and _ORDERED_ITEM.match(line):
            return None
        elif lines is None:
            lines = [line]
            blocks.append(("p", number, lines))
        else:
            lines.append(line)
    return blocks


def prose_tokens(blocks: list[tuple[str, int, list[str]]]) -> list[Token]:
    """The tokens markdown-it makes of the blocks `prose_blocks` found."""
    tokens = []
    for tag, first, lines in blocks:
        span = [first, first + len(lines)]
        children = [_token("text", "", 0, content=lines[0])]
        for line in lines[1:]:
            children += [_token("softbreak", "br", 0), _token("text", "", 0, content=line)]
        kind, markup = ("paragraph", "") if tag == "p" else ("heading", "#" * int(tag[1]))
        tokens += [_token(kind + "_open", tag, 1, map=span, markup=markup, block=True),
                   _token("inline", "", 0, map=list(span), level=1, children=children,
                          content="\n".join(lines), block=True),
                   _token(kind + "_close", tag, -1, markup=markup, block=True)]
    return tokens


# --------------------------------------------------------------------------- HTML

def body_html(article: Article, site: Site, urls: Urls) -> str:
    """The article's body as HTML, with its actors, references and quotes linked."""
    return render(article.body, site, urls, actors=article.actors, quote_anchors=quote_anchors(article))


def quote_anchors(article: Article) -> dict[str, str]:
    """Each verified quote's folded text -> its anchor, the first of any two alike."""
    anchors: dict[str, str] = {}
    for quote in article.quotes:
        if quote.verified:
            anchors.setdefault(fold_quote(quote.text), quote.anchor)
    for update in article.proposals:
        for position in update.positions:
            if position.quote and position.quote.verified:
                anchors.setdefault(fold_quote(position.quote.text), position.quote.anchor)
    return anchors


def page_html(page: Page, site: Site, urls: Urls) -> str:
    return render(page.body, site, urls)


def render(body: str, site: Site, urls: Urls, actors: Iterable = (), quote_anchors: dict | None = None) -> str:
    return render_body(body, site.config.allow_html, partial(reference_label, site), urls,
                       actors, quote_anchors)


def render_body(body: str, allow_html: bool, labels: Labels, urls: Urls, actors: Iterable = (),
                quote_anchors: dict | None = None) -> str:
    """`render`, with the site's entities known only through `labels` (a [[reference]]'s kind and label)."""
    body = normalized(body)
    blocks = prose_blocks(body)
    if blocks is not None:
        return render_prose(blocks, urls, actors, quote_anchors)
    md = markdown(allow_html)
    return render_tokens(md, md.parse(body), labels, urls, actors, quote_anchors)


def render_tokens(md: MarkdownIt, tokens: list[Token], labels: Labels | None, urls: Urls, actors: Iterable = (),
                  quote_anchors: dict | None = None) -> str:
    linker = _actor_linker(tuple(actors), urls)
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        children = token.children
        children = _rewrite_links(children, urls)
        children = _link_references(children, labels, urls)
        if linker:
            children = linker(children)
        token.children = children
    if quote_anchors:
        _mark_quotes(tokens, dict(quote_anchors))
    return md.renderer.render(tokens, md.options, {})


def render_prose(blocks: list[tuple[str, int, list[str]]], urls: Urls, actors: Iterable = (),
                 quote_anchors: dict | None = None) -> str:
    """What `render_tokens` makes of a prose body's tokens, written block by block from the text.

    Linking and marking carry no state from one block to the next but what was linked and what
    is still to mark, so the result is the same. A block's links and marks are written straight
    into its text where they nest simply (`_marked_html`); a quote that overlaps part of a link
    or another quote goes through the token pass that splits marks (`_wrap_quotes`).
    """
    linker = _actor_linker(tuple(actors), urls)
    pending = dict(quote_anchors or {})
    html = []
    for tag, _first, lines in blocks:
        found = None
        if pending:
            joined = " ".join(lines)
            folded = fold(joined)
            if any(quote in folded for quote in pending):
                # a prose line neither starts nor ends with white space: folded as long as the
                # text, it has no run of white space, and each place in it is the text's own
                found = _find_quotes(joined, pending, folded if len(folded) == len(joined) else None)
        if found:
            mentions = linker.mentions(lines) if linker is not None else [[] for _line in lines]
            inner = _marked_html(lines, mentions, found, urls)
            if inner is None:
                children, starts = _prose_children(lines, mentions, urls)
                inner = _inline_html(_wrap_quotes(children, starts, found))
        elif linker is not None and any(mentions := linker.mentions(lines)):
            inner = _marked_html(lines, mentions, [], urls)   # (None only for quotes)
        else:
            inner = "\n".join([escape_html(line) for line in lines])
        html.append(f"<{tag}>{inner}</{tag}>\n")
    return "".join(html)


def _prose_children(lines: list[str], mentions: list[list[tuple[int, int, str]]],
                    urls: Urls) -> tuple[list[Token], list[tuple[int, int]]]:
    """A prose block's inline tokens with the mentions linked, as the linker's token pass makes
    them, and where each text token starts in the block's text (as `_mark_quotes` counts)."""
    children: list[Token] = []
    starts: list[tuple[int, int]] = []
    offset = 0
    for number, line in enumerate(lines):
        if number:
            children.append(_token("softbreak", "br", 0))
            offset += 1
        pos = 0
        for start, end, actor_id in mentions[number]:
            if start > pos:
                starts.append((offset + pos, len(children)))
                children.append(_text(line[pos:start]))
            starts.append((offset + start, len(children) + 1))
            open_, close = _link(urls.page("actor", actor_id), "actor-link")
            children += [open_, _text(line[start:end]), close]
            pos = end
        if pos < len(line):
            starts.append((offset + pos, len(children)))
            children.append(_text(line[pos:]))
        offset += len(line)
    return children, starts


# Where a mark and a link start or end at the same place, the order `_wrap_quotes` puts them in:
# a quote within a link's text is marked inside it, one around a link outside it.
_CLOSE_INNER, _LINK_CLOSE, _CLOSE, _OPEN, _LINK_OPEN, _OPEN_INNER = range(6)


def _marked_html(lines: list[str], mentions: list[list[tuple[int, int, str]]],
                 found: list[tuple[int, int, str]], urls: Urls) -> str | None:
    """A prose block's HTML with its mentions linked and the quotes `found` marked, each quote
    one mark, as the token passes write it; None when a quote overlaps part of a link or
    another quote (the token pass splits such marks into runs). A line break inside a quote
    is no matter: it nests anywhere, and a folded quote neither starts nor ends with one."""
    events: list[tuple[int, int, str]] = []      # (place in the block's text, order, HTML)
    links: list[tuple[int, int]] = []
    line_start = 0
    for line, spans in zip(lines, mentions, strict=True):
        for start, end, actor_id in spans:
            links.append((line_start + start, line_start + end))
            href = escape_html(urls.page("actor", actor_id))
            events += [(line_start + start, _LINK_OPEN, f'<a href="{href}" class="actor-link">'),
                       (line_start + end, _LINK_CLOSE, "</a>")]
        line_start += len(line) + 1
    last_end = -1
    for start, end, anchor in sorted(found, key=lambda f: (f[0], -f[1])):
        if start < last_end:
            return None   # overlaps the quote before
        last_end = end
        open_order, close_order = _OPEN, _CLOSE
        for link_start, link_end in links:
            if end <= link_start or start >= link_end:
                continue
            if link_start <= start and end <= link_end:
                open_order, close_order = _OPEN_INNER, _CLOSE_INNER
            elif not (start <= link_start and link_end <= end):
                return None   # overlaps part of a link
        events += [(start, open_order, f'<mark class="quote-mark" id="{anchor}">'), (end, close_order, "</mark>")]
    events.sort(key=lambda e: (e[0], e[1]))
    out = []
    index = line_start = 0
    for number, line in enumerate(lines):
        if number:
            out.append("\n")
        pos, line_end = 0, line_start + len(line)
        while index < len(events) and events[index][0] <= line_end:
            place = events[index][0] - line_start
            if place > pos:
                out.append(escape_html(line[pos:place]))
                pos = place
            out.append(events[index][2])
            index += 1
        if pos < len(line):
            out.append(escape_html(line[pos:]))
        line_start = line_end + 1
    return "".join(out)


def _inline_html(children: list[Token]) -> str:
    """What markdown-it's renderer writes of a prose block's inline tokens once linked and
    marked (text, line breaks, links, marks: nothing else occurs)."""
    out = []
    for child in children:
        kind = child.type
        if kind == "text":
            out.append(escape_html(child.content))
        elif kind == "softbreak":
            out.append("\n")
        elif kind == "trusted_html":
            out.append(child.content)
        elif kind == "link_open":
            attrs = "".join([f' {escape_html(key)}="{escape_html(str(value))}"' for key, value in child.attrItems()])
            out.append(f"<a{attrs}>")
        elif kind == "link_close":
            out.append("</a>")
        else:  # pragma: no cover - prose blocks hold no other tokens
            raise ValueError(f"unexpected token {kind} in a prose block")
    return "".join(out)


def _rewrite_links(children: list[Token], urls: Urls) -> list[Token]:
    """A link or image whose target starts with '/' is relative to the site root."""
    for child in children:
        attr = "href" if child.type == "link_open" else "src" if child.type == "image" else None
        if attr:
            target = child.attrGet(attr)
            if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
                child.attrSet(attr, urls.url(target))
    return children


def _link(href: str, cls: str) -> tuple[Token, Token]:
    open_ = _token("link_open", "a", 1)
    open_.attrSet("href", href)
    open_.attrSet("class", cls)
    return open_, _token("link_close", "a", -1)


def _text(content: str) -> Token:
    token = _token("text", "", 0)
    token.content = content
    return token


def _link_references(children: list[Token], labels: Labels | None, urls: Urls) -> list[Token]:
    if not any(c.type == "text" and "[[" in c.content for c in children):
        return children
    out: list[Token] = []
    for child in children:
        if child.type != "text" or "[[" not in child.content:
            out.append(child)
            continue
        pos = 0
        for match in REFERENCE.finditer(child.content):
            ident = match.group(1)
            target = labels(ident) if labels is not None else None
            if target is None:
                continue  # resolve already reported it
            kind, label = target
            if match.start() > pos:
                out.append(_text(child.content[pos:match.start()]))
            open_, close = _link(urls.page(kind, ident), f"ref ref-{kind}")
            out += [open_, _text(label), close]
            pos = match.end()
        if pos < len(child.content):
            out.append(_text(child.content[pos:]))
    return out


def reference_label(site: Site, ident: str) -> tuple[str, str] | None:
    """What a [[reference]] to `ident` links: the kind of entity and its name, title or text."""
    if ident in site.actors:
        return "actor", site.actors[ident].name
    if ident in site.proposals:
        return "proposal", site.proposals[ident].title
    if ident in site.questions:
        return "question", site.questions[ident].text
    return None


def _actor_linker(actors: tuple, urls: Urls) -> _ActorLinker | None:
    owners: dict[str, set[str]] = {}
    for actor in actors:
        for name in (actor.name, *actor.aliases):
            if name.strip():
                owners.setdefault(name.strip(), set()).add(actor.id)
    names = {name: next(iter(ids)) for name, ids in owners.items() if len(ids) == 1}
    return _ActorLinker(names, urls) if names else None


class _ActorLinker:
    """Links the first mention of each actor's name or alias in a body, block by block (called
    with each block's inline children); names two actors share link nowhere."""

    def __init__(self, names: dict[str, str], urls: Urls):
        self.names, self.urls = names, urls
        self.linked: set[str] = set()
        self.actor_count = len(set(names.values()))

    def _present(self, text: str) -> dict[str, str]:
        """The names of actors not linked yet that occur in `text` at all."""
        if len(self.linked) == self.actor_count:
            return {}
        linked = self.linked
        return {name: actor_id for name, actor_id in self.names.items() if actor_id not in linked and name in text}

    def mentions(self, lines: list[str]) -> list[list[tuple[int, int, str]]]:
        """Per line of a prose block, (start, end, actor id) of each first mention it links:
        what `__call__` links in the block's tokens."""
        present = self._present("".join(lines))
        if not present:
            return [[] for _line in lines]
        return [list(_first_mentions(line, present, self.linked)) for line in lines]

    def __call__(self, children: list[Token]) -> list[Token]:
        # only the names that the block's text holds at all are looked for, line by line
        present = self._present("".join([child.content for child in children if child.type == "text"]))
        if not present:
            return children
        linked, urls = self.linked, self.urls
        out: list[Token] = []
        depth = 0
        for child in children:
            if child.type == "link_open":
                depth += 1
            elif child.type == "link_close":
                depth -= 1
            if child.type != "text" or depth:
                out.append(child)
                continue
            pos = 0
            for start, end, actor_id in _first_mentions(child.content, present, linked):
                if start > pos:
                    out.append(_text(child.content[pos:start]))
                open_, close = _link(urls.page("actor", actor_id), "actor-link")
                out += [open_, _text(child.content[start:end]), close]
                pos = end
            if pos == 0:
                out.append(child)
            elif pos < len(child.content):
                out.append(_text(child.content[pos:]))
        return out


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _find_word(text: str, name: str, start: int) -> int:
    """The first place of `name` in `text` from `start` that is not part of a longer word."""
    at = text.find(name, start)
    while at >= 0:
        end = at + len(name)
        if (at == 0 or not _is_word(text[at - 1])) and (end == len(text) or not _is_word(text[end])):
            return at
        at = text.find(name, at + 1)
    return -1


def _first_mentions(text: str, names: dict[str, str], linked: set[str]) -> Iterable[tuple[int, int, str]]:
    """(start, end, actor id) of each actor's first mention in `text`, in order; marks them linked.

    Plain `str.find` per name: an article annotates a few dozen names, and compiling one big
    regular expression per article costs more than all the searching.
    """
    pos = 0
    while True:
        best = None
        for name, actor_id in names.items():
            if actor_id in linked:
                continue
            at = _find_word(text, name, pos)
            if at >= 0 and (best is None or at < best[0] or (at == best[0] and len(name) > best[1] - best[0])):
                best = (at, at + len(name), actor_id)
        if best is None:
            return
        linked.add(best[2])
        yield best
        pos = best[1]


def _mark_quotes(tokens: list[Token], pending: dict[str, str]) -> None:
    """Wrap the first occurrence of each quote of `pending` (folded quote -> anchor) in
    <mark id=anchor>, taking the quotes marked out of `pending`.

    One mark wraps the whole quote whenever the inline markup it spans nests inside it (a
    linked name, an emphasis); otherwise the quote is marked text run by text run.
    """
    for token in tokens:
        if not pending:
            return
        if token.type != "inline" or not token.children:
            continue
        # the block's text, and where each text child starts in it
        pieces: list[str] = []
        starts: list[tuple[int, int]] = []     # (offset in the block's text, child index)
        offset = 0
        for index, child in enumerate(token.children):
            if child.type == "text":
                starts.append((offset, index))
                pieces.append(child.content)
                offset += len(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                pieces.append(" ")
                offset += 1
        joined = "".join(pieces)
        folded_block = fold(joined)   # once per block, not once per pending quote
        if not any(quote in folded_block for quote in pending):
            continue
        found = _find_quotes(joined, pending)
        if found:
            token.children = _wrap_quotes(token.children, starts, found)


def _find_quotes(text: str, pending: dict[str, str], same_places: str | None = None) -> list[tuple[int, int, str]]:
    """(start, end, anchor) in a block's text of each quote of `pending` it holds, taken out of `pending`.

    `same_places`: the text folded, known to be folded character for character (no run of
    white space shortened), so that a place in it is the same place in the text.
    """
    if same_places is not None:
        folded, original = same_places, _same_place
    else:
        folded, original = fold_with_map(text)
    found: list[tuple[int, int, str]] = []
    for quote, anchor in list(pending.items()):
        at = folded.find(quote)
        if at < 0:
            continue
        del pending[quote]
        found.append((original(at), original(at + len(quote) - 1) + 1, anchor))
    return found


def _same_place(index: int) -> int:
    return index


def _wrap_quotes(children: list[Token], starts: list[tuple[int, int]],
                 found: list[tuple[int, int, str]]) -> list[Token]:
    """Put the marks of the quotes `found` (spans of the block's text) into the children.

    A mark goes in at a slot: (token, 0, 0) before a token, (token, 1, offset) inside a text
    token, (token, 2, 0) after a token; slots compare in document order.
    """
    def text_slot(position: int, closing: bool) -> tuple[int, int, int] | None:
        for child_start, index in starts:
            length = len(children[index].content)
            if child_start <= position < child_start + length or (
                    closing and child_start < position <= child_start + length):
                return index, 1, position - child_start
        return None

    def open_slots(slot: tuple[int, int, int]) -> list[tuple[int, int, int]]:
        """Where a mark may open: in the text, or before the tags that open just before it."""
        slots = [slot]
        index, _, offset = slot
        while offset == 0 and index > 0 and children[index - 1].nesting == 1:
            index -= 1
            slots.append((index, 0, 0))
        return slots

    def close_slots(slot: tuple[int, int, int]) -> list[tuple[int, int, int]]:
        """Where a mark may close: in the text, or after the tags that close just after it."""
        slots = [slot]
        index, _, offset = slot
        if offset == len(children[index].content):
            while index + 1 < len(children) and children[index + 1].nesting == -1:
                index += 1
                slots.append((index, 2, 0))
        return slots

    def balanced(first: tuple[int, int, int], last: tuple[int, int, int]) -> bool:
        depth = 0
        for child in children[first[0]:last[0] + 1]:
            depth += child.nesting
            if depth < 0:
                return False
        return depth == 0

    # a quote gets one mark when some pair of slots around it encloses balanced markup and the
    # mark nests with the marks already placed; else each run of its text gets a mark
    whole: list[tuple[tuple[int, int, int], tuple[int, int, int], str]] = []
    runs: dict[int, list[tuple[int, int, str, bool]]] = {}
    for start, end, anchor in sorted(found, key=lambda f: (f[0], -f[1])):
        first, last = text_slot(start, False), text_slot(end, True)
        chosen = None
        if first is not None and last is not None:
            chosen = next(((o, c) for o in open_slots(first) for c in close_slots(last)
                           if balanced(o, c) and all(c <= o2 or o >= c2 or (o2 <= o and c <= c2)
                                                     for o2, c2, _a in whole)), None)
        if chosen is not None:
            whole.append((*chosen, anchor))
            continue
        first_run = True
        for child_start, index in starts:
            length = len(children[index].content)
            lo, hi = max(start, child_start), min(end, child_start + length)
            if lo < hi:
                runs.setdefault(index, []).append((lo - child_start, hi - child_start, anchor, first_run))
                first_run = False

    opens: dict[tuple[int, int, int], list[str]] = {}
    closes: dict[tuple[int, int, int], list[str]] = {}
    for open_, close, anchor in whole:                  # outer marks first
        opens.setdefault(open_, []).append(anchor)
        closes.setdefault(close, []).insert(0, anchor)  # inner marks close first
    cuts: dict[int, set[int]] = {}
    for index, kind, offset in [*opens, *closes]:
        if kind == 1:
            cuts.setdefault(index, set()).add(offset)
    for index, spans in runs.items():
        cuts.setdefault(index, set()).update(b for lo, hi, _a, _f in spans for b in (lo, hi))

    def marks(slot: tuple[int, int, int]) -> list[Token]:
        if slot not in closes and slot not in opens:
            return []    # (most slots)
        return ([_html("</mark>") for _ in closes.get(slot, ())]
                + [_html(f'<mark class="quote-mark" id="{anchor}">') for anchor in opens.get(slot, ())])

    out: list[Token] = []
    given: set[str] = set()
    for index, child in enumerate(children):
        out += marks((index, 0, 0))
        if index not in cuts:
            out.append(child)
            out += marks((index, 2, 0))
            continue
        content = child.content
        bounds = sorted(cuts[index] | {0, len(content)})
        for start, end in zip(bounds, [*bounds[1:], None], strict=True):
            out += marks((index, 1, start))
            if end is None or start == end:
                continue
            cover = sorted((lo, -hi, anchor, first) for lo, hi, anchor, first in runs.get(index, ())
                           if lo <= start and end <= hi)
            for _lo, _hi, anchor, first in cover:
                if first and anchor not in given:
                    given.add(anchor)
                    out.append(_html(f'<mark class="quote-mark" id="{anchor}">'))
                else:
                    out.append(_html(f'<mark class="quote-mark" data-quote="{anchor}">'))
            out.append(_text(content[start:end]))
            out += [_html("</mark>") for _ in cover]
        out += marks((index, 2, 0))
    return out


def _html(content: str) -> Token:
    token = _token("trusted_html", "", 0)
    token.content = content
    return token
