"""Snippets for matches: FTS5's snippet() algorithm (fts5_aux.c), run over the batch index.

Why not call snippet() itself: it needs the releases in an FTS5 table, and putting 1,000 releases
into one costs ~100 ms, plus ~30 µs per match for snippet() to re-tokenize the text, which alone
blows the 0.25 s budget for matching a batch. The batch index already knows every token and
which phrase instances matched, so this module replays snippet()'s choices in Python: the same
window scoring (1000 per distinct phrase, 1 per repeat, +100/+120 for starting a sentence),
the same centring, the same coalescing of overlapping phrase instances into one [ ] and the same
ellipses. One deliberate difference: the text is rebuilt from whitespace-separated chunks, so any
run of whitespace in a snippet is a single space (alerts are one line). tests/test_rules_property.py
compares the result with SQLite's snippet() with whitespace collapsed on both sides.

Which phrases are highlighted: those whose every enclosing subexpression matches the release.
SQLite agrees except where a NEAR group or a NOT fails for the release: there its choice depends
on where its iterators happened to stop (a failing NEAR group whose words are all present still
"reports" phrases, even with positions left over from an earlier row), which we do not imitate.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate
from operator import itemgetter

from monitor.excerpt import WIDE, at_risk, column_of, mend, plain
from monitor.fold import is_cjk
from monitor.rules.batch import Batch
from monitor.rules.nodes import And, Near, Node, Not, Or, Phrase

OPEN, CLOSE, ELLIPSIS, TOKENS = "[", "]", "…", 16


Instance = tuple[int, int, int]  # (column, offset, phrase number)

_LAST = itemgetter(-1)
_STOP = re.compile(r"[.:]")


def instances(node: Node, b: Batch, d: int) -> tuple[list[Instance], list[int]]:
    """Return the phrase instances snippet() would see for release d, and each phrase's size.

    `node` must match release d. A phrase reports its positions when it and every node above it
    match the release (that is when FTS5's iterator for it sits on this row); phrases under a
    NOT's right side or an OR branch that does not match report none but keep their numbers.
    """
    out: list[Instance] = []
    sizes: list[int] = []
    _walk(node, b, d, out, sizes)  # a plain function: a closure would tie up the batch in a cycle
    out.sort()
    return out, sizes


def _walk(n: Node, b: Batch, d: int, out: list[Instance], sizes: list[int]) -> None:
    if isinstance(n, Phrase):
        ip = len(sizes)
        sizes.append(n.size)
        out.extend((c, off, ip) for c, off in n.occurrences(b, d))
    elif isinstance(n, And):
        for child in n.children:
            _walk(child, b, d, out, sizes)
    elif isinstance(n, Or):
        for child in n.children:
            if child.hits(b, d):
                _walk(child, b, d, out, sizes)
            else:
                sizes.extend(child.sizes)
    elif isinstance(n, Not):
        _walk(n.left, b, d, out, sizes)
        sizes.extend(n.right.sizes)
    elif isinstance(n, Near):
        base = len(sizes)
        sizes.extend(n.sizes)
        for c in n.cols:
            for k, kept in enumerate(n.kept_positions(b, d, c)):
                out.extend((c, off, base + k) for off in kept)


def _cum(b: Batch, d: int, c: int) -> list[int]:
    """Return, per whitespace chunk of column c, how many tokens come before it (plus the total)."""
    key = (d, c)
    got = b.cache.get(key)
    if got is None:
        chunks = b.chunks[d][c]
        try:
            got = list(accumulate(map(b.fts.chunk_counts().__getitem__, chunks), initial=0))
        except KeyError:  # the memo was reset by another thread since the batch was read
            got = list(accumulate(map(len, b.fts.lookup(chunks)), initial=0))
        b.cache[key] = got
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
        # The last character of every chunk, found in C; then only chunks after a "." or ":".
        lasts = "".join(map(_LAST, chunks))
        for m in _STOP.finditer(lasts, 0, len(lasts) - 1):
            k = m.start() + 1
            # A chunk starting with a CJK character does not count: fold() and the archive's view put
            # a zero-width space before it, and SQLite looks for whitespace right before the token.
            if cum[k + 1] > cum[k] > 0 and spans(chunks[k])[0][0] == 0 and not is_cjk(chunks[k][0]):
                got.append(cum[k])
        b.cache[key] = got
    return got


def _score(offs: list[int], ips: list[int], sizes: list[int], pos: int, ntok: int, ncol: int) -> tuple[int, int]:
    """fts5SnippetScore: the score of the window at `pos`, and the window start centred on its hits."""
    lo = bisect_left(offs, pos)
    hi = bisect_left(offs, pos + ntok, lo)
    if lo == hi:
        return 0, 0
    seen: set[int] = set()
    score = 0
    for k in range(lo, hi):
        ip = ips[k]
        score += 1 if ip in seen else 1000
        seen.add(ip)
    first = offs[lo]
    last = offs[hi - 1] + sizes[ips[hi - 1]]
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


def snippet(node: Node, b: Batch, d: int, ntok: int = TOKENS, col: int | None = None) -> str:
    """Return what FTS5's snippet(t, col, '[', ']', '…', ntok) gives for release d and this query
    (col None: -1, the best column)."""
    return window(node, b, d, ntok, col)[1]


def window(node: Node, b: Batch, d: int, ntok: int = TOKENS, col: int | None = None,
           found: tuple[list[Instance], list[int]] | None = None) -> tuple[int, str, bool]:
    """Return (the column snippet() takes its window from, the snippet, whether its cuts are clean).

    Clean: each end the window cuts inside its column falls between whitespace-separated words,
    with no punctuation of theirs dropped and no highlight split: excerpt.mend() would change
    nothing, so the caller can skip the wide snippet it needs. `found`: instances(node, b, d), when
    the caller already has them (several windows of one release).
    """
    inst, sizes = found if found is not None else instances(node, b, d)
    toks = b.tokens(d)
    best_col, best_start, best_score, col_size = col or 0, 0, 0, 0
    by_col: dict[int, tuple[list[int], list[int]]] = {}
    for c, off, ip in inst:
        got = by_col.get(c)
        if got is None:
            got = by_col[c] = ([], [])
        got[0].append(off)
        got[1].append(ip)
    for c, (offs, ips) in sorted(by_col.items()):
        if col is not None and c != col:
            continue
        ncol = len(toks[c])
        first: list[int] | None = None
        for io in offs:
            score, adj = _score(offs, ips, sizes, io, ntok, ncol)
            if score > best_score:
                best_col, best_start, best_score, col_size = c, adj, score, ncol
            if ncol > ntok:
                if first is None:
                    first = _sentence_starts(b, d, c)
                if first:
                    s = first[bisect_right(first, io) - 1]
                    if s < io:
                        score, _ = _score(offs, ips, sizes, s, ntok, ncol)
                        score += 120 if s == 0 else 100
                        if score > best_score:
                            best_col, best_start, best_score, col_size = c, s, score, ncol
    if col_size == 0:
        col_size = len(toks[best_col])
    offs, ips = by_col.get(best_col, ([], []))
    items = [(off, sizes[ip]) for off, ip in zip(offs, ips, strict=True)]
    text = _render(b, d, best_col, items, best_start, ntok, col_size)
    return best_col, text, _clean(b, d, best_col, items, best_start, min(best_start + ntok, col_size) - 1)


def _clean(b: Batch, d: int, col: int, items: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether the window [start, end] (tokens) begins and ends on whole words and whole highlights."""
    chunks = b.chunks[d][col]
    cum = _cum(b, d, col)
    spans = b.fts.spans
    if start > 0:
        k = bisect_right(cum, start) - 1
        if cum[k] != start or spans(chunks[k])[0][0] != 0:  # a word's second token, or "(" dropped
            return False
    if end < cum[-1] - 1:
        k = bisect_right(cum, end) - 1
        if cum[k + 1] - 1 != end or spans(chunks[k])[-1][1] != len(chunks[k]):  # "Xi" of Xi'an, or "," dropped
            return False
    # A highlight across either end: some phrase instance starts before the edge and reaches over it.
    return not any(off < start <= off + size - 1 or off <= end < off + size - 1 for off, size in items)


def _render(b: Batch, d: int, col: int, items: list[tuple[int, int]], start: int, ntok: int, col_size: int) -> str:
    # A line-by-line port of fts5HighlightCb in snippet mode, over the chunks the window covers
    # joined by single spaces (so whitespace inside a snippet is always one space).
    chunks = b.chunks[d][col]
    cum = _cum(b, d, col)
    range_end = start + ntok - 1
    first_chunk = 0 if start == 0 else bisect_right(cum, start) - 1
    last_chunk = len(chunks) - 1 if range_end >= col_size - 1 else bisect_right(cum, range_end) - 1
    window = chunks[first_chunk : last_chunk + 1]
    text = " ".join(window)
    # Character span of each token in `text`, for token positions first..last of the window.
    spans = b.fts.spans
    tok_spans: list[tuple[int, int]] = []
    base = 0
    for ch in window:
        sp = spans(ch)
        if len(sp) == 1:  # the usual case: one token per chunk
            s, e = sp[0]
            tok_spans.append((base + s, base + e))
        else:
            tok_spans.extend([(base + s, base + e) for s, e in sp])
        base += len(ch) + 1
    first_tok = cum[first_chunk]

    out: list[str] = [ELLIPSIS] if start > 0 else []
    it = _Coalesced(items)
    while 0 <= it.start < start:
        it.next()
    range_end = start + ntok - 1
    ioff = 0
    is_open = False
    for pos in range(start, min(range_end, col_size - 1) + 1):
        s, e = tok_spans[pos - first_tok]
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


def mended(node: Node, b: Batch, d: int) -> str:
    """snippet()'s window, mended where it cuts a word or a highlight, as archive search mends it: a rule's
    match snippet, and PostgreSQL search's (store/pgsearch), which must be the same text."""
    found = instances(node, b, d)
    best, narrow, clean = window(node, b, d, found=found)
    if clean or not at_risk(narrow):
        return narrow  # what mend() would return: the wide snippet is not needed
    # The column as archive search finds it (column_of: the first giving this text). An earlier
    # column can only give it if its text holds the window's: checked first, as that is rare.
    core = plain(narrow)
    earlier = [window(node, b, d, col=k, found=found)[1] if core in " ".join(b.chunks[d][k]) else None
               for k in range(best)]
    col = column_of(narrow, [*earlier, narrow])
    return mend(narrow, window(node, b, d, WIDE, col=col, found=found)[1])
