"""Parse trees to shared node trees; what a rule can never match; its presearch keys."""

from __future__ import annotations

from monitor.errors import QueryError
from monitor.rules.fts import FTS, Fts
from monitor.rules.nodes import ALL_COLUMNS, And, Empty, Near, Node, Not, Or, Phrase, term_cost
from monitor.rules.syntax import PAnd, PColumns, PNear, PNode, PNot, POr, PPhrase


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


Keys = tuple[float, frozenset[str], frozenset[str]]  # (cost, exact terms, prefixes)


def keys(node: Node) -> Keys:
    """Return terms and prefixes of which a batch must contain one for `node` to match."""
    if isinstance(node, Empty):
        return (0.0, frozenset(), frozenset())
    if isinstance(node, Phrase):
        best = min(zip(node.toks, node.prefix, strict=True), key=lambda tp: term_cost(*tp))
        t, p = best
        return (term_cost(t, p), frozenset() if p else frozenset((t,)), frozenset((t,)) if p else frozenset())
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
