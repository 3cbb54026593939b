"""The page queue through the pipeline: what is queued, what a fetched page changes, retries, revisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.clock import ManualClock, SystemClock
from monitor.errors import PageError
from monitor.fetch import Fetcher
from monitor.rules import compile_rules
from monitor.store import Store
from monitor.types import Database, Feed, RuleSpec, Settings
from tests.feedserver import FeedServer, rss
from tests.polling import make_poller, poll, query

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ABSTRACT = "<p>Chinese President Xi Jinping will host five Central Asian heads of state.</p>"
PAGE_TEXT = ("BEIJING, May 11, 2023 /PRNewswire/ -- Chinese President Xi Jinping will host five leaders.\n\n"
             "The China-Central Asia Summit opens in Xi'an. CGTN Holdings (NASDAQ: CGTN) reports.")


class Env:
    def __init__(self, tmp: Path, server: FeedServer, database: Database) -> None:
        self.server, self.clock = server, ManualClock(NOW)
        self.settings = Settings(database=database, timeout=2.0)
        self.store = Store(self.settings.database)
        self.fetcher = Fetcher(user_agent="test", timeout=2.0, max_bytes=1_000_000, clock=SystemClock())
        specs = [RuleSpec("xi", "Xi", notify=("log",)), RuleSpec("summits", "summit*", notify=("log",))]
        self.rules = compile_rules(specs, {})
        self.poller = make_poller(self.settings, specs, clock=self.clock, fetcher=self.fetcher,
                                  config_path=tmp / "config.toml")

    def poll(self, feed: Feed) -> pipeline.PollResult:
        return poll(self.poller, self.store, feed)[feed.name]

    def apply(self, outcome: pipeline.PageOutcome) -> pipeline.PageResult:
        return pipeline.apply_page(self.store, outcome, self.clock.now(), settings=self.settings, rules=self.rules,
                                   channels=frozenset({"log"}))

    def q(self, sql: str, *args: object) -> list[tuple]:
        return query(self.store, sql, *args)


@pytest.fixture
def env(tmp_path: Path, feed_server: FeedServer, database: Database):  # type: ignore[no-untyped-def]
    """On each backend in turn (conftest.py: `database`)."""
    e = Env(tmp_path, feed_server, database)
    yield e
    e.store.close()
    e.fetcher.close()


def item(n: int, *, age: timedelta = timedelta(hours=1), description: str = ABSTRACT, link: bool = True) -> dict:
    out = {"title": f"Release {n}", "guid": f"g{n}", "description": description, "pubDate": NOW - age}
    if link:
        out["link"] = f"https://www.prnewswire.com/news-releases/r-{n}.html"
    return out


def test_pages_are_queued_for_recent_releases_of_full_text_feeds_only(env: Env) -> None:
    env.server.publish("/a.rss", rss([item(1), item(2, age=timedelta(days=3)), item(3, link=False)]))
    env.server.publish("/b.rss", rss([item(4)]))
    a = Feed("a", env.server.url("/a.rss"), 60, full_text=True)
    b = Feed("b", env.server.url("/b.rss"), 60, full_text=False)
    assert env.poll(a).pages == 1 and env.poll(b).pages == 0
    assert env.q("SELECT url, feed, feed_url, host, status FROM pages") == [
        ("https://www.prnewswire.com/news-releases/r-1.html", "a", a.url, "www.prnewswire.com", "pending")]


def test_page_text_becomes_the_body_and_only_new_rules_alert(env: Env) -> None:
    env.server.publish("/a.rss", rss([item(1)]))
    feed = Feed("a", env.server.url("/a.rss"), 60, full_text=True)
    result = env.poll(feed)
    assert result.matches == 1  # "xi" on the abstract
    (page_id, rid), = env.q("SELECT id, release_id FROM pages")
    env.clock.advance(30)
    done = env.apply(pipeline.PageOutcome(page_id, rid, PAGE_TEXT, "prnewswire"))
    assert (done.status, done.matches, done.alerts) == ("done", 1, 1)  # summits only: xi had matched already
    (first, _), (second, snippet) = env.q("SELECT rule, snippet FROM matches ORDER BY id")
    assert (first, second) == ("xi", "summits") and "[Summit]" in snippet  # the snippet is from the page text
    assert env.q("SELECT rule FROM alerts ORDER BY id") == [("xi",), ("summits",)]
    summary, body, dateline, place, wire, tickers = env.q(
        "SELECT summary, body, dateline, dateline_place, wire, tickers FROM releases")[0]
    assert summary.startswith("Chinese President") and body == PAGE_TEXT
    assert (place, wire, tickers) == ("BEIJING", "PR Newswire", '["NASDAQ:CGTN"]')
    assert dateline.startswith("BEIJING 2023-05-11")
    assert env.q("SELECT count(*) FROM release_versions") == [(0,)]  # not a revision
    assert env.q("SELECT status, method, attempts FROM pages") == [("done", "prnewswire", 1)]
    assert env.store.search("summit*")[0].id == rid  # the archive index sees the page text


def test_retries_back_off_honour_retry_after_then_fail(env: Env) -> None:
    env.server.publish("/a.rss", rss([item(1)]))
    env.poll(Feed("a", env.server.url("/a.rss"), 60, full_text=True))
    (page_id, rid), = env.q("SELECT id, release_id FROM pages")
    slow = PageError("HTTP 429 Too Many Requests (retry after 900s)", kind="http", retry_after=900.0, status=429)
    first = env.apply(pipeline.PageOutcome(page_id, rid, error=slow, attempts=0))
    assert first.status == "pending"
    assert env.q("SELECT status, next_attempt_at, attempts FROM pages") == [("pending", "2026-11-27T12:15:00Z", 1)]
    timeout = PageError("timeout after 20s", kind="timeout")
    for attempts, due in ((1, "2026-11-27T12:10:00Z"), (2, "2026-11-27T13:00:00Z")):
        assert env.apply(pipeline.PageOutcome(page_id, rid, error=timeout, attempts=attempts)).status == "pending"
        assert env.q("SELECT next_attempt_at FROM pages") == [(due,)]
    assert env.apply(pipeline.PageOutcome(page_id, rid, error=timeout, attempts=3)).status == "failed"
    assert env.q("SELECT status, last_error, error_kind FROM pages") == [("failed", "timeout after 20s", "timeout")]
    assert env.store.page_failures() == {"a": 1}


def test_permanent_errors_and_skips_are_final_and_empty_pages_are_skipped(env: Env) -> None:
    env.server.publish("/a.rss", rss([item(1), item(2), item(3)]))
    env.poll(Feed("a", env.server.url("/a.rss"), 60, full_text=True))
    rows = env.q("SELECT id, release_id FROM pages ORDER BY id")
    gone = PageError("HTTP 404 Not Found", kind="http", outcome="failed", status=404)
    robots = PageError("disallowed by robots.txt of x", kind="robots", outcome="skipped")
    assert env.apply(pipeline.PageOutcome(*rows[0], error=gone)).status == "failed"
    assert env.apply(pipeline.PageOutcome(*rows[1], error=robots)).status == "skipped"
    assert env.apply(pipeline.PageOutcome(*rows[2], text=None, method="generic")).status == "skipped"
    assert [r[0] for r in env.q("SELECT status FROM pages ORDER BY id")] == ["failed", "skipped", "skipped"]
    assert env.q("SELECT body FROM releases ORDER BY id") == [("",), ("",), ("",)]  # the feed had no body


def test_a_revised_release_keeps_its_page_text_and_its_page_is_fetched_again(env: Env) -> None:
    env.server.publish("/a.rss", rss([item(1)]))
    feed = Feed("a", env.server.url("/a.rss"), 60, full_text=True)
    env.poll(feed)
    (page_id, rid), = env.q("SELECT id, release_id FROM pages")
    env.apply(pipeline.PageOutcome(page_id, rid, PAGE_TEXT, "prnewswire"))
    env.server.publish("/a.rss", rss([item(1, description="<p>Corrected: Xi hosts five leaders.</p>")]))
    env.clock.advance(60)
    result = env.poll(feed)
    assert result.revised == 1 and result.pages == 1
    assert env.q("SELECT summary, body FROM releases") == [("Corrected: Xi hosts five leaders.", PAGE_TEXT)]
    assert env.q("SELECT status, attempts FROM pages") == [("pending", 0)]


def test_the_end_matter_and_the_page_quality_are_stored_apart_and_not_searched(env: Env) -> None:
    env.server.publish("/a.rss", rss([item(1, description="<p>Nothing that matches a rule here.</p>")]))
    env.poll(Feed("a", env.server.url("/a.rss"), 60, full_text=True))
    (page_id, rid), = env.q("SELECT id, release_id FROM pages")
    # The page opens with a subtitle: the dateline is found in the next paragraph.
    text = "Leaders meet in the old capital\n\n" + PAGE_TEXT.replace("summit", "meeting").replace("Summit", "Meeting")
    end_matter = "About CGTN\n\nCGTN covers every summit in Central Asia.\n\nSOURCE CGTN"
    done = env.apply(pipeline.PageOutcome(page_id, rid, text, "anchored", boilerplate=end_matter,
                                          quality="anchor-missing"))
    assert done.status == "done" and done.matches == 1  # "xi" from the body; "summits" only in the end matter
    detail = env.store.release(rid)
    assert detail is not None and detail.boilerplate == end_matter and detail.page_quality == "anchor-missing"
    assert detail.view.dateline is not None and detail.view.dateline.place == "BEIJING"
    assert env.store.search("summit*") == []  # the end matter is kept, not indexed
    assert [(r.status, r.method, r.quality) for r in env.store.pages()] == [("done", "anchored", "anchor-missing")]
