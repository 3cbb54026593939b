"""Several `press-monitor run` daemons on one PostgreSQL archive (issue 19): real processes, killed with -9.

Each test gets its own archive (a schema in this run's database, tests/pgserver.py), a loopback feed
server that notes when each feed and page was asked for, and a webhook receiver. Leases are 3 s so a
dead node's work is taken over quickly; every wait is for a condition, with a generous timeout.
"""

from __future__ import annotations

import base64
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from monitor.hostqueue import PER_HOST
from tests.configs import HOOK_ENV, SECRET
from tests.feedserver import FeedServer, Handler
from tests.pgserver import PrivateServer, TestDatabase
from tests.webhook_receiver import Delivery, Reply, SignatureInvalid, WebhookReceiver, verify_standard_webhook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LEASE = 3.0
INTERVAL = 10.0  # each feed's interval: two polls of one feed closer than half of it are a double poll
FEEDS = 60


def wait_until(check: Callable[[], object], what: str, timeout: float = 180.0,
               nodes: list[Node] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n.name}\n{n.tail()}" for n in nodes or [])
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)


# --------------------------------------------------------------------------- the parts


@dataclass
class Node:
    """One `press-monitor run` process (restarting it makes a new node: a new process, a new id)."""

    name: str
    config: Path
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    termed: bool = False

    def start(self) -> Node:
        self.starts += 1
        self.termed = False
        with open(self.log, "a") as out:
            out.write(f"=== start {self.starts}\n")
            out.flush()
            self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(self.config), "run"],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, **HOOK_ENV, **self.env})
        return self

    def kill(self) -> float:
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(60)
        return time.monotonic()

    def term(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None and not self.termed:
            self.proc.send_signal(signal.SIGTERM)  # (once: a second one means "stop now")
        self.termed = True
        return self.proc.wait(90)

    def started(self) -> bool:
        text = self.log.read_text(errors="replace")
        return "event=started" in text[text.rfind("=== start"):]

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""


@dataclass
class Wire:
    """The feed server's side: FEEDS feeds whose items link to release pages on the same server."""

    server: FeedServer
    feed_hits: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, path)
    page_hits: list[tuple[float, str]] = field(default_factory=list)
    in_flight: int = 0  # page requests under way
    most_in_flight: int = 0
    feeds_in_flight: int = 0  # feed requests under way (every feed is on this one host)
    most_feeds_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # One date for every wave: an item whose date changed would be a revision (its page fetched again).
    published: str = field(default_factory=lambda: format_datetime(datetime.now(UTC), usegmt=True))

    def publish(self, waves: int, feeds: int = FEEDS) -> None:
        when = self.published
        for f in range(feeds):
            items = "".join(
                f"<item><title>Release {f}-{w} on the summit</title><link>{self.server.url(f'/page/{f}-{w}.html')}"
                f"</link><guid>g{f}-{w}</guid><pubDate>{when}</pubDate>"
                f"<description>Summit text {f}-{w}.</description></item>" for w in range(waves))
            body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>wire {f}</title>'
                    f"<link>{self.server.url('/')}</link><description>d</description>{items}</channel></rss>")
            # A feed answers in 50 ms, so the nodes' requests would overlap without the host's slots.
            self.server.route(f"/feed/{f}.xml", self._timed(self.feed_hits, body, "application/rss+xml", slow=0.05))

    def _timed(self, log: list[tuple[float, str]], body: str, kind: str, *,
               slow: float = 0.0) -> Callable[[Handler], None]:
        data = body.encode()

        def run(h: Handler) -> None:
            with self.lock:
                log.append((time.monotonic(), urlsplit(h.path).path))
                self.in_flight += log is self.page_hits
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                self.feeds_in_flight += log is self.feed_hits
                self.most_feeds_in_flight = max(self.most_feeds_in_flight, self.feeds_in_flight)
            try:
                if slow:
                    time.sleep(slow)
            finally:
                # Over before the answer goes out: once the client has it, it may free its slot and
                # another node ask at once, before this thread would have got here after replying.
                with self.lock:
                    self.in_flight -= log is self.page_hits
                    self.feeds_in_flight -= log is self.feed_hits
            h.reply(200, data, {"Content-Type": kind})
        return run

    def pages(self, feeds: int = FEEDS, waves: int = 2) -> None:
        for f in range(feeds):
            for w in range(waves):
                html = (f"<html><head><title>Release {f}-{w}</title></head><body><article><h1>Release {f}-{w} on"
                        f" the summit</h1><p>Summit text {f}-{w}. The full page says a great deal more about"
                        " the summit than the feed did, in several long sentences.</p></article></body></html>")
                self.server.route(f"/page/{f}-{w}.html", self._timed(self.page_hits, html, "text/html", slow=0.05))
        self.server.status("/robots.txt", 404)

    def count(self, log: list[tuple[float, str]], prefix: str = "") -> int:
        with self.lock:
            return sum(1 for _, p in log if p.startswith(prefix))


