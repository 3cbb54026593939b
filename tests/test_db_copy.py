"""`db copy`: an SQLite archive into an empty PostgreSQL database, killed with -9 midway and run again, and back.

The real CLI as a subprocess; every row of every table compared between the two sides afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.store import Store
from monitor.store.copy import KEYED, TABLES
from monitor.types import Database, Spike
from tests.pgserver import TestDatabase
from tests.test_export import T0, build_archive, release

ROOT = Path(__file__).resolve().parent.parent
EXTRA = 600  # releases beyond build_archive's: enough batches of 5 for a kill to land midway


def cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cwd / "none.toml"), *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def fill(db: Path) -> None:
    """build_archive (sightings by two feeds, a revision, matches, alerts sent and pending) plus bulk,
    a page queue in every state, feed validators and a channel switched off."""
    build_archive(db)
    with Store(db) as store, store.transaction():
        fid = store.feed_id("Bulk", "https://bulk.example/rss")
        for n in range(EXTRA):
            item = release(f"bulk-{n}", f"Bulk release {n} about turbines", f"Body {n} of the bulk feed.",
                           url=f"https://bulk.example/{n}", published=T0 - timedelta(minutes=n))
            rid = store.insert_release(item, "Bulk", T0)
            store.add_sighting(fid, "Bulk", rid, item, T0)
            if n % 3 == 0:
                store.add_match(rid, "turbines", f"Bulk release {n} about [turbines]", T0)
                store.add_alert(rid, "turbines", "hook", T0)
            if n % 50 == 0:
                store.queue_page(rid, f"https://bulk.example/{n}", "Bulk", "https://bulk.example/rss", T0)
        pages = store.pages(limit=100)
        store.finish_page(pages[0].id, T0, status="done", method="wires")
        store.finish_page(pages[1].id, T0, status="failed", error="HTTP 404", kind="http")
        dead = [a.id for a in store.alerts(limit=5)]
        store.mark_failed(dead, "HTTP 410 Gone", None)
        store.record_poll(fid, T0, etag='"v1"', last_modified="Fri, 20 Nov 2026 09:00:00 GMT",
                          items=frozenset({"h1"}), item_keys={"h1": "bulk-1"})
        store.set_schedule("Bulk", next_poll_at=T0 + timedelta(minutes=5))
        store.disable_channel("hook", "410 Gone", T0)
        # A spike and its alert (issue 21): an outbox row with no release.
        store.add_spike(Spike(rule="turbines", start=T0 - timedelta(days=1), end=T0, count=12, baseline=1.5,
                              factor=3.0, min=5, release_ids=(1, 2)), ["hook"], T0)


def table_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every copied table (meta without the copy's own marks), by table, in key order."""
    with Store(db, readonly=True) as store:
        out = {}
        for table in (*TABLES, *KEYED):
            key = KEYED.get(table, "id")
            rows = [{k: v for k, v in dict(r).items() if k != "fts"}
                    for r in store.rows(f"SELECT * FROM {table} ORDER BY {key}")]
            if table == "meta":
                rows = [r for r in rows if r["key"] != "copy_of"]
            out[table] = rows
        return out


def releases_there(url: str) -> int:
    import psycopg
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM releases").fetchone()
    except psycopg.Error:
        return 0
    return row[0] if row else 0


@pytest.mark.slow
def test_copy_to_postgresql_survives_kill_9_and_copies_back(tmp_path: Path, pg_test_database: TestDatabase) -> None:
    source = tmp_path / "archive.db"
    fill(source)
    expected = table_rows(source)
    target = pg_test_database.archive()

    first = cli("db", "copy", "--from", str(source), "--to", target.url, "--batch", "5", cwd=tmp_path)
    deadline = time.monotonic() + 120
    while releases_there(target.url) == 0 and first.poll() is None:  # the copy's first batches committed
        assert time.monotonic() < deadline, "the copy never started"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL, "the copy ended before it could be interrupted"
    with Store(target, readonly=True) as half:
        assert half.count("alerts") == 0  # cut short: the later tables are not there yet

    again = cli("db", "copy", "--from", str(source), "--to", target.url, "--batch", "50", cwd=tmp_path)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, out + err
    assert "the copy matches" in out and "searches compared: " in out
    assert table_rows(target) == expected  # every row, ids and states kept; nothing twice

    # New rows after the copy get new ids, as in the source.
    with Store(target) as store, store.transaction():
        fid = store.feed_id("Later", "https://later.example/rss")
        assert fid > max(r["id"] for r in expected["feeds"])

    # An archive is refused as a target; a copy back to a new file is the same archive.
    refused = cli("db", "copy", "--from", str(source), "--to", target.url, cwd=tmp_path)
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and "holds an archive already; copy into an empty database" in err, err
    back = tmp_path / "laptop.db"
    home = cli("db", "copy", "--from", target.url, "--to", str(back), cwd=tmp_path)
    out, err = home.communicate(timeout=600)
    assert home.returncode == 0, out + err
    copied_back = table_rows(back)
    assert copied_back["releases"] == expected["releases"] and copied_back["alerts"] == expected["alerts"]
    assert len(copied_back["feeds"]) == len(expected["feeds"]) + 1  # and the feed added on the server
    with Store(back, readonly=True) as laptop:
        assert {h.id for h in laptop.search("turbines", limit=None)} == {
            r["id"] for r in expected["releases"] if "turbines" in r["title"]}


def test_copy_refuses_what_is_not_a_database(tmp_path: Path) -> None:
    done = cli("db", "copy", "--from", str(tmp_path / "a.db"), "--to", "mysql://x/y", cwd=tmp_path)
    _, err = done.communicate(timeout=60)
    assert done.returncode == 2 and '--to: "mysql://x/y" is neither a file path nor a postgresql:// URL' in err
