"""Review: the read side of the archive (search, one release, export, rule feeds, the web view's browse/facets).

Filters are a dict with any of the keys in REVIEW_FILTERS; a `date` is a day (2024-05-01) or a month
(2024-05) of published_at. A bad FTS5 query raises QueryError naming it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Generator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from monitor.errors import QueryError
from monitor.excerpt import NARROW, WIDE, at_risk, column_of, mend
from monitor.store import pgreview
from monitor.store.base import Connection, Cursor, Params, Row, fts_message, lines, must_ts, parse_ts, tickers, ts
from monitor.store.dialect import Dialect
from monitor.store.feeds import seen_at
from monitor.store.rows import Hit, MatchRow, ReleaseDetail, Sighting, Version
from monitor.types import FTS_COLUMNS, Dateline, ReleaseView, Source

# `search` with a limit ranks at most this many matches, the newest (see ReviewStore.search).
RANK_WINDOW = 5000

REVIEW_FILTERS = ("rule", "feed", "wire", "place", "date")


def export_select(d: Dialect) -> str:
    """The SELECT of export records and rule feeds; see monitor.export.EXPORT_FIELDS for the meaning."""
    nl = d.newline()
    return (
        "SELECT r.id, r.title, r.url, r.published_at, r.published_known, r.first_seen_at, r.updated_at, r.author,"
        " r.dateline_place, r.dateline_date, r.wire, r.tickers,"
        # Names and links are one line each (config refuses control characters), so newline-joined
        # lists split back exactly.
        f" (SELECT {d.join('name', nl, 'o')} FROM (SELECT f.name, min(s.id) AS o FROM sightings s JOIN feeds f"
        "   ON f.id = s.feed_id WHERE s.release_id = r.id GROUP BY f.name ORDER BY min(s.id)) AS t) AS feeds,"
        f" (SELECT {d.join('link', nl, 'id')} FROM (SELECT link, id FROM sightings WHERE release_id = r.id"
        "   AND coalesce(link, '') <> '' ORDER BY id) AS t) AS links,"
        f" (SELECT {d.join('rule', nl, 'id')} FROM (SELECT rule, id FROM matches WHERE release_id = r.id"
        "   ORDER BY id) AS t) AS rules,"
        " r.summary, r.body, coalesce(r.story_id, r.id) AS story FROM releases r"
    )


def review_period(text: str) -> tuple[str, str]:
    """Return the [start, end) archive timestamps of a day (2024-05-01) or a month (2024-05)."""
    try:
        if len(text) == 7:
            start = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
            end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        else:
            start = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            end = datetime.combine(date.fromordinal(start.toordinal() + 1), start.timetz())
    except ValueError:
        raise QueryError(f"date filter {text!r}: expected a day (2024-05-01) or a month (2024-05)") from None
    return ts(start), ts(end)


def review_where(fts_query: str | None, filters: dict[str, str] | None, *, since: datetime | None = None,
                 until: datetime | None = None) -> tuple[str, dict[str, object]]:
    """Return the WHERE clause (over `releases r`) and its named parameters for a query plus filters."""
    clauses: list[str] = ["1 = 1"]
    params: dict[str, object] = {}
    if fts_query:
        # IN (rowids) rather than a join keeps the outer scan in rowid order: no sort, constant memory.
        clauses.append("r.id IN (SELECT rowid FROM releases_fts WHERE releases_fts MATCH :q)")
        params["q"] = fts_query
    f = filters or {}
    unknown = set(f) - set(REVIEW_FILTERS)
    if unknown:
        raise QueryError(f"unknown filter {sorted(unknown)[0]!r} (filters: {', '.join(REVIEW_FILTERS)})")
    if f.get("rule"):
        clauses.append("r.id IN (SELECT release_id FROM matches WHERE rule = :rule)")
        params["rule"] = f["rule"]
    if f.get("feed"):
        clauses.append("r.id IN (SELECT s.release_id FROM sightings s JOIN feeds fd ON fd.id = s.feed_id"
                       " WHERE fd.name = :feed)")
        params["feed"] = f["feed"]
    if f.get("wire"):
        clauses.append("r.wire = :wire")
        params["wire"] = f["wire"]
    if f.get("place"):
        clauses.append("r.dateline_place = :place")
        params["place"] = f["place"]
    if f.get("date"):
        params["date_start"], params["date_end"] = review_period(f["date"])
        clauses.append("r.published_at >= :date_start AND r.published_at < :date_end")
    if since is not None:
        clauses.append("r.published_at >= :since")
        params["since"] = ts(since)
    if until is not None:
        clauses.append("r.published_at < :until")
        params["until"] = ts(until)
    return " AND ".join(clauses), params


class ReviewStore(Connection):
    REVIEW_FILTERS = REVIEW_FILTERS

    def _where(self, fts_query: str | None, filters: dict[str, str] | None, *, since: datetime | None = None,
               until: datetime | None = None) -> tuple[str, dict[str, object]]:
        """review_where() on this archive: on PostgreSQL a query's matches are an id set (pgsearch)."""
        if not fts_query or not self.dialect.postgres:
            return review_where(fts_query, filters, since=since, until=until)
        where, params = review_where(None, filters, since=since, until=until)
        ids = pgreview.newest(self, fts_query, None, where, params)
        return f"{where} AND r.id IN ({self.dialect.json_ids('matched')})", {**params, "matched": json.dumps(ids)}

    def _review_execute(self, sql: str, params: Params, fts_query: str | None) -> Cursor:
        try:
            return self.rows(sql, params)
        except sqlite3.OperationalError as exc:
            if fts_query and ("fts5" in str(exc) or "syntax error" in str(exc) or "no such column" in str(exc)):
                raise QueryError(f"invalid query {fts_query!r}: {fts_message(exc)}") from exc
            raise

    # ------------------------------------------------------------------ search and one release

    def search(self, fts_query: str, *, limit: int | None = 20, since: datetime | None = None,
               until: datetime | None = None) -> list[Hit]:
        """Return releases matching an FTS5 query, best first (a bad query raises QueryError).

        With a limit, a query matching more than RANK_WINDOW releases is ranked among the newest
        RANK_WINDOW of them: bm25 must score every match, which for a common word in a million
        releases takes seconds, while the newest few thousand are what a press monitor's user wants.
        """
        if self.dialect.postgres:
            return self._pg_search(fts_query, limit=limit, since=since, until=until)
        where = "releases_fts MATCH :q"
        params: dict[str, object] = {"q": fts_query}
        if since is not None:
            where += " AND r.published_at >= :since"
            params["since"] = ts(since)
        if until is not None:
            where += " AND r.published_at < :until"
            params["until"] = ts(until)
        try:
            if limit is not None:
                # The window is the newest RANK_WINDOW matches *inside* since/until: counted over all
                # matches, an --until before the newest ones would leave nothing to rank.
                # (Without a period the join is left out: FTS5 walks its rowids newest first on its own.)
                source = "releases_fts"
                if since is not None or until is not None:
                    source += " JOIN releases r ON r.id = releases_fts.rowid"
                floor = self.one(f"SELECT releases_fts.rowid AS floor FROM {source} WHERE {where}"
                                 " ORDER BY releases_fts.rowid DESC LIMIT 1 OFFSET :skip",
                                 {**params, "skip": RANK_WINDOW - 1})
                if floor is not None:
                    where += " AND releases_fts.rowid >= :floor"
                    params["floor"] = floor["floor"]
            # char(8203): the zero-width spaces the index's view sets CJK characters apart with (schema.py).
            sql = ("SELECT r.id, r.title, r.url, r.published_at,"
                   f" replace(snippet(releases_fts, -1, '[', ']', '…', {NARROW}), char(8203), '') AS snippet,"
                   " releases_fts.rank AS rank"
                   f" FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid WHERE {where}"
                   " ORDER BY releases_fts.rank")
            if limit is not None:
                sql += " LIMIT :limit"
                params["limit"] = limit
            rows = self.rows(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise QueryError(f"invalid query {fts_query!r}: {fts_message(exc)}") from exc
        return self._mended([Hit.from_row(r) for r in rows], fts_query)

    def _mended(self, hits: list[Hit], fts_query: str) -> list[Hit]:
        """Hits whose snippet window cut a word or a highlight, mended from each column's wide snippet.

        The same mend() a rule's match gets (monitor/excerpt.py), so both show the same snippet; the
        wide snippets are read for the cut ones only, after the ranking chose the page.
        """
        risky = [h.id for h in hits if at_risk(h.snippet)]
        wides: dict[int, str | None] = {}
        if risky:
            n = len(FTS_COLUMNS)
            cols = ", ".join([f"replace(snippet(releases_fts, {k}, '[', ']', '…', {NARROW}), char(8203), '')"
                              for k in range(n)] + [f"replace(snippet(releases_fts, {k}, '[', ']', '…', {WIDE}),"
                                                    " char(8203), '')" for k in range(n)])
            snippets = {h.id: h.snippet for h in hits}
            for r in self.conn.execute(f"SELECT releases_fts.rowid, {cols} FROM releases_fts WHERE releases_fts"
                                       " MATCH ? AND releases_fts.rowid IN (SELECT value FROM json_each(?))",
                                       (fts_query, json.dumps(risky))):
                col = column_of(snippets[r[0]], r[1 : 1 + n])
                wides[r[0]] = None if col is None else r[1 + n + col]
        return [replace(h, snippet=mend(h.snippet, wides.get(h.id))) for h in hits]

    def _pg_search(self, fts_query: str, *, limit: int | None, since: datetime | None,
                   until: datetime | None) -> list[Hit]:
        where, params = review_where(None, None, since=since, until=until)
        window = pgreview.newest(self, fts_query, RANK_WINDOW if limit is not None else None, where, params)
        ranks = dict(pgreview.scored(self, fts_query, window, limit=limit if limit is not None else len(window)))
        ids = list(ranks)
        # Mended as SQLite's search mends them (_mended), so `search` shows a rule's match snippet.
        snippets = pgreview.snippets(self, fts_query, ids, open="[", close="]", tokens=NARROW, mend=True)
        rows = {r["id"]: r for r in self.rows(
            f"SELECT id, title, url, published_at FROM releases WHERE id IN ({self.dialect.json_ids('ids')})",
            {"ids": json.dumps(ids)})}
        return [Hit.from_row({**rows[i], "snippet": snippets.get(i, ""), "rank": ranks[i]}) for i in ids if i in rows]

    def release(self, release_id: int) -> ReleaseDetail | None:
        """Return one release with its sightings, versions and matches, or None."""
        r = self.one(f"SELECT {_VIEW_COLUMNS}, body, boilerplate, updated_at,"
                     " (SELECT quality FROM pages WHERE release_id = releases.id) AS page_quality"
                     " FROM releases WHERE id = :id", {"id": release_id})
        if r is None:
            return None
        params = {"id": release_id}
        sightings = tuple(Sighting.from_row(s) for s in self.rows(
            f"SELECT f.name AS feed, s.key, s.link, s.first_seen_at, {seen_at(self.dialect)} AS last_seen_at"
            " FROM sightings s"
            " JOIN feeds f ON f.id = s.feed_id WHERE s.release_id = :id ORDER BY s.id", params))
        versions = tuple(Version.from_row(v) for v in self.rows(
            "SELECT title, summary, body, replaced_at FROM release_versions WHERE release_id = :id ORDER BY id",
            params))
        matches = tuple(MatchRow.from_row(m) for m in self.rows(
            "SELECT rule, snippet, matched_at FROM matches WHERE release_id = :id ORDER BY id", params))
        view = _view(r, tuple(Source(s.feed, s.link) for s in sightings))
        return ReleaseDetail(view=view, body=r["body"] or "", updated=must_ts(r["updated_at"]),
                             sightings=sightings, versions=versions, matches=matches,
                             boilerplate=r["boilerplate"] or "", page_quality=r["page_quality"] or "")

    def release_view(self, release_id: int) -> ReleaseView | None:
        """Return what an alert shows of a release (no body, versions or matches), or None.

        The outbox renders one per alert: a 10,000-alert backlog should not read what it never shows.
        """
        r = self.one(f"SELECT {_VIEW_COLUMNS} FROM releases WHERE id = :id", {"id": release_id})
        if r is None:
            return None
        sources = tuple(Source(s["feed"], s["link"]) for s in self.rows(
            "SELECT f.name AS feed, s.link FROM sightings s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.release_id = :id ORDER BY s.id", {"id": release_id}))
        return _view(r, sources)

    # ------------------------------------------------------------------ rules

    def match_counts(self, now: datetime) -> dict[str, tuple[int, int, int]]:
        """Return {rule: (matched releases published in the last 24 h, last 7 days, all time)}.

        By publication date, as `rules test` counts its backtest: the two must agree on one archive."""
        rows = self.rows(
            "SELECT m.rule, sum(CASE WHEN r.published_at >= :day THEN 1 ELSE 0 END) AS day,"
            " sum(CASE WHEN r.published_at >= :week THEN 1 ELSE 0 END) AS week,"
            " count(*) AS total FROM matches m JOIN releases r ON r.id = m.release_id GROUP BY m.rule",
            {"day": ts(now - timedelta(days=1)), "week": ts(now - timedelta(days=7))})
        return {r["rule"]: (r["day"], r["week"], r["total"]) for r in rows}

    def rule_matches(self, rule: str, *, limit: int = 50) -> list[dict[str, object]]:
        """Return a rule's most recent matches, newest first, each with its release's columns."""
        rows = self.rows(
            "SELECT r.id, r.title, r.url, r.published_at, r.updated_at, r.summary, r.author, m.snippet,"
            " m.matched_at, r.source, r.body FROM matches m JOIN releases r ON r.id = m.release_id"
            " WHERE m.rule = :rule"
            " ORDER BY m.matched_at DESC, m.id DESC LIMIT :limit", {"rule": rule, "limit": limit})
        return [{"id": r["id"], "title": r["title"], "url": r["url"] or "", "published": parse_ts(r["published_at"]),
                 "updated": parse_ts(r["updated_at"]), "summary": r["summary"] or "", "author": r["author"] or "",
                 "snippet": r["snippet"] or "", "matched_at": parse_ts(r["matched_at"]),
                 "feeds": lines(r["source"]), "body": r["body"] or ""} for r in rows]

    def rule_stats(self) -> dict[str, tuple[int, datetime | None]]:
        """Return {rule: (matches, last matched)} for every rule with at least one match."""
        return {r["rule"]: (r["n"], parse_ts(r["last"])) for r in self.rows(
            "SELECT rule, count(*) AS n, max(matched_at) AS last FROM matches GROUP BY rule")}

    # ------------------------------------------------------------------ the web view: browse and facets

    def browse(self, fts_query: str | None, filters: dict[str, str] | None = None, *, limit: int = 25,
               offset: int = 0) -> list[dict[str, object]]:
        """Return one page of matching releases: best first for a query, else newest first."""
        if fts_query and self.dialect.postgres:
            return self._pg_browse(fts_query, filters, limit=limit, offset=offset)
        where, params = review_where(fts_query, filters)
        params.update(limit=limit, offset=offset)
        if fts_query:
            # \x02 and \x03 mark the matched terms; the web view turns them into <mark> after escaping.
            sql = (f"SELECT r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place,"
                   f" replace(snippet(releases_fts, -1, char(2), char(3), '…', 24), char(8203), '') AS snippet"
                   f" FROM releases_fts"
                   f" JOIN releases r ON r.id = releases_fts.rowid WHERE releases_fts MATCH :q AND {where}"
                   f" ORDER BY releases_fts.rank LIMIT :limit OFFSET :offset")
        else:
            sql = (f"SELECT r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place,"
                   f" substr(r.summary, 1, 240) AS snippet FROM releases r WHERE {where}"
                   f" ORDER BY r.published_at DESC, r.id DESC LIMIT :limit OFFSET :offset")
        rows = self._review_execute(sql, params, fts_query).fetchall()
        return [{"id": r["id"], "title": r["title"], "url": r["url"] or "", "published": parse_ts(r["published_at"]),
                 "feeds": lines(r["source"]), "wire": r["wire"] or "", "place": r["dateline_place"] or "",
                 "snippet": r["snippet"] or ""} for r in rows]

    def _pg_browse(self, fts_query: str, filters: dict[str, str] | None, *, limit: int,
                   offset: int) -> list[dict[str, object]]:
        where, params = review_where(None, filters)
        ids = pgreview.ranked(self, fts_query, pgreview.newest(self, fts_query, None, where, params), limit=limit,
                              offset=offset)
        snippets = pgreview.snippets(self, fts_query, ids, open="\x02", close="\x03", tokens=24)
        rows = {r["id"]: r for r in self.rows(
            "SELECT r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place FROM releases r"
            f" WHERE r.id IN ({self.dialect.json_ids('ids')})", {"ids": json.dumps(ids)})}
        return [{"id": r["id"], "title": r["title"], "url": r["url"] or "", "published": parse_ts(r["published_at"]),
                 "feeds": lines(r["source"]), "wire": r["wire"] or "", "place": r["dateline_place"] or "",
                 "snippet": snippets.get(i, "")} for i in ids if (r := rows.get(i)) is not None]

    def facets(self, fts_query: str | None, filters: dict[str, str] | None = None, *, limit: int = 12,
               expired: Callable[[], bool] | None = None) -> dict[str, list[tuple[str, int]] | None]:
        """Return {facet: [(value, releases)]} for the matching set; None for facets not counted in time.

        `expired` is polled while counting: once it returns True the facet being counted and those
        after it are given up, so a broad query over a huge archive still answers promptly.
        """
        f = dict(filters or {})
        where, params = self._where(fts_query, f)
        params["limit"] = limit
        day = f.get("date", "")
        # A month is chosen (or none): count by day inside it, else by month.
        date_expr = "substr(r.published_at, 1, 10)" if len(day) >= 7 else "substr(r.published_at, 1, 7)"
        # Cheapest first (rules and feeds go through small indexes), so a tight budget still shows them.
        queries = {
            "rule": ("SELECT m.rule AS value, count(DISTINCT r.id) AS n FROM matches m"
                     f" JOIN releases r ON r.id = m.release_id WHERE {where} GROUP BY m.rule ORDER BY 2 DESC, 1"
                     " LIMIT :limit"),
            "feed": ("SELECT fd.name AS value, count(DISTINCT r.id) AS n FROM sightings s"
                     " JOIN feeds fd ON fd.id = s.feed_id JOIN releases r ON r.id = s.release_id"
                     f" WHERE {where} GROUP BY fd.name ORDER BY 2 DESC, 1 LIMIT :limit"),
            "date": (f"SELECT {date_expr} AS value, count(*) AS n FROM releases r WHERE {where}"
                     " GROUP BY 1 ORDER BY 1 DESC LIMIT :limit"),
            "wire": (f"SELECT r.wire AS value, count(*) AS n FROM releases r WHERE {where}"
                     " AND r.wire IS NOT NULL AND r.wire <> '' GROUP BY r.wire ORDER BY 2 DESC, 1 LIMIT :limit"),
            "place": (f"SELECT r.dateline_place AS value, count(*) AS n FROM releases r WHERE {where}"
                      " AND r.dateline_place <> '' GROUP BY r.dateline_place ORDER BY 2 DESC, 1 LIMIT :limit"),
        }
        out: dict[str, list[tuple[str, int]] | None] = dict.fromkeys(queries)
        with self.driver.budget(expired):
            for name, sql in queries.items():
                if expired is not None and expired():
                    break
                try:
                    out[name] = [(str(r["value"]), r["n"]) for r in self._review_execute(sql, params, fts_query)]
                except Exception as exc:
                    if not self.driver.interrupted(exc):
                        raise
                    break
        return out

    # ------------------------------------------------------------------ export

    def export_count(self, *, fts_query: str | None = None, filters: dict[str, str] | None = None,
                     since: datetime | None = None, until: datetime | None = None) -> int:
        """Return how many releases export_records() would yield."""
        if fts_query and self.dialect.postgres:  # counted by the server, never a list of every matching id
            where, params = review_where(None, filters, since=since, until=until)
            return pgreview.count(self, fts_query, where, params)
        where, params = self._where(fts_query, filters, since=since, until=until)
        row = self._review_execute(f"SELECT count(*) AS n FROM releases r WHERE {where}", params,
                                   fts_query).fetchone()
        n: int = row["n"]
        return n

    def export_records(self, *, fts_query: str | None = None, filters: dict[str, str] | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       batch: int = 500) -> Generator[dict[str, object], None, None]:
        """Yield every matching release as an export record (oldest id first), `batch` rows in memory at most."""
        if fts_query and self.dialect.postgres:
            yield from self._pg_export_records(fts_query, filters, since=since, until=until, batch=batch)
            return
        where, params = self._where(fts_query, filters, since=since, until=until)
        cur = self._review_execute(f"{export_select(self.dialect)} WHERE {where} ORDER BY r.id", params, fts_query)
        try:
            while rows := cur.fetchmany(batch):
                for r in rows:
                    yield _export_record(r)
        finally:
            try:  # noqa: SIM105 (contextlib.suppress would hide which error is expected)
                cur.close()
            except Exception:  # noqa: BLE001 - the store was closed first (a consumer that stopped early)
                pass


    def _pg_export_records(self, fts_query: str, filters: dict[str, str] | None, *, since: datetime | None,
                           until: datetime | None, batch: int) -> Generator[dict[str, object], None, None]:
        """export_records() of a query on PostgreSQL: the matches are found one id range at a time
        (EXPORT_SPAN ids, oldest first), so memory holds one range's matching ids, not the archive's,
        as SQLite's one cursor over FTS5 holds none."""
        where, params = review_where(None, filters, since=since, until=until)
        bounds = self.one("SELECT min(id) AS lo, max(id) AS hi FROM releases")
        if bounds is None or bounds["lo"] is None:
            return
        for lo in range(int(bounds["lo"]), int(bounds["hi"]) + 1, EXPORT_SPAN):
            ids = sorted(pgreview.newest(self, fts_query, None, f"{where} AND r.id >= :span_lo AND r.id < :span_hi",
                                         {**params, "span_lo": lo, "span_hi": lo + EXPORT_SPAN}))
            for start in range(0, len(ids), batch):
                rows = self.rows(f"{export_select(self.dialect)} WHERE r.id IN ({self.dialect.json_ids('ids')})"
                                 " ORDER BY r.id", {"ids": json.dumps(ids[start:start + batch])}).fetchall()
                for r in rows:
                    yield _export_record(r)


# PostgreSQL's export of a query reads its matches in id ranges this wide (at most this many ids in memory).
EXPORT_SPAN = 50_000

_VIEW_COLUMNS = ("id, title, url, published_at, first_seen_at, author, summary, dateline_place, dateline_date, wire,"
                 " tickers")


def _view(r: Row, sources: tuple[Source, ...]) -> ReleaseView:
    """The ReleaseView of a `releases` row read with _VIEW_COLUMNS."""
    dateline = None
    if r["dateline_place"] or r["wire"]:
        dateline = Dateline(place=r["dateline_place"] or "",
                            date=date.fromisoformat(r["dateline_date"]) if r["dateline_date"] else None,
                            wire=r["wire"] or "")
    return ReleaseView(
        id=r["id"], title=r["title"], url=r["url"] or "", published=must_ts(r["published_at"]),
        first_seen=must_ts(r["first_seen_at"]), author=r["author"] or "", summary=r["summary"] or "",
        dateline=dateline, tickers=tuple(tickers(r["tickers"])), sources=sources,
    )


def _export_record(r: Row) -> dict[str, Any]:
    return {
        "id": r["id"], "title": r["title"], "url": r["url"] or "", "published": r["published_at"],
        "published_known": bool(r["published_known"]), "first_seen": r["first_seen_at"],
        "updated": r["updated_at"], "author": r["author"] or "",
        "dateline_place": r["dateline_place"] or None, "dateline_date": r["dateline_date"] or None,
        "wire": r["wire"] or None, "tickers": tickers(r["tickers"]), "feeds": lines(r["feeds"]),
        "links": lines(r["links"]), "rules": lines(r["rules"]), "summary": r["summary"] or "", "body": r["body"] or "",
        "story": r["story"],
    }


