"""Feed bytes -> ParsedFeed of Entry. The only module that imports feedparser.

Two readers, one result:
- `_parse_fast`: ElementTree (expat, in C) for the shapes wires actually serve, well-formed RSS
  2.0 and Atom 1.0, re-creating field by field what feedparser's strict parser would store. It
  takes a document only when every element in it is one whose treatment by feedparser it models;
  anything else (RSS 1.0/RDF, broken XML, a DOCTYPE, an encoding feedparser would have to guess,
  xhtml content, xml:base, repeated or unknown fields...) and it steps aside. On bench/wire.py's
  corpus it is ~8x faster than feedparser: 200 feeds x 100 items took 1.7 s CPU instead of 12.4 s
  (50 x 100: 0.31 s instead of 2.6 s), both measured in one process.
- `_parse_feedparser`: feedparser, for everything else, malformed feeds included.
tests/test_parse_fastpath.py holds the two to equal output wherever the fast path answers.

feedparser is handed bytes wrapped in a BytesIO, never a URL or a bare string: given a bare
`bytes`/`str`, feedparser first tries to *open it as a file name* (and fetches it when it looks
like a URL), so a feed body that happens to equal "/etc/passwd" would be read from disk.

Safety:
- Entity declarations are removed before either reader sees the bytes (see `_defuse`), so nested
  ("billion laughs"), quadratic and external entities are never expanded or fetched. The
  document then fails strict XML parsing with "undefined entity" and feedparser's loose parser
  recovers the items with the references left as literal text: the result is a *bozo* feed, not
  NotAFeed, as long as items survive. The fast path also refuses any document with a DOCTYPE,
  and expat as ElementTree drives it never loads an external entity or DTD.
- HTML sanitising and relative-URI rewriting inside content are switched off: normalize turns
  all HTML into plain text anyway, and the two passes roughly doubled feedparser's time.
- At most MAX_ENTRIES items are converted (the fast path leaves larger feeds to feedparser).
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import functools
import html
import io
import re
import time
import xml.etree.ElementTree as ET
import xml.sax
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser
from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin

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
        fast = _parse_fast(body, data, url=url, content_type=content_type)
    except Exception:  # a slip in the fast path must cost speed, never the feed
        fast = None
    if fast is not None:
        return fast
    return _parse_feedparser(body, data, url=url, content_type=content_type)


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
        title=_feed_title(_get(feed, "title")),
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


# --------------------------------------------------------------------------- fast path
#
# feedparser spends most of its time in Python-level SAX callbacks; ElementTree builds the same
# tree in C about twenty times faster. The fast path reads the two shapes nearly every wire
# serves (RSS 2.0 and Atom 1.0, well-formed) with ElementTree and re-creates field by field what
# feedparser's *strict* parser would have stored, so the result is the same ParsedFeed either way.
# It accepts a document only when every element in it is one whose handling in feedparser is
# modelled here (a whitelist, per place in the tree); anything else, or any doubt, returns None
# and feedparser reads the document as before. tests/test_parse_fastpath.py holds both paths to
# equal output over the fixtures, the bench wire and generated documents.

_ATOM_NS = "http://www.w3.org/2005/Atom"
# The only namespace URIs (exactly as written) whose elements the fast path reads.
_FAST_NS = {
    _ATOM_NS: "atom:",
    "http://purl.org/rss/1.0/modules/content/": "content:",
    "http://purl.org/dc/elements/1.1/": "dc:",
    "http://purl.org/rss/1.0/modules/syndication/": "sy:",
    "http://wellformedweb.org/commentAPI/": "wfw:",
    "http://purl.org/rss/1.0/modules/slash/": "slash:",
}
# feedparser names elements by its own prefix for each known namespace URI (case-insensitive) and
# maps every *declared* prefix through that table too, so a document declaring, say, xmlns:dc for
# the content namespace would make feedparser read a real dc:creator as "content:creator".
_FP_NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_FP_PREFIXES = frozenset(p for p in _FP_NAMESPACES.values() if p)
# Declaring either of these makes feedparser take the document for RSS 0.90 / RSS 1.0.
_VERSION_NS = frozenset({"http://my.netscape.com/rdf/simple/0.9/", "http://purl.org/rss/1.0/"})

# RSS <channel> children that cannot change the feed title, ttl or any item: leaves only.
_RSS_CHANNEL_LEAVES = frozenset({
    "link", "description", "language", "copyright", "managingeditor", "webmaster", "pubdate", "lastbuilddate",
    "category", "generator", "docs", "cloud", "rating", "atom:link", "sy:updateperiod", "sy:updatefrequency",
    "sy:updatebase", "dc:language", "dc:rights", "dc:date", "dc:publisher", "dc:creator",
})  # fmt: skip
# Channel children with leaf children of their own. feedparser files <image>'s title under the
# image only while no other tag interrupts it, hence the exact list.
_RSS_CHANNEL_GROUPS = {
    "image": frozenset({"url", "title", "link", "width", "height", "description"}),
    "skiphours": frozenset({"hour"}),
    "skipdays": frozenset({"day"}),
}

_ATOM_FEED_LEAVES = frozenset({
    "atom:subtitle", "atom:id", "atom:link", "atom:updated", "atom:generator", "atom:icon", "atom:logo",
    "atom:rights", "atom:category",
})  # fmt: skip
_ATOM_PERSON = frozenset({"atom:name", "atom:email", "atom:uri"})

_LANG = frozenset({"lang"})
_KEYS: dict[str, str | None] = {}  # element tag -> _key(tag); a few dozen in practice
_NO_KEY = "\0"
_GUID_ATTRS = frozenset({"lang", "ispermalink"})
# RSS <item> children the fast path reads -> the attributes each may carry (None: any, the
# element changes nothing in the Entry). A `type` or `mode` attribute, xml:base, rdf:about and
# the like change feedparser's reading, so they are not in these sets.
_RSS_ITEM_FIELDS: dict[str, frozenset[str] | None] = {
    "title": _LANG, "link": _LANG, "guid": _GUID_ATTRS, "description": _LANG, "content:encoded": _LANG,
    "author": _LANG, "dc:creator": _LANG, "pubdate": _LANG,
    "category": None, "comments": None, "enclosure": None, "source": None, "wfw:commentrss": None,
    "slash:comments": None,
}  # fmt: skip
_TEXT_ATTRS = frozenset({"lang", "type"})
_NO_ATTRS: dict[str, str] = {}
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SHORT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}

# feedparser's own expressions (feedparser.encodings, feedparser.urls, mixin.pop), copied: the
# fast path must cut and rewrite exactly where feedparser does.
_XML_PI_ENCODING = re.compile(rb"^<\?.*encoding=['\"](.*?)['\"].*\?>")
_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*?>")
_URI_FIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_UTF8_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16/32: never served by the wires this path is for
_WIDE_MARKERS = frozenset(
    {b"\x00\x00\xfe\xff", b"Lo\xa7\x94", b"\x00<\x00?", b"<\x00?\x00", b"\x00\x00\x00<", b"<\x00\x00\x00"}
)
_BOM_UTF_NAMES = frozenset({"u16", "utf-16", "utf16", "utf_16", "u32", "utf-32", "utf32", "utf_32",
                            "iso-10646-ucs-2", "iso-10646-ucs-4", "csucs4", "csunicode", "ucs-2", "ucs-4"})  # fmt: skip
# feedparser maps C1 controls to the characters windows-1252 puts there (feedparser.html._cp1252).
_C1_CONTROL = re.compile("[\x80-\x9f]")
_CP1252 = {i: bytes([i]).decode("cp1252") for i in range(0x80, 0xA0) if i not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_fp_looks_like_html = _FeedParserMixin.looks_like_html


def _parse_fast(body: bytes, data: bytes, *, url: str = "", content_type: str | None = None) -> ParsedFeed | None:
    """Return the feed exactly as _parse_feedparser would, or None when only feedparser can read it."""
    document = _strict_input(data, _charset_of(_xml_content_type(body, content_type)))
    if document is None:
        return None
    tree = _read_tree(document)
    if tree is None:
        return None  # feedparser's loose parser may still recover items: a bozo feed
    root, declared = tree
    if not _namespaces_ok(declared):
        return None
    kind = _key(root.tag)
    if kind == "rss":
        return _fast_rss(root, url)
    if kind == "atom:feed":
        return _fast_atom(root, url)
    return None


def _read_tree(document: bytes) -> tuple[ET.Element, list[tuple[str, str]]] | None:
    """Return the document's root element and its namespace declarations, or None when it is not well-formed XML.

    expat as ElementTree drives it never loads external entities or DTDs: a reference to one is
    an "undefined entity" error (tests/test_parse.py holds it to that with a live server).
    """
    try:
        events = ET.iterparse(io.BytesIO(document), events=("start-ns",))
        declared = [ns for _, ns in events]
    except ET.ParseError:
        return None
    return events.root, declared


def _charset_of(xml_content_type: str) -> str:
    """Return the charset feedparser reads from the content-type _xml_content_type built ("" when none)."""
    charset = ""
    for chunk in xml_content_type.split(";")[1:]:  # as feedparser.encodings.parse_content_type
        key, _, value = chunk.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    return charset


def _strict_input(data: bytes, http_charset: str) -> bytes | None:
    """Return the UTF-8 bytes feedparser hands its strict parser, or None when it would flag the encoding.

    A replica of feedparser.encodings.convert_to_utf8 for the case where the first encoding it
    tries works (no bozo), and of replace_doctype for documents without a DOCTYPE.
    """
    if data[:2] in _WIDE_BOMS or data[:4] in _WIDE_MARKERS:
        return None
    bom = data[:3] == codecs.BOM_UTF8
    if bom:
        data = data[3:]
    if b"<!DOCTYPE" in data:
        return None  # feedparser rewrites DOCTYPEs (and expat would apply ATTLIST defaults)
    try:
        if bom and not data.isascii():
            data.decode("utf-8")  # else feedparser would not look for a declaration at all
        xml_encoding = ""
        match = _XML_PI_ENCODING.match(data)
        if match:
            xml_encoding = match.group(1).decode("utf-8").lower()
            if bom and xml_encoding in _BOM_UTF_NAMES:
                xml_encoding = "utf-8"
        encoding = http_charset or xml_encoding or "utf-8"
        if encoding.lower() == "gb2312":
            encoding = "gb18030"
        if codecs.lookup(encoding).name == "utf-8":
            if not data.isascii():
                data.decode("utf-8")  # only validates: the bytes are already what feedparser re-encodes
        else:
            data = data.decode(encoding).encode("utf-8")
    except (LookupError, UnicodeError):
        return None
    declaration = _XML_DECLARATION.match(data)
    if declaration:
        return _UTF8_DECLARATION + data[declaration.end() :]
    return _UTF8_DECLARATION + b"\n" + data


def _namespaces_ok(declared: list[tuple[str, str]]) -> bool:
    """Return True when no namespace declaration can make feedparser name an element differently."""
    bound: dict[str, str] = {}
    for prefix, uri in declared:
        if not uri:
            continue  # xmlns="" undeclares; feedparser ignores it
        low = uri.lower()
        if low in _VERSION_NS or bound.setdefault(prefix, uri) != uri:
            return False
        canonical = "" if "backend.userland.com/rss" in low else _FP_NAMESPACES.get(low)
        if prefix in _FP_PREFIXES and prefix != canonical:
            return False  # e.g. xmlns:dc bound to another namespace: feedparser would misname dc:* elements
    return True


def _key(tag: str) -> str | None:
    """Return an element's name as the fast path knows it ("title", "dc:creator", "atom:entry"), or None."""
    key = _KEYS.get(tag, _NO_KEY)
    if key is not _NO_KEY:
        return key
    if tag[:1] != "{":
        key = tag.lower()  # feedparser lower-cases element names
    else:
        uri, _, local = tag[1:].partition("}")
        prefix = _FAST_NS.get(uri)
        key = None if prefix is None else prefix + local.lower()
    if len(_KEYS) < 1000:  # a hostile feed could invent names without end
        _KEYS[tag] = key
    return key


