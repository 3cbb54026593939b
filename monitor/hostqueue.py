"""Per-host politeness for the network stages: a work queue that hands a worker the next job whose
host has a free slot, so no worker ever sits blocked on a busy host.

    slots = HostSlots(per_host=2)          # shared by every queue that talks to the same hosts
    q = HostQueue(slots)
    q.put(key, url, job)      -> False when that key is already queued or running (no double poll)
    ticket = q.take()         -> the oldest job whose host has < per_host running; None once closed
    q.done(ticket)            -> frees the host slot (and wakes workers of every queue on `slots`)
    q.close(drain=...)        -> take() returns None (at once, or after the queued jobs with drain)
    WorkerPool(q, handle, workers=8).start() / .join() / .busy
        handle(job) -> None, or a follow-up the worker runs after the host slot is freed (CPU work
        such as parsing a fetched body must not hold a host's slot: the next request could go out)

The host is the URL's lower-cased host name; `file:` URLs have none and are never limited. Waiting
for a slot happens here, before a job starts, never inside a fetch: it cannot time out and cannot
be recorded as a feed failure. A second stage (e.g. fetching release pages) gets its own HostQueue
on the same HostSlots, so the two stages together stay within `per_host` requests to one host.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from monitor.errors import StoreUnavailable

T = TypeVar("T")
PER_HOST = 2  # concurrent requests to one host
log = logging.getLogger(__name__)


def host_of(url: str) -> str | None:
    """Return the politeness key of a URL: its lower-cased host name (None for file: and the like)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


class HostSlots:
    """Counts requests in flight per host; one condition variable wakes the workers of every queue."""

    def __init__(self, per_host: int = PER_HOST) -> None:
        self.per_host = max(1, per_host)
        self.cond = threading.Condition()
        self.running: Counter[str] = Counter()

    def free(self, host: str | None) -> bool:
        """Return whether a job for `host` may start now (call with cond held)."""
        return host is None or self.running[host] < self.per_host


@dataclass(frozen=True)
class Ticket(Generic[T]):
    key: str
    host: str | None
    job: T


class HostQueue(Generic[T]):
    """Jobs in arrival order; take() skips the ones whose host is at its limit (see module doc)."""

    def __init__(self, slots: HostSlots | None = None) -> None:
        self.slots = slots or HostSlots()
        self._pending: list[Ticket[T]] = []
        self._keys: set[str] = set()  # queued or running
        self._closed = False
        self._drain = False

    def put(self, key: str, url: str, job: T) -> bool:
        """Queue a job; return False (and drop it) when `key` is queued or running, or the queue is closed."""
        with self.slots.cond:
            if self._closed or key in self._keys:
                return False
            self._keys.add(key)
            self._pending.append(Ticket(key, host_of(url), job))
            self.slots.cond.notify_all()
            return True

    def take(self) -> Ticket[T] | None:
        """Return the oldest job whose host has a free slot (its slot now taken), waiting for one;
        None once closed (after the queued jobs when closed with drain)."""
        cond = self.slots.cond
        with cond:
            while True:
                if self._closed and not (self._drain and self._pending):
                    return None
                for i, ticket in enumerate(self._pending):
                    if self.slots.free(ticket.host):
                        del self._pending[i]
                        if ticket.host is not None:
                            self.slots.running[ticket.host] += 1
                        return ticket
                cond.wait()  # woken by put(), close() or done() of any queue on these slots

    def done(self, ticket: Ticket[T]) -> None:
        """Mark a job finished: its key may be queued again and its host slot is free."""
        with self.slots.cond:
            self._keys.discard(ticket.key)
            if ticket.host is not None:
                self.slots.running[ticket.host] -= 1
                if self.slots.running[ticket.host] <= 0:
                    del self.slots.running[ticket.host]
            self.slots.cond.notify_all()

    def close(self, *, drain: bool = False) -> None:
        """Stop handing out jobs: at once (queued jobs are dropped), or with drain after the queued ones."""
        with self.slots.cond:
            self._closed, self._drain = True, drain
            if not drain:
                for ticket in self._pending:
                    self._keys.discard(ticket.key)
                self._pending.clear()
            self.slots.cond.notify_all()

    def __len__(self) -> int:
        with self.slots.cond:
            return len(self._pending)


class WorkerPool(Generic[T]):
    """`workers` threads taking jobs from a HostQueue and handing each to `handle`, until it closes.

    handle() must not raise (it should turn every failure into its result); if it does, the error is
    logged and the worker goes on: one bad job never shrinks the pool.
    """

    def __init__(self, queue: HostQueue[T], handle: Callable[[T], Callable[[], object] | None], *, workers: int,
                 name: str) -> None:
        self.queue = queue
        self._handle = handle
        self._busy = 0
        self._completed = 0
        self._lock = threading.Condition()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, workers))]

    def start(self) -> WorkerPool[T]:
        for thread in self._threads:
            thread.start()
        return self

    @property
    def busy(self) -> int:
        """Jobs running right now."""
        with self._lock:
            return self._busy

    @property
    def completed(self) -> int:
        """Jobs finished since start (handled or failed), each after its host slot was freed."""
        with self._lock:
            return self._completed

    def join(self, timeout: float | None = None) -> None:
        """Wait for every worker to exit (they exit once the queue is closed and, with drain, empty)."""
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            ticket = self.queue.take()
            if ticket is None:
                return
            with self._lock:
                self._busy += 1
            after = None
            try:
                after = self._handle(ticket.job)
            except StoreUnavailable as exc:  # the database server is restarting: the job runs again later
                log.warning("worker job %s failed: %s", ticket.key, exc)
            except Exception:  # noqa: BLE001 - the handler's own bug: logged, the pool lives on
                log.exception("worker job %s failed", ticket.key)
            finally:
                self.queue.done(ticket)
            try:
                if after is not None:
                    after()  # the host's slot is free again: its next request need not wait for this
            except Exception:  # noqa: BLE001 - as above
                log.exception("worker job %s failed", ticket.key)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._completed += 1
                    self._lock.notify_all()
