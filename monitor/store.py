"""The archive: the only module that speaks SQL (sqlite-utils for the schema, plain SQL on the hot path).

One SQLite file in WAL mode, so readers (CLI, web view) never block the writer (daemon). Each feed
poll is one `BEGIN IMMEDIATE` transaction (`Store.transaction()`): a crash leaves the archive as
before or after the poll, never between. The schema is versioned with PRAGMA user_version; each
version has one migration step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlite_utils

from monitor.errors import QueryError, StoreError
from monitor.types import (
    FTS_COLUMNS,
    FTS_TOKENIZE,
    Dateline,
    Doc,
    FeedState,
    Notice,
    Release,
    ReleaseView,
    Source,
)

SCHEMA_VERSION = 1
# SQLite's IN (...) takes at most 32766 parameters; stay far below for lookups of one batch.
_CHUNK = 500


def ts(when: datetime) -> str:
    """Return the archive's timestamp text for a UTC datetime (sorts lexicographically)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str | None) -> datetime | None:
    """Return the UTC datetime for archive timestamp text, or None."""
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --------------------------------------------------------------------------- values read back


@dataclass(frozen=True)
class FeedRow:
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    last_polled_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    entries: int  # sightings from this feed


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    url: str
    published: datetime
    snippet: str
    rank: float


@dataclass(frozen=True)
class Sighting:
    feed: str
    key: str
    link: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Version:
    title: str
    summary: str
    body: str
    replaced_at: datetime


@dataclass(frozen=True)
class MatchRow:
    rule: str
    snippet: str
    matched_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    id: int
    alert_id: str
    release_id: int
    rule: str
    channel: str
    status: str  # pending | sent | dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    digest_id: str | None
    title: str


@dataclass(frozen=True)
class ReleaseDetail:
    view: ReleaseView
    body: str
    updated: datetime
    sightings: tuple[Sighting, ...]
    versions: tuple[Version, ...]
    matches: tuple[MatchRow, ...]


# --------------------------------------------------------------------------- the store


