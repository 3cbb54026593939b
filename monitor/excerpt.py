"""Snippets that end where words end: a cut snippet() window widened to whole words and highlights.

    mend("…cooperation with China–[Central]…", wides)  -> "…cooperation with China–[Central Asia]…"

FTS5's snippet() picks a window of N tokens and cuts wherever the count runs out: inside a matched
phrase (`China–[Central]…` for "Central Asia"), inside a word FTS5 splits in two (`[Xi]…` for
Xi'an) or inside a run of Chinese characters, each a token of its own (`[阿]…` for 阿斯塔纳).
snippet()'s choice of column and window is kept (it is good at finding the best passage); only a
window that stops short of its column's end on either side is mended: its text is found in a
WIDE snippet of the same column (snippet(t, column, …, 64); column_of() tells which column when
SQLite chose it) and its ends are moved outwards to the nearest place a reader would cut:
whitespace outside a highlight, or after CJK punctuation.

Every path that shows a snippet passes through mend() with the same inputs — a rule's match (the
in-memory replica in rules/snippet.py and its FTS5 fallback) and archive search (store/) — so a
rule's snippet stays the one search shows (tests/test_rules_property.py). Runs of whitespace
become one space on every path.
"""

from __future__ import annotations

from collections.abc import Sequence

NARROW = 16  # tokens of the window snippet() chooses
WIDE = 64  # tokens of the per-column snippets a cut window is mended from (FTS5's maximum)
ELLIPSIS = "…"
_CJK_STOPS = frozenset("，。、；：！？（）「」『』《》〈〉【】")


def at_risk(narrow: str, ellipsis: str = ELLIPSIS) -> bool:
    """Whether snippet()'s window was cut at either end (only then is mend() worth its wide snippets)."""
    return narrow.startswith(ellipsis) or narrow.endswith(ellipsis)


def column_of(narrow: str, narrows: Sequence[str | None]) -> int | None:
    """Return the column snippet(t, -1, …) took `narrow` from, given snippet(t, k, …) of each column k:
    the first that gives the same text (equal columns tie the way snippet() does: the first wins)."""
    return next((k for k, text in enumerate(narrows) if text == narrow), None)


def mend(narrow: str, wide: str | None, *, open: str = "[", close: str = "]", ellipsis: str = ELLIPSIS) -> str:
    """Return `narrow` with its cut ends moved out to whole words and whole highlights.

    `wide` is the WIDE snippet of the column `narrow` came from (column_of()); without it, or if it
    does not hold the narrow window's text, `narrow` is returned (whitespace collapsed).
    """
    flat = " ".join(narrow.split())
    if not at_risk(flat, ellipsis) or wide is None:
        return flat
    lead, trail = flat.startswith(ellipsis), flat.endswith(ellipsis) and len(flat) > len(ellipsis)
    core = flat[len(ellipsis) if lead else 0 : len(flat) - len(ellipsis) if trail else len(flat)]
    plain_core = _plain(core, open, close)
    w = " ".join(wide.split())
    w_lead = w.startswith(ellipsis)
    w_trail = w.endswith(ellipsis) and len(w) > len(ellipsis)
    body = w[len(ellipsis) if w_lead else 0 : len(w) - len(ellipsis) if w_trail else len(w)]
    marked, plain = _index(body, open, close)
    at = plain.find(plain_core) if plain_core.strip() else -1
    if at < 0:
        return flat
    start, end = marked[at], marked[at + len(plain_core) - 1] + 1
    # A side snippet() cut moves out to a cut a reader would make; an uncut side stays as it was.
    start = _unit_start(body, start, open, close) if lead else _back_over_open(body, start, open)
    end = _unit_end(body, end, open, close) if trail else _past_close(body, end, close)
    return ((ellipsis if lead and (start > 0 or w_lead) else "") + body[start:end]
            + (ellipsis if trail and (end < len(body) or w_trail) else ""))


def plain(snippet: str, *, open: str = "[", close: str = "]", ellipsis: str = ELLIPSIS) -> str:
    """The text of a snippet without markers and ellipses, whitespace collapsed."""
    flat = " ".join(snippet.split())
    return _plain(flat.removeprefix(ellipsis).removesuffix(ellipsis), open, close)


def _plain(text: str, open: str, close: str) -> str:
    return text.replace(open, "").replace(close, "")


def _index(body: str, open: str, close: str) -> tuple[list[int], str]:
    """Return (for each character of the unmarked text, its index in `body`; the unmarked text)."""
    marks = [i for i, c in enumerate(body) if c in (open, close)] if open in body else []
    if not marks:
        return list(range(len(body))), body
    marked: list[int] = []
    prev = 0
    for m in [*marks, len(body)]:
        marked.extend(range(prev, m))
        prev = m + 1
    return marked, _plain(body, open, close)


def _inside(body: str, i: int, open: str, close: str) -> bool:
    """Whether position i of `body` lies inside a highlight."""
    return body.rfind(open, 0, i) > body.rfind(close, 0, i)


def _unit_start(body: str, i: int, open: str, close: str) -> int:
    """Move i left to where a reader may cut: after whitespace or CJK punctuation outside a highlight."""
    while i > 0:
        before = body[i - 1]
        if (before == " " or before in _CJK_STOPS) and not _inside(body, i - 1, open, close):
            break
        i -= 1
    return i


def _unit_end(body: str, i: int, open: str, close: str) -> int:
    """Move i right to where a reader may cut: before whitespace, or after CJK punctuation, outside a highlight."""
    while i < len(body):
        if body[i] == " " and not _inside(body, i, open, close):
            break
        if i > 0 and body[i - 1] in _CJK_STOPS and not _inside(body, i - 1, open, close):
            break
        i += 1
    return i


def _back_over_open(body: str, i: int, open: str) -> int:
    return i - 1 if i > 0 and body[i - 1] == open else i


def _past_close(body: str, i: int, close: str) -> int:
    return i + 1 if i < len(body) and body[i] == close else i
