"""Make tests/data/archive-v1.db: an archive as press-monitor wrote it before migrations (PRAGMA user_version 1).

It was made with the single-module store of commit 8a12119 (`git show 8a12119:monitor/store.py`):

    git show 8a12119:monitor/store.py > /tmp/store_v1.py
    python tests/data/make_archive_v1.py /tmp/store_v1.py tests/data/archive-v1.db

The store's public API is the same today, so this script reads as a plain user of `Store`;
tests/test_store_upgrade.py opens the result with the current code.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def main(store_source: Path, out: Path) -> None:
    spec = importlib.util.spec_from_file_location("monitor.store", store_source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["monitor.store"] = module
    spec.loader.exec_module(module)
    from monitor.normalize import normalize
    from monitor.types import Entry

    def item(n: int, title: str, body: str) -> object:
        return normalize(Entry(guid=f"g{n}", link=f"https://wire.example/news/{n}.html", title=title,
                               summary=body[:80], content=f"<p>{body}</p>", author="Investor Relations",
                               published=T0 + timedelta(hours=n), updated=None), now=T0 + timedelta(hours=n))

    plg = item(1, "Platinum Group Metals reports results",
               "VANCOUVER, BC, Nov. 20, 2026 /PRNewswire/ -- Platinum Group Metals Ltd. (TSX: PTM) "
               "(NYSE American: PLG) today reported results from the Waterberg project.")
    acme = item(2, "Acme Corp declares quarterly dividend",
                "NEW YORK, Nov. 20, 2026 /PRNewswire/ -- Acme Corp (NYSE: ACME) declared a dividend.")
    summit = item(3, "Central Asia summit opens in Astana",
                  "ASTANA, Kazakhstan, Nov. 20, 2026 /PRNewswire/ -- Leaders of Central Asia met today.")
    revised = item(3, "Central Asia summit opens in Astana (updated)",
                   "ASTANA, Kazakhstan, Nov. 20, 2026 /PRNewswire/ -- Leaders of Central Asia met today. Updated.")
    assert plg.tickers == ("NYSE AMERICAN:PLG", "TSX:PTM"), plg.tickers
    out.unlink(missing_ok=True)
    later = T0 + timedelta(hours=6)
    with module.Store(out) as store:
        with store.transaction():
            wire = store.feed_id("wire", "https://wire.example/rss")
            other = store.feed_id("other", "https://other.example/rss")
            ids = {}
            for key, rel in (("plg", plg), ("acme", acme), ("summit", summit)):
                ids[key] = store.insert_release(rel, "wire", T0)
                store.add_sighting(wire, "wire", ids[key], rel, T0)
            store.add_sighting(other, "other", ids["summit"], summit, T0)
            store.revise_release(ids["summit"], revised, later)
            store.update_sighting(wire, revised, later)
            store.record_poll(wire, later, etag='"v1"', items=frozenset({"h1", "h2"}))
            store.record_poll(other, later, error="HTTP 503", error_kind="http")
            store.add_match(ids["summit"], "central-asia", "[Central Asia] summit", later)
            for channel in ("console", "webhook", "email"):
                store.add_alert(ids["summit"], "central-asia", channel, later)
            rows = {r.channel: r.id for r in store.alerts()}
            store.mark_sent([rows["console"]], later)
            store.mark_failed([rows["email"]], "SMTP 550", None)
            store.disable_channel("email", "HTTP 410 Gone", later)
            store.set_meta("daemon_last_poll", "2026-11-20T15:30:00Z")
        store.checkpoint()
        store.conn.execute("VACUUM")
    print(f"{out}: releases {ids}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
