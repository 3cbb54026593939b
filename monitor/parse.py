"""Feed bytes -> ParsedFeed of Entry. The only module that imports feedparser.

feedparser is handed bytes wrapped in a BytesIO, never a URL or a bare string: given a bare
`bytes`/`str`, feedparser first tries to *open it as a file name* (and fetches it when it looks
like a URL), so a feed body that happens to equal "/etc/passwd" would be read from disk.

Safety:
- Entity declarations are removed before feedparser sees the bytes (see `_defuse`), so nested
  ("billion laughs"), quadratic and external entities are never expanded or fetched. The
  document then fails strict XML parsing with "undefined entity" and feedparser's loose parser
  recovers the items with the references left as literal text: the result is a *bozo* feed, not
  NotAFeed, as long as items survive.
- HTML sanitising and relative-URI rewriting inside content are switched off: normalize turns
  all HTML into plain text anyway, and the two passes roughly doubled feedparser's time.
- At most MAX_ENTRIES items are converted.
"""

from __future__ import annotations

import calendar
import codecs
import html
import io
import re
import time
import xml.sax
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from monitor.errors import NotAFeed
from monitor.types import Entry, ParsedFeed

# Real wires carry 20-200 items; anything beyond this is a broken or hostile feed.
MAX_ENTRIES = 2000
# A year, in minutes: larger <ttl> values are junk, not a caching hint.
_MAX_TTL_MINUTES = 525_600
_MAX_REASON = 200

_ENTITY_DECL = re.compile(rb"""<!ENTITY\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
_HTML_SNIFF = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_UTF8_NAMES = frozenset({"utf-8", "utf_8", "utf8", "u8"})
_get = dict.get


def parse(body: bytes, *, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """Return the feed's entries (at most MAX_ENTRIES) and metadata; raise NotAFeed otherwise.

    url: where the body came from (the final URL after redirects); relative item links are
    resolved against it. content_type: the response's Content-Type, for its charset.
    """
    if not body or body.isspace():
        raise NotAFeed("empty response body")
    data = _defuse(body)
    try:
        result = feedparser.parse(
            io.BytesIO(data),
            # No content-location: given a base URL feedparser also "resolves" guids that lack
            # isPermaLink="false", so a guid like "abc-1" would change with the feed's URL.
            response_headers={"content-type": _xml_content_type(body, content_type)},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is a large tolerant parser; a crash in it is one bad feed
        raise NotAFeed(f"not a feed: the parser failed ({type(exc).__name__}: {_one_line(str(exc))})") from exc

    bozo = _bozo_reason(result, body) if result.get("bozo") else None
    raw_entries = result.get("entries") or []
    if not raw_entries:
        if not result.get("version"):
            if _looks_like_html(body, content_type):
                raise NotAFeed("not a feed: got an HTML page")
            raise NotAFeed(f"not a feed: {bozo}" if bozo else "not a feed: no RSS or Atom document found")
        raise NotAFeed("feed has no entries")

    feed = _get(result, "feed") or {}
    return ParsedFeed(
        entries=tuple(_entry(e, url) for e in raw_entries[:MAX_ENTRIES]),
        title=" ".join(str(_get(feed, "title") or "").split())[:1000],
        ttl=_ttl(_get(feed, "ttl")),
        bozo=bozo,
    )


_ITEM_OPEN = re.compile(rb"<(item|entry)[\s>]")


def split_items(body: bytes) -> tuple[bytes, list[bytes], bytes] | None:
    """Return (head, item chunks, tail) of an RSS/Atom document, or None when it cannot be cut safely.

    head + b"".join(chunks) + tail == body. This lets the pipeline hash each raw item and hand
    feedparser only the items it has not seen, so a changed feed costs work in proportion to its
    new items, not its size. Anything unusual (namespaced tags, an <item> inside CDATA, nesting)
    makes the cut ambiguous: then None, and the whole document is parsed as usual.
    """
    first = _ITEM_OPEN.search(body)
    if first is None:
        return None
    tag = first.group(1)
    open_tag, close_tag = re.compile(rb"<" + tag + rb"[\s>]"), b"</" + tag + b">"
    chunks: list[bytes] = []
    start = first.start()
    head = body[:start]
    while True:
        end = body.find(close_tag, start)
        if end < 0:
            return None
        end += len(close_tag)
        chunk = body[start:end]
        if len(open_tag.findall(chunk)) != 1 or b"<![CDATA[" in chunk and close_tag in chunk[:-len(close_tag)]:
            return None
        chunks.append(chunk)
        nxt = open_tag.search(body, end)
        if nxt is None:
            tail = body[end:]
            break
        if body[end:nxt.start()].strip():
            return None  # something other than whitespace between items: don't guess
        chunks[-1] += body[end:nxt.start()]
        start = nxt.start()
    if close_tag in tail or b"<![CDATA[" in head:
        return None
    return head, chunks, tail


def _entry(e: feedparser.FeedParserDict, base: str) -> Entry:
    """Return one feedparser entry as an Entry of plain str/datetime values."""
    # _get (dict.get) skips FeedParserDict's aliasing: its e.get("updated_parsed") quietly
    # returns published_parsed when there is no <updated>, and it is slow on the hot path.
    contents = _get(e, "content") or ()
    content = max((str(_get(c, "value") or "") for c in contents), key=len, default="")
    link = str(_get(e, "link") or "").strip()
    if link and base and "://" not in link:
        link = urljoin(base, link)
    return Entry(
        guid=str(_get(e, "id") or "") or None,
        link=link or None,
        title=_as_html(e, "title"),
        summary=_as_html(e, "summary"),
        content=content,
        # feedparser maps dc:creator and <author> (RSS and Atom) onto `author`.
        author=str(_get(e, "author") or ""),
        published=_utc(_get(e, "published_parsed")),
        updated=_utc(_get(e, "updated_parsed")),
    )


def _as_html(e: feedparser.FeedParserDict, key: str) -> str:
    """Return e[key] as HTML: plain-text values are escaped so '<' in a text title stays text."""
    value = str(_get(e, key) or "")
    detail = _get(e, key + "_detail")
    if detail is not None and _get(detail, "type") == "text/plain" and ("<" in value or "&" in value):
        return html.escape(value, quote=False)
    return value


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


def _bozo_reason(result: feedparser.FeedParserDict, body: bytes) -> str:
    """Return feedparser's bozo exception as one short line."""
    exc = result.get("bozo_exception")
    if isinstance(exc, xml.sax.SAXParseException):
        line = exc.getLineNumber()
        # feedparser prepends an XML declaration line when the document has none.
        if line and line > 1 and not body.removeprefix(b"\xef\xbb\xbf").startswith(b"<?xml"):
            line -= 1
        reason = f"not well-formed XML: {exc.getMessage()} at line {line}"
    elif exc is None:
        reason = "malformed feed"
    else:
        reason = str(exc) or type(exc).__name__
    return _one_line(reason)


def _one_line(text: str) -> str:
    """Return text collapsed to one line of at most _MAX_REASON characters."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
