"""Release bodies of the newswires' own pages, found by their release container.

Each wire wraps the release body in one element (PR Newswire `section.release-body`, Business
Wire `div.bw-release-story`, GlobeNewswire `div#main-body-container`); everything else on the page
(navigation, sidebars, related releases, cookie banners) is outside it. Inside, blocks are read
in order and the boilerplate sections are cut (see monitor.extract for why About is dropped).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

# (method, XPath of the release container); the first that matches wins.
CONTAINERS = (
    ("businesswire", "//div[contains(concat(' ', normalize-space(@class), ' '), ' bw-release-story ')]"),
    ("globenewswire", "//div[@id='main-body-container']"),
    ("prnewswire", "//*[self::section or self::div][contains(concat(' ', normalize-space(@class), ' '),"
                   " ' release-body ')]"),
)
_TEXT_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt"}
_ALL_BLOCKS = _TEXT_BLOCKS | {"table", "div", "section", "ul", "ol", "dl", "article"}
_SKIP_TAGS = {"script", "style", "noscript", "template", "figure", "figcaption", "nav", "aside", "form", "button",
              "iframe", "svg", "img", "picture", "video", "audio", "select", "input"}
_SKIP_CLASS = re.compile(r"(?i)\b(share|social|related|cookie|consent|advert|ad-slot|hidden|print-only|image)\b")
# Section headings whose section is boilerplate: the company's About text and the contacts.
_BOILERPLATE_HEADING = re.compile(
    r"(?i)^(about\s+\S|(media|press|investor|company)?\s*(contacts?|inquiries|enquiries)\b|for (more|further)"
    r" information\b)")
# Single lines that are wire metadata, not release text.
_METADATA_LINE = re.compile(r"(?i)^(source\s+\S.{0,120}$|view (source|original) (version|content)\b"
                            r"|(logo|photo|video)\s*[-:]\s*https?://)")
_HEADING_WORDS = 12


def extract(html: bytes | str) -> tuple[str, str] | None:
    """Return (method, text) when the page is a wire's release page, else None."""
    try:
        doc = lxml.html.document_fromstring(_strip_xml_declaration(html))
    except (lxml.etree.ParserError, ValueError):
        return None
    for method, xpath in CONTAINERS:
        found = doc.xpath(xpath)
        if found:
            text = body_text(found[0])
            if text:
                return method, text
    return None


def body_text(container: HtmlElement) -> str:
    """Return the text of a release container: blocks in order, boilerplate sections cut."""
    blocks = [b for b in (_block_text(el) for el in _blocks(container)) if b]
    kept: list[str] = []
    cutting = False
    floor = max(2, len(blocks) // 3)  # an "About the summit" heading near the top is the story itself
    for i, (text, heading) in enumerate(blocks):
        if heading is not None and i >= floor and _BOILERPLATE_HEADING.match(heading):
            cutting = True  # About and contacts run to the end: disclaimers and links follow them
        if cutting:
            continue
        lines = [line for line in text.split("\n") if not _METADATA_LINE.match(line)]
        if lines:
            kept.append("\n".join(lines))
    return "\n\n".join(kept)


def _blocks(el: HtmlElement) -> Iterator[HtmlElement]:
    """Yield the innermost text blocks and the tables under el, in document order."""
    for child in el.iterchildren():
        if not isinstance(child.tag, str) or _skipped(child):
            continue
        if child.tag == "table" or (child.tag in _TEXT_BLOCKS and not _has_blocks(child)):
            yield child
        elif _has_blocks(child):
            yield from _blocks(child)
        elif child.tag in _ALL_BLOCKS:  # a div holding only inline text
            yield child


def _has_blocks(el: HtmlElement) -> bool:
    return any(isinstance(d.tag, str) and d.tag in _ALL_BLOCKS for d in el.iterdescendants())


def _skipped(el: HtmlElement) -> bool:
    if el.tag in _SKIP_TAGS or el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    return bool(_SKIP_CLASS.search(f"{el.get('class', '')} {el.get('id', '')}"))


def _block_text(el: HtmlElement) -> tuple[str, str | None] | None:
    """Return (text, heading) of one block; heading is its title when the block starts like one."""
    if el.tag == "table":
        rows = []
        for tr in el.iter("tr"):
            cells = [_inline(td) for td in tr if isinstance(td.tag, str) and td.tag in ("td", "th")]
            cells = [c for c in cells if c]
            if cells:
                rows.append(" | ".join(cells))
        return ("\n".join(rows), None) if rows else None
    text = _inline(el, lines=True)
    if not text:
        return None
    first = text.split("\n", 1)[0]
    heading = None
    if el.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        heading = first
    elif len(first.split()) <= _HEADING_WORDS:
        lead = _leading_bold(el)
        if lead and " ".join(lead.split()) == first:
            heading = first
    return text, heading


def _leading_bold(el: HtmlElement) -> str | None:
    """Return the text of a <b>/<strong> that opens the block (nothing but space before it)."""
    if (el.text or "").strip():
        return None
    for child in el.iterchildren():
        if not isinstance(child.tag, str):
            continue
        if child.tag in ("b", "strong"):
            return child.text_content()
        if child.tag in ("span", "u", "i", "em", "a") and not (child.tail or "").strip():
            return _leading_bold(child)
        return None
    return None


def _inline(el: HtmlElement, *, lines: bool = False) -> str:
    """Return an element's text, whitespace collapsed; <br> becomes a line break when lines=True."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node.text:
            parts.append(node.text)
        for child in node.iterchildren():
            if isinstance(child.tag, str) and child.tag not in _SKIP_TAGS:
                if child.tag == "br":
                    parts.append("\n" if lines else " ")
                else:
                    walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    text = "".join(parts)
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))


def _strip_xml_declaration(html: bytes | str) -> bytes | str:
    # lxml refuses a str that carries an encoding declaration.
    if isinstance(html, str) and html.lstrip().startswith("<?xml"):
        return html.split("?>", 1)[-1]
    return html
