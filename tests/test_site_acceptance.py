"""Acceptance tests on real builds: what a reader of the built site gets.

Every test here runs `briefing build` (the CLI) on a real site folder and reads the files it
wrote: the example site (the repository's site.yaml and content/), the multi-article test site
tests/sites/history, a 200-article corpus from ../shared/bench/make_corpus.py, and small hostile
sites written here.

Golden files
    tests/golden/example/ holds the expected bytes of key pages of the example site. A golden
    test fails on any difference and prints a diff. After an intended change to the templates,
    the renderer or the example content, rewrite them with

        BRIEFING_REGENERATE=1 .venv/bin/python -m pytest tests/test_site_acceptance.py -k golden

    and review `git diff tests/golden` before committing. The stylesheet's fingerprinted name
    (`style.<hex>.css`) is normalised to `style.HASH.css` on both sides of the comparison, and
    stored so, so that a CSS edit does not fail every golden page; the stylesheet itself is
    not a golden file.

Screenshots
    `BRIEFING_SCREENSHOTS=1` also rewrites docs/screenshots/*.png (home, briefing, actor,
    proposal at 1280 and 390 px) with the machine's headless Chromium.
"""
from __future__ import annotations

import difflib
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import lxml.html
import pytest
import yaml
from support.browser import browser  # noqa: F401  (fixture)
from support.vnu import check_html, format_messages, require_vnu

from generator.cli import main
from generator.linkcheck import check_links_in_folder

REPO = Path(__file__).resolve().parent.parent
SITES = REPO / "tests" / "sites"
GOLDEN = REPO / "tests" / "golden"
SCREENSHOTS = REPO / "docs" / "screenshots"
MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"
CHROMIUM = os.environ.get("BRIEFING_CHROMIUM", "/usr/bin/chromium")

REGENERATE = os.environ.get("BRIEFING_REGENERATE") == "1"
REGENERATE_HINT = ("if the change is intended, rewrite the golden files with\n"
                   "    BRIEFING_REGENERATE=1 .venv/bin/python -m pytest tests/test_site_acceptance.py -k golden\n"
                   "and review `git diff tests/golden` before committing")

EXAMPLE_BASE = "/briefing/"           # the path of the example site's base_url
HISTORY_BASE = "/history/"
BRIEFING = "briefings/rutte-in-kyiv/index.html"

EVIL = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


# --------------------------------------------------------------------------- building

def build(site: Path, out: Path, *options: str) -> Path:
    """`briefing build` into `out`; the build must succeed."""
    code = main(["build", "--site", str(site), "--out", str(out), "--quiet", *options])
    assert code == 0, f"briefing build --site {site} failed with exit code {code}"
    return out


