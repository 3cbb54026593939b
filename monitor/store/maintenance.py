"""Maintenance: WAL checkpoints, bounded FTS merges, planner statistics and retention (purge).

The daemon runs these between polls; each holds the write lock only briefly.
"""

from __future__ import annotations

from datetime import datetime

from monitor.store.base import Connection, in_list, ts
from monitor.types import AlertStatus


class MaintenanceStore(Connection):
    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the WAL into the database and truncate it; return SQLite's (busy, wal pages, copied pages).

        PostgreSQL checkpoints its own WAL: nothing to do there, (0, 0, 0).
        """
        if self.dialect.postgres:
            return 0, 0, 0
        row = self.one("PRAGMA wal_checkpoint(TRUNCATE)")
        assert row is not None  # the pragma always answers one row
        return row["busy"], row["log"], row["checkpointed"]

    def merge_fts(self, pages: int = 500) -> bool:
        """Do one bounded step of FTS segment merging; return whether there was work to do.

        A full 'optimize' holds the write lock for ~27 s at a million releases, longer than other
        processes' busy timeout; steps of a few hundred pages in short transactions keep each
        hold brief. A negative count merges toward one segment, as 'optimize' would.
        On PostgreSQL the GIN index's pending entries are moved into the index (autovacuum does it too).
        """
        if self.dialect.postgres:
            return bool(self.scalar("SELECT gin_clean_pending_list('releases_fts_gin'::regclass)"))
        before = self.conn.total_changes
        self.run("INSERT INTO releases_fts(releases_fts, rank) VALUES ('merge', :pages)", {"pages": -pages})
        # FTS5's documented test: fewer than two changes means the merge found nothing to do.
        return self.conn.total_changes - before >= 2

    def analyze(self) -> None:
        """Refresh the query planner's statistics."""
        self.run("ANALYZE" if self.dialect.postgres else "PRAGMA optimize")

    def purge(self, before: datetime, *, limit: int = 500) -> int:
        """Delete up to `limit` releases first seen and published before `before`; return how many.

        A release with a pending alert is kept until it is delivered or dead. Its sightings,
        versions, matches and finished alerts go with it. Call inside a transaction, repeatedly
        until it returns 0, so the write lock is held briefly each time.
        """
        ids = [r["id"] for r in self.rows(
            "SELECT id FROM releases r WHERE first_seen_at < :cutoff AND published_at < :cutoff AND NOT EXISTS"
            " (SELECT 1 FROM alerts a WHERE a.release_id = r.id AND a.status = :pending) ORDER BY id LIMIT :limit",
            {"cutoff": ts(before), "pending": AlertStatus.PENDING, "limit": limit})]
        if not ids:
            return 0
        marks, params = in_list(ids, "id")
        self.run(
            "UPDATE feeds SET entries = " + self.dialect.at_least_zero(
                "entries - (SELECT count(*) FROM sightings s WHERE s.feed_id = feeds.id"
                f" AND s.release_id IN ({marks}))"), params)
        for table in ("alerts", "matches", "release_versions", "sightings", "pages", "story_bands"):
            self.run(f"DELETE FROM {table} WHERE release_id IN ({marks})", params)
        self.run(f"DELETE FROM releases WHERE id IN ({marks})", params)
        return len(ids)