def write_config(path: Path, wire: Wire, database: str, hook: str | None, *, feeds: int = FEEDS,
                 full_text: bool = True) -> Path:
    lines = ['[monitor]', f'{database}', 'timeout = "5s"', f'lease = "{LEASE:g}s"', 'page_delay = 0', '']
    for f in range(feeds):
        lines += ["[[feeds]]", f'name = "wire-{f}"', f'url = "{wire.server.url(f"/feed/{f}.xml")}"',
                  f'interval = "{INTERVAL:g}s"', f"full_text = {'true' if full_text else 'false'}", ""]
    lines += ["[channels.hook]", 'type = "webhook"', f'url = "{hook}"' if hook else 'url_env = "PM_TEST_HOOK_URL"',
              'secret_env = "PM_TEST_HOOK_SECRET"', "",
              "[[rules]]", 'name = "summit"', 'query = "summit"', 'notify = ["hook"]', ""]
    path.write_text("\n".join(lines))
    return path


def receiver_ids(rx: WebhookReceiver, *, verify: bool = True) -> dict[str, set[str]]:
    """{release title: the webhook-ids it was delivered under} over every accepted delivery."""
    out: dict[str, set[str]] = defaultdict(set)
    for d in list(rx.deliveries):
        assert d.verified or not verify, d.reason
        if d.json and d.json.get("type") == "release.matched":
            out[d.json["data"]["release"]["title"]].add(d.headers["webhook-id"])
    return out


def distinct_ids(*receivers: WebhookReceiver) -> set[str]:
    return {d.headers["webhook-id"] for rx in receivers for d in list(rx.deliveries) if d.answered == 200}


def explained(hits: list[tuple[float, str]], kills: list[float], closer_than: float) -> list[str]:
    """Requests of one path closer together than `closer_than` that no kill -9 between them explains
    (a node killed after its request, before recording it: the survivor asks again)."""
    by_path: dict[str, list[float]] = defaultdict(list)
    for when, path in hits:
        by_path[path].append(when)
    bad = []
    for path, times in by_path.items():
        times.sort()
        for a, b in zip(times, times[1:], strict=False):
            if b - a < closer_than and not any(a <= k <= b for k in kills):
                bad.append(f"{path}: asked {b - a:.2f} s apart")
    return bad


@pytest.fixture
def wire() -> Iterator[Wire]:
    with FeedServer() as server:
        yield Wire(server)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET, tolerance=float("inf")) as rx:
        yield rx


def stop_all(nodes: list[Node]) -> list[int]:
    # A node restarted a moment ago may not have installed its signal handlers yet.
    for n in nodes:
        if n.proc is not None and n.proc.poll() is None:
            wait_until(n.started, f"{n.name} to start", nodes=nodes)
    for n in nodes:
        if n.proc is not None and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
            n.termed = True
    return [n.term() for n in nodes]


# --------------------------------------------------------------------------- 3 nodes, kill -9


