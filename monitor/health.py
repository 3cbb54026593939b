"""The service's health as the archive records it: one snapshot that `status`, `/healthz`,
`/api/feeds` and the web view's feeds page all render.

The daemon and the poller write what happened (the META_* keys below, each feed's row); this module
reads it once and decides each feed's word and next poll with the same rules everywhere
(`schedule.feed_state`, `schedule.polled`, `schedule.assess`).

Nodes (issue 19): each daemon keeps a row in the node registry (store/nodes.py). Once any daemon has
registered, the registry is what says whether the service runs: down when no node has a heartbeat
fresher than NODE_STALE_AFTER (a clean stop and a kill -9 alike), and the archive's "daemon stopped"
marker, which one node of several writes when it alone exits, is no longer read. Degraded when the
live nodes run different configs (config/fingerprint.py) or versions. An archive no daemon ever
registered in (`run --once` from cron) is judged as before, by its polls alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from monitor import schedule
from monitor.node import LIVE, NODE_STALE_AFTER, STALE, STOPPED
from monitor.store import NodeRow, parse_ts
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
    def cluster_nodes(self, now: datetime, *, holds: bool = True) -> list[NodeRow]: ...


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
    nodes: tuple[NodeRow, ...] = ()  # the node registry, oldest start first (empty: no daemon registered)
    stale_after: float = NODE_STALE_AFTER

    @property
    def configured(self) -> tuple[FeedHealth, ...]:
        return tuple(f for f in self.feeds if f.configured is not None)

    def node_states(self) -> dict[str, int]:
        """How many registered nodes are live, stale and stopped (every word, 0 when none)."""
        counts = dict.fromkeys((LIVE, STALE, STOPPED), 0)
        for n in self.nodes:
            counts[n.state(self.now, self.stale_after)] += 1
        return counts

    def live_nodes(self) -> list[NodeRow]:
        return [n for n in self.nodes if n.state(self.now, self.stale_after) == LIVE]

    def nodes_json(self) -> dict[str, Any]:
        """What `status --json` and `/healthz` say about the nodes."""
        live = self.live_nodes()
        return {**self.node_states(), "config_hashes": sorted({n.config_hash or "" for n in live}),
                "versions": sorted({n.version or "" for n in live})}


def snapshot(store: HealthReads, feeds: Sequence[Feed], now: datetime,
             stale_after: float = NODE_STALE_AFTER) -> Snapshot:
    """Read the service's health from the archive (one read-only pass) and decide it; a node is live
    while its last heartbeat is at most `stale_after` seconds old."""
    rows = {r.name: r for r in store.feeds()}
    last_poll = parse_ts(store.meta(META_LAST_POLL))
    started, stopped = parse_ts(store.meta(META_STARTED)), parse_ts(store.meta(META_STOPPED))
    nodes = tuple(store.cluster_nodes(now, holds=False))  # health needs no lease counts (bench_nodes.py)
    pending, oldest, dead = store.outbox_summary()
    failing, disabled = store.failing_channels(), store.disabled_channels()
    counts, page_failures = store.page_counts(), store.page_failures()
    # Once a daemon registered, the registry says who runs (see the module's doc), not the stop marker.
    health = schedule.assess(feeds, rows, now=now, last_poll=last_poll, started=started,
                             stopped=None if nodes else stopped,
                             failing_channels=failing, disabled_channels=disabled)
    health = _cluster(health, nodes, now, stale_after)
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
                    pages={k: counts.get(k, 0) for k in ("pending", "failed", "skipped", "done")},
                    nodes=nodes, stale_after=stale_after)


def _cluster(health: schedule.Health, nodes: Sequence[NodeRow], now: datetime, stale_after: float) -> schedule.Health:
    """Add the registry's verdict: down without a live node, degraded when live nodes disagree."""
    if not nodes:
        return health
    live = [n for n in nodes if n.state(now, stale_after) == LIVE]
    code, reasons = health.code, list(health.reasons)
    if not live:
        # A node that went silent (killed, cut off) says more than one that exited as asked.
        silent = [n for n in nodes if n.stopped_at is None]
        last = max(silent or nodes, key=lambda n: n.stopped_at or n.heartbeat_at)
        if last.stopped_at is not None:
            why = f"it stopped at {last.stopped_at:%Y-%m-%d %H:%M:%S} UTC"
        else:
            why = f"its last heartbeat was at {last.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (killed, or cut off?)"
        reasons.insert(0, f"no daemon is running: no node has a heartbeat from the last {stale_after:.0f} s; "
                          f"the last was {last.host} pid {last.pid}: {why}")
        code = schedule.DOWN
    elif len({n.config_hash for n in live}) > 1 or len({n.version for n in live}) > 1:
        reasons.append("live nodes disagree: " + "; ".join(
            f"{n.host} pid {n.pid} config {n.config_hash} version {n.version}" for n in live)
            + " (give every node the same config.toml and version)")
        code = max(code, schedule.DEGRADED)
    if code == schedule.HEALTHY and reasons:
        code = schedule.DEGRADED
    return replace(health, code=code, reasons=tuple(reasons))
