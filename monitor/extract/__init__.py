"""A release page's HTML -> the release's text. Pure: bytes in, text out.

    extract(html, url=..., charset=...) -> Extracted | None     (None: no text found)

Wire pages (PR Newswire, Business Wire, GlobeNewswire) are recognised by their release container
(monitor.extract.wires) and read block by block: the dateline paragraph, paragraphs, list items,
headings and tables (one row per line, cells joined by " | "); navigation, share bars, related
releases, images and their captions are never inside the container or are skipped.

"About ..." boilerplate is DROPPED, with the contact blocks and what follows them: it is the
company's standing text, the same in every release, so keeping it would make a rule for
"Central Asia" match every release of a company whose About mentions the region. The title
and the dateline still name the company.

Any other site goes to trafilatura (monitor.extract.generic).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from monitor.extract import generic, wires

TEXT_LIMIT = 100_000  # characters of page text kept (the feed body's limit too)


@dataclass(frozen=True)
class Extracted:
    text: str  # paragraphs separated by blank lines, table rows by line breaks
    method: str  # "prnewswire" | "businesswire" | "globenewswire" | "generic"


def extract(html: bytes | str, *, url: str = "", charset: str | None = None) -> Extracted | None:
    """Return the main text of a release page, or None when there is none."""
    if isinstance(html, bytes) and charset:
        with contextlib.suppress(LookupError):  # an unknown charset name: let the parsers sniff the bytes
            html = html.decode(charset, "replace")
    found = wires.extract(html)
    if found is not None:
        method, text = found
    else:
        method, text = "generic", generic.extract(html, url=url)
    text = text.strip()[:TEXT_LIMIT]
    return Extracted(text, method) if text else None


__all__ = ["TEXT_LIMIT", "Extracted", "extract"]