def kill_during_a_wave(wave: int, wire: Wire, receiver: WebhookReceiver, nodes: list[Node], url: str) -> list[float]:
    """Publish wave `wave` (the first is already out), kill -9 and restart a node mid-sweep, mid-page and
    mid-delivery, and wait for everything of the wave to be done; return when the kills happened."""
    expected = FEEDS * wave
    feeds0, pages0, sent0 = wire.count(wire.feed_hits), wire.count(wire.page_hits), len(receiver.deliveries)
    if wave == 2:
        wire.publish(waves=2)
    kills = []
    wait_until(lambda: wire.count(wire.feed_hits) >= feeds0 + 15, "polls under way", nodes=nodes)
    kills.append(nodes[0].kill())
    nodes[0].start()
    wait_until(lambda: wire.count(wire.page_hits, "/page/") >= pages0 + 15, "page fetches", nodes=nodes)
    kills.append(nodes[1].kill())
    nodes[1].start()
    wait_until(lambda: len(receiver.deliveries) >= sent0 + 15, "deliveries", nodes=nodes)
    kills.append(nodes[2].kill())
    nodes[2].start()
    wait_until(lambda: len(distinct_ids(receiver)) >= expected, f"all {expected} alerts", nodes=nodes)
    wait_until(lambda: len({p for _, p in wire.page_hits if p.startswith("/page/")}) >= expected,
               f"all {expected} pages", nodes=nodes)
    with psycopg.connect(url) as conn:
        wait_until(lambda: conn.execute("SELECT count(*) FROM pages WHERE status = 'pending'").fetchone() == (0,),
                   "no page pending", nodes=nodes)
    return kills




def test_three_nodes_share_the_work_and_lose_nothing_when_nodes_are_killed(
        tmp_path: Path, pg_test_database: TestDatabase, wire: Wire, receiver: WebhookReceiver) -> None:
    """60 feeds, two waves of releases, a node killed -9 mid-sweep, mid-page-fetch and mid-delivery in
    each wave: every alert arrives under one id, no feed is polled twice in an interval, every page is
    fetched once and never two at a time on the host, the survivors stop cleanly."""
    archive = pg_test_database.archive()
    wire.publish(waves=1)
    wire.pages()
    receiver.queue(*[Reply(200, body=b"ok", delay=0.05)] * 400)  # deliveries take a moment: kills land mid-send
    config = write_config(tmp_path / "config.toml", wire, f'database = "{archive.url}"', receiver.url)
    nodes = [Node(f"node{i}", config, tmp_path / f"node{i}.log", {}).start() for i in range(3)]
    kills: list[float] = []
    try:
        for wave in (1, 2):
            kills += kill_during_a_wave(wave, wire, receiver, nodes, archive.url)
    finally:
        codes = stop_all(nodes)
    logs = {n.name: n.log.read_text() for n in nodes}
    assert codes == [0, 0, 0], logs
    for name, text in logs.items():
        assert "Traceback" not in text and "job_error" not in text, (name, text[-3000:])

    # Every alert arrived, each under exactly one id; a repeat (a kill mid-send) repeated that id.
    ids = receiver_ids(receiver)
    assert len(ids) == 2 * FEEDS
    assert all(len(v) == 1 for v in ids.values()), {k: v for k, v in ids.items() if len(v) > 1}
    assert len(distinct_ids(receiver)) == 2 * FEEDS
    # No feed polled by two nodes in one interval (unless a kill explains a second ask).
    assert explained(wire.feed_hits, kills, INTERVAL / 2) == []
    # Every page fetched once (a page cut off by a kill is fetched again), one request at a time.
    page_hits = [(t, p) for t, p in wire.page_hits if p.startswith("/page/")]
    assert explained(page_hits, kills, float("inf")) == []
    assert wire.most_in_flight == 1
    # Feed requests to the host: at most PER_HOST at a time across the three nodes (one node's limit).
    assert 1 <= wire.most_feeds_in_flight <= PER_HOST
    with psycopg.connect(archive.url) as conn:
        row = conn.execute("SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM alerts").fetchone()
        assert row == (2 * FEEDS, 2 * FEEDS)
        # Leases: the survivors gave theirs back at SIGTERM; the killed nodes' ones lapse.
        live = conn.execute("SELECT count(*) FROM leases WHERE expires_at > to_char(now() AT TIME ZONE 'UTC',"
                            " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AND resource NOT LIKE 'host:%'"
                            " AND resource NOT LIKE 'job:%'").fetchone()
        assert live == (0,)


