"""A release page's HTML -> the release's text. Pure: bytes in, text out.

    extract(html, url=..., charset=..., anchor=Anchor(title, lead)) -> Extracted | None   (None: no text)

Three paths, each giving text blocks:
  wire       on a wire's own host, its release container (monitor.extract.wires)
  generic    any other page: trafilatura's main text, one block per line (monitor.extract.generic)
  anchored   when the feed's release is not in trafilatura's text (a site laid out with tables, a
             main text that is the sidebar): the page's own blocks from where the release starts
             to the end of the element holding it
Then, on every path, the release is taken from where it starts (the anchor: the feed's title and
first words) to where its end matter begins (monitor.extract.boundary).

End matter ("About ..." sections, contacts, safe harbor, SOURCE, ###) is not the release's text:
it is the same in every release of a company, so keeping it in the body would make a rule for
"Central Asia" match every release of a company whose About mentions the region. It is returned
apart (Extracted.boilerplate) and stored apart, so a user can still read it.

Before any parser sees the page, monitor.extract.guard bounds what parsing may cost (it raises
PageError for a hostile page).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from monitor.extract import boundary, generic, guard, wires
from monitor.extract.boundary import Anchor, Block

TEXT_LIMIT = 100_000  # characters of page text kept (the feed body's limit too)

# Page-quality flags: "" when the text is trusted.
ANCHOR_MISSING = "anchor-missing"  # the feed's title and first words are not in the text: it may not be the release


@dataclass(frozen=True)
class Extracted:
    text: str  # paragraphs separated by blank lines, table rows by line breaks
    method: str  # "prnewswire" | "businesswire" | "globenewswire" | "generic" | "anchored"
    boilerplate: str = ""  # the end matter cut from the release (About, contacts, safe harbor, ...)
    quality: str = ""  # "" or ANCHOR_MISSING


def extract(html: bytes | str, *, url: str = "", charset: str | None = None,
            anchor: Anchor | None = None) -> Extracted | None:
    """Return the release text of a page, or None when there is none (raises PageError for a hostile page)."""
    if isinstance(html, bytes) and charset:
        with contextlib.suppress(LookupError):  # an unknown charset name: let the parsers sniff the bytes
            html = html.decode(charset, "replace")
    if not html:
        return None
    guard.check(html)
    anchor = anchor or Anchor()
    doc = _parse(html)
    found = wires.release_blocks(doc, _host(url)) if doc is not None else None
    if found is not None:
        method, blocks = found
    else:
        text = generic.extract(html, url=url)
        method, blocks = "generic", [(line, line if boundary.is_heading_line(line) else None)
                                     for line in text.split("\n") if line.strip()]
    first = boundary.start(blocks, anchor) if anchor else 0
    if first is None and method == "generic" and doc is not None:
        page = wires.located_blocks(doc)
        at = boundary.start([b for b, _ in page], anchor)
        if at is not None:
            method, blocks, first = "anchored", _holder(page, at), 0
    quality = ANCHOR_MISSING if first is None else ""
    kept, cut = boundary.split(blocks[first or 0:])
    text = "\n\n".join(kept).strip()[:TEXT_LIMIT]
    if not text:
        return None
    return Extracted(text, method, "\n\n".join(cut).strip()[:TEXT_LIMIT], quality)


def _holder(page: list[tuple[Block, HtmlElement]], at: int) -> list[Block]:
    """Return the blocks from page[at] to the end of the element that holds the release.

    That element is the nearest ancestor of the first block's element holding more than the
    block itself: a site's story container (a div in a layout table), not the whole page.
    """
    (text, _), element = page[at]
    holder = element if element.tag in ("div", "td", "article", "section", "main", "body") else element.getparent()
    while holder is not None and len(holder.text_content()) < len(text) + 200 and holder.getparent() is not None:
        holder = holder.getparent()
    if holder is None:
        return [b for b, _ in page[at:]]
    end = _last_descendant(holder)
    kept = []
    for block, el in page[at:]:
        if el is not holder and holder not in el.iterancestors():
            break  # past the holder: blocks come in document order
        kept.append(block)
        if el is end:
            break
    return kept


def _last_descendant(el: HtmlElement) -> HtmlElement:
    while len(el):
        el = el[-1]
    return el


def _parse(html: bytes | str) -> HtmlElement | None:
    try:
        return lxml.html.document_fromstring(_strip_xml_declaration(html))
    except (lxml.etree.ParserError, ValueError):
        return None


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _strip_xml_declaration(html: bytes | str) -> bytes | str:
    # lxml refuses a str that carries an encoding declaration.
    if isinstance(html, str) and html.lstrip().startswith("<?xml"):
        return html.split("?>", 1)[-1]
    return html


__all__ = ["ANCHOR_MISSING", "TEXT_LIMIT", "Anchor", "Extracted", "extract"]
