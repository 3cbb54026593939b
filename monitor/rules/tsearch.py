"""FTS5 semantics in PostgreSQL text search terms: a release as a tsvector, a query as two tsqueries.

Pure: the store's PostgreSQL search (monitor/store/pgsearch.py) sends what this module computes.
Nothing here uses PostgreSQL's own parser, dictionaries or stemmer: a word is what FTS5 makes of
it (rules/fts.py, `porter unicode61 remove_diacritics 2` over fold()ed text), so the archive on
PostgreSQL, the archive on SQLite and the rule matcher agree on every token.

The document (document()). Each FTS5 token of column c becomes the lexeme `<c><token>` (c the
digit of the column in FTS_COLUMNS), at its FTS5 offset + 2 within the column; position 1 holds
the lexeme `<c>^`, the column's start. Tagging lexemes, not weights, carries the columns because
tsvector has four weights and FTS5 here has seven columns; with tags a column filter is exact,
and each column has its own positions, so a phrase never spans two columns (FTS5's rule) and the
16,383-position cap applies per column. Weights are still set, for ranking only (RANK_WEIGHTS).
tsvector's limits, and what is done where one bites:
- a position past 16,383, or a lexeme's 257th position in a column: the position is not stored,
  and the lexeme `!<lexeme>` is added ("this lexeme lost positions");
- a lexeme over LEXEME_BYTES: cut to that many bytes (a query term is cut the same way);
- the whole tsvector over TSVECTOR_BYTES: only the lexeme `!!` is stored ("no lexemes").

The query (plan()). The FTS5 query is parsed (rules/syntax.py) and compiled (rules/compiler.py)
into the very nodes the rule matcher evaluates; this module walks those nodes and builds two
tsqueries: `upper`, which every matching release satisfies, and `lower`, which only matching
releases satisfy (None: nothing is sure; upper None: nothing matches), plus `markers`, the
lost-positions lexemes of the query's positional parts. The store takes the releases satisfying
upper, and checks those it cannot be sure of with the rule matcher over their stored text
(store/pgsearch.verify). Per form:
- a word, a prefix (`summ*` -> `'2summ':*` in the body), OR, AND, a column filter: exact
  (upper == lower: one lexeme per column, OR'ed over the columns searched);
- a phrase (`<->` between its tokens, in one column), `^` (`'<c>^' <-> ...`), and NEAR of two
  one-word phrases up to distance NEAR_SPELLED (lower `a <d> b | b <d> a` for d = 0 .. N + 1, which
  is FTS5's "within N tokens, either order"; upper just `a & b`): exact in every release that
  holds none of the query's markers; a release that does is a candidate (upper takes it) and
  verified (lower leaves it out);
- NOT: upper(a NOT b) = upper(a) & !lower(b), lower(a NOT b) = lower(a) & !upper(b);
- any other NEAR (longer phrases, three phrases, a larger distance): upper is every phrase in one
  column, and releases satisfying upper but not lower are verified (`decides` False);
- a query word longer than LEXEME_BYTES: matched on its cut form, all its candidates verified;
- a release stored as `!!`: satisfies neither; the store takes it as a candidate of every query
  and verifies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.rules.fts import FTS, Fts
from monitor.rules.nodes import And, Empty, Near, Node, Not, Or, Phrase
from monitor.types import FTS_COLUMNS

POSITION_MAX = 16383  # tsvector: MAXENTRYPOS - 1
POSITIONS_PER_LEXEME = 256  # tsvector: MAXNUMPOS
LEXEME_BYTES = 2000  # tsvector refuses 2,047 bytes and more (MAXSTRLEN); a margin for the "!" of markers
TSVECTOR_BYTES = 1_000_000  # tsvector refuses 1 MB (MAXSTRPOS) of lexemes and positions; a margin
NO_LEXEMES = "!!"  # the lexeme of a release whose tsvector would be too large

# Ranking only (ts_rank): title A, summary and tickers B, author and dateline C, body and source D,
# in the proportions of the archive's bm25 weights (10, 4, 1, 2, 2, 4, 1).
COLUMN_WEIGHTS = ("A", "B", "D", "C", "C", "B", "D")
RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # ts_rank's order: D, C, B, A

assert len(COLUMN_WEIGHTS) == len(FTS_COLUMNS) <= 10  # one digit per column tag


# --------------------------------------------------------------------------- lexemes


def _cut(lexeme: str) -> tuple[str, bool]:
    """Return the lexeme cut to LEXEME_BYTES of UTF-8 (at a character boundary) and whether it was."""
    raw = lexeme.encode()
    if len(raw) <= LEXEME_BYTES:
        return lexeme, False
    return raw[:LEXEME_BYTES].decode(errors="ignore"), True


def _quote(lexeme: str) -> str:
    """A lexeme as tsvector/tsquery input reads it: in single quotes, quote and backslash escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def lexeme(column: int, token: str) -> str:
    """Return the stored lexeme of a token in a column (cut to LEXEME_BYTES)."""
    return _cut(f"{column}{token}")[0]


