"""The outbox drained for real: a real webhook receiver, a real archive (both backends), only the clock is fake."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import channels as channels_mod
from monitor import config, deliver
from monitor.channel_options import WebhookOptions
from monitor.clock import ManualClock
from monitor.cluster import LeaseKeeper
from monitor.normalize import normalize
from monitor.store import Store, parse_ts, pg
from monitor.types import ChannelSpec, Database, Entry, ServerDatabase
from tests.configs import SECRET, Configs, write_config
from tests.feedserver import FeedServer, rss
from tests.pgserver import TestDatabase
from tests.webhook_receiver import Reply, WebhookReceiver

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(database: Database):
    """An archive on each backend in turn (conftest.py: `database`)."""
    with Store(database) as s:
        yield s


def hook(name: str, url: str, digest: str | None = None, timeout: float = 2.0) -> ChannelSpec:
    from monitor.types import Secret

    return ChannelSpec(name=name, type="webhook", digest=config.digest(digest, "digest") if digest else None,
                       options=WebhookOptions(url=url, timeout=timeout, secret=Secret(SECRET)))


def queue_alert(store: Store, clock: ManualClock, n: int, channel: str = "hook", rule: str = "summits") -> int:
    """Store a release with a match and an outbox row, as a poll would; return the alert row id."""
    entry = Entry(guid=f"g{n}", link=f"https://www.prnewswire.com/news-releases/summit-{n}.html",
                  title=f"Summit number {n}", summary="<p>BEIJING, May 19, 2023 /PRNewswire/ -- A summit.</p>",
                  content="", author="CGTN", published=clock.now(), updated=None)
    item = normalize(entry, now=clock.now())
    with store.transaction():
        fid = store.feed_id("wire", "https://wire.example/rss")
        rid = store.insert_release(item, "wire", clock.now())
        store.add_sighting(fid, "wire", rid, item, clock.now())
        store.add_match(rid, rule, "a [summit]", clock.now())
        store.add_alert(rid, rule, channel, clock.now())
    return int(store.scalar("SELECT max(id) FROM alerts"))


def drain(store: Store, clock: ManualClock, *specs: ChannelSpec) -> deliver.Report:
    by_name = {s.name: s for s in specs}
    chans = {s.name: channels_mod.build(s) for s in specs}
    return deliver.drain(store, chans, by_name, clock, rng=random.Random(1))


def row(store: Store, alert: int) -> dict:
    r = store.one("SELECT * FROM alerts WHERE id = :id", {"id": alert})
    return {k: r[k] for k in r.keys()}  # noqa: SIM118 - an sqlite3.Row iterates over its values


def test_due_alert_is_sent_signed_with_its_id(store, receiver) -> None:
    clock = ManualClock(NOW)
    alert = queue_alert(store, clock, 1)
    assert drain(store, clock, hook("hook", receiver.url)) == deliver.Report(sent=1)
    assert row(store, alert)["status"] == "sent" and parse_ts(row(store, alert)["sent_at"]) == NOW
    [d] = receiver.deliveries
    assert d.verified is True
    assert d.headers["webhook-id"] == store.alert_id(alert)
    assert d.json["data"]["alert_id"] == store.alert_id(alert)
    assert d.json["data"]["release"]["title"] == "Summit number 1"
    assert drain(store, clock, hook("hook", receiver.url)) == deliver.Report()  # nothing twice


def test_failures_retry_on_schedule_with_the_same_id(store, receiver) -> None:
    clock = ManualClock(NOW)
    alert = queue_alert(store, clock, 1)
    receiver.fail(2)
    spec = hook("hook", receiver.url)
    assert drain(store, clock, spec) == deliver.Report(retrying=1)
    due = parse_ts(row(store, alert)["next_attempt_at"])
    assert timedelta(seconds=4) <= due - NOW <= timedelta(seconds=6)  # 5 s with jitter
    assert drain(store, clock, spec) == deliver.Report()  # not due yet
    clock.advance(6)
    assert drain(store, clock, spec) == deliver.Report(retrying=1)
    due = parse_ts(row(store, alert)["next_attempt_at"])
    assert timedelta(minutes=4) <= due - clock.now() <= timedelta(minutes=6)  # then 5 min
    clock.advance(360)
    assert drain(store, clock, spec) == deliver.Report(sent=1)
    assert row(store, alert)["attempts"] == 3
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1
    assert len(receiver.deliveries) == 3


def test_retry_after_is_honoured(store, receiver) -> None:
    clock = ManualClock(NOW)
    alert = queue_alert(store, clock, 1)
    receiver.queue(Reply(429, headers={"Retry-After": "600"}))
    drain(store, clock, hook("hook", receiver.url))
    assert parse_ts(row(store, alert)["next_attempt_at"]) - NOW >= timedelta(seconds=600)
    assert "429" in row(store, alert)["last_error"]


def test_permanent_failure_is_dead_at_once_and_can_be_retried(store, receiver) -> None:
    clock = ManualClock(NOW)
    alert = queue_alert(store, clock, 1)
    receiver.queue(Reply(400, body=b"bad payload"))
    assert drain(store, clock, hook("hook", receiver.url)) == deliver.Report(dead=1)
    assert row(store, alert)["status"] == "dead"
    with store.transaction():
        assert store.requeue(dead=True, now=clock.now()) == 1
    assert drain(store, clock, hook("hook", receiver.url)) == deliver.Report(sent=1)


def test_schedule_runs_out_then_dead(store, receiver) -> None:
    clock = ManualClock(NOW)
    alert = queue_alert(store, clock, 1)
    receiver.fail(20)
    spec = hook("hook", receiver.url)
    for _ in range(len(deliver.RETRY_SCHEDULE)):
        assert drain(store, clock, spec) == deliver.Report(retrying=1)
        clock.advance(86400 * 1.2)
    assert drain(store, clock, spec) == deliver.Report(dead=1)
    assert row(store, alert)["attempts"] == len(deliver.RETRY_SCHEDULE) + 1


def test_gone_disables_the_channel_until_enabled(store, receiver) -> None:
    clock = ManualClock(NOW)
    first, second = queue_alert(store, clock, 1), queue_alert(store, clock, 2)
    receiver.queue(Reply(410))
    spec = hook("hook", receiver.url)
    report = drain(store, clock, spec)
    assert report.dead == 1 and report.waiting == 1
    assert row(store, first)["status"] == "dead" and row(store, second)["status"] == "pending"
    assert "hook" in store.disabled_channels()
    assert drain(store, clock, spec) == deliver.Report(waiting=1)
    with store.transaction():
        store.enable_channel("hook")
    assert drain(store, clock, spec) == deliver.Report(sent=1)


def test_a_broken_channel_does_not_hold_up_the_others(store, receiver) -> None:
    clock = ManualClock(NOW)
    queue_alert(store, clock, 1, channel="dead-end")
    queue_alert(store, clock, 2, channel="hook")
    report = drain(store, clock, hook("dead-end", "http://127.0.0.1:9/nowhere", timeout=1),
                   hook("hook", receiver.url))
    assert (report.sent, report.retrying) == (1, 1)


def test_digest_bundles_a_period_and_retries_whole(store, receiver) -> None:
    clock = ManualClock(NOW + timedelta(minutes=10))
    a1 = queue_alert(store, clock, 1)
    clock.advance(600)
    a2 = queue_alert(store, clock, 2)
    spec = hook("hook", receiver.url, digest="1h")
    assert drain(store, clock, spec) == deliver.Report(waiting=2)
    assert receiver.deliveries == []
    clock.set(NOW + timedelta(hours=1, seconds=1))
    receiver.fail(1)
    assert drain(store, clock, spec) == deliver.Report(retrying=2)
    clock.advance(10)
    a3 = queue_alert(store, clock, 3)  # arrives during the retry: belongs to the next digest
    assert drain(store, clock, spec) == deliver.Report(sent=2, waiting=1)
    first, second = receiver.deliveries
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.json["type"] == "release.digest"
    assert sorted(a["alert_id"] for a in second.json["data"]["alerts"]) == sorted(
        store.alert_id(a) for a in (a1, a2))
    assert row(store, a3)["status"] == "pending"


# --------------------------------------------------------------------------- crash while delivering


@pytest.mark.slow
def test_kill_minus_9_mid_batch_loses_nothing_and_repeats_only_the_one_in_flight(tmp_path: Path, database: Database,
                                                                                  configs: Configs) -> None:
    now = datetime.now(UTC)
    items = [{"title": f"Summit number {i}", "guid": f"g{i}", "link": f"https://wire.example/summit-{i}.html",
              "description": f"<p>GENEVA, Nov. 27, 2026 /PRNewswire/ -- Summit {i} opens.</p>",
              "pubDate": now - timedelta(minutes=5)} for i in range(5)]
    with FeedServer() as feeds, WebhookReceiver() as hooks:
        feeds.publish("/wire.rss", rss(items))
        # Alerts go out oldest first; the third request stalls until we kill the process.
        hooks.queue(Reply(200), Reply(200), Reply(200, delay=30))
        # On a server the killed run leaves its leases on the three unsent alerts: the re-run waits
        # for them to end (at most one lease) before sending them.
        config = configs.write(configs.feed("wire", feeds.url("/wire.rss"), "5m"), hook=hooks.url, signed=False,
                               monitor='lease = "3s"')
        cmd = [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while len(hooks.deliveries) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(hooks.deliveries) == 3, proc.communicate(timeout=5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)

        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert ("leased by another node" in done.stdout) == isinstance(database, ServerDatabase), done.stdout
        ids = [d.headers["webhook-id"] for d in hooks.deliveries]
        assert len(set(ids)) == 5  # every alert arrived
        assert len(ids) == 6  # ... and exactly one twice: the one in flight at the kill
        assert ids[2] in ids[3:]
        titles = [json.loads(d.body)["data"]["release"]["title"] for d in hooks.deliveries]
        assert sorted(set(titles)) == [f"Summit number {i}" for i in range(5)]


# --------------------------------------------------------------------------- no cap, concurrency, failure streaks


def test_one_drain_sends_the_whole_backlog(store, receiver) -> None:
    """Issue 11: a sweep sent at most 1,000 alerts; a drain now reads batches until nothing is due."""
    clock = ManualClock(NOW)
    for n in range(1, 1251):
        queue_alert(store, clock, n)
    chans = channels_mod.ChannelSet({"hook": hook("hook", receiver.url)})
    with chans:
        report = deliver.drain(store, chans, {"hook": hook("hook", receiver.url)}, clock, batch=500)
    assert report == deliver.Report(sent=1250)
    assert store.due_alerts(clock.now(), 10**6) == []
    assert len({d.peer for d in receiver.deliveries}) == 1  # one kept-alive connection, not one per alert


def test_a_dribbling_channel_holds_up_only_itself(store, receiver) -> None:
    """A receiver dribbling its answer is cut at its channel's timeout, and the other channel's
    alerts go out meanwhile: every one of them arrives while the slow conversation is still open."""
    from tests.webhook_receiver import DribblingReceiver

    clock = ManualClock(NOW)
    slow_alert = queue_alert(store, clock, 1, channel="slow")  # oldest: a sequential drain would start here
    for n in range(2, 5):
        queue_alert(store, clock, n, channel="hook")
    with DribblingReceiver(every=0.5) as slow:
        finished_then: list[int] = []  # slow conversations already over when each good alert arrived
        receiver.clock = lambda: (finished_then.append(slow.finished), time.time())[1]
        specs = (hook("slow", slow.url, timeout=4.0), hook("hook", receiver.url))
        report = drain(store, clock, *specs)
    assert (report.sent, report.retrying) == (3, 1)
    assert "timed out after 4s" in row(store, slow_alert)["last_error"]
    assert finished_then == [0, 0, 0]


def test_consecutive_failures_are_counted_until_a_success(store, receiver) -> None:
    clock = ManualClock(NOW)
    queue_alert(store, clock, 1)
    receiver.fail(2)
    spec = hook("hook", receiver.url)
    drain(store, clock, spec)
    clock.advance(10)
    drain(store, clock, spec)
    streak = deliver.channel_failures(store, "hook")
    assert streak is not None and streak.failures == 2 and streak.since == NOW and "HTTP 500" in streak.last_error
    clock.advance(600)
    assert drain(store, clock, spec) == deliver.Report(sent=1)
    assert deliver.channel_failures(store, "hook") is None


def test_channels_are_built_once_per_config_and_keep_their_connection(tmp_path: Path) -> None:
    """Channels were rebuilt on every delivery sweep (a new HTTP session, never closed, no keep-alive)."""
    from monitor import app as app_mod

    with WebhookReceiver() as receiver:
        deliveries = _sweeps(tmp_path, receiver, app_mod)
    assert len(deliveries) == 3
    assert len({d.peer for d in deliveries}) == 1  # one kept-alive connection across sweeps


def _sweeps(tmp_path: Path, receiver: WebhookReceiver, app_mod) -> list:  # type: ignore[no-untyped-def]
    (tmp_path / "config.toml").write_text(f"""
