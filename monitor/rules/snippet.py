"""Snippets for matches: FTS5's snippet() algorithm (fts5_aux.c), run over the batch index.

Why not call snippet() itself: it needs the releases in an FTS5 table, and putting 1,000 releases
into one costs ~100 ms, plus ~30 µs per match for snippet() to re-tokenize the text, which alone
blows the 0.25 s budget for matching a batch. The batch index already knows every token and
which phrase instances matched, so this module replays snippet()'s choices in Python: the same
window scoring (1000 per distinct phrase, 1 per repeat, +100/+120 for starting a sentence),
the same centring, the same coalescing of overlapping phrase instances into one [ ] and the same
ellipses. tests/test_rules_property.py compares the result with SQLite's snippet().
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from monitor.rules.engine import NCOLS, And, Batch, Near, Node, Not, Or, Phrase

OPEN, CLOSE, ELLIPSIS, TOKENS = "[", "]", "…", 16


Instance = tuple[int, int, int]  # (column, offset, phrase number)


def instances(node: Node, b: Batch, d: int) -> tuple[list[Instance], list[int]]:
    """Return the phrase instances snippet() would see for release d, and each phrase's size."""
    out: list[Instance] = []
    sizes: list[int] = []
    toks = b.toks[d]

    def walk(n: Node, active: bool) -> None:
        # A phrase reports its positions when it and every node above it match this release,
        # which is when FTS5's iterator for it sits on this row; a NOT's right side never does.
        active = active and n.hits(b, d)
        if isinstance(n, Phrase):
            ip = len(sizes)
            sizes.append(n.size)
            if active:
                for c in n.cols:
                    out.extend((c, off, ip) for off in n.positions(toks[c]))
        elif isinstance(n, Near):
            base = len(sizes)
            sizes.extend(p.size for p in n.phrases)
            if active:
                for c in n.cols:
                    for k, kept in enumerate(n.kept_positions(toks[c])):
                        out.extend((c, off, base + k) for off in kept)
        elif isinstance(n, And | Or):
            for child in n.children:
                walk(child, active)
        elif isinstance(n, Not):
            walk(n.left, active)
            walk(n.right, False)

    walk(node, True)
    out.sort()
    return out, sizes


def _cum(b: Batch, d: int, c: int) -> list[int]:
    """Return, per whitespace chunk of column c, how many tokens come before it (plus the total)."""
    key = (d, c)
    got = b.cache.get(key)
    if got is None:
        memo = b.fts.chunk_tokens()
        got = b.cache[key] = list(accumulate(map(len, map(memo.__getitem__, b.chunks[d][c])), initial=0))
    return got


def _sentence_starts(b: Batch, d: int, c: int) -> list[int]:
    """fts5SentenceFinderCb: tokens that follow "." or ":" and whitespace, and the first token."""
    key = ("s", d, c)
    got = b.cache.get(key)
    if got is None:
        cum = _cum(b, d, c)
        chunks = b.chunks[d][c]
        spans = b.fts.spans
        got = [0] if cum[-1] else []
        for k in range(1, len(chunks)):
            if chunks[k - 1][-1] in ".:" and cum[k + 1] > cum[k] > 0 and spans(chunks[k])[0][0] == 0:
                got.append(cum[k])
        b.cache[key] = got
    return got


