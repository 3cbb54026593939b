"""Extraction quality on the fixture pages (tests/data/pages/NAME.html + NAME.expected.txt).

recall    share of the expected body's words that the extracted text has (counted with repeats)
precision share of the extracted words that belong to the expected body (boilerplate kept out)

An expected file may start with "# headline": the release's title, stored apart from its body, so
its words are neither required nor held against the extractor.

Run with -s to see the table: pytest -s tests/test_extract.py -k quality
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from monitor.extract import extract

PAGES = Path(__file__).parent / "data" / "pages"
FIXTURES = {"prnewswire": "prnewswire", "businesswire": "businesswire", "globenewswire": "globenewswire",
            "news": "generic", "company": "generic"}
_WORD = re.compile(r"\w+")


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def score(got: str, expected: str) -> tuple[float, float]:
    if expected.startswith("# "):
        headline, _, expected = expected[2:].partition("\n")
        lines = got.splitlines()
        if headline in lines:  # the extractor kept the headline: fine, it is not boilerplate
            lines.remove(headline)
        got = "\n".join(lines)
    g, e = words(got), words(expected)
    common = sum((g & e).values())
    return common / max(1, sum(e.values())), common / max(1, sum(g.values()))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_quality_of_each_fixture_page(name: str) -> None:
    html = (PAGES / f"{name}.html").read_bytes()
    expected = (PAGES / f"{name}.expected.txt").read_text()
    got = extract(html, url=f"https://www.{name}.example/news/release-1.html")
    assert got is not None
    assert got.method == FIXTURES[name]
    recall, precision = score(got.text, expected)
    print(f"\n{name:14} {got.method:13} recall {recall:.3f}  precision {precision:.3f}")
    assert recall >= 0.95, got.text
    assert precision >= 0.95, got.text


def test_wire_pages_keep_the_dateline_first_and_drop_about_and_source() -> None:
    text = extract((PAGES / "prnewswire.html").read_bytes()).text  # type: ignore[union-attr]
    assert text.startswith("BEIJING, May 11, 2023 /PRNewswire/ -- Chinese President")
    assert "Summit" in text and "Kazakhstan" in text
    assert "About CGTN" not in text and "SOURCE CGTN" not in text and "cookies" not in text
    assert "2021 | 44.6 | +15.5%" in text  # a table row as text
    bw = extract((PAGES / "businesswire.html").read_bytes()).text  # type: ignore[union-attr]
    assert bw.startswith("STOCKHOLM--(BUSINESS WIRE)--Northwind")
    assert "About Northwind" not in bw and "View source version" not in bw and "press@northwind" not in bw
    gnw = extract((PAGES / "globenewswire.html").read_bytes()).text  # type: ignore[union-attr]
    assert gnw.startswith("VANCOUVER, British Columbia, May 11, 2023 (GLOBE NEWSWIRE) --")
    assert "About Aralis" not in gnw and "ir@aralis" not in gnw


def test_an_about_heading_at_the_top_is_the_story_not_boilerplate() -> None:
    html = ("<html><body><section class='release-body'><p><b>About the Summit</b></p>"
            "<p>LONDON, May 1, 2024 /PRNewswire/ -- The summit starts today.</p><p>More words here.</p>"
            "<p>Even more words.</p></section></body></html>")
    got = extract(html)
    assert got is not None and got.method == "prnewswire"
    assert got.text.startswith("About the Summit")


def test_charset_from_the_header_and_an_empty_page() -> None:
    html = ("<html><body><div id='main-body-container'><p>Zürich, 1 May (GLOBE NEWSWIRE) -- Grüße</p></div>"
            "</body></html>")
    got = extract(html.encode("cp1252"), charset="windows-1252")
    assert got is not None and "Zürich" in got.text and "Grüße" in got.text
    assert extract(b"<html><head><title>x</title></head><body><script>var a;</script></body></html>") is None
    assert extract(b"") is None