[monitor]
database = "a.db"
[channels.hook]
type = "webhook"
url = "{receiver.url}"
""")
    a = app_mod.load(tmp_path / "config.toml")
    clock = ManualClock(NOW)
    with a.open_store() as s:
        for sweep in range(3):
            queue_alert(s, clock, sweep + 1)
            built = a.channel_set
            assert a.deliver(s, clock) == deliver.Report(sent=1)
            assert a.channel_set is built
    a.close_channels()
    return receiver.deliveries


@pytest.mark.slow
def test_run_once_waits_for_another_nodes_lease_only_until_it_is_given_back(
        tmp_path: Path, pg_test_database: TestDatabase) -> None:
    """An alert a running node holds a lease on (it is sending it, say) is not `run --once`'s to send:
    the run waits for that lease, and stops waiting as soon as the node gives it back, not at its end
    (here an hour away: the run would outlast the test's timeout)."""
    archive = pg_test_database.archive()
    clock = ManualClock(datetime.now(UTC))
    with Store(archive) as store, WebhookReceiver() as hooks:
        alert = queue_alert(store, clock, 1)
        other = LeaseKeeper("other", 3600, clock, lambda: store)
        assert other.claim(store, [f"alert:{alert}"]) == {f"alert:{alert}"}
        config = write_config(tmp_path / "config.toml", "", hook=hooks.url, signed=False, database=archive,
                              monitor='lease = "1h"')
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert "1 due alert(s) leased by another node" in first and "waiting up to 3" in first, first
            other.release(store, [f"alert:{alert}"])
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 0, out + err
        assert "alerts: 1 sent" in out
        assert [d.headers["webhook-id"] for d in hooks.deliveries] == [store.alert_id(alert)]
    pg.close_pool(archive.url)
