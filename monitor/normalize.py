"""Entry -> Release: plain text, canonical URL, UTC dates, dateline, tickers and identity keys.

Pure: no I/O, no clock (`now` comes in). Every field is capped, and the caps are applied to the
input before the expensive work, so a 32 KB author or a 5 MB body costs milliseconds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from html import unescape
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from monitor.links import safe_link
from monitor.types import Dateline, Entry, Release

TITLE_LIMIT = 1000
AUTHOR_LIMIT = 300
SUMMARY_LIMIT = 4000
BODY_LIMIT = 100_000
# Browsers and servers refuse URLs far shorter than this; a longer "link" is junk, not a URL.
LINK_LIMIT = 8192
# A guid/link longer than this is replaced by its hash in the sighting key.
_KEY_LIMIT = 1000

# How much raw input html_to_text reads per output character allowed: markup-heavy releases
# (tables with inline styles) run ~5-8 chars of HTML per char of text; plain text only shrinks
# by whitespace runs and entities.
_HTML_PER_CHAR = 10
_TEXT_PER_CHAR = 4
_INPUT_SLACK = 4096

_DATELINE_SCAN = 300
_TICKER_SCAN = 20_000
_FINGERPRINT_CHARS = 300

_MIN_PUBLISHED = datetime(1995, 1, 1, tzinfo=UTC)
_MAX_AHEAD = timedelta(days=1)

# --------------------------------------------------------------------------- text
#
# HTML is reduced to text by a few linear regex passes rather than html.parser: on real release
# bodies html.parser cost 3-4x more (~4 us of Python per tag), and it is the hot path. The passes
# match what html.parser would do for this purpose: quoted attribute values may contain ">",
# a "<" not followed by a letter is text, an unclosed comment/script hides the rest.
# Every pattern excludes "<" from its unquoted runs, so a page of "<a <a <a" stays linear.

# C0/C1 controls that str.split() does not treat as whitespace, plus invisible format characters
# that split words for the FTS tokenizer (soft hyphen, zero-width space, word joiner, BOM).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\ufeff\ufffe\uffff]")
_CONTROL_KEEP_PARA = re.compile("[\x01-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\ufeff\ufffe\uffff]")
_PARA = "\x00"  # paragraph marker inside the HTML path; real NULs are removed before it is used

_BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
)  # fmt: skip
_TAG_REST = r"""[^<>"']*(?:(?:"[^"]*"|'[^']*')[^<>"']*)*>"""
_HIDDEN = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)


def _trie(words: Iterable[str]) -> str:
    """Return a regex alternation of words factored by shared prefixes ("p(?:re)?|...")."""
    # sre tries the branches of an alternation one by one at every "<"; factoring them turns
    # 33 attempts per tag into two or three.
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    branches = []
    for first, rests in sorted(groups.items()):
        longer = [r for r in rests if r]
        if len(rests) == 1:
            branches.append(re.escape(first + rests[0]))
        else:
            branches.append(f"{re.escape(first)}(?:{_trie(longer)}){'?' if '' in rests else ''}")
    return "|".join(branches)


_BLOCK_TAG = re.compile(rf"</?(?:{_trie(_BLOCK_TAGS)})(?=[\s/>]){_TAG_REST}", re.I)
# Table cells and captions become a space so "Hole" and "From (m)" don't glue together.
_CELL_TAG = re.compile(rf"</?(?:td|th|caption)(?=[\s/>]){_TAG_REST}", re.I)
_ANY_TAG = re.compile(rf"</?[a-zA-Z][^\s/<>]*{_TAG_REST}|<[!?][^<>]*>")


def html_to_text(html: str, limit: int, *, paragraphs: bool = True) -> str:
    """Return the plain text of an HTML (or plain-text) fragment, at most `limit` characters.

    With paragraphs=True, block elements and line breaks become single "\\n" between non-empty
    paragraphs; with paragraphs=False everything is one line. Whitespace is collapsed, entities
    unescaped, script/style contents, comments and control characters dropped.
    """
    if limit <= 0 or not html:
        return ""
    # Cap the input first: every later step is linear in what is left.
    src = html[: limit * _HTML_PER_CHAR + _INPUT_SLACK]
    if "<" not in src:
        # Plain text (the usual title and author): no tag passes at all.
        src = src[: limit * _TEXT_PER_CHAR + _INPUT_SLACK]
        if "&" in src:
            src = unescape(src)
        src = _CONTROL.sub("", src)
        text = _join_lines(src.splitlines()) if paragraphs else " ".join(src.split())
        return _cut(text, limit)

    if _PARA in src:
        src = src.replace(_PARA, "")
    src = _HIDDEN.sub("", src)
    src = _BLOCK_TAG.sub(_PARA, src)
    src = _CELL_TAG.sub(" ", src)
    src = _ANY_TAG.sub("", src)
    if "&" in src:
        src = unescape(src)
    src = _CONTROL_KEEP_PARA.sub("", src)
    text = _join_lines(src.split(_PARA)) if paragraphs else " ".join(src.replace(_PARA, " ").split())
    return _cut(text, limit)


def _join_lines(lines: list[str]) -> str:
    """Return the lines whitespace-collapsed, blank ones dropped, joined by "\\n"."""
    return "\n".join(filter(None, (" ".join(line.split()) for line in lines)))


def _cut(text: str, limit: int) -> str:
    """Return text cut to at most `limit` characters, without trailing whitespace at the cut."""
    return text if len(text) <= limit else text[:limit].rstrip()


# --------------------------------------------------------------------------- URLs

# Query parameters that identify a campaign, click or visitor, never the page. Names are
# compared lower-cased; any name starting with one of _TRACKING_PREFIXES is dropped too.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # Google / Google Ads / Analytics
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "_ga", "_gl", "srsltid",
        # Facebook / Instagram / Twitter / TikTok / LinkedIn / Microsoft / Yandex
        "fbclid", "igshid", "twclid", "ttclid", "li_fat_id", "msclkid", "yclid",
        # Mailchimp, HubSpot, Marketo, Vero, Oracle Eloqua, Adobe
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking",
        "mkt_tok", "vero_id", "vero_conv", "elqtrackid", "elqtrack", "s_cid", "ef_id", "s_kwcid",
        # Piwik, Twitter share links, misc. ad networks
        "pk_campaign", "pk_kwd", "pk_source", "pk_medium", "pk_content",
        "ref_src", "ref_url", "oly_anon_id", "oly_enc_id", "wickedid", "rb_clickid", "irclickid",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "mtm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Return url with scheme/host lower-cased, default port, fragment and tracking params dropped."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:  # bad IPv6 literal, port out of range, ...
        return url
    if scheme not in _DEFAULT_PORTS or not host:
        return url
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{host}" if at else host
    query = ""
    if parts.query:
        kept = []
        for pair in parts.query.split("&"):
            if not pair:
                continue
            name = unquote_plus(pair.partition("=")[0]).lower()
            if name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
                continue
            kept.append((name, pair))
        # Sort by name only: the sort is stable, so repeated names keep their order (?id=2&id=1).
        kept.sort(key=lambda item: item[0])
        query = "&".join(pair for _, pair in kept)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


# --------------------------------------------------------------------------- dateline
#
# A dateline opens a release: where, when, and through which wire. Each wire writes its own
# shape (examples in _DATELINES); tests/data/wire_paragraphs.json holds real paragraphs of each
# and bench/bench_datelines.py measures precision and recall over them. Adding a shape changes
# where the fingerprint's "start of the body" begins for the releases it now recognizes (see
# fingerprint()), so copies stored before and after the change stop joining on the fingerprint.

_MONTH_NUMBERS: dict[str, int] = {
    **{name: n for n, names in enumerate((
        # English, Spanish (PR Newswire HISPANIC PR WIRE), French (CNW, Newsfile in Quebec)
        ("jan", "january", "ene", "enero", "janv", "janvier"),
        ("feb", "february", "febrero", "févr", "fevr", "février", "fevrier"),
        ("mar", "march", "marzo", "mars"),
        ("apr", "april", "abr", "abril", "avr", "avril"),
        ("may", "mayo", "mai"),
        ("jun", "june", "junio", "juin"),
        ("jul", "july", "julio", "juil", "juillet"),
        ("aug", "august", "ago", "agosto", "août", "aout"),
        ("sep", "sept", "september", "set", "septiembre", "setiembre", "septembre"),
        ("oct", "october", "octubre", "octobre"),
        ("nov", "november", "noviembre", "novembre"),
        ("dec", "december", "dic", "diciembre", "déc", "décembre", "decembre"),
    ), start=1) for name in names},
}  # fmt: skip
# Longest first, so "sept" is not read as "sep" + "t" and "june" not as "jun" + "e".
_MONTH = "(?:" + "|".join(re.escape(m) for m in sorted(_MONTH_NUMBERS, key=len, reverse=True)) + ")"
_DAY = r"\d{1,2}(?:er|st|nd|rd|th)?"
_DATE = (
    rf"(?:{_MONTH}\.?\s+{_DAY}\s*,?\s+\d{{4}}"  # Jan. 5, 2024 / Sept 3 2023 / June 5 , 2018
    # 5 January 2024 / 4 de marzo de 2025 / le 1er oct. 2026
    rf"|(?:le\s+)?{_DAY}\.?\s+(?:de\s+)?{_MONTH}\.?,?\s+(?:del?\s+)?\d{{4}})"
)
# PR Newswire's older datelines carry no year ("Feb. 26 /PRNewswire-FirstCall/"): a dateline, no date.
_DATE_OR_DAY = rf"(?:{_DATE}|{_MONTH}\.?\s+\d{{1,2}}(?!\d))"
_DATE_PARTS = re.compile(
    rf"(?i)(?:({_MONTH})\.?\s+(\d{{1,2}})|(\d{{1,2}})(?:er|st|nd|rd|th)?\.?\s+(?:de\s+)?({_MONTH}))\D+(\d{{4}})"
)
_CJK_DATE = r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
# A place: starts with a letter, no digits, slashes, parentheses or line breaks; lazy so that it
# stops at the first separator that lets the rest of the dateline match.
_PLACE = r"(?P<place>[^\W\d_][^\d/()\n]{0,100}?)"
_DASH = r"(?:-{1,2}|[–—]{1,2})"
# With no wire to anchor it, a place is shorter and holds no dash but a hyphen inside a word
# (WINSTON-SALEM), so "Acme – Our Team – June 5, 2024 –" is no dateline.
_PLACE_SHORT = r"(?P<place>[^\W\d_](?:[^\d/()\n–—-]|(?<=\w)-(?=\w)){0,60}?)"
_DASHES = rf"{_DASH}(?:\s*{_DASH})?"  # "– –" (PRISM MediaWire)
# Wires that name themselves between dashes rather than in slashes or parentheses: only these
# names, since "PLACE – words – DATE –" would otherwise read any phrase as a wire.
_BARE_WIRE = r"(?P<wire>Media\s+OutReach(?:\s+Newswire)?|PRISM\s+MediaWire)"
# (a character every match contains, pattern): the cheap `in` test skips patterns that cannot
# match, which matters because a lazy place that fails tries every length up to 100.
_DATELINES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (needle, re.compile(pattern, re.IGNORECASE))
    for needle, pattern in (
        # AUSTIN, TX / ACCESSWIRE / January 5, 2024 /
        ("/", rf"\s*{_PLACE}\s*/\s*(?P<wire>[^/\n\d]{{2,60}}?)\s*/\s*(?P<date>{_DATE})\s*/\s*"),
        # BEIJING, May 11, 2023 /PRNewswire/ --    (date optional: "NEW YORK /PRNewswire/ --")
        # WILMINGTON, NC, September 23, 2022 /24-7PressRelease/ --   LONGUEUIL, QC , le 22 sept. 2026 /CNW/ --
        (
            "/",
            rf"\s*{_PLACE}(?:\s*,\s*(?P<date>{_DATE_OR_DAY}))?\s*/\s*(?P<wire>24-7PressRelease|[^/\n\d]{{2,60}}?)\s*/"
            rf"\s*{_DASH}\s*",
        ),
        # 北京2023年8月25日/美通社/ --    杭州2018年9月20日电 /美通社/ --
        ("年", rf"\s*{_PLACE}\s*(?P<date>{_CJK_DATE})\s*电?\s*/\s*(?P<wire>[^/\n\d]{{2,60}}?)\s*/\s*{_DASH}?\s*"),
        # TORONTO, Jan. 05, 2024 (GLOBE NEWSWIRE) --    LOS ANGELES, CA - October 21, 2025 (NEWMEDIAWIRE) -
        (
            "(",
            rf"\s*{_PLACE}\s*(?:,|{_DASH})\s*(?P<date>{_DATE})\s*\(\s*(?P<wire>[^()\n\d]{{2,60}}?)\s*\)\s*{_DASH}\s*",
        ),
        # San Antonio, Texas--(Newsfile Corp. - September 24, 2025) -
        (
            "(",
            rf"\s*{_PLACE}\s*{_DASH}\s*\(\s*(?P<wire>[^()\n\d]{{2,60}}?)\s*{_DASH}\s*(?P<date>{_DATE})\s*\)"
            rf"\s*{_DASH}\s*",
        ),
        # SAN FRANCISCO--(BUSINESS WIRE)--Jan 5, 2024--    Pune, India - (NewMediaWire) - March 9, 2023 -
        (
            "(",
            rf"\s*{_PLACE}\s*{_DASH}\s*\(\s*(?P<wire>[^()\n\d]{{2,60}}?)\s*\)\s*{_DASH}\s*"
            rf"(?:(?P<date>{_DATE})\s*{_DASH}?\s*)?",
        ),
        # HONG KONG SAR – Media OutReach Newswire – 22 September 2025 –
        # HONG KONG--Media OutReach--31 May 2013--
        ("", rf"\s*{_PLACE}\s*{_DASH}\s*{_BARE_WIRE}\s*{_DASH}\s*(?P<date>{_DATE})\s*{_DASH}\s*"),
        # Fort Lauderdale, FL, March 18, 2026 – PRISM MediaWire –
        # New York, New York, March 23, 2025 – – PRISM MediaWire (Press Release Service …) –
        (
            "",
            rf"\s*{_PLACE}\s*,\s*(?P<date>{_DATE})\s*{_DASHES}\s*{_BARE_WIRE}(?:\s*\([^()\n]{{0,80}}\))?\s*{_DASH}\s*",
        ),
        # No wire named: NEW YORK, Feb. 18, 2026 --    POMPANO BEACH, FL – October 10, 2012 -
        # Lévis, le 14 novembre 2026 –
        ("", rf"\s*{_PLACE_SHORT}\s*(?:,|{_DASH})\s*(?P<date>{_DATE})\s*{_DASH}\s*(?P<wire>)"),
    )
)

# One display name per wire, whatever the dateline wrote (keys: casefolded, letters and digits only).
_WIRE_NAMES = {
    "prnewswire": "PR Newswire", "美通社": "PR Newswire", "新华美通": "PR Newswire",
    "businesswire": "Business Wire",
    "globenewswire": "GlobeNewswire",
    "primenewswire": "GlobeNewswire",  # GlobeNewswire's name until 2008
    "accesswire": "ACCESS Newswire", "accessnewswire": "ACCESS Newswire",
    "cnw": "CNW", "cnwgroup": "CNW", "canadanewswire": "CNW",
    "newmediawire": "NewMediaWire",
    "newsfile": "Newsfile", "newsfilecorp": "Newsfile",
    "mediaoutreach": "Media OutReach", "mediaoutreachnewswire": "Media OutReach",
    "247pressrelease": "24-7PressRelease",
    "noticiasnewswire": "Noticias Newswire",
    "prismmediawire": "PRISM MediaWire",
}  # fmt: skip
_NOT_ALNUM = re.compile(r"[\W_]+")


def wire_name(raw: str) -> str:
    """Return the one display name of the wire a dateline names ("GLOBE NEWSWIRE" -> "GlobeNewswire").

    PR Newswire's services ("PRNewswire-HISPANIC PR WIRE", "PRNewswire-AsiaNet", "/美通社/") are PR
    Newswire. An unknown wire keeps its own spelling, whitespace collapsed.
    """
    key = _NOT_ALNUM.sub("", raw.casefold())
    if key.startswith("prnewswire"):
        return "PR Newswire"
    return _WIRE_NAMES.get(key) or " ".join(raw.split())


def parse_dateline(text: str) -> Dateline | None:
    """Return the dateline (place, date, wire) that opens a release's text, or None.

    wire is "" for a dateline that names no wire ("NEW YORK, Feb. 18, 2026 --").
    """
    return _dateline(_match_dateline(text))


def _dateline(match: re.Match[str] | None) -> Dateline | None:
    """Return the Dateline of a _match_dateline() match, or None."""
    if match is None:
        return None
    place = " ".join(match["place"].split()).rstrip(",")
    raw_date = match["date"]
    return Dateline(
        place=place,
        date=_parse_date(raw_date) if raw_date else None,
        wire=wire_name(match["wire"]) if match["wire"] else "",
    )


def _match_dateline(text: str) -> re.Match[str] | None:
    """Return the regex match of a dateline at the very start of text, or None."""
    head = text[:_DATELINE_SCAN]
    for needle, pattern in _DATELINES:
        if needle in head:
            match = pattern.match(head)
            if match is not None:
                return match
    return None


def _parse_date(text: str) -> date | None:
    """Return the calendar date in a dateline's date text, or None when it is not a real date."""
    cjk = re.search(_CJK_DATE, text)
    if cjk is not None:
        year, month, day = int(cjk["y"]), int(cjk["m"]), int(cjk["d"])
    else:
        m = _DATE_PARTS.search(text)
        if m is None:
            return None
        month = _MONTH_NUMBERS.get((m[1] or m[4]).lower(), 0)
        year, day = int(m[5]), int(m[2] or m[3])
    try:
        return date(year, month, day)
    except ValueError:
        return None