def _attrs(el: ET.Element) -> dict[str, str] | None:
    """Return el's attributes keyed as feedparser keys them, or None when that is ambiguous or sets a base URI."""
    if not el.attrib:
        return _NO_ATTRS
    out: dict[str, str] = {}
    for name, value in el.attrib.items():
        # feedparser also files a namespaced attribute under its bare local name, lower-cased.
        local = name.rpartition("}")[2].lower()
        if local in out or local == "base":
            return None
        out[local] = value.lower() if local in ("rel", "type") else value
    return out


def _leaf(el: ET.Element, allowed: frozenset[str] | None = _LANG) -> dict[str, str] | None:
    """Return el's attributes if el has no child elements and only `allowed` attributes (None: any), else None."""
    if len(el):
        return None
    if not el.attrib:
        return _NO_ATTRS
    attrs = _attrs(el)
    if attrs is None or (allowed is not None and not attrs.keys() <= allowed):
        return None
    return attrs


def _text_type(el: ET.Element) -> str | None:
    """Return "text/plain" or "text/html" for an Atom text construct that is a leaf, else None."""
    attrs = _leaf(el, _TEXT_ATTRS)
    if attrs is None:
        return None
    kind = attrs.get("type", "text/plain").lower()
    kind = _SHORT_TYPES.get(kind, kind)
    return kind if kind in ("text/plain", "text/html") else None


