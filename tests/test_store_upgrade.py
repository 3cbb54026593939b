"""Migrations: an archive written before migrations (tests/data/archive-v1.db) upgrades in place, once."""

from __future__ import annotations

import difflib
import shutil
import sqlite3
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.store import MIGRATIONS, Store
from monitor.store.schema import GUARD_VERSION, NAMES, reindex, split_legacy_tickers
from monitor.types import AlertStatus
from tests import schema_snapshot

FIXTURE = Path(__file__).parent / "data" / "archive-v1.db"  # made by tests/data/make_archive_v1.py


@pytest.fixture
def old(tmp_path: Path) -> Path:
    copy = tmp_path / "archive.db"
    shutil.copyfile(FIXTURE, copy)
    return copy


def raw(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def snapshot(store: Store) -> dict[str, object]:
    """Everything a user sees of the fixture's archive, through the public API."""
    return {
        "counts": {t: store.count(t) for t in ("releases", "sightings", "matches", "alerts", "feeds",
                                               "release_versions")},
        "install_id": store.install_id(),
        "releases": [store.release(i) for i in (1, 2, 3)],
        "alerts": [(a.channel, a.status, a.alert_id, a.attempts) for a in store.alerts()],
        "disabled": store.disabled_channels(),
        "feeds": store.feeds(),
        "meta": store.meta("daemon_last_poll"),
        "export": list(store.export_records()),
        "search": [(h.id, h.title) for h in store.search("summit OR dividend OR platinum", limit=None)],
    }


def test_a_pre_migration_archive_upgrades_in_place_once(old: Path) -> None:
    assert raw(old, "PRAGMA user_version") == [(1,)]
    before_install = raw(old, "SELECT value FROM meta WHERE key = 'install_id'")[0][0]
    with pytest.raises(StoreError, match="needs migrating"):  # a reader cannot migrate it
        Store(old, readonly=True)

    with Store(old) as store:
        # Every step, the old ones first in their order (newer steps append: never reorder or edit one).
        assert store.migrated == NAMES
        assert NAMES[:8] == ["schema_v1", "tickers_json", "folded_index", "pages", "wire_names",
                             "sightings_by_feed", "index_at_commit", "page_boilerplate"]
        first = snapshot(store)
    assert raw(old, "PRAGMA user_version") == [(GUARD_VERSION,)]
    assert raw(old, "SELECT name FROM _sqlite_migrations ORDER BY id") == [(n,) for n in NAMES]
    # sightings_by_feed: the feed-filtered web search reads a feed's release ids from this index alone.
    assert raw(old, "SELECT name FROM pragma_index_info('idx_sightings_feed_id_release_id') ORDER BY seqno") == [
        ("feed_id",), ("release_id",)]

    # The data is intact, tickers now a list (the multi-word exchange in one piece).
    assert first["install_id"] == before_install
    assert first["counts"] == {"releases": 3, "sightings": 4, "matches": 1, "alerts": 3, "feeds": 2,
                               "release_versions": 1}
    plg, acme, summit = first["releases"]  # type: ignore[misc]
    assert plg.view.tickers == ("NYSE AMERICAN:PLG", "TSX:PTM")
    assert acme.view.tickers == ("NYSE:ACME",) and summit.view.tickers == ()
    assert {r.view.dateline.wire for r in (plg, acme, summit)} == {"PR Newswire"}  # stored as "PRNewswire"
    assert summit.view.title.endswith("(updated)") and summit.versions[0].title == "Central Asia summit opens in Astana"
    assert [s.feed for s in summit.sightings] == ["wire", "other"]
    assert first["alerts"] == [("email", AlertStatus.DEAD, f"pm-{before_install}-3", 1),
                               ("webhook", AlertStatus.PENDING, f"pm-{before_install}-2", 0),
                               ("console", AlertStatus.SENT, f"pm-{before_install}-1", 1)]
    assert first["disabled"] == {"email": "HTTP 410 Gone"}
    assert first["meta"] == "2026-11-20T15:30:00Z"
    assert [r["tickers"] for r in first["export"]] == [["NYSE AMERICAN:PLG", "TSX:PTM"], ["NYSE:ACME"], []]
    assert {f.name: f.failures for f in first["feeds"]} == {"other": 1, "wire": 0}
    with Store(old) as store:  # the last good body's item hashes, written before they were paired with keys
        state = store.feed_state("wire", "https://wire.example/rss")
        assert state.items == {"h1", "h2"} and state.etag == '"v1"'

    with Store(old) as store:
        # The FTS index (rebuilt folded, see schema.folded_index) still finds tickers as words.
        # (No 'integrity-check': it compares the folded index with unfolded text and always objects.)
        assert store.conn.execute("SELECT count(*) FROM releases_fts_docsize").fetchone() == (3,)
        assert [h.id for h in store.search('tickers : "NYSE American"')] == [1]
        assert [h.id for h in store.search("tickers : PLG")] == [1]
        assert [h.id for h in store.search("tickers : ACME")] == [2]

    # Reopening applies nothing and changes nothing; a reader opens it now.
    with Store(old) as store:
        assert store.migrated == []
        assert snapshot(store) == first
    with Store(old, readonly=True) as reader:
        assert snapshot(reader) == first
    assert raw(old, "SELECT count(*) FROM _sqlite_migrations") == [(len(NAMES),)]


def test_a_new_archive_gets_every_migration_and_refuses_to_be_misread(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as store:
        assert store.migrated == NAMES
        assert MIGRATIONS.pending(store.db) == []
    # An older press-monitor (user_version era) sees a version it does not know and refuses.
    assert raw(tmp_path / "a.db", "PRAGMA user_version") == [(GUARD_VERSION,)]
    # A migration this press-monitor does not know: a newer one made the archive.
    with Store(tmp_path / "a.db") as store:
        store.conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                           " VALUES ('press-monitor', 'from_the_future', '2030-01-01')")
    for readonly in (False, True):
        with pytest.raises(StoreError, match="migration 'from_the_future', newer than this press-monitor"):
            Store(tmp_path / "a.db", readonly=readonly)


@pytest.mark.parametrize(("text", "expected"), [
    ("NYSE AMERICAN:PLG TSX:PTM", ["NYSE AMERICAN:PLG", "TSX:PTM"]),
    ("NASDAQ:ACME", ["NASDAQ:ACME"]),
    ("NASDAQ FIRST NORTH:ABC EURONEXT PARIS:XYZ NYSE:A", ["NASDAQ FIRST NORTH:ABC", "EURONEXT PARIS:XYZ", "NYSE:A"]),
    ("NASDAQ STOCKHOLM:HEXA B NYSE:BRK.A NYSE AMERICAN:PLG", ["NASDAQ STOCKHOLM:HEXA B", "NYSE:BRK.A",
                                                           "NYSE AMERICAN:PLG"]),
    ("NASDAQ:A B3:ABCD3", ["NASDAQ:A", "B3:ABCD3"]),
    ("", []),
    ("ODD", ["ODD"]),  # never written by press-monitor; kept rather than lost
])
def test_legacy_tickers_split_on_the_word_that_ends_each_ticker(text: str, expected: list[str]) -> None:
    assert split_legacy_tickers(text) == expected


def test_the_upgrade_indexes_every_old_release_folded_once(old: Path) -> None:
    # A release written by the old code, indexed unfolded by its triggers.
    conn = sqlite3.connect(old)
    with conn:
        conn.execute("INSERT INTO releases (id, title, summary, published_at, first_seen_at, fingerprint)"
                     " VALUES (9, 'Kırgızistan at the 第二届中国—中亚峰会', 'Straße ＮＹＳＥ ﬁnance',"
                     " '2026-11-20T09:30:00Z', '2026-11-20T09:30:00Z', 'f9')")
    assert conn.execute("SELECT rowid FROM releases_fts WHERE releases_fts MATCH 'kirgizistan'").fetchall() == []
    conn.close()
    with Store(old) as store:
        assert "folded_index" in store.migrated
        for query in ("kirgizistan", "strasse", "NYSE AND finance", "\u200b峰\u200b\u200b会\u200b"):
            assert [h.id for h in store.search(query)] == [9], query
        [hit] = store.search("kirgizistan")
        assert hit.snippet == "[Kırgızistan] at the 第二届中国—中亚峰会"  # the original words
        [hit] = store.search("\u200b峰\u200b\u200b会\u200b")  # what the query 峰会 becomes (rules.fts_query)
        assert hit.snippet == "Kırgızistan at the 第二届中国—中亚[峰会]"
        # Releases written from now on are indexed folded by the new triggers; an edit re-indexes.
        store.conn.execute("UPDATE releases SET title = 'Straße only' WHERE id = 9")
        assert [h.id for h in store.search("kirgizistan")] == []
        assert [h.id for h in store.search("title : strasse")] == [9]
    with Store(old) as store:
        assert store.migrated == []  # once
    with Store(old, readonly=True) as reader:
        assert reader.search("title : strasse")[0].snippet == "[Straße] only"


def test_the_upgrade_gives_each_wire_one_name_and_keeps_the_index_consistent(old: Path) -> None:
    # Issue 12: releases stored before wire names were normalized kept them as the dateline wrote
    # them, so one wire showed as two facet values. The fixture's three say "PRNewswire"; add what
    # older code wrote for other wires, and a release already stored with the display name.
    conn = sqlite3.connect(old)
    with conn:
        for rid, place, wire in ((11, "AUSTIN, TX", "ACCESSWIRE"), (12, "DALLAS, TX", "ACCESS Newswire"),
                                 (13, "TORONTO", "PR Newswire"), (14, "", "GLOBE NEWSWIRE"),
                                 (15, "OSLO", "Some Local Wire")):
            dateline = " ".join(p for p in (place, "2026-11-20", wire) if p)
            conn.execute("INSERT INTO releases (id, title, summary, dateline, dateline_place, dateline_date, wire,"
                         " published_at, first_seen_at, fingerprint) VALUES (?, ?, 'Text.', ?, ?, '2026-11-20', ?,"
                         " '2026-11-20T09:30:00Z', '2026-11-20T09:30:00Z', ?)",
                         (rid, f"Release {rid}", dateline, place, wire, f"f{rid}"))
    assert [w for (w,) in conn.execute("SELECT DISTINCT wire FROM releases ORDER BY 1")] == [
        "ACCESS Newswire", "ACCESSWIRE", "GLOBE NEWSWIRE", "PR Newswire", "PRNewswire", "Some Local Wire"]
    conn.close()

    with Store(old) as store:
        assert "wire_names" in store.migrated
        assert store.facets(None)["wire"] == [("PR Newswire", 4), ("ACCESS Newswire", 2), ("GlobeNewswire", 1),
                                              ("Some Local Wire", 1)]
        window, _ = store.web_window(None)
        assert store.web_facets(window)["wire"] == store.facets(None)["wire"]
        assert [h["id"] for h in store.browse(None, {"wire": "ACCESS Newswire"})] == [12, 11]
        # The dateline text (an indexed column) says the display name too, and the index follows it.
        assert dict(store.conn.execute("SELECT id, dateline FROM releases WHERE id IN (1, 11, 14)").fetchall()) == {
            1: "VANCOUVER, BC 2026-11-20 PR Newswire", 11: "AUSTIN, TX 2026-11-20 ACCESS Newswire",
            14: "2026-11-20 GlobeNewswire"}
        assert store.search("dateline : PRNewswire OR dateline : ACCESSWIRE") == []
        assert sorted(h.id for h in store.search('dateline : "PR Newswire"', limit=None)) == [1, 2, 3, 13]
        assert sorted(h.id for h in store.search('dateline : "ACCESS Newswire"', limit=None)) == [11, 12]
        # Exactly the index a full re-index builds: no stale token left behind, none missing.
        store.conn.execute("CREATE VIRTUAL TABLE temp.tokens USING fts5vocab(main, releases_fts, instance)")
        migrated = store.conn.execute("SELECT * FROM temp.tokens ORDER BY 1, 2, 3, 4").fetchall()
        with store.transaction():
            reindex(store.db)
        assert store.conn.execute("SELECT * FROM temp.tokens ORDER BY 1, 2, 3, 4").fetchall() == migrated
    with Store(old) as store:
        assert store.migrated == []  # once


def test_schema_sql_is_what_the_migrations_build() -> None:
    """monitor/store/schema.sql, the schema to read, stays the sum of the migrations (issue 23)."""
    fresh = schema_snapshot.dump()
    if schema_snapshot.SNAPSHOT.read_text() != fresh:
        diff = "".join(difflib.unified_diff(schema_snapshot.SNAPSHOT.read_text().splitlines(True),
                                            fresh.splitlines(True), "schema.sql", "fresh migrate"))
        pytest.fail(f"monitor/store/schema.sql is stale; regenerate it with `{schema_snapshot.COMMAND}`\n{diff}")
