"""feedparser's reading of a feed: every document the fast path steps aside for, malformed ones included.

feedparser is handed bytes wrapped in a BytesIO, never a URL or a bare string: given a bare
`bytes`/`str`, feedparser first tries to *open it as a file name* (and fetches it when it looks
like a URL), so a feed body that happens to equal "/etc/passwd" would be read from disk.
"""

from __future__ import annotations

import io
import xml.sax

import feedparser

from monitor.errors import NotAFeed
from monitor.parse.common import (
    MAX_ENTRIES,
    _feed_title,
    _finish_link,
    _html_value,
    _looks_like_html,
    _one_line,
    _ttl,
    _utc,
    _xml_content_type,
)
from monitor.types import Entry, ParsedFeed

_get = dict.get


def _parse_feedparser(body: bytes, data: bytes, *, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """Return what feedparser makes of `data` (body after _defuse); raise NotAFeed when it is no feed."""
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
        dropped=max(0, len(raw_entries) - MAX_ENTRIES),
        title=_feed_title(_get(feed, "title")),
        ttl=_ttl(_get(feed, "ttl")),
        bozo=bozo,
    )



def _entry(e: feedparser.FeedParserDict, base: str) -> Entry:
    """Return one feedparser entry as an Entry of plain str/datetime values."""
    # _get (dict.get) skips FeedParserDict's aliasing: its e.get("updated_parsed") quietly
    # returns published_parsed when there is no <updated>, and it is slow on the hot path.
    contents = _get(e, "content") or ()
    content = max((str(_get(c, "value") or "") for c in contents), key=len, default="")
    return Entry(
        guid=str(_get(e, "id") or "") or None,
        link=_finish_link(_get(e, "link"), base),
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
    detail = _get(e, key + "_detail")
    return _html_value(str(_get(e, key) or ""), detail is not None and _get(detail, "type") == "text/plain")



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
