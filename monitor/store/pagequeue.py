"""The page queue (full text): one row per release whose page is to be fetched.

    pending -> done     the page text is the release's body
            -> skipped  not fetched on purpose (unsafe address, robots.txt, not HTML, no text)
            -> failed   gave up (404/403, too large, failing after the retries)
    a pending page whose attempt failed waits for next_attempt_at.

Rows are queued inside the poll's transaction (like the outbox), so a crash or restart loses no page;
nothing is marked "in progress", so a page in flight at a crash is simply fetched again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from monitor.store.base import Connection, Row, chunks, in_list, parse_ts, ts
from monitor.types import Dateline

_PAGES_SELECT = (
    "SELECT p.id, p.release_id, p.url, p.feed, p.feed_url, p.host, p.status, p.attempts, p.next_attempt_at,"
    " p.last_error, p.error_kind, p.method, p.created_at, p.done_at, r.title, r.summary, p.quality FROM pages p"
    " LEFT JOIN releases r ON r.id = p.release_id"
)
# The feed gave no tickers: '' (old rows) or an empty JSON list.
_NO_TICKERS = "coalesce(tickers, '') IN ('', '[]')"


@dataclass(frozen=True)
class PageRow:
    id: int
    release_id: int
    url: str
    feed: str
    feed_url: str
    host: str
    status: str  # pending | done | failed | skipped
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    error_kind: str | None
    method: str | None
    created_at: datetime | None
    done_at: datetime | None
    title: str
    summary: str = ""  # the feed's text of the release: its first words anchor the release in the page
    quality: str | None = None  # a page-quality flag ("anchor-missing"), None when the text was trusted


def page_host(url: str) -> str:
    """Return the lower-case host of an http(s) URL ("" for anything else): pages are rationed by it."""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".") if url.startswith(("http://", "https://")) else ""
    except ValueError:
        return ""


def _page_row(r: Row) -> PageRow:
    return PageRow(r["id"], r["release_id"], r["url"] or "", r["feed"] or "", r["feed_url"] or "", r["host"] or "",
                   r["status"], r["attempts"] or 0, parse_ts(r["next_attempt_at"]), r["last_error"], r["error_kind"],
                   r["method"], parse_ts(r["created_at"]), parse_ts(r["done_at"]), r["title"] or "",
                   r["summary"] or "", r["quality"] or None)


class PageStore(Connection):
    def queue_page(self, release_id: int, url: str, feed: str, feed_url: str, now: datetime) -> bool:
        """Queue a release's page (due now); return False when it is queued already."""
        cur = self.run(self.dialect.ignore(
            "INSERT INTO pages (release_id, url, feed, feed_url, host, status, attempts, next_attempt_at,"
            " created_at) VALUES (:rid, :url, :feed, :feed_url, :host, 'pending', 0, :now, :now)"),
            {"rid": release_id, "url": url, "feed": feed, "feed_url": feed_url, "host": page_host(url),
             "now": ts(now)})
        return cur.rowcount == 1

    def requeue_page(self, release_id: int, now: datetime) -> bool:
        """Fetch a release's page again (its feed text was revised); return False when it has no such row."""
        return self.run(
            "UPDATE pages SET status = 'pending', attempts = 0, next_attempt_at = :now, done_at = NULL"
            " WHERE release_id = :rid AND status IN ('done', 'failed')", {"now": ts(now), "rid": release_id}
        ).rowcount == 1

    def due_pages(self, now: datetime, *, limit: int = 1000, created_since: datetime | None = None) -> list[PageRow]:
        """Return pending pages due now, oldest first (only those queued since created_since, if given)."""
        sql = f"{_PAGES_SELECT} WHERE p.status = 'pending' AND p.next_attempt_at <= :now"
        params: dict[str, object] = {"now": ts(now), "limit": limit}
        if created_since is not None:
            sql += " AND p.created_at >= :since"
            params["since"] = ts(created_since)
        return [_page_row(r) for r in self.rows(sql + " ORDER BY p.next_attempt_at, p.id LIMIT :limit", params)]

    def page_due(self, page_id: int, now: datetime) -> bool:
        """Whether the page is still pending and due (a node re-reads what it just claimed)."""
        return self.one("SELECT 1 AS due FROM pages WHERE id = :id AND status = 'pending' AND next_attempt_at <= :now",
                        {"id": page_id, "now": ts(now)}) is not None

    def next_page_due(self) -> datetime | None:
        """Return when the earliest pending page is due (None: nothing pending)."""
        return parse_ts(self.scalar("SELECT min(next_attempt_at) FROM pages WHERE status = 'pending'"))

    def pages(self, *, status: str | None = None, limit: int = 50) -> list[PageRow]:
        """Return page queue rows, newest first, optionally of one status."""
        sql, params = f"{_PAGES_SELECT} WHERE 1 = 1", dict[str, object](limit=limit)
        if status:
            sql += " AND p.status = :status"
            params["status"] = status
        return [_page_row(r) for r in self.rows(sql + " ORDER BY p.id DESC LIMIT :limit", params)]

    def page_counts(self) -> dict[str, int]:
        """Return {status: pages} over the whole queue."""
        return {r["status"]: r["n"] for r in self.rows("SELECT status, count(*) AS n FROM pages GROUP BY status")}

    def page_failures(self) -> dict[str, int]:
        """Return {feed: pages failed} for feeds with failed pages."""
        return {r["feed"]: r["n"] for r in self.rows(
            "SELECT feed, count(*) AS n FROM pages WHERE status = 'failed' GROUP BY feed")}

    def apply_page(self, release_id: int, body: str, dateline: Dateline | None, tickers: Sequence[str],
                   boilerplate: str = "") -> None:
        """Make page text the release's body (its cut end matter the boilerplate); dateline and tickers
        only where the feed gave none.

        Not a revision: no version is kept and the content hash (the feed text's) stays.
        """
        d = dateline
        text = " ".join(p for p in (d.place, d.date.isoformat() if d.date else "", d.wire) if p) if d else ""
        no_dateline = "coalesce(dateline, '') = ''"
        self.run(
            f"UPDATE releases SET body = :body, boilerplate = :boilerplate,"
            f" dateline_place = CASE WHEN {no_dateline} THEN :place ELSE dateline_place END,"
            f" dateline_date = CASE WHEN {no_dateline} THEN :date ELSE dateline_date END,"
            f" wire = CASE WHEN {no_dateline} THEN :wire ELSE wire END,"
            f" dateline = CASE WHEN {no_dateline} THEN :dateline ELSE dateline END,"
            f" tickers = CASE WHEN {_NO_TICKERS} THEN :tickers ELSE tickers END WHERE id = :id",
            {"body": body, "boilerplate": boilerplate, "place": d.place if d else None,
             "date": d.date.isoformat() if d and d.date else None,
             "wire": d.wire if d else None, "dateline": text, "tickers": json.dumps(list(tickers)), "id": release_id})

    def finish_page(self, page_id: int, now: datetime, *, status: str, error: str | None = None,
                    kind: str | None = None, method: str | None = None, next_attempt: datetime | None = None,
                    quality: str | None = None) -> None:
        """Record one attempt: done / skipped / failed, or still pending until next_attempt."""
        self.run(
            "UPDATE pages SET status = :status, attempts = attempts + 1, last_error = :error, error_kind = :kind,"
            " method = coalesce(:method, method), next_attempt_at = :next, done_at = :done, quality = :quality"
            " WHERE id = :id",
            {"status": status, "error": error[:1000] if error else None, "kind": kind, "method": method,
             "next": ts(next_attempt) if next_attempt else None, "done": ts(now) if status != "pending" else None,
             "quality": quality or None, "id": page_id})

    def defer_pages(self, ids: Sequence[int], until: datetime) -> None:
        """Push pages' next attempt to `until` without counting an attempt (their host asked us to wait)."""
        for chunk in chunks(list(ids)):
            marks, params = in_list(chunk)
            self.run(f"UPDATE pages SET next_attempt_at = :until WHERE id IN ({marks})", {**params, "until": ts(until)})

    def queue_backfill(self, since: datetime, feeds: Sequence[str], now: datetime) -> int:
        """Queue the pages of releases published since `since` carried by these feeds; requeue failed ones.

        Return how many pages are pending for them afterwards.
        """
        if not feeds:
            return 0
        marks, params = in_list(list(feeds), "f")
        params.update(now=ts(now), since=ts(since))
        self.run(
            f"UPDATE pages SET status = 'pending', attempts = 0, next_attempt_at = :now WHERE status = 'failed'"
            f" AND feed IN ({marks}) AND release_id IN (SELECT id FROM releases WHERE published_at >= :since)", params)
        # One page per release: the link of the first sighting among these feeds.
        self.run(self.dialect.ignore(
            f"INSERT INTO pages (release_id, url, feed, feed_url, host, status, attempts, next_attempt_at,"
            f" created_at) SELECT s.release_id, s.link, f.name, f.url, '', 'pending', 0, :now, :now FROM sightings s"
            f" JOIN feeds f ON f.id = s.feed_id JOIN releases r ON r.id = s.release_id"
            f" WHERE r.published_at >= :since AND f.name IN ({marks}) AND coalesce(s.link, '') <> ''"
            f" AND s.id = (SELECT min(s2.id) FROM sightings s2 JOIN feeds f2 ON f2.id = s2.feed_id"
            f"   WHERE s2.release_id = s.release_id AND f2.name IN ({marks}) AND coalesce(s2.link, '') <> '')"),
            params)
        for r in self.rows("SELECT id, url FROM pages WHERE host = ''").fetchall():
            host = page_host(r["url"])
            if host:
                self.run("UPDATE pages SET host = :host WHERE id = :id", {"host": host, "id": r["id"]})
        n: int = self.scalar(
            f"SELECT count(*) FROM pages p JOIN releases r ON r.id = p.release_id WHERE p.status = 'pending'"
            f" AND p.feed IN ({marks}) AND r.published_at >= :since", params)
        return n
