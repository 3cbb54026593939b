"""The web view's and HTTP API's own reads (monitor/web): windowed search, facets, day counts, paging.

A search works on its window: the ids of its newest RANK_WINDOW matching releases (what `search`
ranks). Ranking, facets and the filtered day chart then touch at most that many releases, by id,
however big the archive and however broad the query. Day charts count by publication date (as the
lists and facets do) and use that releases get increasing ids as they are first seen, at most a
day after publication: a chart's releases all have ids from one found through the first_seen_at
index. Every FTS5 failure becomes a
QueryError naming the query. (Kept apart from review.py, which export and `search` share, so that
neither grows past what one can read at once.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from monitor.errors import QueryError
from monitor.store import pgreview
from monitor.store.base import Params, Row, fts_message, lines, parse_ts, ts
from monitor.store.outbox import OutboxStore
from monitor.store.review import RANK_WINDOW, review_where
from monitor.store.rows import OutboxRow

SNIPPET_TOKENS = 24
# SQLite integers are 64-bit: larger ids from a URL name nothing (and must not reach SQLite).
MAX_ID = 2**63 - 1
# The same sets as review_where's feed and rule filters, as release ids (see web_window).
_ID_FILTERS = {
    "feed": "SELECT s.release_id FROM sightings s JOIN feeds fd ON fd.id = s.feed_id WHERE fd.name = :feed",
    "rule": "SELECT release_id FROM matches WHERE rule = :rule",
}
_HIT_COLUMNS = ("r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place, r.first_seen_at,"
                " substr(r.summary, 1, 400) AS summary")


def _ids(values: Sequence[int]) -> str:
    """Return ids as one JSON array parameter, read in SQL as `IN (SELECT value FROM json_each(:p))`.

    Not `in_list()`: SQLite looks each named parameter up in a list while it parses, so a statement
    with a window's 5,000 `:w0,:w1,…` costs 30-150 ms to prepare before it reads a single row.
    """
    return json.dumps([int(v) for v in values])


def _hit(r: Row, title: str, snippet: str) -> dict[str, object]:
    return {"id": r["id"], "title": title, "url": r["url"] or "", "published": parse_ts(r["published_at"]),
            "feeds": lines(r["source"]), "wire": r["wire"] or "", "place": r["dateline_place"] or "",
            "first_seen": parse_ts(r["first_seen_at"]), "snippet": snippet}


class WebViewStore(OutboxStore):
    MAX_ID = MAX_ID

    def _web(self, sql: str, params: Params, fts_query: str | None) -> list[Row]:
        try:
            return self.rows(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if fts_query and "interrupted" not in str(exc):
                raise QueryError(f"invalid query {fts_query!r}: {fts_message(exc)}") from exc
            raise

    def _budgeted(self, sql: str, params: Params, fts_query: str | None,
                  expired: Callable[[], bool] | None) -> list[Row] | None:
        """Run a counting query, abandoned (None) once `expired()` says the page's budget is spent."""
        if expired is None:
            return self._web(sql, params, fts_query)
        if expired():
            return None
        try:
            with self.driver.budget(expired):
                return self._web(sql, params, fts_query)
        except Exception as exc:
            if self.driver.interrupted(exc):
                return None
            raise

    def web_has_releases(self) -> bool:
        return self.one("SELECT 1 AS x FROM releases LIMIT 1") is not None

    # ------------------------------------------------------------------ search: window, page, facets, days

    def web_window(self, fts_query: str | None, filters: dict[str, str] | None = None) -> tuple[list[int], bool]:
        """Return (ids of the newest RANK_WINDOW matching releases, newest first; whether more match)."""
        filters = filters or {}
        where, params = review_where(None, filters)
        if fts_query and self.dialect.postgres:
            ids = pgreview.newest(self, fts_query, RANK_WINDOW + 1, where if filters else "", params)
            return ids[:RANK_WINDOW], len(ids) > RANK_WINDOW
        params = {**params, "n": RANK_WINDOW + 1}
        if fts_query and not filters:  # the full-text index alone answers: no release row is read
            sql = "SELECT rowid AS id FROM releases_fts WHERE releases_fts MATCH :q ORDER BY rowid DESC LIMIT :n"
        elif fts_query and set(filters) <= set(_ID_FILTERS):
            # Feed and rule filters are sets of ids from their own indexes, built once: checking the
            # newest matches against them reads no release row (joining releases read one per match,
            # ~10 matches per window entry for a filter that keeps 10%).
            ids_in = " AND ".join(f"rowid + 0 IN ({_ID_FILTERS[k]})" for k in filters)
            sql = (f"SELECT rowid AS id FROM releases_fts WHERE releases_fts MATCH :q AND {ids_in}"
                   " ORDER BY rowid DESC LIMIT :n")
            params = {k: v for k, v in params.items() if k in ("n", *filters)}
        elif fts_query:
            sql = ("SELECT releases_fts.rowid AS id FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid"
                   f" WHERE releases_fts MATCH :q AND {where} ORDER BY releases_fts.rowid DESC LIMIT :n")
        else:
            sql = f"SELECT r.id FROM releases r WHERE {where} ORDER BY r.id DESC LIMIT :n"
        ids = [r["id"] for r in self._web(sql, {**params, "q": fts_query} if fts_query else params, fts_query)]
        return ids[:RANK_WINDOW], len(ids) > RANK_WINDOW

    def web_search(self, fts_query: str | None, filters: dict[str, str] | None = None, *, limit: int = 25,
                   offset: int = 0, window: Sequence[int] | None = None,
                   newest: bool = False) -> list[dict[str, object]]:
        """Return one page of releases: a query's best first among `window` (see web_window), else newest first.

        Titles and snippets carry \\x02…\\x03 around matched terms (the page turns them into <mark>).
        `newest` orders a query's matches newest archived first instead of by rank (no window needed).
        """
        where, params = review_where(None, filters)
        page = {"limit": limit, "offset": offset}
        if not fts_query:
            rows = self._web(f"SELECT {_HIT_COLUMNS} FROM releases r WHERE {where}"
                             " ORDER BY r.published_at DESC, r.id DESC LIMIT :limit OFFSET :offset",
                             {**params, **page}, None)
            return [_hit(r, r["title"], r["summary"] or "") for r in rows]
        if self.dialect.postgres:
            return self._pg_web_search(fts_query, where, params, limit=limit, offset=offset, window=window,
                                       newest=newest)
        if window is not None:
            if not window:
                return []
            # The window already applies the filters; rowid >= its oldest lets FTS5 skip older
            # matches, and "+ 0" keeps the id list away from FTS5, which would run the query once per id.
            # A second sort key (ties: newest first) stops FTS5 from sorting by rank itself: it would
            # rank every match since the floor (~50,000 for a filter that keeps 10%), not the window's.
            sql = ("SELECT rowid AS id FROM releases_fts WHERE releases_fts MATCH :q AND rowid >= :floor"
                   " AND rowid + 0 IN (SELECT value FROM json_each(:w))"
                   " ORDER BY rank, rowid DESC LIMIT :limit OFFSET :offset")
            params = {"w": _ids(window), "floor": min(window)}
        else:
            order = "releases_fts.rowid DESC" if newest else "releases_fts.rank"
            sql = ("SELECT releases_fts.rowid AS id FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid"
                   f" WHERE releases_fts MATCH :q AND {where} ORDER BY {order} LIMIT :limit OFFSET :offset")
        # Rank first, then highlight only the page: snippet() on every ranked row would cost more
        # than the ranking itself.
        ranked = [r["id"] for r in self._web(sql, {**params, **page, "q": fts_query}, fts_query)]
        if not ranked:
            return []
        rows = self._web(
            f"SELECT {_HIT_COLUMNS}, highlight(releases_fts, 0, char(2), char(3)) AS marked_title,"
            f" snippet(releases_fts, -1, char(2), char(3), '…', {SNIPPET_TOKENS}) AS snippet"
            " FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid"
            " WHERE releases_fts MATCH :q AND releases_fts.rowid IN (SELECT value FROM json_each(:p))",
            {"p": _ids(ranked), "q": fts_query}, fts_query)
        by_id = {r["id"]: _hit(r, r["marked_title"] or r["title"], r["snippet"] or r["summary"] or "") for r in rows}
        return [by_id[i] for i in ranked if i in by_id]

    def _pg_web_search(self, fts_query: str, where: str, params: dict[str, object], *, limit: int, offset: int,
                       window: Sequence[int] | None, newest: bool) -> list[dict[str, object]]:
        if window is not None:
            ranked = pgreview.ranked(self, fts_query, window, limit=limit, offset=offset)
        elif newest:
            ranked = pgreview.newest(self, fts_query, offset + limit, where, params)[offset:]
        else:
            ranked = pgreview.ranked(self, fts_query, pgreview.newest(self, fts_query, None, where, params),
                                     limit=limit, offset=offset)
        if not ranked:
            return []
        snippets = pgreview.snippets(self, fts_query, ranked, open="\x02", close="\x03", tokens=SNIPPET_TOKENS)
        titles = pgreview.highlight(self, fts_query, ranked, open="\x02", close="\x03")
        rows = self._web(f"SELECT {_HIT_COLUMNS} FROM releases r WHERE r.id IN ({self.dialect.json_ids('p')})",
                         {"p": _ids(ranked)}, None)
        by_id = {r["id"]: _hit(r, titles.get(r["id"]) or r["title"], snippets.get(r["id"]) or r["summary"] or "")
                 for r in rows}
        return [by_id[i] for i in ranked if i in by_id]

    def web_facets(self, window: Sequence[int], *, date: str = "", limit: int = 12,
                   expired: Callable[[], bool] | None = None) -> dict[str, list[tuple[str, int]] | None]:
        """Return the facets of `facets` counted among the releases in `window` (see web_window).

        Rules and feeds come from the matches and sightings indexes; date, wire and place from one
        pass over the window's rows. `date` is the date filter in force (a month: count by day).
        None: not counted in time (this facet and those after it).
        """
        out: dict[str, list[tuple[str, int]] | None] = dict.fromkeys(("rule", "feed", "date", "wire", "place"))
        if not window:
            return {name: [] for name in out}
        params = {"w": _ids(window)}
        in_w = self.dialect.json_ids("w")  # the window's ids (see _ids)
        for name, sql in (
            ("rule", f"SELECT rule AS value, count(*) AS n FROM matches WHERE release_id IN ({in_w})"
                     " GROUP BY rule ORDER BY 2 DESC, 1 LIMIT :limit"),
            ("feed", "SELECT fd.name AS value, count(DISTINCT s.release_id) AS n FROM sightings s JOIN feeds fd"
                     f" ON fd.id = s.feed_id WHERE s.release_id IN ({in_w}) GROUP BY fd.name"
                     " ORDER BY 2 DESC, 1 LIMIT :limit"),
        ):
            rows = self._budgeted(sql, {**params, "limit": limit}, None, expired)
            if rows is None:
                return out
            out[name] = [(str(r["value"]), r["n"]) for r in rows]
        size = 10 if len(date) >= 7 else 7  # a month is chosen (or a day): count by day, else by month
        rows = self._budgeted(f"SELECT substr(published_at, 1, {size}) AS date, wire, dateline_place AS place"
                              f" FROM releases WHERE id IN ({in_w})", params, None, expired)
        if rows is None:
            return out
        counts: dict[str, dict[str, int]] = {"date": {}, "wire": {}, "place": {}}
        for row in rows:
            for name, found in counts.items():
                if row[name]:
                    found[row[name]] = found.get(row[name], 0) + 1
        out["date"] = sorted(counts["date"].items(), reverse=True)[:limit]
        for name in ("wire", "place"):
            out[name] = sorted(counts[name].items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return out

    def web_days(self, fts_query: str | None, *, since: datetime, until: datetime,
                 window: Sequence[int] | None = None,
                 expired: Callable[[], bool] | None = None) -> dict[str, int] | None:
        """Return {UTC day: matching releases published that day} for the days from `since` to `until`.

        None if not counted in time. With a `window` (filters in force) only its releases are counted.
        A release is published at most a day after it is first seen (normalize clamps it), and ids
        grow with first_seen_at, so a query's matches published since `since` all have an id from
        the first one seen a day earlier on: FTS5 skips every older match.
        """
        start = datetime.combine(since.astimezone(UTC).date(), datetime.min.time(), UTC)
        end = datetime.combine(until.astimezone(UTC).date(), datetime.min.time(), UTC) + timedelta(days=1)
        span = {"since": ts(start), "until": ts(end)}
        if window is not None:
            rows = self._budgeted(f"SELECT substr(published_at, 1, 10) AS day, count(*) AS n FROM releases"
                                  f" WHERE id IN ({self.dialect.json_ids('w')}) AND published_at >= :since"
                                  " AND published_at < :until GROUP BY 1", {"w": _ids(window), **span}, None, expired)
        elif not fts_query:  # the published_at index alone: no release row is read
            rows = self._budgeted("SELECT substr(published_at, 1, 10) AS day, count(*) AS n FROM releases"
                                  " WHERE published_at >= :since AND published_at < :until GROUP BY 1",
                                  span, None, expired)
        else:
            lo = self.scalar("SELECT id FROM releases WHERE first_seen_at >= :day ORDER BY first_seen_at, id"
                             " LIMIT 1", {"day": ts(start - timedelta(days=1))})
            if lo is None:
                return {}
            if self.dialect.postgres:
                if expired is not None and expired():
                    return None
                found = pgreview.newest(self, fts_query, None, "r.id >= :lo AND r.published_at >= :since"
                                        " AND r.published_at < :until", {"lo": lo, **span})
                rows = self._budgeted(f"SELECT substr(published_at, 1, 10) AS day, count(*) AS n FROM releases"
                                      f" WHERE id IN ({self.dialect.json_ids('w')}) GROUP BY 1", {"w": _ids(found)},
                                      None, expired)
            else:
                rows = self._budgeted(
                    "SELECT substr(r.published_at, 1, 10) AS day, count(*) AS n FROM releases_fts"
                    " JOIN releases r ON r.id = releases_fts.rowid WHERE releases_fts MATCH :q"
                    " AND releases_fts.rowid >= :lo AND r.published_at >= :since AND r.published_at < :until"
                    " GROUP BY 1", {"q": fts_query, "lo": lo, **span}, fts_query, expired)
        return None if rows is None else {r["day"]: r["n"] for r in rows}

    # ------------------------------------------------------------------ rules, feeds, alerts

    def web_rule_matches(self, rule: str, *, limit: int = 50,
                         before: tuple[str, int] | None = None) -> list[dict[str, object]]:
        """Return a rule's matches newest first, after the keyset `before` (matched_at, match id).

        Ordered by the (rule, matched_at) index, so a page costs the same at any depth and any
        archive size; each row carries its release's publication time to show.
        """
        cond, params = "", {"rule": rule, "limit": limit}
        if before is not None:
            cond = " AND (m.matched_at < :at OR (m.matched_at = :at AND m.id < :mid))"
            params.update(at=before[0], mid=before[1])
        rows = self.rows(
            "SELECT r.id, r.title, r.url, r.published_at, m.snippet, m.matched_at, r.source, m.id AS mid"
            f" FROM matches m JOIN releases r ON r.id = m.release_id WHERE m.rule = :rule{cond}"
            " ORDER BY m.matched_at DESC, m.id DESC LIMIT :limit", params).fetchall()
        return [{"id": r["id"], "title": r["title"], "url": r["url"] or "", "published": parse_ts(r["published_at"]),
                 "snippet": r["snippet"] or "", "matched_at": parse_ts(r["matched_at"]), "feeds": lines(r["source"]),
                 "key": (r["matched_at"], r["mid"])} for r in rows]

    def web_rule_days(self, rule: str, *, since: datetime) -> dict[str, int]:
        """Return {UTC day: releases the rule matched published that day} since `since`.

        A rule matches a release when it is first seen (or revised), at most a day before its
        publication date: the (rule, matched_at) index skips older matches.
        """
        start = datetime.combine(since.astimezone(UTC).date(), datetime.min.time(), UTC)
        return {r["day"]: r["n"] for r in self.rows(
            "SELECT substr(r.published_at, 1, 10) AS day, count(*) AS n FROM matches m"
            " JOIN releases r ON r.id = m.release_id WHERE m.rule = :rule AND m.matched_at >= :floor"
            " AND r.published_at >= :since GROUP BY 1",
            {"rule": rule, "floor": ts(start - timedelta(days=1)), "since": ts(start)})}

    def web_feed_days(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Return {feed name: {UTC day: releases it carried published that day}} since `since`.

        The first id first seen a day before `since` (one index seek) bounds the sightings read
        through their release_id index (see web_days).
        """
        start = datetime.combine(since.astimezone(UTC).date(), datetime.min.time(), UTC)
        first = self.scalar("SELECT id FROM releases WHERE first_seen_at >= :day ORDER BY first_seen_at, id"
                            " LIMIT 1", {"day": ts(start - timedelta(days=1))})
        out: dict[str, dict[str, int]] = {}
        if first is None:
            return out
        for r in self.rows("SELECT f.name, substr(r.published_at, 1, 10) AS day, count(*) AS n FROM sightings s"
                           " JOIN feeds f ON f.id = s.feed_id JOIN releases r ON r.id = s.release_id"
                           " WHERE s.release_id >= :first AND r.published_at >= :since GROUP BY 1, 2",
                           {"first": first, "since": ts(start)}):
            out.setdefault(r["name"], {})[r["day"]] = r["n"]
        return out

    def web_alerts(self, *, limit: int = 50, before_id: int | None = None) -> list[OutboxRow]:
        """Return outbox rows newest first, those with an id below `before_id` (keyset paging)."""
        if before_id is None:
            return self._outbox_rows("ORDER BY a.id DESC LIMIT :limit", {"limit": limit})
        return self._outbox_rows("WHERE a.id < :before ORDER BY a.id DESC LIMIT :limit",
                                 {"before": before_id, "limit": limit})
