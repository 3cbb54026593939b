"""`press-monitor run`: the scheduler daemon. The only module that imports apscheduler.

    Daemon(config_path, app).run() -> exit code (0 after SIGTERM/SIGINT)

Threads (one process):
    APScheduler   the scheduler thread; runs the watchdog job itself (DebugExecutor), so a wedged
                  scheduler stops the WATCHDOG=1 pings and systemd restarts the service
    poll pool     one interval job per enabled feed: fetch + parse (pipeline.gather) in parallel,
                  at most 2 requests per host at a time; then the commit, one at a time (commit lock)
    service pool  the delivery job (outbox) and the maintenance job (checkpoint, FTS optimize, retention)
    main thread   waits for signals: SIGTERM/SIGINT stop, SIGHUP reloads config.toml

Each worker thread has its own Store (sqlite connections are not shared between threads); the
commit lock keeps the daemon's writers from queueing inside SQLite's busy handler. When to poll
next is schedule.plan()'s decision; the daemon records it in the archive (`status` reads it there)
and moves the feed's job to that time.

Parsing stays in the poll threads. Measured on 2 cores (bench/), a feedparser process pool did not
shorten a 500-feed cold start: the single writer (dedupe, FTS, rules: ~20 ms per 20-item commit on
that machine) is the bottleneck, and the pool cost ~100 MB of resident memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

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

from monitor import app as app_mod
from monitor import pipeline, schedule
from monitor.clock import Clock, SystemClock
from monitor.errors import ConfigError, FetchTimeout
from monitor.fetch import Fetcher
from monitor.logging_setup import REDACTOR, event, set_level
from monitor.notify import Notifier, watchdog_interval
from monitor.store import Store, parse_ts, ts
from monitor.types import Feed, FeedState, Fetched, PollResult

log = logging.getLogger("monitor.daemon")

STOP_GRACE = 20.0  # seconds running jobs get to finish after SIGTERM
PER_HOST = 2  # concurrent requests to one host
DELIVERY_INTERVAL = 15.0  # outbox sweep for retries; new alerts trigger a delivery at once
MAINTENANCE_INTERVAL = 3600.0
OPTIMIZE_EVERY = timedelta(days=1)
STATUS_INTERVAL = 30.0  # STATUS= updates when systemd asks for no watchdog

META_LAST_POLL = "daemon_last_poll"
META_STARTED = "daemon_started"
META_STOPPED = "daemon_stopped"
META_OPTIMIZED = "daemon_optimized"
MAX_MERGE_STEPS = 10_000  # a bound on the FTS merge loop; ~500 pages a step
META_MOVED = "feed_moved:"  # + feed name -> {"from": config URL, "to": adopted URL, "at": time}

FEED_JOB = "feed:"
DELIVER_JOB = "deliver"
MAINTAIN_JOB = "maintain"
HEARTBEAT_JOB = "heartbeat"


# --------------------------------------------------------------------------- fetch and parse helpers


class HostLimiter:
    """A fetcher wrapper allowing at most `per_host` requests to one host at a time (politeness)."""

    def __init__(self, fetcher: Fetcher, *, per_host: int = PER_HOST, wait: float = 60.0) -> None:
        self.fetcher = fetcher
        self.per_host = per_host
        self.wait = wait  # bounded: a host whose requests all hang cannot hold a worker forever
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def fetch(self, url: str, state: FeedState | None = None) -> Fetched:
        """Return fetcher.fetch(url, state) once the host has a free slot (raise FetchTimeout if none comes)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        if not slot.acquire(timeout=self.wait):
            raise FetchTimeout(f"no free connection to {host} within {self.wait:g}s (its other feeds are slow)")
        try:
            return self.fetcher.fetch(url, state)
        finally:
            slot.release()


