"""`run --once` makes the daemon's polite decisions: the real CLI as a subprocess, a real feed server.

Regressions of issue 10 (three runs in a row asked a 429 and a 410 each time; a 410 showed as
"failing"; a run undid the daemon's adopted redirect; no per-host limit) and issue 11 (a 20-digit
Retry-After crashed the run; a year-9999 Retry-After was stored as such).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import app as app_mod
from monitor.clock import ManualClock
from monitor.daemon import Daemon
from tests.configs import Configs
from tests.feedserver import FeedServer, document, redirect, respond, retry_later, rss

ROOT = Path(__file__).resolve().parent.parent


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())


def status(config: Path) -> dict[str, dict]:
    done = run(config, "status", "--json")
    assert done.stdout, done.stderr
    return {f["name"]: f for f in json.loads(done.stdout)["feeds"]}


def items(*titles: str) -> bytes:
    now = datetime.now(UTC)
    return rss([{"title": t, "link": f"https://wire.example/{n}", "guid": f"g{n}", "pubDate": now}
                for n, t in enumerate(titles)])


@pytest.mark.slow
def test_three_runs_ask_a_429_and_a_410_once_and_show_why_they_skip(configs: Configs, feed_server: FeedServer) -> None:
    feed_server.route("/busy.xml", retry_later(7200, status=429))
    feed_server.route("/gone.xml", respond(410, "gone"))
    feed_server.route("/ok.xml", document(items("Fine")))
    config = configs.write("".join(configs.feed(n, feed_server.url(f"/{n}.xml"), "1h") for n in ("busy", "gone", "ok")))

    first = run(config, "run", "--once")
    assert first.returncode == 1 and "Traceback" not in first.stderr
    lines = first.stdout.splitlines()
    assert "ERR HTTP 429 Too Many Requests (retry after 7200s)  busy" in lines
    assert "ERR HTTP 410 Gone; not polled again (gone: change its url, or --force)  gone" in lines
    assert "ok  1 new  0 dup  ok" in lines

    for _ in range(2):
        again = run(config, "run", "--once")
        assert again.returncode == 1, again.stdout
        out = again.stdout.splitlines()
        assert "gone  gone" in out
        [busy] = [line for line in out if line.endswith("  busy")]
        assert busy.startswith("wait  Retry-After until ")
        until = datetime.strptime(busy.split("until ")[1].split(" UTC")[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert timedelta(seconds=7000) < until - datetime.now(UTC) <= timedelta(seconds=7200)
        assert any(line.startswith("wait  not due, next poll ") and line.endswith("  ok") for line in out)
    assert feed_server.hits("/busy.xml") == 1 and feed_server.hits("/gone.xml") == 1
    assert feed_server.hits("/ok.xml") == 1

    feeds = status(config)
    assert feeds["gone"]["state"] == "gone" and feeds["gone"]["next_poll"] is None
    assert feeds["busy"]["state"] == "waiting" and feeds["ok"]["state"] == "ok"

    forced = run(config, "run", "--once", "--force")
    assert "ok  not modified  ok" in forced.stdout
    assert feed_server.hits("/busy.xml") == 2 and feed_server.hits("/gone.xml") == 2
    assert run(config, "run", "--force").returncode == 2  # --force only goes with --once


def test_an_absurd_retry_after_is_clamped_and_shown_not_a_crash(configs: Configs, feed_server: FeedServer) -> None:
    feed_server.route("/digits.xml", retry_later("99999999999999999999"))
    feed_server.route("/y9999.xml", retry_later("Fri, 31 Dec 9999 23:59:59 GMT", status=503))
    config = configs.write("".join(configs.feed(n, feed_server.url(f"/{n}.xml"), "5m") for n in ("digits", "y9999")))
    done = run(config, "run", "--once")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "ERR HTTP 429 Too Many Requests (retry after 86400s)  digits" in done.stdout
    assert "ERR HTTP 503 Service Unavailable (retry after 86400s)  y9999" in done.stdout
    for feed in status(config).values():
        assert feed["state"] == "waiting" and feed["failures"] == 1
        until = datetime.fromisoformat(feed["retry_after_until"])
        assert until - datetime.now(UTC) <= timedelta(days=1)


@pytest.mark.slow
def test_run_once_keeps_the_redirect_the_daemon_adopted_and_its_validators(
    tmp_path: Path, configs: Configs, feed_server: FeedServer
) -> None:
    feed_server.route("/old.xml", redirect("/new.xml", 301))
    feed_server.route("/new.xml", document(items("Moved news")))
    config = configs.write(configs.feed("wire", feed_server.url("/old.xml"), "1h"))
    clock = ManualClock(datetime.now(UTC) - timedelta(days=9))
    daemon = Daemon(config, app_mod.load(config), clock=clock, environ={})
    daemon.sync_feeds()
    for _ in range(9):  # a poll a day: the same 301 for more than 7 days is adopted
        daemon.poll_now("wire")
        clock.advance(86400)
    row = daemon.store().schedule("wire")
    assert row is not None and row.url == feed_server.url("/new.xml")
    old_hits, new_hits = feed_server.hits("/old.xml"), feed_server.hits("/new.xml")

    for args in (("run", "--once"), ("run", "--once", "--force")):
        done = run(config, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ok  not modified  wire" in done.stdout  # the new URL, asked with its validators
    assert feed_server.hits("/old.xml") == old_hits and feed_server.hits("/new.xml") == new_hits + 2
    assert feed_server.last("/new.xml").headers["If-None-Match"]  # type: ignore[union-attr]
    assert status(config)["wire"]["state"] == "ok"


@pytest.mark.slow
def test_run_once_asks_one_host_at_most_twice_at_a_time(configs: Configs, feed_server: FeedServer) -> None:
    inflight, peak, lock = [0], [0], threading.Lock()

    def slowish(h) -> None:  # type: ignore[no-untyped-def]
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
        h.stopping.wait(0.3)  # long enough for eight workers to overlap if nothing held them back
        with lock:
            inflight[0] -= 1
        h.reply(200, items("x"), {"Content-Type": "application/rss+xml"})

    for n in range(5):
        feed_server.route(f"/f{n}.xml", slowish)
    config = configs.write("".join(configs.feed(f"f{n}", feed_server.url(f"/f{n}.xml"), "5m") for n in range(5)))
    done = run(config, "run", "--once", "--workers", "8")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(line.rsplit("  ", 1)[1] for line in done.stdout.splitlines()) == [f"f{n}" for n in range(5)]
    assert 1 <= peak[0] <= 2
