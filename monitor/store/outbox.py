"""The outbox: one row per (release, rule, channel) alert, delivered, retried, bound into digests, requeued.

A row is `pending` until a channel accepted it (`sent`) or its retries ran out (`dead`); the pipeline
queues rows inside the poll's transaction, so an alert is never lost between archive and outbox.
A rule.spike alert is a row per (spike, channel) with no release (`spikes` holds what it says).
Rows stay one per rule even when deliver.py sends several rules' rows of one release as one message:
states, `alerts retry` and the views keep working per rule, and `group_id` remembers the message id
a group went under so its retry is the same message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.errors import StoreError
from monitor.store.base import Params, chunks, in_list, must_ts, opt_ts, parse_ts, ts
from monitor.store.review import ReviewStore
from monitor.store.rows import OutboxRow
from monitor.types import AlertStatus, Notice, ReleaseView, Spike, SpikeNotice

_OUTBOX_SELECT = (
    "SELECT a.id, a.release_id, a.rule, a.channel, a.status, a.attempts, a.next_attempt_at, a.last_error,"
    " a.created_at, a.sent_at, a.digest_id, a.spike_id, a.group_id, r.title, s.matches AS spike_matches"
    " FROM alerts a LEFT JOIN releases r ON r.id = a.release_id LEFT JOIN spikes s ON s.id = a.spike_id"
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
        """Return pending alerts whose next attempt is due, oldest first, a release's rows together."""
        return self._outbox_rows(
            "WHERE a.status = :pending AND a.next_attempt_at <= :now"
            # A release's rows side by side (they share next_attempt_at when queued in one commit):
            # deliver.py sends them as one message, and a batch cuts at most the last release.
            " ORDER BY a.next_attempt_at, a.release_id, a.id LIMIT :limit",
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

    def notice(self, row: OutboxRow, view: ReleaseView | None = None) -> Notice | SpikeNotice:
        """Return what a channel renders for an outbox row (the release, its sources, the match snippet;
        or the spike and its top releases). `view`: the release, already read for another row of it."""
        if row.spike_id is not None:
            return self._spike_notice(row, row.spike_id)
        assert row.release_id is not None  # a row is about a release or a spike (schema.spikes)
        view = view if view is not None and view.id == row.release_id else self.release_view(row.release_id)
        if view is None:
            raise StoreError(f"alert {row.alert_id}: release {row.release_id} no longer exists")
        snippet = self.scalar("SELECT snippet FROM matches WHERE release_id = :id AND rule = :rule",
                              {"id": row.release_id, "rule": row.rule})
        return Notice(alert_id=row.alert_id, rule=row.rule, channel=row.channel, snippet=snippet or "",
                      release=view)

    def notices(self, rows: Sequence[OutboxRow]) -> list[Notice | SpikeNotice]:
        """Return the notices of rows sent as one message: a release shared by several rows is read once."""
        out: list[Notice | SpikeNotice] = []
        view: ReleaseView | None = None
        for row in rows:
            notice = self.notice(row, view)
            if isinstance(notice, Notice):
                view = notice.release
            out.append(notice)
        return out

    def _spike_notice(self, row: OutboxRow, spike_id: int) -> SpikeNotice:
        r = self.one("SELECT * FROM spikes WHERE id = :id", {"id": spike_id})
        if r is None:
            raise StoreError(f"alert {row.alert_id}: spike {spike_id} no longer exists")
        ids = tuple(int(i) for i in json.loads(r["releases"] or "[]"))
        spike = Spike(rule=r["rule"], start=parse_ts(r["window_start"]) or row.created_at,
                      end=parse_ts(r["window_end"]) or row.created_at, count=r["matches"],
                      baseline=float(r["baseline"] or 0.0), factor=float(r["factor"] or 0.0),
                      min=int(r["min_matches"] or 0), release_ids=ids)
        views = tuple(v for v in (self.release_view(i) for i in ids) if v is not None)  # purged ones drop out
        return SpikeNotice(alert_id=row.alert_id, channel=row.channel, spike=spike, releases=views)

    # ------------------------------------------------------------------ spikes

    def spike_counts(self, rule: str, base_start: datetime, start: datetime) -> tuple[int, int]:
        """Return (matches published since `start`, matches published in [base_start, start)) of a rule.

        By publication date (spikes.py says why). A release is matched at most a day before it is
        published (dates are clamped to now + 1 day), so the (rule, matched_at) index bounds the read.
        """
        r = self.one(
            "SELECT sum(CASE WHEN r.published_at >= :start THEN 1 ELSE 0 END) AS n,"
            " sum(CASE WHEN r.published_at < :start THEN 1 ELSE 0 END) AS base"
            " FROM matches m JOIN releases r ON r.id = m.release_id"
            " WHERE m.rule = :rule AND m.matched_at >= :floor AND r.published_at >= :base_start",
            {"rule": rule, "start": ts(start), "base_start": ts(base_start),
             "floor": ts(base_start - timedelta(days=1))})
        return (int(r["n"] or 0), int(r["base"] or 0)) if r is not None else (0, 0)

    def last_spike_at(self, rule: str) -> datetime | None:
        """Return when the rule's latest spike was recorded (window_end), or None."""
        return parse_ts(self.scalar("SELECT max(window_end) FROM spikes WHERE rule = :rule", {"rule": rule}))

    def spike_releases(self, rule: str, start: datetime, limit: int = 5) -> tuple[int, ...]:
        """Return the ids of the rule's top releases published since `start`: most feeds first, then newest."""
        return tuple(r["id"] for r in self.rows(
            "SELECT r.id FROM matches m JOIN releases r ON r.id = m.release_id"
            " WHERE m.rule = :rule AND m.matched_at >= :floor AND r.published_at >= :start"
            " ORDER BY (SELECT count(*) FROM sightings s WHERE s.release_id = r.id) DESC, r.published_at DESC,"
            " r.id DESC LIMIT :limit",
            {"rule": rule, "start": ts(start), "floor": ts(start - timedelta(days=1)), "limit": limit}))

    def add_spike(self, spike: Spike, channels: Sequence[str], now: datetime) -> int:
        """Record a spike and queue its alert for each channel (due now); return the alerts queued."""
        spike_id = self.insert(
            "INSERT INTO spikes (rule, window_start, window_end, matches, baseline, factor, min_matches, releases,"
            " created_at) VALUES (:rule, :start, :end, :matches, :baseline, :factor, :min, :releases, :now)",
            {"rule": spike.rule, "start": ts(spike.start), "end": ts(spike.end), "matches": spike.count,
             "baseline": spike.baseline, "factor": spike.factor, "min": spike.min,
             "releases": json.dumps(list(spike.release_ids)), "now": ts(now)})
        for channel in channels:
            self.run("INSERT INTO alerts (spike_id, rule, channel, status, attempts, next_attempt_at, created_at)"
                     " VALUES (:spike, :rule, :channel, :pending, 0, :now, :now)",
                     {"spike": spike_id, "rule": spike.rule, "channel": channel, "pending": AlertStatus.PENDING,
                      "now": ts(now)})
        return len(channels)

    def spikes(self, rule: str, *, since: datetime) -> list[Spike]:
        """Return the rule's spikes recorded since `since`, oldest first (the rule's web page marks them)."""
        return [Spike(rule=r["rule"], start=must_ts(r["window_start"]), end=must_ts(r["window_end"]),
                      count=r["matches"], baseline=float(r["baseline"] or 0.0), factor=float(r["factor"] or 0.0),
                      min=int(r["min_matches"] or 0))
                for r in self.rows("SELECT * FROM spikes WHERE rule = :rule AND window_end >= :since"
                                   " ORDER BY window_end", {"rule": rule, "since": ts(since)})]

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

    def mark_failed(self, ids: Sequence[int], error: str, next_attempt: datetime | None,
                    group_id: str | None = None) -> None:
        """Record a failed attempt: retry at next_attempt, or dead when it is None. `group_id`: the message
        id several rows were sent under together, kept so their retry is the same message."""
        self._update("status = :status, attempts = attempts + 1, last_error = :error, next_attempt_at = :next,"
                     " group_id = coalesce(:group_id, group_id)",
                     ids, {"status": AlertStatus.PENDING if next_attempt else AlertStatus.DEAD, "error": error[:1000],
                           "next": opt_ts(next_attempt), "group_id": group_id})

    def defer(self, ids: Sequence[int], until: datetime) -> None:
        """Push alerts' next attempt to `until` without counting an attempt (digest not yet due)."""
        self._update("next_attempt_at = :until", ids, {"until": ts(until)})

    def requeue(self, ids: Sequence[int] = (), *, dead: bool = False, now: datetime) -> int:
        """Put alerts (by row id, or every dead one) back in the queue, due now; return how many."""
        reset = "status = :pending, attempts = 0, next_attempt_at = :now, digest_id = NULL, group_id = NULL"
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
