"""Rendering the archive for other tools: JSONL and CSV records, Atom feeds, OPML subscription lists.

Pure functions: values in, text out (and OPML/TOML text back to values). The store yields the
records, the CLI and the web view write what these functions return. Only the stdlib's XML and
csv modules are used, so a record survives the round trip exactly (tests check it).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import cast
from urllib.parse import quote, urlsplit

from monitor.errors import ConfigError
from monitor.links import safe_link
from monitor.types import Feed

# --------------------------------------------------------------------------- records (JSONL / CSV)

# One exported release, in column order. Timestamps are the archive's UTC text (2024-05-01T12:00:00Z).
EXPORT_FIELDS: tuple[str, ...] = (
    "id", "title", "url", "published", "published_known", "first_seen", "updated", "author",
    "dateline_place", "dateline_date", "wire", "tickers", "feeds", "links", "rules", "summary", "body",
    "story",  # the story's id (its first copy's release id; the release's own id when it has no copy): last, so
              # CSV readers that take columns by position keep working
)
# Fields that hold lists. In CSV they are joined with newlines: feed and rule names are one line
# each, so the split is lossless, and the csv module quotes multi-line cells.
LIST_FIELDS = frozenset({"tickers", "feeds", "links", "rules"})
BOOL_FIELDS = frozenset({"published_known"})
INT_FIELDS = frozenset({"id", "story"})
NULLABLE_FIELDS = frozenset({"dateline_place", "dateline_date", "wire"})  # None when the release has none


def _link_policy(record: Mapping[str, object]) -> Mapping[str, object]:
    """Return the record with `url` and `links` holding only http(s) links (links.safe_link).

    An archive written before the policy may hold a `javascript:` URL; an export never hands one on.
    """
    url, links = record.get("url"), record.get("links")
    safe_url = safe_link(str(url)) if url else None
    safe_links = [s for s in (safe_link(str(v)) for v in links) if s] if isinstance(links, list | tuple) else links
    if (safe_url or "") == (url or "") and safe_links == links:
        return record
    return {**record, "url": safe_url or "", "links": safe_links}


def jsonl_line(record: Mapping[str, object]) -> str:
    """Return one record as a JSON line (with its newline), fields in EXPORT_FIELDS order."""
    record = _link_policy(record)
    return json.dumps({k: record.get(k) for k in EXPORT_FIELDS}, ensure_ascii=False) + "\n"


def csv_header() -> str:
    """Return the CSV header line."""
    return _csv_text(EXPORT_FIELDS)


def csv_line(record: Mapping[str, object]) -> str:
    """Return one record as a CSV line (RFC 4180 quoting, \\r\\n line end)."""
    record = _link_policy(record)
    cells: list[str] = []
    for name in EXPORT_FIELDS:
        value = record.get(name)
        if name in LIST_FIELDS:
            cells.append("\n".join(str(v) for v in cast("Iterable[object]", value or ())))
        elif name in BOOL_FIELDS:
            cells.append("true" if value else "false")
        else:
            cells.append("" if value is None else str(value))
    return _csv_text(cells)


def record_from_csv(row: Mapping[str, str]) -> dict[str, object]:
    """Return the record a csv.DictReader row holds (lists split, types restored): the inverse of csv_line."""
    out: dict[str, object] = {}
    for name in EXPORT_FIELDS:
        cell = row.get(name, "")
        if name in LIST_FIELDS:
            out[name] = cell.split("\n") if cell else []
        elif name in BOOL_FIELDS:
            out[name] = cell == "true"
        elif name in INT_FIELDS:
            out[name] = int(cell)
        elif name in NULLABLE_FIELDS:
            out[name] = cell or None
        else:
            out[name] = cell
    return out


def _csv_text(cells: Iterable[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(cells)
    return buf.getvalue()


# --------------------------------------------------------------------------- XML helpers

ATOM_NS = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry at all (not even escaped): feed text occasionally holds them
# (form feeds, stray NULs from a CMS), and one of them makes the whole document unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str | None) -> str:
    """Return `text` without the characters XML 1.0 cannot represent."""
    return _NOT_XML.sub("", text or "")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- Atom


@dataclass(frozen=True)
class AtomEntry:
    id: str  # a permanent IRI (tag: URI)
    title: str
    link: str  # the release's URL ("" when it has none); rendered only when links.safe_link accepts it
    published: datetime
    updated: datetime
    summary: str = ""
    author: str = ""
    categories: tuple[str, ...] = ()
    content: str = ""  # the full text (a release's body, e.g. its fetched page), when there is one


def tag_uri(install_id: str, *parts: object) -> str:
    """Return a permanent Atom id (RFC 4151 tag URI) for something in one archive."""
    tail = "/".join(quote(str(p), safe="") for p in parts)
    return f"tag:press-monitor,2024:{install_id}/{tail}"


def atom_feed(*, id: str, title: str, updated: datetime, entries: Sequence[AtomEntry], subtitle: str = "",
              self_link: str | None = None, alternate_link: str | None = None, generator: str = "press-monitor",
              version: str = "") -> str:
    """Return an Atom 1.0 document (RFC 4287) as text with an XML declaration."""
    ET.register_namespace("", ATOM_NS)
    q = f"{{{ATOM_NS}}}"
    feed = ET.Element(f"{q}feed")
    _sub(feed, f"{q}id", id)
    _sub(feed, f"{q}title", title)
    if subtitle:
        _sub(feed, f"{q}subtitle", subtitle)
    _sub(feed, f"{q}updated", _rfc3339(updated))
    # RFC 4287 4.1.1: a feed needs an author unless every entry has one; the tool is the author here.
    author = _sub(feed, f"{q}author")
    _sub(author, f"{q}name", generator)
    if self_link:
        _sub(feed, f"{q}link", rel="self", type="application/atom+xml", href=self_link)
    if alternate_link:
        _sub(feed, f"{q}link", rel="alternate", type="text/html", href=alternate_link)
    gen = _sub(feed, f"{q}generator", generator)
    if version:
        gen.set("version", version)
    for e in entries:
        entry = _sub(feed, f"{q}entry")
        _sub(entry, f"{q}id", e.id)
        _sub(entry, f"{q}title", e.title or "(untitled)", type="text")
        link = safe_link(e.link)
        if link:
            _sub(entry, f"{q}link", rel="alternate", type="text/html", href=link)
        _sub(entry, f"{q}published", _rfc3339(e.published))
        _sub(entry, f"{q}updated", _rfc3339(e.updated))
        if e.author:
            _sub(_sub(entry, f"{q}author"), f"{q}name", e.author)
        for term in e.categories:
            _sub(entry, f"{q}category", term=term)
        if e.summary:
            _sub(entry, f"{q}summary", e.summary, type="text")
        if e.content:
            _sub(entry, f"{q}content", e.content, type="text")
    ET.indent(feed, space=" ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def rule_feed(rule: str, rows: Sequence[Mapping[str, object]], *, install_id: str, now: datetime, query: str = "",
              self_link: str | None = None, alternate_link: str | None = None, version: str = "") -> str:
    """Return the Atom feed of a rule's matches (store.rule_matches rows, newest match first)."""
    entries = [
        AtomEntry(
            id=tag_uri(install_id, "release", r["id"]),
            title=str(r["title"]),
            link=str(r["url"] or ""),
            published=r["published"],  # type: ignore[arg-type]
            updated=r["updated"] or r["published"],  # type: ignore[arg-type]
            summary=str(r["summary"] or r["snippet"] or ""),
            author=str(r["author"] or ""),
            categories=(rule,),
            content=str(r.get("body") or ""),
        )
        for r in rows
    ]
    # The feed changes when a release is revised or when the rule matches another (perhaps older) one.
    stamps = [e.updated for e in entries] + [r["matched_at"] for r in rows if r.get("matched_at")]
    return atom_feed(
        id=tag_uri(install_id, "rule", rule),
        title=f"press-monitor: {rule}",
        subtitle=f"Releases matching {query}" if query else "",
        updated=cast(datetime, max(stamps, default=now)),  # type: ignore[type-var]
        entries=entries,
        self_link=self_link,
        alternate_link=alternate_link,
        version=version,
    )


