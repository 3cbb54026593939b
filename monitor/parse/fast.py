"""The fast path: ElementTree (expat, in C) reads the RSS 2.0 and Atom 1.0 that wires actually serve.

Over 400 lines on purpose: it is one whitelist of the elements whose treatment by feedparser it
models (per place in the tree) and the readers that apply it; split, the whitelist and the code
that must agree with it would live apart.
"""

from __future__ import annotations

import contextlib
import functools
import re
import xml.etree.ElementTree as ET
from datetime import datetime

from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin

from monitor.parse.common import MAX_ENTRIES, _feed_title, _finish_link, _html_value, _ttl, _utc, _xml_content_type
from monitor.parse.fast_input import _charset_of, _namespaces_ok, _read_tree, _strict_input
from monitor.types import Entry, ParsedFeed

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

# feedparser's own expressions (feedparser.urls, mixin.pop), copied.
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_URI_FIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
# feedparser maps C1 controls to the characters windows-1252 puts there (feedparser.html._cp1252).
_C1_CONTROL = re.compile("[\x80-\x9f]")
_CP1252 = {i: bytes([i]).decode("cp1252") for i in range(0x80, 0xA0) if i not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_fp_looks_like_html = _FeedParserMixin.looks_like_html


def fast_path(body: bytes, data: bytes, *, url: str = "", content_type: str | None = None) -> ParsedFeed | str:
    """Return the feed exactly as the feedparser path would, or why only feedparser can read it."""
    document = _strict_input(data, _charset_of(_xml_content_type(body, content_type)))
    if document is None:
        return "an encoding or DOCTYPE feedparser handles itself"
    tree = _read_tree(document)
    if tree is None:
        return "not well-formed XML"  # feedparser's loose parser may still recover items: a bozo feed
    root, declared = tree
    if not _namespaces_ok(declared):
        return "namespace declarations feedparser reads differently"
    kind = _key(root.tag)
    if kind == "rss":
        parsed = _fast_rss(root, url)
    elif kind == "atom:feed":
        parsed = _fast_atom(root, url)
    else:
        return "neither RSS 2.0 nor Atom 1.0"
    return parsed if parsed is not None else "markup the fast path does not model"


def _parse_fast(body: bytes, data: bytes, *, url: str = "", content_type: str | None = None) -> ParsedFeed | None:
    """Return the feed exactly as _parse_feedparser would, or None when only feedparser can read it."""
    parsed = fast_path(body, data, url=url, content_type=content_type)
    return parsed if isinstance(parsed, ParsedFeed) else None


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
    dropped = 0
    for el in channel:
        key = _key(el.tag)
        if key == "item":
            if len(entries) >= MAX_ENTRIES:
                dropped += 1  # beyond the cap: counted, not read (feedparser's first items are the same)
                continue
            entry = _fast_rss_item(el, base)
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
    return ParsedFeed(entries=tuple(entries), title=_feed_title(title), ttl=_ttl(ttl), dropped=dropped)


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
    dropped = 0
    for el in root:
        key = _key(el.tag)
        if key == "atom:entry":
            if len(entries) >= MAX_ENTRIES:
                dropped += 1
                continue
            entry = _fast_atom_entry(el, base)
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
    return ParsedFeed(entries=tuple(entries), title=_feed_title(title), ttl=None, dropped=dropped)


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
            text_kind = _text_type(el)
            if text_kind is None or (title if key == "atom:title" else summary) is not None:
                return None  # a second <summary> becomes content in feedparser
            kind = text_kind
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
