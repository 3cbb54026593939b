"""The ingest pipeline end to end: a real feed server, the real fetcher, parser, rules and SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.clock import ManualClock, SystemClock
from monitor.fetch import Fetcher
from monitor.store import Store
from monitor.store.feeds import seen_at
from monitor.types import Database, Feed, PollResult, RuleSpec, Settings
from tests.feedserver import FeedServer, rss
from tests.polling import make_poller, poll, query

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CGTN_BODY = ("<p>BEIJING, May 19, 2023 /PRNewswire/ -- The leaders of China, Kazakhstan, Kyrgyzstan, Tajikistan,"
             " Turkmenistan and Uzbekistan met in Xi'an for the first China-Central Asia Summit.</p>"
             "<p>They signed the Xi'an Declaration.</p>")


def cgtn(link: str, guid: str, body: str = CGTN_BODY) -> dict:
    return {"title": "China-Central Asia Summit opens in Xi'an", "link": link, "guid": guid,
            "description": body, "pubDate": NOW - timedelta(hours=2), "author": "CGTN"}


def other(n: int) -> dict:
    return {"title": f"Acme Corp reports quarter {n} results", "guid": f"acme-{n}",
            "link": f"https://www.prnewswire.com/news-releases/acme-q{n}-30000{n}.html",
            "description": f"<p>NEW YORK, Nov. 1, 2026 /PRNewswire/ -- Acme (NASDAQ: ACME) quarter {n}.</p>",
            "pubDate": NOW - timedelta(days=30)}


class Env:
    def __init__(self, tmp: Path, server: FeedServer, clock, database: Database | None = None) -> None:
        self.server, self.clock = server, clock
        self.settings = Settings(database=database or tmp / "archive.db", timeout=2.0)
        self.store = Store(self.settings.database)
        self.fetcher = Fetcher(user_agent="test", timeout=2.0, max_bytes=1_000_000, clock=SystemClock())
        self.poller = make_poller(self.settings, [RuleSpec("summits", "summit*", notify=("log",)),
                                                  RuleSpec("asia", '"Central Asia"', notify=("log",),
                                                           feeds=("wire-c",))], clock=clock, fetcher=self.fetcher,
                                  config_path=tmp / "config.toml")

    def feed(self, name: str, path: str | None = None) -> Feed:
        return Feed(name=name, url=self.server.url(path or f"/{name}.rss"), interval=60)

    def poll(self, *feeds: Feed) -> dict[str, PollResult]:
        return poll(self.poller, self.store, *feeds)

    def q(self, sql: str, *args) -> list[tuple]:
        return query(self.store, sql, *args)


@pytest.fixture
def env(tmp_path: Path, feed_server: FeedServer, database: Database):
    """The pipeline over an archive on each backend in turn (conftest.py: `database`)."""
    e = Env(tmp_path, feed_server, ManualClock(NOW), database)
    yield e
    e.fetcher.close()
    e.store.close()


def test_one_release_across_category_feeds_and_regional_sites(env: Env) -> None:
    s = env.server
    s.publish("/wire-a.rss", rss([cgtn("https://www.prnewswire.com/news-releases/summit-301829916.html"
                                       "?utm_source=rss&utm_campaign=all", "prn-301829916"), other(1)]))
    s.publish("/wire-b.rss", rss([cgtn("https://www.prnewswire.com/news-releases/summit-301829916.html"
                                       "?utm_campaign=policy&utm_medium=rss#top",
                                       "https://www.prnewswire.com/news-releases/summit-301829916.html")]))
    s.publish("/wire-c.rss", rss([cgtn("https://www.prnewswire.co.uk/news-releases/summit-301829916.html"
                                       "?utm_source=uk", "uk-301829916")]))
    results = env.poll(env.feed("wire-a"), env.feed("wire-b"), env.feed("wire-c"))
    assert all(r.ok for r in results.values()), results
    assert sum(r.new for r in results.values()) == 2  # the CGTN release once, Acme once
    assert env.q("SELECT count(*) FROM releases") == [(2,)]
    rid = env.q("SELECT id FROM releases WHERE title LIKE 'China%'")[0][0]
    assert env.q("SELECT count(*) FROM sightings WHERE release_id = ?", rid) == [(3,)]
    # One match per rule and release, whichever feed carried it; the feed-filtered rule matched
    # through wire-c even if wire-c was not the first feed to deliver the release.
    assert sorted(r[0] for r in env.q("SELECT rule FROM matches WHERE release_id = ?", rid)) == ["asia", "summits"]
    assert env.q("SELECT count(*) FROM alerts WHERE release_id = ?", rid) == [(2,)]
    # Acme is a month old: archived and matched by nothing; no alert either way.
    detail = env.store.release(rid)
    assert {x.feed for x in detail.sightings} == {"wire-a", "wire-b", "wire-c"}


def test_second_poll_is_conditional_and_stores_nothing(env: Env) -> None:
    env.server.publish("/wire-a.rss", rss([other(1), other(2)]))
    first = env.poll(env.feed("wire-a"))["wire-a"]
    assert (first.new, first.seen) == (2, 0)
    second = env.poll(env.feed("wire-a"))["wire-a"]
    assert second.not_modified and second.ok
    assert env.server.last("/wire-a.rss").headers.get("If-None-Match")
    assert env.q("SELECT count(*) FROM releases") == [(2,)]
    assert env.q("SELECT count(*) FROM sightings") == [(2,)]


def test_unchanged_body_without_validators_is_seen_not_new(env: Env) -> None:
    env.server.publish("/wire-a.rss", rss([other(1)]), etag="")
    env.poll(env.feed("wire-a"))
    env.server.publish("/wire-a.rss", rss([other(1)]) + b"\n", etag="")  # new bytes, same item
    again = env.poll(env.feed("wire-a"))["wire-a"]
    assert (again.new, again.seen, again.revised) == (0, 1, 0)


def test_revision_keeps_old_version_rematches_and_does_not_alert_twice(env: Env) -> None:
    link = "https://www.prnewswire.com/news-releases/summit-301829916.html"
    env.server.publish("/wire-a.rss", rss([cgtn(link, "g1")]))
    env.poll(env.feed("wire-a"))
    corrected = CGTN_BODY.replace("signed the Xi'an Declaration", "signed the Xi'an Declaration and a trade pact")
    env.server.publish("/wire-a.rss", rss([cgtn(link, "g1", corrected)]))
    result = env.poll(env.feed("wire-a"))["wire-a"]
    assert (result.new, result.revised) == (0, 1)
    assert env.q("SELECT count(*) FROM release_versions") == [(1,)]
    assert "trade pact" not in env.q("SELECT body FROM release_versions")[0][0]
    assert [h.title for h in env.store.search("trade pact")] == ["China-Central Asia Summit opens in Xi'an"]
    assert env.q("SELECT count(*) FROM matches") == [(1,)]  # summits only; asia needs wire-c
    assert env.q("SELECT count(*) FROM alerts") == [(1,)]
    assert result.matches == 0 and result.alerts == 0


def test_old_releases_archive_quietly(env: Env) -> None:
    old = cgtn("https://www.prnewswire.com/news-releases/old-summit-1.html", "old")
    old["pubDate"] = NOW - timedelta(days=3)
    env.server.publish("/wire-a.rss", rss([old]))
    result = env.poll(env.feed("wire-a"))["wire-a"]
    assert (result.new, result.matches, result.alerts) == (1, 1, 0)


@pytest.mark.slow
def test_each_bad_feed_is_recorded_and_the_others_unaffected(env: Env) -> None:
    s = env.server
    s.publish("/good.rss", rss([other(1)]))
    s.status("/missing.rss", 404)
    s.status("/gone.rss", 410)
    s.status("/broken.rss", 500)
    s.retry_later("/busy.rss", 120)
    s.html("/page.rss")
    s.hang("/hang.rss")
    s.gzip_bomb("/bomb.rss")
    s.redirect_loop("/loop.rss")
    s.publish("/empty.rss", rss([]))
    names = ["good", "missing", "gone", "broken", "busy", "page", "hang", "bomb", "loop", "empty"]
    results = env.poll(*(env.feed(n, f"/{n}.rss") for n in names))
    assert results["good"].ok and results["good"].new == 1
    kinds = {n: (results[n].error_kind, results[n].http_status) for n in names[1:]}
    assert kinds == {
        "missing": ("http", 404), "gone": ("http", 410), "broken": ("http", 500), "busy": ("http", 429),
        "page": ("not-a-feed", None), "hang": ("timeout", None), "bomb": ("too-large", None),
        "loop": ("connection", None), "empty": ("not-a-feed", None),
    }
    assert results["busy"].retry_after == 120
    health = {f.name: f for f in env.store.feeds()}
    assert health["good"].consecutive_failures == 0 and health["good"].last_ok_at == NOW
    for n in names[1:]:
        assert health[n].consecutive_failures == 1 and health[n].last_error, n
    assert env.q("SELECT retry_after_until FROM feeds WHERE name = 'busy'") == [("2026-11-27T12:02:00Z",)]


def test_a_failing_commit_leaves_the_archive_as_before(env: Env) -> None:
    env.server.publish("/wire-a.rss", rss([other(1), other(2)]))

    class Exploding:
        rules = ()

        def match(self, docs):
            raise RuntimeError("boom while matching")

        def get(self, name):
            return None

    env.poller.app.__dict__["rules"] = Exploding()  # App.rules is a cached_property: this is its cache
    result = env.poll(env.feed("wire-a"))["wire-a"]
    assert result.error_kind == "internal" and "boom while matching" in (result.error or "")  # recorded, not raised
    assert env.q("SELECT count(*) FROM releases") == [(0,)]
    if env.store.dialect.postgres:
        assert env.q("SELECT count(*) FROM search_pending") == [(0,)]
    else:
        assert env.q("SELECT count(*) FROM releases_fts") == [(0,)]


def test_readers_work_while_a_poll_holds_the_write_lock(env: Env) -> None:
    env.server.publish("/wire-a.rss", rss([other(1)]))
    env.poll(env.feed("wire-a"))
    class Undo(Exception):
        pass

    # Another connection holds the write lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock).
    with Store(env.settings.database) as writer, pytest.raises(Undo), writer.transaction():
        writer.set_meta("x", "y")
        with Store(env.settings.database, readonly=True) as reader:
            assert [h.title for h in reader.search("acme")] == ["Acme Corp reports quarter 1 results"]
        raise Undo


def test_changed_feed_parses_only_its_new_items(env: Env) -> None:
    items = [other(n) for n in range(1, 6)]
    env.server.publish("/wire-a.rss", rss(items))
    env.poll(env.feed("wire-a"))
    state = env.store.feed_state("wire-a", env.server.url("/wire-a.rss"))
    assert len(state.items) == 5
    body = rss([other(6), *items[:4]])  # one new on top, the oldest dropped
    digested = pipeline.digest(body, "https://wire.example/", NOW, state.items)
    assert [i.title for i in digested.items] == ["Acme Corp reports quarter 6 results"]
    assert digested.unchanged == 4
    env.server.publish("/wire-a.rss", body)
    result = env.poll(env.feed("wire-a"))["wire-a"]
    assert (result.new, result.seen, result.revised) == (1, 4, 0)
    # An edited item is a different chunk: parsed again, and stored as a revision.
    edited = dict(items[0], description=items[0]["description"].replace("quarter 1", "quarter one"))
    env.server.publish("/wire-a.rss", rss([other(6), edited, *items[1:4]]))
    result = env.poll(env.feed("wire-a"))["wire-a"]
    assert (result.new, result.seen, result.revised) == (0, 4, 1)


@pytest.mark.parametrize("body", [
    b"<rss><channel><item><title>a</title></item><!-- x --><item><title>b</title></item></channel></rss>",
    b"<rss><channel><item><description><![CDATA[<item>]]></description></item></channel></rss>",
    b"<rss><channel><item><description><![CDATA[</item>]]></description></item></channel></rss>",
    b"<rss:rss><rss:channel><rss:item>a</rss:item></rss:channel></rss:rss>",
    b"<rss><channel><item><title>unclosed</title></channel></rss>",
])
def test_documents_that_cannot_be_cut_safely_are_parsed_whole(body: bytes) -> None:
    from monitor.parse import split_items

    assert split_items(body) is None


def test_an_item_seen_again_refreshes_its_sighting(env: Env) -> None:
    """last_seen_at moves on every poll that carries the item: parsed unchanged, skipped as byte-identical, or 304."""
    feed = env.feed("wire-a")

    def last_seen() -> dict[str, str]:  # as readers see it: a 304 writes no sighting (seen_at)
        seen = seen_at(env.store.dialect)
        return dict(env.q(f"SELECT s.key, {seen} FROM sightings s JOIN feeds f ON f.id = s.feed_id"))

    def at(hours: int) -> str:
        return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    env.server.publish("/wire-a.rss", rss([other(1), other(2)]))
    env.poll(feed)
    assert last_seen() == {"acme-1": at(0), "acme-2": at(0)}
    # The feed row pairs each raw item's hash with its sighting, for the polls that skip parsing it.
    stored = json.loads(env.q("SELECT item_hashes FROM feeds WHERE name = 'wire-a'")[0][0])
    assert sorted(stored.values()) == ["acme-1", "acme-2"]

    env.clock.advance(3600)  # the same document: 304 Not Modified
    assert env.poll(feed)["wire-a"].not_modified
    assert last_seen() == {"acme-1": at(1), "acme-2": at(1)}

    env.clock.advance(3600)  # one new item on top; the others byte for byte as before (not parsed)
    env.server.publish("/wire-a.rss", rss([other(3), other(1), other(2)]))
    result = env.poll(feed)["wire-a"]
    assert result.new == 1 and result.seen == 2
    assert last_seen() == {"acme-1": at(2), "acme-2": at(2), "acme-3": at(2)}

    env.clock.advance(3600)  # acme-1's bytes change but not its text (parsed, unchanged); acme-2 is gone
    env.server.publish("/wire-a.rss", rss([other(3), {**other(1), "category": "Earnings"}]))
    result = env.poll(feed)["wire-a"]
    assert result.new == 0 and result.revised == 0
    assert last_seen() == {"acme-1": at(3), "acme-2": at(2), "acme-3": at(3)}

    env.clock.advance(3600)  # 304 again: nothing written to the sightings, the feed's last good poll moves
    assert env.poll(feed)["wire-a"].not_modified
    assert last_seen() == {"acme-1": at(4), "acme-2": at(2), "acme-3": at(4)}
    assert dict(env.q("SELECT key, last_seen_at FROM sightings")) == {"acme-1": at(3), "acme-2": at(2),
                                                                      "acme-3": at(3)}

    env.clock.advance(3600)  # acme-1 gone: it was last seen at the 304, which the new body writes down
    env.server.publish("/wire-a.rss", rss([other(3)]))
    env.poll(feed)
    assert last_seen() == {"acme-1": at(4), "acme-2": at(2), "acme-3": at(5)}
    assert dict(env.q("SELECT key, last_seen_at FROM sightings"))["acme-1"] == at(4)


def test_the_response_charset_reaches_the_parser(env: Env) -> None:
    # Regression: a KOI8-R feed with no XML declaration, its charset only in Content-Type, came out
    # as mojibake because the fetcher never handed the Content-Type on to the parser.
    title = "Саммит Центральная Азия - Китай"
    body = ('<rss version="2.0"><channel><title>Вести</title><item><guid>koi-1</guid>'
            f"<title>{title}</title><link>https://example.ru/1</link></item></channel></rss>").encode("koi8-r")
    env.server.publish("/koi.rss", body, content_type="application/rss+xml; charset=koi8-r")
    result = env.poll(env.feed("koi", "/koi.rss"))["koi"]
    assert result.ok and result.new == 1, result
    assert env.q("SELECT title FROM releases") == [(title,)]


def test_items_beyond_the_per_poll_cap_are_reported_and_read_by_later_polls(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    from monitor.parse import MAX_ENTRIES

    extra = 150
    items = [{"title": f"Release {n}", "guid": f"r-{n}", "link": f"https://ex.com/r/{n}",
              "description": f"<p>Body of release number {n}.</p>", "pubDate": NOW - timedelta(days=5)}
             for n in range(MAX_ENTRIES + extra)]
    env.server.publish("/big.rss", rss(items))
    feed = env.feed("big", "/big.rss")
    with caplog.at_level("WARNING", logger="monitor.pipeline"):
        first = env.poll(feed)["big"]
    assert first.ok and first.new == MAX_ENTRIES and first.dropped == extra, first
    assert f"{extra} items beyond the cap of {MAX_ENTRIES} per poll not read" in caplog.text
    env.server.publish("/big.rss", rss(items) + b"\n")  # a new ETag, the same items: a full GET
    second = env.poll(feed)["big"]
    assert second.ok and second.new == extra and second.dropped == 0, second
    assert env.q("SELECT count(*) FROM releases") == [(MAX_ENTRIES + extra,)]


def test_a_javascript_link_is_never_the_release_url(env: Env) -> None:
    item = {"title": "Summit opens", "guid": "js-1", "link": "javascript:alert(document.cookie)",
            "description": "<p>A summit.</p>", "pubDate": NOW - timedelta(hours=1)}
    env.server.publish("/js.rss", rss([item]))
    assert env.poll(env.feed("js", "/js.rss"))["js"].new == 1
    assert env.q("SELECT url FROM releases") == [("",)]
