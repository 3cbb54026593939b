"""The daemon's page worker as a real process: polls never wait for pages; kill -9 loses no page."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.errors import StoreError
from monitor.store import Store
from monitor.types import Database, ServerDatabase
from tests.configs import wait_for
from tests.feedserver import FeedServer, hang, respond, rss
from tests.polling import query
from tests.test_daemon import DaemonProcess

PAGE = b"<html><body><section class='release-body'><p>PARIS, May 2, 2024 /PRNewswire/ -- Page %d text.</p>" \
       b"<p>A second paragraph.</p></section></body></html>"


def statuses(db: Database) -> dict[str, int]:
    try:
        with Store(db, readonly=True) as store:
            return dict(query(store, "SELECT status, count(*) FROM pages GROUP BY status"))  # type: ignore[arg-type]
    except StoreError:  # the daemon is still creating the archive
        return {}


def test_kill_9_with_pages_pending_then_restart_fetches_every_page_once(tmp_path: Path, database: Database,
                                                                         feed_server: FeedServer) -> None:
    now = datetime.now(UTC)
    s = feed_server
    s.publish("/wire.rss", rss([{"title": f"Release {i}", "guid": f"g{i}", "link": s.url(f"/news/{i}.html"),
                                 "description": f"PARIS, May 2, 2024 /PRNewswire/ -- Release {i}.",
                                 "pubDate": now - timedelta(minutes=5)} for i in range(10)]))
    for i in range(10):
        s.route(f"/news/{i}.html", respond(200, PAGE % i, headers={"Content-Type": "text/html"}))
    s.route("/robots.txt", hang())  # the first daemon never gets past robots.txt
    config = tmp_path / "config.toml"
    config.write_text(f"""
[monitor]
database = "{database.url if isinstance(database, ServerDatabase) else database}"
page_delay = 0
[[feeds]]
name = "wire"
url = "{s.url('/wire.rss')}"
interval = "1h"
""")
    db = database
    first = DaemonProcess(config, None)
    try:
        first.wait_event("poll", timeout=30)  # the poll committed without waiting for any page
        assert statuses(db) == {"pending": 10}
        wait_for(lambda: s.hits("/robots.txt") >= 1, 30, "the page worker asking for robots.txt")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.stop()
    assert statuses(db) == {"pending": 10}
    assert sum(s.hits(f"/news/{i}.html") for i in range(10)) == 0

    s.route("/robots.txt", respond(404, b""))
    second = DaemonProcess(config, None)
    try:
        wait_for(lambda: statuses(db) == {"done": 10}, 60, "every page done after the restart")
        second.wait_event("pages", timeout=30)
        code, _ = second.stop()
    finally:
        second.stop()
    assert code == 0
    assert [s.hits(f"/news/{i}.html") for i in range(10)] == [1] * 10
    with Store(db, readonly=True) as store:
        bodies = [r[0] for r in query(store, "SELECT body FROM releases ORDER BY id")]
    assert all(f"Page {i} text." in body for i, body in enumerate(bodies))
