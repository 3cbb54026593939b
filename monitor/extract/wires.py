"""Release bodies of the newswires' own pages, found by their release container on the wire's own hosts.

Each wire wraps the release body in one element (PR Newswire `section.release-body`, older
`div.news-release-detail`; Business Wire `div.bw-release-story`; GlobeNewswire
`div#main-body-container`); everything else on the page (navigation, sidebars, related releases,
cookie banners) is outside it. A container is believed only on its wire's own hosts: other sites
use the same names (a newspaper CMS also has `div#main-body-container`), and their pages go to the
generic path. Inside, blocks are read in order; where the release ends is monitor.extract.boundary's
business.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.html import HtmlElement

from monitor.extract.boundary import Block

_PRN_BODY = ("//*[self::section or self::div][contains(concat(' ', normalize-space(@class), ' '), ' release-body ')]"
             " | //div[contains(concat(' ', normalize-space(@class), ' '), ' news-release-detail ')]")
# (method, hosts (the host or any subdomain), XPaths of the release container: the first found wins).
WIRES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("businesswire", ("businesswire.com",),
     ("//div[contains(concat(' ', normalize-space(@class), ' '), ' bw-release-story ')]",)),
    ("globenewswire", ("globenewswire.com",), ("//div[@id='main-body-container']",)),
    # PR Newswire and its Cision sister sites (Canada's CNW, UK, Asia, Latin America, India) share one layout.
    ("prnewswire", ("prnewswire.com", "prnewswire.co.uk", "newswire.ca", "prnasia.com", "prnewswire.com.br",
                    "prnewswire.co.in", "prnewswire.com.mx", "prnewswire.jp", "cision.com"),
     (_PRN_BODY,)),
)  # fmt: skip
_TEXT_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt"}
_ALL_BLOCKS = _TEXT_BLOCKS | {"table", "div", "section", "ul", "ol", "dl", "article", "main", "header", "footer",
                             "td", "tr", "tbody", "center"}
_SKIP_TAGS = {"script", "style", "noscript", "template", "figure", "figcaption", "nav", "aside", "form", "button",
              "iframe", "svg", "img", "picture", "video", "audio", "select", "input"}
_SKIP_CLASS = re.compile(r"(?i)\b(share|social|related|cookie|consent|advert|ad-slot|hidden|print-only|image"
                         r"|modal|breadcrumb)\b")
_HEADING_WORDS = 12


def wire_of(host: str) -> str | None:
    """Return the wire whose own host this is (a subdomain counts), else None."""
    host = host.lower().rstrip(".")
    for method, hosts, _ in WIRES:
        if any(host == h or host.endswith("." + h) for h in hosts):
            return method
    return None


def release_blocks(doc: HtmlElement, host: str) -> tuple[str, list[Block]] | None:
    """Return (method, blocks) when the page is a release page on its wire's own host, else None."""
    wire = wire_of(host)
    for method, _, xpaths in WIRES:
        if method != wire:
            continue
        for xpath in xpaths:
            found = doc.xpath(xpath)
            if found:
                blocks = body_blocks(found[0])
                if blocks:
                    return method, blocks
    return None


def body_blocks(container: HtmlElement) -> list[Block]:
    """Return the text blocks of a container in document order: (text, heading)."""
    return [b for b, _ in located_blocks(container)]


def located_blocks(container: HtmlElement) -> list[tuple[Block, HtmlElement]]:
    """Return the blocks of a container, each with the element it was read from (a run of loose
    text: the element holding it)."""
    return [(b, el) for b, el in _blocks(container, _holding_blocks(container)) if b[0]]


def _holding_blocks(container: HtmlElement) -> set[HtmlElement]:
    """Return the elements under container that hold a block element: one pass, each ancestor marked once."""
    holding: set[HtmlElement] = set()
    for el in container.iterdescendants(*_ALL_BLOCKS):
        parent = el.getparent()
        while parent is not None and parent not in holding:
            holding.add(parent)
            if parent is container:
                break
            parent = parent.getparent()
    return holding


def _blocks(el: HtmlElement, holding: set[HtmlElement]) -> Iterator[tuple[Block, HtmlElement]]:
    """Yield the blocks under el in document order: innermost text blocks, data tables, and the runs
    of loose text between blocks (a release written as text and <br>s right inside a <div>)."""
    run: list[HtmlElement | str] = [el.text] if el.text else []
    for child in el.iterchildren():
        if not isinstance(child.tag, str) or _skipped(child):
            if child.tail:
                run.append(child.tail)
            continue
        if child.tag in _ALL_BLOCKS or child in holding:  # <body>, or a <span> or <font> holding paragraphs
            yield from _run_block(run, el)
            run = []
            if (child.tag == "table" and not _layout_table(child)) or child not in holding:
                block = _block_text(child)
                if block:
                    yield block, child
            else:
                yield from _blocks(child, holding)
        else:
            run.append(child)
        if child.tail:
            run.append(child.tail)
    yield from _run_block(run, el)


def _run_block(run: list[HtmlElement | str], holder: HtmlElement) -> Iterator[tuple[Block, HtmlElement]]:
    """Yield the blocks of a run of inline content: one per paragraph (two <br>s in a row split them)."""
    if not run or all(isinstance(r, str) and not r.strip() for r in run):
        return
    parts: list[str] = []
    for r in run:
        if isinstance(r, str):
            parts.append(r.replace("\n", " "))
        elif r.tag == "br":
            parts.append("\n")
        else:
            parts.append(_inline(r, lines=True))
            if r.tag in ("b", "strong") and len(r.text_content().split()) <= _HEADING_WORDS:
                parts.append("\n")  # a bold lead-in on its own line: a heading
    for line in "".join(parts).split("\n"):
        text = " ".join(line.split())
        if text:
            yield (text, text if len(text.split()) <= _HEADING_WORDS and not text.endswith(".") else None), holder


def _layout_table(table: HtmlElement) -> bool:
    """A table used to lay out a page (cells holding paragraphs, divs or tables), not data."""
    return any(isinstance(d.tag, str) and d.tag in ("p", "div", "table", "ul", "h1", "h2", "h3")
               for d in table.iterdescendants())


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
    br = "\x00" if lines else " "  # the source's own line breaks are only whitespace

    def walk(node: HtmlElement) -> None:
        if node.text:
            parts.append(node.text)
        for child in node.iterchildren():
            if isinstance(child.tag, str) and child.tag not in _SKIP_TAGS:
                if child.tag == "br":
                    parts.append(br)
                else:
                    walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    text = "".join(parts).replace("\x00", "\n") if lines else "".join(parts)
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))