class SerialStore(Store):
    """A Store whose write transactions take a lock shared by every thread of the daemon.

    SQLite allows one writer; without the lock, a delivery marking an alert sent while a poll
    commits waits in SQLite's busy handler, which sleeps in steps of up to 100 ms: measured, that
    idled the daemon for half of a cold start. Other processes (the CLI) still meet busy_timeout.
    """

    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self._lock = lock  # before Store.__init__: a new archive is migrated in a transaction
        super().__init__(path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock, super().transaction():
            yield


# --------------------------------------------------------------------------- the daemon


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

        self._local = threading.local()
        # Every write transaction of this process holds it (see SerialStore); a poll holds it across
        # its commit and its schedule update.
        self._commit_lock = threading.RLock()
        self._closed = False  # set under the commit lock at shutdown: late jobs must not start a commit
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._wake = threading.Event()
        self._reload_wanted = False
        self._active = 0
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

        s = app.config.settings
        self.limiter = HostLimiter(self._fetcher(app), wait=max(60.0, 3 * s.timeout))
        self._retired: list[Fetcher] = []
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(self.workers),
                "service": ThreadPoolExecutor(2),
                "heartbeat": DebugExecutor(),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    # ------------------------------------------------------------------ lifecycle

    def run(self, *, handle_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or stop()); return the exit code."""
        register_secrets(self.app)
        store = self._store()
        with store.transaction():
            store.set_meta(META_STARTED, ts(self.clock.now()))
        self._sync_feeds(store, self.app)
        if handle_signals:
            self._install_signals()
        self._add_service_jobs()
        self.scheduler.start()
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

    def _shutdown(self) -> int:
        """Stop starting jobs, give running ones the grace period, commit, and return 0."""
        self.notifier.stopping("stopping: finishing running polls")
        with contextlib.suppress(Exception):
            self.scheduler.pause()
        with self._active_cond:
            deadline = self.clock.monotonic() + self.stop_grace
            while self._active and not self._hurry.is_set():
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    break
                self._active_cond.wait(min(left, 0.2))
            unfinished = self._active
        # Wait for a commit in progress (a transaction is short), then let no other one start.
        acquired = self._commit_lock.acquire(timeout=10)
        self._closed = True
        if acquired:
            self._commit_lock.release()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        with contextlib.suppress(Exception):
            store = self._store()
            with store.transaction():
                store.set_meta(META_STOPPED, ts(self.clock.now()))
        event(log, logging.INFO, "stopped", polls=self._polls, unfinished=unfinished or None)
        if unfinished:
            # Threads still inside a network call past the grace period would keep the interpreter
            # alive at exit; their transactions were never begun, so leaving now loses nothing.
            logging.shutdown()
            os._exit(0)
        for fetcher in (self.limiter.fetcher, *self._retired):
            fetcher.close()
        self.app.close_channels()
        self.notifier.close()
        return 0

    # ------------------------------------------------------------------ jobs and feeds

    def _add_service_jobs(self) -> None:
        smallest = min((f.interval for f in self._feeds.values()), default=DELIVERY_INTERVAL)
        every = min(DELIVERY_INTERVAL, max(1.0, smallest))
        self.scheduler.add_job(self._deliver, IntervalTrigger(seconds=every, timezone=UTC), id=DELIVER_JOB,
                               name=DELIVER_JOB, executor="service", misfire_grace_time=_grace(every),
                               next_run_time=self.clock.now())
        self.scheduler.add_job(self._maintain, IntervalTrigger(seconds=MAINTENANCE_INTERVAL, timezone=UTC),
                               id=MAINTAIN_JOB, name=MAINTAIN_JOB, executor="service",
                               misfire_grace_time=_grace(MAINTENANCE_INTERVAL))
        beat = self.watchdog_every or STATUS_INTERVAL
        self.scheduler.add_job(self._heartbeat, IntervalTrigger(seconds=beat, timezone=UTC), id=HEARTBEAT_JOB,
                               name=HEARTBEAT_JOB, executor="heartbeat", misfire_grace_time=_grace(beat),
                               next_run_time=self.clock.now())

    def _sync_feeds(self, store: Store, app: app_mod.App) -> list[Feed]:
        """Make the feed jobs match the config: add new feeds, drop removed ones, re-time changed ones."""
        now = self.clock.now()
        wanted = {f.name: f for f in app.config.feeds if f.enabled}
        for name in list(self._feeds):
            if name not in wanted:
                self._drop_job(name)
                self._feeds.pop(name, None)
                self._failing.discard(name)
                self._gone.discard(name)
        known = store.schedules(list(wanted))
        for name, configured in wanted.items():
            feed = self._effective(store, configured)
            row = known.get(name)
            old = self._feeds.get(name)
            if row is not None and row.gone:
                if row.url == feed.url:
                    if name not in self._gone:
                        event(log, logging.WARNING, "feed_gone", feed=name, url=feed.url,
                              msg="the feed answered 410 Gone and is not polled; change its url to resume")
                    self._gone.add(name)
                    self._feeds.pop(name, None)
                    self._drop_job(name)
                    continue
                with store.transaction():
                    store.set_schedule(name, next_poll_at=None, gone=False)  # a new URL: try again
                row = None
            self._gone.discard(name)
            if row is not None and row.failures:
                self._failing.add(name)
            self._feeds[name] = feed
            if old is not None and old.interval == feed.interval and old.url == feed.url and self._has_job(name):
                continue  # unchanged: keep its current schedule
            if row is None or (old is not None and old.url != feed.url):
                delay = schedule.first_delay(feed, now=now, rng=self.rng)
            else:
                delay = schedule.first_delay(feed, now=now, rng=self.rng, next_poll_at=row.next_poll_at,
                                             retry_after_until=row.retry_after_until, failures=row.failures)
            self._add_feed_job(feed, now + timedelta(seconds=delay))
        return list(self._feeds.values())

    def _effective(self, store: Store, feed: Feed) -> Feed:
        """Return the feed with its adopted redirect target as URL, if it has one for its configured URL."""
        moved = store.meta(META_MOVED + feed.name)
        if moved:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(moved)
                if record["from"] == feed.url:
                    return replace(feed, url=record["to"])
        return feed

    def _add_feed_job(self, feed: Feed, first: datetime) -> None:
        # The interval trigger is the fallback cadence; after every poll the job is moved to the time
        # schedule.plan() chose (backoff, Retry-After, adaptive, max-age), so it rarely fires on its own.
        trigger = IntervalTrigger(seconds=feed.interval, jitter=feed.interval * schedule.JITTER, timezone=UTC)
        self.scheduler.add_job(self._poll, trigger, args=[feed.name], id=FEED_JOB + feed.name, name=feed.name,
                               next_run_time=first, misfire_grace_time=_grace(feed.interval),
                               replace_existing=True)

    def _has_job(self, name: str) -> bool:
        return self.scheduler.get_job(FEED_JOB + name) is not None

    def _drop_job(self, name: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(FEED_JOB + name)

    def _move_job(self, name: str, when: datetime) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(FEED_JOB + name, next_run_time=when)

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
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = SerialStore(self.app.config.settings.database, self._commit_lock)
        return store

    def _fetcher(self, app: app_mod.App) -> Fetcher:
        s = app.config.settings
        return Fetcher(user_agent=s.user_agent, timeout=s.timeout, max_bytes=s.max_feed_bytes, clock=self.clock)

    # ------------------------------------------------------------------ the poll job

    def _poll(self, name: str) -> None:
        if self._stop.is_set():
            return
        app, feed = self.app, self._feeds.get(name)
        if feed is None:
            return  # removed or gone since this run was queued
        with self._tracked():
            store = self._store()
            outcome = pipeline.gather(feed, store.feed_state(feed.name, feed.url), fetcher=self.limiter,
                                      clock=self.clock)
            with self._commit_lock:
                if self._closed:
                    return
                now = self.clock.now()
                result = pipeline.commit(store, outcome, now, settings=app.config.settings, rules=app.rules,
                                         channels=app.channels)
                plan, failures, next_at = self._plan(store, feed, result, now)
            self._after_poll(feed, result, plan, failures, next_at)

    def _plan(self, store: Store, feed: Feed, result: PollResult,
              now: datetime) -> tuple[schedule.Plan, int, datetime | None]:
        """Decide and record the feed's next poll (and follow a permanent redirect); return the decision."""
        with store.transaction():
            row = store.schedule(feed.name)
            failures = row.failures if row else 0
            published = ()
            if feed.adaptive and result.ok:
                published = store.recent_publications(feed.name, since=now - schedule.ADAPTIVE_WINDOW,
                                                      limit=schedule.ADAPTIVE_SAMPLE)
            plan = schedule.plan(feed, result, failures=failures, now=now, rng=self.rng, published=published)
            if result.ok and row is not None:
                self._track_redirect(store, feed, row, result, now)
            next_at = None if plan.gone else now + timedelta(seconds=plan.delay or 0.0)
            store.set_schedule(feed.name, next_poll_at=next_at, gone=plan.gone)
            store.set_meta(META_LAST_POLL, ts(now))
        return plan, failures, next_at

    def _track_redirect(self, store: Store, feed: Feed, row: Store.Schedule, result: PollResult,
                        now: datetime) -> None:
        # Only successful polls count: an outage says nothing about where the feed lives.
        r = schedule.track_redirect(row.redirect_to, row.redirect_since, result.permanent_redirect, now,
                                    current=feed.url)
        if r.adopt and r.target:
            configured = next((f.url for f in self.app.config.feeds if f.name == feed.name), feed.url)
            store.adopt_url(feed.name, r.target)
            store.set_meta(META_MOVED + feed.name, json.dumps({"from": configured, "to": r.target, "at": ts(now)}))
            self._feeds[feed.name] = replace(feed, url=r.target)
            event(log, logging.WARNING, "redirect_adopted", feed=feed.name, old=feed.url, new=r.target,
                  since=ts(r.since) if r.since else None,
                  msg="permanent redirect seen for 7 days; polling the new URL (update config.toml)")
        else:
            store.set_redirect(feed.name, r.target, r.since)
            if r.new:
                event(log, logging.WARNING, "redirect_seen", feed=feed.name, url=feed.url, target=r.target,
                      msg="permanent redirect followed; the new URL is adopted if it persists for 7 days")

    def _after_poll(self, feed: Feed, result: PollResult, plan: schedule.Plan, failures: int,
                    next_at: datetime | None) -> None:
        self._polls += 1
        self._last_poll = self.clock.now()
        self._alerts += result.alerts
        if result.ok:
            self._failing.discard(feed.name)
        else:
            self._failing.add(feed.name)
        fields: dict[str, object] = {"feed": feed.name, "next": ts(next_at) if next_at else None,
                                     "schedule": plan.reason, "elapsed": round(result.elapsed, 3)}
        if result.ok:
            event(log, logging.INFO, "poll", **fields, status="not-modified" if result.not_modified else "ok",
                  new=result.new, revised=result.revised or None, seen=result.seen, matches=result.matches or None,
                  alerts=result.alerts or None, bozo=result.bozo)
        elif plan.gone:
            self._gone.add(feed.name)
            self._failing.discard(feed.name)
            self._feeds.pop(feed.name, None)
            self._drop_job(feed.name)
            event(log, logging.ERROR, "feed_gone", feed=feed.name, url=feed.url, error=result.error,
                  msg="the feed answered 410 Gone; polling stopped (change its url in config.toml to resume)")
        else:
            event(log, logging.WARNING, "poll_failed", **fields, error=result.error, kind=result.error_kind,
                  failures=failures, retry_after=result.retry_after)
        if next_at is not None and not self._stop.is_set():
            self._move_job(feed.name, next_at)
        if result.alerts:
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
                    report = app.deliver(self._store(), self.clock, on_event=self._delivery_event)
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
        with self._tracked():
            store, now = self._store(), self.clock.now()
            with self._commit_lock:  # no transaction of ours is open while the WAL is copied back
                busy, wal_pages, copied = store.checkpoint()
            optimized = False
            last = parse_ts(store.meta(META_OPTIMIZED))
            if last is None or now - last >= OPTIMIZE_EVERY:
                for _ in range(MAX_MERGE_STEPS):  # short transactions: polls go on in between
                    if self._stop.is_set():
                        break
                    with store.transaction():
                        if not store.merge_fts():
                            break
                with store.transaction():
                    store.analyze()
                    store.set_meta(META_OPTIMIZED, ts(now))
                optimized = True
            purged = 0
            retention = self.app.config.settings.retention
            if retention:
                cutoff = now - timedelta(seconds=retention)
                while not self._stop.is_set():
                    with store.transaction():  # short transactions: polls go on in between
                        n = store.purge(cutoff)
                    purged += n
                    if not n:
                        break
            event(log, logging.INFO, "maintenance", checkpoint_busy=busy or None, wal_pages=wal_pages,
                  checkpointed=copied, fts_optimized=optimized or None, purged=purged or None)

    def _heartbeat(self) -> None:
        # Runs on the scheduler's own thread (DebugExecutor): if the scheduler wedges, pings stop.
        if self.watchdog_every:
            self.notifier.watchdog()
        self.notifier.status(self.summary())

    def summary(self) -> str:
        """Return the one-line status systemd shows (STATUS=)."""
        last = f"last poll {self._last_poll:%H:%M:%S}Z" if self._last_poll else "no poll yet"
        parts = [f"{len(self._feeds)} feeds", f"{len(self._failing)} failing"]
        if self._gone:
            parts.append(f"{len(self._gone)} gone")
        return f"{', '.join(parts)}; {self._polls} polls, {self._alerts} alerts queued; {last}"

    # ------------------------------------------------------------------ events, reload

    def _on_job_event(self, ev: JobExecutionEvent | JobSubmissionEvent) -> None:
        job = ev.job_id
        feed = job[len(FEED_JOB):] if job.startswith(FEED_JOB) else None
        what = {"job": job} if feed is None else {"feed": feed}
        if ev.code == EVENT_JOB_ERROR:
            exc = getattr(ev, "exception", None)
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
        if _fetch_settings(new) != _fetch_settings(old):
            self._retired.append(self.limiter.fetcher)  # jobs in flight still use it; closed at exit
            self.limiter.fetcher = self._fetcher(new)
        self.app = new
        old.close_channels()  # a delivery still using them finishes; its connections are not reused
        self._sync_feeds(self._store(), new)
        event(log, logging.INFO, "reloaded", config=str(self.path), feeds=len(self._feeds),
              rules=len(new.rules.rules), channels=",".join(sorted(new.channels)) or None)
        self.notifier.ready(self.summary())
        return True


def _grace(seconds: float) -> int:
    """Return a misfire grace time of about `seconds` (APScheduler wants whole seconds; its default of 1 s
    silently skips runs whenever the pool is busy)."""
    return max(1, math.ceil(seconds))


def _fetch_settings(app: app_mod.App) -> tuple[object, ...]:
    s = app.config.settings
    return s.user_agent, s.timeout, s.max_feed_bytes


def register_secrets(app: app_mod.App) -> None:
    """Tell the log redactor what the channels' options declare secret: passwords, webhook secrets,
    token-bearing webhook URLs, credential headers (building the channels if not built yet)."""
    REDACTOR.set(app.channel_set.redactions)


def run(config_path: Path, app: app_mod.App, *, workers: int = 8) -> int:
    """Run the daemon in this (main) thread until SIGTERM/SIGINT; return the exit code."""
    return Daemon(config_path, app, workers=workers).run()


__all__ = ["Daemon", "HostLimiter", "SerialStore", "run"]
