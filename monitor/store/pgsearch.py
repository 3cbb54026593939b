"""Full-text search on PostgreSQL with exactly SQLite FTS5's meaning, as the archive and rules have it.

The forms live in monitor/rules/tsearch.py (pure): a release is a tsvector of FTS5's own tokens,
one lexeme per (column, token); a query is a prefilter tsquery `upper` and a sure tsquery
`lower`. Exact in SQL: words, prefixes, AND, OR, NOT, column filters, phrases, `^`, and NEAR of two
words up to distance 20, except in a release where one of the query's words lost positions to
tsvector's limits (found through the GIN index by its marker lexeme, then verified). Verified by
the rule matcher (rules/nodes.py over the release's stored text): any other NEAR's candidates,
query words longer than 2,000 bytes, and releases stored without lexemes (`!!`, a tsvector over
1 MB). See tsearch.py.

This module runs the SQL over any DB-API cursor (psycopg 3 in the store; no import of it here):
`%(name)s` parameters, rows read by position. The table is `releases` with the FTS_COLUMNS and a
tsvector column FTS (COLUMN_DDL, INDEX_DDL); the writer stores document() of each row it writes
(or calls index_releases()). Where a caller narrows a search, it passes a condition over
`releases r` with its own parameters (names must not start with "pm_").

Ranking (ranked()): ts_rank over the prefilter with the columns' weights (title 1.0, summary and
tickers 0.4, author and dateline 0.2, body and source 0.1), ties newest first; not bm25, so the
order within a page can differ from SQLite's, never the set. Snippets (snippets()) come from
rules/snippet.py, the code the rule alerts use: SQLite's snippet() algorithm, with each run of
whitespace shown as one space.

Why store/ imports rules/ here (the one exception to the layers): FTS5 tokenizes and matches
inside SQLite, so the SQLite store gets FTS5's meaning for free; PostgreSQL has no FTS5, so the
store must use the same tokenizer, matcher and snippet code as the rules, or search and rules
would disagree. They are pure (rules/fts.py's in-memory SQLite is its own, not the archive).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from functools import lru_cache
from typing import Any

from monitor.fold import unsplit
from monitor.rules.batch import Batch, PrefixIndex, bits
from monitor.rules.compiler import Compiler, all_tokens
from monitor.rules.snippet import CLOSE, OPEN, TOKENS, instances, mended, snippet
from monitor.rules.syntax import parse
from monitor.rules.tsearch import NO_LEXEMES, RANK_WEIGHTS, Plan, document, plan
from monitor.types import FTS_COLUMNS, Doc

TABLE = "releases"
FTS = "fts"  # the tsvector column
COLUMN_DDL = f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {FTS} tsvector NOT NULL DEFAULT ''"
# Kept in the row, not in TOAST: a search reads the tsvector of every row it checks, and fetching
# it from TOAST costs ~10x the check itself (the long text columns are moved out instead).
STORAGE_DDL = f"ALTER TABLE {TABLE} ALTER COLUMN {FTS} SET STORAGE MAIN"
# Created with fastupdate off; migration pg_ingest turns it on and the writer merges the pending list at
# each COMMIT (pg.py), so a search still never scans a list that ingest keeps growing.
INDEX_DDL = f"CREATE INDEX IF NOT EXISTS {TABLE}_{FTS}_gin ON {TABLE} USING gin ({FTS}) WITH (fastupdate = off)"
DDL = (COLUMN_DDL, STORAGE_DDL, INDEX_DDL)

# Each release's tsvector also holds the lexeme of its id's bucket, `#<id >> BUCKET_BITS>`, so
# that one GIN scan finds a query's matches within a range of ids: the index intersects the
# query's postings with the buckets' (skipping through the longer lists), where ANDing a bitmap
# of the primary key's range cost ~0.2 us per id of the range (~50 ms for 250,000 ids at 1M
# releases) and the GIN bitmap alone reads and checks every candidate in the archive. A trigger
# adds it on every write of the column, whatever the path (the store, `db copy`, a user's SQL).
# No real lexeme starts with "#" (they start with a column digit or "!"). Migration
# pg_search_speed (pgschema.py) adds it to the rows stored before.
BUCKET_BITS = 14  # 16,384 ids a bucket: a range is searched in whole buckets
BUCKET_DDL = (
    # An empty vector stays empty: it is how the insert trigger of migration pg_ingest knows a row
    # written without its vector (`db copy`, a user's SQL) must be indexed at COMMIT.
    "CREATE OR REPLACE FUNCTION pm_search_bucket() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" IF NEW.{FTS} <> ''::tsvector THEN"
    f" NEW.{FTS} := NEW.{FTS} || array_to_tsvector(ARRAY['#' || (NEW.id >> {BUCKET_BITS})]); END IF;"
    " RETURN NEW; END $$",
    f"CREATE OR REPLACE TRIGGER {TABLE}_search_bucket BEFORE INSERT OR UPDATE OF {FTS} ON {TABLE}"
    " FOR EACH ROW EXECUTE FUNCTION pm_search_bucket()",
)


def bucket(release_id: int) -> str:
    """The bucket lexeme of a release id (what the trigger of BUCKET_DDL stores)."""
    return f"#{release_id >> BUCKET_BITS}"


def _buckets(lo: int, hi: int) -> str:
    """A tsquery (text) true for the releases whose bucket overlaps ids lo .. hi - 1."""
    return "(" + " | ".join(f"'#{b}'" for b in range(lo >> BUCKET_BITS, ((hi - 1) >> BUCKET_BITS) + 1)) + ")"

_COLS = ", ".join(f'r."{c}"' for c in FTS_COLUMNS)
_NO_LEXEMES = "'" + NO_LEXEMES + "'"
_BATCH = 1000  # candidates verified per round trip


def tsvector(columns: Sequence[str | None]) -> str:
    """Return the FTS value (tsvector input text) of a release's FTS_COLUMNS texts, for the writer."""
    return document([c or "" for c in columns])