# --------------------------------------------------------------------------- the server restarted


def test_three_nodes_ride_out_a_database_restart(tmp_path: Path, wire: Wire, receiver: WebhookReceiver) -> None:
    feeds = 10
    server = PrivateServer(tmp_path)
    server.start()
    wire.publish(waves=1, feeds=feeds)
    config = write_config(tmp_path / "config.toml", wire, f'database = "{server.url}"', receiver.url, feeds=feeds,
                          full_text=False)
    nodes: list[Node] = []
    try:
        nodes = [Node(f"node{i}", config, tmp_path / f"node{i}.log", {}).start() for i in range(3)]
        wait_until(lambda: len(distinct_ids(receiver)) >= feeds, "the first wave's alerts", nodes=nodes)
        server.stop()
        wire.publish(waves=2, feeds=feeds)
        wait_until(lambda: all("the database is unavailable" in n.log.read_text() for n in nodes),
                   "every node to report the outage", nodes=nodes)
        assert all(n.proc is not None and n.proc.poll() is None for n in nodes)
        server.start()
        wait_until(lambda: len(distinct_ids(receiver)) >= 2 * feeds, "the second wave's alerts", nodes=nodes)
    finally:
        codes = stop_all(nodes)
        server.close()
    assert codes == [0, 0, 0], [n.tail() for n in nodes]
    ids = receiver_ids(receiver)
    assert len(ids) == 2 * feeds and all(len(v) == 1 for v in ids.values()), ids
    assert explained(wire.feed_hits, [], INTERVAL / 2) == []


# --------------------------------------------------------------------------- a node cut from the database


