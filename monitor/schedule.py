"""When to poll a feed next: pure policy, no clock and no I/O (the daemon applies it).

    plan(feed, poll, failures=..., now=..., rng=...)  -> Plan: seconds until the next poll, and why
    adaptive_interval(feed, published, now)           -> the interval a busy feed has earned
    track_redirect(pending, seen, now)                -> Redirect: keep watching, or adopt the new URL
    waiting(feed, row, now)                           -> Wait: why a feed is not polled now (None: due)
    first_delay(feed, ...)                            -> when to poll first after a (re)start
    assess(feeds, rows, now=..., last_poll=...)        -> Health: healthy / degraded / down (`status`)

The rules, politest first:
- 410 Gone: stop polling the feed (until its URL changes in config.toml, or `run --once --force`).
- Retry-After on a 429/503 is honoured, capped at 24 h (the fetcher clamps it there when parsing).
- A failing feed backs off: interval x 2^failures, +/-10 % jitter, capped at 6 h. It is never
  dropped: peers that stop polling after a few errors leave users silently blind.
- Cache-Control max-age or an RSS <ttl> longer than the interval stretches it (capped at 1 h:
  those values are often left at a day by CMS defaults, while wire news is worth minutes).
- An adaptive feed is polled twice per typical gap between its recent publications (slower again
  as a silence grows), within [min_interval, interval].
- Everything else: the interval, +/-10 % jitter so feeds of one host spread out.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.types import Feed, FeedCondition, FeedStatus, PollResult

JITTER = 0.10
# A feed counts as due this fraction of its interval before its planned poll: a cron job running
# `run --once` every interval then never skips a round because the jitter put the plan a bit later.
EARLY = 2 * JITTER
MAX_BACKOFF = 6 * 3600.0
MAX_RETRY_AFTER = 24 * 3600.0  # the same cap as monitor.fetch.MAX_RETRY_AFTER (tested)
MAX_STRETCH = 3600.0
REDIRECT_GRACE = timedelta(days=7)
# Adaptive polling looks at this many of the feed's latest publications, no older than the window.
ADAPTIVE_SAMPLE = 20
ADAPTIVE_WINDOW = timedelta(days=14)
ADAPTIVE_MIN_SAMPLE = 3
# 2^failures beyond this is past any cap; bounding the exponent keeps the float finite.
_MAX_EXPONENT = 30


@dataclass(frozen=True)
class Plan:
    """The next poll: `delay` seconds from now (None when the feed is gone), and the reason in one word."""

    delay: float | None
    reason: str  # interval | adaptive | cache | backoff | retry-after | gone
    base: float  # the interval the delay was drawn from, before jitter

    @property
    def gone(self) -> bool:
        return self.delay is None


@dataclass(frozen=True)
class Redirect:
    """A permanent redirect under watch: where to, since when, and whether to adopt it now."""

    target: str | None
    since: datetime | None
    adopt: bool = False
    new: bool = False  # first seen (or changed target) on this poll: worth a log line


def jitter(seconds: float, rng: random.Random, spread: float = JITTER) -> float:
    """Return `seconds` moved by up to +/-spread of itself."""
    return seconds * (1.0 + rng.uniform(-spread, spread))


def backoff(interval: float, failures: int, rng: random.Random) -> float:
    """Return the delay after `failures` failures in a row: interval x 2^failures, jittered, capped at 6 h."""
    cap = max(MAX_BACKOFF, interval)  # a feed polled every 12 h is not sped up by failing
    raw = interval * 2.0 ** min(max(failures, 0), _MAX_EXPONENT)
    return min(jitter(min(raw, cap), rng), cap)


def stretched(interval: float, max_age: float | None, ttl: float | None) -> float:
    """Return the interval lengthened to the server's max-age / <ttl> when longer, capped at 1 h."""
    hint = max(max_age or 0.0, ttl or 0.0)
    if hint <= interval:
        return interval
    return max(interval, min(hint, MAX_STRETCH))


def adaptive_interval(feed: Feed, published: Sequence[datetime], now: datetime) -> float:
    """Return the interval a feed has earned from its recent publication times, within [min_interval, interval].

    Half the median gap between recent publications, but no less than half the silence since the
    latest one, so a feed that went quiet slows down again; the full interval with too few samples.
    """
    low = feed.min_interval if feed.min_interval is not None else feed.interval / 4
    low = min(low, feed.interval)
    recent = sorted(t for t in published if now - ADAPTIVE_WINDOW <= t <= now)[-ADAPTIVE_SAMPLE:]
    if len(recent) < ADAPTIVE_MIN_SAMPLE:
        return feed.interval
    gaps = [(b - a).total_seconds() for a, b in zip(recent, recent[1:], strict=False)]
    silence = (now - recent[-1]).total_seconds()
    target = max(statistics.median(gaps), silence) / 2
    return min(feed.interval, max(low, target))