def index_releases(cur: Any, ids: Sequence[int]) -> None:
    """(Re)compute the FTS column of these releases from their stored text."""
    for start in range(0, len(ids), _BATCH):
        rows = _rows(cur, f"SELECT r.id, {_COLS} FROM {TABLE} r WHERE r.id = ANY(%(pm_ids)s)",
                     {"pm_ids": list(ids[start:start + _BATCH])})
        if rows:  # one statement per batch: a round trip per release cost more than the indexing
            cur.execute(f"UPDATE {TABLE} r SET {FTS} = v.fts::tsvector FROM unnest(%(pm_ids)s::bigint[],"
                        " %(pm_vs)s::text[]) AS v(id, fts) WHERE r.id = v.id",
                        {"pm_ids": [row[0] for row in rows], "pm_vs": [tsvector(row[1:]) for row in rows]})


@lru_cache(maxsize=256)
def prepare(fts_query: str) -> Plan:
    """Return the plan of an FTS5 query as fts_query()/search_query() produce it; raises QueryError."""
    return plan(Compiler().compile(parse(fts_query)))


# --------------------------------------------------------------------------- reading


def _rows(cur: Any, sql: str, params: Mapping[str, object]) -> list[tuple[Any, ...]]:
    cur.execute(sql, params)
    return [tuple(r.values()) if isinstance(r, Mapping) else tuple(r) for r in cur.fetchall()]


def _docs(cur: Any, ids: Sequence[int]) -> list[Doc]:
    """Return the releases' FTS columns as Docs (key = id), in no particular order."""
    rows = _rows(cur, f"SELECT r.id, {_COLS} FROM {TABLE} r WHERE r.id = ANY(%(pm_ids)s)", {"pm_ids": list(ids)})
    return [_doc(r) for r in rows]


def _doc(row: tuple[Any, ...]) -> Doc:
    title, summary, body, author, dateline, tickers, source = (v or "" for v in row[1:])
    # Doc.source is the feeds joined by newlines: splitting the stored column gives it back exactly.
    return Doc(row[0], title, summary, body, author, dateline, tickers, feeds=tuple(source.split("\n")))


def _batch(p: Plan, docs: Sequence[Doc]) -> Batch:
    exact, prefixes = all_tokens(p.node)
    return Batch(docs, frozenset(exact), PrefixIndex(frozenset(prefixes)))


def verify(cur: Any, p: Plan, ids: Sequence[int]) -> set[int]:
    """Return those of `ids` the query really matches, by the rule matcher over their stored text."""
    out: set[int] = set()
    for start in range(0, len(ids), _BATCH):
        docs = _docs(cur, ids[start:start + _BATCH])
        if docs:
            b = _batch(p, docs)
            out.update(docs[d].key for d in bits(p.node.ev(b, b.all)))
    return out


