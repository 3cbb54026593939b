"""Cutting a feed document into its raw items, so the pipeline parses only the ones it has not seen."""

from __future__ import annotations

import re

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