# --------------------------------------------------------------------------- tickers
#
# "(NYSE: ABC)", "(Nasdaq: BFI, BFIIW)", "(NASDAQ:SXTP; SXTPW)", "(Nasdaq Stockholm: HEXA B)",
# "(NYSE: BABA; HKEX: 9988 (HKD Counter))", "（纽交所：TUYA；港交所：2391）", "(NASDAQ: $GOOGL)", "(02209.HK)".
# Only inside parentheses, only after a known exchange: "NYSE: ABC" in running text, "(Note: x)"
# and "(CRYPTO: $ETH)" are not tickers.

_EXCHANGES = (
    "NYSE American", "NYSE Arca", "NYSE MKT", "NYSE", "AMEX",
    "NasdaqGS", "NasdaqGM", "NasdaqCM", "Nasdaq Stockholm", "Nasdaq Helsinki", "Nasdaq Copenhagen",
    "Nasdaq Iceland", "Nasdaq First North", "Nasdaq Baltic", "NASDAQ",
    "TSX Venture", "TSX-V", "TSX.V", "TSXV", "TSX", "CSE", "CNX", "NEO", "Cboe CA", "Cboe Canada", "Cboe", "CBOE",
    "OTCQX", "OTCQB", "OTCID", "OTC Pink", "Pink", "OTCBB", "OTCMKTS", "OTC",
    "LSE", "AIM", "ASX", "NZX", "HKEX", "HKSE", "SEHK", "SGX", "JSE", "TASE", "NSE", "BSE",
    "SSE", "SZSE", "TWSE", "KRX", "KOSDAQ", "TSE", "TYO",
    "Euronext Growth Paris", "Euronext Growth Oslo", "Euronext Growth Brussels", "Euronext Growth Milan",
    "Euronext Growth Dublin", "Euronext Growth", "Euronext Paris", "Euronext Brussels", "Euronext Amsterdam",
    "Euronext", "BME Growth", "BME", "Oslo Børs", "FSE", "Frankfurt", "FWB", "FRA", "GR",
    "XETRA", "SIX", "BMV", "B3", "OMX",
    "纽交所", "纳斯达克", "港交所", "香港联交所", "上交所", "深交所",
)  # fmt: skip
_EXCHANGE = "|".join(
    r"\s+".join(re.escape(w) for w in name.split()) for name in sorted(_EXCHANGES, key=len, reverse=True)
)
_SYMBOL = r"\$?[A-Z0-9]{1,6}(?:[.\-][A-Z0-9]{1,4})?(?:\s[A-D](?=\s*[,;)]|\s*$))?"
_NOT_SYMBOL = r"(?![\w.-])"
_LIST_ITEM = rf"\s*[,;]\s*(?:and\s+)?(?!(?i:{_EXCHANGE})\s*:)(?P<sym>{_SYMBOL}){_NOT_SYMBOL}"
_TICKER = re.compile(rf"(?<![\w-])(?P<ex>(?i:{_EXCHANGE}))\s*:\s*(?P<sym>{_SYMBOL}){_NOT_SYMBOL}")
_MORE_SYMBOL = re.compile(_LIST_ITEM)
_HK_CODE = re.compile(r"(?<![\w.])(\d{4,5})\.HK(?![\w.])")
# Parenthesized groups, one nesting level deep ("(NYSE: BABA; HKEX: 9988 (HKD Counter))").
_PARENS = re.compile(r"\(((?:[^()\n]|\([^()\n]{0,100}\)){3,300})\)")
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")
_EXCHANGE_ALIASES = {
    "NASDAQGS": "NASDAQ", "NASDAQGM": "NASDAQ", "NASDAQCM": "NASDAQ", "纳斯达克": "NASDAQ",
    "TSX-V": "TSXV", "TSX.V": "TSXV", "TSX VENTURE": "TSXV",
    "CBOE CANADA": "CBOE CA", "PINK": "OTC PINK",
    "FRANKFURT": "FSE", "FWB": "FSE", "FRA": "FSE",
    "HKSE": "HKEX", "SEHK": "HKEX", "港交所": "HKEX", "香港联交所": "HKEX",
    "纽交所": "NYSE", "上交所": "SSE", "深交所": "SZSE",
}  # fmt: skip


