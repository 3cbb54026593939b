"""The fast path's input: the UTF-8 bytes feedparser's strict parser would be handed, the tree, the namespaces.

A replica of what feedparser does before parsing (feedparser.encodings, its namespace table): when
the replica cannot be sure it matches, the fast path steps aside.
"""

from __future__ import annotations

import codecs
import io
import re
import xml.etree.ElementTree as ET
from typing import cast

from feedparser.mixin import _FeedParserMixin

# feedparser names elements by its own prefix for each known namespace URI (case-insensitive) and
# maps every *declared* prefix through that table too, so a document declaring, say, xmlns:dc for
# the content namespace would make feedparser read a real dc:creator as "content:creator".
_FP_NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_FP_PREFIXES = frozenset(p for p in _FP_NAMESPACES.values() if p)
# Declaring either of these makes feedparser take the document for RSS 0.90 / RSS 1.0.
_VERSION_NS = frozenset({"http://my.netscape.com/rdf/simple/0.9/", "http://purl.org/rss/1.0/"})

# feedparser's own expressions (feedparser.encodings), copied: the fast path must cut and rewrite
# exactly where feedparser does.
_XML_PI_ENCODING = re.compile(rb"^<\?.*encoding=['\"](.*?)['\"].*\?>")
_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*?>")
_UTF8_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16/32: never served by the wires this path is for
_WIDE_MARKERS = frozenset(
    {b"\x00\x00\xfe\xff", b"Lo\xa7\x94", b"\x00<\x00?", b"<\x00?\x00", b"\x00\x00\x00<", b"<\x00\x00\x00"}
)
_BOM_UTF_NAMES = frozenset({"u16", "utf-16", "utf16", "utf_16", "u32", "utf-32", "utf32", "utf_32",
                            "iso-10646-ucs-2", "iso-10646-ucs-4", "csucs4", "csunicode", "ucs-2", "ucs-4"})  # fmt: skip


def _read_tree(document: bytes) -> tuple[ET.Element, list[tuple[str, str]]] | None:
    """Return the document's root element and its namespace declarations, or None when it is not well-formed XML.

    expat as ElementTree drives it never loads external entities or DTDs: a reference to one is
    an "undefined entity" error (tests/test_parse.py holds it to that with a live server).
    """
    try:
        events = ET.iterparse(io.BytesIO(document), events=("start-ns",))
        # "start-ns" events carry (prefix, uri) pairs; typeshed types every event as an Element.
        declared = [cast(tuple[str, str], ns) for _, ns in events]
    except ET.ParseError:
        return None
    root: ET.Element = events.root  # type: ignore[attr-defined]  # set once iteration ends
    return root, declared


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
