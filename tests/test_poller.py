"""FeedPoller on a ManualClock: which feeds are due, what a poll records, politeness per host.

Real feed server, real archive, real fetcher; only the clock is manual, so the schedule is checked
to the second without sleeping and holds on a loaded machine. `run --once` and the daemon both go
through this poller (tests/test_run_once.py and tests/test_daemon.py check the wiring).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import app as app_mod
from monitor import fetch, schedule
from monitor.clock import ManualClock
from monitor.errors import HTTPStatusError
from monitor.poller import FeedPoller
from monitor.store import Store
from monitor.types import FeedState, Fetched
from tests.configs import Configs, wait_for
from tests.feedserver import FeedServer, document, respond, retry_later, rss


def item(n: int, title: str, when: datetime) -> dict[str, object]:
    return {"title": title, "link": f"https://wire.example/news/{n}", "guid": f"wire-{n}",
            "description": f"{title}. Story {n}.", "pubDate": when}


def setup(configs: Configs, server: FeedServer, names: dict[str, str], interval: str = "1m",
          ) -> tuple[app_mod.App, ManualClock, FeedPoller, Store]:
    feeds = "".join(configs.feed(name, server.url(path), interval) for name, path in names.items())
    app = app_mod.load(configs.write(feeds))
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    poller = FeedPoller(app, clock=clock, rng=random.Random(7))
    return app, clock, poller, app.open_store()


def test_due_skips_gone_retry_after_and_not_yet_due_feeds_and_force_polls_them(
    configs: Configs, feed_server: FeedServer
) -> None:
    feed_server.route("/ok.xml", document(rss([item(1, "Fine", datetime.now(UTC))])))
    feed_server.route("/busy.xml", retry_later(7200, status=429))
    feed_server.route("/gone.xml", respond(410, "gone"))
    feed_server.route("/err.xml", respond(500, "boom"))
    app, clock, poller, store = setup(configs, feed_server, {n: f"/{n}.xml" for n in ("ok", "busy", "gone", "err")})
    feeds = app.config.feeds
    start = clock.now()

    first = poller.due(store, feeds)
    assert [f.name for f in first.ready] == ["ok", "busy", "gone", "err"] and not first.skipped
    polled = {p.feed.name: p for p in poller.round(store, first.ready)}
    assert polled["ok"].result.ok and polled["gone"].plan.gone and polled["busy"].result.retry_after == 7200

    def waits() -> dict[str, tuple[str, datetime | None]]:
        return {s.feed.name: (s.wait.reason, s.wait.until) for s in poller.due(store, feeds).skipped}

    now = waits()
    assert now["gone"] == ("gone", None)
    assert now["busy"] == ("retry-after", start + timedelta(seconds=7200))
    assert now["ok"][0] == "not-due" and now["err"][0] == "not-due"  # err backs off: 2 minutes

    clock.advance(70)  # past ok's interval (+/-10 %), not past err's backoff
    assert [f.name for f in poller.due(store, feeds).ready] == ["ok"]
    assert set(waits()) == {"busy", "gone", "err"}
    clock.advance(7200)
    assert [f.name for f in poller.due(store, feeds).ready] == ["ok", "busy", "err"]  # gone stays gone

    forced = poller.due(store, feeds, force=True)
    assert [f.name for f in forced.ready] == ["ok", "busy", "gone", "err"] and not forced.skipped
    feed_server.route("/gone.xml", document(rss([item(2, "Back", datetime.now(UTC))])))
    [back] = poller.round(store, [f for f in forced.ready if f.name == "gone"])
    assert back.result.ok and not back.plan.gone and waits()["gone"][0] == "not-due"  # answered again: resumed
    store.close()


def test_a_changed_url_makes_a_gone_feed_due_again(configs: Configs, feed_server: FeedServer) -> None:
    feed_server.route("/old.xml", respond(410, "gone"))
    feed_server.route("/new.xml", document(rss([item(1, "New home", datetime.now(UTC))])))
    app, clock, poller, store = setup(configs, feed_server, {"wire": "/old.xml"})
    list(poller.round(store, app.config.feeds))
    assert not poller.due(store, app.config.feeds).ready
    app = app_mod.load(configs.write(configs.feed("wire", feed_server.url("/new.xml"), "1m")))
    assert [f.url for f in poller.due(store, app.config.feeds).ready] == [feed_server.url("/new.xml")]
    store.close()


def test_thirty_virtual_minutes_keep_the_schedule_and_back_off(configs: Configs, feed_server: FeedServer) -> None:
    feed_server.route("/good.xml", document(rss([item(1, "Good", datetime.now(UTC))])))
    feed_server.route("/error.xml", respond(500, "boom"))
    feed_server.route("/busy.xml", retry_later(7200, status=429))
    feed_server.route("/gone.xml", respond(410, "gone"))
    names = {n: f"/{n}.xml" for n in ("good", "error", "busy", "gone")}
    app, clock, poller, store = setup(configs, feed_server, names)
    polls: Counter[str] = Counter()
    times: dict[str, list[float]] = {n: [] for n in names}
    start = clock.now()
    for _ in range(180):  # a tick every 10 s, as a cron `run --once` or the daemon's timers would
        for polled in poller.round(store, poller.due(store, app.config.feeds).ready):
            polls[polled.feed.name] += 1
            times[polled.feed.name].append((clock.now() - start).total_seconds())
        clock.advance(10)

    # Every ~minute (interval 1 m, +/-10 % jitter, due up to 12 s early; 10 s ticks).
    gaps = [b - a for a, b in zip(times["good"], times["good"][1:], strict=False)]
    assert 26 <= polls["good"] <= 36 and all(40 <= g <= 80 for g in gaps), gaps
    # 1 m x 2^n backoff: after 2, 4, 8, 16 minutes (+/-10 %).
    assert times["error"][:1] == [0] and 4 <= polls["error"] <= 5, times["error"]
    for n, (a, b) in enumerate(zip(times["error"], times["error"][1:], strict=False), start=1):
        assert 60 * 2**n * 0.9 - 10 <= b - a <= 60 * 2**n * 1.1 + 10, times["error"]
    # Retry-After 2 h: asked once. 410: asked once.
    assert polls["busy"] == 1 and polls["gone"] == 1
    assert feed_server.hits("/busy.xml") == 1 and feed_server.hits("/gone.xml") == 1

    # The health `status` shows for it.
    health = schedule.assess(app.config.feeds, store.schedules(), now=clock.now(), last_poll=clock.now())
    assert health.states == {"good": "ok", "error": "failing", "busy": "waiting", "gone": "gone"}
    store.close()


class Overflowing:
    """A fetcher from before the Retry-After clamp: hands on the server's 20-digit Retry-After as is."""

    def fetch(self, url: str, state: FeedState | None = None) -> Fetched:
        raise HTTPStatusError(429, "HTTP 429 Too Many Requests", retry_after=float("99999999999999999999"))