def start(column: int) -> str:
    return f"{column}^"


def lost(lex: str) -> str:
    """The marker lexeme of a lexeme that lost positions in a release."""
    return "!" + lex


# --------------------------------------------------------------------------- the document


def document(columns: Sequence[str], fts: Fts = FTS) -> str:
    """Return the tsvector (as tsvector input text) of a release's FTS_COLUMNS texts, as stored.

    Written for speed (it runs for every release a PostgreSQL archive stores): a lexeme's weight is
    its column's, so each column's lexemes are formatted together; a token short enough that its
    UTF-8 cannot pass LEXEME_BYTES is not encoded to check."""
    parts: list[str] = []
    markers: set[str] = set()
    size = 0  # what tsvector input counts against its limit (see below)
    short = LEXEME_BYTES // 4 - 1  # characters that fit in LEXEME_BYTES whatever their UTF-8 length
    for c, text in enumerate(columns):
        w = COLUMN_WEIGHTS[c]
        prefix = str(c)
        positions: dict[str, list[int]] = {start(c): [1]}
        get = positions.get
        for pos, tok in enumerate(fts.tokens(text or ""), 2):
            lex = prefix + tok if len(tok) < short else lexeme(c, tok)
            got = get(lex)
            if got is None:
                positions[lex] = [pos]
            else:
                got.append(pos)
        sep = w + ","
        for lx, ps in positions.items():
            if len(ps) > POSITIONS_PER_LEXEME or ps[-1] > POSITION_MAX:
                # tsvector's limits: the first positions up to the cap are kept, the lexeme marked.
                kept = [p for p in ps if p <= POSITION_MAX][:POSITIONS_PER_LEXEME]
                markers.add(lost(lx))
                ps[:] = kept
            # Each lexeme (2-byte aligned when it has positions), then 2 bytes for the count and 2 per position.
            size += len(lx.encode()) + 3 + 2 * len(ps)
            quoted = _quote(lx) if "'" in lx or "\\" in lx else "'" + lx + "'"
            # A lexeme whose every position was past the cap is stored without positions (its marker says why).
            parts.append(f"{quoted}:{sep.join(map(str, ps))}{w}" if ps else quoted)
    size += sum(len(m.encode()) for m in markers)
    if size > TSVECTOR_BYTES:
        return _quote(NO_LEXEMES)
    parts.extend(_quote(m) for m in sorted(markers))
    return " ".join(parts)


# --------------------------------------------------------------------------- the query

Q = str | None  # tsquery text; None is "matches nothing"


@dataclass(frozen=True)
class Plan:
    """A query for PostgreSQL: see the module docstring. `node` is what verification evaluates."""

    node: Node
    upper: Q  # every match stored with lexemes satisfies it (None: the query matches nothing)
    lower: Q  # only matches satisfy it (None: none is sure)
    # The lost-positions markers of the query's positional parts (None: it has none).
    markers: Q
    decides: bool  # in a release holding none of the markers, lower decides (else: verify what it leaves)
    tight: bool  # ... and upper agrees with it there (no second look at the candidates needed)

    @property
    def exact(self) -> bool:
        """True when SQL alone answers (but for releases stored as `!!`, which are always verified)."""
        return self.decides and self.tight and self.markers is None


def _and(parts: Sequence[Q]) -> Q:
    if any(p is None for p in parts):
        return None
    return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"  # type: ignore[arg-type]


def _or(parts: Sequence[Q]) -> Q:
    alive = [p for p in parts if p is not None]
    if not alive:
        return None
    return alive[0] if len(alive) == 1 else "(" + " | ".join(alive) + ")"


def _not(left: Q, right: Q) -> Q:
    if left is None:
        return None
    if right is None:
        return left
    return f"({left} & !{right})"


# NEAR of two words up to this distance is spelled out in tsquery (a <d> b | b <d> a for each d),
# exact; larger distances, phrases of several words and three or more phrases are verified.
NEAR_SPELLED = 20