def plan(
    feed: Feed,
    poll: PollResult,
    *,
    failures: int,
    now: datetime,
    rng: random.Random,
    published: Sequence[datetime] = (),
) -> Plan:
    """Return when to poll `feed` again after `poll`; `failures` is the streak including this poll."""
    if poll.http_status == 410:
        return Plan(None, "gone", feed.interval)
    if not poll.ok:
        delay, reason = backoff(feed.interval, failures, rng), "backoff"
        if poll.retry_after is not None and poll.retry_after > 0:
            asked = min(poll.retry_after, MAX_RETRY_AFTER)
            if asked >= delay:
                # Never earlier than asked; a little later spreads the clients it told the same time.
                delay, reason = asked + rng.uniform(0, min(asked, 60.0) * JITTER), "retry-after"
        return Plan(delay, reason, feed.interval)
    base, reason = feed.interval, "interval"
    if feed.adaptive:
        learned = adaptive_interval(feed, published, now)
        if learned < base:
            base, reason = learned, "adaptive"
    hinted = stretched(base, poll.max_age, poll.ttl)
    if hinted > base:
        base, reason = hinted, "cache"
    return Plan(jitter(base, rng), reason, base)


def first_delay(
    feed: Feed,
    *,
    now: datetime,
    rng: random.Random,
    next_poll_at: datetime | None = None,
    retry_after_until: datetime | None = None,
    failures: int = 0,
) -> float:
    """Return seconds until the first poll after a (re)start or reload.

    A restart must not undo politeness: a pending Retry-After or backoff is kept. A healthy feed
    whose next poll was already planned keeps that time (a restart loop cannot hammer a server),
    but never waits longer than its interval; a new feed starts within a few seconds, spread out.
    """
    spread = rng.uniform(0, min(feed.interval * JITTER, 5.0))
    if retry_after_until is not None and retry_after_until > now:
        return min((retry_after_until - now).total_seconds(), MAX_RETRY_AFTER) + spread
    if next_poll_at is not None and next_poll_at > now:
        ceiling = max(MAX_BACKOFF, feed.interval) if failures else feed.interval
        return min((next_poll_at - now).total_seconds(), ceiling)
    return spread


@dataclass(frozen=True)
class Wait:
    """Why a feed is not polled now, and until when (None: until its URL changes)."""

    reason: str  # gone | retry-after | not-due
    until: datetime | None


def waiting(feed: Feed, row: ScheduleRow | None, now: datetime) -> Wait | None:
    """Return why `feed` must not be polled at `now`, or None when it is due.

    The same answer for `run --once` and the daemon. What the archive recorded belongs to the URL
    it was recorded for: a feed whose URL changed is due at once. A planned poll is honoured up to a
    ceiling after the last poll (the backoff cap when failing, else the longest cache stretch), so
    a stale plan (e.g. after the interval was shortened) cannot hold a feed back for long.
    """
    if row is None or row.url != feed.url or row.last_polled_at is None:
        return None
    if row.gone:
        return Wait("gone", None)
    if row.retry_after_until is not None and row.retry_after_until > now:
        return Wait("retry-after", row.retry_after_until)
    if row.next_poll_at is not None:
        ceiling = max(MAX_BACKOFF, feed.interval) if row.failures else max(feed.interval * (1 + JITTER), MAX_STRETCH)
        planned = min(row.next_poll_at, row.last_polled_at + timedelta(seconds=ceiling))
        if (planned - now).total_seconds() > EARLY * feed.interval:
            return Wait("not-due", planned)
    return None


def track_redirect(
    pending: str | None, since: datetime | None, seen: str | None, now: datetime, *, current: str
) -> Redirect:
    """Return the redirect state after a poll that saw permanent redirect `seen` (None: no redirect).

    The stored URL is replaced only after the same 301/308 target has been seen on every poll for
    7 days: a hijacked or misconfigured server cannot steal a feed with one answer.
    """
    if seen is None or seen == current:
        return Redirect(None, None)
    if pending != seen or since is None:
        return Redirect(seen, now, new=True)
    return Redirect(seen, since, adopt=now - since >= REDIRECT_GRACE)


# --------------------------------------------------------------------------- health (`status`)


# What `assess` reads of a feed's recorded schedule: the archive's FeedStatus (the name is older).
ScheduleRow = FeedStatus


