"""The archive: the only module that speaks SQL (sqlite-utils for the schema, plain SQL on the hot path).

One SQLite file in WAL mode, so readers (CLI, web view) never block the writer (daemon). Each feed
poll is one `BEGIN IMMEDIATE` transaction (`Store.transaction()`): a crash leaves the archive as
before or after the poll, never between. The schema is versioned with PRAGMA user_version; each
version has one migration step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlite_utils

from monitor.errors import QueryError, StoreError
from monitor.types import (
    FTS_COLUMNS,
    FTS_TOKENIZE,
    Candidate,
    Dateline,
    Doc,
    FeedState,
    Known,
    Notice,
    Release,
    ReleaseView,
    Source,
)

SCHEMA_VERSION = 1
# `search` with a limit ranks at most this many matches, the newest (see Store.search).
RANK_WINDOW = 5000
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
             "gone": int, "redirect_to": str, "redirect_since": str, "entries": int, "item_hashes": str},
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
        row = self.conn.execute("SELECT url, etag, last_modified, item_hashes FROM feeds WHERE name = ?",
                                (name,)).fetchone()
        if row is None or row[0] != url:
            return FeedState(url=url)
        return FeedState(url=url, etag=row[1], last_modified=row[2], items=frozenset((row[3] or "").split()))

    def record_poll(self, feed_id: int, now: datetime, *, error: str | None = None, error_kind: str | None = None,
                    etag: str | None = None, last_modified: str | None = None,
                    retry_after: float | None = None, items: frozenset[str] | None = None) -> None:
        """Record the outcome of one poll: validators and health on success, the error and streak on failure.

        items: the raw item hashes of this poll's body (None keeps the stored ones, e.g. on a 304).
        """
        when = ts(now)
        if error is None:
            self.conn.execute(
                "UPDATE feeds SET last_polled_at = ?, last_ok_at = ?, last_error = NULL, last_error_kind = NULL,"
                " consecutive_failures = 0, retry_after_until = NULL,"
                " etag = coalesce(?, etag), last_modified = coalesce(?, last_modified),"
                " item_hashes = coalesce(?, item_hashes) WHERE id = ?",
                (when, when, etag, last_modified, " ".join(sorted(items)) if items is not None else None, feed_id),
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

    def known(self, feed_id: int, items: Sequence[Release]) -> Known:
        """Return what the archive holds for this batch's sighting keys, canonical URLs and fingerprints."""
        sightings: dict[str, tuple[int, str]] = {}
        for chunk in _chunks([i.sighting_key for i in items]):
            q = f"SELECT key, release_id, content_hash FROM sightings WHERE feed_id = ? AND key IN ({_marks(chunk)})"
            for key, rid, h in self.conn.execute(q, (feed_id, *chunk)):
                sightings[key] = (rid, h)
        urls: dict[str, int] = {}
        for chunk in _chunks(sorted({i.url for i in items if i.url})):
            q = f"SELECT url, min(id) FROM releases WHERE url IN ({_marks(chunk)}) GROUP BY url"
            urls.update(self.conn.execute(q, chunk).fetchall())
        fps: dict[str, list[Candidate]] = {}
        for chunk in _chunks(sorted({i.fingerprint for i in items})):
            q = (f"SELECT fingerprint, id, url, published_at, published_known FROM releases"
                 f" WHERE fingerprint IN ({_marks(chunk)}) ORDER BY id")
            for fp, rid, url, published, published_known in self.conn.execute(q, chunk):
                when = parse_ts(published) if published_known else None
                fps.setdefault(fp, []).append(Candidate(rid, url or "", when))
        return Known(sightings, urls, fps)

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
               until: datetime | None = None) -> list[Hit]:
        """Return releases matching an FTS5 query, best first (a bad query raises QueryError).

        With a limit, a query matching more than RANK_WINDOW releases is ranked among the newest
        RANK_WINDOW of them: bm25 must score every match, which for a common word in a million
        releases takes seconds, while the newest few thousand are what a press monitor's user wants.
        """
        where, args = "releases_fts MATCH ?", [fts_query]
        try:
            if limit is not None:
                floor = self.conn.execute(
                    "SELECT rowid FROM releases_fts WHERE releases_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                    (fts_query, RANK_WINDOW - 1)).fetchone()
                if floor is not None:
                    where += " AND releases_fts.rowid >= ?"
                    args.append(floor[0])
            if since is not None:
                where += " AND r.published_at >= ?"
                args.append(ts(since))
            if until is not None:
                where += " AND r.published_at < ?"
                args.append(ts(until))
            sql = ("SELECT r.id, r.title, r.url, r.published_at, snippet(releases_fts, -1, '[', ']', '…', 16),"
                   f" releases_fts.rank FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid WHERE {where}"
                   " ORDER BY releases_fts.rank")
            if limit is not None:
                sql += " LIMIT ?"
                args.append(limit)
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

    def match_counts(self, now: datetime) -> dict[str, tuple[int, int, int]]:
        """Return {rule: (matches in the last 24 h, last 7 days, all time)}."""
        day, week = ts(now - timedelta(days=1)), ts(now - timedelta(days=7))
        rows = self.conn.execute(
            "SELECT rule, sum(matched_at >= ?), sum(matched_at >= ?), count(*) FROM matches GROUP BY rule",
            (day, week)).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

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

    # ------------------------------------------------------------------ review (export, feeds, web)
    # Read-only queries for `export`, `feed` and the web view. Filters are a dict with any of the
    # keys in REVIEW_FILTERS; a `date` is a day (2024-05-01) or a month (2024-05) of published_at.

    REVIEW_FILTERS = ("rule", "feed", "wire", "place", "date")
    # Export and rule feeds carry these columns; see monitor.export.EXPORT_FIELDS for the meaning.
    _EXPORT_SELECT = (
        "SELECT r.id, r.title, r.url, r.published_at, r.published_known, r.first_seen_at, r.updated_at, r.author,"
        " r.dateline_place, r.dateline_date, r.wire, r.tickers,"
        # Names and links are one line each (config refuses control characters), so newline-joined
        # lists split back exactly.
        " (SELECT group_concat(name, char(10)) FROM (SELECT f.name FROM sightings s JOIN feeds f"
        "   ON f.id = s.feed_id WHERE s.release_id = r.id GROUP BY f.name ORDER BY min(s.id))),"
        " (SELECT group_concat(link, char(10)) FROM (SELECT link FROM sightings WHERE release_id = r.id"
        "   AND coalesce(link, '') <> '' ORDER BY id)),"
        " (SELECT group_concat(rule, char(10)) FROM (SELECT rule FROM matches WHERE release_id = r.id ORDER BY id)),"
        " r.summary, r.body FROM releases r"
    )

    def _review_where(self, fts_query: str | None, filters: dict[str, str] | None, *, since: datetime | None = None,
                      until: datetime | None = None) -> tuple[str, list[object]]:
        """Return the WHERE clause (over `releases r`) and its arguments for a query plus filters."""
        clauses, args = ["1"], []
        if fts_query:
            # IN (rowids) rather than a join keeps the outer scan in rowid order: no sort, constant memory.
            clauses.append("r.id IN (SELECT rowid FROM releases_fts WHERE releases_fts MATCH ?)")
            args.append(fts_query)
        f = filters or {}
        unknown = set(f) - set(self.REVIEW_FILTERS)
        if unknown:
            raise QueryError(f"unknown filter {sorted(unknown)[0]!r} (filters: {', '.join(self.REVIEW_FILTERS)})")
        if f.get("rule"):
            clauses.append("r.id IN (SELECT release_id FROM matches WHERE rule = ?)")
            args.append(f["rule"])
        if f.get("feed"):
            clauses.append("r.id IN (SELECT s.release_id FROM sightings s JOIN feeds fd ON fd.id = s.feed_id"
                           " WHERE fd.name = ?)")
            args.append(f["feed"])
        if f.get("wire"):
            clauses.append("r.wire = ?")
            args.append(f["wire"])
        if f.get("place"):
            clauses.append("r.dateline_place = ?")
            args.append(f["place"])
        if f.get("date"):
            start, end = self._review_period(f["date"])
            clauses.append("r.published_at >= ? AND r.published_at < ?")
            args.extend((start, end))
        if since is not None:
            clauses.append("r.published_at >= ?")
            args.append(ts(since))
        if until is not None:
            clauses.append("r.published_at < ?")
            args.append(ts(until))
        return " AND ".join(clauses), args

    def _review_execute(self, sql: str, args: Sequence[object], fts_query: str | None) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, args)
        except sqlite3.OperationalError as exc:
            if fts_query and ("fts5" in str(exc) or "syntax error" in str(exc) or "no such column" in str(exc)):
                raise QueryError(f"invalid query {fts_query!r}: {_fts_message(exc)}") from exc
            raise

    def export_count(self, *, fts_query: str | None = None, filters: dict[str, str] | None = None,
                     since: datetime | None = None, until: datetime | None = None) -> int:
        """Return how many releases export_records() would yield."""
        where, args = self._review_where(fts_query, filters, since=since, until=until)
        return self._review_execute(f"SELECT count(*) FROM releases r WHERE {where}", args, fts_query).fetchone()[0]

    def export_records(self, *, fts_query: str | None = None, filters: dict[str, str] | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       batch: int = 500) -> Iterator[dict[str, object]]:
        """Yield every matching release as an export record (oldest id first), `batch` rows in memory at most."""
        where, args = self._review_where(fts_query, filters, since=since, until=until)
        cur = self._review_execute(f"{self._EXPORT_SELECT} WHERE {where} ORDER BY r.id", args, fts_query)
        try:
            while rows := cur.fetchmany(batch):
                for r in rows:
                    yield {
                        "id": r[0], "title": r[1], "url": r[2] or "", "published": r[3],
                        "published_known": bool(r[4]), "first_seen": r[5], "updated": r[6], "author": r[7] or "",
                        "dateline_place": r[8] or None, "dateline_date": r[9] or None, "wire": r[10] or None,
                        "tickers": (r[11] or "").split(), "feeds": self._review_lines(r[12]),
                        "links": self._review_lines(r[13]), "rules": self._review_lines(r[14]),
                        "summary": r[15] or "", "body": r[16] or "",
                    }
        finally:
            try:  # noqa: SIM105 (contextlib is not imported here)
                cur.close()
            except sqlite3.ProgrammingError:  # the store was closed first (a consumer that stopped early)
                pass

    def rule_matches(self, rule: str, *, limit: int = 50) -> list[dict[str, object]]:
        """Return a rule's most recent matches, newest first, each with its release's columns."""
        rows = self.conn.execute(
            "SELECT r.id, r.title, r.url, r.published_at, r.updated_at, r.summary, r.author, m.snippet,"
            " m.matched_at, r.source FROM matches m JOIN releases r ON r.id = m.release_id WHERE m.rule = ?"
            " ORDER BY m.matched_at DESC, m.id DESC LIMIT ?", (rule, limit)).fetchall()
        return [{"id": r[0], "title": r[1], "url": r[2] or "", "published": parse_ts(r[3]),
                 "updated": parse_ts(r[4]), "summary": r[5] or "", "author": r[6] or "", "snippet": r[7] or "",
                 "matched_at": parse_ts(r[8]), "feeds": self._review_lines(r[9])} for r in rows]

    def rule_stats(self) -> dict[str, tuple[int, datetime | None]]:
        """Return {rule: (matches, last matched)} for every rule with at least one match."""
        return {r[0]: (r[1], parse_ts(r[2])) for r in self.conn.execute(
            "SELECT rule, count(*), max(matched_at) FROM matches GROUP BY rule")}

    def release_alerts(self, release_id: int) -> list[OutboxRow]:
        """Return the outbox rows (one per rule and channel) about one release."""
        rows = self.conn.execute(f"{_OUTBOX_SELECT} WHERE a.release_id = ? ORDER BY a.id", (release_id,)).fetchall()
        return [self._outbox_row(r) for r in rows]

    def feed_health(self) -> dict[str, dict[str, object]]:
        """Return {feed name: its row in the feeds table as a dict} (timestamps as datetimes)."""
        cur = self.conn.execute("SELECT * FROM feeds ORDER BY name")
        names = [d[0] for d in cur.description]
        out = {}
        for row in cur:
            rec = dict(zip(names, row, strict=True))
            for key in ("last_polled_at", "last_ok_at", "retry_after_until", "next_poll_at", "redirect_since"):
                rec[key] = parse_ts(rec.get(key))
            out[rec["name"]] = rec
        return out

    def browse(self, fts_query: str | None, filters: dict[str, str] | None = None, *, limit: int = 25,
               offset: int = 0) -> list[dict[str, object]]:
        """Return one page of matching releases: best first for a query, else newest first."""
        where, args = self._review_where(fts_query, filters)
        if fts_query:
            # \x02 and \x03 mark the matched terms; the web view turns them into <mark> after escaping.
            sql = (f"SELECT r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place,"
                   f" snippet(releases_fts, -1, char(2), char(3), '…', 24) FROM releases_fts"
                   f" JOIN releases r ON r.id = releases_fts.rowid WHERE releases_fts MATCH ? AND {where}"
                   f" ORDER BY releases_fts.rank LIMIT ? OFFSET ?")
            args = [fts_query, *args, limit, offset]
        else:
            sql = (f"SELECT r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place,"
                   f" substr(r.summary, 1, 240) FROM releases r WHERE {where}"
                   f" ORDER BY r.published_at DESC, r.id DESC LIMIT ? OFFSET ?")
            args = [*args, limit, offset]
        rows = self._review_execute(sql, args, fts_query).fetchall()
        return [{"id": r[0], "title": r[1], "url": r[2] or "", "published": parse_ts(r[3]),
                 "feeds": self._review_lines(r[4]), "wire": r[5] or "", "place": r[6] or "",
                 "snippet": r[7] or ""} for r in rows]

    def facets(self, fts_query: str | None, filters: dict[str, str] | None = None, *, limit: int = 12,
               expired: Callable[[], bool] | None = None) -> dict[str, list[tuple[str, int]] | None]:
        """Return {facet: [(value, releases)]} for the matching set; None for facets not counted in time.

        `expired` is polled while counting: once it returns True the facet being counted and those
        after it are given up, so a broad query over a huge archive still answers promptly.
        """
        f = dict(filters or {})
        where, args = self._review_where(fts_query, f)
        date = f.get("date", "")
        # A month is chosen (or none): count by day inside it, else by month.
        date_expr = "substr(r.published_at, 1, 10)" if len(date) >= 7 else "substr(r.published_at, 1, 7)"
        # Cheapest first (rules and feeds go through small indexes), so a tight budget still shows them.
        queries = {
            "rule": ("SELECT m.rule, count(DISTINCT r.id) FROM matches m JOIN releases r ON r.id = m.release_id"
                     f" WHERE {where} GROUP BY m.rule ORDER BY 2 DESC, 1 LIMIT ?"),
            "feed": ("SELECT fd.name, count(DISTINCT r.id) FROM sightings s JOIN feeds fd ON fd.id = s.feed_id"
                     f" JOIN releases r ON r.id = s.release_id WHERE {where} GROUP BY fd.name ORDER BY 2 DESC, 1"
                     " LIMIT ?"),
            "date": (f"SELECT {date_expr}, count(*) FROM releases r WHERE {where} GROUP BY 1 ORDER BY 1 DESC LIMIT ?"),
            "wire": (f"SELECT r.wire, count(*) FROM releases r WHERE {where} AND r.wire IS NOT NULL AND r.wire <> ''"
                     " GROUP BY r.wire ORDER BY 2 DESC, 1 LIMIT ?"),
            "place": (f"SELECT r.dateline_place, count(*) FROM releases r WHERE {where} AND r.dateline_place <> ''"
                      " GROUP BY r.dateline_place ORDER BY 2 DESC, 1 LIMIT ?"),
        }
        out: dict[str, list[tuple[str, int]] | None] = dict.fromkeys(queries)
        if expired is not None:
            # SQLite calls this every 10k VM steps (well under a millisecond); non-zero aborts the query.
            self.conn.set_progress_handler(lambda: int(expired()), 10_000)
        try:
            for name, sql in queries.items():
                if expired is not None and expired():
                    break
                try:
                    out[name] = [(str(v), n) for v, n in self._review_execute(sql, [*args, limit], fts_query)]
                except sqlite3.OperationalError as exc:
                    if "interrupted" not in str(exc):
                        raise
                    break
        finally:
            self.conn.set_progress_handler(None, 0)
        return out

    @staticmethod
    def _review_period(text: str) -> tuple[str, str]:
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

    @staticmethod
    def _review_lines(text: str | None) -> list[str]:
        """Return the non-empty lines of a newline-joined list column."""
        return [line for line in (text or "").split("\n") if line]

    # ------------------------------------------------------------------ daemon (schedule, status)
    # What the daemon remembers between polls and restarts, and what `status` reads back: the next
    # poll, Retry-After, 410 Gone and a permanent redirect under watch live in the feeds table; the
    # daemon's heartbeat and adopted redirects live in meta.

    @dataclass(frozen=True)
    class Schedule:
        """One feed's health and schedule as the daemon recorded it."""

        name: str
        url: str
        last_polled_at: datetime | None
        last_ok_at: datetime | None
        last_error: str | None
        last_error_kind: str | None
        failures: int
        next_poll_at: datetime | None
        retry_after_until: datetime | None
        gone: bool
        redirect_to: str | None
        redirect_since: datetime | None

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (or with None, delete) a meta value."""
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                              " SET value = excluded.value", (key, value))

    _SCHEDULE_SELECT = (
        "SELECT name, url, last_polled_at, last_ok_at, last_error, last_error_kind, consecutive_failures,"
        " next_poll_at, retry_after_until, gone, redirect_to, redirect_since FROM feeds"
    )

    @staticmethod
    def _schedule_row(r: tuple) -> Store.Schedule:
        return Store.Schedule(r[0], r[1], parse_ts(r[2]), parse_ts(r[3]), r[4], r[5], r[6] or 0, parse_ts(r[7]),
                              parse_ts(r[8]), bool(r[9]), r[10], parse_ts(r[11]))

    def schedules(self, names: Sequence[str] | None = None) -> dict[str, Store.Schedule]:
        """Return {feed name: Schedule} for these feeds (every feed the archive knows when None)."""
        if names is None:
            return {r[0]: self._schedule_row(r) for r in self.conn.execute(self._SCHEDULE_SELECT)}
        out: dict[str, Store.Schedule] = {}
        for chunk in _chunks(list(names)):
            rows = self.conn.execute(f"{self._SCHEDULE_SELECT} WHERE name IN ({_marks(chunk)})", chunk)
            out.update((r[0], self._schedule_row(r)) for r in rows)
        return out

    def schedule(self, name: str) -> Store.Schedule | None:
        return self.schedules([name]).get(name)

    def set_schedule(self, name: str, *, next_poll_at: datetime | None, gone: bool = False) -> None:
        """Record when the feed is polled next (None with gone=True: never, it answered 410 Gone)."""
        self.conn.execute("UPDATE feeds SET next_poll_at = ?, gone = ? WHERE name = ?",
                          (ts(next_poll_at) if next_poll_at else None, int(gone), name))

    def set_redirect(self, name: str, target: str | None, since: datetime | None) -> None:
        """Record the permanent redirect under watch (None clears it)."""
        self.conn.execute("UPDATE feeds SET redirect_to = ?, redirect_since = ? WHERE name = ?",
                          (target, ts(since) if since else None, name))

    def adopt_url(self, name: str, url: str) -> None:
        """Replace a feed's stored URL (an adopted redirect); the old validators belong to the old URL."""
        self.conn.execute("UPDATE feeds SET url = ?, etag = NULL, last_modified = NULL, redirect_to = NULL,"
                          " redirect_since = NULL WHERE name = ?", (url, name))

    def recent_publications(self, name: str, *, since: datetime, limit: int = 20) -> list[datetime]:
        """Return the feed's latest known publication times since `since`, newest first."""
        rows = self.conn.execute(
            "SELECT r.published_at FROM sightings s JOIN feeds f ON f.id = s.feed_id"
            " JOIN releases r ON r.id = s.release_id WHERE f.name = ? AND r.published_known = 1"
            " AND r.published_at >= ? ORDER BY r.published_at DESC LIMIT ?", (name, ts(since), limit))
        return [parse_ts(r[0]) for r in rows]

    def failing_channels(self) -> dict[str, int]:
        """Return {channel: pending alerts that failed at least once}: channels that are retrying."""
        return dict(self.conn.execute(
            "SELECT channel, count(*) FROM alerts WHERE status = 'pending' AND attempts > 0 GROUP BY channel"))

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the WAL into the database and truncate it; return SQLite's (busy, wal pages, copied pages)."""
        busy, log_pages, copied = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy, log_pages, copied

    def merge_fts(self, pages: int = 500) -> bool:
        """Do one bounded step of FTS segment merging; return whether there was work to do.

        A full 'optimize' holds the write lock for ~27 s at a million releases, longer than other
        processes' busy timeout; steps of a few hundred pages in short transactions keep each
        hold brief. A negative count merges toward one segment, as 'optimize' would.
        """
        before = self.conn.total_changes
        self.conn.execute("INSERT INTO releases_fts(releases_fts, rank) VALUES ('merge', ?)", (-pages,))
        # FTS5's documented test: fewer than two changes means the merge found nothing to do.
        return self.conn.total_changes - before >= 2

    def analyze(self) -> None:
        """Refresh the query planner's statistics."""
        self.conn.execute("PRAGMA optimize")

    def purge(self, before: datetime, *, limit: int = 500) -> int:
        """Delete up to `limit` releases first seen and published before `before`; return how many.

        A release with a pending alert is kept until it is delivered or dead. Its sightings,
        versions, matches and finished alerts go with it. Call inside a transaction, repeatedly
        until it returns 0, so the write lock is held briefly each time.
        """
        cutoff = ts(before)
        ids = [r[0] for r in self.conn.execute(
            "SELECT id FROM releases r WHERE first_seen_at < ? AND published_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM alerts a WHERE a.release_id = r.id AND a.status = 'pending') ORDER BY id LIMIT ?",
            (cutoff, cutoff, limit))]
        if not ids:
            return 0
        marks = _marks(ids)
        self.conn.execute(
            f"UPDATE feeds SET entries = max(0, entries - (SELECT count(*) FROM sightings s"
            f" WHERE s.feed_id = feeds.id AND s.release_id IN ({marks})))", ids)
        for table in ("alerts", "matches", "release_versions", "sightings"):
            self.conn.execute(f"DELETE FROM {table} WHERE release_id IN ({marks})", ids)
        self.conn.execute(f"DELETE FROM releases WHERE id IN ({marks})", ids)
        return len(ids)


    # --- web view queries (issue 13)
    # The web view's and HTTP API's own reads (monitor/web). One block, so that it moves whole into
    # the store package's review module. Every FTS5 failure becomes a QueryError naming the query.
    #
    # A search works on its window: the ids of its newest RANK_WINDOW matching releases (what
    # `search` ranks). Ranking, facets and the filtered day chart then touch at most that many
    # releases, by id, however big the archive and however broad the query.

    WEB_SNIPPET_TOKENS = 24
    # SQLite integers are 64-bit: larger ids from a URL name nothing (and must not reach SQLite).
    MAX_ID = 2**63 - 1

    def _web_fts(self, sql: str, args: Sequence[object], fts_query: str | None) -> list:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if fts_query and "interrupted" not in str(exc):
                raise QueryError(f"invalid query {fts_query!r}: {_fts_message(exc)}") from exc
            raise

    def web_window(self, fts_query: str | None, filters: dict[str, str] | None = None) -> tuple[list[int], bool]:
        """Return (ids of the newest RANK_WINDOW matching releases, newest first; whether more match)."""
        where, args = self._review_where(None, filters)
        if fts_query:
            # Without filters the full-text index alone answers (no release row is read).
            sql = ("SELECT releases_fts.rowid FROM releases_fts WHERE releases_fts MATCH ?"
                   " ORDER BY releases_fts.rowid DESC LIMIT ?") if not filters else (
                   "SELECT releases_fts.rowid FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid"
                   f" WHERE releases_fts MATCH ? AND {where} ORDER BY releases_fts.rowid DESC LIMIT ?")
            args = [fts_query] if not filters else [fts_query, *args]
        else:
            sql = f"SELECT r.id FROM releases r WHERE {where} ORDER BY r.id DESC LIMIT ?"
        ids = [r[0] for r in self._web_fts(sql, [*args, RANK_WINDOW + 1], fts_query)]
        return ids[:RANK_WINDOW], len(ids) > RANK_WINDOW

    def web_search(self, fts_query: str | None, filters: dict[str, str] | None = None, *, limit: int = 25,
                   offset: int = 0, window: Sequence[int] | None = None,
                   newest: bool = False) -> list[dict[str, object]]:
        """Return one page of releases: a query's best first among `window` (see web_window), else newest first.

        Titles and snippets carry \\x02…\\x03 around matched terms (the page turns them into <mark>).
        `newest` orders a query's matches newest archived first instead of by rank (no window needed).
        """
        where, args = self._review_where(None, filters)
        cols = ("r.id, r.title, r.url, r.published_at, r.source, r.wire, r.dateline_place, r.first_seen_at,"
                " substr(r.summary, 1, 400)")
        if not fts_query:
            rows = self._web_fts(f"SELECT {cols} FROM releases r WHERE {where}"
                                 " ORDER BY r.published_at DESC, r.id DESC LIMIT ? OFFSET ?",
                                 [*args, limit, offset], None)
            return [self._web_hit(r, r[1], r[8] or "") for r in rows]
        if window is not None:
            if not window:
                return []
            # The window already applies the filters; rowid >= its oldest lets FTS5 skip older matches.
            # "+ 0" keeps the id list away from FTS5, which would run the query once per id.
            sql = (f"SELECT rowid FROM releases_fts WHERE releases_fts MATCH ? AND rowid >= {int(min(window))}"
                   f" AND rowid + 0 IN ({_marks(window)}) ORDER BY rank LIMIT ? OFFSET ?")
            args = [fts_query, *window, limit, offset]
        else:
            order = "releases_fts.rowid DESC" if newest else "releases_fts.rank"
            sql = (f"SELECT releases_fts.rowid FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid"
                   f" WHERE releases_fts MATCH ? AND {where} ORDER BY {order} LIMIT ? OFFSET ?")
            args = [fts_query, *args, limit, offset]
        # Rank first, then highlight only the page: snippet() on every ranked row would cost more
        # than the ranking itself.
        ids = [r[0] for r in self._web_fts(sql, args, fts_query)]
        if not ids:
            return []
        rows = self._web_fts(
            f"SELECT {cols}, highlight(releases_fts, 0, char(2), char(3)),"
            f" snippet(releases_fts, -1, char(2), char(3), '…', {self.WEB_SNIPPET_TOKENS})"
            f" FROM releases_fts JOIN releases r ON r.id = releases_fts.rowid"
            f" WHERE releases_fts MATCH ? AND releases_fts.rowid IN ({_marks(ids)})", [fts_query, *ids], fts_query)
        by_id = {r[0]: self._web_hit(r, r[9] or r[1], r[10] or r[8] or "") for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def _web_hit(self, r: Sequence, title: str, snippet: str) -> dict[str, object]:
        return {"id": r[0], "title": title, "url": r[2] or "", "published": parse_ts(r[3]),
                "feeds": self._review_lines(r[4]), "wire": r[5] or "", "place": r[6] or "",
                "first_seen": parse_ts(r[7]), "snippet": snippet}

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
        ids = _marks(window)
        for name, sql in (
            ("rule", f"SELECT rule, count(*) FROM matches WHERE release_id IN ({ids}) GROUP BY rule"
                     " ORDER BY 2 DESC, 1 LIMIT ?"),
            ("feed", f"SELECT fd.name, count(DISTINCT s.release_id) FROM sightings s JOIN feeds fd"
                     f" ON fd.id = s.feed_id WHERE s.release_id IN ({ids}) GROUP BY fd.name"
                     " ORDER BY 2 DESC, 1 LIMIT ?"),
        ):
            rows = self._web_budgeted(sql, [*window, limit], None, expired)
            if rows is None:
                return out
            out[name] = [(str(v), n) for v, n in rows]
        size = 10 if len(date) >= 7 else 7  # a month is chosen (or a day): count by day, else by month
        rows = self._web_budgeted(f"SELECT substr(published_at, 1, {size}), wire, dateline_place FROM releases"
                                  f" WHERE id IN ({ids})", window, None, expired)
        if rows is None:
            return out
        counts: dict[str, dict[str, int]] = {"date": {}, "wire": {}, "place": {}}
        for row in rows:
            for name, value in zip(("date", "wire", "place"), row, strict=True):
                if value:
                    counts[name][value] = counts[name].get(value, 0) + 1
        out["date"] = sorted(counts["date"].items(), reverse=True)[:limit]
        for name in ("wire", "place"):
            out[name] = sorted(counts[name].items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return out

    def _web_budgeted(self, sql: str, args: Sequence[object], fts_query: str | None,
                      expired: Callable[[], bool] | None) -> list | None:
        """Run a counting query, abandoned (None) once `expired()` says the page's budget is spent."""
        if expired is None:
            return self._web_fts(sql, args, fts_query)
        if expired():
            return None
        # SQLite calls this every 10k VM steps (well under a millisecond); non-zero aborts the query.
        self.conn.set_progress_handler(lambda: int(expired()), 10_000)
        try:
            return self._web_fts(sql, args, fts_query)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                return None
            raise
        finally:
            self.conn.set_progress_handler(None, 0)

    def web_days(self, fts_query: str | None, *, since: datetime, until: datetime,
                 window: Sequence[int] | None = None,
                 expired: Callable[[], bool] | None = None) -> dict[str, int] | None:
        """Return {UTC day: matching releases first seen that day} for the days from `since` to `until`.

        None if not counted in time. Releases get increasing ids as they are first seen, so a day
        is an id range (found through the first_seen_at index) and a query's matches in it are
        counted in the full-text index alone. With a `window` (filters in force) only its releases
        are counted.
        """
        if window is not None:
            rows = self._web_budgeted(f"SELECT substr(first_seen_at, 1, 10), count(*) FROM releases"
                                      f" WHERE id IN ({_marks(window) or 'NULL'}) AND first_seen_at >= ? GROUP BY 1",
                                      [*window, ts(since)], None, expired)
            return None if rows is None else {d: n for d, n in rows}
        start = datetime.combine(since.astimezone(UTC).date(), datetime.min.time(), UTC)
        days = [start + timedelta(days=i) for i in range((until.astimezone(UTC) - start).days + 2)]
        edges = []
        for day in days:
            row = self.conn.execute("SELECT id FROM releases WHERE first_seen_at >= ? ORDER BY first_seen_at, id"
                                    " LIMIT 1", (ts(day),)).fetchone()
            edges.append(row[0] if row else None)
        out: dict[str, int] = {}
        for day, lo, hi in zip(days, edges, edges[1:], strict=False):
            if lo is None:
                break
            if fts_query:
                sql = "SELECT count(*) FROM releases_fts WHERE releases_fts MATCH ? AND rowid >= ?"
                args: list[object] = [fts_query, lo]
                if hi is not None:
                    sql += " AND rowid < ?"
                    args.append(hi)
            else:  # the index alone: no release row is read
                sql = "SELECT count(*) FROM releases WHERE first_seen_at >= ? AND first_seen_at < ?"
                args = [ts(day), ts(day + timedelta(days=1))]
            rows = self._web_budgeted(sql, args, fts_query, expired)
            if rows is None:
                return None
            if rows[0][0]:
                out[day.date().isoformat()] = rows[0][0]
        return out

    def web_rule_matches(self, rule: str, *, limit: int = 50,
                         before: tuple[str, int] | None = None) -> list[dict[str, object]]:
        """Return a rule's matches newest first, after the keyset `before` (matched_at, match id).

        Ordered by the (rule, matched_at) index, so a page costs the same at any depth and any
        archive size; each row carries its release's publication time to show.
        """
        cond, args = "", list[object]([rule])
        if before is not None:
            cond = " AND (m.matched_at < ? OR (m.matched_at = ? AND m.id < ?))"
            args += [before[0], before[0], before[1]]
        rows = self.conn.execute(
            "SELECT r.id, r.title, r.url, r.published_at, m.snippet, m.matched_at, r.source, m.id"
            f" FROM matches m JOIN releases r ON r.id = m.release_id WHERE m.rule = ?{cond}"
            " ORDER BY m.matched_at DESC, m.id DESC LIMIT ?", [*args, limit]).fetchall()
        return [{"id": r[0], "title": r[1], "url": r[2] or "", "published": parse_ts(r[3]), "snippet": r[4] or "",
                 "matched_at": parse_ts(r[5]), "feeds": self._review_lines(r[6]), "key": (r[5], r[7])} for r in rows]

    def web_rule_days(self, rule: str, *, since: datetime) -> dict[str, int]:
        """Return {UTC day: releases the rule matched that day} since `since` (the (rule, matched_at) index)."""
        return {d: n for d, n in self.conn.execute(
            "SELECT substr(matched_at, 1, 10), count(*) FROM matches WHERE rule = ? AND matched_at >= ? GROUP BY 1",
            (rule, ts(since)))}

    def web_feed_days(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Return {feed name: {UTC day: releases it carried first seen that day}} since `since`.

        Releases get increasing ids as they are first seen: the first id since `since` (one index
        seek) bounds the sightings read through their release_id index.
        """
        first = self.conn.execute("SELECT id FROM releases WHERE first_seen_at >= ? ORDER BY first_seen_at, id"
                                  " LIMIT 1", (ts(since),)).fetchone()
        out: dict[str, dict[str, int]] = {}
        if first is None:
            return out
        for name, day, n in self.conn.execute(
                "SELECT f.name, substr(s.first_seen_at, 1, 10), count(*) FROM sightings s"
                " JOIN feeds f ON f.id = s.feed_id WHERE s.release_id >= ? GROUP BY 1, 2", (first[0],)):
            out.setdefault(name, {})[day] = n
        return out

    def web_alerts(self, *, limit: int = 50, before_id: int | None = None) -> list[OutboxRow]:
        """Return outbox rows newest first, those with an id below `before_id` (keyset paging)."""
        cond, args = "", []
        if before_id is not None:
            cond, args = " WHERE a.id < ?", [before_id]
        rows = self.conn.execute(f"{_OUTBOX_SELECT}{cond} ORDER BY a.id DESC LIMIT ?", [*args, limit]).fetchall()
        return [self._outbox_row(r) for r in rows]

    def web_has_releases(self) -> bool:
        return self.conn.execute("SELECT 1 FROM releases LIMIT 1").fetchone() is not None


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