def _fp_text(text: str | None, *, uri: bool = False) -> str:
    """Return element text as feedparser stores it: stripped, URI slashes fixed if `uri`, characters repaired."""
    if not text:
        return ""
    out = text.strip()
    if uri and out:
        out = _fix_uri(out)
    return out if out.isascii() else _fp_chars(out)


def _fix_uri(uri: str) -> str:
    """Return uri as feedparser's resolve_uri leaves it with no base: slashes after "scheme://" dropped."""
    match = _URI_FIXER.match(uri)  # the same as _URI_FIXER.sub(r"\1\3", uri), without re's template code
    if match is None or match.end(2) == match.end(1):
        return uri
    return uri[: match.end(1)] + uri[match.end(2) :]


def _drop_semicolon(match: re.Match[str]) -> str:
    return "&" + match.group(1)


def _fp_chars(out: str) -> str:
    """Return out with feedparser's repairs: UTF-8 read as latin-1 re-decoded, C1 controls as windows-1252."""
    if out.isascii():
        return out
    with contextlib.suppress(UnicodeError):
        out = out.encode("iso-8859-1").decode("utf-8")
    # translate() looks every character up in a dict: only pay for it when there is a C1 control.
    return out.translate(_CP1252) if _C1_CONTROL.search(out) else out


