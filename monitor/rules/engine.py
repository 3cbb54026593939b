"""Evaluate compiled FTS5 queries over a batch of releases in Python, with FTS5's exact semantics.

A batch is tokenized once (through FTS5, see fts.py) into an inverted index of bitmasks: bit i of
masks[term] is set when release i contains the term. A query is a tree of nodes; each node turns
the batch into the bitmask of releases it matches, so AND/OR/NOT are single integer operations
and the cost of a rule does not depend on how long the releases are. Positions are only looked at
for phrases, NEAR groups and "^", and only in releases that already contain every token.

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
from collections.abc import Iterator, Sequence
from itertools import chain

from monitor.errors import QueryError
from monitor.rules.fts import FTS, Fts
from monitor.rules.syntax import PAnd, PColumns, PNear, PNode, PNot, POr, PPhrase
from monitor.types import FTS_COLUMNS, Doc

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


class PrefixIndex:
    """The prefixes used by rules; finds which of them a batch's vocabulary can satisfy."""

    def __init__(self, prefixes: frozenset[str]) -> None:
        self.prefixes = prefixes
        self.lengths = sorted({len(p) for p in prefixes})
        self.sorted = sorted(prefixes)

    def expand(self, vocab: set[str]) -> dict[str, tuple[str, ...]]:
        """Return {prefix: batch terms starting with it} for every rule prefix that has any."""
        if not self.prefixes or not vocab:
            return {}
        out: dict[str, list[str]] = {}
        # Two ways to the same answer; pick the cheaper for this batch (a one-release batch has
        # ~150 terms, a thousand releases ~10,000).
        if len(vocab) * len(self.lengths) <= 4 * len(self.prefixes):
            ps = self.prefixes
            for t in vocab:
                for n in self.lengths:
                    if n > len(t):
                        break
                    p = t[:n]
                    if p in ps:
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


# --------------------------------------------------------------------------- nodes


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
    __slots__ = ("toks", "prefix", "caret", "cols", "plain", "size")

    def __init__(self, toks: tuple[str, ...], prefix: tuple[bool, ...], caret: bool, cols: frozenset[int]):
        self.toks = toks
        self.prefix = prefix
        self.caret = caret
        self.cols = tuple(sorted(cols))
        self.size = len(toks)
        # One token, any column: the bitmask alone is the answer.
        self.plain = self.size == 1 and not caret and len(self.cols) == NCOLS
        self.key = ("phrase", toks, prefix, caret, self.cols)
        self.shared = True
        self.sizes = (self.size,)
        self.rank = min(_term_cost(t, p) for t, p in zip(toks, prefix, strict=True)) * (1 if self.plain else 3)

    def candidates(self, b: Batch) -> int:
        m = -1
        for t, p in zip(self.toks, self.prefix, strict=True):
            m &= b.term_mask(t, p)
            if not m:
                return 0
        return m

    def ev(self, b: Batch, want: int) -> int:
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


# --------------------------------------------------------------------------- compiling


class Compiler:
    """Turns parse trees into nodes, sharing identical subtrees between rules."""

    def __init__(self, fts: Fts = FTS) -> None:
        self.fts = fts
        self.nodes: dict[tuple, Node] = {}

    def intern(self, node: Node) -> Node:
        return self.nodes.setdefault(node.key, node)

    def compile(self, tree: PNode) -> Node:
        """Return the node for a parse tree (an Empty node when it can match nothing)."""
        return self._node(tree, ALL_COLUMNS)

    def _phrase(self, p: PPhrase, cols: frozenset[int], caret: bool) -> Node:
        toks: list[str] = []
        pref: list[bool] = []
        for text, star in p.parts:
            got = self.fts.tokens(text)
            toks.extend(got)
            pref.extend([False] * len(got))
            if pref:
                pref[-1] = star  # fts5: every part sets (or clears) the prefix flag of the last token
        if not toks:
            # Decided before any column filter: FTS5 drops it from an implicit AND while parsing.
            return self.intern(Empty(f"{p.text} contains no letters or digits to search for", True))
        if not cols:
            return self.intern(Empty(self._no_column(p.text), False))
        return self.intern(Phrase(tuple(toks), tuple(pref), caret, cols))

    def _no_column(self, text: str) -> str:
        return f"the column filters around {text} leave no column to search"


    def _node(self, t: PNode, cols: frozenset[int]) -> Node:
        if isinstance(t, PPhrase):
            return self._phrase(t, cols, t.caret)
        if isinstance(t, PNear):
            phrases = [self._phrase(p, cols, False) for p in t.phrases]
            for p, pp in zip(phrases, t.phrases, strict=True):
                if isinstance(p, Empty) and p.droppable:
                    # SQLite 3.40 frees such a group but keeps its other phrases registered, and
                    # then matches unpredictably; refuse rather than guess.
                    raise QueryError(f"NEAR group has a phrase with no letters or digits ({pp.text}); remove it")
            for p in phrases:
                if isinstance(p, Empty):
                    return p
            if len(phrases) == 1:
                return phrases[0]
            return self.intern(Near(tuple(phrases), t.distance, cols))  # type: ignore[arg-type]
        if isinstance(t, PColumns):
            # An empty intersection is left to the leaves: a phrase without tokens is dropped
            # from an implicit AND whatever its columns, any other phrase then matches nothing.
            return self._node(t.child, cols & t.columns)
        if isinstance(t, PAnd):
            kids = [self._node(c, cols) for c in t.children]
            if t.implicit:
                kept = [k for k in kids if not (isinstance(k, Empty) and k.droppable)]
                if not kept:
                    return kids[0]
                kids = kept
            for k in kids:
                if isinstance(k, Empty):
                    return self.intern(Empty(k.reason, False))
            flat: list[Node] = []
            for k in kids:
                flat.extend(k.children if isinstance(k, And) else (k,))
            return flat[0] if len(flat) == 1 else self.intern(And(tuple(flat)))
        if isinstance(t, POr):
            kids = [self._node(c, cols) for c in t.children]
            alive = [k for k in kids if not isinstance(k, Empty)]
            if not alive:
                return self.intern(Empty(kids[0].reason, False))  # type: ignore[attr-defined]
            flat = []
            for k in alive:
                flat.extend(k.children if isinstance(k, Or) else (k,))
            return flat[0] if len(flat) == 1 else self.intern(Or(tuple(flat)))
        if isinstance(t, PNot):
            left = self._node(t.left, cols)
            right = self._node(t.right, cols)
            if isinstance(left, Empty):
                return self.intern(Empty(left.reason, False))
            if isinstance(right, Empty):
                return left
            return self.intern(Not(left, right))
        raise TypeError(f"not a parse node: {t!r}")


