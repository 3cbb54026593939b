"""normalize: golden tables for datelines, tickers, URLs, dates and HTML -> text; samples end to end."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.normalize import (
    AUTHOR_LIMIT,
    BODY_LIMIT,
    LINK_LIMIT,
    SUMMARY_LIMIT,
    TITLE_LIMIT,
    TRACKING_PARAMS,
    canonical_url,
    extract_tickers,
    fingerprint,
    html_to_text,
    normalize,
    parse_dateline,
    wire_name,
)
from monitor.parse import parse
from monitor.types import Dateline, Entry, Release

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def entry(**changes: object) -> Entry:
    base = Entry(
        guid="guid-1",
        link="https://www.prnewswire.com/news-releases/acme-301000001.html",
        title="Acme Announces Results",
        summary="<p>NEW YORK, Jan. 5, 2024 /PRNewswire/ -- Acme Corp. (NYSE: ACME) announced results.</p>",
        content="",
        author="Acme Corp.",
        published=datetime(2024, 1, 5, 13, 0, tzinfo=UTC),
        updated=None,
    )
    return replace(base, **changes)


# --------------------------------------------------------------------------- datelines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "BEIJING, May 11, 2023 /PRNewswire/ -- CGTN reports ...",
            Dateline("BEIJING", date(2023, 5, 11), "PR Newswire"),
        ),
        (
            "NEW YORK, Jan. 5, 2024 /PRNewswire-HISPANIC PR WIRE/ -- Acme ...",
            Dateline("NEW YORK", date(2024, 1, 5), "PR Newswire"),
        ),
        (
            "SAN FRANCISCO--(BUSINESS WIRE)--Jan 5, 2024--Acme Rockets ...",
            Dateline("SAN FRANCISCO", date(2024, 1, 5), "Business Wire"),
        ),
        (
            "TORONTO, Jan. 05, 2024 (GLOBE NEWSWIRE) -- Maple Corp ...",
            Dateline("TORONTO", date(2024, 1, 5), "GlobeNewswire"),
        ),
        (
            "AUSTIN, TX / ACCESSWIRE / January 5, 2024 / Lone Star Inc. ...",
            Dateline("AUSTIN, TX", date(2024, 1, 5), "ACCESS Newswire"),
        ),
        (
            "LONDON, UK, Sept. 3, 2023 /PRNewswire/ -- Kestrel ...",
            Dateline("LONDON, UK", date(2023, 9, 3), "PR Newswire"),
        ),
        ("LONDON, Sept 3, 2023 /PRNewswire/ -- x", Dateline("LONDON", date(2023, 9, 3), "PR Newswire")),
        ("LONDON, Sep. 3, 2023 /PRNewswire/ -- x", Dateline("LONDON", date(2023, 9, 3), "PR Newswire")),
        ("LONDON, September 3, 2023 /PRNewswire/ -- x", Dateline("LONDON", date(2023, 9, 3), "PR Newswire")),
        ("LONDON, Dec 31 2023 /PRNewswire/ -- x", Dateline("LONDON", date(2023, 12, 31), "PR Newswire")),
        ("BEIJING, 19 May 2023 /PRNewswire/ -- x", Dateline("BEIJING", date(2023, 5, 19), "PR Newswire")),
        (
            "MIAMI, 4 de marzo de 2025 /PRNewswire-HISPANIC PR WIRE/ -- Solenne ...",
            Dateline("MIAMI", date(2025, 3, 4), "PR Newswire"),
        ),
        (
            "VANCOUVER, BC, Feb. 20, 2026 /PRNewswire/ — Brightmoor ...",  # em dash
            Dateline("VANCOUVER, BC", date(2026, 2, 20), "PR Newswire"),
        ),
        (
            "  WINSTON-SALEM, N.C.,\u00a0March 1, 2024 /PRNewswire/ -- x",  # leading space, NBSP
            Dateline("WINSTON-SALEM, N.C.", date(2024, 3, 1), "PR Newswire"),
        ),
        (
            "SAN FRANCISCO & NEW YORK--(BUSINESS WIRE)--Acme ...",
            Dateline("SAN FRANCISCO & NEW YORK", None, "Business Wire"),
        ),
        ("NEW YORK /PRNewswire/ -- Acme ...", Dateline("NEW YORK", None, "PR Newswire")),
        ("BEIJING, Feb. 30, 2023 /PRNewswire/ -- x", Dateline("BEIJING", None, "PR Newswire")),  # no such day
        ("Acme today announced record results for 2023.", None),
        ("Novo Nordisk A/S today announced / something else", None),
        ("The company said, May 5, 2023, that it would grow.", None),
        ("", None),
        ("Intro paragraph.\nBEIJING, May 11, 2023 /PRNewswire/ -- not at the start", None),
        (" " * 290 + "BEIJING, May 11, 2023 /PRNewswire/ -- beyond the first 300 characters", None),
    ],
)
def test_dateline_styles(text: str, expected: Dateline | None) -> None:
    assert parse_dateline(text) == expected


# --------------------------------------------------------------------------- tickers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apple Inc. (NASDAQ: AAPL) today", ("NASDAQ:AAPL",)),
        ("Acme (NYSE: ABC) and Beta (NASDAQ: BETA)", ("NASDAQ:BETA", "NYSE:ABC")),
        ("Maple (TSX: XYZ)", ("TSX:XYZ",)),
        ("Desert (NYSE American: XYZ)", ("NYSE AMERICAN:XYZ",)),
        ("Tiny (OTCQB: ABCD)", ("OTCQB:ABCD",)),
        ("Junior (TSXV: AB.C)", ("TSXV:AB.C",)),
        ("Vodafone (LSE: VOD)", ("LSE:VOD",)),
        ("Microsoft (Nasdaq: MSFT; TSX: MSFT)", ("NASDAQ:MSFT", "TSX:MSFT")),
        ("Apple (NASDAQ:AAPL)", ("NASDAQ:AAPL",)),
        ("Brightmoor (TSXV: BMR) (OTCQB: BMRGF)", ("OTCQB:BMRGF", "TSXV:BMR")),
        ("Halberd (NYSE: HBLG, TSX: HBL)", ("NYSE:HBLG", "TSX:HBL")),
        ("Listed (NasdaqGS: ACME) and (TSX-V: JR)", ("NASDAQ:ACME", "TSXV:JR")),
        ("Berkshire (NYSE: BRK.B)", ("NYSE:BRK.B",)),
        ("Tencent (HKEX: 0700)", ("HKEX:0700",)),
        ("Acme (NYSE: ABC) repeats (NYSE: ABC)", ("NYSE:ABC",)),
        ("(Note: see below) and (Source: Company data)", ()),
        ("NYSE: ABC outside parentheses", ()),
        ("(nyse: abc) lower-case symbol", ()),
        ("(NYSEX: ABC) unknown exchange", ()),
        ("", ()),
    ],
)
def test_tickers(text: str, expected: tuple[str, ...]) -> None:
    assert extract_tickers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HIVE (TSXV: HIVE) (NASDAQ: HIVE) (FSE: YO0)", ("FSE:YO0", "NASDAQ:HIVE", "TSXV:HIVE")),
        ("Legend (OTCBB:LEGE) (Frankfurt:LM2)", ("FSE:LM2", "OTCBB:LEGE")),
        ("Auxly (TSX.V: XLY) and (TSX-V: JR)", ("TSXV:JR", "TSXV:XLY")),
        ("DeFi (Cboe CA: DEFI)", ("CBOE CA:DEFI",)),
        ("Kalo ( TSXV:KALO )(OTCID:KLGDF)", ("OTCID:KLGDF", "TSXV:KALO")),
        ("Savi (OTC Pink: SVVB) (Pink: XYZQ)", ("OTC PINK:SVVB", "OTC PINK:XYZQ")),
        ("Old (CNX: ABC)", ("CNX:ABC",)),
        ("Facephi (Euronext Growth Paris: ALPHI)", ("EURONEXT GROWTH PARIS:ALPHI",)),
        ("Gotion (02209.HK) and Tencent (HKEX: 00700)", ("HKEX:0700", "HKEX:2209")),
        ("Alphabet (NASDAQ: $GOOGL) and Ethereum (CRYPTO: $ETH)", ("NASDAQ:GOOGL",)),
        ("Hexagon (Nasdaq Stockholm: HEXA B) has 22,000 employees", ("NASDAQ STOCKHOLM:HEXA B",)),
        ("BurTech (Nasdaq: BFI, BFIIW)", ("NASDAQ:BFI", "NASDAQ:BFIIW")),
        ("60 Degrees (NASDAQ:SXTP; SXTPW)", ("NASDAQ:SXTP", "NASDAQ:SXTPW")),
        ("Halberd (NYSE: HBLG, NYSE American: HBL)", ("NYSE AMERICAN:HBL", "NYSE:HBLG")),
        ("Alibaba (NYSE: BABA; HKEX: 9988 (HKD Counter) and 89988 (RMB Counter))", ("HKEX:9988", "NYSE:BABA")),
        ("Alibaba （NYSE：BABA；HKEX：9988）", ("HKEX:9988", "NYSE:BABA")),
        ("Full (ＮＹＳＥ：ＡＢＣ)", ("NYSE:ABC",)),
        ("涂鸦智能（纽交所：TUYA；港交所：2391）", ("HKEX:2391", "NYSE:TUYA")),
        ("SCMP (SEHK: 0583)", ("HKEX:0583",)),
        ("(NYSE: ABC, the leader)", ("NYSE:ABC",)),  # a lower-case word after the comma is no symbol
        ("(NYSE: ABC A leading firm)", ("NYSE:ABC",)),  # a class letter only right before ")" or a separator
        ("($TSLA) alone", ()),
    ],
)
def test_more_ticker_forms(text: str, expected: tuple[str, ...]) -> None:
    assert extract_tickers(text) == expected


def test_ticker_scan_is_bounded_to_the_start_of_the_text() -> None:
    assert extract_tickers("x" * 25_000 + " (NYSE: LATE)") == ()
    assert extract_tickers("x" * 1_000 + " (NYSE: EARLY)") == ("NYSE:EARLY",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "LOS ANGELES, CA - October 21, 2025 (NEWMEDIAWIRE) - Acme ...",
            Dateline("LOS ANGELES, CA", date(2025, 10, 21), "NewMediaWire"),
        ),
        (
            "San Antonio, Texas--(Newsfile Corp. - September 24, 2025) - HIVE ...",
            Dateline("San Antonio, Texas", date(2025, 9, 24), "Newsfile"),
        ),
        (
            "HONG KONG SAR – Media OutReach Newswire – 22 September 2025 – A ...",
            Dateline("HONG KONG SAR", date(2025, 9, 22), "Media OutReach"),
        ),
        (
            "WILMINGTON, NC, September 23, 2022 /24-7PressRelease/ -- As ...",
            Dateline("WILMINGTON, NC", date(2022, 9, 23), "24-7PressRelease"),
        ),
        (
            "MIAMI, 4 de marzo de 2025 /Noticias Newswire/ -- Solenne ...",
            Dateline("MIAMI", date(2025, 3, 4), "Noticias Newswire"),
        ),
        (
            "Fort Lauderdale, FL, March 18, 2026 – PRISM MediaWire – SS Innovations ...",
            Dateline("Fort Lauderdale, FL", date(2026, 3, 18), "PRISM MediaWire"),
        ),
        ("北京2023年8月25日/美通社/ -- 愛奇藝本周宣布", Dateline("北京", date(2023, 8, 25), "PR Newswire")),
        ("NEW YORK, Feb. 18, 2026 -- Acme ...", Dateline("NEW YORK", date(2026, 2, 18), "")),
        ("LONGUEUIL, QC , le 22 sept. 2026 /CNW/ -- Le ...", Dateline("LONGUEUIL, QC", date(2026, 9, 22), "CNW")),
        ("Québec, le 1er oct. 2026 -- La Ville ...", Dateline("Québec", date(2026, 10, 1), "")),
        ("BRIGHTON, England, Feb. 26 /PRNewswire-FirstCall/ -- x", Dateline("BRIGHTON, England", None, "PR Newswire")),
        # Not datelines: a date inside a sentence, a phrase between dashes that is no known wire.
        ("Acme, the leader – Our Team – June 5, 2024 – grows", None),
        ("Revenue rose, May 5, 2023 was the best day.", None),
        ("Acme said on Jan. 5, 2024 - that it would grow.", None),
    ],
)
def test_more_wires_datelines(text: str, expected: Dateline | None) -> None:
    assert parse_dateline(text) == expected


@pytest.mark.parametrize(
    ("written", "display"),
    [
        ("ACCESSWIRE", "ACCESS Newswire"), ("ACCESS Newswire", "ACCESS Newswire"),
        ("GLOBE NEWSWIRE", "GlobeNewswire"), ("PRIME NEWSWIRE", "GlobeNewswire"),
        ("PRNewswire", "PR Newswire"), ("PRNewswire-HISPANIC PR WIRE", "PR Newswire"),
        ("PRNewswire-AsiaNet", "PR Newswire"), ("美通社", "PR Newswire"),
        ("BUSINESS WIRE", "Business Wire"), ("CNW", "CNW"), ("Newsfile Corp.", "Newsfile"),
        ("NEWMEDIAWIRE", "NewMediaWire"), ("Media OutReach Newswire", "Media OutReach"),
        ("Some  Local   Wire", "Some Local Wire"),
    ],
)  # fmt: skip
def test_one_display_name_per_wire(written: str, display: str) -> None:
    assert wire_name(written) == display


def test_a_new_dateline_shape_moves_the_fingerprint_start() -> None:
    # Why a new dateline format is a migration: the fingerprint hashes the body *after* the
    # dateline, so a Newsfile release fingerprinted before this shape was known hashes differently.
    body = "HIVE Digital Technologies Ltd. today announced it has exceeded 20 EH/s."
    with_dateline = f"San Antonio, Texas--(Newsfile Corp. - September 24, 2025) - {body}"
    assert fingerprint("HIVE reaches 2%", with_dateline) == fingerprint("HIVE reaches 2%", body)


# --------------------------------------------------------------------------- canonical URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://www.prnewswire.com/news-releases/x-301.html?utm_source=rss&utm_medium=rss&utm_campaign=a",
            "https://www.prnewswire.com/news-releases/x-301.html",
        ),
        ("HTTPS://WWW.Example.COM/Path/Keep?b=2&a=1", "https://www.example.com/Path/Keep?a=1&b=2"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com?x=1", "https://example.com/?x=1"),
        (
            "https://ex.com/a?fbclid=1&gclid=2&dclid=3&msclkid=4&mc_cid=5&mc_eid=6&igshid=7&yclid=8&_ga=9&ref_src=t",
            "https://ex.com/a",
        ),
        ("https://ex.com/a?UTM_Source=x&utm_whatever=y&id=7", "https://ex.com/a?id=7"),
        ("https://ex.com/a?z=&a=1&flag", "https://ex.com/a?a=1&flag&z="),  # blank values kept
        ("https://ex.com/a?id=2&id=1&a=0", "https://ex.com/a?a=0&id=2&id=1"),  # stable for repeats
        ("https://ex.com/a?q=caf%C3%A9+bar", "https://ex.com/a?q=caf%C3%A9+bar"),  # encoding kept
        ("https://ex.com/A%2Fb/./c/", "https://ex.com/A%2Fb/./c/"),  # path as is
        ("https://user:pw@Ex.com:443/a", "https://user:pw@ex.com/a"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
        ("  https://ex.com/a  ", "https://ex.com/a"),
        ("https://ex.com/a?&&", "https://ex.com/a"),
        ("mailto:press@example.com", "mailto:press@example.com"),
        ("ftp://Example.com/file", "ftp://Example.com/file"),
        ("/relative/path?utm_source=x", "/relative/path?utm_source=x"),
        ("http://[::1/broken", "http://[::1/broken"),
        ("https://ex.com:99999/a", "https://ex.com:99999/a"),
        ("", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_regional_sites_keep_different_canonical_urls() -> None:
    com = canonical_url("https://www.prnewswire.com/news-releases/x-301.html?utm_source=rss")
    uk = canonical_url("https://www.prnewswire.co.uk/news-releases/x-301.html?utm_source=rss_uk")
    assert com != uk


def test_tracking_params_are_a_documented_frozenset() -> None:
    assert isinstance(TRACKING_PARAMS, frozenset)
    assert {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ref_src"} <= (
        TRACKING_PARAMS
    )


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("published", "updated", "expected", "known"),
    [
        (
            datetime(2024, 1, 5, 18, 0, tzinfo=timezone(timedelta(hours=8))),
            None,
            datetime(2024, 1, 5, 10, 0, tzinfo=UTC),
            True,
        ),
        (
            datetime(2024, 1, 5, 5, 0, tzinfo=timezone(timedelta(hours=-5))),
            None,
            datetime(2024, 1, 5, 10, 0, tzinfo=UTC),
            True,
        ),
        (None, datetime(2024, 1, 4, 8, 0, tzinfo=UTC), datetime(2024, 1, 4, 8, 0, tzinfo=UTC), True),
        (None, None, NOW, False),
        (NOW + timedelta(days=3), None, NOW, False),  # far future
        (NOW + timedelta(hours=23), None, NOW + timedelta(hours=23), True),  # clock skew is fine
        (datetime(1970, 1, 1, tzinfo=UTC), None, NOW, False),
        (datetime(1994, 12, 31, 23, 59, tzinfo=UTC), None, NOW, False),
        (datetime(1995, 1, 1, tzinfo=UTC), None, datetime(1995, 1, 1, tzinfo=UTC), True),
        (datetime(2024, 1, 5, 10, 0), None, datetime(2024, 1, 5, 10, 0, tzinfo=UTC), True),  # naive = UTC
    ],
)
def test_published_dates(
    published: datetime | None, updated: datetime | None, expected: datetime, known: bool
) -> None:
    release = normalize(entry(published=published, updated=updated), now=NOW)
    assert release.published_at == expected
    assert release.published_at.tzinfo is UTC
    assert release.published_known is known


# --------------------------------------------------------------------------- HTML -> text


@pytest.mark.parametrize(
    ("html", "paragraphs", "expected"),
    [
        ("<p>One</p><p>Two</p>", True, "One\nTwo"),
        ("<p>One</p><p>Two</p>", False, "One Two"),
        ("<div>a<br>b<br/>c</div><ul><li>d</li><li>e</li></ul>", True, "a\nb\nc\nd\ne"),
        ("<p>Line\nwrapped   in\tsource</p>", True, "Line wrapped in source"),
        ("<b>bold</b> and <a href='x'>link</a>", True, "bold and link"),
        ("<p>a</p><script>alert('x')</script><style>p{color:red}</style><p>b</p>", True, "a\nb"),
        ("<SCRIPT type='text/javascript'>var a = '<p>x</p>';</SCRIPT>ok", True, "ok"),
        ("before<!-- a comment <p>x</p> -->after", True, "beforeafter"),
        ("text <!-- never closed <p>hidden</p>", True, "text"),
        ("visible<script>never closed", True, "visible"),
        ("AT&amp;T &lt;b&gt; &eacute;t&eacute; &#8212; &#x2019; &nbsp;x", False, "AT&T <b> été — ’ x"),
        ("5 < 6 and 7 > 3", False, "5 < 6 and 7 > 3"),
        ("<p>5 < 6</p>", False, "5 < 6"),
        ('<a title="a > b" href="/x">link</a>', False, "link"),
        (
            "<table><tr><th>Hole</th><th>Au</th></tr><tr><td>CL-1</td><td>3.1</td></tr></table>",
            True,
            "Hole Au\nCL-1 3.1",
        ),
        ("a\x00b\x07c\x1bd\x7fe\x9ff\u200bg\ufeffh\u00adi", False, "abcdefghi"),
        ("<p>a\x00b\x01</p><p>c</p>", True, "ab\nc"),
        ("tab\there\x0cform\x0bfeed", False, "tab here form feed"),
        ("plain\r\nlines\r\n\r\n\r\nand\rmore", True, "plain\nlines\nand\nmore"),
        ("plain\r\nlines", False, "plain lines"),
        ("&#0;&#1;x", False, "\ufffdx"),
        ("<![CDATA[gone]]>kept", False, "kept"),
        ("<?php echo 1 ?>kept", False, "kept"),
        ("   ", False, ""),
        ("", True, ""),
    ],
)
def test_html_to_text(html: str, paragraphs: bool, expected: str) -> None:
    assert html_to_text(html, 10_000, paragraphs=paragraphs) == expected


@pytest.mark.parametrize("html", ["word " * 500, "<p>" + "word " * 500 + "</p>", "&amp; " * 500])
def test_html_to_text_caps_output(html: str) -> None:
    text = html_to_text(html, 100, paragraphs=False)
    assert 0 < len(text) <= 100
    assert text == text.strip()


def test_fields_are_capped_in_normalize() -> None:
    release = normalize(
        entry(title="T" * 5000, author="A" * 5000, summary="S " * 5000, content="<p>" + "B " * 200_000 + "</p>"),
        now=NOW,
    )
    assert len(release.title) == TITLE_LIMIT
    assert len(release.author) == AUTHOR_LIMIT
    assert len(release.summary) <= SUMMARY_LIMIT
    assert len(release.body) <= BODY_LIMIT and len(release.body) > BODY_LIMIT - 10
    assert "\n" not in release.title + release.author + release.summary


@pytest.mark.parametrize(
    ("name", "author", "content"),
    [
        ("32 KB author", "Acme " * 6_500, ""),
        ("5 MB HTML body", "Acme", "<p>" + ("Revenue grew strongly this quarter. " * 40 + "</p><p>") * 3_500),
        ("5 MB plain body", "Acme", "Revenue grew strongly this quarter.\n" * 140_000),
        ("5 MB of tags", "Acme", "<span class='x'>" * 330_000),
        ("5 MB unclosed tags", "Acme", "<a " * 1_700_000),
        ("5 MB of entities", "&amp;" * 6_500, "&eacute;" * 650_000),
    ],
)
def test_huge_fields_normalize_quickly(name: str, author: str, content: str) -> None:
    item = entry(author=author, content=content, summary=content[:5_000_000], title=author)
    # CPU time, not wall time (a loaded machine stretches the wall), with room to spare: what this
    # guards against is a super-linear regex on hostile markup, which takes minutes, not seconds.
    started = time.process_time()
    release = normalize(item, now=NOW)
    elapsed = time.process_time() - started
    assert elapsed < 3.0, f"{name}: {elapsed:.2f}s CPU"
    assert len(release.author) <= AUTHOR_LIMIT and len(release.body) <= BODY_LIMIT


# --------------------------------------------------------------------------- identity


def test_sighting_key_prefers_guid_then_link_then_hash() -> None:
    assert normalize(entry(guid="  g-1 \n"), now=NOW).sighting_key == "g-1"
    assert normalize(entry(guid=None), now=NOW).sighting_key == entry().link
    assert normalize(entry(guid="   "), now=NOW).sighting_key == entry().link
    hashed = normalize(entry(guid=None, link=None), now=NOW).sighting_key
    assert hashed.startswith("sha1:") and len(hashed) == 5 + 16
    # Independent of when it was seen, dependent on title and date.
    assert normalize(entry(guid=None, link=None), now=NOW + timedelta(hours=5)).sighting_key == hashed
    assert normalize(entry(guid=None, link=None, title="Other"), now=NOW).sighting_key != hashed
    other_day = entry(guid=None, link=None, published=datetime(2024, 1, 6, tzinfo=UTC))
    assert normalize(other_day, now=NOW).sighting_key != hashed


def test_huge_guid_becomes_a_hash() -> None:
    key = normalize(entry(guid="g" * 32_000), now=NOW).sighting_key
    assert key.startswith("sha1:") and len(key) == 45


def test_url_is_canonical_and_link_is_kept_as_given() -> None:
    link = "https://WWW.PRNewswire.com/news-releases/acme-301000001.html?utm_source=rss#top"
    release = normalize(entry(link=link), now=NOW)
    assert release.url == "https://www.prnewswire.com/news-releases/acme-301000001.html"
    assert release.link == link
    assert normalize(entry(link=None), now=NOW).url == ""


def test_content_hash_tracks_text_not_link_tracking_or_first_seen_time() -> None:
    base = normalize(entry(), now=NOW)
    assert normalize(entry(link=entry().link + "?utm_source=other"), now=NOW).content_hash == base.content_hash
    assert normalize(entry(), now=NOW + timedelta(hours=1)).content_hash == base.content_hash
    undated = entry(published=None)
    assert normalize(undated, now=NOW).content_hash == normalize(undated, now=NOW + timedelta(days=1)).content_hash
    for change in ({"title": "Acme Revises Results"}, {"summary": "<p>Changed.</p>"}, {"content": "<p>Body</p>"},
                   {"author": "Someone"}, {"published": datetime(2024, 1, 6, tzinfo=UTC)}):  # fmt: skip
        assert normalize(entry(**change), now=NOW).content_hash != base.content_hash, change


def test_fingerprint_ignores_dateline_case_punctuation_and_whitespace() -> None:
    body = "Chinese President Xi Jinping and the leaders of five Central Asian countries met in Xi'an."
    a = fingerprint("China, Central Asia: a Summit!", f"BEIJING, May 19, 2023 /PRNewswire/ -- {body}")
    b = fingerprint("china central asia a summit", f"BEIJING, 19 May 2023 /PRNewswire-AsiaNet/ --  {body.upper()}")
    c = fingerprint("China, Central Asia: a Summit", body)
    assert a == b == c
    assert len(a) == 32 and int(a, 16) >= 0
    assert fingerprint("Another title", body) != a
    assert fingerprint("China, Central Asia: a Summit", "Different opening sentence.") != a
    # Only the first 300 characters of the body count.
    assert fingerprint("T", "x" * 300 + " tail one") == fingerprint("T", "x" * 300 + " tail two")


def test_fingerprint_of_nothing_is_empty_and_normalize_never_shares_it() -> None:
    assert fingerprint("", "") == ""
    assert fingerprint("!!!", "  ") == ""
    one = normalize(entry(guid="a", title="", summary="", link=None), now=NOW)
    two = normalize(entry(guid="b", title="", summary="", link=None), now=NOW)
    assert one.fingerprint and two.fingerprint and one.fingerprint != two.fingerprint


def test_summary_dateline_and_tickers_when_there_is_no_body() -> None:
    release = normalize(entry(), now=NOW)
    assert release.body == ""
    assert release.summary == "NEW YORK, Jan. 5, 2024 /PRNewswire/ -- Acme Corp. (NYSE: ACME) announced results."
    assert release.dateline == Dateline("NEW YORK", date(2024, 1, 5), "PR Newswire")
    assert release.dateline_text == "NEW YORK 2024-01-05 PR Newswire"
    assert release.tickers == ("NYSE:ACME",)


# --------------------------------------------------------------------------- bundled samples


def _releases(name: str) -> list[Release]:
    return [normalize(e, now=NOW) for e in parse((SAMPLES / name).read_bytes()).entries]


def test_samples_parse_and_normalize_completely() -> None:
    us, uk = _releases("prnewswire-sample.xml"), _releases("prnewswire-uk-sample.xml")
    assert len(us) == 6 and len(uk) == 3
    for release in us + uk:
        assert release.published_known
        assert release.dateline is not None and release.dateline.date is not None
        assert release.title and release.author and release.summary
        assert release.url.startswith("https://www.prnewswire.")
        assert "utm_" not in release.url
    assert {t for r in us for t in r.tickers} >= {"NASDAQ:NRVX", "NYSE:HBLG", "TSX:HBL", "TSXV:BMR", "LSE:KSTL"}


def test_cgtn_release_in_both_sample_feeds_has_one_fingerprint_and_two_urls() -> None:
    us = next(r for r in _releases("prnewswire-sample.xml") if r.author == "CGTN")
    uk = next(r for r in _releases("prnewswire-uk-sample.xml") if r.author == "CGTN")
    assert us.sighting_key != uk.sighting_key
    assert us.url != uk.url
    assert us.url.startswith("https://www.prnewswire.com/") and uk.url.startswith("https://www.prnewswire.co.uk/")
    assert us.fingerprint == uk.fingerprint
    assert us.published_at == uk.published_at == datetime(2023, 5, 19, 10, 12, tzinfo=UTC)
    assert us.dateline == Dateline("BEIJING", date(2023, 5, 19), "PR Newswire")
    assert uk.dateline == Dateline("BEIJING", date(2023, 5, 19), "PR Newswire")
    assert "first China–Central Asia Summit" in us.body
    assert us.body.count("\n") >= 5  # several paragraphs


def test_release_repeated_with_other_tracking_params_has_the_same_url() -> None:
    us = next(r for r in _releases("prnewswire-sample.xml") if r.author == "Kestrel Cyber plc")
    uk = next(r for r in _releases("prnewswire-uk-sample.xml") if r.author == "Kestrel Cyber plc")
    assert us.link != uk.link and us.sighting_key != uk.sighting_key
    assert us.url == uk.url
    assert us.fingerprint == uk.fingerprint


# --------------------------------------------------------------------------- hardening


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:x",
     "file:///etc/passwd", "mailto:press@example.com", "/relative/path", "https://exa mple.com/\x00x"],
)  # fmt: skip
def test_only_http_links_become_the_release_url(link: str) -> None:
    release = normalize(entry(link=link, guid=None), now=NOW)
    assert release.url == ""
    assert release.link == link.strip()  # kept as text
    assert release.sighting_key == link.strip()  # still identifies the item within its feed


@pytest.mark.parametrize(
    "published",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),  # past datetime.max in UTC
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # before datetime.min in UTC
        datetime(2999, 1, 1, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
    ],
)
def test_absurd_dates_are_clamped_to_first_seen_and_never_overflow(published: datetime) -> None:
    release = normalize(entry(published=published), now=NOW)
    assert release.published_at == NOW and release.published_known is False


def test_safe_link_is_the_one_predicate() -> None:
    from monitor.links import URL_MAX, safe_link

    assert safe_link("https://ex.com/a b") == "https://ex.com/a%20b"
    assert safe_link(" http://ex.com ") == "http://ex.com"
    for bad in ("javascript:alert(1)", "data:,x", "https://", "http://[::1", "https://ex.com/\u202ex", None, ""):
        assert safe_link(bad) is None, bad
    long = "https://ex.com/" + "a" * (URL_MAX - 15)
    assert safe_link(long) == long and safe_link(long + "a") is None
    assert URL_MAX == LINK_LIMIT  # a link normalize keeps is never too long to be a link
