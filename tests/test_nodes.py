"""The node registry (issue 19): who runs on this archive, live / stale / stopped, what each holds.

Store-level and health tests run on both backends with ManualClock; the CLI `nodes` and `status` run
as subprocesses; real daemons (subprocesses) show that SQLite takes one daemon (a second is refused
naming the first, a kill -9 does not block the restart) and that PostgreSQL takes several.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import health, schedule
from monitor.clock import ManualClock
from monitor.config import loads
from monitor.config.fingerprint import config_hash
from monitor.errors import ArchiveInUse
from monitor.health import META_LAST_POLL, META_STARTED
from monitor.membership import Membership
from monitor.node import LIVE, NODE_STALE_AFTER, STALE, STOPPED, NodeIdentity, pid_running
from monitor.store import Store, ts
from monitor.types import Database, ServerDatabase
from tests.configs import cli, wait_for
from tests.pgserver import TestDatabase
from tests.test_daemon import DaemonProcess

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOST = socket.gethostname()


def ident(name: str, pid: int = 4242, host: str = "node-a", version: str = "0.1.0",
          started: datetime = T0) -> NodeIdentity:
    return NodeIdentity(f"{host}:{pid}:{name}", host, pid, version, started)


def lease(store: Store, resource: str, node: str, expires: datetime) -> None:
    # The lease module (helper "cluster") writes leases; these tests only read them, so they write the row.
    with store.transaction():
        store.run("INSERT INTO leases (resource, node, expires_at, acquired_at) VALUES (:r, :n, :e, :a)",
                  {"r": resource, "n": node, "e": ts(expires), "a": ts(T0)})


# --------------------------------------------------------------------------- the store aggregate


def test_register_beat_stop_and_list_with_what_each_holds(database: Database) -> None:
    a, b = ident("a", 1), ident("b", 2, host="node-b", started=T0 + timedelta(seconds=5))
    with Store(database) as store:
        with store.transaction():
            store.register_node(a, "hash-a", T0)
            store.register_node(b, "hash-b", T0 + timedelta(seconds=5))
        for i in range(3):
            lease(store, f"feed:wire-{i}", a.id, T0 + timedelta(minutes=1))
        lease(store, "page:17", a.id, T0 + timedelta(minutes=1))
        lease(store, "feed:old", a.id, T0 - timedelta(seconds=1))  # expired: not held any more
        lease(store, "job:maintain", b.id, T0 + timedelta(minutes=1))
        rows = store.cluster_nodes(T0)
        assert [(n.id, n.host, n.pid, n.version, n.config_hash) for n in rows] == [
            (a.id, "node-a", 1, "0.1.0", "hash-a"), (b.id, "node-b", 2, "0.1.0", "hash-b")]
        assert rows[0].holds == {"feed": 3, "page": 1} and rows[1].holds == {"job": 1}
        assert store.cluster_nodes(T0, holds=False)[0].holds == {}

        later = T0 + timedelta(seconds=NODE_STALE_AFTER + 10)
        with store.transaction():
            assert store.node_heartbeat(a.id, later)
            store.node_stopped(b.id, later)
            store.set_node_config(a.id, "hash-a2")
        a_row, b_row = store.cluster_nodes(later)
        assert a_row.heartbeat_at == later and a_row.config_hash == "hash-a2" and a_row.state(later) == LIVE
        assert b_row.stopped_at == later and b_row.state(later) == STOPPED
        with store.transaction():
            assert not store.node_heartbeat(b.id, later)  # a stopped row takes no heartbeat: register again
            assert not store.node_heartbeat("nobody", later)
        assert a_row.state(later + timedelta(seconds=NODE_STALE_AFTER + 1)) == STALE


def test_prune_deletes_rows_stopped_or_silent_for_a_week(database: Database) -> None:
    old, quiet, live = ident("old", 1), ident("quiet", 2), ident("live", 3)
    with Store(database) as store:
        with store.transaction():
            for n in (old, quiet, live):
                store.register_node(n, "h", T0)
            store.node_stopped(old.id, T0)
            store.node_heartbeat(live.id, T0 + timedelta(days=7))
        with store.transaction():
            assert store.prune_nodes(T0) == 0  # (the caller passes now - NODE_KEEP_DAYS)
            assert store.prune_nodes(T0 + timedelta(seconds=1)) == 2
        assert [n.id for n in store.cluster_nodes(T0)] == [live.id]


# --------------------------------------------------------------------------- the config fingerprint


CONFIG = """
[monitor]
database = "archive.db"
[terms]
wires = ["PR Newswire", "Business Wire"]
[[feeds]]
name = "one"
url = "https://one.example/feed"
[[feeds]]
name = "two"
url = "https://two.example/feed"
[channels.hook]
type = "webhook"
url = "https://hooks.example/x"
secret_env = "HOOK_SECRET"
[[rules]]
name = "summit"
query = "summit*"
notify = ["hook"]
"""


def hash_of(text: str) -> str:
    return config_hash(loads(text, path=Path("/nowhere/config.toml")))


def test_the_config_hash_covers_feeds_terms_and_rules_not_order_settings_or_secrets() -> None:
    base = hash_of(CONFIG)
    assert len(base) == 12 and base == hash_of(CONFIG)
    moved = CONFIG.replace('[[feeds]]\nname = "one"\nurl = "https://one.example/feed"\n', "") \
        + '[[feeds]]\nname = "one"\nurl = "https://one.example/feed"\n'
    assert hash_of(moved) == base  # moving an entry changes nothing it does
    # Channels (where secrets and token-bearing URLs live) are not hashed.
    assert hash_of(CONFIG.replace('secret_env = "HOOK_SECRET"', 'secret_env = "OTHER_SECRET"')
                   .replace("hooks.example/x", "hooks.example/y")) == base
    assert hash_of(CONFIG.replace('database = "archive.db"', 'database = "other.db"\nlog_level = "debug"')) == base
    for changed in (CONFIG.replace("summit*", "summit"), CONFIG.replace("two.example", "three.example"),
                    CONFIG.replace('"Business Wire"]', '"Business Wire", "GlobeNewswire"]'),
                    CONFIG + '[[rules]]\nname = "more"\nquery = "merger"\nnotify = ["hook"]\n',
                    CONFIG.replace('url = "https://two.example/feed"',
                                   'url = "https://two.example/feed"\ninterval = "1m"')):
        assert hash_of(changed) != base


# --------------------------------------------------------------------------- membership: SQLite is one node


def test_sqlite_refuses_a_second_live_daemon_naming_it_but_not_a_dead_one(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    db = tmp_path / "archive.db"
    running = {111}
    first = Membership(ident("first", 111, host=HOST), clock, running=running.__contains__)
    with Store(db) as store:
        first.join(store, "h1", single=True)
        clock.advance(5)
        second = Membership(ident("second", 222, host=HOST, started=clock.now()), clock,
                            running=running.__contains__)
        with pytest.raises(ArchiveInUse) as refused:
            second.join(store, "h1", single=True)
        message = str(refused.value)
        assert f"host {HOST}, pid 111, started 2026-11-27T12:00:00Z" in message and "PostgreSQL" in message
        assert [n.id for n in store.cluster_nodes(clock.now())] == [first.id]  # the refused one left no row

        # Another host: its pid cannot be checked, its fresh heartbeat says it runs.
        remote = Membership(ident("remote", 111, host="elsewhere"), clock, running=lambda pid: False)
        with pytest.raises(ArchiveInUse, match="host " + HOST):
            remote.join(store, "h1", single=True)

        running.clear()  # kill -9: the row stays, heartbeat fresh, but its pid is gone on this host
        second.join(store, "h1", single=True)
        states = {n.id: n.state(clock.now()) for n in store.cluster_nodes(clock.now())}
        assert states == {first.id: LIVE, second.id: LIVE}  # the dead one goes stale after NODE_STALE_AFTER

        # A stale heartbeat does not block either, even from another host.
        clock.advance(NODE_STALE_AFTER + 1)
        third = Membership(ident("third", 333, host="elsewhere"), clock, running=lambda pid: True)
        third.join(store, "h1", single=True)

        # A restart with this host's name and the same pid (a container's pid 1) is not blocked by its old row.
        clock.advance(NODE_STALE_AFTER + 1)
        old = Membership(ident("pid1-old", 1, host="box"), clock, running=lambda pid: True)
        old.join(store, "h1", single=True)
        Membership(ident("pid1-new", 1, host="box"), clock, running=lambda pid: True).join(store, "h1", single=True)


def test_beat_re_registers_a_vanished_row_and_leave_marks_it_stopped(database: Database) -> None:
    clock = ManualClock(T0)
    m = Membership(ident("m"), clock)
    with Store(database) as store:
        m.join(store, "h", single=False)
        clock.advance(10)
        assert m.beat(store)
        with store.transaction():
            store.prune_nodes(T0 + timedelta(days=30))  # the row is gone (pruned by mistake, deleted by hand)
        clock.advance(10)
        assert not m.beat(store)
        (row,) = store.cluster_nodes(clock.now())
        assert row.heartbeat_at == clock.now() and row.config_hash == "h" and row.state(clock.now()) == LIVE
        m.reconfigure(store, "h2")
        m.leave(store)
        assert m.beat(store)  # a beat racing the clean exit must not bring the row back to life
        (row,) = store.cluster_nodes(clock.now())
        assert row.state(clock.now()) == STOPPED and row.config_hash == "h2"


def test_mismatches_name_live_nodes_with_another_config_or_version(database: Database) -> None:
    clock = ManualClock(T0)
    me = Membership(ident("me", 1), clock)
    same = Membership(ident("same", 2), clock)
    other = Membership(ident("other", 3, host="node-c"), clock)
    newer = Membership(ident("newer", 4, host="node-d", version="0.2.0"), clock)
    with Store(database) as store:
        for m, h in ((me, "aaa"), (same, "aaa"), (other, "bbb"), (newer, "aaa")):
            m.join(store, h, single=False)  # several nodes: only PostgreSQL runs so, but the check is the same
        found = me.mismatches(store)
        assert [(f.node.id, f.config, f.version) for f in found] == [(other.id, True, False), (newer.id, False, True)]
        assert found[0].describe() == "node-c pid 3 (config bbb)"
        assert found[1].describe() == "node-d pid 4 (version 0.2.0)"
        clock.advance(NODE_STALE_AFTER + 1)
        me.beat(store)
        assert me.mismatches(store) == []  # stale nodes are not compared


# --------------------------------------------------------------------------- status and /healthz


def snap(store: Store, now: datetime) -> health.Snapshot:
    return health.snapshot(store, (), now)


def test_health_counts_live_nodes_down_without_one_degraded_when_they_disagree(database: Database) -> None:
    clock = ManualClock(T0)
    with Store(database) as store:
        s = snap(store, clock.now())
        assert s.health.code == schedule.HEALTHY and s.node_states() == {"live": 0, "stale": 0, "stopped": 0}

        a, b = Membership(ident("a", 1), clock), Membership(ident("b", 2, host="node-b"), clock)
        a.join(store, "aaa", single=False)
        b.join(store, "aaa", single=False)
        s = snap(store, clock.now())
        assert s.health.code == schedule.HEALTHY and s.node_states()["live"] == 2
        assert s.nodes_json() == {"live": 2, "stale": 0, "stopped": 0, "config_hashes": ["aaa"], "versions": ["0.1.0"]}

        b.reconfigure(store, "bbb")
        s = snap(store, clock.now())
        assert s.health.code == schedule.DEGRADED and "live nodes disagree" in s.health.reasons[0]
        assert "node-b pid 2 config bbb" in s.health.reasons[0]

        # A stops cleanly: one live node is enough, and A's "daemon stopped" marker does not make it down.
        a.leave(store)
        s = snap(store, clock.now())
        assert s.health.code == schedule.HEALTHY and s.node_states() == {"live": 1, "stale": 0, "stopped": 1}

        clock.advance(NODE_STALE_AFTER + 1)  # B was killed: no heartbeat
        s = snap(store, clock.now())
        assert s.health.code == schedule.DOWN and s.node_states() == {"live": 0, "stale": 1, "stopped": 1}
        assert s.health.reasons[0].startswith("no daemon is running") and "node-b pid 2" in s.health.reasons[0]


# --------------------------------------------------------------------------- the CLI


def write_config(tmp_path: Path, database: Database, extra: str = "") -> Path:
    where = database.url if isinstance(database, ServerDatabase) else str(database)
    feed = tmp_path / "feed.xml"
    feed.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://w.example/'
                    '</link><description>d</description><item><title>Summit</title><link>https://w.example/1'
                    '</link><guid>1</guid></item></channel></rss>')
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\ndatabase = "{where}"\n[[feeds]]\nname = "wire"\nurl = "{feed.as_uri()}"\n'
                    f'interval = "1m"\nfull_text = false\n{extra}')
    return path


def test_nodes_and_status_on_the_command_line(tmp_path: Path, database: Database) -> None:
    config = write_config(tmp_path, database)
    Store(database).close()  # the archive exists (a reader never creates one)
    done = cli("--config", str(config), "nodes", cwd=tmp_path, check=True)
    assert "no daemon has registered" in done.stdout
    ours = hash_of_file(config)
    now = datetime.now(UTC)
    with Store(database) as store, store.transaction():
        # Heartbeats a day ahead / behind: live and stale whatever the time the subprocess reads.
        store.register_node(ident("live", 11, host="alpha"), ours, now + timedelta(days=1))
        store.register_node(ident("gone", 12, host="beta"), "0ther0ther00", now - timedelta(days=1))
        store.run("INSERT INTO leases (resource, node, expires_at) VALUES ('feed:wire', :n, :e)",
                  {"n": ident("live", 11, host="alpha").id, "e": ts(now + timedelta(days=1))})
    done = cli("--config", str(config), "nodes", cwd=tmp_path, check=True)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["state", "host", "pid", "version", "config", "started", "heartbeat", "holds"]
    assert lines[1].split()[:5] == ["live", "alpha", "11", "0.1.0", ours] and lines[1].endswith("1 feed")
    assert lines[2].split()[:5] == ["stale", "beta", "12", "0.1.0", "0ther0ther00*"]
    assert f"1 live, 1 stale; this config.toml is {ours} (* differs)" in done.stdout

    listed = json.loads(cli("--config", str(config), "nodes", "--json", cwd=tmp_path, check=True).stdout)
    assert listed["config_hash"] == ours and listed["stale_after"] == NODE_STALE_AFTER
    assert [(n["host"], n["state"], n["holds"]) for n in listed["nodes"]] == [
        ("alpha", "live", {"feed": 1}), ("beta", "stale", {})]

    status = cli("--config", str(config), "status", "--json", cwd=tmp_path)
    body = json.loads(status.stdout)
    assert body["nodes"] == {"live": 1, "stale": 1, "stopped": 0, "config_hashes": [ours], "versions": ["0.1.0"]}
    assert "nodes     1 live, 1 stale (press-monitor nodes)" in cli("--config", str(config), "status",
                                                                     cwd=tmp_path).stdout
    assert f"  hash      {ours} " in cli("--config", str(config), "check", cwd=tmp_path, check=True).stdout
    help_text = cli("nodes", "--help", cwd=tmp_path, check=True).stdout
    assert "stale" in help_text and "PostgreSQL" in help_text and "Examples" in help_text


def hash_of_file(config: Path) -> str:
    return config_hash(loads(config.read_text(), path=config))


def test_healthz_counts_nodes(tmp_path: Path, database: Database) -> None:
    from tests.test_web_api import get_json, serve_archive, stop_server

    served, proc = serve_archive(tmp_path, database=database)
    try:
        now = datetime.now(UTC)
        with Store(database) as store, store.transaction():
            store.register_node(ident("dead", 1), "aaa", now - timedelta(days=1))
        code, body = get_json(served, "/healthz")
        assert code == 503 and body["status"] == "down" and body["reasons"][0].startswith("no daemon is running")
        assert body["nodes"]["stale"] == 1 and body["nodes"]["live"] == 0
        with Store(database) as store, store.transaction():
            store.set_meta(META_LAST_POLL, ts(now))  # polls are fine: only the nodes decide below
            store.set_meta(META_STARTED, ts(now))
            store.register_node(ident("a", 2), "aaa", now + timedelta(days=1))
            store.register_node(ident("b", 3), "bbb", now + timedelta(days=1))
        code, body = get_json(served, "/healthz")
        assert code == 200 and body["nodes"]["live"] == 2 and body["nodes"]["config_hashes"] == ["aaa", "bbb"]
        assert any("live nodes disagree" in r for r in body["reasons"]) and body["status"] != "healthy"
    finally:
        stop_server(proc)


# --------------------------------------------------------------------------- real daemons


def status_json(config: Path) -> tuple[int, dict]:
    done = cli("--config", str(config), "status", "--json", cwd=config.parent)
    return done.returncode, json.loads(done.stdout)


def nodes_json(config: Path) -> list[dict]:
    done = cli("--config", str(config), "nodes", "--json", cwd=config.parent, check=True)
    return list(json.loads(done.stdout)["nodes"])


@pytest.mark.slow
def test_a_second_daemon_on_one_sqlite_file_is_refused_and_a_kill_9_does_not_block_a_restart(
        tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "archive.db")
    first = DaemonProcess(config, None)
    try:
        first.wait_event("started")
        second = DaemonProcess(config, None)
        second.proc.wait(60)
        code, _ = second.stop()
        assert code != 0, second.log
        assert "another press-monitor daemon is running on this archive" in second.log
        assert f"host {HOST}, pid {first.proc.pid}, started " in second.log
        assert first.alive() and [n["pid"] for n in nodes_json(config)] == [first.proc.pid]

        first.proc.kill()  # kill -9: no clean exit, the row still says live
        first.proc.wait(30)
        third = DaemonProcess(config, None)
        try:
            third.wait_event("started")
            assert third.alive()
            rows = {n["pid"]: n for n in nodes_json(config)}
            assert set(rows) == {first.proc.pid, third.proc.pid} and rows[first.proc.pid]["stopped"] is None
            # The killed one goes stale on the real clock (NODE_STALE_AFTER) while the new one stays live.
            wanted = {first.proc.pid: "stale", third.proc.pid: "live"}
            wait_for(lambda: {n["pid"]: n["state"] for n in nodes_json(config)} == wanted, 120,
                     "the killed daemon going stale", interval=1)
            code, body = status_json(config)
            assert body["nodes"]["live"] == 1 and body["nodes"]["stale"] == 1 and code != schedule.DOWN, body
        finally:
            code, _ = third.stop(timeout=60)
        assert code == 0
        rows = {n["pid"]: n for n in nodes_json(config)}
        assert rows[third.proc.pid]["state"] == "stopped"
    finally:
        first.stop()


@pytest.mark.slow
def test_two_daemons_on_postgresql_both_register_and_a_reload_is_reported(
        tmp_path: Path, pg_test_database: TestDatabase) -> None:
    database = pg_test_database.archive()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config_a = write_config(tmp_path / "a", database)
    config_b = write_config(tmp_path / "b", database,
                            '[[rules]]\nname = "summit"\nquery = "summit"\nnotify = ["console"]\n'
                            '[channels.console]\ntype = "console"\n')
    a = DaemonProcess(config_a, None)
    b = None
    try:
        a.wait_event("started")
        b = DaemonProcess(config_b, None)
        b.wait_event("started")
        # B sees A's other config at once; A learns of B at its next heartbeat.
        (warned,) = b.wait_event("node_mismatch")
        assert f"pid {a.proc.pid} (config {hash_of_file(config_a)})" in warned
        (warned,) = a.wait_event("node_mismatch", timeout=60)
        assert f"pid {b.proc.pid} (config {hash_of_file(config_b)})" in warned
        rows = nodes_json(config_a)
        assert sorted(n["pid"] for n in rows) == sorted([a.proc.pid, b.proc.pid])
        assert {n["state"] for n in rows} == {"live"}
        code = cli("--config", str(config_a), "status", cwd=tmp_path).returncode
        assert code == schedule.DEGRADED

        config_b.write_text(config_a.read_text())  # B gets A's config and reloads: they agree again
        b.signal(signal.SIGHUP)
        b.wait_event("reloaded")
        b.wait_event("node_match")
        wait_for(lambda: len({n["config_hash"] for n in nodes_json(config_a)}) == 1, 60, "one config hash", interval=1)
        code = cli("--config", str(config_a), "status", cwd=tmp_path).returncode
        assert code == schedule.HEALTHY
    finally:
        results = [d.stop(timeout=60)[0] for d in (a, b) if d is not None]
    assert results == [0, 0]
    assert {n["state"] for n in nodes_json(config_a)} == {"stopped"}


def test_pid_running_sees_this_process_and_not_a_finished_one() -> None:
    assert pid_running(os.getpid())
    assert not pid_running(0) and not pid_running(-5)
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    assert not pid_running(child)
