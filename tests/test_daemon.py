"""The daemon: a few smoke tests of the real process, and its scheduling in-process on a ManualClock.

What is real in the smoke tests (marked slow): the subprocess, its signals, the systemd notify
socket it talks to, the HTTP feed server, the webhook receiver and the SQLite archive; they wait for
events with generous timeouts and never measure rates or time windows. Everything about *when* a
feed is polled runs in-process on a ManualClock (here and in tests/test_poller.py), so a loaded
machine cannot make it fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import app as app_mod
from monitor.clock import ManualClock
from monitor.daemon import META_MOVED, Daemon
from monitor.poller import FeedPoller
from monitor.store import Store
from tests.configs import HOOK_ENV, SECRET, feed_toml, wait_for, write_config
from tests.feedserver import FeedServer, document, redirect, respond, retry_later, rss
from tests.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- helpers


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET; records every message."""

    def __init__(self) -> None:
        # sun_path holds 108 bytes: pytest's tmp_path can be longer, so use a short private dir.
        self.dir = tempfile.mkdtemp(prefix="pm-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, OSError):
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def seen(self, key: str, value: str | None = None) -> list[float]:
        """Return the arrival times of messages carrying KEY (=value)."""
        return [t for t, m in list(self.messages) if key in m and (value is None or m[key] == value)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class DaemonProcess:
    """`python -m monitor --config CONFIG run` as a subprocess, with its stderr captured in a file."""

    def __init__(self, config: Path, notify: NotifySocket | None, *args: str, env: dict[str, str] | None = None):
        self.config = config
        self.log_path = config.with_name(f"daemon-{time.monotonic_ns()}.log")
        environ = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                                                     "JOURNAL_STREAM")}
        if notify is not None:
            environ.update(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="600000")  # ping every 0.3 s
        environ.update(env or {})
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run", *args],
                                     cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=self._log)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, name: str) -> list[str]:
        return [line for line in self.log.splitlines() if f"event={name} " in line + " "]

    def wait_event(self, name: str, timeout: float = 30, count: int = 1) -> list[str]:
        def enough() -> list[str] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log[-3000:]}")
            found = self.events(name)
            return found if len(found) >= count else None

        return wait_for(enough, timeout, f"{count} x event={name}\n{self.log[-2000:]}")  # type: ignore[return-value]

    def alive(self) -> bool:
        """Return True while running; raise with its log if it died."""
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log[-3000:]}")
        return True

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds it took)."""
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()
        return code, time.monotonic() - start


def status(config: Path) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "status", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, **HOOK_ENV})
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def now() -> datetime:
    return datetime.now(UTC)


def item(n: int, title: str, when: datetime | None = None) -> dict[str, object]:
    return {"title": title, "link": f"https://wire.example/news/{n}", "guid": f"wire-{n}",
            "description": f"{title}. Full story number {n}.", "pubDate": when or now()}


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    n = NotifySocket()
    yield n
    n.close()


# --------------------------------------------------------------------------- end to end (real processes)


@pytest.mark.slow
def test_end_to_end_alert_notify_watchdog_stop_and_no_repeat_after_restart(
    tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver, notify: NotifySocket
) -> None:
    first = item(1, "Quarterly results published", now() - timedelta(hours=1))
    feed_server.route("/wire.xml", document(rss([first])))
    config = write_config(tmp_path / "config.toml", feed_toml("wire", feed_server.url("/wire.xml")),
                          hook=receiver.url)
    daemon = DaemonProcess(config, notify, env=HOOK_ENV)
    try:
        wait_for(lambda: daemon.alive() and notify.seen("READY", "1"), 30, "READY=1")
        daemon.wait_event("poll")  # the first poll archived the old news quietly
        assert receiver.deliveries == []
        code, st = status(config)
        assert code == 0 and st["status"] == "healthy", st

        feed_server.route("/wire.xml", document(rss([item(2, "Leaders meet at the Central Asia summit"), first])))
        wait_for(lambda: receiver.deliveries, 30, "the webhook")
        delivery = receiver.deliveries[0]
        assert delivery.verified is True
        assert delivery.json["type"] == "release.matched"
        assert delivery.json["data"]["rule"] == "summit"
        assert "Central Asia summit" in json.dumps(delivery.json["data"]["release"])

        # The watchdog pings keep coming from the scheduler (every WATCHDOG_USEC / 2 = 0.3 s).
        before = len(notify.seen("WATCHDOG", "1"))
        wait_for(lambda: len(notify.seen("WATCHDOG", "1")) >= before + 2, 30, "two more watchdog pings")
        assert notify.seen("STATUS")
    finally:
        code, _ = daemon.stop(timeout=30)
    assert code == 0, daemon.log[-3000:]
    assert notify.seen("STOPPING", "1")
    assert SECRET not in daemon.log  # never log secrets
    assert "event=stopped" in daemon.log
    code, st = status(config)
    assert code == 2 and "stopped" in st["reasons"][0], st

    # Start again: the release is in the archive and its alert was sent; nothing is repeated.
    again = DaemonProcess(config, notify, env=HOOK_ENV)
    try:
        again.wait_event("poll", count=2, timeout=30)
    finally:
        code, _ = again.stop(timeout=30)
    assert code == 0
    assert len(receiver.deliveries) == 1, [d.json for d in receiver.deliveries]


@pytest.mark.slow
def test_sighup_reloads_a_valid_config_and_refuses_an_invalid_one(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.route("/a.xml", document(rss([item(1, "Feed A news")])))
    feed_server.route("/b.xml", document(rss([item(2, "Feed B news")])))
    config = write_config(tmp_path / "config.toml", feed_toml("a", feed_server.url("/a.xml")))
    daemon = DaemonProcess(config, None, "--log-format", "json")  # intervals of 1 s: polls keep coming
    try:
        wait_for(lambda: feed_server.hits("/a.xml") >= 1, 30, "feed a polled")
        assert feed_server.hits("/b.xml") == 0

        # A valid new config: feed b is added without a restart.
        write_config(config, feed_toml("a", feed_server.url("/a.xml")) + feed_toml("b", feed_server.url("/b.xml")))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: feed_server.hits("/b.xml") >= 2, 30, "feed b polled after the reload")
        reloaded = [json.loads(line) for line in daemon.log.splitlines() if '"reloaded"' in line]
        assert reloaded and reloaded[0]["feeds"] == 2

        # An invalid one is refused with its error, and the old config keeps running.
        write_config(config, feed_toml("a", feed_server.url("/a.xml"), interval="soon"))
        daemon.signal(signal.SIGHUP)
        refused = wait_for(lambda: [json.loads(line) for line in daemon.log.splitlines() if '"reload_refused"' in line],
                           30, "the refusal")
        assert "feeds[1].interval" in refused[0]["error"] and "soon" in refused[0]["error"]
        hits_b = feed_server.hits("/b.xml")
        wait_for(lambda: feed_server.hits("/b.xml") >= hits_b + 2, 30, "feed b still polled")
        assert daemon.proc.poll() is None
    finally:
        code, _ = daemon.stop()
    assert code == 0
    # Every line on stderr is one JSON object.
    for line in daemon.log.splitlines():
        record = json.loads(line)
        assert {"level", "logger"} <= set(record)


@pytest.mark.slow
def test_the_daemon_records_an_absurd_retry_after_as_waiting_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # Issue 11: a 20-digit Retry-After made every poll of this feed fail silently (status: "new",
    # 0 failures). Now it is clamped to 24 h, recorded, and the healthy neighbour goes on.
    feed_server.route("/good.xml", document(rss([item(1, "Something good")])))
    feed_server.route("/busy.xml", retry_later("99999999999999999999", status=429))
    feeds = feed_toml("good", feed_server.url("/good.xml")) + feed_toml("busy", feed_server.url("/busy.xml"))
    config = write_config(tmp_path / "config.toml", feeds)
    daemon = DaemonProcess(config, None)
    try:
        daemon.wait_event("poll_failed")
        good = feed_server.hits("/good.xml")
        wait_for(lambda: feed_server.hits("/good.xml") >= good + 2, 30, "the good feed polled on")
        code, st = status(config)
    finally:
        stop_code, _ = daemon.stop(timeout=30)
    assert stop_code == 0 and "Traceback" not in daemon.log, daemon.log[-3000:]
    busy = {f["name"]: f for f in st["feeds"]}["busy"]
    assert busy["state"] == "waiting" and busy["failures"] == 1 and "HTTP 429" in busy["last_error"]
    assert datetime.fromisoformat(busy["retry_after_until"]) - now() <= timedelta(days=1)
    assert feed_server.hits("/busy.xml") == 1
    assert code == 1 and any("waiting" in r for r in st["reasons"])


@pytest.mark.slow
def test_a_catastrophic_regex_cannot_stall_the_daemon(
    tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    # Issue 11: with Python's re, (a+)+$ against "redos aaa…ab" backtracks 2**40 times holding the
    # GIL: every feed stopped, SIGTERM went unanswered, and a restart hung on the same item again.
    # Rule regexes run under RE2 now (linear time); this is the daemon's side of that story.
    feed_server.route("/attack.xml", document(rss([item(1, "redos " + "a" * 40 + "b")])))
    feed_server.route("/healthy.xml", document(rss([item(2, "Leaders meet at the Central Asia summit")])))
    feeds = feed_toml("attack", feed_server.url("/attack.xml")) + feed_toml("healthy", feed_server.url("/healthy.xml"))
    rules = ('[[rules]]\nname = "redos"\nquery = "redos"\nregex = "(a+)+$"\nnotify = ["hook"]\n\n'
             '[[rules]]\nname = "summit"\nquery = "summit*"\nnotify = ["hook"]\n')
    config = write_config(tmp_path / "config.toml", feeds, hook=receiver.url, rules=rules)
    daemon = DaemonProcess(config, None, env=HOOK_ENV)
    try:
        # Both items were committed (the attack item too: nothing left to hang a restart on) and the
        # healthy one alerted. Generous guards only: nothing here measures how long a step takes.
        wait_for(lambda: daemon.alive() and receiver.deliveries, 60, "the summit alert")
        # Polling goes on, for both feeds: no worker is stuck in the attack item.
        attack, healthy = feed_server.hits("/attack.xml"), feed_server.hits("/healthy.xml")
        wait_for(lambda: daemon.alive() and feed_server.hits("/attack.xml") >= attack + 2
                 and feed_server.hits("/healthy.xml") >= healthy + 2, 60, "both feeds polled on")
        code, st = status(config)
    finally:
        stop_code, _ = daemon.stop(timeout=30)
    assert stop_code == 0 and "Traceback" not in daemon.log, daemon.log[-3000:]
    assert "event=stopped" in daemon.log
    assert [d.json["data"]["rule"] for d in receiver.deliveries] == ["summit"]
    assert "Central Asia summit" in json.dumps(receiver.deliveries[0].json["data"]["release"])
    assert {f["name"]: (f["state"], f["failures"]) for f in st["feeds"]} == {"attack": ("ok", 0),
                                                                            "healthy": ("ok", 0)}, st
    with Store(config.with_name("archive.db")) as store:
        titles = {title for (title,) in store.conn.execute("SELECT title FROM releases")}
    assert titles == {"redos " + "a" * 40 + "b", "Leaders meet at the Central Asia summit"}


# --------------------------------------------------------------------------- in-process (days must pass)


def make_daemon(tmp_path: Path, feeds: str, clock: ManualClock, **monitor: str) -> Daemon:
    extra = "".join(f'{k} = "{v}"\n' for k, v in monitor.items())
    config = write_config(tmp_path / "config.toml", feeds, monitor=extra)
    return Daemon(config, app_mod.load(config), clock=clock, environ={})


def test_a_permanent_redirect_is_followed_at_once_and_adopted_after_seven_days(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    clock = ManualClock(now())
    feed_server.route("/old.xml", redirect("/new.xml", 301))
    feed_server.route("/new.xml", document(rss([item(1, "Moved news")])))
    daemon = make_daemon(tmp_path, feed_toml("wire", feed_server.url("/old.xml"), interval="1h"), clock)
    daemon.sync_feeds()
    store: Store = daemon.store()

    daemon.poll_now("wire")
    row = store.schedule("wire")
    assert row is not None and row.last_ok_at is not None  # followed at once: the items were read
    assert row.redirect_to == feed_server.url("/new.xml") and row.url == feed_server.url("/old.xml")
    for _ in range(6):
        clock.advance(86400)
        daemon.poll_now("wire")
        assert store.schedule("wire").url == feed_server.url("/old.xml")  # type: ignore[union-attr]
    clock.advance(86400 + 60)
    daemon.poll_now("wire")
    row = store.schedule("wire")
    assert row is not None and row.url == feed_server.url("/new.xml") and row.redirect_to is None
    moved = json.loads(store.meta(META_MOVED + "wire") or "{}")
    assert moved["from"] == feed_server.url("/old.xml") and moved["to"] == feed_server.url("/new.xml")

    # From now on the new URL is asked directly, also after a restart.
    old_hits, new_hits = feed_server.hits("/old.xml"), feed_server.hits("/new.xml")
    restarted = Daemon(daemon.path, app_mod.load(daemon.path), clock=clock, environ={})
    restarted.sync_feeds()
    clock.advance(3600 * 1.2)
    restarted.poll_now("wire")
    assert feed_server.hits("/old.xml") == old_hits
    assert feed_server.hits("/new.xml") == new_hits + 1


def test_a_redirect_seen_only_sometimes_is_never_adopted(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = ManualClock(now())
    body = document(rss([item(1, "News")]))
    feed_server.route("/feed.xml", redirect("/elsewhere.xml", 308))
    feed_server.route("/elsewhere.xml", body)
    daemon = make_daemon(tmp_path, feed_toml("wire", feed_server.url("/feed.xml"), interval="1h"), clock)
    daemon.sync_feeds()
    for day in range(10):
        if day == 5:  # the original answers directly once: the watch starts over
            feed_server.route("/feed.xml", body)
        elif day == 6:
            feed_server.route("/feed.xml", redirect("/elsewhere.xml", 308))
        daemon.poll_now("wire")
        clock.advance(86400)
    row = daemon.store().schedule("wire")
    assert row is not None and row.url == feed_server.url("/feed.xml")
    assert row.redirect_to == feed_server.url("/elsewhere.xml")


def test_backoff_is_recorded_and_reset_by_a_success(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = ManualClock(now())
    feed_server.route("/f.xml", respond(503, "down"))
    daemon = make_daemon(tmp_path, feed_toml("f", feed_server.url("/f.xml"), interval="1m"), clock)
    daemon.sync_feeds()
    store = daemon.store()
    gaps = []
    for _ in range(5):
        daemon.poll_now("f")
        row = store.schedule("f")
        assert row is not None and row.next_poll_at is not None
        gaps.append((row.next_poll_at - clock.now()).total_seconds())
        clock.advance(gaps[-1])
    # 60 s x 2^n with +/-10 % jitter (timestamps are whole seconds).
    for n, gap in enumerate(gaps, start=1):
        assert 60 * 2**n * 0.9 - 1 <= gap <= 60 * 2**n * 1.1 + 1, gaps
    feed_server.route("/f.xml", document(rss([item(1, "Back")])))
    daemon.poll_now("f")
    row = store.schedule("f")
    assert row is not None and row.failures == 0
    assert 53 <= (row.next_poll_at - clock.now()).total_seconds() <= 67  # type: ignore[operator]


def test_a_busy_adaptive_feed_is_polled_sooner_and_max_age_stretches_a_quiet_one(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    clock = ManualClock(now())
    busy = [item(n, f"Busy wire item {n}", clock.now() - timedelta(minutes=2 * n)) for n in range(12)]
    feed_server.route("/busy.xml", document(rss(busy)))
    feed_server.route("/cached.xml", document(rss([item(100, "Quiet")]), headers={"Cache-Control": "max-age=1800"}))
    adaptive = 'adaptive = true\nmin_interval = "1m"'
    feeds = (feed_toml("busy", feed_server.url("/busy.xml"), interval="1h", extra=adaptive)
             + feed_toml("cached", feed_server.url("/cached.xml"), interval="10m"))
    daemon = make_daemon(tmp_path, feeds, clock)
    daemon.sync_feeds()
    daemon.poll_now("busy")
    daemon.poll_now("cached")
    store = daemon.store()

    def wait(name: str) -> float:
        row = store.schedule(name)
        assert row is not None and row.next_poll_at is not None
        return (row.next_poll_at - clock.now()).total_seconds()

    # Publishes every 2 minutes: polled about every minute (half the gap; floor min_interval), not hourly.
    assert 50 <= wait("busy") <= 70
    # max-age=1800 on a 10-minute feed: asked again in about 30 minutes.
    assert 1620 - 1 <= wait("cached") <= 1980 + 1


def test_maintenance_applies_retention_and_keeps_pending_alerts(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = ManualClock(now())
    old = now() - timedelta(days=40)
    feed_server.route("/f.xml", document(rss([item(1, "Old summit news", old), item(2, "Old other news", old)])))
    daemon = make_daemon(tmp_path, feed_toml("f", feed_server.url("/f.xml"), interval="1h"), clock,
                         retention="30d")
    daemon.sync_feeds()
    store = daemon.store()
    daemon.poll_now("f")
    assert store.count("releases") == 2
    daemon.maintain_now()  # first seen today: kept, although published 40 days ago
    assert store.count("releases") == 2
    clock.advance(31 * 86400)
    daemon.maintain_now()
    assert store.count("releases") == 0 and store.count("sightings") == 0
    assert store.feeds()[0].entries == 0
    assert store.meta("daemon_optimized") is not None


def test_a_restart_keeps_gone_and_retry_after_and_skips_a_feed_polled_by_someone_else(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    clock = ManualClock(now())
    feed_server.route("/busy.xml", retry_later(7200, status=429))
    feed_server.route("/gone.xml", respond(410, "gone for good"))
    feed_server.route("/ok.xml", document(rss([item(1, "Fine")])))
    feeds = "".join(feed_toml(n, feed_server.url(f"/{n}.xml"), interval="1m") for n in ("busy", "gone", "ok"))
    daemon = make_daemon(tmp_path, feeds, clock)
    daemon.sync_feeds()
    for name in ("busy", "gone", "ok"):
        daemon.poll_now(name)
    assert "gone" in daemon.gone and daemon.scheduler.get_job("feed:gone") is None
    assert "busy" in daemon.failing and "1 gone" in daemon.summary()

    clock.advance(600)
    restarted = Daemon(daemon.path, app_mod.load(daemon.path), clock=clock, environ={})
    restarted.sync_feeds()
    assert restarted.gone == {"gone"} and restarted.scheduler.get_job("feed:gone") is None
    busy_job = restarted.scheduler.get_job("feed:busy")
    assert busy_job.next_run_time >= now() + timedelta(seconds=7200 - 60)  # Retry-After survives a restart
    # A timer firing early (or a second run) asks the poller first: nothing is requested.
    restarted.poll_now("busy")
    restarted.poll_now("gone")
    assert feed_server.hits("/busy.xml") == 1 and feed_server.hits("/gone.xml") == 1

    # A feed another process just polled is not polled again; its timer moves to the recorded plan.
    clock.advance(60 * 1.1)
    other = FeedPoller(restarted.app, clock=clock)
    with restarted.app.open_store() as store:
        assert [f.name for f in other.due(store, restarted.app.config.feeds).ready] == ["ok"]
        [polled] = other.round(store, [f for f in restarted.app.config.feeds if f.name == "ok"])
    hits = feed_server.hits("/ok.xml")
    restarted.poll_now("ok")
    assert feed_server.hits("/ok.xml") == hits
    recorded = restarted.store().schedule("ok")
    assert recorded is not None and polled.next_at is not None
    assert recorded.next_poll_at == polled.next_at.replace(microsecond=0)
    assert restarted.scheduler.get_job("feed:ok").next_run_time == recorded.next_poll_at


def test_the_daemon_queues_a_feed_once_and_its_workers_poll_it(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.route("/a.xml", document(rss([item(1, "A")])))
    daemon = make_daemon(tmp_path, feed_toml("a", feed_server.url("/a.xml"), interval="1h"), ManualClock(now()))
    daemon.sync_feeds()
    assert daemon.submit("a") is True
    assert daemon.submit("a") is False  # still queued: a second timer run is not a second poll
    assert daemon.submit("nosuch") is False
    daemon.pool.start()
    try:
        wait_for(lambda: daemon.pool.completed == 1, 30, "the worker's poll")
        assert daemon.polls == 1
        assert daemon.submit("a") is True  # done: it may be queued again
        wait_for(lambda: daemon.pool.completed == 2, 30, "the second run")
    finally:
        daemon.queue.close()
        daemon.pool.join(30)
    assert feed_server.hits("/a.xml") == 1  # the second run found it not due


# --------------------------------------------------------------------------- notify and logging


def test_notifier_speaks_sd_notify_and_survives_a_vanished_socket(notify: NotifySocket) -> None:
    from monitor.sdnotify import Notifier, watchdog_interval

    n = Notifier(notify.path)
    assert n.ready("polling 3 feeds") and n.watchdog() and n.status("line one\nline two")
    wait_for(lambda: len(notify.messages) >= 3, 2, "three datagrams")
    assert notify.messages[0][1] == {"READY": "1", "STATUS": "polling 3 feeds"}
    assert notify.messages[2][1] == {"STATUS": "line one line two"}  # a newline would start a new field
    notify.close()
    assert n.watchdog() is False  # gone: dropped, never raised
    assert Notifier(None).ready() is False

    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 30.0
    assert watchdog_interval({}) is None and watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "2"}, pid=2) == 0.5


def test_abstract_notify_socket_addresses_work() -> None:
    from monitor.sdnotify import Notifier

    name = f"pm-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        assert Notifier("@" + name).send(STOPPING="1")
        assert sock.recv(100) == b"STOPPING=1"
    finally:
        sock.close()


def test_log_lines_are_key_value_or_json_and_never_show_secrets() -> None:
    import io
    import logging

    from monitor.logging_setup import event, setup

    out = io.StringIO()
    redactor = setup("INFO", "text", stream=out, environ={})
    redactor.set(["whsec_TOPSECRETVALUE", ("https://hooks.example/T0/B0/tok3n", "https://hooks.example/***")])
    log = logging.getLogger("monitor.test")
    event(log, logging.INFO, "poll", feed="PR Newswire", new=3, missing=None)
    event(log, logging.WARNING, "alert", msg="failed https://hooks.example/T0/B0/tok3n with whsec_TOPSECRETVALUE")
    event(log, logging.INFO, "fetch", url="https://user:pa55@feeds.example/rss?id=7&api_key=abc123")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ts=") and 'event=poll feed="PR Newswire" new=3' in lines[0]
    assert "missing" not in lines[0]
    assert "tok3n" not in lines[1] and "TOPSECRET" not in lines[1] and "https://hooks.example/***" in lines[1]
    assert "pa55" not in lines[2] and "abc123" not in lines[2] and "id=7" in lines[2]

    out = io.StringIO()
    setup("INFO", "json", stream=out, environ={"JOURNAL_STREAM": "8:123"})
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        event(log, logging.ERROR, "job_error", feed="wire", exc_info=exc)
    record = json.loads(out.getvalue().splitlines()[0])
    assert "ts" not in record  # journald stamps lines itself
    assert record["event"] == "job_error" and record["feed"] == "wire" and record["level"] == "error"
    assert record["error"] == "ValueError: bad thing" and "Traceback" in record["traceback"]
    setup("WARNING", "text", stream=io.StringIO())  # leave logging quiet for later tests
