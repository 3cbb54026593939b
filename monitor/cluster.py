"""One node's leases: what it holds, keeping them alive, and the fence that stops it working in time.

    keeper = LeaseKeeper(node_id, lease_seconds, clock, open_store)
    keeper.start()                            first renewal (raises when the database is unreachable),
                                              then a thread renewing every lease/3
    keeper.claim(store, ["feed:a", …])         -> the resources won (nothing while the fence is down)
    keeper.holds("feed:a")                    may this node act on it *now*?
    keeper.release(store, [...], until=None)  give up (or cool off until `until`), stop renewing
    keeper.stop()                             stop renewing and give every lease up (clean shutdown)

The fence (no split brain). A lease row says "node N until T", T written by N from its own clock
(store.ts(): whole seconds, rounded down). Another node takes the resource once its own clock
reads T or later. N therefore acts only while

    monotonic now < monotonic time the last successful renewal was *sent* + lease - margin,
    margin = 1 s (timestamps are whole seconds) + lease / 5 (clock skew between hosts, slow statements)

A node cut from the database (network, server down, a stuck pool) stops getting renewals through, its
fence drops before any lease it wrote can expire, and it starts no send, no fetch, no poll from
then on. What it had already started (a webhook call in flight) may still finish after that: that
is the one window in which two nodes can send the same alert, always under the same alert id.
Guaranteed only while the hosts' clocks agree within lease/5 (NTP).

Resource names are the store's (monitor/store/leases.py): "feed:", "page:", "alert:", "host:", "slot:", "job:".
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.clock import Clock
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store import Store

log = logging.getLogger("monitor.cluster")

TIME_RESOLUTION = 1.0  # store.ts() writes whole seconds


def margin(lease: float) -> float:
    """How long before its leases expire a node stops acting on them (see the module's docstring)."""
    return TIME_RESOLUTION + lease / 5


class LeaseKeeper:
    def __init__(self, node: str, lease: float, clock: Clock, open_store: Callable[[], Store]) -> None:
        self.node = node
        self.lease = lease
        self.clock = clock
        self._open_store = open_store  # the renewal thread's own Store (one per thread)
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._valid_until = -1.0  # monotonic; nothing is ours before the first renewal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Statements sent (the lease traffic the benchmark reports; the daemon logs them at exit).
        self.renewals = 0
        self.claims = 0
        self.releases = 0
        self.lost = 0  # leases found taken over by another node at a renewal

    # ------------------------------------------------------------------ the fence

    def valid(self) -> bool:
        """Whether this node's leases are certainly still its own now."""
        return self.clock.monotonic() < self._valid_until

    def holds(self, resource: str) -> bool:
        """Whether this node may act on `resource` now (held, and the fence is up)."""
        with self._lock:
            held = resource in self._held
        return held and self.valid()

    @property
    def held(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._held)

    # ------------------------------------------------------------------ claims

    def _until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.lease)

    def claim(self, store: Store, resources: Iterable[str]) -> set[str]:
        """Claim resources for this node; return those won (none while the fence is down)."""
        wanted = list(resources)
        if not wanted:
            return set()
        if self._thread is None:
            # Not started (a caller driving the daemon step by step, `run --once`): no renewals run,
            # so each claim first proves the database answers, which raises the fence from now.
            self.renew(store)
        if not self.valid():
            return set()
        now = self.clock.now()
        won = store.claim_leases(self.node, wanted, now, self._until(now))
        self.claims += 1
        with self._lock:
            self._held |= won
        return won

    def release(self, store: Store, resources: Iterable[str], *, until: datetime | None = None) -> None:
        """Give resources up (with `until`: keep them, unrenewed, until then). Never raises: a lease
        that could not be given back simply expires."""
        gone = list(resources)
        if not gone:
            return
        with self._lock:
            self._held.difference_update(gone)
        self.releases += 1
        try:
            store.release_leases(self.node, gone, until=until)
        except MonitorError as exc:
            log.debug("lease release failed (the leases expire instead): %s", exc)

    def expiry(self, store: Store, resource: str) -> datetime | None:
        """When the current holder's lease on `resource` runs out (None: nobody holds it)."""
        return store.lease_expiry(resource)

    def forget(self, resources: Iterable[str]) -> None:
        """Stop renewing resources without a statement (they expire)."""
        with self._lock:
            self._held.difference_update(resources)

    # ------------------------------------------------------------------ renewal

    def renew(self, store: Store) -> bool:
        """Renew every lease this node holds; raise the fence again. False when the database failed."""
        sent = self.clock.monotonic()
        now = self.clock.now()
        with self._lock:
            held = set(self._held)
        try:
            kept = store.renew_leases(self.node, held, self._until(now)) if held else set()
            if not held:
                store.scalar("SELECT 1")  # a round trip proves the database still answers us
        except MonitorError as exc:
            log.warning("lease renewal failed: %s (this node stops sending and fetching in %.1f s)", exc,
                        max(0.0, self._valid_until - self.clock.monotonic()))
            return False
        self.renewals += 1
        with self._lock:
            # (A lease released while the renewal was on its way is not lost: it is simply gone.)
            lost = (held - kept) & self._held
            self._held.difference_update(lost)
            self._valid_until = sent + self.lease - margin(self.lease)
        if lost:
            self.lost += len(lost)
            log.warning("%d lease(s) were taken over by another node: %s", len(lost), ", ".join(sorted(lost)[:5]))
        return True

    def start(self) -> None:
        """Renew once now (a database that does not answer raises), then every lease/3 in a thread."""
        store = self._open_store()
        sent = self.clock.monotonic()
        store.scalar("SELECT 1")
        self._valid_until = sent + self.lease - margin(self.lease)
        self._thread = threading.Thread(target=self._loop, name="leases", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        store: Store | None = None
        while not self._stop.wait(self.lease / 3):
            try:
                if store is None:
                    store = self._open_store()
                self.renew(store)
            except MonitorError as exc:  # the store could not even be opened: the fence drops in time
                log.warning("lease renewal failed: %s", exc)
            except Exception:  # noqa: BLE001 - the renewer must outlive a bug; the fence drops meanwhile
                log.exception("lease renewal crashed")

    def stop(self, store: Store | None = None) -> None:
        """Stop renewing; give up what this node holds so the others need not wait for expiry.
        (Cooling-off leases stay until their time: a host just asked still gets its page_delay.)"""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._valid_until = -1.0
        with self._lock:
            held, self._held = self._held, set()
        if store is not None and held:
            with contextlib.suppress(MonitorError):
                store.release_leases(self.node, held)
