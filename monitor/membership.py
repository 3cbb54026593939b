"""This daemon's row in the node registry: join at start, beat, report, leave (issue 19).

    m = Membership(identity, clock)
    m.join(store, config_hash, single=True)   # SQLite: raises ArchiveInUse naming a live daemon
    m.beat(store)                              # every NODE_HEARTBEAT_INTERVAL (a daemon job)
    m.mismatches(store)                        # live nodes running another config or version
    m.reconfigure(store, config_hash)          # after SIGHUP
    m.leave(store)                             # clean exit: the row says "stopped"

The daemon owns the timing and the logging; this module decides. SQLite is one node: its archive has
one writer and the daemons do not divide the work, so a second daemon would poll every feed again on
its own timers. What blocks a start there is a *live* other row: not stopped, a fresh heartbeat, and
(on this host) a pid that still exists. A row left by kill -9 has a dead pid (or, from another host,
goes stale within NODE_STALE_AFTER), so it never blocks a restart. A container that restarts with the
same hostname and pid (pid 1) is not blocked by its own old row either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.clock import Clock
from monitor.errors import ArchiveInUse
from monitor.node import LIVE, NODE_KEEP_DAYS, NODE_STALE_AFTER, NodeIdentity, pid_running
from monitor.store import NodeRow, Store, ts


@dataclass(frozen=True)
class Mismatch:
    """A live node whose config hash or version differs from ours."""

    node: NodeRow
    config: bool
    version: bool

    def describe(self) -> str:
        n = self.node
        what = [f"config {n.config_hash}" if self.config else "", f"version {n.version}" if self.version else ""]
        return f"{n.host} pid {n.pid} ({', '.join(w for w in what if w)})"


class Membership:
    def __init__(self, identity: NodeIdentity, clock: Clock, *, stale_after: float = NODE_STALE_AFTER,
                 running: Callable[[int], bool] = pid_running) -> None:
        self.identity = identity
        self.clock = clock
        self.stale_after = stale_after
        self.config_hash = ""
        self._running = running
        # beat() and leave() run on different threads at shutdown: a beat that finds the row stopped
        # must not register it again, so "left" and each beat's write are taken under one lock.
        self._lock = threading.Lock()
        self._left = False

    @property
    def id(self) -> str:
        return self.identity.id

    def join(self, store: Store, config_hash: str, *, single: bool) -> int:
        """Register this node (pruning rows stopped or silent for NODE_KEEP_DAYS); return how many were pruned.

        single (SQLite): refuse, with ArchiveInUse, while another live daemon runs on the archive. The
        check and the insert are one write transaction, so of two daemons starting at once one wins.
        """
        self.config_hash = config_hash
        now = self.clock.now()
        with store.transaction():
            if single:
                blocking = [n for n in store.cluster_nodes(now, holds=False) if self._blocks(n, now)]
                if blocking:
                    raise ArchiveInUse(self._refusal(store, blocking[0], now))
            pruned = store.prune_nodes(now - timedelta(days=NODE_KEEP_DAYS))
            store.register_node(self.identity, config_hash, now)
        return pruned

    def beat(self, store: Store) -> bool:
        """Record a heartbeat; return False when the row had vanished and was registered again."""
        with self._lock:
            if self._left:
                return True
            now = self.clock.now()
            with store.transaction():
                if store.node_heartbeat(self.id, now, self.config_hash):
                    return True
                store.register_node(self.identity, self.config_hash, now)
            return False

    def reconfigure(self, store: Store, config_hash: str) -> None:
        self.config_hash = config_hash
        with store.transaction():
            store.set_node_config(self.id, config_hash)

    def leave(self, store: Store) -> None:
        with self._lock:
            self._left = True
            with store.transaction():
                store.node_stopped(self.id, self.clock.now())

    def mismatches(self, store: Store) -> list[Mismatch]:
        """The other live nodes whose config hash or version is not ours."""
        now = self.clock.now()
        out = []
        for n in store.cluster_nodes(now, holds=False):
            if n.id == self.id or n.state(now, self.stale_after) != LIVE:
                continue
            config, version = n.config_hash != self.config_hash, n.version != self.identity.version
            if config or version:
                out.append(Mismatch(n, config, version))
        return out

    def _blocks(self, n: NodeRow, now: datetime) -> bool:
        if n.id == self.id or n.state(now, self.stale_after) != LIVE:
            return False
        if n.host != self.identity.host:
            return True  # cannot look at another host's processes: its heartbeat is fresh, so it runs
        return n.pid != self.identity.pid and self._running(n.pid)

    def _refusal(self, store: Store, n: NodeRow, now: datetime) -> str:
        beat = max(0, round((now - n.heartbeat_at).total_seconds()))
        return (f"{store.path}: another press-monitor daemon is running on this archive: host {n.host}, "
                f"pid {n.pid}, started {ts(n.started_at)} (last heartbeat {beat}s ago). An SQLite archive "
                f"takes one daemon: stop that one first (a daemon killed without a clean exit stops "
                f"blocking once its pid is gone, or {self.stale_after:.0f} s after its last heartbeat), "
                f"or put the archive on PostgreSQL to run several nodes")