def never_reason(node: Node) -> str | None:
    """Return why `node` can never match anything, or None when it can (cheap, not complete)."""
    if isinstance(node, Empty):
        return node.reason
    if isinstance(node, Not) and implies(node.left, node.right):
        return "the NOT part excludes everything the rest of the query matches"
    if isinstance(node, And):
        for c in node.children:
            r = never_reason(c)
            if r:
                return r
        for c in node.children:
            for other in node.children:
                if isinstance(other, Not) and implies(c, other.right):
                    return "the NOT part excludes everything the rest of the query matches"
    if isinstance(node, Or):
        reasons = [never_reason(c) for c in node.children]
        if all(reasons):
            return reasons[0]
    if isinstance(node, Not):
        return never_reason(node.left)
    return None


def implies(x: Node, y: Node) -> bool:
    """True when every release matching x also matches y (structural, conservative)."""
    if x is y:
        return True
    if isinstance(y, Or) and any(implies(x, c) for c in y.children):
        return True
    if isinstance(x, And) and any(implies(c, y) for c in x.children):
        return True
    if isinstance(x, Or):
        return all(implies(c, y) for c in x.children)
    if isinstance(x, Not):
        return implies(x.left, y)
    if isinstance(y, And):
        return all(implies(x, c) for c in y.children)
    if isinstance(x, Near):
        return any(implies(p, y) for p in x.phrases)
    if isinstance(x, Phrase) and isinstance(y, Phrase):
        return _phrase_implies(x, y)
    return False


def _phrase_implies(x: Phrase, y: Phrase) -> bool:
    if not set(x.cols) <= set(y.cols) or (y.caret and not x.caret):
        return False
    offsets = [0] if y.caret else range(x.size - y.size + 1)
    for s in offsets:
        ok = True
        for k in range(y.size):
            xt, xp, yt, yp = x.toks[s + k], x.prefix[s + k], y.toks[k], y.prefix[k]
            if not (xt.startswith(yt) if yp else (not xp and xt == yt)):
                ok = False
                break
        if ok:
            return True
    return False


# --------------------------------------------------------------------------- presearch keys


def _term_cost(tok: str, prefix: bool) -> float:
    # Rarer words make better keys; without statistics, longer words are the best guess.
    cost = 1.0 / (1 + len(tok)) ** 2
    if tok in _COMMON:
        cost *= 100
    if prefix:
        cost *= 4 if len(tok) > 3 else 100
    return cost


Keys = tuple[float, frozenset[str], frozenset[str]]  # (cost, exact terms, prefixes)


def keys(node: Node) -> Keys:
    """Return terms and prefixes of which a batch must contain one for `node` to match."""
    if isinstance(node, Empty):
        return (0.0, frozenset(), frozenset())
    if isinstance(node, Phrase):
        best = min(zip(node.toks, node.prefix, strict=True), key=lambda tp: _term_cost(*tp))
        t, p = best
        return (_term_cost(t, p), frozenset() if p else frozenset((t,)), frozenset((t,)) if p else frozenset())
    if isinstance(node, Near):
        return min((keys(p) for p in node.phrases), key=lambda k: k[0])
    if isinstance(node, And):
        return min((keys(c) for c in node.children), key=lambda k: k[0])
    if isinstance(node, Or):
        parts = [keys(c) for c in node.children]
        return (
            sum(k[0] for k in parts),
            frozenset().union(*(k[1] for k in parts)),
            frozenset().union(*(k[2] for k in parts)),
        )
    if isinstance(node, Not):
        return keys(node.left)
    raise TypeError(f"not a node: {node!r}")


def all_tokens(node: Node) -> tuple[set[str], set[str]]:
    """Return (exact tokens, prefix tokens) used anywhere in `node`."""
    exact: set[str] = set()
    pref: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Phrase):
            for t, p in zip(n.toks, n.prefix, strict=True):
                (pref if p else exact).add(t)
        elif isinstance(n, Near):
            stack.extend(n.phrases)
        elif isinstance(n, And | Or):
            stack.extend(n.children)
        elif isinstance(n, Not):
            stack.extend((n.left, n.right))
    return exact, pref
