"""`press-monitor run`: the service around the FeedPoller. The only module that imports apscheduler.

    Daemon(config_path, app).run() -> exit code (0 after SIGTERM/SIGINT)

What to poll when, how politely, and what to record is the FeedPoller's (monitor/poller.py), the
same for `run --once`. This module only wires it into a long-running service:

    APScheduler    timers on the scheduler's own thread (DebugExecutor): one per enabled feed, which
                   only queues the feed (instant), and the watchdog heartbeat, so a wedged scheduler
                   stops the WATCHDOG=1 pings and systemd restarts the service
    poll workers   a WorkerPool on a HostQueue: each takes the next queued feed whose host has a
                   free slot (at most 2 requests per host), asks the poller whether it is still due
                   (another process may have polled it), polls it, and moves its timer to the
                   planned time
    service pool   the delivery job (outbox) and the maintenance job (monitor/maintenance.py)
    main thread    waits for signals: SIGTERM/SIGINT stop, SIGHUP reloads config.toml
    node job       this process's row in the node registry (monitor/membership.py): registered at
                   start (on SQLite, refused while another live daemon runs there), a heartbeat every
                   NODE_HEARTBEAT_INTERVAL on a thread of its own (a long delivery or maintenance never
                   makes a live node look dead), the config hash updated on SIGHUP, "stopped" at exit

    page worker    one thread draining the release-page queue (monitor/pageworker.py, its own small
                   fetch pool and per-host gate); a poll that queued pages wakes it; polling never
                   waits for it; at shutdown it finishes its page in flight within the grace period

Each worker thread has its own Store (sqlite connections are not shared between threads); their
write transactions share the poller's lock, so the daemon's writers never queue inside SQLite's
busy handler.

Why ~500 lines: this is the one module that owns apscheduler and the process lifecycle (signals,
reload, shutdown grace, systemd notify, delivery and maintenance jobs); what a poll does and decides
is in poller.py, the housekeeping in maintenance.py. Split it along those lines if it grows.

Parsing stays in the poll threads, here and in `run --once` alike (issue 20). A process pool
(~100 MB resident) measured no gain for the daemon's few-at-a-time polls and, isolated for
`run --once` (bench/README.md, "Issue 20"), made a 200-feed cold round slower on this loaded 2-core
machine (50 s with the pool, 37 s without; medians of 4 alternating runs each) at more CPU. (The
-23..-26 % of issue 14's "cold" work came from its index and ingest changes, not the pool.)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import __version__, maintenance, schedule
from monitor import app as app_mod
from monitor.clock import Clock, SystemClock
from monitor.cluster import LeaseKeeper
from monitor.config.fingerprint import config_hash
from monitor.errors import ConfigError, StoreUnavailable
from monitor.fetch import Fetcher
from monitor.health import META_STARTED, META_STOPPED
from monitor.hostqueue import HostQueue, WorkerPool, host_of
from monitor.logging_setup import REDACTOR, event, set_level
from monitor.membership import Membership, Mismatch
from monitor.node import NODE_HEARTBEAT_INTERVAL, new_identity
from monitor.pageworker import PageReport, PageWorker, build_client
from monitor.pipeline import RulesLike
from monitor.poller import (
    META_LAST_POLL,
    META_MOVED,
    FeedPoller,
    Polled,
    SerialStore,
    Skip,
    fetch_settings,
    make_fetcher,
)
from monitor.sdnotify import Notifier, watchdog_interval
from monitor.store import Store, ts
from monitor.types import Feed, ServerDatabase, Settings

log = logging.getLogger("monitor.daemon")

STOP_GRACE = 20.0  # seconds running jobs get to finish after SIGTERM
DELIVERY_INTERVAL = 15.0  # outbox sweep for retries; new alerts trigger a delivery at once
MAINTENANCE_INTERVAL = 3600.0
STATUS_INTERVAL = 30.0  # STATUS= updates when systemd asks for no watchdog


FEED_JOB = "feed:"
DELIVER_JOB = "deliver"
MAINTAIN_JOB = "maintain"
HEARTBEAT_JOB = "heartbeat"
NODE_JOB = "node"
MAINTAIN_LEASE = "job:maintain"
HOST_SLOT = "slot:"  # + host + ":" + slot number: a feed request to that host under way on some node


class Daemon:
    """The scheduler daemon: polls feeds on their schedules, delivers alerts, keeps the archive tidy."""

    def __init__(
        self,
        config_path: Path,
        app: app_mod.App,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        workers: int = 8,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        env = os.environ if environ is None else environ
        self.path = config_path
        self.app = app
        self.clock = clock or SystemClock()
        self.notifier = Notifier.from_env(env)
        self.watchdog_every = watchdog_interval(env)
        self.stop_grace = stop_grace
        self.rng = random.Random()
        self.workers = max(1, workers)
        self.poller = FeedPoller(app, clock=self.clock, rng=self.rng)
        self.queue: HostQueue[str] = HostQueue(self.poller.slots)  # feed names waiting for a worker
        self._pool = WorkerPool(self.queue, self._fetch, workers=self.workers, name="poll")
        self._retired: list[Fetcher] = []

        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._wake = threading.Event()
        self._reload_wanted = False
        self._active = 0  # service jobs running (delivery, maintenance)
        self._active_cond = threading.Condition()
        self._delivery_lock = threading.Lock()
        self._delivery_running = False
        self._delivery_again = False

        self._feeds: dict[str, Feed] = {}  # enabled feeds by name; url may be an adopted redirect
        self._failing: set[str] = set()
        self._gone: set[str] = set()
        self._polls = 0
        self._alerts = 0
        self._last_poll: datetime | None = None
        self.identity = new_identity(self.clock.now(), __version__)  # one per process: leases and registry
        self.membership: Membership | None = None  # joined in run(), with self.identity as it is then
        self._mismatched: frozenset[tuple[str, str | None, str | None]] = frozenset()  # last warned about

        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": DebugExecutor(),  # feed timers and the heartbeat: instant, on the scheduler thread
                "service": ThreadPoolExecutor(2),
                "node": ThreadPoolExecutor(1),  # the node heartbeat: never queued behind a long job
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.pages = PageWorker(build_client(app.config.settings, self.clock), self.clock)
        self._pages_wake = threading.Event()
        self._pages_stop = threading.Event()
        self._pages_thread = threading.Thread(target=self._pages_loop, name="pages", daemon=True)
        self._init_leases()
        self._slot_lock = threading.Lock()
        self._my_slots: set[str] = set()  # the host slots this node's workers are using (_claim_host_slot)

    # ------------------------------------------------------------------ lifecycle

    def run(self, *, handle_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or stop()); return the exit code."""
        register_secrets(self.app)
        store = self._store()
        self._join(store)  # before anything is written: a refused second daemon leaves no trace
        with store.transaction():
            store.set_meta(META_STARTED, ts(self.clock.now()))
        self.leases.start()  # before any timer: nothing is claimed, polled or sent without a lease
        self._sync_feeds(store, self.app)
        if handle_signals:
            self._install_signals()
        self._add_service_jobs()
        self._pool.start()
        self.scheduler.start()
        self._pages_thread.start()  # pages left pending by the last run (or a crash) are fetched first
        event(log, logging.INFO, "started", feeds=len(self._feeds), gone=len(self._gone) or None,
              rules=len(self.app.rules.rules), channels=",".join(sorted(self.app.channels)) or None,
              database=str(self.app.config.settings.database), workers=self.workers, pid=os.getpid())
        self.notifier.ready(self.summary())
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if self._reload_wanted and not self._stop.is_set():
                self._reload_wanted = False
                self.reload()
        return self._shutdown()

    def stop(self) -> None:
        """Ask the daemon to stop (what SIGTERM does); a second call skips the grace period."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload_wanted = True
        self._wake.set()

    def _install_signals(self) -> None:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            event(log, logging.INFO, "signal", signal=signal.Signals(signum).name,
                  action="stop now" if self._stop.is_set() else "stop")
            self.stop()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def _busy(self) -> int:
        with self._active_cond:
            return self._active + self._pool.busy

    def _shutdown(self) -> int:
        """Stop starting jobs, give running ones the grace period, commit, and return 0."""
        self.notifier.stopping("stopping: finishing running polls")
        with contextlib.suppress(Exception):
            self.scheduler.pause()
        self.queue.close()  # queued feeds are dropped: polled again at the next start
        self._pages_stop.set()
        self._pages_wake.set()
        deadline = self.clock.monotonic() + self.stop_grace
        while (unfinished := self._busy()) and not self._hurry.is_set():
            left = deadline - self.clock.monotonic()
            if left <= 0:
                break
            with self._active_cond:
                self._active_cond.wait(min(left, 0.2))
        if self._pages_thread.ident is not None:  # the page in flight, within the same grace period
            self._pages_thread.join(0 if self._hurry.is_set() else max(0.0, deadline - self.clock.monotonic()))
            unfinished += self._pages_thread.is_alive()
        self.poller.close()  # waits for a commit in progress, then lets no other one start
        if not unfinished:  # (work still in flight keeps its leases: they expire, no other node acts before)
            with contextlib.suppress(Exception):
                self.leases.stop(self._store())  # the other nodes take over at once, not after expiry
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        with contextlib.suppress(Exception):
            store = self._store()
            with store.transaction():
                store.set_meta(META_STOPPED, ts(self.clock.now()))
        if self.membership is not None:
            with contextlib.suppress(Exception):
                self.membership.leave(self._store())
        event(log, logging.INFO, "stopped", polls=self._polls, unfinished=unfinished or None,
              lease_claims=self.leases.claims, lease_renewals=self.leases.renewals,
              lease_releases=self.leases.releases)
        if unfinished:
            # Threads still inside a network call past the grace period would keep the interpreter
            # alive at exit; their transactions were never begun, so leaving now loses nothing.
            logging.shutdown()
            os._exit(0)
        for fetcher in (self.poller.fetcher, *self._retired):
            fetcher.close()
        self.pages.close()
        self.app.close_channels()
        self.notifier.close()
        return 0

    # ------------------------------------------------------------------ jobs and feeds

    def _add_service_jobs(self) -> None:
        smallest = min((f.interval for f in self._feeds.values()), default=DELIVERY_INTERVAL)
        # (Half a lease: alerts a dead node had claimed go out soon after its lease ran out.)
        every = min(DELIVERY_INTERVAL, self.leases.lease / 2, max(1.0, smallest))
        self.scheduler.add_job(self._deliver, IntervalTrigger(seconds=every, timezone=UTC), id=DELIVER_JOB,
                               name=DELIVER_JOB, executor="service", misfire_grace_time=_grace(every),
                               next_run_time=self.clock.now())
        self.scheduler.add_job(self._maintain, IntervalTrigger(seconds=MAINTENANCE_INTERVAL, timezone=UTC),
                               id=MAINTAIN_JOB, name=MAINTAIN_JOB, executor="service",
                               misfire_grace_time=_grace(MAINTENANCE_INTERVAL))
        beat = self.watchdog_every or STATUS_INTERVAL
        self.scheduler.add_job(self._heartbeat, IntervalTrigger(seconds=beat, timezone=UTC), id=HEARTBEAT_JOB,
                               name=HEARTBEAT_JOB, misfire_grace_time=_grace(beat), next_run_time=self.clock.now())
        self.scheduler.add_job(self._node_beat, IntervalTrigger(seconds=NODE_HEARTBEAT_INTERVAL, timezone=UTC),
                               id=NODE_JOB, name=NODE_JOB, executor="node",
                               misfire_grace_time=_grace(NODE_HEARTBEAT_INTERVAL))

    def _sync_feeds(self, store: Store, app: app_mod.App) -> list[Feed]:
        """Make the feed timers match the config: add new feeds, drop removed ones, re-time changed ones."""
        now = self.clock.now()
        wanted = {f.name: f for f in app.config.feeds if f.enabled}
        for name in list(self._feeds) + list(self._gone):
            if name not in wanted:
                self._drop_job(name)
                self._feeds.pop(name, None)
                self._failing.discard(name)
                self._gone.discard(name)
        known = store.schedules(list(wanted))
        for name, configured in wanted.items():
            feed = self.poller.effective(store, configured)
            row = known.get(name)
            old = self._feeds.get(name)
            wait = schedule.waiting(feed, row, now)
            if wait is not None and wait.reason == "gone":
                if name not in self._gone:
                    event(log, logging.WARNING, "feed_gone", feed=name, url=feed.url,
                          msg="the feed answered 410 Gone and is not polled; change its url to resume")
                self._mark_gone(name)
                continue
            self._gone.discard(name)
            if row is not None and row.failures and row.url == feed.url:
                self._failing.add(name)
            self._feeds[name] = feed
            if old is not None and old.interval == feed.interval and old.url == feed.url and self._has_job(name):
                continue  # unchanged: keep its current schedule
            if row is None or row.url != feed.url:
                delay = schedule.first_delay(feed, now=now, rng=self.rng)  # new to us: the record is not its
            else:
                delay = schedule.first_delay(feed, now=now, rng=self.rng, next_poll_at=row.next_poll_at,
                                             retry_after_until=row.retry_after_until, failures=row.failures)
            self._add_feed_job(feed, now + timedelta(seconds=delay))
        return list(self._feeds.values())

    def _add_feed_job(self, feed: Feed, first: datetime) -> None:
        # The interval trigger is the fallback cadence; after every poll the job is moved to the time
        # the poller planned (backoff, Retry-After, adaptive, max-age), so it rarely fires on its own.
        trigger = IntervalTrigger(seconds=feed.interval, jitter=feed.interval * schedule.JITTER, timezone=UTC)
        self.scheduler.add_job(self.submit, trigger, args=[feed.name], id=FEED_JOB + feed.name, name=feed.name,
                               next_run_time=first, misfire_grace_time=_grace(feed.interval),
                               replace_existing=True)

    def _has_job(self, name: str) -> bool:
        return self.scheduler.get_job(FEED_JOB + name) is not None

    def _drop_job(self, name: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(FEED_JOB + name)

    def _move_job(self, name: str, when: datetime) -> None:
        if self._stop.is_set():
            return
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(FEED_JOB + name, next_run_time=when)

    def _mark_gone(self, name: str) -> None:
        self._gone.add(name)
        self._failing.discard(name)
        self._feeds.pop(name, None)
        self._drop_job(name)

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        with self._active_cond:
            self._active += 1
        try:
            yield
        finally:
            with self._active_cond:
                self._active -= 1
                self._active_cond.notify_all()

    def _store(self) -> Store:
        """Return this thread's Store (opened on first use; sqlite connections stay in their thread)."""
        return self.poller.thread_store()

    # ------------------------------------------------------------------ driving it step by step
    # What run() and the scheduler do, one step at a time in the caller's thread (tests use these
    # instead of the internals; a step does exactly what the scheduled job does).

    def sync_feeds(self) -> list[Feed]:
        """Match the feed timers to the config, as run() and a reload do; return the feeds polled."""
        return self._sync_feeds(self._store(), self.app)

    def poll_now(self, name: str) -> None:
        """Run one feed's poll job here, as a worker would when its timer fires."""
        self._poll(name)

    def maintain_now(self) -> None:
        """Run the hourly maintenance job here."""
        self._maintain()

    def store(self) -> Store:
        """This thread's Store (the daemon's archive)."""
        return self._store()

    @property
    def pool(self) -> WorkerPool[str]:
        """The poll workers (started by run())."""
        return self._pool

    @property
    def gone(self) -> frozenset[str]:
        """Feeds not polled because they answered 410 Gone."""
        return frozenset(self._gone)

    @property
    def failing(self) -> frozenset[str]:
        """Feeds whose last poll failed."""
        return frozenset(self._failing)

    @property
    def polls(self) -> int:
        """Polls done since start."""
        return self._polls

    # ------------------------------------------------------------------ the poll job

    def submit(self, name: str) -> bool:
        """Queue a feed for the next free worker whose host has a slot; False if already queued or running."""
        feed = self._feeds.get(name)
        if feed is None or self._stop.is_set():
            return False
        queued = self.queue.put(name, feed.url, name)
        if not queued:
            event(log, logging.DEBUG, "poll_overlap", feed=name, msg="still queued or running; this run is skipped")
        return queued

    def _poll(self, name: str) -> None:
        """Poll the feed if it is still due, whole, in this thread."""
        rest = self._fetch(name)
        if rest is not None:
            rest()

    def _fetch(self, name: str) -> Callable[[], None] | None:
        """One worker's job: fetch the feed if it is still due; return the rest (digest, commit, act
        on what the poller recorded), which the worker runs once the host's slot is free."""
        feed = self._feeds.get(name)
        if feed is None or self._stop.is_set():
            return None  # removed or gone since it was queued
        store = self._store()
        lease = self._claim_feed(store, name)
        if lease is None:
            return None
        try:
            # Checked after the claim: the node that held it until now recorded its poll (next_poll_at).
            skip = self.poller.check(store, feed)
            if skip is not None:
                self._skipped(skip)
                self.leases.release(store, [lease])
                return None
            claimed, slot = self._claim_host_slot(store, feed)
            if not claimed:
                self.leases.release(store, [lease])
                return None
            try:
                rest = self.poller.start(store, feed)
            finally:
                if slot is not None:  # the request is over: the next feed on this host may go, on any node
                    self.leases.release(store, [slot])
                    with self._slot_lock:
                        self._my_slots.discard(slot)
        except BaseException:
            self.leases.release(store, [lease])
            raise

        def finish() -> None:
            if not self.leases.holds(lease):
                # The lease ran out during the fetch (this node was frozen, or cut from the database):
                # another node may have polled the feed since. Recording this older answer would undo
                # its record (next poll, validators): drop it; the feed's holder polls it anyway.
                event(log, logging.WARNING, "poll_dropped", feed=name,
                      msg="this node's lease on the feed ran out during the fetch; its answer is not recorded")
                self.leases.forget([lease])
                return
            try:
                polled = rest()
            finally:
                self.leases.release(self._store(), [lease])
            if polled is not None:
                self._after_poll(polled)
        return finish

    def _skipped(self, skip: Skip) -> None:
        # Someone else (a `run --once`) polled it meanwhile and recorded a later time, or a 410.
        name = skip.feed.name
        event(log, logging.DEBUG, "poll_skipped", feed=name, reason=skip.wait.reason,
              until=ts(skip.wait.until) if skip.wait.until else None)
        if skip.wait.reason == "gone":
            self._mark_gone(name)
        elif skip.wait.until is not None:
            self._move_job(name, skip.wait.until)

    def _after_poll(self, polled: Polled) -> None:
        feed, result, plan = polled.feed, polled.result, polled.plan
        self._polls += 1
        self._last_poll = self.clock.now()
        self._alerts += result.alerts
        if polled.adopted and feed.name in self._feeds:
            self._feeds[feed.name] = replace(feed, url=polled.adopted)
        if result.ok:
            self._failing.discard(feed.name)
        else:
            self._failing.add(feed.name)
        fields: dict[str, Any] = {"feed": feed.name, "next": ts(polled.next_at) if polled.next_at else None,
                                     "schedule": plan.reason, "elapsed": round(result.elapsed, 3)}
        if result.ok:
            event(log, logging.INFO, "poll", **fields, status="not-modified" if result.not_modified else "ok",
                  new=result.new, revised=result.revised or None, seen=result.seen, matches=result.matches or None,
                  alerts=result.alerts or None, bozo=result.bozo, dropped=result.dropped or None,
                  fallback=result.parse_fallback)
        elif plan.gone:
            self._mark_gone(feed.name)
            event(log, logging.ERROR, "feed_gone", feed=feed.name, url=feed.url, error=result.error,
                  msg="the feed answered 410 Gone; polling stopped (change its url in config.toml to resume)")
        else:
            event(log, logging.WARNING, "poll_failed", **fields, error=result.error, kind=result.error_kind,
                  failures=polled.failures, retry_after=result.retry_after)
        if polled.next_at is not None:
            self._move_job(feed.name, polled.next_at)
        if result.alerts:
            self.request_delivery()
        if result.pages:
            self._pages_wake.set()

    # ------------------------------------------------------------------ release pages (full text)

    def _pages_loop(self) -> None:
        def current() -> tuple[Settings, RulesLike, frozenset[str] | None]:
            return self.app.config.settings, self.app.rules, self.app.channels

        self.pages.run(self._store(), app=current, stop=self._pages_stop, wake=self._pages_wake,
                       on_report=self._pages_report, claims=self.leases, idle=self.leases.lease / 2)

    def _pages_report(self, report: PageReport) -> None:
        if report.fetched or report.skipped or report.failed or report.retrying:
            event(log, logging.INFO, "pages", fetched=report.fetched, skipped=report.skipped or None,
                  failed=report.failed or None, retrying=(report.retrying + report.deferred) or None,
                  matches=report.matches or None, alerts=report.alerts or None)
        for error in report.errors[:20]:
            event(log, logging.WARNING, "page_failed", error=error)
        if report.alerts:
            self.request_delivery()

    # ------------------------------------------------------------------ delivery, maintenance, heartbeat

    def request_delivery(self) -> None:
        """Run the delivery job now (or once more right after the running one)."""
        with self._delivery_lock:
            if self._delivery_running:
                self._delivery_again = True
                return
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(DELIVER_JOB, next_run_time=self.clock.now())

    def _deliver(self) -> None:
        if self._stop.is_set():
            return
        with self._delivery_lock:
            self._delivery_running, self._delivery_again = True, False
        try:
            with self._tracked():
                while True:
                    app = self.app
                    report = app.deliver(self._store(), self.clock, on_event=self._delivery_event, claims=self.leases)
                    if report is None:
                        event(log, logging.DEBUG, "delivery_skipped", msg="another process is delivering")
                    elif report.sent or report.retrying or report.dead:
                        event(log, logging.INFO, "delivery", sent=report.sent, retrying=report.retrying,
                              dead=report.dead, waiting=report.waiting)
                    with self._delivery_lock:
                        if not self._delivery_again or self._stop.is_set():
                            break
                        self._delivery_again = False
        finally:
            with self._delivery_lock:
                self._delivery_running = False

    @staticmethod
    def _delivery_event(message: str) -> None:
        event(log, logging.INFO, "alert", msg=message)

    def _maintain(self) -> None:
        if self._stop.is_set():
            return
        store = self._store()
        if not self._claim_job(store, MAINTAIN_LEASE, MAINTENANCE_INTERVAL):
            return
        with self._tracked():
            store.expire_leases(self.clock.now())
            done = maintenance.maintain(store, now=self.clock.now(), writer=self.poller.lock,
                                        retention=self.app.config.settings.retention, stop=self._stop)
            event(log, logging.INFO, "maintenance", checkpoint_busy=done.checkpoint_busy or None,
                  wal_pages=done.wal_pages, checkpointed=done.checkpointed,
                  fts_optimized=done.fts_optimized or None, purged=done.purged or None)

    def _heartbeat(self) -> None:
        # Runs on the scheduler's own thread (DebugExecutor): if the scheduler wedges, pings stop.
        if self.watchdog_every:
            self.notifier.watchdog()
        self.notifier.status(self.summary())

    # ------------------------------------------------------------------ the node registry (issue 19)

    def _join(self, store: Store) -> None:
        """Register this node; on SQLite refuse (ArchiveInUse) while another live daemon runs there."""
        single = not isinstance(self.app.config.settings.database, ServerDatabase)
        membership = Membership(self.identity, self.clock)
        pruned = membership.join(store, config_hash(self.app.config), single=single)
        self.membership = membership
        event(log, logging.INFO, "node", node=membership.id, config=membership.config_hash,
              version=__version__, pruned=pruned or None)
        self._check_peers(store)

    def _node_beat(self) -> None:
        membership = self.membership
        if membership is None or self._stop.is_set():
            return
        store = self._store()
        if not membership.beat(store):
            event(log, logging.WARNING, "node_reregistered", node=membership.id,
                  msg="this node's registry row was gone (pruned or deleted); registered again")
        self._check_peers(store)

    def _check_peers(self, store: Store) -> None:
        """Warn (once per change) about live nodes running another config or version: reported, not obeyed."""
        membership = self.membership
        if membership is None:
            return
        found = membership.mismatches(store)
        key = frozenset((m.node.id, m.node.config_hash, m.node.version) for m in found)
        if key == self._mismatched:
            return
        self._mismatched = key
        if found:
            event(log, logging.WARNING, "node_mismatch", node=membership.id,
                  config=membership.config_hash, version=__version__,
                  others="; ".join(m.describe() for m in found),
                  msg=_mismatch_advice(found))
        else:
            event(log, logging.INFO, "node_match", msg="every live node runs this config and version again")

    def summary(self) -> str:
        """Return the one-line status systemd shows (STATUS=)."""
        last = f"last poll {self._last_poll:%H:%M:%S}Z" if self._last_poll else "no poll yet"
        parts = [f"{len(self._feeds)} feeds", f"{len(self._failing)} failing"]
        if self._gone:
            parts.append(f"{len(self._gone)} gone")
        return f"{', '.join(parts)}; {self._polls} polls, {self._alerts} alerts queued; {last}"

    # ------------------------------------------------------------------ leases (several nodes, one archive)
    # The database decides who does what (monitor/cluster.py, monitor/store/leases.py): this node's
    # timers only say when to try; a feed, page, alert, host or job is worked on under a lease.

    def _init_leases(self) -> None:
        # The registry (membership) and the leases name this node by the same self.identity.
        self.leases = LeaseKeeper(self.identity.id, self.app.config.settings.lease, self.clock, self._store)

    def _claim_feed(self, store: Store, name: str) -> str | None:
        """Claim "feed:NAME"; None (and the timer moved to when the holder's lease ends) if another node has it."""
        lease = FEED_JOB + name
        if lease in self.leases.claim(store, [lease]):
            return lease
        # Polling it right now elsewhere, or this node's fence is down: look again once a lease
        # could have ended (a dead holder's feed is taken over then; a live one recorded its next poll).
        event(log, logging.DEBUG, "poll_elsewhere", feed=name, msg="another node holds this feed; looking again later")
        now = self.clock.now()
        until = self.leases.expiry(store, lease) or now
        self._move_job(name, max(now, min(until, now + timedelta(seconds=self.leases.lease))) + timedelta(seconds=1))
        return None

    def _claim_host_slot(self, store: Store, feed: Feed) -> tuple[bool, str | None]:
        """On a server, one of the feed host's cluster-wide slots, "slot:HOST:I" (I < per_host), so the
        nodes together send a host no more feed requests at a time than one node does (the HostQueue
        keeps this node's own count). (False, None) when every slot is taken: the feed is looked at
        again in a moment. (True, None) when no slot is needed: a file: feed, or SQLite (one node)."""
        host = host_of(feed.url)
        if host is None or not isinstance(self.app.config.settings.database, ServerDatabase):
            return True, None
        for i in range(self.poller.slots.per_host):
            slot = f"{HOST_SLOT}{host}:{i}"
            # A lease is the node's, and a node's claim of what it holds wins: so each of its workers
            # first reserves the slot here, or two of them would share slot 0.
            with self._slot_lock:
                if slot in self._my_slots:
                    continue
                self._my_slots.add(slot)
            won = False
            try:
                won = slot in self.leases.claim(store, [slot])
            finally:
                if not won:  # lost, or the claim failed (the database): the reservation goes too
                    with self._slot_lock:
                        self._my_slots.discard(slot)
            if won:
                return True, slot
        event(log, logging.DEBUG, "host_busy", feed=feed.name, host=host,
              msg="other nodes are asking this host; looking again in a moment")
        self._move_job(feed.name, self.clock.now() + timedelta(seconds=1 + self.poller.rng.random()))
        return False, None

    def _claim_job(self, store: Store, lease: str, every: float) -> bool:
        """Claim a periodic job for this node and keep it (unrenewed) for most of its period, so the
        other nodes' timers skip it; a node that died hands it over when that runs out."""
        if lease not in self.leases.claim(store, [lease]):
            event(log, logging.DEBUG, "job_elsewhere", job=lease, msg="another node runs this job")
            return False
        self.leases.release(store, [lease], until=self.clock.now() + timedelta(seconds=every * 0.9))
        return True

    # ------------------------------------------------------------------ events, reload

    def _on_job_event(self, ev: JobExecutionEvent | JobSubmissionEvent) -> None:
        job = ev.job_id
        feed = job[len(FEED_JOB):] if job.startswith(FEED_JOB) else None
        what = {"job": job} if feed is None else {"feed": feed}
        if ev.code == EVENT_JOB_ERROR:
            exc = getattr(ev, "exception", None)
            if isinstance(exc, StoreUnavailable):  # reported and retried: the next run tries again
                event(log, logging.WARNING, "store_unavailable", **what, error=str(exc))
                return
            event(log, logging.ERROR, "job_error", **what, error=f"{type(exc).__name__}: {exc}" if exc else None,
                  traceback=getattr(ev, "traceback", None))
        elif ev.code == EVENT_JOB_MISSED:
            when = getattr(ev, "scheduled_run_time", None)
            event(log, logging.WARNING, "job_missed", **what, scheduled=ts(when) if when else None,
                  msg="the run started too late (workers busy) and was skipped; the next one is scheduled")
        elif ev.code == EVENT_JOB_MAX_INSTANCES:
            level = logging.WARNING if feed else logging.DEBUG
            event(log, level, "job_overlap", **what, msg="still running from last time; this run is skipped")

    def reload(self) -> bool:
        """Load config.toml again and apply it; on any error keep the running config. Return success."""
        self.notifier.reloading(int(self.clock.monotonic() * 1_000_000))
        old = self.app
        new: app_mod.App | None = None
        try:
            new = app_mod.load(self.path)
            _ = new.channel_set  # a channel that cannot be built (its secret unreadable) is a config error too
            if new.config.settings.database != old.config.settings.database:
                raise ConfigError(f"{self.path}: monitor.database changed; restart press-monitor to switch archives")
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old config running
            event(log, logging.ERROR, "reload_refused", config=str(self.path), error=str(exc),
                  msg="the new config was refused; still running the previous one")
            self.notifier.ready(f"reload refused: {str(exc).splitlines()[0]}")
            if new is not None:
                new.close_channels()
            return False
        register_secrets(new)
        set_level(new.config.settings.log_level)
        if fetch_settings(new.config.settings) != fetch_settings(old.config.settings):
            self._retired.append(self.poller.fetcher)  # polls in flight still use it; closed at exit
            self.poller.fetcher = make_fetcher(new.config.settings, self.clock)
        if _page_settings(new) != _page_settings(old):
            self.pages.client = build_client(new.config.settings, self.clock)  # the next drain uses it
        self.app = self.poller.app = new
        self.leases.lease = new.config.settings.lease  # from the next claim and renewal on
        old.close_channels()  # a delivery still using them finishes; its connections are not reused
        self._sync_feeds(self._store(), new)
        self._reconfigured(new)
        event(log, logging.INFO, "reloaded", config=str(self.path), feeds=len(self._feeds),
              rules=len(new.rules.rules), channels=",".join(sorted(new.channels)) or None)
        self.notifier.ready(self.summary())
        return True

    def _reconfigured(self, new: app_mod.App) -> None:
        # A failure here must not undo a reload that was applied: the next heartbeat reports peers again.
        membership = self.membership
        if membership is None:  # reloaded before run() (tests): not registered
            return
        try:
            store = self._store()
            membership.reconfigure(store, config_hash(new.config))
            self._check_peers(store)
        except Exception as exc:  # noqa: BLE001 - the reload stands; the next heartbeat reports peers again
            event(log, logging.WARNING, "node_update_failed", node=membership.id,
                  error=f"{type(exc).__name__}: {exc}", msg="the next heartbeat records the new config hash")


