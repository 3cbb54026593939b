"""The archive's own contracts: schema version, search ranking window, bad queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import store as store_mod
from monitor.errors import QueryError, StoreError
from monitor.normalize import normalize
from monitor.store import Store
from monitor.types import Entry

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


def test_broad_queries_rank_only_the_newest_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "RANK_WINDOW", 3)
    with Store(tmp_path / "a.db") as s:
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


def test_a_schema_1_archive_is_reindexed_folded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.db"
    with Store(path) as s:
        rid = add(s, 1, "Kırgızistan joins the 第二届中国—中亚峰会")
        # Put the index back as schema 1 had it: unfolded, external content on releases itself.
        with s.transaction():
            for t in ("releases_ai", "releases_ad", "releases_au"):
                s.conn.execute(f"DROP TRIGGER {t}")
            s.conn.execute("DROP TABLE releases_fts")
            s.conn.execute("DROP VIEW releases_fts_text")
            s.db["releases"].enable_fts(list(store_mod.FTS_COLUMNS), fts_version="FTS5",
                                        tokenize=store_mod.FTS_TOKENIZE, create_triggers=True)
            s.conn.execute("INSERT INTO releases_fts(releases_fts) VALUES ('rebuild')")
            s.set_meta("fold_version", None)
            s.conn.execute("PRAGMA user_version = 1")
        assert s.conn.execute("SELECT rowid FROM releases_fts WHERE releases_fts MATCH 'kirgizistan'").fetchall() == []
    with Store(path) as s:  # the upgrade
        assert s.version() == 2 and s.meta("fold_version") == str(store_mod.FOLD_VERSION)
        [hit] = s.search("kirgizistan")
        assert hit.id == rid and hit.snippet.startswith("[Kırgızistan] joins")
        [hit] = s.search("\u200b峰\u200b\u200b会\u200b")  # what fts_query() makes of 峰会
        assert "[峰会]" in hit.snippet
        add(s, 2, "Straße")  # the triggers index new releases folded
        assert len(s.search("strasse")) == 1
    calls: list[object] = []
    monkeypatch.setattr(store_mod, "_reindex", calls.append)
    with Store(path) as s:
        assert calls == [] and len(s.search("kirgizistan")) == 1  # once: not on every open
    with Store(path, readonly=True) as s:
        assert s.search("strasse")[0].snippet == "[Straße]"
