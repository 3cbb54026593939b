"""The archive's own contracts: schema version, search ranking window, bad queries."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import QueryError, StoreError
from monitor.normalize import normalize
from monitor.store import Store
from monitor.store import review as store_mod
from monitor.types import Database, Entry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def add(store: Store, n: int, title: str) -> int:
    entry = Entry(guid=f"g{n}", link=f"https://wire.example/{n}.html", title=title, summary="<p>text</p>",
                  content="", author="", published=NOW - timedelta(hours=n), updated=None)
    item = normalize(entry, now=NOW)
    with store.transaction():
        fid = store.feed_id("wire", "https://wire.example/rss")
        rid = store.insert_release(item, "wire", NOW)
        store.add_sighting(fid, "wire", rid, item, NOW)
    return rid


def test_broad_queries_rank_only_the_newest_matches(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "RANK_WINDOW", 3)
    with Store(database) as s:
        ids = [add(s, n, f"Summit {'summit ' * (5 - n)}{n}") for n in range(5)]
        # The best-ranked (most "summit"s) are the oldest rows; a limit keeps to the newest 3.
        assert {h.id for h in s.search("summit", limit=10)} == set(ids[2:])
        assert {h.id for h in s.search("summit", limit=None)} == set(ids)  # backtests see everything
        assert [h.id for h in s.search("summit", limit=None)][0] == ids[0]  # still best first


def test_bad_query_and_newer_schema_are_clear_errors(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as s:
        with pytest.raises(QueryError, match="invalid query 'summit AND'"):
            s.search("summit AND")
        s.conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer than this press-monitor"):
        Store(tmp_path / "a.db")
    with pytest.raises(StoreError, match="no archive here yet"):
        Store(tmp_path / "missing.db", readonly=True)


def test_tickers_on_multi_word_exchanges_stay_whole(database: Database) -> None:
    entry = Entry(guid="plg", link="https://wire.example/plg.html", title="Platinum Group Metals results",
                  summary="", content="<p>Platinum Group Metals Ltd. (TSX: PTM) (NYSE American: PLG) reported.</p>",
                  author="", published=NOW, updated=None)
    item = normalize(entry, now=NOW)
    assert item.tickers == ("NYSE AMERICAN:PLG", "TSX:PTM")
    with Store(database) as s:
        with s.transaction():
            fid = s.feed_id("wire", "https://wire.example/rss")
            rid = s.insert_release(item, "wire", NOW)
            s.add_sighting(fid, "wire", rid, item, NOW)
        assert [r["tickers"] for r in s.export_records()] == [["NYSE AMERICAN:PLG", "TSX:PTM"]]
        detail = s.release(rid)
        assert detail is not None and detail.view.tickers == ("NYSE AMERICAN:PLG", "TSX:PTM")
        # Rules see the tickers as text, and the archive's index finds them as words, as before.
        assert [d.tickers for d in s.docs([rid])] == ["NYSE AMERICAN:PLG TSX:PTM"]
        assert [h.id for h in s.search('tickers : "NYSE American" AND tickers : PLG')] == [rid]


def test_the_rank_window_is_taken_inside_since_and_until(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "RANK_WINDOW", 3)
    with Store(database) as s:
        # Inserted oldest first, as an archive fills: the newest rowids are the newest releases.
        ids = [add(s, n, f"Summit {n}") for n in range(5, -1, -1)]  # published 5 h ago ... now
        by_age = dict(zip(range(5, -1, -1), ids, strict=True))
        until = NOW - timedelta(hours=2, minutes=30)  # before the newest three (the whole window)
        assert {h.id for h in s.search("summit", limit=10, until=until)} == {by_age[3], by_age[4], by_age[5]}
        since = NOW - timedelta(hours=4, minutes=30)
        assert {h.id for h in s.search("summit", limit=10, since=since, until=until)} == {by_age[3], by_age[4]}
        # Without a period the window is still the newest three.
        assert {h.id for h in s.search("summit", limit=10)} == {by_age[0], by_age[1], by_age[2]}


def test_a_transaction_inside_another_is_a_savepoint(database: Database) -> None:
    """run --once commits the polls that are ready together: one failing poll undoes only itself."""
    with Store(database) as store:
        with store.transaction():
            store.set_meta("first", "1")
            with pytest.raises(RuntimeError), store.transaction():
                store.set_meta("failed", "2")
                raise RuntimeError("this poll fails")
            with store.transaction():
                store.set_meta("third", "3")
        assert (store.meta("first"), store.meta("failed"), store.meta("third")) == ("1", None, "3")
        with pytest.raises(RuntimeError), store.transaction():
            store.set_meta("outer", "4")
            raise RuntimeError("the whole group fails")
        assert store.meta("outer") is None and not store.driver.in_transaction


def test_maintenance_purges_old_releases_keeps_pending_alerts_and_search_follows(database: Database) -> None:
    """Retention and index upkeep (maintenance.maintain), as the daemon runs them hourly, on both backends."""
    from monitor.maintenance import maintain

    later = NOW + timedelta(days=40)
    with Store(database) as s:
        ids = [add(s, n, f"Summit report {n}") for n in range(6)]
        with s.transaction():
            s.add_match(ids[0], "summits", "[Summit] report 0", NOW)
            assert s.add_alert(ids[0], "summits", "hook", NOW)  # pending: kept until delivered or dead
        fresh = add(s, 99, "Summit report fresh")
        s.run("UPDATE releases SET first_seen_at = :t WHERE id = :id", {"t": "2026-12-30T00:00:00Z", "id": fresh})
        s.run("UPDATE releases SET published_at = :t WHERE id = :id", {"t": "2026-12-30T00:00:00Z", "id": fresh})
        done = maintain(s, now=later, retention=30 * 86400.0, writer=contextlib.nullcontext(), stop=threading.Event())
        assert done.purged == 5 and done.fts_optimized
        assert {h.id for h in s.search("summit", limit=None)} == {ids[0], fresh}
        assert s.count("sightings") == 2 and s.count("alerts") == 1
        assert [f.entries for f in s.feeds()] == [2]
        again = maintain(s, now=later, retention=30 * 86400.0, writer=contextlib.nullcontext(),
                         stop=threading.Event())
        assert again.purged == 0 and not again.fts_optimized  # optimized once a day
