"""A batch of releases as an inverted index of bitmasks, built once per poll.

Each release's columns are split on whitespace and their tokens looked up in the FTS5-backed
memo (fts.py). Bit i of masks[term] is set when release i contains the term, so a query's AND,
OR and NOT are single integer operations whatever the length of the releases; token lists per
column are kept for the few checks that need positions (phrases, NEAR, "^", snippets).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING

from monitor.rules.fts import FTS, Fts
from monitor.types import Doc

if TYPE_CHECKING:
    from monitor.rules.nodes import Node, Phrase


def bits(mask: int) -> Iterator[int]:
    """Yield the indexes of the set bits of `mask`, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


# --------------------------------------------------------------------------- the batch


class Batch:
    """One poll's releases, tokenized and indexed for evaluating many queries."""

    def __init__(self, docs: Sequence[Doc], needed: frozenset[str], prefixes: PrefixIndex, fts: Fts = FTS):
        self.docs = docs
        self.n = len(docs)
        self.all = (1 << self.n) - 1
        self.fts = fts
        texts = [d.columns() for d in docs]
        self.texts = texts
        # chunks[d][c]: column c of release d split on whitespace; toks[d][c]: its FTS5 tokens.
        chunks = [[t.split() for t in cols] for cols in texts]
        self.chunks = chunks
        get = fts.chunk_tokens().__getitem__
        toks: list[list[list[str]]] = []
        missing: list[int] = []
        for d, cols in enumerate(chunks):
            try:
                toks.append([list(chain.from_iterable(map(get, ch))) for ch in cols])
            except KeyError:
                toks.append([])
                missing.append(d)
        if missing:
            fts.learn(chain.from_iterable(chain.from_iterable(chunks[d]) for d in missing))
            for d in missing:
                toks[d] = [list(chain.from_iterable(fts.lookup(ch))) for ch in chunks[d]]
        self._toks = toks
        docsets = [set(chain.from_iterable(row)) for row in toks]
        vocab: set[str] = set().union(*docsets) if docsets else set()
        self.vocab = vocab
        # Prefix queries: which batch terms each rule prefix stands for.
        self.expansions = prefixes.expand(vocab)
        want = vocab & needed
        for terms in self.expansions.values():
            want.update(terms)
        masks: dict[str, int] = {}
        mget = masks.get
        for i, s in enumerate(docsets):
            bit = 1 << i
            for t in s & want:
                masks[t] = mget(t, 0) | bit
        self.masks = masks
        self.memo: dict[Node, tuple[int, int]] = {}  # node -> (releases asked about, matches)
        self.cache: dict[tuple, list[int]] = {}  # per-release layout data for snippets
        self.occ: dict[tuple[Phrase, int], list[tuple[int, int]]] = {}
        self._colsets: dict[int, list[set[str]]] = {}
        self._prefix_masks: dict[str, int] = {}
        self._feed_masks: dict[str, int] | None = None

    def tokens(self, d: int) -> list[list[str]]:
        """Return the FTS5 tokens of each column of release d."""
        return self._toks[d]

    def colsets(self, d: int) -> list[set[str]]:
        got = self._colsets.get(d)
        if got is None:
            got = self._colsets[d] = [set(t) for t in self.tokens(d)]
        return got

    def term_mask(self, tok: str, prefix: bool) -> int:
        if not prefix:
            return self.masks.get(tok, 0)
        got = self._prefix_masks.get(tok)
        if got is None:
            got = 0
            for t in self.expansions.get(tok, ()):
                got |= self.masks[t]
            self._prefix_masks[tok] = got
        return got

    def feed_mask(self, feeds: frozenset[str]) -> int:
        fm = self._feed_masks
        if fm is None:
            fm = self._feed_masks = {}
            for i, doc in enumerate(self.docs):
                for f in doc.feeds:
                    fm[f] = fm.get(f, 0) | (1 << i)
        m = 0
        for f in feeds:
            m |= fm.get(f, 0)
        return m


_MEMO_MAX = 200_000  # terms remembered by a PrefixIndex (~20 MB at most)


class PrefixIndex:
    """The prefixes used by rules; finds which of them a batch's vocabulary can satisfy."""

    def __init__(self, prefixes: frozenset[str]) -> None:
        self.prefixes = prefixes
        self.lengths = sorted({len(p) for p in prefixes})
        self.sorted = sorted(prefixes)
        # {term: the rule prefixes it starts with}: the same words come back in every poll, so a
        # one-release batch mostly looks its ~150 terms up here instead of slicing each ~15 times.
        # Bounded; a dict's get/set are atomic, so threads matching at once can share it.
        self._memo: dict[str, tuple[str, ...]] = {}

    def _of(self, t: str) -> tuple[str, ...]:
        got = self._memo.get(t)
        if got is None:
            ps = self.prefixes
            got = tuple(p for n in self.lengths if n <= len(t) and (p := t[:n]) in ps)
            if len(self._memo) >= _MEMO_MAX:
                self._memo = {}
            self._memo[t] = got
        return got

    def expand(self, vocab: set[str]) -> dict[str, tuple[str, ...]]:
        """Return {prefix: batch terms starting with it} for every rule prefix that has any."""
        if not self.prefixes or not vocab:
            return {}
        out: dict[str, list[str]] = {}
        # Two ways to the same answer; pick the cheaper for this batch (a one-release batch has
        # ~150 terms, a thousand releases ~10,000).
        if len(vocab) * len(self.lengths) <= 4 * len(self.prefixes):
            of = self._of
            for t in vocab:
                for p in of(t):
                    out.setdefault(p, []).append(t)
        else:
            terms = sorted(vocab)
            for p in self.sorted:
                i = bisect_left(terms, p)
                j = i
                while j < len(terms) and terms[j].startswith(p):
                    j += 1
                if j > i:
                    out[p] = terms[i:j]
        return {p: tuple(ts) for p, ts in out.items()}
