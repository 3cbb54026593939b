"""schedule.py: when a feed is polled next. Pure policy: a fixed `now` and a seeded rng."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor import schedule
from monitor.clock import ManualClock
from monitor.types import Feed, PollResult

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = Feed(name="wire", url="https://wire.example/rss", interval=300.0)


def ok(**kw: object) -> PollResult:
    return PollResult("wire", **kw)  # type: ignore[arg-type]


def failed(status: int | None = 500, retry_after: float | None = None) -> PollResult:
    return PollResult("wire", error=f"HTTP {status}", error_kind="http", http_status=status, retry_after=retry_after)


def delays(poll: PollResult, *, failures: int = 0, feed: Feed = FEED, n: int = 400, **kw: object) -> list[float]:
    rng = random.Random(7)
    out = []
    for _ in range(n):
        p = schedule.plan(feed, poll, failures=failures, now=NOW, rng=rng, **kw)  # type: ignore[arg-type]
        assert p.delay is not None
        out.append(p.delay)
    return out


def test_a_healthy_feed_is_polled_every_interval_with_ten_percent_jitter() -> None:
    d = delays(ok(new=3))
    assert 270 <= min(d) < 280 and 320 < max(d) <= 330  # the whole +/-10 % band is used
    assert len({round(x, 3) for x in d}) > 300  # and it is spread, not two values
    assert schedule.plan(FEED, ok(), failures=0, now=NOW, rng=random.Random(1)).reason == "interval"


@pytest.mark.parametrize(("failures", "expected"), [(1, 600), (2, 1200), (3, 2400), (5, 9600)])
def test_a_failing_feed_backs_off_exponentially(failures: int, expected: float) -> None:
    d = delays(failed(500), failures=failures)
    assert expected * 0.9 <= min(d) and max(d) <= expected * 1.1
    assert max(d) - min(d) > expected * 0.1  # jittered


def test_backoff_is_capped_at_six_hours_and_never_gives_up() -> None:
    for failures in (7, 8, 50, 10_000):
        d = delays(failed(None), failures=failures, n=100)
        assert all(5.4 * 3600 <= x <= 6 * 3600 for x in d), failures
    # A feed slower than the cap is not sped up by failing.
    slow = Feed("slow", "https://x.example/", interval=12 * 3600.0)
    assert all(x <= 12 * 3600 for x in delays(failed(500), failures=3, feed=slow, n=50))


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    p = schedule.plan(FEED, failed(429, retry_after=3600), failures=1, now=NOW, rng=random.Random(3))
    assert p.reason == "retry-after"
    assert 3600 <= p.delay <= 3600 + 6  # never earlier than asked, a little later at most
    # Shorter than the backoff: the backoff wins (it is also "not before").
    p = schedule.plan(FEED, failed(503, retry_after=10), failures=2, now=NOW, rng=random.Random(3))
    assert p.reason == "backoff" and p.delay >= 1080


def test_retry_after_is_capped_at_24_hours() -> None:
    p = schedule.plan(FEED, failed(429, retry_after=30 * 86400), failures=1, now=NOW, rng=random.Random(3))
    assert 86400 <= p.delay <= 86400 + 60


def test_410_gone_stops_polling() -> None:
    p = schedule.plan(FEED, failed(410), failures=1, now=NOW, rng=random.Random(3))
    assert p.gone and p.delay is None and p.reason == "gone"


@pytest.mark.parametrize(("max_age", "ttl", "base"), [
    (900, None, 900),       # Cache-Control: max-age longer than the interval stretches it
    (None, 1200, 1200),     # RSS <ttl> (already in seconds) too
    (600, 1800, 1800),      # the longer of the two
    (86400, None, 3600),    # capped at an hour: wire news is worth minutes
    (60, None, 300),        # shorter than the interval: ignored
])
def test_max_age_and_ttl_stretch_the_interval(max_age: float | None, ttl: float | None, base: float) -> None:
    p = schedule.plan(FEED, ok(max_age=max_age, ttl=ttl), failures=0, now=NOW, rng=random.Random(3))
    assert p.base == base
    assert p.reason == ("interval" if base == 300 else "cache")
    assert base * 0.9 <= p.delay <= base * 1.1


def test_cache_hints_do_not_delay_a_failing_feed_or_shorten_backoff() -> None:
    p = schedule.plan(FEED, failed(500), failures=4, now=NOW, rng=random.Random(3))
    assert p.delay >= 300 * 16 * 0.9


ADAPTIVE = Feed("busy", "https://x.example/", interval=600.0, adaptive=True, min_interval=60.0)


def every(minutes: float, count: int, *, last_ago: float = 0.0) -> list[datetime]:
    end = NOW - timedelta(minutes=last_ago)
    return [end - timedelta(minutes=minutes * i) for i in range(count)]


def test_a_busy_adaptive_feed_is_polled_twice_per_typical_gap() -> None:
    # Publishes every 4 minutes, the latest 1 minute ago: poll every ~2 minutes.
    got = schedule.adaptive_interval(ADAPTIVE, every(4, 20, last_ago=1), NOW)
    assert got == pytest.approx(120)
    p = schedule.plan(ADAPTIVE, ok(new=1), failures=0, now=NOW, rng=random.Random(3), published=every(4, 20))
    assert p.reason == "adaptive" and 108 <= p.delay <= 132


def test_adaptive_interval_stays_within_min_interval_and_interval() -> None:
    assert schedule.adaptive_interval(ADAPTIVE, every(0.1, 20), NOW) == 60.0  # floor: min_interval
    assert schedule.adaptive_interval(ADAPTIVE, every(120, 20), NOW) == 600.0  # ceiling: interval
    assert schedule.adaptive_interval(ADAPTIVE, every(4, 2), NOW) == 600.0  # too few samples
    assert schedule.adaptive_interval(ADAPTIVE, [], NOW) == 600.0
    # Publications older than the window say nothing about today.
    assert schedule.adaptive_interval(ADAPTIVE, every(4, 20, last_ago=60 * 24 * 30), NOW) == 600.0


def test_a_feed_that_went_quiet_slows_down_again() -> None:
    busy = schedule.adaptive_interval(ADAPTIVE, every(4, 20, last_ago=1), NOW)
    # Same history, but nothing for the last 5 hours: the latest gaps dominate the median.
    quiet = schedule.adaptive_interval(ADAPTIVE, every(4, 5, last_ago=300), NOW)
    assert busy < quiet == 600.0


def test_adaptive_polling_is_off_unless_asked_for() -> None:
    p = schedule.plan(FEED, ok(new=1), failures=0, now=NOW, rng=random.Random(3), published=every(1, 20))
    assert p.reason == "interval" and p.base == 300


def test_a_redirect_is_adopted_only_after_seven_consistent_days() -> None:
    clock = ManualClock(NOW)
    old, new = "https://old.example/rss", "https://new.example/rss"
    r = schedule.track_redirect(None, None, new, clock.now(), current=old)
    assert (r.target, r.since, r.adopt, r.new) == (new, NOW, False, True)
    for _ in range(6):
        clock.advance(86400)
        r = schedule.track_redirect(r.target, r.since, new, clock.now(), current=old)
        assert not r.adopt and not r.new and r.since == NOW
    clock.advance(86400)
    r = schedule.track_redirect(r.target, r.since, new, clock.now(), current=old)
    assert r.adopt and r.target == new


def test_a_redirect_that_stops_or_changes_target_starts_over() -> None:
    old, new, other = "https://old.example/rss", "https://new.example/rss", "https://evil.example/rss"
    since = NOW - timedelta(days=6)
    r = schedule.track_redirect(new, since, None, NOW, current=old)  # answered directly again
    assert (r.target, r.since, r.adopt) == (None, None, False)
    r = schedule.track_redirect(new, since, other, NOW, current=old)  # a different target
    assert (r.target, r.since, r.adopt, r.new) == (other, NOW, False, True)
    r = schedule.track_redirect(None, None, old, NOW, current=old)  # "redirect" to itself
    assert r.target is None


def test_first_poll_after_a_restart_keeps_politeness() -> None:
    rng = random.Random(5)
    # A pending Retry-After survives the restart.
    d = schedule.first_delay(FEED, now=NOW, rng=rng, retry_after_until=NOW + timedelta(hours=2), failures=1)
    assert 7200 <= d <= 7200 + 30
    # So does a backoff (up to the 6 h cap).
    d = schedule.first_delay(FEED, now=NOW, rng=rng, next_poll_at=NOW + timedelta(hours=3), failures=6)
    assert d == 3 * 3600
    # A healthy feed keeps its planned time but never waits longer than its interval.
    d = schedule.first_delay(FEED, now=NOW, rng=rng, next_poll_at=NOW + timedelta(hours=3))
    assert d == 300
    d = schedule.first_delay(FEED, now=NOW, rng=rng, next_poll_at=NOW + timedelta(seconds=40))
    assert d == 40
    # New or overdue: within a few seconds, spread out.
    starts = [schedule.first_delay(FEED, now=NOW, rng=rng) for _ in range(100)]
    assert all(0 <= s <= 5 for s in starts) and len(set(starts)) > 90
    overdue = schedule.first_delay(FEED, now=NOW, rng=rng, next_poll_at=NOW - timedelta(hours=1))
    assert 0 <= overdue <= 5


def test_sub_second_intervals_work_for_tests() -> None:
    fast = Feed("fast", "http://127.0.0.1/", interval=0.5)
    d = delays(ok(), feed=fast, n=50)
    assert all(0.45 <= x <= 0.55 for x in d)
    assert all(x <= 0.05 for x in (schedule.first_delay(fast, now=NOW, rng=random.Random(i)) for i in range(20)))


def row(**kw: object) -> object:
    from types import SimpleNamespace

    base: dict[str, object] = dict(url=FEED.url, failures=0, gone=False, next_poll_at=NOW + timedelta(seconds=300),
                                   retry_after_until=None, last_polled_at=NOW)
    return SimpleNamespace(**{**base, **kw})


def test_waiting_says_why_a_feed_is_not_due_the_same_for_every_entry_point() -> None:
    w = schedule.waiting
    assert w(FEED, None, NOW) is None  # never polled
    assert w(FEED, row(url="https://old.example/rss", gone=True), NOW) is None  # the record is another URL's
    assert w(FEED, row(gone=True), NOW) == schedule.Wait("gone", None)
    until = NOW + timedelta(hours=2)
    assert w(FEED, row(retry_after_until=until, failures=1), NOW) == schedule.Wait("retry-after", until)
    assert w(FEED, row(retry_after_until=NOW - timedelta(seconds=1)), NOW + timedelta(seconds=300)) is None
    assert w(FEED, row(), NOW) == schedule.Wait("not-due", NOW + timedelta(seconds=300))
    # Due up to 20 % of the interval early (a cron run every interval never loses to the jitter).
    assert w(FEED, row(), NOW + timedelta(seconds=300 - 60)) is None
    assert w(FEED, row(), NOW + timedelta(seconds=300 - 61)) is not None
    # A stale plan far in the future holds a healthy feed at most an hour (the longest cache stretch),
    # a failing one at most the 6 h backoff cap.
    far = NOW + timedelta(days=3)
    assert w(FEED, row(next_poll_at=far), NOW) == schedule.Wait("not-due", NOW + timedelta(hours=1))
    assert w(FEED, row(next_poll_at=far, failures=4), NOW) == schedule.Wait("not-due", NOW + timedelta(hours=6))
