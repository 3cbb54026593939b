"""The review side's full-text reads on PostgreSQL: what review.py and webview.py ask FTS5 for on SQLite.

pgsearch.py answers with FTS5's meaning (ids newest first, counts, a ranking, snippets from the
rules' snippet code); this module asks it what each store method needs and reads the release rows
around that. Filters reach pgsearch as a condition over `releases r` (review_where's, in psycopg's
placeholders). Ranking is pgsearch's ts_rank with the columns' weights, so within one page the order
can differ from SQLite's bm25; the set, the window, the snippets and the highlights do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from monitor.store import pgsearch

if TYPE_CHECKING:
    from monitor.store.pg import PgDriver


def _driver(store: Any) -> PgDriver:
    from monitor.store.pg import PgDriver  # psycopg is loaded only for an archive on a server
    driver = store.driver
    assert isinstance(driver, PgDriver)
    return driver


def psycopg_sql(sql: str) -> str:
    from monitor.store.pg import psycopg_sql
    return psycopg_sql(sql)


def newest(store: Any, fts_query: str, n: int | None, where: str = "", params: Mapping[str, object] | None = None,
           ids: Sequence[int] | None = None) -> list[int]:
    """Ids of the newest `n` releases matching (all: None), newest first; `where` over `releases r` (`:name`)."""
    d = _driver(store)
    with d.errors(), d.connection().cursor() as cur:
        return pgsearch.newest(cur, fts_query, n, where=psycopg_sql(where) if where else "",
                               params=d.values(params or {}), ids=ids)


def count(store: Any, fts_query: str, where: str = "", params: Mapping[str, object] | None = None) -> int:
    d = _driver(store)
    with d.errors(), d.connection().cursor() as cur:
        return pgsearch.count(cur, fts_query, where=psycopg_sql(where) if where else "", params=d.values(params or {}))


def ranked(store: Any, fts_query: str, window: Sequence[int], *, limit: int, offset: int = 0) -> list[int]:
    d = _driver(store)
    with d.errors(), d.connection().cursor() as cur:
        return pgsearch.ranked(cur, fts_query, window, limit=limit, offset=offset)


def scored(store: Any, fts_query: str, window: Sequence[int], *, limit: int,
           offset: int = 0) -> list[tuple[int, float]]:
    """ranked() with each id's rank (lower is better, as FTS5's)."""
    d = _driver(store)
    with d.errors(), d.connection().cursor() as cur:
        return pgsearch.scored(cur, fts_query, window, limit=limit, offset=offset)


def highlight(store: Any, fts_query: str, ids: Sequence[int], *, open: str, close: str) -> dict[int, str]:
    """{id: the title with its matched words marked}: FTS5's highlight(releases_fts, 0, open, close)."""
    d = _driver(store)
    with d.errors(), d.connection().cursor() as cur:
        return pgsearch.highlight(cur, fts_query, ids, open=open, close=close)


def snippets(store: Any, fts_query: str, ids: Sequence[int], *, open: str, close: str,
             tokens: int, mend: bool = False) -> dict[int, str]:
    d = _driver(store)
    with d.errors(), d.connection().cursor() as cur:
        return pgsearch.snippets(cur, fts_query, ids, open=open, close=close, tokens=tokens, mend=mend)


def flush(driver: PgDriver) -> None:
    """Index the releases noted in search_pending (inside the open write transaction), then forget the notes."""
    with driver.conn.cursor() as cur:
        ids = [r[0] for r in cur.execute("SELECT id FROM search_pending ORDER BY id").fetchall()]
        if ids:
            pgsearch.index_releases(cur, ids)
            cur.execute("DELETE FROM search_pending")
