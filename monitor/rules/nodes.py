"""Compiled query nodes, evaluated over a Batch with FTS5's exact semantics.

A query is a tree of nodes; ev(batch, want) returns the bitmask of releases (among `want`) the
node matches. Positions are only looked at for phrases, NEAR groups and "^", and only in releases
that already contain every token.

Semantics reproduced from fts5_expr.c (and checked against SQLite by the property test):
- a phrase matches consecutive tokens inside ONE column; "*" makes its token a prefix;
- "^" pins the phrase to the first token of a column;
- NEAR(p1 p2 ..., N): all phrases in one column, and for the phrase that starts last, every other
  phrase ends at most N tokens before it starts (default N = 10); one occurrence may serve twice;
- column filters restrict every phrase below them; nested filters intersect;
- AND/OR/NOT work on whole releases; a phrase that tokenizes to nothing never matches, and is
  dropped from an implicit AND (`China — Asia` is `China Asia`) but not from an explicit one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import chain

from monitor.rules.batch import Batch, bits
from monitor.types import FTS_COLUMNS

NCOLS = len(FTS_COLUMNS)
ALL_COLUMNS: frozenset[int] = frozenset(range(NCOLS))

# Words so frequent in press releases that they make poor presearch keys. Only a cost hint: a
# rule keyed on one of them is still matched correctly, just checked more often.
_COMMON = frozenset(
    (
        "the", "of", "and", "to", "in", "a", "for", "on", "with", "is", "as", "by", "at", "from", "it", "that",
        "an", "be", "thi", "are", "will", "ha", "new", "compani", "inc", "announc", "today", "servic", "market",
        "global", "product", "prnewswir", "year", "busi", "industri", "solut", "custom", "our", "we", "more",
        "than", "which", "also", "or", "have", "other", "can", "world", "technolog", "includ", "provid",
    )
)


def term_cost(tok: str, prefix: bool) -> float:
    # Rarer words make better keys; without statistics, longer words are the best guess.
    cost = 1.0 / (1 + len(tok)) ** 2
    if tok in _COMMON:
        cost *= 100
    if prefix:
        cost *= 4 if len(tok) > 3 else 100
    return cost


class Node:
    """A compiled query node. ev(b, want) returns the releases in `want` (a bitmask) it matches.

    Asking only about `want` lets an AND stop looking at releases an earlier operand already
    ruled out, which matters for phrases and NEAR (they check positions release by release).
    Results are memoized per batch with the set of releases they are known for, because rules
    share subtrees (the same company name or @list in hundreds of rules).
    """

    __slots__ = ("key", "rank", "sizes", "shared")
    key: tuple
    shared: bool  # used in several places: worth memoizing (RuleSet clears it for one-off nodes)
    rank: float  # estimated cost x frequency: an AND evaluates its cheapest, rarest operand first
    sizes: tuple[int, ...]  # token counts of the phrases below, in query order (for snippets)

    def ev(self, b: Batch, want: int) -> int:
        if not self.shared:
            return self.compute(b, want)
        memo = b.memo
        got = memo.get(self)
        if got is None:
            res = self.compute(b, want)
            memo[self] = (want, res)
            return res
        known, res = got
        missing = want & ~known
        if missing:
            res |= self.compute(b, missing)
            memo[self] = (known | missing, res)
        return res & want

    def compute(self, b: Batch, want: int) -> int:
        raise NotImplementedError

    def hits(self, b: Batch, d: int) -> bool:
        return bool(self.ev(b, 1 << d))


class Empty(Node):
    """Matches nothing: a phrase with no tokens, or a column filter that leaves no column."""

    __slots__ = ("reason", "droppable")

    def __init__(self, reason: str, droppable: bool) -> None:
        self.reason = reason
        self.droppable = droppable  # an implicit AND skips it (FTS5 treats it as absent)
        self.key = ("empty", reason, droppable)
        self.shared = True
        self.rank = 0.0
        self.sizes = ()

    def ev(self, b: Batch, want: int) -> int:
        return 0


class Phrase(Node):
    __slots__ = ("toks", "prefix", "caret", "cols", "plain", "size", "word", "parts")

    def __init__(self, toks: tuple[str, ...], prefix: tuple[bool, ...], caret: bool, cols: frozenset[int]):
        self.toks = toks
        self.prefix = prefix
        self.caret = caret
        self.cols = tuple(sorted(cols))
        self.size = len(toks)
        # One token, any column: the bitmask alone is the answer.
        self.plain = self.size == 1 and not caret and len(self.cols) == NCOLS
        # The commonest node of all, a plain word: ev() reads its bitmask straight from the batch.
        self.word = toks[0] if self.plain and not prefix[0] else None
        self.parts = tuple(zip(toks, prefix, strict=True))
        self.key = ("phrase", toks, prefix, caret, self.cols)
        self.shared = True
        self.sizes = (self.size,)
        self.rank = min(term_cost(t, p) for t, p in zip(toks, prefix, strict=True)) * (1 if self.plain else 3)

    def candidates(self, b: Batch) -> int:
        m = -1
        for t, p in self.parts:
            m &= b.term_mask(t, p)
            if not m:
                return 0
        return m

    def ev(self, b: Batch, want: int) -> int:
        if self.word is not None:
            return b.masks.get(self.word, 0) & want
        if self.plain:
            return b.term_mask(self.toks[0], self.prefix[0]) & want
        return Node.ev(self, b, want)

    def compute(self, b: Batch, want: int) -> int:
        keep = 0
        for d in bits(self.candidates(b) & want):
            if self.occurrences(b, d):
                keep |= 1 << d
        return keep

    def occurrences(self, b: Batch, d: int) -> list[tuple[int, int]]:
        """Return (column, offset) of every occurrence in release d (memoized: snippets reuse it)."""
        key = (self, d)
        got = b.occ.get(key)
        if got is None:
            if self.size == 1 and not self.prefix[0] and not self.caret:
                t = self.toks[0]
                cs = b.colsets(d)
                toks = b.tokens(d)
                got = [(c, off) for c in self.cols if t in cs[c] for off in _find(toks[c], t)]
            else:
                got = [(c, off) for c in self.cols for off in self.positions_in(b, d, c)]
            b.occ[key] = got
        return got

    def positions_in(self, b: Batch, d: int, c: int) -> list[int]:
        """Return the offsets where this phrase starts in column c of release d."""
        colset = b.colsets(d)[c]
        firsts: Sequence[str] = ()
        for k, (t, p) in enumerate(zip(self.toks, self.prefix, strict=True)):
            if p:
                exp = b.expansions.get(t, ())
                if len(exp) <= len(colset):
                    present = [x for x in exp if x in colset]
                else:  # a short prefix ("ai*") stands for hundreds of batch terms
                    present = [x for x in colset if x.startswith(t)]
                if not present:
                    return []
            elif t in colset:
                present = (t,)  # type: ignore[assignment]
            else:
                return []  # cheap: most columns of a candidate lack some token
            if k == 0:
                firsts = present
        toks = b.tokens(d)[c]
        n, ln = self.size, len(toks)
        ptoks, pref = self.toks, self.prefix
        if self.caret:
            return [0] if ln >= n and _match_at(toks, 0, ptoks, pref, 0) else []
        starts = _find(toks, firsts[0])
        if len(firsts) > 1:
            for x in firsts[1:]:
                starts.extend(_find(toks, x))
            starts.sort()
        if n == 1:
            return starts
        return [s for s in starts if s + n <= ln and _match_at(toks, s, ptoks, pref, 1)]


def _find(toks: list[str], tok: str) -> list[int]:
    out = []
    i = -1
    index = toks.index  # a C scan; tokens are interned, so mostly identity checks
    try:
        while True:
            i = index(tok, i + 1)
            out.append(i)
    except ValueError:
        return out


def _match_at(toks: list[str], s: int, ptoks: tuple[str, ...], pref: tuple[bool, ...], k0: int) -> bool:
    for k in range(k0, len(ptoks)):
        t = toks[s + k]
        if pref[k]:
            if not t.startswith(ptoks[k]):
                return False
        elif t != ptoks[k]:
            return False
    return True


class Near(Node):
    __slots__ = ("phrases", "distance", "cols")

    def __init__(self, phrases: tuple[Phrase, ...], distance: int, cols: frozenset[int]) -> None:
        self.phrases = phrases
        self.distance = distance
        self.cols = tuple(sorted(cols))
        self.key = ("near", tuple(p.key for p in phrases), distance, self.cols)
        self.shared = True
        self.sizes = tuple(p.size for p in phrases)
        self.rank = min(p.rank for p in phrases) * 3

    def compute(self, b: Batch, want: int) -> int:
        m = want
        for p in self.phrases:
            m &= p.candidates(b)
            if not m:
                return 0
        keep = 0
        for d in bits(m):
            if any(self.column_match(b, d, c) for c in self.cols):
                keep |= 1 << d
        return keep

    def column_match(self, b: Batch, d: int, c: int) -> bool:
        plists = []
        for p in self.phrases:
            pl = p.positions_in(b, d, c)
            if not pl:
                return False
            plists.append(pl)
        return _near_ok(plists, [p.size for p in self.phrases], self.distance)

    def kept_positions(self, b: Batch, d: int, c: int) -> list[list[int]]:
        """Return, per phrase, the occurrences that take part in some NEAR match (for snippets)."""
        plists = [p.positions_in(b, d, c) for p in self.phrases]
        if not all(plists):
            return [[] for _ in plists]
        sizes = [p.size for p in self.phrases]
        out: list[list[int]] = []
        for i, pl in enumerate(plists):
            others = [(plists[k], sizes[k]) for k in range(len(plists)) if k != i]
            kept = []
            for pos in pl:
                # The clump's last-starting phrase M: pos itself, or another occurrence after it.
                tops = [pos] + [q for lst, _ in others for q in lst if q >= pos and q - sizes[i] - self.distance <= pos]
                if any(all(_has_in(lst, top - sz - self.distance, top) for lst, sz in others) for top in tops):
                    kept.append(pos)
            out.append(kept)
        return out


def _has_in(sorted_list: list[int], lo: int, hi: int) -> bool:
    k = bisect_left(sorted_list, lo)
    return k < len(sorted_list) and sorted_list[k] <= hi


def _near_ok(plists: list[list[int]], sizes: list[int], dist: int) -> bool:
    # A match is a choice of one occurrence per phrase whose latest start M has every phrase i
    # starting at or after M - size_i - dist (fts5ExprNearIsMatch); try each occurrence as M.
    for j, pj in enumerate(plists):
        for top in pj:
            for i, pi in enumerate(plists):
                if i != j and not _has_in(pi, top - sizes[i] - dist, top):
                    break
            else:
                return True
    return False


class And(Node):
    __slots__ = ("children", "order")

    def __init__(self, children: tuple[Node, ...]) -> None:
        self.children = children  # query order: snippets number phrases in this order
        self.order = tuple(sorted(children, key=lambda c: c.rank))
        self.key = ("and", tuple(c.key for c in children))
        self.shared = True
        self.sizes = tuple(chain.from_iterable(c.sizes for c in children))
        self.rank = self.order[0].rank

    def compute(self, b: Batch, want: int) -> int:
        m = want
        for c in self.order:
            m = c.ev(b, m)
            if not m:
                break
        return m


class Or(Node):
    __slots__ = ("children", "order")

    def __init__(self, children: tuple[Node, ...]) -> None:
        self.children = children
        self.order = tuple(sorted(children, key=lambda c: c.rank))
        self.key = ("or", tuple(c.key for c in children))
        self.shared = True
        self.sizes = tuple(chain.from_iterable(c.sizes for c in children))
        self.rank = sum(c.rank for c in children)

    def compute(self, b: Batch, want: int) -> int:
        m = 0
        rest = want
        for c in self.order:
            got = c.ev(b, rest)
            if got:
                m |= got
                rest &= ~got
                if not rest:
                    break
        return m


class Not(Node):
    __slots__ = ("left", "right")

    def __init__(self, left: Node, right: Node) -> None:
        self.left = left
        self.right = right
        self.key = ("not", left.key, right.key)
        self.shared = True
        self.sizes = left.sizes + right.sizes
        self.rank = left.rank

    def compute(self, b: Batch, want: int) -> int:
        m = self.left.ev(b, want)
        if m:
            m &= ~self.right.ev(b, m)
        return m
