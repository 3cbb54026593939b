"""The archive's FTS index is brought up to date once per write transaction, at its COMMIT.

Inside `Store.transaction()` the triggers only note what changed (fts_pending, fts_stale) and the
store indexes it right before COMMIT (monitor/store/schema.py, "the index, once per transaction").
What must hold whatever the mix of writes: after every commit the index holds exactly what a full
re-index would, both note tables are empty, and a crash never leaves a committed release unindexed.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.clock import ManualClock, SystemClock
from monitor.fetch import Fetcher
from monitor.normalize import normalize
from monitor.rules import compile_rules
from monitor.store import Store
from monitor.types import FTS_COLUMNS, FTS_TOKENIZE, Entry, Feed, Release, RuleSpec, Settings
from tests.feedserver import FeedServer, rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WORDS = ["summit", "energy", "pipeline", "Kazakhstan", "Straße", "Kırgızistan", "峰会", "acquires", "NASDAQ",
         "dividend", "platinum", "results", "Astana", "forum", "merger", "guidance", "ＮＹＳＥ", "café"]


def item(rng: random.Random, n: int, *, published: datetime = NOW) -> Release:
    def words(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))
    entry = Entry(guid=f"g{n}-{rng.random()}", link=f"https://wire.example/{n}.html", title=f"{words(4)} {n}",
                  summary=f"<p>{words(8)}</p>", content=f"<p>ASTANA, Nov. 1, 2026 /PRNewswire/ -- {words(30)}</p>",
                  author=words(1), published=published, updated=None)
    return normalize(entry, now=NOW)


def notes(store: Store) -> tuple[int, int]:
    return (store.scalar("SELECT count(*) FROM fts_pending"), store.scalar("SELECT count(*) FROM fts_stale"))


def assert_index_exact(store: Store) -> None:
    """The index holds exactly what indexing every release afresh gives (token, release, column, offset)."""
    assert not store.conn.in_transaction
    cols = ", ".join(FTS_COLUMNS)
    tok = FTS_TOKENIZE.replace("'", "''")
    c = store.conn
    c.execute(f"CREATE VIRTUAL TABLE temp.expect USING fts5({cols}, tokenize='{tok}')")
    c.execute(f"INSERT INTO temp.expect (rowid, {cols}) SELECT id, {', '.join(f'pm_fold({x})' for x in FTS_COLUMNS)}"
              " FROM releases")
    c.execute("CREATE VIRTUAL TABLE temp.expect_v USING fts5vocab(temp, expect, instance)")
    c.execute("CREATE VIRTUAL TABLE temp.have_v USING fts5vocab(main, releases_fts, instance)")
    try:
        have = c.execute("SELECT term, doc, col, offset FROM temp.have_v ORDER BY 1, 2, 3, 4").fetchall()
        expect = c.execute("SELECT term, doc, col, offset FROM temp.expect_v ORDER BY 1, 2, 3, 4").fetchall()
        assert have == expect
        assert bool(have) == bool(store.count("releases"))  # the comparison means something
    finally:
        for t in ("have_v", "expect_v", "expect"):
            c.execute(f"DROP TABLE temp.{t}")
    assert notes(store) == (0, 0)


def ids(store: Store, query: str) -> list[int]:
    return sorted(h.id for h in store.search(query, limit=None))


# --------------------------------------------------------------------------- joins in one transaction


def test_a_release_joined_in_the_same_transaction_is_found_by_each_feed_name(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # run --once commits the polls already waiting in one transaction, each a savepoint: the second
    # feed's join then lands before the release was ever indexed.
    link = "https://www.prnewswire.com/news-releases/summit-301829916.html"
    body = "<p>ASTANA, Nov. 1, 2026 /PRNewswire/ -- Leaders met for the China-Central Asia Summit.</p>"
    for name in ("wire-a", "wire-b"):
        feed_server.publish(f"/{name}.rss", rss([{"title": "Central Asia Summit opens", "link": link,
                                                   "guid": f"{name}-1", "description": body,
                                                   "pubDate": NOW - timedelta(hours=1)}]))
    settings = Settings(database=tmp_path / "archive.db", timeout=30.0)
    rules = compile_rules([RuleSpec("asia", '"Central Asia"', notify=("log",), feeds=("wire-b",))], {})
    fetcher = Fetcher(user_agent="test", timeout=30.0, max_bytes=1_000_000, clock=SystemClock())
    clock = ManualClock(NOW)
    try:
        with Store(settings.database) as store:
            feeds = [Feed(name=n, url=feed_server.url(f"/{n}.rss"), interval=60) for n in ("wire-a", "wire-b")]
            outcomes = [pipeline.gather(f, store.feed_state(f.name, f.url), fetcher=fetcher, clock=clock)
                        for f in feeds]
            with store.transaction():
                results = [pipeline.commit(store, o, NOW, settings=settings, rules=rules,
                                           channels=frozenset({"log"})) for o in outcomes]
                assert notes(store)[0] == 1  # noted, not indexed yet
            assert [(r.new, r.seen) for r in results] == [(1, 0), (0, 1)]
            [rid] = [r for (r,) in store.conn.execute("SELECT id FROM releases")]
            assert store.scalar("SELECT source FROM releases") == "wire-a\nwire-b"
            for query in ('source : "wire-a"', 'source : "wire-b"', 'summit AND source : "wire-b"', "astana"):
                assert ids(store, query) == [rid], query
            # The feed-filtered rule matched through wire-b's join, as before.
            assert store.scalar("SELECT rule FROM matches") == "asia"
            assert_index_exact(store)
            [hit] = store.search('source : "wire-b"')
            assert hit.snippet == "wire-a [wire-b]"  # where the feed name matched (on one line, as alerts show it)
    finally:
        fetcher.close()


def test_joins_across_transactions_and_revisions_reindex_once_at_commit(tmp_path: Path) -> None:
    rng = random.Random(7)
    with Store(tmp_path / "a.db") as store:
        with store.transaction():
            fa, fb, fc = (store.feed_id(n, f"https://wire.example/{n}.rss") for n in ("fa", "fb", "fc"))
            first = item(rng, 1)
            rid = store.insert_release(first, "fa", NOW)
            store.add_sightings(fa, "fa", [(rid, first, False)], NOW)
        assert_index_exact(store)
        with store.transaction():
            store.add_sighting(fb, "fb", rid, first, NOW)  # indexed before: its old text is kept for the flush
            assert notes(store) == (1, 1)
            store.add_sighting(fc, "fc", rid, first, NOW)  # noted already
            store.revise_release(rid, item(rng, 1), NOW)
            assert notes(store) == (1, 1)
        assert ids(store, "source : fb AND source : fc AND source : fa") == [rid]
        assert_index_exact(store)


# --------------------------------------------------------------------------- any mix of writes


class Undo(Exception):
    pass


@pytest.mark.parametrize("seed", range(6))
def test_the_index_is_exact_after_any_mix_of_writes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    feeds = ["fa", "fb", "fc"]
    n = 0
    with Store(tmp_path / "a.db") as store:
        with store.transaction():
            fids = {f: store.feed_id(f, f"https://wire.example/{f}.rss") for f in feeds}

        def live() -> list[int]:
            return [r for (r,) in store.conn.execute("SELECT id FROM releases ORDER BY id")]

        def step() -> None:
            nonlocal n
            op = rng.choice(["insert", "insert", "join", "revise", "page", "drop", "drop_newest"])
            have = live()
            if op == "insert" or not have:
                n += 1
                f = rng.choice(feeds)
                it = item(rng, n, published=NOW - timedelta(days=rng.choice([0, 40])))
                rid = store.insert_release(it, f, NOW)
                store.add_sightings(fids[f], f, [(rid, it, False)], NOW)
            elif op == "join":
                rid, f = rng.choice(have), rng.choice(feeds)
                n += 1
                if not store.scalar("SELECT 1 FROM sightings WHERE release_id = ? AND feed_id = ?", (rid, fids[f])):
                    store.add_sighting(fids[f], f, rid, item(rng, n), NOW)
            elif op == "revise":
                store.revise_release(rng.choice(have), item(rng, n), NOW)
            elif op == "page":
                store.apply_page(rng.choice(have), f"The page text: {' '.join(rng.choices(WORDS, k=12))}.", None, ())
            else:
                rid = have[-1] if op == "drop_newest" else rng.choice(have)  # the newest id is used again
                for table in ("matches", "alerts", "release_versions", "sightings", "pages"):
                    store.run(f"DELETE FROM {table} WHERE release_id = :id", {"id": rid})
                store.run("DELETE FROM releases WHERE id = :id", {"id": rid})

        for _ in range(12):
            how = rng.choice(["transaction", "transaction", "savepoints", "undone", "autocommit"])
            if how == "autocommit":  # plain statements, no transaction of the store: indexed at once
                step()
                assert notes(store) == (0, 0)
            elif how == "undone":
                before = live()
                with pytest.raises(Undo), store.transaction():
                    for _ in range(rng.randint(1, 4)):
                        step()
                    raise Undo
                assert live() == before
            else:
                with store.transaction():
                    for _ in range(rng.randint(1, 6)):
                        if how == "savepoints" and rng.random() < 0.4:
                            try:
                                with store.transaction():  # a poll that fails: its part is undone
                                    step()
                                    step()
                                    raise Undo
                            except Undo:
                                pass
                        else:
                            step()
            assert_index_exact(store)
        with store.transaction():  # retention deletes through the same triggers
            store.purge(NOW + timedelta(days=1), limit=3)
        assert_index_exact(store)


# --------------------------------------------------------------------------- crash


CRASHING_WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from monitor.normalize import normalize
    from monitor.store import Store
    from monitor.types import Entry

    NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def item(n, title):
        return normalize(Entry(guid=f"g{n}", link=f"https://wire.example/{n}.html", title=title,
                               summary="<p>text</p>", content="", author="", published=NOW, updated=None), now=NOW)

    store = Store(sys.argv[1])
    with store.transaction():
        fa, fb = store.feed_id("fa", "https://a.example/rss"), store.feed_id("fb", "https://b.example/rss")
        alpha = item(1, "Alpha summit")
        rid = store.insert_release(alpha, "fa", NOW)
        store.add_sighting(fa, "fa", rid, alpha, NOW)
    print("committed", flush=True)
    with store.transaction():
        beta = item(2, "Beta summit")
        store.add_sighting(fb, "fb", store.insert_release(beta, "fb", NOW), beta, NOW)
        store.add_sighting(fb, "fb", rid, alpha, NOW)  # alpha joined: its indexed text noted as stale
        store.revise_release(rid, item(1, "Alpha summit revised"), NOW)
        print("inside", flush=True)
        sys.stdin.readline()  # killed here, before the COMMIT
""")


def test_a_writer_killed_inside_a_transaction_leaves_every_committed_release_indexed(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "committed"
        assert proc.stdout.readline().strip() == "inside"
    finally:
        proc.kill()
        proc.wait()
    with Store(db) as store:
        assert [(t, s) for t, s in store.conn.execute("SELECT title, source FROM releases")] == [("Alpha summit", "fa")]
        assert ids(store, "alpha AND source : fa") == [1]
        assert ids(store, "beta") == ids(store, "source : fb") == ids(store, "revised") == []
        assert_index_exact(store)
        # And the archive takes writes as before.
        with store.transaction():
            store.revise_release(1, normalize(Entry(guid="g1", link="https://wire.example/1.html",
                                                    title="Alpha summit revised", summary="", content="",
                                                    author="", published=NOW, updated=None), now=NOW), NOW)
        assert ids(store, "revised") == [1]
        assert_index_exact(store)
