"""Entry -> Release: plain text, canonical URL, UTC dates, dateline, tickers and identity keys.

Pure: no I/O, no clock (`now` comes in). Datelines live in normalize.dateline, tickers in
normalize.tickers; their public names are re-exported here. Every field is capped, and the caps are applied to the
input before the expensive work, so a 32 KB author or a 5 MB body costs milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from monitor.links import safe_link
from monitor.normalize.dateline import _dateline, _match_dateline, find_dateline, parse_dateline
from monitor.normalize.tickers import TICKER_SCAN, extract_tickers
from monitor.types import Entry, Release
from monitor.wires import wire_name

__all__ = [
    "AUTHOR_LIMIT", "BODY_LIMIT", "LINK_LIMIT", "SUMMARY_LIMIT", "TITLE_LIMIT", "TRACKING_PARAMS",
    "canonical_url", "extract_tickers", "find_dateline", "fingerprint", "html_to_text", "normalize", "parse_dateline",
    "wire_name",
]  # fmt: skip

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


# --------------------------------------------------------------------------- identity

_NOT_WORD = re.compile(r"[\W_]+")


# ASCII text needs no regex: every ASCII character but a letter or digit is a separator (what
# [\W_] matches in ASCII), and translate() is ~5x faster than the Unicode-aware \W.
_ASCII_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def _fold(text: str) -> str:
    """Return text case-folded, punctuation turned into spaces, whitespace collapsed."""
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_SEPARATORS).split())
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
        tickers=extract_tickers(f"{title}\n{summary}\n{body[:TICKER_SCAN]}"),
        # With no text at all there is nothing to join copies on; a per-sighting value keeps
        # every empty item from collapsing into one release.
        fingerprint=_fingerprint(title, lead, dateline) or "key:" + _sha1(key)[:28],
        # Not the link: its tracking parameters change between polls without the text changing.
        content_hash=_sha1("\x1f".join((title, summary, body, author, published_text))),
    )