@functools.lru_cache(maxsize=4096)
def _fp_date(value: str) -> datetime | None:
    """Return a date string as feedparser's own date parser reads it, in UTC, or None."""
    return _utc(_parse_date(value))


def _fast_rss(root: ET.Element, base: str) -> ParsedFeed | None:
    """Return an RSS 0.9x/2.0 document (<rss><channel>) as a ParsedFeed, or None."""
    if _attrs(root) is None or len(root) != 1:
        return None
    channel = root[0]
    if _key(channel.tag) != "channel" or _attrs(channel) is None:
        return None
    title: str | None = None
    ttl: str | None = None
    entries: list[Entry] = []
    for el in channel:
        key = _key(el.tag)
        if key == "item":
            entry = _fast_rss_item(el, base) if len(entries) < MAX_ENTRIES else None
            if entry is None:
                return None
            entries.append(entry)
        elif key == "title":
            # feedparser keeps the first channel title only while nothing resets its title depth.
            if title is not None or _leaf(el) is None:
                return None
            title = _fp_text(el.text)
        elif key == "ttl":
            if _leaf(el, frozenset()) is None:
                return None  # with attributes, feedparser stores <ttl> as a dict of them
            ttl = _fp_text(el.text)  # the last one wins, as in feedparser
        elif key in _RSS_CHANNEL_LEAVES:
            if _leaf(el, None) is None:
                return None
        elif key in _RSS_CHANNEL_GROUPS:
            allowed = _RSS_CHANNEL_GROUPS[key]
            if _attrs(el) is None or any(_key(s.tag) not in allowed or _leaf(s, None) is None for s in el):
                return None
        else:
            return None
    if not entries:
        return None  # let feedparser word the error
    return ParsedFeed(entries=tuple(entries), title=_feed_title(title), ttl=_ttl(ttl))


