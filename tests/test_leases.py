"""Leases (issue 19): the claim / renew / release statements on both backends, and a node's fence.

The statements are the store's (monitor/store/leases.py), run against a real SQLite file and the real
PostgreSQL server; time is a ManualClock. The daemons themselves are tested in tests/test_cluster.py.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import app as app_mod
from monitor import channels as channels_mod
from monitor import deliver
from monitor.clock import ManualClock
from monitor.cluster import LeaseKeeper, margin
from monitor.daemon import Daemon
from monitor.errors import StoreUnavailable
from monitor.store import Store, pg
from monitor.types import Database, Feed
from tests.configs import feed_toml, write_config
from tests.feedserver import FeedServer, rss
from tests.pgserver import TestDatabase
from tests.webhook_receiver import WebhookReceiver

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_a_claim_wins_only_where_no_other_node_holds_an_unexpired_lease(database: Database) -> None:
    with Store(database) as s:
        assert s.claim_leases("a", ["feed:x", "feed:y"], NOW, later(30)) == {"feed:x", "feed:y"}
        assert s.claim_leases("b", ["feed:x", "feed:z"], later(10), later(40)) == {"feed:z"}
        assert s.claim_leases("a", ["feed:x"], later(10), later(40)) == {"feed:x"}  # its own: kept, extended
        held = {lease.resource: lease for lease in s.live_leases(later(10))}
        assert held["feed:x"].node == "a" and held["feed:x"].expires_at == later(40)
        assert held["feed:x"].acquired_at == NOW  # since when a has held it
        # Expired (expires_at <= now): anyone takes it, and it is theirs from now.
        assert s.claim_leases("b", ["feed:y"], later(30), later(60)) == {"feed:y"}
        y = next(lease for lease in s.live_leases(later(30)) if lease.resource == "feed:y")
        assert (y.node, y.acquired_at) == ("b", later(30))


def test_renewal_keeps_only_what_is_still_ours_and_release_frees_or_cools(database: Database) -> None:
    with Store(database) as s:
        s.claim_leases("a", ["page:1", "page:2", "host:h"], NOW, later(30))
        s.claim_leases("b", ["page:2"], later(31), later(61))  # a's expired: b took it over
        assert s.renew_leases("a", ["page:1", "page:2", "host:h"], later(61)) == {"page:1", "host:h"}
        assert s.release_leases("a", ["page:1"]) == 1
        assert s.claim_leases("b", ["page:1"], later(32), later(62)) == {"page:1"}
        # Cooling off: still a's until then (page_delay across the cluster), then anyone's.
        assert s.release_leases("a", ["host:h"], until=later(35)) == 1
        assert s.claim_leases("b", ["host:h"], later(34), later(64)) == set()
        assert s.claim_leases("b", ["host:h"], later(35), later(65)) == {"host:h"}
        assert s.release_leases("a", ["host:h"]) == 0  # not a's any more: nothing to give up
        assert s.release_node("b") == 3
        assert s.live_leases(later(36)) == []


def test_expired_leases_are_swept_and_many_resources_claim_in_one_call(database: Database) -> None:
    names = [f"alert:{i}" for i in range(1200)]  # more than one statement's chunk
    with Store(database) as s:
        assert s.claim_leases("a", names, NOW, later(5)) == set(names)
        assert len(s.live_leases(NOW, node="a")) == 1200
        assert s.renew_leases("a", names, later(20)) == set(names)
        s.claim_leases("b", ["job:maintain"], NOW, later(1))
        assert s.expire_leases(later(5)) == 1
        assert s.live_leases(later(5), node="b") == []


def test_concurrent_claims_of_the_same_resources_have_exactly_one_winner_each(database: Database) -> None:
    """Six threads (six connections) claim overlapping sets at once, in different orders: every resource
    has exactly one winner and no statement fails (no deadlock between the row locks of the upserts)."""
    names = [f"alert:{i}" for i in range(60)]
    results: dict[str, set[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6, timeout=60)

    def node(n: int) -> None:
        try:
            with Store(database) as s:
                mine = names[n * 7:] + names[:n * 7]  # another order each
                start.wait()
                won = s.claim_leases(f"n{n}", mine, NOW, later(30))
                won |= s.claim_leases(f"n{n}", reversed(mine), NOW, later(30))
                s.renew_leases(f"n{n}", won, later(40))
                results[f"n{n}"] = won
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    winners = [r for won in results.values() for r in won]
    assert sorted(winners) == sorted(names)
    with Store(database) as s:
        assert {lease.resource: lease.node for lease in s.live_leases(NOW)} == {
            r: n for n, won in results.items() for r in won}


def test_the_fence_drops_before_the_lease_can_expire_when_renewals_stop(database: Database) -> None:
    clock = ManualClock(NOW)
    with Store(database) as s:
        keeper = LeaseKeeper("a", 30.0, clock, lambda: s)
        assert keeper.claim(s, ["alert:1"]) == {"alert:1"}  # (not started: the claim renews first)
        assert keeper.holds("alert:1")
        clock.advance(30 - margin(30) - 0.1)
        assert keeper.holds("alert:1")
        clock.advance(0.2)
        # Renewals stopped (the database unreachable): the node may no longer act on anything it holds,
        # a clear margin before another node could take the lease.
        assert not keeper.valid() and not keeper.holds("alert:1")
        assert s.claim_leases("b", ["alert:1"], clock.now(), clock.now() + timedelta(seconds=30)) == set()
        # Another node took it over after expiry: a renewal tells this one it is lost.
        clock.advance(margin(30))
        assert s.claim_leases("b", ["alert:1"], clock.now(), clock.now() + timedelta(seconds=30)) == {"alert:1"}
        assert keeper.renew(s) and keeper.valid()
        assert not keeper.holds("alert:1") and keeper.lost == 1
        keeper.release(s, ["alert:1"])  # not ours: giving it up changes nothing
        assert [lease.node for lease in s.live_leases(clock.now())] == ["b"]


def test_a_failed_renewal_keeps_the_fence_where_it_was(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.errors import StoreUnavailable
    clock = ManualClock(NOW)
    with Store(database) as s:
        keeper = LeaseKeeper("a", 10.0, clock, lambda: s)
        keeper.claim(s, ["feed:x"])
        clock.advance(5)

        def down(*args: object, **kw: object) -> set[str]:
            raise StoreUnavailable("the database is unavailable (test)")
        monkeypatch.setattr(s, "renew_leases", down)
        assert not keeper.renew(s)
        clock.advance(10 - margin(10) - 5)
        assert not keeper.valid()


# --------------------------------------------------------------------------- delivery under leases


def test_two_nodes_draining_one_outbox_send_each_alert_and_each_digest_once(
        tmp_path: Path, receiver: WebhookReceiver) -> None:
    """Node b holds the lease of alert 1 and of the first digest period: node a's drain sends neither,
    then b's drain sends them; a period's digest goes out once, under one id, whichever node sends it."""
    from tests.test_deliver import NOW as T0
    from tests.test_deliver import hook, queue_alert
    clock = ManualClock(T0 + timedelta(minutes=10))
    with Store(tmp_path / "a.db") as s:
        a1, a2 = queue_alert(s, clock, 1), queue_alert(s, clock, 2)
        d1, d2 = queue_alert(s, clock, 3, channel="daily"), queue_alert(s, clock, 4, channel="daily")
        specs = {"hook": hook("hook", receiver.url), "daily": hook("daily", receiver.url, digest="1h")}
        chans = {name: channels_mod.build(spec) for name, spec in specs.items()}
        node_a = LeaseKeeper("a", 30.0, clock, lambda: s)
        node_b = LeaseKeeper("b", 30.0, clock, lambda: s)
        clock.set(T0 + timedelta(hours=1, seconds=1))  # the digest period is over
        rows = {r.id: r for r in s.due_alerts(clock.now(), 10)}
        period = deliver.lease_name(rows[d1], specs["daily"], "UTC")
        assert period == deliver.lease_name(rows[d2], specs["daily"], "UTC") == "job:digest:daily:2026-11-27T13:00:00Z"
        assert node_b.claim(s, [f"alert:{a1}", period]) == {f"alert:{a1}", period}

        report = deliver.drain(s, chans, specs, clock, rng=random.Random(1), claims=node_a)
        assert report.sent == 1 and [d.headers["webhook-id"] for d in receiver.deliveries] == [s.alert_id(a2)]
        assert node_a.held == frozenset()  # what a claimed, it gave back after sending
        node_b.release(s, [f"alert:{a1}", period])
        report = deliver.drain(s, chans, specs, clock, rng=random.Random(1), claims=node_b)
        assert report.sent == 3  # alert 1, and the digest of 3 and 4
        # a, reading stale rows, finds nothing left to send.
        assert deliver.drain(s, chans, specs, clock, rng=random.Random(1), claims=node_a).sent == 0
        ids = [d.headers["webhook-id"] for d in receiver.deliveries]
        assert len(ids) == len(set(ids)) == 3
        digest = [d for d in receiver.deliveries if d.json["type"] == "release.digest"]
        assert len(digest) == 1 and len(digest[0].json["data"]["alerts"]) == 2


def test_the_lease_setting_is_validated(tmp_path: Path) -> None:
    from monitor import config
    from monitor.errors import ConfigError
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\nlease = "45s"\n')
    assert config.load(path).settings.lease == 45.0
    path.write_text("[monitor]\n")
    assert config.load(path).settings.lease == 30.0
    path.write_text('[monitor]\nlease = "1s"\n')
    with pytest.raises(ConfigError, match=r"monitor\.lease: \"1s\" is not between 3s and 1h"):
        config.load(path)


def test_feed_host_slots_hold_the_cluster_to_per_host_and_a_failed_claim_frees_its_reservation(
        pg_test_database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon's `slot:HOST:N` leases (on a server: SQLite runs one node): each of a node's workers
    takes its own slot (a node's claim of a lease it holds would win again), none is left when the other
    nodes hold them all, and a claim that fails (the database went away) does not keep the slot reserved."""
    archive = pg_test_database.archive()
    config = write_config(tmp_path / "config.toml", "", database=archive)
    daemon = Daemon(config, app_mod.load(config), clock=ManualClock(NOW), environ={})
    feeds = [Feed(name=f"f{i}", url=f"https://wire.example/f{i}.xml", interval=60) for i in range(3)]
    store = daemon.store()

    def fail(*_: object, **__: object) -> set[str]:
        raise StoreUnavailable("the database is unavailable")
    monkeypatch.setattr(daemon.leases, "claim", fail)
    with pytest.raises(StoreUnavailable):
        daemon._claim_host_slot(store, feeds[0])
    monkeypatch.undo()

    assert daemon._claim_host_slot(store, feeds[0]) == (True, "slot:wire.example:0")
    assert daemon._claim_host_slot(store, feeds[1]) == (True, "slot:wire.example:1")
    assert daemon._claim_host_slot(store, feeds[2]) == (False, None)  # the node's two are in use
    daemon.leases.release(store, ["slot:wire.example:0", "slot:wire.example:1"])
    daemon._my_slots.clear()
    other = LeaseKeeper("other", 30, ManualClock(NOW), lambda: store)
    assert other.claim(store, ["slot:wire.example:0", "slot:wire.example:1"]) == {
        "slot:wire.example:0", "slot:wire.example:1"}
    assert daemon._claim_host_slot(store, feeds[0]) == (False, None)  # another node asks the host twice
    assert daemon._claim_host_slot(store, Feed(name="file", url="file:///tmp/f.xml", interval=60)) == (True, None)
    store.close()
    pg.close_pool(archive.url)


