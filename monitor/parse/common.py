"""What both readers share: the entry cap, entity defusing, the charset to trust, small value fixes."""

from __future__ import annotations

import calendar
import codecs
import html
import re
import time
from datetime import UTC, datetime
from urllib.parse import urljoin

from monitor.errors import NotAFeed

# Real wires carry 20-200 items; anything beyond this is a broken or hostile feed.
MAX_ENTRIES = 2000
# A year, in minutes: larger <ttl> values are junk, not a caching hint.
_MAX_TTL_MINUTES = 525_600
_MAX_REASON = 200

_ENTITY_DECL = re.compile(rb"""<!ENTITY\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
_HTML_SNIFF = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_UTF8_NAMES = frozenset({"utf-8", "utf_8", "utf8", "u8"})


def _html_value(value: str, plain: bool) -> str:
    """Return value as HTML: a plain-text value with '<' or '&' in it is escaped."""
    if plain and ("<" in value or "&" in value):
        return html.escape(value, quote=False)
    return value


def _finish_link(raw: object, base: str) -> str | None:
    """Return an item link stripped and, when relative, resolved against the feed's URL; None when empty."""
    link = str(raw or "").strip()
    if link and base and "://" not in link:
        link = urljoin(base, link)
    return link or None


def _feed_title(raw: object) -> str:
    """Return the feed title on one line, at most 1000 characters."""
    return " ".join(str(raw or "").split())[:1000]


def _utc(st: time.struct_time | None) -> datetime | None:
    """Return feedparser's UTC struct_time as an aware datetime, or None."""
    if not st:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _ttl(value: object) -> float | None:
    """Return RSS <ttl> (minutes) in seconds, or None when absent or not a sane integer."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60.0 if 0 < minutes <= _MAX_TTL_MINUTES else None


def _defuse(body: bytes) -> bytes:
    """Return body without entity declarations, so no entity can be expanded or fetched."""
    # Nearly every feed lacks "<!ENTITY": one C-level scan and the bytes pass through untouched.
    # feedparser only strips declarations that start a line and re-inserts the "safe" ones, and
    # expat's own amplification limit kicks in only after seconds and ~60 MB, so remove them all.
    if b"<!ENTITY" not in body:
        return body
    data = _ENTITY_DECL.sub(b"", body)
    if b"<!ENTITY" in data:
        raise NotAFeed("not a feed: malformed <!ENTITY> declaration (unterminated quote)")
    return data


def _xml_content_type(body: bytes, content_type: str | None) -> str:
    """Return the content-type to tell feedparser: always XML, with the server's charset if credible."""
    # Always claiming application/xml stops feedparser flagging feeds served as text/html or
    # text/plain as bozo, and stops text/xml without charset from meaning us-ascii (RFC 3023).
    charset = _charset(content_type)
    if charset is None:
        return "application/xml"
    if charset not in _UTF8_NAMES and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            # Non-ASCII bytes that are valid UTF-8 are UTF-8, whatever the header claims; trusting
            # a latin-1 header here would turn every accent into mojibake.
            return "application/xml"
    return f"application/xml; charset={charset}"


def _charset(content_type: str | None) -> str | None:
    """Return the charset parameter of a Content-Type header if Python knows it, else None."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip("\"'").lower()
            try:
                codecs.lookup(value)
            except (LookupError, ValueError):
                return None
            return value
    return None


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    """Return True when the response is an HTML page (by header or by its first bytes)."""
    if content_type and content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    return _HTML_SNIFF.search(body, 0, 2048) is not None


def _one_line(text: str) -> str:
    """Return text collapsed to one line of at most _MAX_REASON characters."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