HEALTHY, DEGRADED, DOWN = 0, 1, 2
VERDICTS = {HEALTHY: "healthy", DEGRADED: "degraded", DOWN: "down"}
# The daemon is down when it has not polled for this many of its shortest intervals.
DOWN_AFTER = 3


@dataclass(frozen=True)
class Health:
    code: int  # 0 healthy, 1 degraded, 2 down: `press-monitor status` exits with it
    reasons: tuple[str, ...]
    states: Mapping[str, FeedCondition]  # feed name -> its word

    @property
    def verdict(self) -> str:
        return VERDICTS[self.code]


def feed_state(feed: Feed | None, row: FeedStatus | None, now: datetime) -> FeedCondition:
    """Return the one word `feeds`, `status` and the web view show for a feed (feed None: not configured)."""
    if feed is None:
        return FeedCondition.REMOVED
    if not feed.enabled:
        return FeedCondition.OFF
    if row is None or row.last_polled_at is None:
        return FeedCondition.NEW
    if row.gone:
        return FeedCondition.GONE
    if row.retry_after_until is not None and row.retry_after_until > now:
        return FeedCondition.WAITING
    return FeedCondition.FAILING if row.failures else FeedCondition.OK


def stretch(feed: Feed, row: FeedStatus | None) -> float | None:
    """Return the gap the last plan put before a healthy feed's next poll when the server's cache
    hint (RSS <ttl>, Cache-Control max-age) stretched it beyond the feed's interval; else None.

    Read back from what was recorded: a healthy poll is planned at most interval x (1 + JITTER)
    ahead unless `stretched()` lengthened it (adaptive polling only shortens, backoff and
    Retry-After need a failure), so a longer gap can only be the server's hint.
    """
    if row is None or row.failures or row.gone or row.last_polled_at is None or row.next_poll_at is None:
        return None
    gap = (row.next_poll_at - row.last_polled_at).total_seconds()
    return gap if gap > feed.interval * (1 + JITTER) + 1.0 else None


def polled(state: FeedCondition) -> bool:
    """Return whether a feed in this state is polled at all (has a next poll to show)."""
    return state not in (FeedCondition.OFF, FeedCondition.GONE, FeedCondition.REMOVED)


def assess(
    feeds: Sequence[Feed],
    rows: Mapping[str, FeedStatus],
    *,
    now: datetime,
    last_poll: datetime | None,
    started: datetime | None = None,
    stopped: datetime | None = None,
    failing_channels: Mapping[str, int] | None = None,
    disabled_channels: Mapping[str, str] | None = None,
) -> Health:
    """Return the daemon's health from what it recorded in the archive.

    down: it stopped (cleanly) or has not polled for 3 of its shortest intervals while some feed is
    overdue; degraded: some feed fails, waits on Retry-After or is gone, or a channel fails; else healthy.
    """
    states = {f.name: feed_state(f, rows.get(f.name), now) for f in feeds}
    active = [f for f in feeds if polled(states[f.name])]
    reasons: list[str] = []
    code = HEALTHY
    if active:
        if last_poll is None:
            code = DOWN
            reasons.append("the daemon has not polled yet (is `press-monitor run` running?)")
        elif stopped is not None and (started is None or stopped >= started):
            code = DOWN
            reasons.append(f"the daemon stopped at {stopped:%Y-%m-%d %H:%M:%S} UTC")
        else:
            limit = DOWN_AFTER * min(f.interval for f in active)
            silent = (now - last_poll).total_seconds()
            overdue = [f.name for f in active if _overdue(f, rows.get(f.name), now)]
            if silent > limit and overdue:
                code = DOWN
                reasons.append(f"no poll for {_ago(silent)} (more than {DOWN_AFTER} intervals); "
                               f"{len(overdue)} feed(s) overdue")
    bad = {s: [n for n, v in states.items() if v == s]
           for s in (FeedCondition.FAILING, FeedCondition.WAITING, FeedCondition.GONE)}
    for state, names in bad.items():
        if names:
            reasons.append(f"{len(names)} feed(s) {state}: {', '.join(sorted(names))}")
    for name, reason in sorted((disabled_channels or {}).items()):
        reasons.append(f"channel {name} disabled: {reason}")
    for name, count in sorted((failing_channels or {}).items()):
        reasons.append(f"channel {name} failing: {count} alert(s) waiting for a retry")
    if code == HEALTHY and len(reasons) > 0:
        code = DEGRADED
    return Health(code, tuple(reasons), states)


def _overdue(feed: Feed, row: FeedStatus | None, now: datetime) -> bool:
    """Return whether a feed's planned poll is well past (a live daemon would have polled it)."""
    if row is None or row.next_poll_at is None:
        return True
    return (now - row.next_poll_at).total_seconds() > 2 * feed.interval


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
