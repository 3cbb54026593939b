"""The daemon on PostgreSQL rides out a server restart: reported, retried, nothing lost, it resumes.

A server of the test's own (tests/pgserver.py: PrivateServer) is stopped and started under a running
`press-monitor run`; the feed grows while the server is down.
"""

from __future__ import annotations

import email.utils
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.pgserver import PrivateServer

ROOT = Path(__file__).resolve().parent.parent


def write_feed(path: Path, n: int) -> None:
    when = email.utils.format_datetime(datetime.now(UTC))
    items = "".join(f"<item><title>Release {i} about the summit</title><link>https://wire.example/{i}</link>"
                    f"<guid>g{i}</guid><pubDate>{when}</pubDate><description>Text {i}.</description></item>"
                    for i in range(n))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://wire.example/'
                   f"</link><description>d</description>{items}</channel></rss>")
    tmp.replace(path)  # the daemon never reads half a file


def wait_until(check: Callable[[], object], what: str, timeout: float = 120.0) -> None:
    """Poll `check` (an event in another process) until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def counts(url: str) -> tuple[int, int] | None:
    """(releases, alerts sent) in the archive, or None while the server or the tables are not there."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT (SELECT count(*) FROM releases),"
                               " (SELECT count(*) FROM alerts WHERE status = 'sent')").fetchone()
    except psycopg.Error:
        return None
    return (row[0], row[1]) if row else None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateServer]:
    s = PrivateServer(tmp_path)
    try:
        s.start()
        yield s
    finally:
        s.close()


@pytest.mark.slow
def test_the_daemon_rides_out_a_server_restart_and_loses_nothing(tmp_path: Path, server: PrivateServer) -> None:
    feed = tmp_path / "feed.xml"
    write_feed(feed, 3)
    config = tmp_path / "config.toml"
    config.write_text(f'[monitor]\ndatabase = "{server.url}"\n'
                      f'[[feeds]]\nname = "wire"\nurl = "{feed.as_uri()}"\ninterval = "1s"\nfull_text = false\n'
                      '[[rules]]\nname = "summit"\nquery = "summit"\nnotify = ["console"]\n'
                      '[channels.console]\ntype = "console"\n')
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=ROOT,
                                  stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        wait_until(lambda: counts(server.url) == (3, 3), "the first poll's 3 releases and 3 alerts")
        server.stop()
        write_feed(feed, 6)  # three more, published while the archive is away
        wait_until(lambda: "the database is unavailable" in log.read_text(), "the daemon to report the outage")
        assert daemon.poll() is None, log.read_text()
        server.start()
        wait_until(lambda: counts(server.url) == (6, 6), "the three new releases and their alerts")
        assert daemon.poll() is None, log.read_text()
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text and "job_error" not in text, text
    assert "event=store_unavailable" in text or "failed: " in text
    # The pool's reconnect attempts (about one a second) are one warning for the outage, then one line
    # when the server answers again (pg._OutageLog), not a warning per attempt.
    noise = [line for line in text.splitlines() if any(m in line for m in (
        "error connecting in", "reconnection attempt in pool", "discarding broken connection",
        "discarding closed connection"))]
    assert len(noise) <= 2, noise
    assert "the database answers again" in text, text