def _fast_rss_item(item: ET.Element, base: str) -> Entry | None:
    """Return one RSS <item> as feedparser would turn it into an Entry, or None."""
    if item.attrib:
        return None  # rdf:about, lastmod, href: each sets a field in feedparser
    title = link = guid = summary = author = published = None
    title_plain = True
    guid_is_link = False
    contents: list[str] = []
    seen: set[str] = set()
    for el in item:
        if len(el):
            return None  # markup inside a field would be xhtml to feedparser
        key = _key(el.tag)
        if key not in _RSS_ITEM_FIELDS:
            return None
        allowed = _RSS_ITEM_FIELDS[key]
        if el.attrib:
            attrs = _attrs(el)
            if attrs is None or (allowed is not None and not attrs.keys() <= allowed):
                return None
        else:
            attrs = _NO_ATTRS
        if allowed is None:
            continue  # read, but changes nothing in the Entry
        # Every field may occur once: feedparser's rules for repeats (a second <description>
        # becomes content, a second <title> may be dropped) are not modelled. <content:encoded>
        # repeats simply add contents.
        field = "author" if key == "dc:creator" else key
        if field in seen:
            return None
        if field != "content:encoded":
            seen.add(field)
        text = el.text
        if key == "title":
            raw = text.strip() if text else ""
            # RSS titles are nominally text; feedparser calls them HTML when they look like it.
            title_plain = not (("<" in raw or "&" in raw) and _fp_looks_like_html(raw))
            title = _fp_text(raw)
        elif key == "link":
            link = _fp_text(text, uri=True)
            if "&" in link:  # feedparser's repair of "?a=1&b;=2" style links
                link = _LINK_ENTITY.sub(_drop_semicolon, link.replace("&amp;", "&"))
        elif key == "guid":
            guid_is_link = attrs.get("ispermalink", "true") == "true"
            guid = _fp_text(text, uri=guid_is_link)
        elif key == "description":
            summary = _fp_text(text)
        elif key == "content:encoded":
            contents.append(_fp_text(text))
        elif key == "pubdate":
            published = _fp_text(text)
        else:  # author, dc:creator
            author = _fp_text(text)
    if link is None and guid_is_link:
        link = guid  # a permalink guid stands in for a missing <link>
    return Entry(
        guid=guid or None,
        link=_finish_link(link, base),
        title=_html_value(title or "", title_plain),
        # Without <description> feedparser copies the first content into the summary.
        summary=summary if summary is not None else (contents[0] if contents else ""),
        content=max(contents, key=len, default=""),
        author=author or "",
        published=_fp_date(published) if published else None,
        updated=None,
    )