def extract_tickers(text: str) -> tuple[str, ...]:
    """Return the sorted unique "EXCHANGE:SYMBOL" tickers quoted in parentheses in text."""
    scan = text[:_TICKER_SCAN]
    if _FULL_WIDTH.search(scan):
        # Full-width parentheses, colons and letters ("（ＮＹＳＥ：ABC）") as their ASCII selves.
        scan = _FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m[0]), scan)
    found: set[str] = set()
    for group in _PARENS.finditer(scan):
        inner = group[1]
        if ":" in inner:
            for m in _TICKER.finditer(inner):
                exchange = " ".join(m["ex"].split()).upper()
                exchange = _EXCHANGE_ALIASES.get(exchange, exchange)
                found.add(_ticker(exchange, m["sym"]))
                pos = m.end()
                while (more := _MORE_SYMBOL.match(inner, pos)) is not None:  # "(Nasdaq: BFI, BFIIW)"
                    found.add(_ticker(exchange, more["sym"]))
                    pos = more.end()
        if ".HK" in inner:
            found.update(_ticker("HKEX", code) for code in _HK_CODE.findall(inner))
    return tuple(sorted(found))


def _ticker(exchange: str, symbol: str) -> str:
    """Return "EXCHANGE:SYMBOL"; Hong Kong codes as four digits or more ("00700" -> "0700")."""
    symbol = symbol.lstrip("$")
    if exchange == "HKEX" and symbol.isdigit():
        symbol = str(int(symbol)).zfill(4)
    return f"{exchange}:{symbol}"


