"""The service's health as the archive records it: one snapshot that `status`, `/healthz`,
`/api/feeds` and the web view's feeds page all render.

The daemon and the poller write what happened (the META_* keys below, each feed's row); this module
reads it once and decides each feed's word and next poll with the same rules everywhere
(`schedule.feed_state`, `schedule.polled`, `schedule.assess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor import schedule
from monitor.store import parse_ts
from monitor.types import Feed, FeedCondition, FeedStatus

# Archive meta keys the service writes (store.set_meta) and the readers below read.
META_LAST_POLL = "daemon_last_poll"  # the last poll by anyone, daemon or `run --once` (the name is historical)
META_STARTED = "daemon_started"
META_STOPPED = "daemon_stopped"


class HealthReads(Protocol):
    """What a snapshot reads from the archive (store.Store has it)."""

    def feeds(self) -> list[FeedStatus]: ...
    def meta(self, key: str) -> str | None: ...
    def outbox_summary(self) -> tuple[int, datetime | None, int]: ...
    def failing_channels(self) -> dict[str, int]: ...
    def disabled_channels(self) -> dict[str, str]: ...
    def page_counts(self) -> dict[str, int]: ...
    def page_failures(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class FeedHealth:
    name: str
    url: str
    configured: Feed | None  # None: in the archive, no longer in config.toml
    row: FeedStatus | None  # None: configured, never polled
    state: FeedCondition
    next_poll: datetime | None  # the planned poll; None for a feed that is not polled (off, gone, removed)
    pages_failed: int


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    health: schedule.Health
    feeds: tuple[FeedHealth, ...]  # configured feeds in config order, then removed ones by name
    last_poll: datetime | None
    started: datetime | None
    stopped: datetime | None
    pending: int
    oldest_pending: datetime | None
    dead: int
    failing_channels: dict[str, int]
    disabled_channels: dict[str, str]
    pages: dict[str, int]  # pending, failed, skipped, done: every status, 0 when none

    @property
    def configured(self) -> tuple[FeedHealth, ...]:
        return tuple(f for f in self.feeds if f.configured is not None)


def snapshot(store: HealthReads, feeds: Sequence[Feed], now: datetime) -> Snapshot:
    """Read the service's health from the archive (one read-only pass) and decide it."""
    rows = {r.name: r for r in store.feeds()}
    last_poll = parse_ts(store.meta(META_LAST_POLL))
    started, stopped = parse_ts(store.meta(META_STARTED)), parse_ts(store.meta(META_STOPPED))
    pending, oldest, dead = store.outbox_summary()
    failing, disabled = store.failing_channels(), store.disabled_channels()
    counts, page_failures = store.page_counts(), store.page_failures()
    health = schedule.assess(feeds, rows, now=now, last_poll=last_poll, started=started, stopped=stopped,
                             failing_channels=failing, disabled_channels=disabled)
    configured = {f.name: f for f in feeds}
    out = []
    for name in list(configured) + sorted(set(rows) - set(configured)):
        f, r = configured.get(name), rows.get(name)
        state = health.states.get(name) or schedule.feed_state(f, r, now)
        out.append(FeedHealth(
            name=name, url=f.url if f else (r.url if r else ""), configured=f, row=r, state=state,
            next_poll=r.next_poll_at if r and schedule.polled(state) else None,
            pages_failed=page_failures.get(name, 0)))
    return Snapshot(now=now, health=health, feeds=tuple(out), last_poll=last_poll, started=started,
                    stopped=stopped, pending=pending, oldest_pending=oldest, dead=dead, failing_channels=failing,
                    disabled_channels=disabled,
                    pages={k: counts.get(k, 0) for k in ("pending", "failed", "skipped", "done")})
