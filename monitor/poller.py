"""One feed poll, decided and recorded the same way for `run --once` and the daemon.

    poller = FeedPoller(app, clock=clock)
    poller.due(store, feeds, force=False, override_server=False) -> Due: the feeds to poll now, and why
                                          the others wait
    poller.round(store, feeds, workers=8) -> Polled per feed as it lands (`run --once`)
    poller.start(store, feed)()           -> Polled (the daemon, in one of its workers: fetch, then the rest
                                             after the host's slot is freed); poll() does both at once

A poll is: gather (fetch, then digest once the host's slot is free; in a worker, any number at once) -> commit
(pipeline.commit) -> plan the next poll (schedule.plan) -> record it: the next poll, 410 Gone,
Retry-After (with the poll), a permanent redirect under watch or adopted, the last poll. The commit
and the record are one write transaction; `round` puts every poll already gathered (up to
GROUP_MAX) in one, each poll a savepoint, so a sweep of 304s costs one or a few transactions.

Which feed is due is schedule.waiting()'s decision on what the archive recorded, whoever recorded
it: a feed gone (410), waiting out a Retry-After, or polled less than its interval ago is skipped.
`force` overrides our own schedule (the interval, a backoff), never what a server asked for: a
Retry-After or a 410 is overridden only by the separate `override_server`. The URL polled is the
configured one, or the redirect target adopted for it (recorded in meta), so neither entry point
undoes the other's adoption.

Per-host politeness lives with the fetches: `round` feeds a HostQueue, whose workers take the next
feed whose host has a free slot (see monitor/hostqueue.py). The daemon runs its own long-lived
HostQueue + WorkerPool on the same `slots`, calling poll().

An error anywhere in the commit or the plan (a bug, a value the archive refuses) is recorded as the
feed's failure (`internal error: ...`), so `status` shows it, and the feed backs off like any other
failure; the traceback goes to the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor import pipeline, schedule
from monitor.clock import Clock
from monitor.fetch import Fetcher
from monitor.health import META_LAST_POLL  # the last poll by anyone (`status` reads it)
from monitor.hostqueue import PER_HOST, HostQueue, HostSlots, WorkerPool
from monitor.logging_setup import event
from monitor.store import Store, ts
from monitor.types import Database, Feed, FeedState, FeedStatus, PollResult, Settings

if TYPE_CHECKING:
    from monitor.app import App

log = logging.getLogger("monitor.poller")

META_MOVED = "feed_moved:"  # + feed name -> {"from": config URL, "to": adopted URL, "at": time}
GROUP_MAX = 50  # polls committed in one write transaction by round() (when that many are ready)
_ERROR_CHARS = 300  # an internal error's message as recorded (the traceback is in the log)


@dataclass(frozen=True)
class Skip:
    """A feed not polled this time: why (schedule.Wait) and its failure streak."""

    feed: Feed
    wait: schedule.Wait
    failures: int = 0


@dataclass(frozen=True)
class Due:
    ready: tuple[Feed, ...]  # with their effective URL (an adopted redirect)
    skipped: tuple[Skip, ...]


@dataclass(frozen=True)
class Polled:
    """One recorded poll: what happened, what was planned, and a redirect adopted on the way."""

    feed: Feed  # as polled (effective URL)
    result: PollResult
    plan: schedule.Plan
    failures: int  # the streak including this poll
    next_at: datetime | None  # None: gone
    adopted: str | None = None  # the new URL, when a permanent redirect was adopted by this poll


def make_fetcher(settings: Settings, clock: Clock) -> Fetcher:
    return Fetcher(user_agent=settings.user_agent, timeout=settings.timeout, max_bytes=settings.max_feed_bytes,
                   clock=clock)


def fetch_settings(settings: Settings) -> tuple[object, ...]:
    """The settings a Fetcher is built from (a reload that changes them needs a new one)."""
    return settings.user_agent, settings.timeout, settings.max_feed_bytes


class SerialStore(Store):
    """A Store whose write transactions take a lock shared by every thread of the process.

    SQLite allows one writer; without the lock, a delivery marking an alert sent while a poll
    commits waits in SQLite's busy handler, which sleeps in steps of up to 100 ms: measured, that
    idled the daemon for half of a cold start. Other processes (the CLI) still meet busy_timeout.
    """

    def __init__(self, database: Database, lock: threading.RLock) -> None:
        self._lock = lock  # before Store.__init__: a new archive is migrated in a transaction
        super().__init__(database)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock, super().transaction():
            yield


class FeedPoller:
    """Polls feeds and records what schedule decided; shared by `run --once` and the daemon."""

    def __init__(self, app: App, *, clock: Clock, fetcher: Fetcher | None = None, rng: random.Random | None = None,
                 per_host: int = PER_HOST) -> None:
        self.app = app  # replaced on reload; read once per poll
        self.clock = clock
        self.fetcher = fetcher or make_fetcher(app.config.settings, clock)
        self.rng = rng or random.Random()
        self.slots = HostSlots(per_host)
        # Held across a poll's commit and its schedule update (and by SerialStore transactions).
        self.lock = threading.RLock()
        self._closed = False
        self._local = threading.local()

    # ------------------------------------------------------------------ which feeds, at which URL

    def effective(self, store: Store, feed: Feed) -> Feed:
        """Return the feed with its adopted redirect target as URL, if it has one for its configured URL."""
        moved = store.meta(META_MOVED + feed.name)
        if moved:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(moved)
                if record["from"] == feed.url:
                    return replace(feed, url=record["to"])
        return feed

    def due(self, store: Store, feeds: Sequence[Feed], *, now: datetime | None = None, force: bool = False,
            override_server: bool = False) -> Due:
        """Split the enabled feeds into those to poll now and those that wait (see schedule.waiting).

        force: poll feeds that our schedule holds back (not due, backing off); override_server: also
        those the server asked to wait (Retry-After) or declared gone (410).
        """
        now = now or self.clock.now()
        wanted = [self.effective(store, f) for f in feeds if f.enabled]
        rows = store.schedules([f.name for f in wanted])
        ready: list[Feed] = []
        skipped: list[Skip] = []
        for feed in wanted:
            row = rows.get(feed.name)
            wait = schedule.waiting(feed, row, now)
            if wait is None or override_server or (force and wait.reason == "not-due"):
                ready.append(feed)
            else:
                skipped.append(Skip(feed, wait, row.failures if row else 0))
        return Due(tuple(ready), tuple(skipped))

    def check(self, store: Store, feed: Feed) -> Skip | None:
        """Return why this (effective) feed is not due now, or None (the daemon asks before each poll)."""
        row = store.schedule(feed.name)
        wait = schedule.waiting(feed, row, self.clock.now())
        return None if wait is None else Skip(feed, wait, row.failures if row else 0)

    # ------------------------------------------------------------------ polling

    def fetch(self, feed: Feed, state: FeedState) -> pipeline.Outcome:
        """Fetch one feed (the network half, under the host's slot; any thread; never raises)."""
        return pipeline.fetch(feed, state, fetcher=self.fetcher, clock=self.clock)

    def digest(self, fetched: pipeline.Outcome, state: FeedState) -> pipeline.Outcome:
        """Digest a fetched feed (the CPU half, after the host's slot is freed; never raises)."""
        return pipeline.digest_fetched(fetched, state, clock=self.clock)

    def finish(self, store: Store, outcome: pipeline.Outcome) -> Polled | None:
        """Commit a gathered poll, plan the next one and record it; None once close() was called."""
        feed = outcome.feed
        app = self.app
        with self.lock:
            if self._closed:
                return None  # shutting down: this poll is simply done again next time
            now = self.clock.now()
            # One write transaction for the poll and its schedule (the commit's own is a savepoint in it).
            with store.transaction():
                try:
                    result = pipeline.commit(store, outcome, now, settings=app.config.settings, rules=app.rules,
                                             channels=app.channels)
                    return self._record(store, feed, result, now)
                except Exception as exc:  # noqa: BLE001 - recorded as the feed's failure, never lost silently
                    result = self._internal_error(store, feed, exc, now, outcome.elapsed)
                    return self._record(store, feed, result, now)

    def start(self, store: Store, feed: Feed) -> Callable[[], Polled | None]:
        """Fetch now; return the rest (digest + finish) for the caller to run once the host's slot
        is free (the daemon's workers: a WorkerPool follow-up), in the same thread."""
        state = store.feed_state(feed.name, feed.url)
        fetched = self.fetch(feed, state)
        return lambda: self.finish(store, self.digest(fetched, state))

    def poll(self, store: Store, feed: Feed) -> Polled | None:
        """One whole poll in the calling thread."""
        return self.start(store, feed)()

    def round(self, store: Store, feeds: Sequence[Feed], *, workers: int = 8) -> Iterator[Polled]:
        """Poll each feed once: gathers in `workers` threads, at most `per_host` per host at a time;
        commits on the caller's thread (one writer); yield each Polled as it lands."""
        if not feeds:
            return
        states = {f.name: store.feed_state(f.name, f.url) for f in feeds}
        outcomes: queue.Queue[pipeline.Outcome] = queue.Queue()
        work: HostQueue[Feed] = HostQueue(self.slots)
        for feed in feeds:
            work.put(feed.name, feed.url, feed)
        work.close(drain=True)

        def gather(feed: Feed) -> Callable[[], None]:
            # The fetch holds the host's slot; the digest (CPU) runs after it is freed. Neither raises.
            fetched = self.fetch(feed, states[feed.name])
            return lambda: outcomes.put(self.digest(fetched, states[feed.name]))

        pool = WorkerPool(work, gather, workers=min(max(1, workers), len(feeds)), name="poll").start()
        try:
            left = len(feeds)
            while left:
                # Group commit: every outcome already waiting is committed in one write transaction
                # (each poll a savepoint in it). A sweep of 304s then costs one transaction, not one
                # per feed; a group is bounded so the write lock is never held for long.
                group = [outcomes.get()]
                while len(group) < min(left, GROUP_MAX):
                    try:
                        group.append(outcomes.get_nowait())
                    except queue.Empty:
                        break
                left -= len(group)
                with self.lock, store.transaction():
                    done = [self.finish(store, o) for o in group]
                for polled in done:
                    if polled is not None:
                        yield polled
        finally:
            work.close()
            pool.join()

    def close(self) -> None:
        """Let no commit start any more (waiting for one in progress, at most 10 s). For shutdown."""
        acquired = self.lock.acquire(timeout=10)
        self._closed = True
        if acquired:
            self.lock.release()

    def thread_store(self) -> Store:
        """Return this thread's Store, its write transactions serialized with the poller's commits."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = SerialStore(self.app.config.settings.database, self.lock)
        return store

    # ------------------------------------------------------------------ recording

    def _internal_error(self, store: Store, feed: Feed, exc: Exception, now: datetime, elapsed: float) -> PollResult:
        event(log, logging.ERROR, "poll_error", feed=feed.name, error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        message = f"internal error: {type(exc).__name__}: {exc}"[:_ERROR_CHARS]
        with store.transaction():
            store.record_poll(store.feed_id(feed.name, feed.url), now, error=message, error_kind="internal")
        return PollResult(feed.name, error=message, error_kind="internal", elapsed=elapsed)

    def _record(self, store: Store, feed: Feed, result: PollResult, now: datetime) -> Polled:
        """Decide and record the feed's next poll (and follow a permanent redirect); return the decision."""
        adopted = None
        with store.transaction():
            row = store.schedule(feed.name)
            failures = row.failures if row else 0
            published: Sequence[datetime] = ()
            if feed.adaptive and result.ok:
                published = store.recent_publications(feed.name, since=now - schedule.ADAPTIVE_WINDOW,
                                                      limit=schedule.ADAPTIVE_SAMPLE)
            plan = schedule.plan(feed, result, failures=failures, now=now, rng=self.rng, published=published)
            if result.ok and row is not None:
                adopted = self._track_redirect(store, feed, row, result, now)
            next_at = None if plan.gone else now + timedelta(seconds=plan.delay or 0.0)
            store.set_schedule(feed.name, next_poll_at=next_at, gone=plan.gone)
            store.set_meta(META_LAST_POLL, ts(now))
        return Polled(feed, result, plan, failures, next_at, adopted)

    def _track_redirect(self, store: Store, feed: Feed, row: FeedStatus, result: PollResult,
                        now: datetime) -> str | None:
        # Only successful polls count: an outage says nothing about where the feed lives.
        r = schedule.track_redirect(row.redirect_to, row.redirect_since, result.permanent_redirect, now,
                                    current=feed.url)
        if r.adopt and r.target:
            configured = next((f.url for f in self.app.config.feeds if f.name == feed.name), feed.url)
            store.adopt_url(feed.name, r.target)
            store.set_meta(META_MOVED + feed.name, json.dumps({"from": configured, "to": r.target, "at": ts(now)}))
            event(log, logging.WARNING, "redirect_adopted", feed=feed.name, old=feed.url, new=r.target,
                  since=ts(r.since) if r.since else None,
                  msg="permanent redirect seen for 7 days; polling the new URL (update config.toml)")
            return r.target
        if (r.target, r.since) != (row.redirect_to, row.redirect_since):  # the common case writes nothing
            store.set_redirect(feed.name, r.target, r.since)
        if r.new:
            event(log, logging.WARNING, "redirect_seen", feed=feed.name, url=feed.url, target=r.target,
                  msg="permanent redirect followed; the new URL is adopted if it persists for 7 days")
        return None


__all__ = ["META_LAST_POLL", "META_MOVED", "Due", "FeedPoller", "Polled", "SerialStore", "Skip", "make_fetcher"]