# --------------------------------------------------------------------------- identity

_NOT_WORD = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    """Return text case-folded, punctuation turned into spaces, whitespace collapsed."""
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def fingerprint(title: str, body: str) -> str:
    """Return a 32-hex-digit hash of the folded title and the start of the body after its dateline.

    Returns "" when title and body are both empty after folding (nothing to join releases on).
    """
    return _fingerprint(title, body, _match_dateline(body))


def _fingerprint(title: str, body: str, dateline: re.Match[str] | None) -> str:
    """Return fingerprint(title, body) given body's dateline match."""
    start = dateline.end() if dateline is not None else 0
    lead = _fold(body[start : start + _FINGERPRINT_CHARS])
    head = _fold(title[:TITLE_LIMIT])
    if not head and not lead:
        return ""
    return hashlib.sha1(f"{head}|{lead}".encode(), usedforsecurity=False).hexdigest()[:32]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def _utc(when: datetime) -> datetime | None:
    """Return when in UTC (a naive datetime is taken to be UTC already); None when UTC cannot hold it."""
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-14:00 is past datetime.max in UTC
        return None


# --------------------------------------------------------------------------- normalize


def normalize(entry: Entry, *, now: datetime) -> Release:
    """Return the entry as a Release: plain text, canonical URL, UTC dates and identity keys."""
    title = html_to_text(entry.title, TITLE_LIMIT, paragraphs=False)
    author = html_to_text(entry.author, AUTHOR_LIMIT, paragraphs=False)
    summary = html_to_text(entry.summary, SUMMARY_LIMIT, paragraphs=False)
    body = html_to_text(entry.content, BODY_LIMIT) if entry.content else ""
    lead = body or summary
    dateline = _match_dateline(lead)
    link = (entry.link or "").strip()[:LINK_LIMIT]

    raw_when = entry.published or entry.updated
    when = _utc(raw_when) if raw_when is not None else None
    now = _utc(now) or now
    # A date before the web had wires or more than a day ahead (year 9999, a clock in the wrong
    # century) is not believed: the release is dated when first seen, marked unknown.
    known = when is not None and _MIN_PUBLISHED <= when <= now + _MAX_AHEAD
    published_at = when if known and when is not None else now

    key = (entry.guid or "").strip() or link
    if not key:
        key = "sha1:" + _sha1(title + (when.isoformat() if when else ""))[:16]
    elif len(key) > _KEY_LIMIT:
        key = "sha1:" + _sha1(key)

    published_text = published_at.isoformat() if known else ""
    return Release(
        sighting_key=key,
        # Only an http(s) link is the release's URL; any other (javascript:, data:) stays text in `link`.
        url=canonical_url(link) if safe_link(link) else "",
        link=link,
        title=title,
        summary=summary,
        body=body,
        author=author,
        published_at=published_at,
        published_known=known,
        dateline=_dateline(dateline),
        tickers=extract_tickers(f"{title}\n{summary}\n{body[:_TICKER_SCAN]}"),
        # With no text at all there is nothing to join copies on; a per-sighting value keeps
        # every empty item from collapsing into one release.
        fingerprint=_fingerprint(title, lead, dateline) or "key:" + _sha1(key)[:28],
        # Not the link: its tracking parameters change between polls without the text changing.
        content_hash=_sha1("\x1f".join((title, summary, body, author, published_text))),
    )