def _tsquery(text: str) -> str:
    """A tsquery as an SQL literal. Written into the statement, not bound: a bound tsquery lets
    PostgreSQL plan a prepared statement once for every query (psycopg prepares a statement run
    five times), and a plan fit for a rare word takes seconds for a common one, or the reverse."""
    return "'" + text.replace("'", "''") + "'::tsquery"


def _doubtful(cur: Any, p: Plan) -> tuple[list[int], set[int]]:
    """Return (releases stored as `!!`, releases SQL cannot decide for this query): the first are
    candidates of every query, both are verified by the rule matcher. One GIN lookup of lexemes
    that are normally in no release (`!!` and the query's lost-positions markers), so it costs
    next to nothing, once per search instead of once per batch of candidates."""
    look = _NO_LEXEMES if p.markers is None or not p.decides else f"({_NO_LEXEMES} | {p.markers})"
    with _plan(cur, "gin"):
        rows = _rows(cur, f"SELECT id, {FTS} @@ {_tsquery(_NO_LEXEMES)} FROM {TABLE} WHERE {FTS} @@ {_tsquery(look)}",
                     {})
    return [r[0] for r in rows if r[1]], {r[0] for r in rows}


def _where(p: Plan, where: str, unindexed: Sequence[int], params: dict[str, object], *,
           upper: str | None = None) -> str:
    """The candidate condition: the prefilter (or a release stored as `!!`), plus the caller's own."""
    assert p.upper is not None
    cond = f"r.{FTS} @@ {_tsquery(upper or p.upper)}"
    if unindexed:
        cond = f"({cond} OR r.id = ANY(%(pm_unindexed)s))"
        params["pm_unindexed"] = list(unindexed)
    return f"{cond} AND ({where})" if where else cond