def _fast_atom(root: ET.Element, base: str) -> ParsedFeed | None:
    """Return an Atom 1.0 document as a ParsedFeed, or None."""
    if _attrs(root) is None:
        return None
    title: str | None = None
    entries: list[Entry] = []
    for el in root:
        key = _key(el.tag)
        if key == "atom:entry":
            entry = _fast_atom_entry(el, base) if len(entries) < MAX_ENTRIES else None
            if entry is None:
                return None
            entries.append(entry)
        elif key == "atom:title":
            if title is not None or _text_type(el) is None:
                return None
            title = _fp_text(el.text)
        elif key in _ATOM_FEED_LEAVES:
            if _leaf(el, None) is None:
                return None
        elif key in ("atom:author", "atom:contributor"):
            if _atom_person(el) is None:
                return None
        else:
            return None
    if not entries:
        return None
    return ParsedFeed(entries=tuple(entries), title=_feed_title(title), ttl=None)


def _fast_atom_entry(entry: ET.Element, base: str) -> Entry | None:
    """Return one Atom <entry> as feedparser would turn it into an Entry, or None."""
    if entry.attrib:
        return None
    guid = link = title = summary = author = published = updated = None
    title_type = summary_type = "text/plain"
    contents: list[str] = []
    for el in entry:
        key = _key(el.tag)
        if key == "atom:id":
            if guid is not None or _leaf(el) is None:
                return None
            guid = _fp_text(el.text, uri=True)
        elif key == "atom:link":
            attrs = _leaf(el, None)
            if attrs is None or "href" not in attrs or "url" in attrs or "uri" in attrs:
                return None  # without href feedparser reads the text; url/uri override href
            rel = attrs.get("rel", "alternate")
            kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
            if rel == "alternate" and _SHORT_TYPES.get(kind, kind) in _HTML_TYPES:
                link = _fix_uri(attrs["href"])  # the last alternate link wins
        elif key in ("atom:title", "atom:summary"):
            kind = _text_type(el)
            if kind is None or (title if key == "atom:title" else summary) is not None:
                return None  # a second <summary> becomes content in feedparser
            if key == "atom:title":
                title, title_type = _fp_text(el.text), kind
            else:
                summary, summary_type = _fp_text(el.text), kind
        elif key == "atom:content":
            if _text_type(el) is None:
                return None  # xhtml, other types, src= and mode= are not modelled
            contents.append(_fp_text(el.text))
        elif key == "atom:author":
            if author is not None:
                return None
            author = _atom_person(el)
            if author is None:
                return None
        elif key == "atom:published":
            if published is not None or _leaf(el) is None:
                return None
            published = _fp_text(el.text)
        elif key == "atom:updated":
            if updated is not None or _leaf(el) is None:
                return None
            updated = _fp_text(el.text)
        elif key == "atom:category":
            if _leaf(el, None) is None:
                return None
        else:
            return None  # <source> and xhtml content among others
    if link is None:
        link = guid  # feedparser lets <id> stand in for a missing alternate link
    if summary is not None:
        summary = _html_value(summary, summary_type == "text/plain")
    else:
        summary = contents[0] if contents else ""  # feedparser copies the first content, unescaped
    return Entry(
        guid=guid or None,
        link=_finish_link(link, base),
        title=_html_value(title or "", title_type == "text/plain"),
        summary=summary,
        content=max(contents, key=len, default=""),
        author=author or "",
        published=_fp_date(published) if published else None,
        updated=_fp_date(updated) if updated else None,
    )


def _atom_person(el: ET.Element) -> str | None:
    """Return an Atom person construct as feedparser's `author` string, or None when it is unusual."""
    if _attrs(el) is None:
        return None
    name = email = None
    seen: set[str | None] = set()
    for sub in el:
        key = _key(sub.tag)
        if key not in _ATOM_PERSON or key in seen or _leaf(sub, None) is None:
            return None
        seen.add(key)
        # feedparser keeps <name> and <email> stripped but otherwise untouched.
        if key == "atom:name":
            name = sub.text.strip() if sub.text else ""
        elif key == "atom:email":
            email = sub.text.strip() if sub.text else ""
    if name and email:
        return f"{name} ({email})"
    if name or email:
        return name or email
    # Neither: feedparser keeps the <author> element's own text.
    return _fp_text((el.text or "") + "".join(sub.tail or "" for sub in el))
