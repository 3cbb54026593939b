"""The outbox: one row per (release, rule, channel) alert, delivered, retried, bound into digests, requeued.

A row is `pending` until a channel accepted it (`sent`) or its retries ran out (`dead`); the pipeline
queues rows inside the poll's transaction, so an alert is never lost between archive and outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.errors import StoreError
from monitor.store.base import Params, chunks, in_list, opt_ts, parse_ts, ts
from monitor.store.review import ReviewStore
from monitor.store.rows import OutboxRow
from monitor.types import AlertStatus, Notice

_OUTBOX_SELECT = (
    "SELECT a.id, a.release_id, a.rule, a.channel, a.status, a.attempts, a.next_attempt_at, a.last_error,"
    " a.created_at, a.sent_at, a.digest_id, r.title FROM alerts a LEFT JOIN releases r ON r.id = a.release_id"
)


class OutboxStore(ReviewStore):
    """(Built on ReviewStore: a notice carries the release as `release()` reads it.)"""

    def alert_id(self, row_id: int) -> str:
        """Return the public id of an alert row: stable across retries, unique across installations."""
        return f"pm-{self.install_id()}-{row_id}"

    def _outbox_rows(self, where: str, params: dict[str, object]) -> list[OutboxRow]:
        install_id = self.install_id()
        return [OutboxRow.from_row(r, install_id) for r in self.rows(f"{_OUTBOX_SELECT} {where}", params)]

    def due_alerts(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Return pending alerts whose next attempt is due, oldest first."""
        return self._outbox_rows(
            "WHERE a.status = :pending AND a.next_attempt_at <= :now ORDER BY a.next_attempt_at, a.id LIMIT :limit",
            {"pending": AlertStatus.PENDING, "now": ts(now), "limit": limit})

    def still_due(self, ids: Sequence[int], now: datetime) -> list[OutboxRow]:
        """Return those of the rows that are still pending and due, as they are now (a node re-reads
        what it just claimed: another node may have sent them between its first read and its claim)."""
        out: list[OutboxRow] = []
        for chunk in chunks(list(ids)):
            marks, params = in_list(chunk, "id")
            out += self._outbox_rows(
                f"WHERE a.id IN ({marks}) AND a.status = :pending AND a.next_attempt_at <= :now"
                " ORDER BY a.next_attempt_at, a.id", {**params, "pending": AlertStatus.PENDING, "now": ts(now)})
        return out

    def alerts(self, *, status: AlertStatus | str | None = None, rule: str | None = None,
               limit: int = 50) -> list[OutboxRow]:
        """Return outbox rows, newest first, optionally filtered."""
        where, params = "WHERE 1 = 1", dict[str, object](limit=limit)
        if status:
            where += " AND a.status = :status"
            params["status"] = AlertStatus(status)
        if rule:
            where += " AND a.rule = :rule"
            params["rule"] = rule
        return self._outbox_rows(f"{where} ORDER BY a.id DESC LIMIT :limit", params)

    def release_alerts(self, release_id: int) -> list[OutboxRow]:
        """Return the outbox rows (one per rule and channel) about one release."""
        return self._outbox_rows("WHERE a.release_id = :id ORDER BY a.id", {"id": release_id})

    def notice(self, row: OutboxRow) -> Notice:
        """Return what a channel renders for an outbox row (the release, its sources, the match snippet)."""
        view = self.release_view(row.release_id)
        if view is None:
            raise StoreError(f"alert {row.alert_id}: release {row.release_id} no longer exists")
        snippet = self.scalar("SELECT snippet FROM matches WHERE release_id = :id AND rule = :rule",
                              {"id": row.release_id, "rule": row.rule})
        return Notice(alert_id=row.alert_id, rule=row.rule, channel=row.channel, snippet=snippet or "",
                      release=view)

    # ------------------------------------------------------------------ delivery outcomes

    def _update(self, set_sql: str, ids: Sequence[int], params: Params) -> int:
        """Run `UPDATE alerts SET … WHERE id IN (ids)` chunk by chunk; return the rows changed."""
        n = 0
        for chunk in chunks(list(ids)):
            marks, id_params = in_list(chunk, "id")
            n += self.run(f"UPDATE alerts SET {set_sql} WHERE id IN ({marks})", {**params, **id_params}).rowcount
        return n

    def set_digest(self, ids: Sequence[int], digest_id: str) -> None:
        """Bind alerts into one digest: from now on they are sent, retried and marked together."""
        self._update("digest_id = :digest_id", ids, {"digest_id": digest_id})

    def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        self._update("status = :sent, sent_at = :now, attempts = attempts + 1, last_error = NULL", ids,
                     {"sent": AlertStatus.SENT, "now": ts(now)})

    def mark_failed(self, ids: Sequence[int], error: str, next_attempt: datetime | None) -> None:
        """Record a failed attempt: retry at next_attempt, or dead when it is None."""
        self._update("status = :status, attempts = attempts + 1, last_error = :error, next_attempt_at = :next",
                     ids, {"status": AlertStatus.PENDING if next_attempt else AlertStatus.DEAD, "error": error[:1000],
                           "next": opt_ts(next_attempt)})

    def defer(self, ids: Sequence[int], until: datetime) -> None:
        """Push alerts' next attempt to `until` without counting an attempt (digest not yet due)."""
        self._update("next_attempt_at = :until", ids, {"until": ts(until)})

    def requeue(self, ids: Sequence[int] = (), *, dead: bool = False, now: datetime) -> int:
        """Put alerts (by row id, or every dead one) back in the queue, due now; return how many."""
        reset = "status = :pending, attempts = 0, next_attempt_at = :now, digest_id = NULL"
        params = {"pending": AlertStatus.PENDING, "now": ts(now)}
        if dead:
            return self.run(f"UPDATE alerts SET {reset} WHERE status = :dead",
                            {**params, "dead": AlertStatus.DEAD}).rowcount
        return self._update(reset, ids, params)

    # ------------------------------------------------------------------ channels and summaries

    def disable_channel(self, name: str, reason: str, now: datetime) -> None:
        self.run(
            "INSERT INTO channels (name, disabled_at, disabled_reason) VALUES (:name, :now, :reason)"
            " ON CONFLICT(name) DO UPDATE SET disabled_at = excluded.disabled_at,"
            " disabled_reason = excluded.disabled_reason",
            {"name": name, "now": ts(now), "reason": reason})

    def enable_channel(self, name: str) -> bool:
        return self.run("DELETE FROM channels WHERE name = :name", {"name": name}).rowcount == 1

    def disabled_channels(self) -> dict[str, str]:
        """Return {channel: reason} for channels switched off by a 410 Gone."""
        return {r["name"]: r["disabled_reason"] for r in self.rows(
            "SELECT name, disabled_reason FROM channels WHERE disabled_at IS NOT NULL")}

    def failing_channels(self) -> dict[str, int]:
        """Return {channel: pending alerts that failed at least once}: channels that are retrying."""
        return {r["channel"]: r["n"] for r in self.rows(
            "SELECT channel, count(*) AS n FROM alerts WHERE status = :pending AND attempts > 0 GROUP BY channel",
            {"pending": AlertStatus.PENDING})}

    def outbox_summary(self) -> tuple[int, datetime | None, int]:
        """Return (pending count, oldest pending created_at, dead count)."""
        row = self.one("SELECT count(*) AS pending, min(created_at) AS oldest FROM alerts WHERE status = :pending",
                       {"pending": AlertStatus.PENDING})
        assert row is not None  # an aggregate always returns one row
        dead: int = self.scalar("SELECT count(*) FROM alerts WHERE status = :dead", {"dead": AlertStatus.DEAD})
        return row["pending"], parse_ts(row["oldest"]), dead