class _Search:
    """One query's statement parts: which rows to read, what SQL is sure of, which to verify.

    `cond` keeps the candidates; where the plan decides (p.decides), only rows satisfying lower
    (or doubtful ones) can match, so lower is part of cond and a LIMIT counts matches, not
    candidates; otherwise `sure` (lower, else FALSE) says which candidates need no verifying.
    Everything is checked in the one pass that reads the row: a second statement over the same
    ids read each tsvector again (~40 ms per 5,000 at 1M releases)."""

    def __init__(self, cur: Any, p: Plan, where: str, params: dict[str, object]) -> None:
        self.p = p
        self.params = params
        self.unindexed, self.doubt = _doubtful(cur, p)
        self.where = where
        self.check = None if p.lower is None or (p.decides and p.tight) else f"r.{FTS} @@ {_tsquery(p.lower)}"
        self.sure = "TRUE"
        if self.check is not None and p.decides:
            if self.doubt:
                params["pm_doubt"] = sorted(self.doubt)
        elif not p.decides:
            self.sure = self.check or "FALSE"
        self.cond = self.within(None)

    def within(self, buckets: str | None) -> str:
        """The condition, with the prefilter narrowed to releases in `buckets` (a tsquery) if given."""
        assert self.p.upper is not None
        cond = _where(self.p, self.where, self.unindexed, self.params,
                      upper=self.p.upper if buckets is None else f"({self.p.upper}) & {buckets}")
        if self.check is not None and self.p.decides:
            cond += f" AND ({self.check}" + (" OR r.id = ANY(%(pm_doubt)s))" if self.doubt else ")")
        return cond

    def rows(self, cur: Any, sql_cond: str, limit: int | None, rank: bool,
             cond: str | None = None) -> list[tuple[Any, ...]]:
        """(id, sure, rank or None) of the candidates in `sql_cond`, newest first."""
        ranked = f"-ts_rank(%(pm_w)s::float4[], r.{FTS}, {_tsquery(self.p.upper)})" if rank else "NULL"  # type: ignore[arg-type]
        params = dict(self.params, pm_w=RANK_WEIGHTS) if rank else self.params
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return _rows(cur, f"SELECT r.id, {self.sure}, {ranked} FROM {TABLE} r WHERE {cond or self.cond}{sql_cond}"
                          f" ORDER BY r.id DESC{tail}", params)

    def confirm(self, cur: Any, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows that match, in their order: those SQL is sure of, the rest verified."""
        unsure = [r[0] for r in rows if not r[1] or r[0] in self.doubt]
        if not unsure:
            return list(rows)
        ok = verify(cur, self.p, sorted(unsure))
        bad = set(unsure) - ok
        return [r for r in rows if r[0] not in bad]


def newest(cur: Any, fts_query: str, n: int | None, *, where: str = "",
           params: Mapping[str, object] | None = None, ids: Sequence[int] | None = None) -> list[int]:
    """Return the ids of the newest `n` releases matching (all with None), newest (highest id) first.

    `where` (over `releases r`, with `params`) and `ids` narrow the releases searched. A window
    (`n` given) also leaves each id's rank for the scored()/ranked() of the same window that
    follows it on this thread, computed in the pass that found the id.
    """
    p = prepare(fts_query)
    got = list(_newest(cur, p, n, where, dict(params or {}), ids, rank=n is not None))
    out = [r[0] for r in got]
    if n is not None:
        _RANKS.last = (id(getattr(cur, "connection", cur)), fts_query, {r[0]: r[2] for r in got})
    return out


# A search reads the tsvector of each release of its window once: the rank of each is computed
# there and kept here for the page (scored) that follows, not read again (~60 ms per 5,000 at 1M).
_RANKS = threading.local()

# Density (matches per id) above which a range is read by walking the primary key newest first
# and checking each row; below it, through the GIN index and the range's buckets.
_WALK = 0.25


def _newest(cur: Any, p: Plan, n: int | None, where: str, params: dict[str, object],
            ids: Sequence[int] | None, *, rank: bool = False) -> Iterator[tuple[Any, ...]]:
    """Rows (id, sure, rank) of the newest n matches, newest first (see newest())."""
    if p.upper is None or n == 0:
        return
    if ids is not None:
        where = "r.id = ANY(%(pm_in)s)" + (f" AND ({where})" if where else "")
        params["pm_in"] = list(ids)
    s = _Search(cur, p, where, params)
    if n is None or ids is not None:
        # Everything (or within given ids): one statement through the GIN index.
        with _plan(cur, "gin"):
            rows = s.rows(cur, "", None, rank)
        left = n
        for start in range(0, len(rows), _BATCH * 5):
            kept = s.confirm(cur, rows[start:start + _BATCH * 5])
            if left is not None:
                kept = kept[:left]
                left -= len(kept)
            yield from kept
            if left == 0:
                return
        return
    # The newest n: id ranges from the newest down, each as wide as the density (matches per id)
    # says the n - found matches still missing need, read by the plan that suits the density. No
    # one plan PostgreSQL can choose alone works for every query: walking the primary key newest
    # first checks n / density rows (minutes for a rare word); the GIN bitmap checks every
    # candidate in the archive (seconds for a common one); ANDed with a bitmap of the key's range
    # it reads the whole range of the key (~50 ms for 250,000 ids). So: a dense query walks; a
    # sparser one asks the GIN index for the range's buckets (BUCKET_DDL), which intersects
    # inside the index and checks only the range's candidates; a rare one (the range would be
    # most of what is left) takes the GIN bitmap alone. The first guess of the density is the
    # planner's estimate, then what each range found.
    bounds = _rows(cur, f"SELECT min(id), max(id) FROM {TABLE}", {})[0]
    if bounds[0] is None:
        return
    bottom, hi = int(bounds[0]), int(bounds[1]) + 1
    density = _estimate(cur, s, hi - bottom)
    left = n
    while left > 0 and hi > bottom:
        need = int(left / density * 1.25) + 1
        if need >= (hi - bottom) // 2:
            # Most of what is left: the GIN bitmap alone (`+ 0`: not the key's bitmap of it all).
            with _plan(cur, "gin"):
                rows = s.rows(cur, f" AND r.id + 0 < {int(hi)}", left, rank)
            lo = bottom
        else:
            lo = max(hi - need, bottom)
            # The bounds are written in, as the tsquery is (see _tsquery): the plan depends on them.
            if density >= _WALK:
                with _plan(cur, "walk"):
                    rows = s.rows(cur, f" AND r.id >= {int(lo)} AND r.id < {int(hi)}", left, rank)
            else:
                lo = max(lo >> BUCKET_BITS << BUCKET_BITS, bottom)  # whole buckets: the index has no finer grain
                with _plan(cur, "gin"):
                    rows = s.rows(cur, f" AND r.id + 0 >= {int(lo)} AND r.id + 0 < {int(hi)}", left, rank,
                                  s.within(_buckets(lo, hi)))
        kept = s.confirm(cur, rows)[:left]
        left -= len(kept)
        yield from kept
        if rows and len(rows) == left + len(kept):  # the range holds more: go on below the last one
            width = hi - rows[-1][0]
            hi = rows[-1][0]
        else:
            width = hi - lo
            hi = lo
        # Matches per id so far in this range; none found: ten times rarer than thought.
        density = max(len(kept) / max(width, 1), density / 10) if kept else density / 10
        density = min(max(density, 1 / max(hi - bottom, 1)), 1.0)


def _estimate(cur: Any, s: _Search, span: int) -> float:
    """The planner's estimate of the matches per id (its statistics of the tsvector's lexemes)."""
    plan = _rows(cur, f"EXPLAIN (FORMAT JSON) SELECT r.id FROM {TABLE} r WHERE {s.cond}", s.params)[0][0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    rows = float(plan[0]["Plan"]["Plan Rows"])
    return min(max(rows / max(span, 1), 1 / max(span, 1)), 1.0)


@contextmanager
def _plan(cur: Any, kind: str) -> Iterator[None]:
    """Let PostgreSQL read rows one way only, the one _newest chose for the density (it misjudges
    how many rows a tsquery keeps: a NEAR spelled out as 24 alternatives looks common, a phrase's
    words are not independent). "walk": the primary key newest first, each row checked; "gin":
    the GIN index's bitmap only. JIT off for both: the planner's cost of a search over a big
    archive is high enough to compile it (~15 ms), for a statement that then takes a few ms."""
    off = ("enable_bitmapscan" if kind == "walk" else "enable_indexscan", "enable_seqscan", "jit")
    cur.execute("; ".join(f"SET {o} = off" for o in off))
    try:
        yield
    finally:
        # In a failed transaction RESET fails too, and the rollback undoes the SET anyway.
        with suppress(Exception):
            cur.execute("; ".join(f"RESET {o}" for o in off))


def count(cur: Any, fts_query: str, *, where: str = "", params: Mapping[str, object] | None = None) -> int:
    """Return how many releases match (narrowed by `where` over `releases r`)."""
    p = prepare(fts_query)
    if p.upper is None:
        return 0
    params = dict(params or {})
    if not (p.decides and p.tight):
        return sum(1 for _ in _newest(cur, p, None, where, params, None))
    # Count in SQL; verify only the candidates SQL is unsure of (a marker of the query, or `!!`).
    s = _Search(cur, p, where, params)
    with _plan(cur, "gin"):
        n = int(_rows(cur, f"SELECT count(*) FROM {TABLE} r WHERE {s.cond}", s.params)[0][0])
        if s.doubt:
            unsure = [r[0] for r in _rows(cur, f"SELECT r.id FROM {TABLE} r WHERE {s.cond} AND r.id = ANY(%(pm_d)s)",
                                          dict(s.params, pm_d=sorted(s.doubt)))]
            n -= len(unsure) - len(verify(cur, p, unsure))
    return n


def ranked(cur: Any, fts_query: str, window: Sequence[int], *, limit: int = 20, offset: int = 0) -> list[int]:
    """Return one page of `window` (ids that match, e.g. from newest()) best first (see the docstring)."""
    return [i for i, _ in scored(cur, fts_query, window, limit=limit, offset=offset)]


def scored(cur: Any, fts_query: str, window: Sequence[int], *, limit: int = 20,
           offset: int = 0) -> list[tuple[int, float]]:
    """ranked() with each release's rank: minus its ts_rank, so lower is better, as FTS5's rank."""
    p = prepare(fts_query)
    if not window or p.upper is None:
        return []
    last = getattr(_RANKS, "last", None)
    if (last is not None and last[0] == id(getattr(cur, "connection", cur)) and last[1] == fts_query
            and all(i in last[2] for i in window)):
        # The window newest() just found on this connection, with the ranks it computed: the same
        # order as the statement below gives.
        ranks = last[2]
        best = sorted(dict.fromkeys(window), key=lambda i: (ranks[i], -i))[offset:offset + limit]
        return [(i, float(ranks[i])) for i in best]
    rows = _rows(cur, f"SELECT r.id, -ts_rank(%(pm_w)s::float4[], r.{FTS}, {_tsquery(p.upper)}) AS rank"
                      f" FROM {TABLE} r WHERE r.id = ANY(%(pm_ids)s) ORDER BY rank, r.id DESC"
                      " LIMIT %(pm_limit)s OFFSET %(pm_offset)s",
                 {"pm_ids": list(window), "pm_w": RANK_WEIGHTS, "pm_limit": limit,
                  "pm_offset": offset})
    return [(r[0], float(r[1])) for r in rows]


# Snippet markers other than "[" and "]" (the web view's \x02 and \x03): snippet() marks with
# brackets, so the text's own brackets are first swapped for two noncharacters the release does
# not hold (separators to FTS5, like brackets: no token moves), and swapped back afterwards.
_SPARE = [chr(c) for c in range(0xFDD0, 0xFDF0)]


def snippets(cur: Any, fts_query: str, ids: Sequence[int], *, open: str = OPEN, close: str = CLOSE,
             tokens: int = TOKENS, mend: bool = False) -> dict[int, str]:
    """Return {id: snippet} for those of `ids` the query matches: what SQLite's snippet(t, -1, open,
    close, '…', tokens) gives, as the rule alerts make it (each whitespace run shown as one space).

    `mend`: a window cut inside a word or a highlight is mended as a rule's match snippet is
    (rules.snippet.mended, the default markers and width only), which archive search shows."""
    if mend and (open, close, tokens) != (OPEN, CLOSE, TOKENS):
        raise ValueError("mended snippets come only with the default markers and width")
    p = prepare(fts_query)
    if not ids or p.upper is None:
        return {}
    docs = _docs(cur, ids)
    back: dict[int, dict[int, str]] = {}
    if (open, close) != (OPEN, CLOSE):
        for k, doc in enumerate(docs):
            text = "".join(doc.columns())
            spare = [c for c in _SPARE if c not in text][:2]
            if len(spare) == 2 and ("[" in text or "]" in text):
                swap = str.maketrans({"[": spare[0], "]": spare[1]})
                docs[k] = replace(doc, feeds=tuple(f.translate(swap) for f in doc.feeds),
                                  **{c: getattr(doc, c).translate(swap) for c in FTS_COLUMNS if c != "source"})
                back[doc.key] = {ord(spare[0]): "[", ord(spare[1]): "]"}
    b = _batch(p, docs)
    out: dict[int, str] = {}
    marks = {ord(OPEN): open, ord(CLOSE): close}
    for d in bits(p.node.ev(b, b.all)):
        text = mended(p.node, b, d) if mend else snippet(p.node, b, d, tokens)
        key = docs[d].key
        if (open, close) != (OPEN, CLOSE):
            text = text.translate(marks).translate(back.get(key, {}))
        out[key] = unsplit(text)
    return out


def highlight(cur: Any, fts_query: str, ids: Sequence[int], *, open: str, close: str,
              column: int = 0) -> dict[int, str]:
    """Return {id: the column's text with every matched phrase marked} for those of `ids` the query
    matches: FTS5's highlight(t, column, open, close) (overlapping phrases marked once, as it does)."""
    p = prepare(fts_query)
    if not ids or p.upper is None:
        return {}
    docs = _docs(cur, ids)
    b = _batch(p, docs)
    out: dict[int, str] = {}
    for d in bits(p.node.ev(b, b.all)):
        text = docs[d].columns()[column]
        inst, sizes = instances(p.node, b, d)
        # Each token's character span in the text: whitespace chunks, then tokens inside each.
        spans: list[tuple[int, int]] = []
        for m in _CHUNK.finditer(text):
            spans.extend((m.start() + a, m.start() + z) for a, z in b.fts.spans(m.group()))
        marked: list[str] = []
        at = 0
        end = -1
        for c, off, ip in inst:
            if c != column:
                continue
            last = off + sizes[ip] - 1
            if off <= end:  # overlaps the range being marked: one [ ] for both (fts5CInstIterNext)
                end = max(end, last)
                continue
            if end >= 0:
                marked += [text[at:spans[end][1]], close]
                at = spans[end][1]
            marked += [text[at:spans[off][0]], open]
            at, end = spans[off][0], last
        if end >= 0:
            marked += [text[at:spans[end][1]], close]
            at = spans[end][1]
        marked.append(text[at:])
        out[docs[d].key] = "".join(marked)
    return out


_CHUNK = re.compile(r"\S+")  # str.split()'s chunks: the batch tokenizes text chunk by chunk


__all__ = ["COLUMN_DDL", "DDL", "FTS", "INDEX_DDL", "STORAGE_DDL", "TABLE", "count", "highlight", "index_releases",
           "newest", "prepare", "ranked", "scored", "snippets", "tsvector", "verify"]