def test_an_error_while_recording_a_poll_is_the_feeds_failure_not_silence(
    configs: Configs, feed_server: FeedServer
) -> None:
    feed_server.route("/f.xml", document(rss([item(1, "Fine", datetime.now(UTC))])))
    app, clock, poller, store = setup(configs, feed_server, {"f": "/f.xml"})
    [feed] = app.config.feeds
    poller.fetcher = Overflowing()  # type: ignore[assignment]
    polled = poller.poll(store, feed)
    assert polled is not None and polled.result.error_kind == "internal"
    assert polled.result.error is not None and polled.result.error.startswith("internal error: ")
    row = store.schedule("f")
    assert row is not None and row.failures == 1 and row.last_error == polled.result.error
    assert row.next_poll_at is not None and row.next_poll_at > clock.now()  # backs off like any failure
    health = schedule.assess(app.config.feeds, store.schedules(), now=clock.now(), last_poll=clock.now())
    assert health.states["f"] == "failing" and health.code == schedule.DEGRADED


def test_a_huge_retry_after_is_clamped_where_it_is_parsed(configs: Configs, feed_server: FeedServer) -> None:
    feed_server.route("/digits.xml", retry_later("99999999999999999999"))
    feed_server.route("/y9999.xml", retry_later("Fri, 31 Dec 9999 23:59:59 GMT", status=503))
    feed_server.route("/sup.xml", retry_later("\u00b2"))  # "²".isdigit() is True; float() refuses it
    app, clock, poller, store = setup(configs, feed_server, {n: f"/{n}.xml" for n in ("digits", "y9999", "sup")})
    polled = {p.feed.name: p for p in poller.round(store, app.config.feeds)}
    assert polled["digits"].result.retry_after == fetch.MAX_RETRY_AFTER == schedule.MAX_RETRY_AFTER
    assert polled["y9999"].result.retry_after == fetch.MAX_RETRY_AFTER
    assert polled["sup"].result.retry_after is None and polled["sup"].result.error_kind == "http"
    rows = store.schedules()
    for name in ("digits", "y9999"):
        assert rows[name].retry_after_until == clock.now() + timedelta(days=1)
    store.close()


def test_at_most_two_requests_per_host_and_waiting_for_a_slot_is_no_failure(
    configs: Configs, feed_server: FeedServer, tmp_path: Path
) -> None:
    inflight, peak, lock = [0], [0], threading.Lock()
    gates: list[threading.Event] = []

    def held(h) -> None:  # type: ignore[no-untyped-def]
        gate = threading.Event()
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
            gates.append(gate)
        gate.wait(60)
        with lock:
            inflight[0] -= 1
        h.reply(200, rss([item(1, "x", datetime.now(UTC))]), {"Content-Type": "application/rss+xml"})

    for n in range(6):
        feed_server.route(f"/f{n}.xml", held)
    local = tmp_path / "local.xml"
    local.write_bytes(rss([item(9, "Local", datetime.now(UTC))]))
    feeds = "".join(configs.feed(f"f{n}", feed_server.url(f"/f{n}.xml"), "1m") for n in range(6))
    feeds += configs.feed("local", str(local), "1m")
    app = app_mod.load(configs.write(feeds))
    poller = FeedPoller(app, clock=ManualClock(datetime.now(UTC)))
    results: list[str] = []

    def run_round() -> None:
        with app.open_store() as store:
            results.extend(f"{p.feed.name}:{p.result.error or 'ok'}"
                           for p in poller.round(store, app.config.feeds, workers=8))

    def waiting() -> list[threading.Event]:
        with lock:
            return [g for g in gates if not g.is_set()]

    runner = threading.Thread(target=run_round)
    runner.start()
    for released in range(6):  # open one gate each time two requests (or the last one) are waiting
        want = min(2, 6 - released)
        wait_for(lambda: len(waiting()) >= want, 30, f"{want} requests after {released} released")  # noqa: B023
        with lock:
            assert inflight[0] <= 2
        waiting()[0].set()
    runner.join(60)
    poller.fetcher.close()
    assert peak[0] == 2  # never more; and the pool (8 workers) did use both slots
    assert sorted(results) == sorted([f"f{n}:ok" for n in range(6)] + ["local:ok"])  # nobody timed out