def _mismatch_advice(found: list[Mismatch]) -> str:
    what = " and ".join(w for w, on in (("config.toml", any(m.config for m in found)),
                                         ("press-monitor version", any(m.version for m in found))) if on)
    return (f"other live nodes run a different {what}; each node does what its own config says: give every "
            f"node the same config.toml and version (then SIGHUP or restart)")


def _grace(seconds: float) -> int:
    """Return a misfire grace time of about `seconds` (APScheduler wants whole seconds; its default of 1 s
    silently skips runs whenever the pool is busy)."""
    return max(1, math.ceil(seconds))


def _page_settings(app: app_mod.App) -> tuple[object, ...]:
    s = app.config.settings
    return s.user_agent, s.timeout, s.max_page_bytes, s.page_delay, s.allow_private_networks


def register_secrets(app: app_mod.App) -> None:
    """Tell the log redactor what the channels' options declare secret: passwords, webhook secrets,
    token-bearing webhook URLs, credential headers (building the channels if not built yet)."""
    REDACTOR.set(app.channel_set.redactions)


def run(config_path: Path, app: app_mod.App, *, workers: int = 8) -> int:
    """Run the daemon in this (main) thread until SIGTERM/SIGINT; return the exit code."""
    return Daemon(config_path, app, workers=workers).run()


__all__ = ["META_LAST_POLL", "META_MOVED", "META_STARTED", "META_STOPPED", "Daemon", "SerialStore", "run"]