def test_a_poll_whose_feed_lease_ran_out_during_the_fetch_is_not_recorded(
        database: Database, tmp_path: Path, feed_server: FeedServer) -> None:
    """A node frozen (or cut off) in the middle of a fetch may find, when it resumes, that its lease ran out
    and another node polled the feed meanwhile: recording its older answer would undo the other's record."""
    feed_server.publish("/wire.rss", rss([{"title": "Summit opens", "guid": "g1", "link": "https://wire.example/1",
                                           "description": "The summit opens.", "pubDate": NOW}]))
    config = write_config(tmp_path / "config.toml", feed_toml("wire", feed_server.url("/wire.rss"), "5m"),
                          database=database, monitor='lease = "3s"')
    clock = ManualClock(NOW)
    daemon = Daemon(config, app_mod.load(config), clock=clock, environ={})
    daemon.sync_feeds()
    finish = daemon._fetch("wire")  # claimed and fetched: what is left is the digest and the record
    assert finish is not None and len(feed_server.requests) == 1
    clock.advance(3)  # frozen past the lease (no renewal ran)
    finish()
    store = daemon.store()
    assert store.count("releases") == 0
    assert store.one("SELECT last_polled_at FROM feeds WHERE name = 'wire'") in (None, {"last_polled_at": None})
    assert daemon.polls == 0
    # A fetch that finishes within its lease is recorded.
    finish = daemon._fetch("wire")
    assert finish is not None
    finish()
    assert store.count("releases") == 1 and daemon.polls == 1
    store.close()