# --------------------------------------------------------------------------- OPML


@dataclass(frozen=True)
class OpmlFeed:
    name: str  # the outline's title (or text); "" when it has neither
    url: str  # xmlUrl as written
    folder: str = ""  # the folders it sits in, outermost first, joined by " / "; "" at the top level


def opml_document(feeds: Iterable[Feed], *, title: str = "press-monitor feeds", now: datetime | None = None) -> str:
    """Return an OPML 2.0 subscription list of the feeds (one rss outline each)."""
    opml = ET.Element("opml", version="2.0")
    head = _sub(opml, "head")
    _sub(head, "title", title)
    if now is not None:
        _sub(head, "dateCreated", format_datetime(now.astimezone(UTC)))
    body = _sub(opml, "body")
    for f in feeds:
        # Not _sub(): its `text` parameter is the element's text, while OPML wants a text *attribute*.
        ET.SubElement(body, "outline", {"type": "rss", "text": xml_text(f.name), "title": xml_text(f.name),
                                        "xmlUrl": xml_text(f.url)})
    ET.indent(opml, space=" ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"


def parse_opml(data: bytes | str, *, source: str) -> list[OpmlFeed]:
    """Return every feed outline (any depth, folders flattened) in an OPML document, in order."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ConfigError(f"{source}: not an OPML file: XML error: {exc}") from None
    if root.tag.lower() != "opml":
        raise ConfigError(f"{source}: not an OPML file: the root element is <{root.tag}>, expected <opml>")
    body = next((el for el in root if el.tag.lower() == "body"), None)
    if body is None:
        raise ConfigError(f"{source}: not an OPML file: it has no <body>")
    out: list[OpmlFeed] = []
    _walk(body, (), out)
    return out


def _walk(parent: ET.Element, folders: tuple[str, ...], out: list[OpmlFeed]) -> None:
    for outline in parent:
        if not isinstance(outline.tag, str) or outline.tag.lower() != "outline":
            continue
        # Readers disagree on the case of xmlUrl (xmlurl, XMLURL); the meaning is the same.
        attrs = {k.lower(): v for k, v in outline.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        name = " ".join((attrs.get("title") or attrs.get("text") or "").split())
        if url:
            out.append(OpmlFeed(name=name, url=url, folder=" / ".join(folders)))
        # A folder is an outline holding outlines (a feed outline with children is rare, but read them too).
        _walk(outline, (*folders, name) if not url and name else folders, out)


# --------------------------------------------------------------------------- importing into config.toml


@dataclass(frozen=True)
class ImportPlan:
    added: tuple[tuple[str, str], ...]  # (name, url) to append as [[feeds]]
    skipped: tuple[tuple[OpmlFeed, str], ...]  # (outline, why)


def url_identity(url: str) -> str:
    """Return the URL with scheme and host lower-cased: how config.toml tells two feed URLs apart."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def plan_import(existing: Sequence[Feed], incoming: Sequence[OpmlFeed]) -> ImportPlan:
    """Return which outlines to add (names made unique, ignoring case) and which to skip, and why."""
    urls = {url_identity(f.url): f.name for f in existing}
    names = {f.name.lower() for f in existing}
    added: list[tuple[str, str]] = []
    skipped: list[tuple[OpmlFeed, str]] = []
    for item in incoming:
        parts = urlsplit(item.url)
        ident = url_identity(item.url)
        # Already configured first: an exported file:// feed coming back is a duplicate, not a bad URL.
        if ident in urls:
            skipped.append((item, f"already configured as {urls[ident]!r}"))
            continue
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in item.url):
            skipped.append((item, "not an http(s) URL: import takes subscriptions, not local files"
                            if parts.scheme.lower() == "file" else "not an http(s) URL"))
            continue
        # The reader's folder survives as a name prefix ("Wires / Energy: PRN energy"), so the
        # grouping still shows in `feeds`, `status` and the web view.
        title = item.name or parts.hostname
        base = f"{item.folder}: {title}" if item.folder else title
        name, n = base, 1
        while name.lower() in names:
            n += 1
            name = f"{base} ({n})"
        names.add(name.lower())
        urls[ident] = name
        added.append((name, item.url))
    return ImportPlan(tuple(added), tuple(skipped))