class _Compiler:
    def __init__(self) -> None:
        self.markers: list[str] = []  # marker terms of every positional part
        self.unsure = False  # a part that only verification decides (NEAR, a word cut to LEXEME_BYTES)
        self.loose = False  # a part whose upper is looser than its lower (a spelled-out NEAR)
        self.cut = False

    def atom(self, c: int, tok: str, prefix: bool) -> tuple[str, str]:
        """Return (the term, its lost-positions marker term) for one phrase token in column c."""
        lex, cut = _cut(f"{c}{tok}")
        self.unsure |= cut
        self.cut |= cut
        star = ":*" if prefix else ""
        return _quote(lex) + star, _quote(lost(lex)) + star

    def positional(self, c: int, phrase: str, marks: Sequence[str]) -> tuple[str, str, str]:
        """Return (upper, lower, markers) of a positional form in column c: exact where no marker."""
        markers = _or(list(marks))
        assert markers is not None
        self.markers.extend(marks)
        return phrase, f"({phrase} & !{markers})", markers

    def phrase_in(self, p: Phrase, c: int) -> tuple[str, str, str | None]:
        """Return (upper, lower, markers) of a phrase in one column (upper: add the markers)."""
        atoms = [self.atom(c, t, pre) for t, pre in zip(p.toks, p.prefix, strict=True)]
        if len(atoms) == 1 and not p.caret:
            return atoms[0][0], atoms[0][0], None  # one word needs no positions
        chain = "(" + " <-> ".join(([_quote(start(c))] if p.caret else []) + [a for a, _ in atoms]) + ")"
        return self.positional(c, chain, [m for _, m in atoms])

    def near_in(self, n: Near, c: int) -> tuple[str, str | None, str | None]:
        ps = n.phrases
        if len(ps) == 2 and ps[0].size == ps[1].size == 1 and n.distance <= NEAR_SPELLED:
            # FTS5: two one-word phrases are NEAR(..., N) when they start at most N + 1 apart.
            (a, ma), (b, mb) = (self.atom(c, p.toks[0], p.prefix[0]) for p in ps)
            terms = [f"{x} <{d}> {y}" for d in range(n.distance + 2) for x, y in ((a, b), (b, a))]
            # `a & b` first: PostgreSQL checks it left to right, so a release without both words in
            # this column is refused after two lookups, not 2 x (N + 2) phrase checks (~3.5x less
            # time per candidate where the 7 columns' spelled-out forms are ORed).
            _, lower, markers = self.positional(c, f"({a} & {b} & (" + " | ".join(terms) + "))", [ma, mb])
            # The prefilter is both words: GIN checks a tree of 24 phrase operators per entry slowly,
            # and the spelled-out form is checked on the candidates alone.
            self.loose = True
            return f"({a} & {b})", lower, markers
        self.unsure = True
        parts = [self.phrase_in(p, c) for p in ps]
        return _and([_or([u, m]) for u, _, m in parts]), None, None  # type: ignore[return-value]

    def node(self, n: Node) -> tuple[Q, Q]:
        if isinstance(n, Empty):
            return None, None
        if isinstance(n, Phrase | Near):
            cols = [self.phrase_in(n, c) if isinstance(n, Phrase) else self.near_in(n, c) for c in n.cols]
            # A match is the form in some column, or a release where one of its words lost positions.
            return _or([u for u, _, _ in cols] + [m for _, _, m in cols]), _or([lo for _, lo, _ in cols])
        if isinstance(n, And):
            got: list[tuple[Q, Q]] = [self.node(k) for k in n.children]
            return _and([u for u, _ in got]), _and([lo for _, lo in got])
        if isinstance(n, Or):
            alts: list[tuple[Q, Q]] = [self.node(k) for k in n.children]
            return _or([u for u, _ in alts]), _or([lo for _, lo in alts])
        if isinstance(n, Not):
            lu, ll = self.node(n.left)
            ru, rl = self.node(n.right)
            return _not(lu, rl), _not(ll, ru)
        raise TypeError(f"not a query node: {n!r}")


def plan(node: Node) -> Plan:
    """Return the tsqueries of a compiled query node (see the module docstring)."""
    comp = _Compiler()
    upper, lower = comp.node(node)
    if comp.cut:
        lower = None  # a cut word's lexeme may be another word's: nothing is sure
    # A release stored as `!!` satisfies neither: every query needs a word (FTS5 has no NOT alone),
    # and `!!` is none. The store adds those releases to the candidates (store/pgsearch.py).
    markers = _or(sorted(set(comp.markers)))
    return Plan(node, upper, lower, markers, not comp.unsure, not comp.loose)
