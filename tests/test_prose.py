"""Prose bodies (paragraphs and '#' headings of plain text) skip markdown-it's parsers.

`markdown.prose_blocks` decides and `prose_tokens` makes the tokens; both must give exactly what
markdown-it gives, for any text, and must not decline the bodies they exist for.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from generator.markdown import markdown, normalized, plain_text, prose_blocks, prose_tokens, render_prose, render_tokens
from generator.model import Actor
from generator.parse import split_front_matter
from generator.quotes import fold_quote, quote_anchor
from generator.urls import Urls

ROOT = Path(__file__).resolve().parent.parent

# Lines of prose, and lines a step away from it: block markers, white space at either end,
# entities, headings markdown-it reads differently, and every character of inline syntax.
_LINES = st.sampled_from([
    "", " ", "  ", "Talks resume on Monday.", "a", "He said: “No deal.”", "R&D and A & B", "2025 was long",
    "50% of 1,000 — at #3!", "# Heading", "## Two words", "###### six", "####### seven", "#hashtag",
    "# ", "#", "## closed ##", "# a #b", "#\u00a0nbsp", "## \u00a0x", "1. item", "2) item", "10.5 million",
    "- item", "+ item", "* item", "> quote", "=== ", "---", "___", "a  ", "a ", " a", "\u00a0a", "a\u00a0",
    "\u00a0", "\u2003 ", "a\u2028", "\u2028",
    "&amp; x", "&#35;", "&copy", "x &nbsp; y", "`code`", "*em*", "_em_", "[link](/x)", "[[a-b]]",
    "<b>", "a | b", "~~gone~~", "a\\", "\ta", "a\tb", "é ü ß", "line\u000bbreak", "a\x0c",
])
_BODIES = st.lists(_LINES, max_size=12).map("\n".join)


def _plain(tokens) -> str:
    kept = ("text", "code_inline", "softbreak", "hardbreak")
    return "\n\n".join("".join(c.content if c.type in ("text", "code_inline") else " "
                                for c in t.children or () if c.type in kept)
                        for t in tokens if t.type == "inline")


@settings(max_examples=600, deadline=None)
@given(_BODIES, st.booleans())
def test_prose_tokens_are_markdown_its_tokens(body, allow_html) -> None:
    body = normalized(body)
    expected = markdown(allow_html).parse(body)
    blocks = prose_blocks(body)
    if blocks is not None:
        assert prose_tokens(blocks) == expected
    assert plain_text(body) == _plain(markdown(False).parse(body))   # quotes are checked against this


def _bodies() -> list[tuple[str, str]]:
    seeds = sorted((ROOT / "content" / "articles").glob("*.md"))
    return [(path.name, split_front_matter(path.read_text(encoding="utf-8"))[1]) for path in seeds]


@pytest.mark.parametrize("name, body", _bodies())
def test_the_example_articles_are_prose_and_parse_alike(name, body) -> None:
    body = normalized(body)
    blocks = prose_blocks(body)
    assert blocks is not None, name
    assert prose_tokens(blocks) == markdown(False).parse(body)


def test_paragraphs_and_headings_of_a_typical_body() -> None:
    body = "Talks resume.\nThey said “maybe”.\n\n## What next\nR&D funds: 50% — €2 bn.\n"
    assert prose_blocks(body) == [("p", 0, ["Talks resume.", "They said “maybe”."]),
                                  ("h2", 3, ["What next"]), ("p", 4, ["R&D funds: 50% — €2 bn."])]
    assert prose_tokens(prose_blocks(body)) == markdown(False).parse(body)


@pytest.mark.parametrize("body", ["a *b*", "a\n- b", "a  \nb", "> a", "    code", "a\n===", "1. a",
                                  "&amp;", "# a #", "a\\\nb", "<p>a</p>", "[[x]]"])
def test_anything_else_goes_to_markdown_it(body) -> None:
    assert prose_blocks(body) is None


# A prose body's HTML is written block by block (markdown.render_prose): the blocks that link an
# actor or mark a quote through the token passes, the others directly. It must be the HTML the
# token passes make of the whole body, whatever the names, aliases and quotes.
_WORDS = ["Ana", "Ana Lima", "Lima", "Bo", "Bo Chen", "Chen", "NATO", "said", "“We", "agree,”", "—", "&",
          "talks", "in", "Kyiv.", "Ana's", "BoChen", "\u00a0", "it’s", "A & B", "\"so\"", "4 – 3", "Jr.(AP)"]
# (names that end and start with punctuation can be linked side by side: "Jr.(AP)")
_NAMES = st.sampled_from(["Ana", "Ana Lima", "Lima", "Bo", "Bo Chen", "Chen", "NATO", "Kyiv", "Jr.", "(AP)"])


@st.composite
def _story(draw):
    lines = draw(st.lists(st.one_of(
        st.just(""), st.just("## Ana and NATO"),
        st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8).map(" ".join)), max_size=14))
    body = "\n".join(lines)
    actors = tuple(Actor(id=f"a{i}", name=name, aliases=tuple(draw(st.lists(_NAMES, max_size=2))))
                   for i, name in enumerate(draw(st.lists(_NAMES, max_size=4))))
    text = " ".join(body.split())
    quotes = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, max(0, len(text) - 1)))
        quotes.append(text[start:start + draw(st.integers(1, 40))])
    # quotes that begin or end where a name does, within it, around it
    quotes += draw(st.lists(st.sampled_from(["Ana said", "talks in Kyiv.", "no such words", "Ana", "Lima",
                                             "Ana Lima said", "said Ana Lima", "Jr.", "(AP)", "Jr.(AP) said"]),
                            max_size=3))
    return body, actors, quotes


@settings(max_examples=500, deadline=None)
@given(_story())
def test_prose_is_written_as_the_token_passes_write_it(story) -> None:
    body, actors, quotes = story
    blocks = prose_blocks(normalized(body))
    assume(blocks is not None)
    anchors = {}
    for quote in quotes:
        if fold_quote(quote):
            anchors.setdefault(fold_quote(quote), quote_anchor(quote))
    md, urls = markdown(False), Urls("/base/")
    expected = render_tokens(md, md.parse(normalized(body)), None, urls, actors, anchors)
    assert render_prose(blocks, urls, actors, anchors) == expected
