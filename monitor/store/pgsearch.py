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

import re
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
# fastupdate off: a search never scans a pending list that ingest keeps growing (ingest pays instead).
INDEX_DDL = f"CREATE INDEX IF NOT EXISTS {TABLE}_{FTS}_gin ON {TABLE} USING gin ({FTS}) WITH (fastupdate = off)"
DDL = (COLUMN_DDL, STORAGE_DDL, INDEX_DDL)

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


def _unindexed(cur: Any) -> list[int]:
    """Ids of releases stored as `!!` (too large for a tsvector): candidates of every query."""
    return [r[0] for r in _rows(cur, f"SELECT id FROM {TABLE} WHERE {FTS} @@ {_tsquery(_NO_LEXEMES)}", {})]


def _where(p: Plan, where: str, unindexed: Sequence[int], params: dict[str, object]) -> str:
    """The candidate condition: the prefilter (or a release stored as `!!`), plus the caller's own."""
    assert p.upper is not None
    cond = f"r.{FTS} @@ {_tsquery(p.upper)}"
    if unindexed:
        cond = f"({cond} OR r.id = ANY(%(pm_unindexed)s))"
        params["pm_unindexed"] = list(unindexed)
    return f"{cond} AND ({where})" if where else cond


def _confirm(cur: Any, p: Plan, ids: list[int], unindexed: set[int]) -> list[int]:
    """Return the candidates `ids` that match, in their order: those SQL is sure of, the rest verified."""
    if not ids:
        return []
    doubt = {i for i in ids if i in unindexed}
    if p.decides and p.markers is not None:  # releases where a word of the query lost positions (GIN finds them)
        doubt.update(r[0] for r in _rows(
            cur, f"SELECT id FROM {TABLE} r WHERE r.{FTS} @@ {_tsquery(p.markers)} AND r.id = ANY(%(pm_ids)s)",
            {"pm_ids": ids}))
    if p.decides and p.tight:
        sure = set(ids) - doubt
    else:
        sure = set()
        if p.lower is not None:
            sure = {r[0] for r in _rows(
                cur, f"SELECT id FROM {TABLE} r WHERE r.id = ANY(%(pm_ids)s) AND r.{FTS} @@ {_tsquery(p.lower)}",
                {"pm_ids": ids})} - doubt
        if not p.decides:
            doubt = set(ids) - sure
    if doubt:
        sure |= verify(cur, p, sorted(doubt))
    return [i for i in ids if i in sure]


def newest(cur: Any, fts_query: str, n: int | None, *, where: str = "",
           params: Mapping[str, object] | None = None, ids: Sequence[int] | None = None) -> list[int]:
    """Return the ids of the newest `n` releases matching (all with None), newest (highest id) first.

    `where` (over `releases r`, with `params`) and `ids` narrow the releases searched.
    """
    return list(_newest(cur, prepare(fts_query), n, where, dict(params or {}), ids))


def _newest(cur: Any, p: Plan, n: int | None, where: str, params: dict[str, object],
            ids: Sequence[int] | None) -> Iterator[int]:
    if p.upper is None or n == 0:
        return
    if ids is not None:
        where = "r.id = ANY(%(pm_in)s)" + (f" AND ({where})" if where else "")
        params["pm_in"] = list(ids)
    unindexed = _unindexed(cur)
    doubt = set(unindexed)
    cond = _where(p, where, unindexed, params)
    if n is None or ids is not None:
        # Everything (or within given ids): one statement, verified a batch at a time.
        got = [r[0] for r in _rows(cur, f"SELECT r.id FROM {TABLE} r WHERE {cond} ORDER BY r.id DESC", params)]
        left = n
        for start in range(0, len(got), _BATCH * 5):
            kept = _confirm(cur, p, got[start:start + _BATCH * 5], doubt)
            if left is not None:
                kept = kept[:left]
                left -= len(kept)
            yield from kept
            if left == 0:
                return
        return
    # The newest n: id ranges from the newest down, each as wide as the density found so far says
    # n more matches need. Neither plan PostgreSQL can choose alone works for every query: walking
    # the primary key newest first checks n / frequency rows (minutes for a rare word), the GIN
    # index finds every match before sorting (seconds for a common one). In a range it can take the
    # cheaper of the two, and a common word's range is small, a rare word's soon spans everything.
    bounds = _rows(cur, f"SELECT min(id), max(id) FROM {TABLE}", {})[0]
    if bounds[0] is None:
        return
    bottom, hi = int(bounds[0]), int(bounds[1]) + 1
    span = n + n // 4  # a word in every release needs one range, a rarer one soon a wider range
    left = n
    while left > 0 and hi > bottom:
        lo = max(hi - span, bottom)
        # The bounds are written in, as the tsquery is (see _tsquery): the plan depends on them.
        with _bitmaps_only(cur):
            got = [r[0] for r in _rows(cur, f"SELECT r.id FROM {TABLE} r WHERE {cond} AND r.id >= {int(lo)}"
                                            f" AND r.id < {int(hi)} ORDER BY r.id DESC LIMIT {int(left)}", params)]
        kept = _confirm(cur, p, got, doubt)[:left]
        left -= len(kept)
        yield from kept
        if len(got) == left + len(kept) and got:  # the range holds more: go on below the last one
            hi = got[-1]
            continue
        width = hi - lo
        hi = lo
        # Matches per id in this range; the next range should hold what is left, with a margin.
        span = min(span * 16, int(left * width / len(got) * 1.5) + 1) if got else span * 16


@contextmanager
def _bitmaps_only(cur: Any) -> Iterator[None]:
    """Let PostgreSQL read a range of ids through bitmaps only (the GIN index's, the key's, or both
    ANDed), never by walking the key and checking each row: it misjudges how many rows a tsquery
    keeps (a NEAR spelled out as 24 alternatives looks common) and walks the whole table for a
    rare one. A bitmap plan costs at most the range or the matches, whichever is smaller."""
    cur.execute("SET enable_indexscan = off")
    try:
        yield
    finally:
        # In a failed transaction RESET fails too, and the rollback undoes the SET anyway.
        with suppress(Exception):
            cur.execute("RESET enable_indexscan")


def count(cur: Any, fts_query: str, *, where: str = "", params: Mapping[str, object] | None = None) -> int:
    """Return how many releases match (narrowed by `where` over `releases r`)."""
    p = prepare(fts_query)
    if p.upper is None:
        return 0
    params = dict(params or {})
    unindexed = _unindexed(cur)
    if not (p.decides and p.tight):
        return sum(1 for _ in _newest(cur, p, None, where, params, None))
    # Count in SQL; verify only the candidates SQL is unsure of (a marker of the query, or `!!`).
    cond = _where(p, where, unindexed, params)
    n = int(_rows(cur, f"SELECT count(*) FROM {TABLE} r WHERE {cond}", params)[0][0])
    doubt = ["r.id = ANY(%(pm_unindexed)s)"] if unindexed else []
    if p.markers is not None:
        doubt.append(f"r.{FTS} @@ {_tsquery(p.markers)}")
    if doubt:
        unsure = [r[0] for r in _rows(cur, f"SELECT r.id FROM {TABLE} r WHERE {cond} AND ({' OR '.join(doubt)})",
                                      params)]
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
