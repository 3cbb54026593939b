"""The archive's tables, indexes, FTS index and triggers, and the steps that bring an archive up to date.

The schema is versioned with PRAGMA user_version; each version has one migration step, run in its
own write transaction when a writer opens the archive. Readers refuse an archive whose version
differs from theirs (they cannot migrate a read-only file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlite_utils

from monitor.errors import StoreError
from monitor.types import FTS_COLUMNS, FTS_TOKENIZE, AlertStatus

if TYPE_CHECKING:
    from monitor.store.base import Connection

SCHEMA_VERSION = 1


def migrate(store: Connection) -> None:
    """Apply every step between the archive's version and SCHEMA_VERSION, each in one transaction."""
    current = store.version()
    if current > SCHEMA_VERSION:
        raise StoreError(f"{store.path}: archive schema {current} is newer than this press-monitor "
                         f"({SCHEMA_VERSION}); upgrade press-monitor")
    steps: dict[int, Callable[[sqlite_utils.Database], None]] = {1: schema_v1}
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with store.transaction():
            steps[version](store.db)
            store.conn.execute(f"PRAGMA user_version = {version}")


def check_readable(store: Connection) -> None:
    """Refuse to read an archive of another schema version."""
    if store.version() != SCHEMA_VERSION:
        raise StoreError(f"{store.path}: archive schema {store.version()} but this press-monitor "
                         f"reads schema {SCHEMA_VERSION}; run the daemon or `run --once` to migrate")


def schema_v1(db: sqlite_utils.Database) -> None:
    """The first schema: feeds, releases (+ FTS), sightings, versions, matches, the outbox, channels, meta."""
    db.table("feeds").create(
        {"id": int, "name": str, "url": str, "etag": str, "last_modified": str,
         "last_polled_at": str, "last_ok_at": str, "last_error": str, "last_error_kind": str,
         "consecutive_failures": int, "retry_after_until": str, "next_poll_at": str,
         "gone": int, "redirect_to": str, "redirect_since": str, "entries": int, "item_hashes": str},
        pk="id", not_null={"name", "url"}, defaults={"consecutive_failures": 0, "gone": 0, "entries": 0},
    )
    db.table("feeds").create_index(["name"], unique=True)
    db.table("releases").create(
        {"id": int, "url": str, "title": str, "summary": str, "body": str, "author": str,
         "dateline": str, "tickers": str, "source": str,
         "published_at": str, "published_known": int, "first_seen_at": str, "updated_at": str,
         "dateline_place": str, "dateline_date": str, "wire": str,
         "fingerprint": str, "content_hash": str},
        pk="id", not_null={"title", "published_at", "first_seen_at", "fingerprint"},
    )
    for column in ("url", "fingerprint", "published_at", "first_seen_at"):
        db.table("releases").create_index([column])
    db.table("sightings").create(
        {"id": int, "feed_id": int, "release_id": int, "key": str, "link": str,
         "content_hash": str, "first_seen_at": str, "last_seen_at": str},
        pk="id", foreign_keys=[("feed_id", "feeds", "id"), ("release_id", "releases", "id")],
        not_null={"feed_id", "release_id", "key"},
    )
    db.table("sightings").create_index(["feed_id", "key"], unique=True)
    db.table("sightings").create_index(["release_id"])
    db.table("release_versions").create(
        {"id": int, "release_id": int, "title": str, "summary": str, "body": str, "author": str,
         "published_at": str, "content_hash": str, "replaced_at": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")], not_null={"release_id"},
    )
    db.table("release_versions").create_index(["release_id"])
    db.table("matches").create(
        {"id": int, "release_id": int, "rule": str, "snippet": str, "matched_at": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")], not_null={"release_id", "rule"},
    )
    db.table("matches").create_index(["release_id", "rule"], unique=True)
    db.table("matches").create_index(["rule", "matched_at"])
    db.table("alerts").create(
        {"id": int, "release_id": int, "rule": str, "channel": str, "status": str,
         "attempts": int, "next_attempt_at": str, "last_error": str, "created_at": str,
         "sent_at": str, "digest_id": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")],
        not_null={"release_id", "rule", "channel", "status"},
        defaults={"attempts": 0, "status": AlertStatus.PENDING.value},
    )
    db.table("alerts").create_index(["release_id", "rule", "channel"], unique=True)
    db.table("alerts").create_index(["status", "next_attempt_at"])
    db.table("channels").create({"name": str, "disabled_at": str, "disabled_reason": str}, pk="name")
    db.table("meta").create({"key": str, "value": str}, pk="key")
    # A random id per archive makes alert ids unique across installations sending to one receiver.
    db.execute("INSERT INTO meta (key, value) VALUES ('install_id', lower(hex(randomblob(4))))")
    # External-content FTS5 over the releases columns, kept in sync by triggers: the text is
    # stored once, and search can never see a release that is not in the table.
    db.table("releases").enable_fts(list(FTS_COLUMNS), fts_version="FTS5", tokenize=FTS_TOKENIZE,
                              create_triggers=True)
    # Title hits count most, then summary/tickers: bm25 weights per column in FTS_COLUMNS order.
    db.execute("INSERT INTO releases_fts(releases_fts, rank)"
               " VALUES ('rank', 'bm25(10.0, 4.0, 1.0, 2.0, 2.0, 4.0, 1.0)')")