class Forwarder:
    """A TCP forwarder to the database; stop() cuts every connection and refuses new ones (a network cut)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.socks: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            while not self.stopped.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
        for s in self.socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


SECRET_C = "whsec_" + base64.b64encode(b"node C signs with this key!!").decode()


def signed_by(secret: str, d: Delivery) -> bool:
    try:
        verify_standard_webhook(secret, d.headers, d.body, now=time.time(), tolerance=float("inf"))
    except SignatureInvalid:
        return False
    return True


def slow_sender_and_spare(tmp_path: Path, wire: Wire, rx: WebhookReceiver, feeds: int, c_database: str,
                          a_database: str) -> tuple[Node, Node]:
    """Node C, started, reaching the archive at `c_database` and signing with SECRET_C (so its requests can
    be told apart), and node A, not started yet; the receiver answers slowly, so what happens to C lands
    in the middle of its outbox."""
    config = write_config(tmp_path / "config.toml", wire, 'database_env = "PM_TEST_DB"', rx.url, feeds=feeds,
                          full_text=False)
    rx.queue(*[Reply(200, body=b"ok", delay=0.3)] * 200)
    c = Node("nodeC", config, tmp_path / "nodeC.log", {"PM_TEST_DB": c_database, "PM_TEST_HOOK_SECRET": SECRET_C})
    return c.start(), Node("nodeA", config, tmp_path / "nodeA.log", {"PM_TEST_DB": a_database})


def test_a_node_cut_from_the_database_sends_nothing_once_its_lease_expired(
        tmp_path: Path, pg_test_database: TestDatabase, wire: Wire) -> None:
    """Node C reaches the database through a forwarder and sends slowly; the forwarder is cut while C is
    sending. Nothing signed by C arrives once C's lease has expired, node A (direct) delivers the rest,
    and every alert arrives under one id (the one C had in flight may arrive twice, same id).

    (The config is the same; C's environment names the forwarder and another webhook secret, so the
    receiver can tell C's requests from A's by their signature.)"""
    archive = pg_test_database.archive()
    feeds = 30
    wire.publish(waves=1, feeds=feeds)
    parts = urlsplit(archive.url)
    forwarder = Forwarder((parts.hostname or "127.0.0.1", parts.port or 5432))
    via = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{forwarder.port}"))
    with WebhookReceiver(secret=None) as rx:
        c, a = slow_sender_and_spare(tmp_path, wire, rx, feeds, via, archive.url)
        nodes = [c, a]

        def from_c() -> int:
            return sum(signed_by(SECRET_C, d) for d in list(rx.deliveries))
        try:
            wait_until(lambda: from_c() >= 3, "node C sending", nodes=nodes)
            forwarder.stop()
            cut = time.monotonic()
            a.start()
            # Past C's lease (and then some, for a request C started just before its fence dropped).
            wait_until(lambda: time.monotonic() > cut + 2 * LEASE, "C's lease to expire")
            after_expiry = from_c()
            wait_until(lambda: len(distinct_ids(rx)) >= feeds, "every alert from the two nodes", nodes=nodes)
            wait_until(lambda: "lease renewal failed" in c.log.read_text(), "C to notice", nodes=nodes)
            assert c.proc is not None and c.proc.poll() is None, c.tail()
            assert from_c() == after_expiry  # C sent nothing since
            assert after_expiry < feeds  # (and C was cut with alerts left to send)
        finally:
            codes = stop_all([n for n in nodes if n.proc is not None])
            forwarder.stop()
    assert codes == [0, 0], [n.tail() for n in nodes]
    ids = receiver_ids(rx, verify=False)
    assert len(ids) == feeds and all(len(v) == 1 for v in ids.values()), ids
    assert all(signed_by(SECRET_C, d) or signed_by(SECRET, d) for d in rx.deliveries)


def test_a_paused_node_sends_nothing_it_lost_when_it_resumes(
        tmp_path: Path, pg_test_database: TestDatabase, wire: Wire) -> None:
    """The fence itself, end to end. Node C claims the outbox and sends slowly; it is frozen (SIGSTOP, as a
    long GC pause or a suspended VM would) while its sends are queued, node A takes the leases over once
    they expire and sends everything, then C resumes. C's commits and claims all work again (nothing is
    cut), so only the fence stops it sending the alerts it had already claimed and rendered: nothing
    signed by C arrives after the pause, and no alert arrives twice (but the one C had on the wire)."""
    archive = pg_test_database.archive()
    feeds = 30
    wire.publish(waves=1, feeds=feeds)
    with WebhookReceiver(secret=None) as rx:
        c, a = slow_sender_and_spare(tmp_path, wire, rx, feeds, archive.url, archive.url)
        nodes = [c, a]

        def from_c() -> int:
            return sum(signed_by(SECRET_C, d) for d in list(rx.deliveries))
        try:
            wait_until(lambda: from_c() >= 3, "node C sending", nodes=nodes)
            assert c.proc is not None
            c.proc.send_signal(signal.SIGSTOP)
            a.start()
            wait_until(lambda: len(distinct_ids(rx)) >= feeds, "node A to send the rest", nodes=nodes)
            # Counted only now: a request C had written just before the SIGSTOP has long been received.
            paused = from_c()
            c.proc.send_signal(signal.SIGCONT)
        finally:
            # SIGTERM lets C finish what it was doing (its drain) before it exits: all it would send, it has.
            if c.proc is not None:
                c.proc.send_signal(signal.SIGCONT)
            codes = stop_all([n for n in nodes if n.proc is not None])
    assert codes == [0, 0], [n.tail() for n in nodes]
    assert paused < feeds  # C was paused with alerts left to send
    assert from_c() == paused, c.tail()
    ids = [d.headers["webhook-id"] for d in rx.deliveries]
    assert len(set(ids)) == feeds and len(ids) - len(set(ids)) <= 1, sorted(ids)