def copy_example(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(REPO / "site.yaml", dest / "site.yaml")
    shutil.copytree(REPO / "content", dest / "content")
    return dest


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The example site, built as it is configured (base URL https://example.org/briefing/)."""
    root = tmp_path_factory.mktemp("example")
    return build(copy_example(root / "site"), root / "out")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history")
    shutil.copytree(SITES / "history", root / "site", ignore=shutil.ignore_patterns(".briefing-cache"))
    return build(root / "site", root / "out")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A 200-article site from the shared benchmark generator, built once for this module."""
    if not MAKE_CORPUS.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no corpus generator at {MAKE_CORPUS}")
        pytest.skip(f"no corpus generator at {MAKE_CORPUS}")
    root = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(MAKE_CORPUS), str(root / "site"), "--articles", "200"],
                   check=True, capture_output=True)
    return build(root / "site", root / "out")


def html_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


def page(folder: Path, relative: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((folder / relative).read_bytes())


def text(element) -> str:
    """An element's text with white space collapsed."""
    return " ".join(element.text_content().split())


def section(doc, heading: str):
    """The <section> whose <h2> reads `heading`."""
    found = doc.xpath("//section[h2[normalize-space(.)=$h]]", h=heading)
    assert found, f"no section headed {heading!r}"
    return found[0]


def front_matter(path: Path) -> dict:
    raw = path.read_text(encoding="utf-8")
    return yaml.safe_load(raw.split("---\n", 2)[1])


# --------------------------------------------------------------------------- 1. golden pages

GOLDEN_PAGES = [
    "index.html",
    BRIEFING,
    "actors/mark-rutte/index.html",
    "proposals/security-guarantees/index.html",
    "questions/troop-contributors/index.html",
    "actors/index.html",
    "feed.xml",
]
_FINGERPRINT = re.compile(rb"style\.[0-9a-f]{6,}\.css")


def normalise(data: bytes) -> bytes:
    """Golden comparison ignores the stylesheet's fingerprint: style.<hex>.css -> style.HASH.css."""
    return _FINGERPRINT.sub(b"style.HASH.css", data)


@pytest.mark.parametrize("relative", GOLDEN_PAGES)
def test_golden_page_of_the_example_site(example, relative):
    actual = normalise((example / relative).read_bytes())
    golden = GOLDEN / "example" / relative
    if REGENERATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        if not golden.is_file() or golden.read_bytes() != actual:
            golden.write_bytes(actual)
        return
    if not golden.is_file():
        pytest.fail(f"no golden file {golden.relative_to(REPO)}; {REGENERATE_HINT}")
    expected = golden.read_bytes()
    if actual != expected:
        diff = difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(),
                                    actual.decode("utf-8", "replace").splitlines(),
                                    f"golden/{relative}", f"built/{relative}", lineterm="", n=2)
        shown = "\n".join(list(diff)[:80])
        pytest.fail(f"{relative} differs from {golden.relative_to(REPO)}:\n{shown}\n\n{REGENERATE_HINT}")


def test_golden_normalisation_only_touches_the_stylesheet_name():
    assert normalise(b'<link href="/b/static/style.3517a8e6.css">') == b'<link href="/b/static/style.HASH.css">'
    assert normalise(b"style.css lifestyle.abc.css") == b"style.css lifestyle.abc.css"


def test_example_build_is_byte_identical_when_repeated(example, tmp_path):
    again = build(copy_example(tmp_path / "site"), tmp_path / "out")
    for relative in GOLDEN_PAGES:
        assert (again / relative).read_bytes() == (example / relative).read_bytes(), relative


# --------------------------------------------------------------------------- 2. targeted checks

ARTICLE = REPO / "content" / "articles" / "2025-08-22-rutte-in-kyiv.md"


def actor_name(ident: str, matter: dict) -> str:
    for actor in matter.get("actors", ()):
        if isinstance(actor, dict) and actor.get("id") == ident:
            return actor["name"]
    return yaml.safe_load((REPO / "content" / "actors" / f"{ident}.yaml").read_text())["name"]


def stance_rows(doc, proposal: str) -> dict[str, dict[str, str]]:
    """The stance table of one proposal block of a briefing: actor id -> column label -> text."""
    blocks = doc.xpath("//div[contains(@class,'proposal-block')][.//h3/a[contains(@href,$p)]]",
                       p=f"/proposals/{proposal}/")
    assert len(blocks) == 1, proposal
    rows = {}
    for row in blocks[0].xpath(".//table[contains(@class,'stances')]/tbody/tr"):
        link = row.xpath("./th/a")[0]
        ident = link.get("href").rstrip("/").rsplit("/", 1)[1]
        rows[ident] = {"Actor": text(link), **{td.get("data-label"): text(td) for td in row.xpath("./td")}}
    return rows


def test_stance_tables_show_every_stance_the_article_attributes(example):
    doc = page(example, BRIEFING)
    matter = front_matter(ARTICLE)
    for update in matter["proposals"]:
        rows = stance_rows(doc, update["id"])
        positions = update.get("positions", [])
        assert set(rows) == {p["actor"] for p in positions}, update["id"]
        for position in positions:
            row = rows[position["actor"]]
            assert row["Actor"] == actor_name(position["actor"], matter)
            assert row["Stance"] == position["stance"].capitalize()
            if position.get("condition"):
                assert row["Condition"] == " ".join(position["condition"].split())
            if position.get("note"):
                assert " ".join(position["note"].split()) in row["Evidence"]
            if position.get("quote"):
                assert " ".join(position["quote"].split()) in row["Evidence"]


def test_stance_table_examples_from_the_article(example):
    doc = page(example, BRIEFING)
    guarantees = stance_rows(doc, "security-guarantees")
    assert guarantees["sergei-lavrov"]["Stance"] == "Opposes"
    assert guarantees["mark-rutte"]["Stance"] == "Supports"
    air = stance_rows(doc, "us-air-support")
    assert air["donald-trump"]["Stance"] == "Conditional"
    assert air["donald-trump"]["Condition"] == "Air support only; American ground troops are excluded."
    # the badge carries its word, not only a colour
    badge = doc.xpath("//div[contains(@class,'proposal-block')][.//a[contains(@href,'/us-air-support/')]]"
                      "//span[contains(@class,'stance-conditional')]")[0]
    assert text(badge) == "Conditional"


def test_earlier_stances_past_the_limit_are_counted_in_words(make_site, tmp_path):
    """Past eight earlier stances, a briefing counts them instead of listing them: the sentence
    reads as one ('... Opposes 3 — every actor's stance ...'), with no word run into the dash."""
    actors = [f"actor-{n}" for n in range(10)]
    first = ("---\ntitle: Summit\ndate: 2025-01-01\nactors:\n"
             + "".join(f"  - {{id: {a}, name: Person {a[-1]}, kind: person}}\n" for a in actors)
             + "proposals:\n  - id: plan\n    title: The plan\n    status: proposed\n    positions:\n"
             + "".join(f"      - {{actor: {a}, stance: {'supports' if n < 7 else 'opposes'}}}\n"
                       for n, a in enumerate(actors))
             + "---\nThe summit met.\n")
    second = ("---\ntitle: Talks\ndate: 2025-01-02\nactors: [actor-0]\nproposals:\n  - id: plan\n"
              "    status: under-negotiation\n    positions:\n      - {actor: actor-0, stance: undecided}\n"
              "---\nTalks went on.\n")
    site = make_site({"content/articles/2025-01-01-summit.md": first,
                      "content/articles/2025-01-02-talks.md": second})
    doc = page(build(site, tmp_path / "out"), "briefings/talks/index.html")
    carried = doc.xpath("//p[contains(@class,'carried')]")
    assert len(carried) == 1
    assert " ".join(text(carried[0]).split()) == (
        "Also on record from earlier briefings: Supports 6 · Opposes 3 — every actor's stance and its history.")


def quote_target(doc, anchor: str):
    targets = doc.xpath("//*[@id=$a]", a=anchor)
    assert len(targets) == 1, f"{len(targets)} elements with id {anchor!r}"
    return targets[0]


def folded(words: str) -> str:
    """Quote text as the reader sees it: typographic quotes as plain, white space collapsed."""
    return " ".join(words.replace("’", "'").replace("‘", "'").strip().split())


def test_each_key_quote_links_to_a_mark_wrapping_its_words_in_the_full_text(example):
    doc = page(example, BRIEFING)
    body = doc.xpath("//section[contains(@class,'full-text')]")[0]
    figures = section(doc, "Key quotes").xpath(".//figure[contains(@class,'quote')]")
    assert len(figures) == len(front_matter(ARTICLE)["quotes"])
    for figure in figures:
        quoted = text(figure.xpath(".//blockquote")[0])
        href = figure.xpath(".//a[contains(@class,'quote-link')]/@href")[0]
        assert href.startswith("#"), href
        target = quote_target(doc, href[1:])
        assert target.tag == "mark" and "quote-mark" in target.get("class")
        assert target in body.iter(), f"{href} is not in the full text"
        assert folded(target.text_content()) == folded(quoted)


def test_evidence_quotes_link_to_their_sentence(example):
    doc = page(example, BRIEFING)
    links = doc.xpath("//p[contains(@class,'evidence-quote')]/a")
    assert len(links) >= 3
    for link in links:
        target = quote_target(doc, link.get("href").lstrip("#"))
        assert folded(target.text_content()) == folded(link.text_content())


def test_a_quote_spanning_a_linked_name_is_one_mark(example):
    """Rutte's quote contains Putin's name, which links to his page: the mark wraps both."""
    doc = page(example, BRIEFING)
    rutte = [q for q in front_matter(ARTICLE)["quotes"] if "Vladimirovich" in q["text"]][0]
    figure = [f for f in section(doc, "Key quotes").xpath(".//figure")
              if "Vladimirovich" in f.text_content()][0]
    target = quote_target(doc, figure.xpath(".//a[contains(@class,'quote-link')]/@href")[0][1:])
    assert folded(target.text_content()) == folded(rutte["text"])
    assert target.xpath(".//a[contains(@href,'/actors/vladimir-putin/')]")


class Nesting(HTMLParser):
    """Fails on an end tag that does not close the innermost open element (lxml would mend it)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else ''}>"
        self.open.pop()


def test_quotes_that_cross_markup_or_each_other_are_marked_run_by_run(make_site, tmp_path):
    """Where one mark cannot wrap a quote (it crosses a link's edge, or another quote), each run of
    its text gets a mark; the first carries the id, and the tags still nest."""
    site = make_site({"content/articles/2025-01-01-marks.md": (
        "---\ntitle: Marks\ndate: 2025-01-01\nactors:\n  - id: ann\n    name: Ann Lee\n    kind: person\n"
        "quotes:\n  - {actor: ann, text: alpha beta gamma}\n  - {actor: ann, text: beta gamma delta}\n"
        "  - {actor: ann, text: Lee said hello}\n  - {actor: ann, text: very fine words}\n"
        "  - {actor: ann, text: truly fine words}\n"
        "---\nalpha beta gamma delta.\n\nAnn Lee said hello to [the whole *very* fine](https://example.org/) "
        "words.\n\n*truly* fine words.\n")})
    out = build(site, tmp_path / "out")
    raw = (out / "briefings/marks/index.html").read_text(encoding="utf-8")
    body = raw[raw.index('<div class="body">'):raw.index("</section>", raw.index('<div class="body">'))]
    checker = Nesting()
    checker.feed(body)
    doc = lxml.html.fromstring(raw)
    for figure in section(doc, "Key quotes").xpath(".//figure"):
        quoted = text(figure.xpath(".//blockquote")[0])
        anchor = figure.xpath(".//a[contains(@class,'quote-link')]/@href")[0][1:]
        first = quote_target(doc, anchor)
        runs = [first, *doc.xpath("//mark[@data-quote=$a]", a=anchor)]
        assert folded("".join(m.text_content() for m in runs)).replace("  ", " ") == folded(quoted)
    # the quote that lies wholly in its paragraph's emphasis and text is one mark
    whole = [m for m in doc.xpath("//mark[@id]") if m.xpath("./em[.='truly']")]
    assert whole and folded(whole[0].text_content()) == "truly fine words"
    assert len(doc.xpath("//mark[@data-quote]")) == 4


def test_the_reached_quote_is_highlighted(example):
    css = next((example / "static").glob("style.*.css")).read_text()
    assert re.search(r"mark\.quote-mark:target\s*\{[^}]*background", css)


def test_what_changed_lists_status_and_stance_changes_and_answered_and_reopened_questions(history):
    def changes(slug):
        doc = page(history, f"briefings/{slug}/index.html")
        items = doc.xpath("//section[contains(@class,'what-changed')]//ul[@class='changes']/li")
        return [text(li) for li in items]

    talks = changes("talks-begin")
    assert "Status Verran water-sharing accord: Proposed → Under negotiation" in talks
    assert "Stance Tomas Eld on Verran water-sharing accord: Opposes → Conditional" in talks
    assert "New proposal Joint flow-monitoring station at the border" in talks
    agreed = changes("accord-agreed")
    assert "Status Verran water-sharing accord: Under negotiation → Agreed" in agreed
    assert "Stance Tomas Eld on Verran water-sharing accord: Conditional → Supports" in agreed
    assert "Answered How much water will Bestova receive in a drought year?" in agreed
    dispute = changes("gauge-dispute")
    assert "Reopened How much water will Bestova receive in a drought year?" in dispute
    assert "Status Joint flow-monitoring station at the border: Proposed → Stalled" in dispute
    # article 4 repeats 'agreed' and Eld's 'supports': no change is reported for them
    assert not any("Verran water-sharing accord:" in item for item in dispute)
    # the changes link to what changed
    doc = page(history, "briefings/accord-agreed/index.html")
    what = doc.xpath("//section[contains(@class,'what-changed')]")[0]
    assert what.xpath(".//a[@href='/history/proposals/verran-water-accord/']")
    assert what.xpath(".//a[@href='/history/questions/dry-year-flow/']")


def full_text_links(doc, actor: str) -> list[str]:
    body = doc.xpath("//section[contains(@class,'full-text')]")[0]
    return [text(a) for a in body.xpath(".//a[contains(@href,$h)]", h=f"/actors/{actor}/")]


def test_an_alias_in_the_body_links_to_its_actor_on_the_first_mention_only(example, history):
    # "NATO Secretary General Mark Rutte ...": the alias, the earliest mention, is linked, once
    assert full_text_links(page(example, BRIEFING), "mark-rutte") == ["NATO Secretary General"]
    # only aliases name Eld and Kovac in this briefing's text; each is linked once
    dispute = page(history, "briefings/gauge-dispute/index.html")
    assert full_text_links(dispute, "tomas-eld") == ["Eld"]
    assert full_text_links(dispute, "mira-kovac") == ["Kovac"]
    agreed = page(history, "briefings/accord-agreed/index.html")
    assert full_text_links(agreed, "mira-kovac") == ["Mira Kovac"]


def test_the_nato_chief_alias_links_to_rutte(make_site, tmp_path):
    site = make_site({
        "content/actors/mark-rutte.yaml": "name: Mark Rutte\nkind: person\naliases: [Rutte, NATO chief]\n",
        "content/articles/2025-08-22-visit.md": (
            "---\ntitle: Visit\ndate: 2025-08-22\nactors: [mark-rutte]\n---\n"
            "The NATO chief arrived in Kyiv.\n\nRutte met the president. Mark Rutte spoke.\n"),
    })
    doc = page(build(site, tmp_path / "out"), "briefings/visit/index.html")
    assert full_text_links(doc, "mark-rutte") == ["NATO chief"]


def test_whos_who_shows_roles_as_of_each_briefing(history):
    def card(slug, actor):
        doc = page(history, f"briefings/{slug}/index.html")
        cards = section(doc, "Who’s who").xpath(".//li[a[@href=$h]]", h=f"/history/actors/{actor}/")
        assert len(cards) == 1
        return text(cards[0])

    assert card("accord-proposed", "mira-kovac") == "Mira Kovac Foreign Minister of Arland, Arland"
    assert card("talks-begin", "mira-kovac") == "Mira Kovac Foreign Minister of Arland, Arland"
    assert card("accord-agreed", "mira-kovac") == "Mira Kovac Prime Minister of Arland, Arland"
    actor = page(history, "actors/mira-kovac/index.html")
    assert "Prime Minister of Arland" in text(actor.xpath("//dl[contains(@class,'facts')]")[0])


def test_home_leads_with_the_latest_bottom_line(history):
    doc = page(history, "index.html")
    lead = doc.xpath("//main//section")[0]
    assert "bottom-line" in lead.get("class")
    assert lead.xpath(".//a[@href='/history/briefings/gauge-dispute/']")
    listed = [a.get("href") for a in section(doc, "Latest briefings").xpath(".//h3/a")]
    assert listed == [f"/history/briefings/{s}/" for s in
                      ("gauge-dispute", "accord-agreed", "talks-begin", "accord-proposed")]
    table = text(section(doc, "On the table"))
    assert "Stalled Joint flow-monitoring station" in table and "water-sharing accord" not in table
    assert "How much water will Bestova receive" in text(section(doc, "Open questions"))


def test_actor_page_shows_how_a_stance_moved(history):
    doc = page(history, "actors/tomas-eld/index.html")
    row = section(doc, "Stances").xpath(".//tr[th/a[contains(@href,'/verran-water-accord/')]]")[0]
    path = [text(li.xpath(".//span[contains(@class,'badge')]")[0]) for li in row.xpath(".//ol/li")]
    assert path == ["Opposes", "Conditional", "Supports"]     # article 4 restates it: not a move
    assert text(row.xpath("./td[@data-label='Stance now']")[0]).startswith("Supports")
    quotes = section(doc, "Quotes").xpath(".//a[contains(@class,'quote-link')]/@href")
    for href in quotes:
        slug, anchor = re.fullmatch(r"/history/briefings/([^/]+)/#(.+)", href).groups()
        quote_target(page(history, f"briefings/{slug}/index.html"), anchor)


def test_proposal_page_shows_status_history_and_matrix(history):
    doc = page(history, "proposals/verran-water-accord/index.html")
    assert text(doc.xpath("//p[contains(@class,'status-line')]")[0]) == "Status: Agreed"
    rows = section(doc, "Status history").xpath(".//tbody/tr")
    assert [text(r.xpath("./td")[1]) for r in rows] == ["Proposed", "Proposed → Under negotiation",
                                                        "Under negotiation → Agreed"]
    eld = section(doc, "Where everyone stands").xpath(".//tr[th/a[contains(@href,'/tomas-eld/')]]")[0]
    assert text(eld.xpath("./td")[0]) == "Supports" and eld.xpath(".//details")


def test_question_page_shows_reopened_history(history):
    doc = page(history, "questions/dry-year-flow/index.html")
    assert text(doc.xpath("//p[contains(@class,'status-line')]")[0]) == "Open"
    statuses = [text(r.xpath("./td")[1]) for r in section(doc, "History").xpath(".//tbody/tr")]
    assert statuses[0] == "Open" and "Answered" in statuses and statuses[-1] == "Open"


def test_indexes_group_their_entries(history, example):
    actors = page(example, "actors/index.html")
    assert [text(h) for h in actors.xpath("//main//h2")] == ["People", "Organizations", "States"]
    proposals = page(history, "proposals/index.html")
    assert [text(h) for h in proposals.xpath("//main//h2")] == ["Agreed", "Stalled"]
    questions = page(history, "questions/index.html")
    assert [text(h) for h in questions.xpath("//main//h2")][0] == "Open"
    timeline = text(page(history, "timeline/index.html").xpath("//main")[0])
    assert "March 2024" in timeline
    assert (history / "tags" / "water" / "index.html").is_file()
    assert (history / "method" / "index.html").is_file() and (history / "404.html").is_file()


def test_drafts_are_left_out_of_the_build(history):
    assert not (history / "briefings" / "assembly-vote").exists()
    assert not (history / "actors" / "lena-brask").exists()
    for path in html_files(history):
        assert "Lena Brask" not in path.read_text(encoding="utf-8"), path


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def theme_colours(css: str) -> dict[str, dict[str, str]]:
    """The theme's colour variables, light and dark."""
    def variables(start: str) -> dict[str, str]:
        at = css.index(start)
        return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\b", css[at:css.index("}", at)]))
    light = variables(":root {")
    return {"light": light, "dark": {**light, **variables("@media (prefers-color-scheme: dark) {")}}


TEXT_PAIRS = [("text", "bg"), ("text", "bg-soft"), ("muted", "bg"), ("muted", "bg-soft"), ("link", "bg"),
              ("link", "bg-soft"), ("link-visited", "bg"), ("link-visited", "bg-soft"), ("draft-text", "draft-bg"),
              ("text", "mark"), ("link", "mark"), ("link-visited", "mark"),
              ("text", "target"), ("link", "target"), ("link-visited", "target"),
              *[(f"b-{c}-fg", f"b-{c}-bg") for c in ("blue", "amber", "green", "red", "grey", "purple")]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_theme_colours_meet_wcag_aa(scheme):
    """Text (links in a reached quote too) reaches 4.5:1 on its background; focus rings 3:1."""
    colours = theme_colours((REPO / "static" / "style.css").read_text())[scheme]
    low = [f"{fg} on {bg}: {contrast(colours[fg], colours[bg]):.2f}" for fg, bg in TEXT_PAIRS
           if contrast(colours[fg], colours[bg]) < 4.5]
    low += [f"{ring} on bg: {contrast(colours[ring], colours['bg']):.2f}" for ring in ("focus", "target-ring")
            if contrast(colours[ring], colours["bg"]) < 3]
    assert not low, f"{scheme} scheme below WCAG AA: " + "; ".join(low)


# --------------------------------------------------------------------------- 3. validity and links

@pytest.fixture(scope="module")
def hostile_text(tmp_path_factory) -> Path:
    """A site whose every text field carries markup, built with the default HTML policy."""
    root = tmp_path_factory.mktemp("hostile")
    return build(write_hostile_site(root / "site", allow_html=False), root / "out")


@pytest.fixture(scope="module")
def vnu_report(tmp_path_factory, example, history, corpus, hostile_text) -> dict[str, list]:
    """One run of the Nu Html Checker over every page of every build, grouped by build.

    A page known to be invalid rides along, to show that the checker really read the files.
    """
    require_vnu()
    canary = tmp_path_factory.mktemp("canary") / "invalid.html"
    canary.write_text("<!doctype html><html lang=en><title>x</title><p><div></span></html>")
    builds = {"example": example, "history": history, "corpus": corpus, "hostile": hostile_text}
    messages = check_html([*builds.values(), canary])
    report: dict[str, list] = {name: [] for name in [*builds, "canary"]}
    for message in messages:
        for name, folder in [*builds.items(), ("canary", canary)]:
            if Path(message.path).resolve().is_relative_to(folder.resolve()):
                report[name].append(message)
    return report


@pytest.mark.parametrize("name", ["example", "history", "corpus", "hostile"])
def test_every_page_passes_the_nu_html_checker(vnu_report, name, request):
    folder = request.getfixturevalue({"hostile": "hostile_text"}.get(name, name))
    assert len(html_files(folder)) > 10
    assert vnu_report["canary"], "the checker found nothing in a page known to be invalid"
    assert not vnu_report[name], format_messages(vnu_report[name])


def test_the_corpus_has_every_page_kind(corpus):
    pages = html_files(corpus)
    assert len(list((corpus / "briefings").glob("*/index.html"))) == 200
    assert len(pages) > 600
    for kind in ("actors", "proposals", "questions", "tags", "page"):
        assert (corpus / kind).is_dir(), kind


@pytest.mark.parametrize("name, base", [("example", EXAMPLE_BASE), ("history", HISTORY_BASE), ("corpus", "/")])
def test_no_broken_internal_link_or_anchor(name, base, request):
    folder = request.getfixturevalue(name)
    # the corpus's base URL is https://example.org/ and its articles cite https://example.org/news
    # as their source: a page of somebody else's, so full URLs are not followed there
    site_url = "" if name == "corpus" else "https://example.org" + base
    broken = check_links_in_folder(folder, base, site_url=site_url)
    assert not broken, "\n".join(d.format() for d in broken[:40])


# --------------------------------------------------------------------------- 4. subpath base URL

URL_ATTRIBUTES = ("href", "src", "srcset", "action", "poster", "data", "content")


def urls_in(path: Path) -> list[str]:
    """Every URL a built file refers to: HTML attributes, CSS url(), XML links and locations."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        doc = lxml.html.fromstring(raw.encode())
        found = []
        for element in doc.iter():
            if not isinstance(element.tag, str):
                continue
            for name in URL_ATTRIBUTES:
                value = element.get(name)
                if value is None or (name == "content" and element.get("property") not in ("og:url",)):
                    continue
                found += [v.strip().split()[0] for v in value.split(",") if v.strip()] if name == "srcset" else [value]
        return found
    if path.suffix == ".css":
        return re.findall(r"url\(\s*['\"]?([^'\")]+)", raw)
    if path.suffix == ".xml":
        return re.findall(r'href="([^"]+)"', raw) + re.findall(r"<(?:loc|id)>([^<]+)</", raw)
    if path.name == "robots.txt":
        return re.findall(r"Sitemap: (\S+)", raw)
    return []


@pytest.mark.parametrize("site_name", ["example", "history"])
@pytest.mark.parametrize("base_url", ["https://example.org/a/b/", "/a/b/"])
def test_every_link_resolves_under_a_subpath_base_url(tmp_path, site_name, base_url):
    if site_name == "example":
        site = copy_example(tmp_path / "site")
    else:
        site = tmp_path / "site"
        shutil.copytree(SITES / "history", site, ignore=shutil.ignore_patterns(".briefing-cache"))
    out = build(site, tmp_path / "out", "--base-url", base_url)
    site_url = base_url if base_url.startswith("http") else ""
    broken = check_links_in_folder(out, "/a/b/", site_url=site_url)
    assert not broken, "\n".join(d.format() for d in broken[:40])
    checked = 0
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        for url in urls_in(path):
            checked += 1
            if url.startswith("/"):
                assert url.startswith("/a/b/"), f"{path.relative_to(out)}: {url}"
            elif url.startswith("https://example.org"):
                assert url.startswith("https://example.org/a/b/"), f"{path.relative_to(out)}: {url}"
            else:
                assert not url.startswith("//"), f"{path.relative_to(out)}: {url}"
    assert checked > 500


# --------------------------------------------------------------------------- 5. escaping

def write_hostile_site(root: Path, *, allow_html: bool, body_extra: str = "") -> Path:
    """A site whose titles, names, quotes, notes and summaries all carry markup."""
    script, img = (json.dumps(e) for e in EVIL)     # as YAML double-quoted strings

    def s(prefix: str, which: str = script) -> str:
        return json.dumps(prefix + " " + json.loads(which))

    files = {
        "site.yaml": (f"title: {s('Site')}\nbase_url: https://example.org/\ndescription: {s('About', img)}\n"
                      f"allow_html: {'true' if allow_html else 'false'}\n"),
        "content/actors/evil-actor.yaml": (f"name: {s('Mark')}\nkind: person\nrole: {s('Role', img)}\n"
                                           f"aliases: [{s('Alias')}]\n"),
        "content/pages/about.md": f"---\ntitle: {s('About')}\n---\nAbout <b onclick=\"x()\">this</b>.\n",
        "content/articles/2024-01-01-evil.md": f"""---
title: {json.dumps('Title ' + EVIL[0] + ' and ' + EVIL[1])}
date: 2024-01-01
summary: {s('Summary')}
why_it_matters: {s('Why', img)}
source:
  name: {s('Source')}
  url: https://example.org/source?a=1&b=2
tags: [evil]
actors:
  - evil-actor
  - id: other-actor
    name: {s('Other', img)}
    kind: organization
proposals:
  - id: evil-proposal
    title: {s('Proposal')}
    status: proposed
    summary: {s('Proposal summary', img)}
    proposed_by: [evil-actor]
    positions:
      - actor: evil-actor
        stance: conditional
        condition: {s('Condition')}
        note: {s('Note', img)}
        quote: {s('Quote')}
questions:
  - id: evil-question
    question: {s('Question')}
    raised_by: other-actor
    status: answered
    answer: {s('Answer', img)}
    confidence: low
quotes:
  - actor: evil-actor
    text: {s('Quote')}
  - actor: other-actor
    text: {json.dumps('Other </script><script>alert(1)</script>')}
events:
  - date: 2024-01-01
    title: {s('Event')}
    actors: [evil-actor]
---
He said: Quote {EVIL[0]} and then Mark {EVIL[0]} agreed.

Other </script><script>alert(1)</script>

<div onclick="alert(1)">raw <em>div</em></div>

[x](javascript:alert(1))

{body_extra}
""",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


HOSTILE_PAGES = {
    "briefing": "briefings/evil/index.html",
    "actor": "actors/evil-actor/index.html",
    "inline actor": "actors/other-actor/index.html",
    "proposal": "proposals/evil-proposal/index.html",
    "question": "questions/evil-question/index.html",
    "home": "index.html",
    "actors": "actors/index.html",
    "proposals": "proposals/index.html",
    "questions": "questions/index.html",
    "timeline": "timeline/index.html",
    "tags": "tags/index.html",
    "tag": "tags/evil/index.html",
    "page": "about/index.html",
    "404": "404.html",
}


ACTIVE = ("iframe", "object", "embed", "svg", "math", "base", "form", "meta", "link", "style")


def assert_inert(doc, where: str, *, images: bool = False) -> None:
    """Nothing on the page can run script: no script but JSON-LD, no handlers, no active URLs.

    Outside <head>, no element that embeds or runs anything, and no <img> unless `images`.
    """
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        if element.getparent() is not None and element.getparent().tag != "head":
            assert element.tag not in ACTIVE, f"{where}: <{element.tag}> reached the page"
            assert images or element.tag != "img", f"{where}: <img> reached the page"
        if element.tag == "script":
            assert element.get("type") == "application/ld+json", f"{where}: a script element"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: <{element.tag} {name}=...>"
            if name in ("href", "src", "action", "formaction", "poster", "data", "srcset"):
                compact = re.sub(r"[\x00-\x20\x7f]+", "", value).lower()
                assert not compact.startswith(("javascript:", "vbscript:", "data:")), f"{where}: {name}={value!r}"


@pytest.mark.parametrize("kind", HOSTILE_PAGES)
def test_hostile_text_renders_as_text_on_every_page_kind(hostile_text, kind):
    doc = page(hostile_text, HOSTILE_PAGES[kind])
    assert_inert(doc, kind)
    body = text(doc.xpath("//body")[0])
    assert f"Site {EVIL[0]}" in body                      # the site's title, in the header
    assert EVIL[0] in text(doc.xpath("//main")[0]) or kind in ("404", "tags"), kind


def test_hostile_text_shows_literally_where_it_was_written(hostile_text):
    doc = page(hostile_text, HOSTILE_PAGES["briefing"])
    assert text(doc.xpath("//h1")[0]) == f"Title {EVIL[0]} and {EVIL[1]}"
    assert doc.xpath("//title")[0].text.startswith(f"Title {EVIL[0]} and {EVIL[1]}")
    shown = text(doc.xpath("//main")[0])
    for expected in (f"Summary {EVIL[0]}", f"Why {EVIL[1]}", f"Mark {EVIL[0]}", f"Role {EVIL[1]}",
                     f"Other {EVIL[1]}", f"Proposal {EVIL[0]}", f"Condition {EVIL[0]}", f"Note {EVIL[1]}",
                     f"Quote {EVIL[0]}", f"Question {EVIL[0]}", f"Answer {EVIL[1]}", f"Event {EVIL[0]}",
                     f"Source {EVIL[0]}"):
        assert expected in shown, expected
    assert doc.xpath("//meta[@name='description']/@content") == [f"Summary {EVIL[0]}"]
    actor = page(hostile_text, HOSTILE_PAGES["actor"])
    assert text(actor.xpath("//h1")[0]) == f"Mark {EVIL[0]}"
    assert f"Alias {EVIL[0]}" in text(actor.xpath("//main")[0])


def test_json_ld_cannot_be_closed_by_a_title(hostile_text):
    for kind in ("briefing", "actor"):
        raw = (hostile_text / HOSTILE_PAGES[kind]).read_text(encoding="utf-8")
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', raw, re.S)
        assert len(blocks) == 1, kind
        assert "<" not in blocks[0] and ">" not in blocks[0], kind
        data = json.loads(blocks[0])
        if kind == "briefing":
            news = data["@graph"][0]
            assert news["headline"] == f"Title {EVIL[0]} and {EVIL[1]}"
            assert any(node.get("text") == "Other </script><script>alert(1)</script>" for node in data["@graph"])
        else:
            assert data["name"] == f"Mark {EVIL[0]}"


def test_feeds_carry_hostile_text_as_text(hostile_text):
    for relative in ("feed.xml", "actors/evil-actor/feed.xml", "proposals/evil-proposal/feed.xml"):
        raw = (hostile_text / relative).read_bytes()
        assert b"<script" not in raw and b"<img" not in raw, relative
        ns = {"a": "http://www.w3.org/2005/Atom"}
        root = ET.fromstring(raw)
        entry = root.find("a:entry", ns)
        assert entry.find("a:title", ns).text == f"Title {EVIL[0]} and {EVIL[1]}"
    root = ET.fromstring((hostile_text / "feed.xml").read_bytes())
    assert root.find("{http://www.w3.org/2005/Atom}title").text == f"Site {EVIL[0]}"


def test_raw_html_in_a_body_is_text_by_default(hostile_text):
    doc = page(hostile_text, HOSTILE_PAGES["briefing"])
    body = doc.xpath("//section[contains(@class,'full-text')]//div[@class='body']")[0]
    assert not body.xpath(".//div | .//em | .//script")
    shown = text(body)
    assert '<div onclick="alert(1)">raw <em>div</em></div>' in shown
    assert "Other </script><script>alert(1)</script>" in shown
    about = page(hostile_text, HOSTILE_PAGES["page"])
    assert '<b onclick="x()">this</b>' in text(about.xpath("//main")[0]) and not about.xpath("//main//b")


def test_a_markdown_javascript_link_is_not_a_link(hostile_text):
    doc = page(hostile_text, HOSTILE_PAGES["briefing"])
    body = doc.xpath("//section[contains(@class,'full-text')]")[0]
    assert "[x](javascript:alert(1))" in text(body)
    assert not [a for a in body.xpath(".//a") if "javascript" in (a.get("href") or "").lower()]


ALLOWED_HTML = """
<p class="kept">Harmless <em>emphasis</em> and <strong>strength</strong>.</p>

<table><thead><tr><th>Head</th></tr></thead><tbody><tr><td>Cell</td></tr></tbody></table>

<script>alert(2)</script>

<p onclick="alert(3)" onmouseover="alert(3)" style="color: red">handled</p>

<iframe src="https://example.org/"></iframe>

<a href="javascript:alert(4)">plain</a>
<a href="JaVaScRiPt:alert(5)">cased</a>
<a href="&#106;avascript:alert(6)">entity</a>
<a href="&#x6A;&#x61;vascript:alert(7)">hex entity</a>
<a href="java&#x09;script:alert(8)">tab</a>
<a href=" javascript:alert(9)">space</a>
<a href="jav&#x0A;ascript:alert(10)">newline</a>
<a href="java&#0;script:alert(11)">nul</a>
<a href="&#1;javascript:alert(12)">control</a>
<a href="vbscript:msgbox(13)">vb</a>
<a href="data:text/html,<script>alert(14)</script>">data</a>
<a href="https://example.org/ok">fine link</a>
<img src="x" onerror="alert(15)" alt="pic">
<svg onload="alert(16)"><circle r="1"></circle></svg>
<object data="javascript:alert(17)"></object>
<form action="javascript:alert(18)"><button formaction="javascript:alert(19)">go</button></form>
<style>body { display: none }</style>
<span style="background: url(javascript:alert(20))">styled</span>
<SCRIPT SRC=//evil.example/x.js></SCRIPT>
<scr<script>ipt>alert(21)</script>
<a href="javascript&colon;alert(22)">colon</a>
<a href="/method/">a root-relative link</a>
<plaintext>
"""


@pytest.fixture(scope="module")
def allowed_html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("allowed")
    return build(write_hostile_site(root / "site", allow_html=True, body_extra=ALLOWED_HTML), root / "out")


def test_allow_html_lets_harmless_markup_through(allowed_html):
    doc = page(allowed_html, HOSTILE_PAGES["briefing"])
    body = doc.xpath("//section[contains(@class,'full-text')]//div[@class='body']")[0]
    assert body.xpath(".//p[@class='kept']/em[.='emphasis']") and body.xpath(".//strong[.='strength']")
    assert body.xpath(".//table//td[.='Cell']") and body.xpath(".//table//th[.='Head']")
    assert body.xpath(".//a[@href='https://example.org/ok']")
    assert body.xpath(".//a[@href='/method/']")          # the site's base path is '/'
    assert "handled" in text(body) and "styled" in text(body)


def test_allow_html_never_lets_script_reach_the_page(allowed_html):
    for kind, relative in HOSTILE_PAGES.items():
        assert_inert(page(allowed_html, relative), kind, images=True)
    doc = page(allowed_html, HOSTILE_PAGES["briefing"])
    body = doc.xpath("//section[contains(@class,'full-text')]//div[@class='body']")[0]
    assert not body.xpath(".//*[@style]"), "a style attribute reached the page"
    assert not body.xpath(".//style | .//script | .//iframe | .//object | .//form | .//button")
    raw = (allowed_html / HOSTILE_PAGES["briefing"]).read_text(encoding="utf-8")
    for needle in ("alert(2)", "alert(3)", "alert(4)", "alert(6)", "alert(8)", "alert(15)", "alert(17)",
                   "alert(22)", "evil.example", "<plaintext", "<scr<"):
        assert needle not in raw, needle
    # the link texts stay, as text or as links without their script
    for word in ("plain", "cased", "entity", "hex entity", "tab", "space", "newline", "nul", "control", "colon"):
        assert word in text(body), word
    assert not [a for a in body.xpath(".//a") if "javascript" in re.sub(r"\s", "", a.get("href") or "").lower()]
    assert body.xpath(".//img[@alt='pic' and @src='x' and not(@onerror)]")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "data:text/html,x", "vbscript:x", "//evil.example/", "ftp://example.org/"])
def test_a_non_http_source_url_is_an_error_at_its_line(make_site, capsys, url):
    site = make_site({"content/articles/2024-01-01-x.md": (
        "---\ntitle: X\ndate: 2024-01-01\nsource:\n  name: Somewhere\n"
        f"  url: {json.dumps(url)}\n---\nBody.\n")})
    assert main(["build", "--site", str(site), "--out", str(site.parent / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    expected = r"content/articles/2024-01-01-x\.md:6:\d+: error: 'source\.url' must be an http\(s\) URL"
    assert re.search(expected, err), err
    assert not (site.parent / "out").exists()


# --------------------------------------------------------------------------- 6. screenshots

SHOTS = {
    "home": "",
    "briefing": "briefings/rutte-in-kyiv/",
    "actor": "actors/mark-rutte/",
    "proposal": "proposals/security-guarantees/",
}
WIDTHS = {"desktop": (1280, 1600), "phone": (390, 2400)}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served_example(tmp_path_factory) -> Iterator[str]:
    """The example site built under /briefing/ and served over HTTP on a free port."""
    root = tmp_path_factory.mktemp("served")
    build(copy_example(root / "site"), root / "www" / "briefing")
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root / "www")))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/briefing/"
    finally:
        server.shutdown()
        server.server_close()


def served_pages(served: str, built: Path) -> Iterator[tuple[str, str]]:
    """(path in the output, its URL as served) for every page of a built site, as a link names it."""
    for path in html_files(built):
        relative = path.relative_to(built).as_posix()
        yield relative, served + (relative[:-len("index.html")] if relative.endswith("index.html") else relative)


@pytest.mark.browser
def test_no_page_is_wider_than_a_phone(served_example, example, request):
    """At 390 px, no page of the example site scrolls sideways: tables stack, long words wrap."""
    context = request.getfixturevalue("browser").new_context(viewport={"width": 390, "height": 800})
    try:
        tab = context.new_page()
        wide = []
        for relative, url in served_pages(served_example, example):
            tab.goto(url)
            width = tab.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide.append(f"{relative}: {width}px")
        assert not wide, "pages wider than the phone:\n" + "\n".join(wide)
    finally:
        context.close()


# The top of the first line of text a reader sees in <main> (not a visually hidden heading),
# less the bottom of the site's header.
FIRST_TEXT_GAP = """() => {
  const main = document.querySelector("main");
  const seen = n => n.textContent.trim() && n.parentElement.getBoundingClientRect().width > 1;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT,
    {acceptNode: n => seen(n) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP});
  const range = document.createRange();
  range.selectNodeContents(walker.nextNode());
  return range.getBoundingClientRect().top - document.querySelector(".site-header").getBoundingClientRect().bottom;
}"""


@pytest.mark.browser
def test_every_page_opens_with_room_below_the_header(served_example, example, request):
    """A page whose title comes first (an index, a tag, the about page, 404) starts as far below
    the header as one led by a kicker (BRIEFING, PERSON), not pressed against it."""
    context = request.getfixturevalue("browser").new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        gaps = {}
        for relative, url in served_pages(served_example, example):
            tab.goto(url)
            gaps[relative] = tab.evaluate(FIRST_TEXT_GAP)
        cramped = {page: round(gap) for page, gap in gaps.items() if gap < 20}
        assert not cramped, f"pages whose first text is under 20 px below the header: {cramped}"
    finally:
        context.close()


def screenshot(url: str, width: int, height: int, target: Path) -> None:
    """The top `height` pixels of a page. Without the compositor flag, Chromium may shoot before
    the lower tiles are painted, leaving a blank band at the bottom of a tall window."""
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
                    "--run-all-compositor-stages-before-draw", "--virtual-time-budget=3000",
                    f"--window-size={width},{height}", f"--screenshot={target}", url],
                   check=True, capture_output=True, timeout=120)


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("BRIEFING_SCREENSHOTS") != "1",
                    reason="rewrites docs/screenshots/ only when BRIEFING_SCREENSHOTS=1")
def test_screenshots(served_example, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser at {CHROMIUM}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in SHOTS.items():
        for device, (width, height) in WIDTHS.items():
            target = SCREENSHOTS / f"{name}-{device}.png"
            screenshot(served_example + path, width, height, tmp_path / target.name)
            shot = tmp_path / target.name
            if shutil.which("pngquant"):
                subprocess.run(["pngquant", "--force", "--skip-if-larger", "--output", str(shot), "256", str(shot)],
                               check=False, capture_output=True)
            shutil.copy(shot, target)
            assert target.stat().st_size > 10_000, target
