"""Quote matching (FORMAT.md, Quotes): folding, the first occurrence, and anchors from the text."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.markdown import plain_text
from generator.quotes import find_quote, fold, fold_quote, fold_text, fold_with_map, quote_anchor


def body_text(markdown: str) -> str:
    return fold_text(plain_text(markdown))


@pytest.mark.parametrize("fancy, plain", [
    ("‘a’ ‚b‛ ′c″", "'a' 'b' 'c\""),
    ("“a” „b‟ «c» ‹d›", "\"a\" \"b\" \"c\" 'd'"),
    ("a‒b–c—d−e", "a-b-c-d-e"),
    ("a\u00a0\u00a0b\t\nc   d", "a b c d"),
    ("a\u2009b\u202fc", "a b c"),
])
def test_fold(fancy, plain) -> None:
    assert fold(fancy) == plain


def test_fold_quote_drops_its_own_quote_marks_and_spaces() -> None:
    assert fold_quote(" “It’s too early.” ") == "It's too early."
    assert fold_quote("'\"both\"'") == "both"
    assert fold_quote("“ ”") == ""


@pytest.mark.parametrize("quote", [
    "It's too early to determine what the result will be",
    "\"It’s too early to determine\"",
    "too  early\u00a0to determine",
    "what the result will be.",
    "The guarantees - strong ones",
    "bold words",
])
def test_quotes_found_after_folding(quote) -> None:
    text = body_text("“It’s *too early* to determine what the result will be.”\n\n"
                     "The guarantees — strong ones.\n\nSome **bold** words.")
    assert find_quote(quote, text) >= 0


@pytest.mark.parametrize("quote", [
    "it's too early",                   # case-sensitive
    "too early to determine what the result will be. The",   # across blocks
    "",
    "“”",
    "strong ones!",
])
def test_quotes_not_found(quote) -> None:
    text = body_text("It's too early to determine what the result will be.\n\nThe guarantees: strong ones.")
    assert find_quote(quote, text) == -1


def test_first_occurrence_is_found() -> None:
    text = body_text("No meeting is planned, he said.\n\nAgain: no meeting is planned. No meeting is planned.")
    first = find_quote("No meeting is planned", text)
    assert first == 0
    assert find_quote("no meeting is planned", text) == text.index("no meeting")


def test_anchor_derives_from_the_quote_text_only() -> None:
    anchor = quote_anchor("It's too early to determine what the result will be")
    assert re.fullmatch(r"q-it-s-too-early-to-[0-9a-f]{6}", anchor)
    # the same words in other typography are the same quote
    assert quote_anchor("“It’s too early to determine what  the result will be”") == anchor
    # other text, other anchor, even with the same first words
    assert quote_anchor("It's too early to determine anything") != anchor
    assert quote_anchor("it's too early to determine what the result will be") != anchor


def test_anchor_is_a_safe_element_id() -> None:
    for text in ["<script>alert(1)</script>", "\"' onmouseover=x", "Київ сказав", "…", ""]:
        assert re.fullmatch(r"q-([a-z0-9]+-)*[0-9a-f]{6}", quote_anchor(text)), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ’“”—\u00a0\t\n-'\"")), max_size=40))
def test_fold_with_map_agrees_with_fold(text) -> None:
    folded, original = fold_with_map(text)
    back = [original(i) for i in range(len(folded))]
    assert back == sorted(back) and len(set(back)) == len(back)
    assert folded.strip(" ") == fold(text)
    for char, index in zip(folded, back, strict=True):
        assert char == " " or fold(text[index]) == char


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.integers(0, 60), st.integers(1, 30))
def test_any_slice_of_a_paragraph_is_found(text, start, length) -> None:
    paragraph = " ".join(text.split())
    quote = paragraph[start:start + length]
    if not fold_quote(quote):
        return
    assert find_quote(quote, fold_text(paragraph)) >= 0


def test_the_first_occurrence_is_the_one_anchored(make_site) -> None:
    from generator.load import load_site
    from generator.markdown import body_html
    from generator.urls import Urls

    body = ("Lavrov said “no meeting is planned” on Monday.\n\n"
            "On Tuesday he repeated: no meeting is planned.\n")
    front = ("---\ntitle: T\ndate: 2025-01-01\nactors:\n  - id: sergei-lavrov\n    name: Sergei Lavrov\n"
             "quotes:\n  - actor: sergei-lavrov\n    text: No meeting is planned\n"
             "  - actor: sergei-lavrov\n    text: \"'no meeting is planned'\"\n---\n")
    site, problems = load_site(make_site({"content/articles/2025-01-01-t.md": front + body}))
    unverified, verified = site.articles[0].quotes
    assert [p.message for p in problems] == ["quote not found in the article's text: 'No meeting is planned'"]
    assert not unverified.verified and verified.verified
    html = body_html(site.articles[0], site, Urls("/"))
    assert html.count(f'id="{verified.anchor}"') == 1
    first, second = html.split("</p>")[:2]
    assert f'id="{verified.anchor}"' in first and verified.anchor not in second
    assert unverified.anchor not in html


# markdown-it's own `normalize` rule is off (markdown.normalized does its work); its results must
# not change for any text, line endings and NUL bytes included.
_MARKDOWN_TEXT = st.lists(st.sampled_from(list("ab #>-*_`[]()!|\\<&;\t\r\n\0\u00a0é") + ["\r\n", "a\n\n", "[[a-b]]"]),
                          max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_MARKDOWN_TEXT)
def test_bodies_parse_as_markdown_it_with_its_normalize_rule(body):
    from markdown_it import MarkdownIt

    from generator.markdown import markdown, normalized, references

    stock = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(["table", "strikethrough"])
    ours = markdown(False)
    assert "normalize" not in ours.get_active_rules()["core"]

    def shape(tokens):
        return [(t.type, t.content, t.map, [(c.type, c.content) for c in t.children or ()]) for t in tokens]

    assert shape(ours.parse(normalized(body))) == shape(stock.parse(body))
    assert ours.render(normalized(body)) == stock.render(body)
    kept = ("text", "code_inline", "softbreak", "hardbreak")
    plain = "\n\n".join("".join(c.content if c.type in ("text", "code_inline") else " "
                                for c in t.children or () if c.type in kept)
                        for t in stock.parse(body) if t.type == "inline")
    assert plain_text(body) == plain
    references(body + "\n[[a-b]]\r\n", 1)   # the line lookup works on the normalized text