class Store:
    """An open archive. Not shared between threads: open one per thread (they are cheap)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"{self.path}: no archive here yet (run `press-monitor run --once` first)")
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None)
            # Another process (daemon vs CLI) may hold the write lock for one poll: wait, don't fail.
            conn.execute("PRAGMA busy_timeout = 15000")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the archive: {exc}") from exc
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
            # the last commits, which then are simply polled again.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        elif self.version() != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: archive schema {self.version()} but this press-monitor "
                             f"reads schema {SCHEMA_VERSION}; run the daemon or `run --once` to migrate")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema

    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: archive schema {current} is newer than this press-monitor "
                             f"({SCHEMA_VERSION}); upgrade press-monitor")
        steps = {1: self._schema_v1}
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                steps[version]()
                self.conn.execute(f"PRAGMA user_version = {version}")

    def _schema_v1(self) -> None:
        db = self.db
        db["feeds"].create(
            {"id": int, "name": str, "url": str, "etag": str, "last_modified": str,
             "last_polled_at": str, "last_ok_at": str, "last_error": str, "last_error_kind": str,
             "consecutive_failures": int, "retry_after_until": str, "next_poll_at": str,
             "gone": int, "redirect_to": str, "redirect_since": str, "entries": int},
            pk="id", not_null={"name", "url"}, defaults={"consecutive_failures": 0, "gone": 0, "entries": 0},
        )
        db["feeds"].create_index(["name"], unique=True)
        db["releases"].create(
            {"id": int, "url": str, "title": str, "summary": str, "body": str, "author": str,
             "dateline": str, "tickers": str, "source": str,
             "published_at": str, "published_known": int, "first_seen_at": str, "updated_at": str,
             "dateline_place": str, "dateline_date": str, "wire": str,
             "fingerprint": str, "content_hash": str},
            pk="id", not_null={"title", "published_at", "first_seen_at", "fingerprint"},
        )
        db["releases"].create_index(["url"])
        db["releases"].create_index(["fingerprint"])
        db["releases"].create_index(["published_at"])
        db["releases"].create_index(["first_seen_at"])
        db["sightings"].create(
            {"id": int, "feed_id": int, "release_id": int, "key": str, "link": str,
             "content_hash": str, "first_seen_at": str, "last_seen_at": str},
            pk="id", foreign_keys=[("feed_id", "feeds", "id"), ("release_id", "releases", "id")],
            not_null={"feed_id", "release_id", "key"},
        )
        db["sightings"].create_index(["feed_id", "key"], unique=True)
        db["sightings"].create_index(["release_id"])
        db["release_versions"].create(
            {"id": int, "release_id": int, "title": str, "summary": str, "body": str, "author": str,
             "published_at": str, "content_hash": str, "replaced_at": str},
            pk="id", foreign_keys=[("release_id", "releases", "id")], not_null={"release_id"},
        )
        db["release_versions"].create_index(["release_id"])
        db["matches"].create(
            {"id": int, "release_id": int, "rule": str, "snippet": str, "matched_at": str},
            pk="id", foreign_keys=[("release_id", "releases", "id")], not_null={"release_id", "rule"},
        )
        db["matches"].create_index(["release_id", "rule"], unique=True)
        db["matches"].create_index(["rule", "matched_at"])
        db["alerts"].create(
            {"id": int, "release_id": int, "rule": str, "channel": str, "status": str,
             "attempts": int, "next_attempt_at": str, "last_error": str, "created_at": str,
             "sent_at": str, "digest_id": str},
            pk="id", foreign_keys=[("release_id", "releases", "id")],
            not_null={"release_id", "rule", "channel", "status"}, defaults={"attempts": 0, "status": "pending"},
        )
        db["alerts"].create_index(["release_id", "rule", "channel"], unique=True)
        db["alerts"].create_index(["status", "next_attempt_at"])
        db["channels"].create({"name": str, "disabled_at": str, "disabled_reason": str}, pk="name")
        db["meta"].create({"key": str, "value": str}, pk="key")
        # A random id per archive makes alert ids unique across installations sending to one receiver.
        self.conn.execute("INSERT INTO meta (key, value) VALUES ('install_id', lower(hex(randomblob(4))))")
        # External-content FTS5 over the releases columns, kept in sync by triggers: the text is
        # stored once, and search can never see a release that is not in the table.
        db["releases"].enable_fts(list(FTS_COLUMNS), fts_version="FTS5", tokenize=FTS_TOKENIZE,
                                  create_triggers=True)
        # Title hits count most, then summary/tickers: bm25 weights per column in FTS_COLUMNS order.
        self.conn.execute(
            "INSERT INTO releases_fts(releases_fts, rank) VALUES ('rank', 'bm25(10.0, 4.0, 1.0, 2.0, 2.0, 4.0, 1.0)')"
        )

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock up front (no upgrade deadlocks)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ feeds

    def feed_id(self, name: str, url: str) -> int:
        """Return the feed's id, creating the row (or updating its URL) as needed."""
        row = self.conn.execute("SELECT id, url FROM feeds WHERE name = ?", (name,)).fetchone()
        if row is None:
            return self.conn.execute("INSERT INTO feeds (name, url) VALUES (?, ?)", (name, url)).lastrowid
        if row[1] != url:
            self.conn.execute("UPDATE feeds SET url = ?, etag = NULL, last_modified = NULL WHERE id = ?",
                              (url, row[0]))
        return row[0]

    def feed_state(self, name: str, url: str) -> FeedState:
        """Return the validators for a conditional GET of this feed (empty if never polled or URL changed)."""
        row = self.conn.execute("SELECT url, etag, last_modified FROM feeds WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] != url:
            return FeedState(url=url)
        return FeedState(url=url, etag=row[1], last_modified=row[2])

    def record_poll(self, feed_id: int, now: datetime, *, error: str | None = None, error_kind: str | None = None,
                    etag: str | None = None, last_modified: str | None = None,
                    retry_after: float | None = None) -> None:
        """Record the outcome of one poll: validators and health on success, the error and streak on failure."""
        when = ts(now)
        if error is None:
            self.conn.execute(
                "UPDATE feeds SET last_polled_at = ?, last_ok_at = ?, last_error = NULL, last_error_kind = NULL,"
                " consecutive_failures = 0, retry_after_until = NULL,"
                " etag = coalesce(?, etag), last_modified = coalesce(?, last_modified) WHERE id = ?",
                (when, when, etag, last_modified, feed_id),
            )
        else:
            until = None
            if retry_after:
                until = ts(datetime.fromtimestamp(now.timestamp() + retry_after, UTC))
            self.conn.execute(
                "UPDATE feeds SET last_polled_at = ?, last_error = ?, last_error_kind = ?,"
                " consecutive_failures = consecutive_failures + 1, retry_after_until = ? WHERE id = ?",
                (when, error, error_kind, until, feed_id),
            )

    def feeds(self) -> list[FeedRow]:
        rows = self.conn.execute(
            "SELECT name, url, etag, last_modified, last_polled_at, last_ok_at, last_error,"
            " consecutive_failures, entries FROM feeds ORDER BY name"
        ).fetchall()
        return [FeedRow(r[0], r[1], r[2], r[3], parse_ts(r[4]), parse_ts(r[5]), r[6], r[7] or 0, r[8] or 0)
                for r in rows]

    # ------------------------------------------------------------------ ingest (inside a transaction)

    def known(self, feed_id: int, items: Sequence[Release]) -> tuple[dict, dict, dict]:
        """Return (sightings, urls, fingerprints) the archive holds for this batch's keys."""
        sightings: dict[str, tuple[int, str]] = {}
        for chunk in _chunks([i.sighting_key for i in items]):
            q = f"SELECT key, release_id, content_hash FROM sightings WHERE feed_id = ? AND key IN ({_marks(chunk)})"
            for key, rid, h in self.conn.execute(q, (feed_id, *chunk)):
                sightings[key] = (rid, h)
        urls: dict[str, int] = {}
        for chunk in _chunks(sorted({i.url for i in items if i.url})):
            q = f"SELECT url, min(id) FROM releases WHERE url IN ({_marks(chunk)}) GROUP BY url"
            urls.update(self.conn.execute(q, chunk).fetchall())
        fps: dict[str, int] = {}
        for chunk in _chunks(sorted({i.fingerprint for i in items})):
            q = f"SELECT fingerprint, min(id) FROM releases WHERE fingerprint IN ({_marks(chunk)}) GROUP BY fingerprint"
            fps.update(self.conn.execute(q, chunk).fetchall())
        return sightings, urls, fps

    def insert_release(self, item: Release, feed_name: str, now: datetime) -> int:
        """Insert a new release first seen in `feed_name`; return its id."""
        d = item.dateline
        return self.conn.execute(
            "INSERT INTO releases (url, title, summary, body, author, dateline, tickers, source, published_at,"
            " published_known, first_seen_at, updated_at, dateline_place, dateline_date, wire, fingerprint,"
            " content_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (item.url, item.title, item.summary, item.body, item.author, item.dateline_text,
             " ".join(item.tickers), feed_name, ts(item.published_at), int(item.published_known), ts(now),
             ts(now), d.place if d else None, d.date.isoformat() if d and d.date else None,
             d.wire if d else None, item.fingerprint, item.content_hash),
        ).lastrowid

    def revise_release(self, release_id: int, item: Release, now: datetime) -> None:
        """Keep the current text in release_versions, then replace it with the item's."""
        self.conn.execute(
            "INSERT INTO release_versions (release_id, title, summary, body, author, published_at, content_hash,"
            " replaced_at) SELECT id, title, summary, body, author, published_at, content_hash, ? FROM releases"
            " WHERE id = ?",
            (ts(now), release_id),
        )
        d = item.dateline
        self.conn.execute(
            "UPDATE releases SET title = ?, summary = ?, body = ?, author = ?, dateline = ?, tickers = ?,"
            " published_at = CASE WHEN ? THEN ? ELSE published_at END, updated_at = ?, dateline_place = ?,"
            " dateline_date = ?, wire = ?, fingerprint = ?, content_hash = ? WHERE id = ?",
            (item.title, item.summary, item.body, item.author, item.dateline_text, " ".join(item.tickers),
             int(item.published_known), ts(item.published_at), ts(now), d.place if d else None,
             d.date.isoformat() if d and d.date else None, d.wire if d else None, item.fingerprint,
             item.content_hash, release_id),
        )

    def add_sighting(self, feed_id: int, feed_name: str, release_id: int, item: Release, now: datetime) -> None:
        """Record that a feed carries a release; add the feed's name to the release's `source` column."""
        self.conn.execute(
            "INSERT INTO sightings (feed_id, release_id, key, link, content_hash, first_seen_at, last_seen_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (feed_id, release_id, item.sighting_key, item.link, item.content_hash, ts(now), ts(now)),
        )
        self.conn.execute("UPDATE feeds SET entries = entries + 1 WHERE id = ?", (feed_id,))
        self.conn.execute(
            "UPDATE releases SET source = source || char(10) || ? WHERE id = ?"
            " AND instr(char(10) || source || char(10), char(10) || ? || char(10)) = 0",
            (feed_name, release_id, feed_name),
        )

    def update_sighting(self, feed_id: int, item: Release, now: datetime) -> None:
        self.conn.execute(
            "UPDATE sightings SET content_hash = ?, link = ?, last_seen_at = ? WHERE feed_id = ? AND key = ?",
            (item.content_hash, item.link, ts(now), feed_id, item.sighting_key),
        )

    def docs(self, release_ids: Iterable[int]) -> list[Doc]:
        """Return the searchable columns of these releases as Docs keyed by release id."""
        out: list[Doc] = []
        for chunk in _chunks(sorted(set(release_ids))):
            q = (f"SELECT id, title, summary, body, author, dateline, tickers, source FROM releases"
                 f" WHERE id IN ({_marks(chunk)})")
            for r in self.conn.execute(q, chunk):
                out.append(Doc(key=r[0], title=r[1] or "", summary=r[2] or "", body=r[3] or "",
                               author=r[4] or "", dateline=r[5] or "", tickers=r[6] or "",
                               feeds=tuple((r[7] or "").split("\n"))))
        return out

    def add_match(self, release_id: int, rule: str, snippet: str, now: datetime) -> bool:
        """Record a match; return False when this rule had already matched this release."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO matches (release_id, rule, snippet, matched_at) VALUES (?,?,?,?)",
            (release_id, rule, snippet, ts(now)),
        )
        return cur.rowcount == 1

    def add_alert(self, release_id: int, rule: str, channel: str, now: datetime) -> bool:
        """Queue an alert in the outbox (due now); return False when it already existed."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO alerts (release_id, rule, channel, status, attempts, next_attempt_at,"
            " created_at) VALUES (?,?,?,'pending',0,?,?)",
            (release_id, rule, channel, ts(now), ts(now)),
        )
        return cur.rowcount == 1

    def published_at(self, release_id: int) -> datetime:
        return parse_ts(self.conn.execute("SELECT published_at FROM releases WHERE id = ?",
                                          (release_id,)).fetchone()[0])

    # ------------------------------------------------------------------ reading

    def search(self, fts_query: str, *, limit: int | None = 20, since: datetime | None = None,
               until: datetime | None = None, ids: Iterable[int] | None = None) -> list[Hit]:
        """Return releases matching an FTS5 query, best first (a bad query raises QueryError)."""
        sql = ("SELECT r.id, r.title, r.url, r.published_at,"
               " snippet(releases_fts, -1, '[', ']', '…', 16), releases_fts.rank"
               " FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid WHERE releases_fts MATCH ?")
        args: list[object] = [fts_query]
        if since is not None:
            sql += " AND r.published_at >= ?"
            args.append(ts(since))
        if until is not None:
            sql += " AND r.published_at < ?"
            args.append(ts(until))
        sql += " ORDER BY releases_fts.rank"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        try:
            rows = self.conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise QueryError(f"invalid query {fts_query!r}: {_fts_message(exc)}") from exc
        return [Hit(r[0], r[1], r[2] or "", parse_ts(r[3]), r[4] or "", r[5]) for r in rows]

    def release(self, release_id: int) -> ReleaseDetail | None:
        """Return one release with its sightings, versions and matches, or None."""
        r = self.conn.execute(
            "SELECT id, title, url, published_at, first_seen_at, author, summary, dateline_place,"
            " dateline_date, wire, tickers, body, updated_at FROM releases WHERE id = ?", (release_id,)
        ).fetchone()
        if r is None:
            return None
        sightings = tuple(
            Sighting(s[0], s[1], s[2] or "", parse_ts(s[3]), parse_ts(s[4]))
            for s in self.conn.execute(
                "SELECT f.name, s.key, s.link, s.first_seen_at, s.last_seen_at FROM sightings s"
                " JOIN feeds f ON f.id = s.feed_id WHERE s.release_id = ? ORDER BY s.id", (release_id,))
        )
        versions = tuple(
            Version(v[0], v[1] or "", v[2] or "", parse_ts(v[3]))
            for v in self.conn.execute(
                "SELECT title, summary, body, replaced_at FROM release_versions WHERE release_id = ?"
                " ORDER BY id", (release_id,))
        )
        matches = tuple(
            MatchRow(m[0], m[1] or "", parse_ts(m[2]))
            for m in self.conn.execute(
                "SELECT rule, snippet, matched_at FROM matches WHERE release_id = ? ORDER BY id", (release_id,))
        )
        dateline = None
        if r[7] or r[9]:
            dateline = Dateline(place=r[7] or "", date=date.fromisoformat(r[8]) if r[8] else None, wire=r[9] or "")
        view = ReleaseView(
            id=r[0], title=r[1], url=r[2] or "", published=parse_ts(r[3]), first_seen=parse_ts(r[4]),
            author=r[5] or "", summary=r[6] or "", dateline=dateline,
            tickers=tuple(t for t in (r[10] or "").split() if t),
            sources=tuple(Source(s.feed, s.link) for s in sightings),
        )
        return ReleaseDetail(view=view, body=r[11] or "", updated=parse_ts(r[12]), sightings=sightings,
                             versions=versions, matches=matches)

    def count(self, table: str) -> int:
        if table not in {"releases", "sightings", "matches", "alerts", "feeds", "release_versions"}:
            raise ValueError(table)
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


    # ------------------------------------------------------------------ outbox (alerts)

    def install_id(self) -> str:
        return self.conn.execute("SELECT value FROM meta WHERE key = 'install_id'").fetchone()[0]

    def alert_id(self, row_id: int) -> str:
        """Return the public id of an alert row: stable across retries, unique across installations."""
        return f"pm-{self.install_id()}-{row_id}"

    def due_alerts(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Return pending alerts whose next attempt is due, oldest first."""
        rows = self.conn.execute(
            f"{_OUTBOX_SELECT} WHERE a.status = 'pending' AND a.next_attempt_at <= ? ORDER BY a.next_attempt_at, a.id"
            " LIMIT ?", (ts(now), limit)).fetchall()
        return [self._outbox_row(r) for r in rows]

    def alerts(self, *, status: str | None = None, rule: str | None = None, limit: int = 50) -> list[OutboxRow]:
        """Return outbox rows, newest first, optionally filtered."""
        sql, args = f"{_OUTBOX_SELECT} WHERE 1", []
        if status:
            sql += " AND a.status = ?"
            args.append(status)
        if rule:
            sql += " AND a.rule = ?"
            args.append(rule)
        rows = self.conn.execute(sql + " ORDER BY a.id DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._outbox_row(r) for r in rows]

    def _outbox_row(self, r: tuple) -> OutboxRow:
        return OutboxRow(id=r[0], alert_id=self.alert_id(r[0]), release_id=r[1], rule=r[2], channel=r[3],
                         status=r[4], attempts=r[5], next_attempt_at=parse_ts(r[6]), last_error=r[7],
                         created_at=parse_ts(r[8]), sent_at=parse_ts(r[9]), digest_id=r[10], title=r[11] or "")

    def notice(self, row: OutboxRow) -> Notice:
        """Return what a channel renders for an outbox row (the release, its sources, the match snippet)."""
        detail = self.release(row.release_id)
        if detail is None:
            raise StoreError(f"alert {row.alert_id}: release {row.release_id} no longer exists")
        snippet = next((m.snippet for m in detail.matches if m.rule == row.rule), "")
        return Notice(alert_id=row.alert_id, rule=row.rule, channel=row.channel, snippet=snippet,
                      release=detail.view)

    def set_digest(self, ids: Sequence[int], digest_id: str) -> None:
        """Bind alerts into one digest: from now on they are sent, retried and marked together."""
        for chunk in _chunks(list(ids)):
            self.conn.execute(f"UPDATE alerts SET digest_id = ? WHERE id IN ({_marks(chunk)})", (digest_id, *chunk))

    def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        for chunk in _chunks(list(ids)):
            self.conn.execute(
                f"UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL"
                f" WHERE id IN ({_marks(chunk)})", (ts(now), *chunk))

    def mark_failed(self, ids: Sequence[int], error: str, next_attempt: datetime | None) -> None:
        """Record a failed attempt: retry at next_attempt, or dead when it is None."""
        status = "pending" if next_attempt else "dead"
        for chunk in _chunks(list(ids)):
            self.conn.execute(
                f"UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                f" WHERE id IN ({_marks(chunk)})",
                (status, error[:1000], ts(next_attempt) if next_attempt else None, *chunk))

    def defer(self, ids: Sequence[int], until: datetime) -> None:
        """Push alerts' next attempt to `until` without counting an attempt (digest not yet due)."""
        for chunk in _chunks(list(ids)):
            self.conn.execute(f"UPDATE alerts SET next_attempt_at = ? WHERE id IN ({_marks(chunk)})",
                              (ts(until), *chunk))

    def requeue(self, ids: Sequence[int] = (), *, dead: bool = False, now: datetime) -> int:
        """Put alerts (by row id, or every dead one) back in the queue, due now; return how many."""
        if dead:
            return self.conn.execute(
                "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?, digest_id = NULL"
                " WHERE status = 'dead'", (ts(now),)).rowcount
        n = 0
        for chunk in _chunks(list(ids)):
            n += self.conn.execute(
                f"UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?, digest_id = NULL"
                f" WHERE id IN ({_marks(chunk)})", (ts(now), *chunk)).rowcount
        return n

    def disable_channel(self, name: str, reason: str, now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO channels (name, disabled_at, disabled_reason) VALUES (?,?,?) ON CONFLICT(name)"
            " DO UPDATE SET disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason",
            (name, ts(now), reason))

    def enable_channel(self, name: str) -> bool:
        return self.conn.execute("DELETE FROM channels WHERE name = ?", (name,)).rowcount == 1

    def disabled_channels(self) -> dict[str, str]:
        """Return {channel: reason} for channels switched off by a 410 Gone."""
        return dict(self.conn.execute("SELECT name, disabled_reason FROM channels WHERE disabled_at IS NOT NULL"))

    def outbox_summary(self) -> tuple[int, datetime | None, int]:
        """Return (pending count, oldest pending created_at, dead count)."""
        pending, oldest = self.conn.execute(
            "SELECT count(*), min(created_at) FROM alerts WHERE status = 'pending'").fetchone()
        dead = self.conn.execute("SELECT count(*) FROM alerts WHERE status = 'dead'").fetchone()[0]
        return pending, parse_ts(oldest), dead


_OUTBOX_SELECT = (
    "SELECT a.id, a.release_id, a.rule, a.channel, a.status, a.attempts, a.next_attempt_at, a.last_error,"
    " a.created_at, a.sent_at, a.digest_id, r.title FROM alerts a LEFT JOIN releases r ON r.id = a.release_id"
)


def _chunks(values: Sequence) -> Iterator[Sequence]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def _marks(values: Sequence) -> str:
    return ",".join("?" * len(values))


def _fts_message(exc: sqlite3.Error) -> str:
    """Return SQLite's FTS5 error in plain words ('fts5: syntax error near "AND"' -> 'syntax error near "AND"')."""
    text = str(exc)
    return text.removeprefix("fts5: ")