def _score(inst: list[Instance], sizes: list[int], col: int, pos: int, ntok: int, ncol: int) -> tuple[int, int]:
    """fts5SnippetScore: the score of the window at `pos`, and the window start centred on its hits."""
    seen: set[int] = set()
    score, first, last = 0, -1, 0
    end = pos + ntok
    for c, off, ip in inst:
        if c == col and pos <= off < end:
            score += 1 if ip in seen else 1000
            seen.add(ip)
            if first < 0:
                first = off
            last = off + sizes[ip]
    num = ntok - (last - first)
    adj = first - (num // 2 if num >= 0 else -(-num // 2))  # C division truncates toward zero
    if adj + ntok > ncol:
        adj = ncol - ntok
    return score, max(adj, 0)


class _Coalesced:
    """fts5CInstIterNext: overlapping instances of one column merged into [start, end]."""

    def __init__(self, items: list[tuple[int, int]]) -> None:
        self.items = items
        self.i = 0
        self.start = self.end = -1
        self.next()

    def next(self) -> None:
        self.start = self.end = -1
        while self.i < len(self.items):
            off, size = self.items[self.i]
            end = off - 1 + size
            if self.start < 0:
                self.start, self.end = off, end
            elif off <= self.end:
                self.end = max(self.end, end)
            else:
                break
            self.i += 1


def snippet(node: Node, b: Batch, d: int, ntok: int = TOKENS) -> str:
    """Return what FTS5's snippet(t, -1, '[', ']', '…', ntok) gives for release d and this query."""
    inst, sizes = instances(node, b, d)
    toks = b.toks[d]
    best_col, best_start, best_score, col_size = 0, 0, 0, 0
    for col in range(NCOLS):
        mine = [off for c, off, _ in inst if c == col]
        if not mine:
            continue
        ncol = len(toks[col])
        first: list[int] | None = None
        for io in mine:
            score, adj = _score(inst, sizes, col, io, ntok, ncol)
            if score > best_score:
                best_col, best_start, best_score, col_size = col, adj, score, ncol
            if ncol > ntok:
                if first is None:
                    first = _sentence_starts(b, d, col)
                if first:
                    s = first[bisect_right(first, io) - 1]
                    if s < io:
                        score, _ = _score(inst, sizes, col, s, ntok, ncol)
                        score += 120 if s == 0 else 100
                        if score > best_score:
                            best_col, best_start, best_score, col_size = col, s, score, ncol
    if col_size == 0:
        col_size = len(toks[best_col])
    items = [(off, sizes[ip]) for c, off, ip in inst if c == best_col]
    return _render(b, d, best_col, items, best_start, ntok, col_size)


def _render(b: Batch, d: int, col: int, items: list[tuple[int, int]], start: int, ntok: int, col_size: int) -> str:
    # A line-by-line port of fts5HighlightCb in snippet mode, over the chunks the window covers
    # joined by single spaces (so whitespace inside a snippet is always one space).
    chunks = b.chunks[d][col]
    cum = _cum(b, d, col)
    range_end = start + ntok - 1
    first_chunk = 0 if start == 0 else bisect_right(cum, start) - 1
    if range_end >= col_size - 1:
        last_chunk = len(chunks) - 1
    else:
        last_chunk = bisect_right(cum, range_end) - 1
    window = chunks[first_chunk : last_chunk + 1]
    text = " ".join(window)
    where = list(accumulate((len(ch) + 1 for ch in window), initial=0))
    spans = b.fts.spans

    def span(pos: int) -> tuple[int, int]:
        k = bisect_right(cum, pos) - 1
        s, e = spans(chunks[k])[pos - cum[k]]
        base = where[k - first_chunk]
        return base + s, base + e

    out: list[str] = [ELLIPSIS] if start > 0 else []
    it = _Coalesced(items)
    while 0 <= it.start < start:
        it.next()
    range_end = start + ntok - 1
    ioff = 0
    is_open = False
    for pos in range(start, min(range_end, col_size - 1) + 1):
        s, e = span(pos)
        if start and pos == start:
            ioff = s
        if is_open and (pos <= it.start or it.start < 0) and s > ioff:
            out.append(CLOSE)
            is_open = False
        if pos == it.start and not is_open:
            out.append(text[ioff:s])
            out.append(OPEN)
            ioff = s
            is_open = True
        if pos == it.end:
            if not is_open:
                out.append(OPEN)
                is_open = True
            out.append(text[ioff:e])
            ioff = e
            it.next()
        if pos == range_end:
            if is_open:
                if it.start >= 0 and pos >= it.start:
                    out.append(text[ioff:e])
                    ioff = e
                out.append(CLOSE)
                is_open = False
            out.append(text[ioff:e])
            ioff = e
    if is_open:
        out.append(CLOSE)
    out.append(text[ioff:] if range_end >= col_size - 1 else ELLIPSIS)
    return "".join(out)
