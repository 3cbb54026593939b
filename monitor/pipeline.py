"""One feed through every stage.

    fetch      Fetcher.fetch(url, state)            -> Fetched (304: stop here, nothing parsed)
    digest     split into raw items, hash them, parse + normalize only the items the last good
               poll did not have (pure, picklable)   -> Digested: [Release], bozo, ttl, item hashes
    commit     ONE write transaction:
                 dedupe against the archive          -> new / revised / joined / seen
                 store releases + sightings + versions
                 match rules over the new and revised releases (and joined ones when a rule
                 filters by feed), in memory
                 store matches + outbox alerts for alertable releases
                 queue the pages of new releases (feeds with full_text, recent releases)
                 record the feed's state (validators, health)
    apply_page  a fetched release page (or why not), ONE write transaction: the page text becomes
               the release's body, it is matched again (only rules that had not matched alert)

The stages only: monitor/poller.py (FeedPoller) is the one poll driver, for `run --once`, the
daemon, the tests and the benchmarks; it adds what is due, per-host limits, the thread (and
process) pools and the recorded schedule. A failing feed becomes a PollResult with an error; it
never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from monitor import dedupe, spikes, stories
from monitor.clock import Clock
from monitor.config.units import format_duration as format_window
from monitor.errors import FeedError, PageError
from monitor.normalize import extract_tickers, find_dateline, normalize
from monitor.parse import MAX_ENTRIES, parse, split_items
from monitor.types import Feed, FeedState, Fetched, PollResult, Release, Settings

log = logging.getLogger(__name__)


class FetcherLike(Protocol):
    def fetch(self, url: str, state: FeedState | None = None) -> Fetched: ...


class RulesLike(Protocol):
    @property
    def rules(self) -> Sequence: ...  # each with .name, .notify, .feeds

    def match(self, docs: Sequence) -> list: ...
    def get(self, name: str): ...


@dataclass(frozen=True)
class Digested:
    items: tuple[Release, ...]
    bozo: str | None = None
    ttl: float | None = None
    unchanged: int = 0  # raw items skipped because the last good poll had them byte for byte
    item_hashes: frozenset[str] | None = None  # hashes of the raw items read or known (None: not split)
    item_keys: Mapping[str, str] = field(default_factory=dict)  # raw hash -> sighting key of the parsed items
    dropped: int = 0  # items beyond the parser's cap, not read this time
    fallback: str | None = None  # why feedparser, not the fast path, read the body


def digest(
    body: bytes, url: str, now: datetime, known: frozenset[str] = frozenset(), content_type: str | None = None
) -> Digested:
    """Return the normalized items of a feed body that are not in `known` (raises NotAFeed).

    A changed feed usually differs from the last poll by a few items at the top; parsing only those
    makes the work grow with the new items, not with the feed. Pure, so it can run in a worker process.
    content_type: the response's Content-Type, whose charset the parser tries first.
    """
    pieces = split_items(body)
    hashes: list[str] = []
    unchanged = 0
    if pieces is not None:
        head, chunks, tail = pieces
        hashes = [hashlib.blake2b(c.rstrip(), digest_size=8).hexdigest() for c in chunks]
        fresh = [c for c, h in zip(chunks, hashes, strict=True) if h not in known]
        if not fresh:
            return Digested((), unchanged=len(chunks), item_hashes=frozenset(hashes))
        unchanged = len(chunks) - len(fresh)
        if unchanged:
            body = head + b"".join(fresh) + tail
    parsed = parse(body, url=url, content_type=content_type)
    items = tuple(normalize(e, now=now) for e in parsed.entries)
    item_hashes = frozenset(hashes) if pieces is not None else None
    item_keys: dict[str, str] = {}
    if pieces is not None:
        fresh_hashes = [h for h in hashes if h not in known]
        if parsed.dropped:
            # Items beyond the cap were not read: leave them out of the known hashes so the next polls
            # read them (at most the cap per poll), instead of skipping them forever as "unchanged".
            fresh_hashes = fresh_hashes[: len(parsed.entries)]
            item_hashes = frozenset(h for h in hashes if h in known) | frozenset(fresh_hashes)
        # One entry per raw item read, in order: then each raw hash names its sighting (an item skipped
        # next time as unchanged is still known to be seen again). Otherwise leave the pairing unknown.
        if len(items) == len(fresh_hashes):
            item_keys = {h: i.sighting_key for h, i in zip(fresh_hashes, items, strict=True)}
    return Digested(items, parsed.bozo, parsed.ttl, unchanged=unchanged, item_hashes=item_hashes,
                    item_keys=item_keys, dropped=parsed.dropped, fallback=parsed.fallback)


@dataclass(frozen=True)
class Outcome:
    """What the network and parse stages made of one feed: a fetch (maybe 304) and its items, or an error."""

    feed: Feed
    fetched: Fetched | None = None
    digested: Digested | None = None
    error: FeedError | None = None
    elapsed: float = 0.0


def commit(store, outcome: Outcome, now: datetime, *, settings: Settings, rules: RulesLike,
           channels: frozenset[str] | None = None) -> PollResult:
    """Store one poll's outcome in one transaction; return what happened."""
    feed, fetched, digested, error, elapsed = (outcome.feed, outcome.fetched, outcome.digested,
                                               outcome.error, outcome.elapsed)
    with store.transaction():
        feed_id = store.feed_id(feed.name, feed.url)
        if error is not None:
            store.record_poll(feed_id, now, error=str(error), error_kind=error.kind, retry_after=error.retry_after)
            return PollResult(feed.name, error=str(error), error_kind=error.kind, retry_after=error.retry_after,
                              http_status=getattr(error, "status", None), elapsed=elapsed)
        assert fetched is not None
        if fetched.not_modified or digested is None:
            store.record_poll(feed_id, now, etag=fetched.etag, last_modified=fetched.last_modified,
                              not_modified=fetched.not_modified)
            return PollResult(feed.name, not_modified=True, max_age=fetched.max_age,
                              permanent_redirect=fetched.permanent_redirect, elapsed=elapsed)

        decisions = dedupe.decide(digested.items, store.known(feed_id, digested.items))
        counts = {kind: 0 for kind in dedupe.Kind}
        feed_filtered = any(r.feeds for r in rules.rules)
        ids: list[int] = []  # release id per decision
        to_match: set[int] = set()
        pages = 0
        # A cold start of a long feed must not send a page request per archived item.
        page_floor = now - timedelta(seconds=settings.full_text_max_age)
        seen: list[str] = []  # unchanged items: their sightings are only refreshed
        sightings: list[tuple[int, Release, bool]] = []  # (release, item, joined): written in one go below
        # The new releases go in as one batch (a round trip each on PostgreSQL cost more than the rest).
        new_ids = iter(store.insert_releases([d.item for d in decisions if d.kind is dedupe.Kind.NEW], feed.name, now))
        storied: list[Placed] = []  # new and revised releases: near-copies join their story (stories.py)
        story_floor = stories.floor(now, settings.alert_max_age)
        for d in decisions:
            counts[d.kind] += 1
            if d.kind is dedupe.Kind.NEW:
                rid = next(new_ids)
                sightings.append((rid, d.item, False))
                if d.item.published_at >= story_floor:
                    storied.append(Placed(rid, d.item.title, d.item.body or d.item.summary, d.item.published_at, True))
                to_match.add(rid)
                if feed.full_text and d.item.link and d.item.published_at >= page_floor:
                    pages += store.queue_page(rid, d.item.link, feed.name, feed.url, now)
            elif d.kind is dedupe.Kind.JOINED:
                rid = d.stored_id(ids)
                sightings.append((rid, d.item, True))
                # Only a rule with a `feeds` filter can newly accept a release because another feed
                # carries it; without such rules re-matching a third of a cold ingest is wasted work.
                if feed_filtered:
                    to_match.add(rid)
            elif d.kind is dedupe.Kind.REVISED:
                rid = d.stored_id(ids)
                store.revise_release(rid, d.item, now)
                store.update_sighting(feed_id, d.item, now)
                if d.item.published_at >= story_floor:
                    storied.append(Placed(rid, d.item.title, d.item.body or d.item.summary, d.item.published_at, None))
                to_match.add(rid)
                if feed.full_text:  # the release changed: so may its page
                    pages += store.requeue_page(rid, now)
            else:
                rid = d.stored_id(ids)
                seen.append(d.item.sighting_key)
            ids.append(rid)
        store.add_sightings(feed_id, feed.name, sightings, now)  # before matching: docs() read `source`
        place_in_stories(store, storied)  # before matching: an alert is once per story

        n_matches, n_alerts, n_old = _match_and_queue(store, sorted(to_match), now, settings, rules, channels)
        store.touch_sightings(feed_id, seen, now)
        store.record_poll(feed_id, now, etag=fetched.etag, last_modified=fetched.last_modified,
                          items=digested.item_hashes, item_keys=digested.item_keys)
    if digested.dropped:
        log.warning("feed %r: %d items beyond the cap of %d per poll not read this time", feed.name,
                    digested.dropped, MAX_ENTRIES)
    return PollResult(
        feed.name, new=counts[dedupe.Kind.NEW], revised=counts[dedupe.Kind.REVISED],
        seen=counts[dedupe.Kind.SEEN] + counts[dedupe.Kind.JOINED] + digested.unchanged,
        matches=n_matches, alerts=n_alerts, too_old=n_old,
        bozo=digested.bozo, max_age=fetched.max_age, ttl=digested.ttl,
        permanent_redirect=fetched.permanent_redirect, elapsed=elapsed, pages=pages,
        dropped=digested.dropped, parse_fallback=digested.fallback,
    )


@dataclass(frozen=True)
class PageOutcome:
    """What fetching one queued page gave: its text (and how it was read), or the PageError."""

    page_id: int
    release_id: int
    text: str | None = None
    method: str | None = None
    error: PageError | None = None
    attempts: int = 0  # attempts before this one
    boilerplate: str = ""  # the end matter cut from the text (About, contacts, safe harbor)
    quality: str = ""  # a page-quality flag ("anchor-missing"), "" when the text is trusted


@dataclass(frozen=True)
class PageResult:
    status: str  # done | skipped | failed | pending (to retry)
    matches: int = 0
    alerts: int = 0
    error: str | None = None
    retry_after: float | None = None


# After a passing failure a page is tried again after these delays; then it is failed.
PAGE_RETRIES = (60.0, 600.0, 3600.0)


def apply_page(store, outcome: PageOutcome, now: datetime, *, settings: Settings, rules: RulesLike,
               channels: frozenset[str] | None = None) -> PageResult:
    """Record one page attempt in one transaction; with text, make it the body and match again."""
    with store.transaction():
        error = outcome.error
        if error is not None:
            status, next_attempt = error.outcome, None
            if status == "retry":
                if outcome.attempts < len(PAGE_RETRIES):
                    wait = max(PAGE_RETRIES[outcome.attempts], error.retry_after or 0.0)
                    status, next_attempt = "pending", now + timedelta(seconds=wait)
                else:
                    status = "failed"
            store.finish_page(outcome.page_id, now, status=status, error=str(error), kind=error.kind,
                              next_attempt=next_attempt)
            return PageResult(status, error=str(error), retry_after=error.retry_after)
        if not outcome.text:
            store.finish_page(outcome.page_id, now, status="skipped", error="no release text found on the page",
                              kind="no-text", method=outcome.method)
            return PageResult("skipped", error="no release text found on the page")
        text = outcome.text
        # The dateline opens one of the first paragraphs (the page may start with a subtitle or byline).
        store.apply_page(outcome.release_id, text, find_dateline(text[:4000]), extract_tickers(text),
                         outcome.boilerplate)
        store.finish_page(outcome.page_id, now, status="done", method=outcome.method, quality=outcome.quality)
        # The page's lead may show what the feed's summary could not: that this is a copy of a story.
        published = store.published_at(outcome.release_id)
        if published >= stories.floor(now, settings.alert_max_age):
            title = next((d.title for d in store.docs([outcome.release_id])), "")
            place_in_stories(store, [Placed(outcome.release_id, title, text, published, None)])
        # add_match keeps the first match of a rule: only rules the feed text did not match alert now.
        n_matches, n_alerts, _ = _match_and_queue(store, [outcome.release_id], now, settings, rules, channels)
    return PageResult("done", matches=n_matches, alerts=n_alerts)


@dataclass(frozen=True)
class Placed:
    """A release whose text was just stored, to be placed in a story."""

    release_id: int
    title: str
    text: str
    published: datetime
    new: bool | None  # True: just inserted (alone); None: ask the archive whether it is alone


def place_in_stories(store, placed: Sequence[Placed]) -> int:
    """Join each release that is alone in its story to the story of its closest near-copy (stored or earlier
    in `placed`), and index its band keys; return how many joined a story.

    One lookup of the band keys and one of the candidates' texts for the whole batch (a cold ingest stores
    thousands of releases in one poll). Only the stories.MAX_COMPARED candidates sharing the most band keys
    are compared (the most bands shared, the closest the leads): a templated site shares bands with hundreds
    of its own releases, and comparing them all made a cold ingest several times slower (bench/README.md,
    issue 21). A release that already has copies (or is one) stays where it is: a revision or its page text
    only adds band keys, so a story never splits or chains into another.
    """
    sketched = [(p, sk) for p in placed if (sk := _sketch(p.release_id, p.title, p.text)) is not None]
    if not sketched:
        return 0
    holders = store.band_holders([k for _, sk in sketched for k in sk.bands])
    may_join = {p.release_id: p.new if p.new is not None else store.story_alone(p.release_id) for p, _ in sketched}
    closest = {p.release_id: _closest(p.release_id, sk, holders) for p, sk in sketched if may_join[p.release_id]}
    wanted = {rid for ids in closest.values() for rid in ids}
    texts = {}
    if wanted:
        start = min(p.published for p, _ in sketched) - stories.MAX_SKEW
        end = max(p.published for p, _ in sketched) + stories.MAX_SKEW
        texts = store.story_texts(wanted, start, end)
    batch: dict[int, list[int]] = {}  # band key -> releases of this batch holding it
    mine: dict[int, stories.Candidate] = {}  # this batch's releases, as candidates for the later ones
    joins: list[tuple[int, int]] = []
    bands: list[tuple[int, int]] = []
    for p, sk in sketched:
        rid = p.release_id
        if may_join[rid]:
            found: list[stories.Candidate] = []
            for other in closest[rid]:
                if other in texts:
                    story, title, text, published = texts[other]
                    found.append(stories.Candidate(other, story, published, _sketch(other, title, text)))
            found += [mine[other] for other in _closest(rid, sk, batch)]
            story_id = stories.pick(sk, p.published, found)
            if story_id is not None and story_id != rid:
                joins.append((rid, story_id))
        else:
            story_id = store.story_id(rid)
        mine[rid] = stories.Candidate(rid, story_id if story_id is not None else rid, p.published, sk)
        for k in sk.bands:
            batch.setdefault(k, []).append(rid)
            bands.append((rid, k))
    store.set_stories(joins)
    store.add_story_bands(bands)
    return len(joins)


def _closest(rid: int, sk: stories.Sketch, holders: Mapping[int, Sequence[int]]) -> list[int]:
    """The releases sharing the most band keys with the sketch (newest first among equals), at most MAX_COMPARED."""
    shared = Counter(other for k in sk.bands if k in holders for other in holders[k] if other != rid)
    if len(shared) <= stories.MAX_COMPARED:
        return list(shared)
    return sorted(shared, key=lambda other: (-shared[other], -other))[:stories.MAX_COMPARED]


# release id -> (hash of its title and text, sketch): a candidate is compared again and again while its story
# is news, and sketching it each time cost more than the rest of the lookup. The hash guards against a
# changed text and against another archive's release with the same id (tests open many in one process).
_SKETCHES: dict[int, tuple[int, stories.Sketch | None]] = {}
_SKETCHES_MAX = 50_000


def _sketch(rid: int, title: str, text: str) -> stories.Sketch | None:
    key = hash((title, text))
    hit = _SKETCHES.get(rid)
    if hit is not None and hit[0] == key:
        return hit[1]
    sk = stories.sketch(title, text)
    if len(_SKETCHES) >= _SKETCHES_MAX:
        _SKETCHES.clear()  # simpler than an LRU, and a cold start refills it in one poll
    _SKETCHES[rid] = (key, sk)
    return sk


def _match_and_queue(store, release_ids: list[int], now: datetime, settings: Settings, rules: RulesLike,
                     channels: frozenset[str] | None) -> tuple[int, int, int]:
    """Match the batch, record new matches, queue alerts for alertable releases; return the counts
    (matches, alerts, matches of notifying rules too old to alert)."""
    if not release_ids:
        return 0, 0, 0
    oldest = now - timedelta(seconds=settings.alert_max_age)
    n_old = 0
    spiking: dict[str, object] = {}  # rules with a `spike` setting that gained matches: checked below
    # Matches, dates and alerts each in one go (batched store calls: one round trip, not one per match).
    matched = list(rules.match(store.docs(release_ids)))
    fresh = store.add_matches([(m.key, m.rule, m.snippet) for m in matched], now)  # this rule matched anew
    published = store.published_ats({m.key for m in matched if (m.key, m.rule) in fresh})
    alerts: list[tuple[int, str, str]] = []
    queued: set[tuple[int, str, str]] = set()  # (story, rule, channel) alerted in this batch
    for m in matched:
        if (m.key, m.rule) not in fresh:
            continue  # this rule already matched this release (e.g. before a revision): no new alert
        rule = rules.get(m.rule)
        if rule is None:
            continue
        spike = getattr(rule, "spike", None)
        # Only a match inside the window can raise its count: a backlog of older releases (a cold
        # start) costs no spike check, which reads the rule's last 15 days of matches.
        if spike is not None and rule.notify and published[m.key] >= now - timedelta(seconds=spike.window):
            spiking[rule.name] = rule
        if published[m.key] < oldest:
            # Old news archives quietly: a backlog or a resurfaced item must not flood anyone.
            n_old += bool(rule.notify)
            continue
        # Once per story (the default): a near-copy of a release this rule already alerted for records
        # its match (search and the rule's page show it) but queues no second alert to the same channel,
        # neither from an earlier commit (story_alerted) nor from this batch (queued).
        story = store.story_id(m.key) if rule.once_per == "story" else None
        for channel in rule.notify:
            if channels is not None and channel not in channels:
                continue
            if story is not None:
                if (story, m.rule, channel) in queued or store.story_alerted(story, m.key, m.rule, channel):
                    continue
                queued.add((story, m.rule, channel))
            alerts.append((m.key, m.rule, channel))
    n_matches, n_alerts = len(fresh), store.add_alerts(alerts, now)
    for rule in spiking.values():
        n_alerts += _check_spike(store, rule, now, channels)
    return n_matches, n_alerts, n_old


def _check_spike(store, rule, now: datetime, channels: frozenset[str] | None) -> int:
    """Queue a rule.spike alert when the rule's matches jumped (spikes.decide); return the alerts queued.

    Checked in the transaction that added the matches, so the count and the at-most-one-per-window
    check see exactly what is committed with them (one writer at a time on both backends).
    """
    when = spikes.span(rule.spike, now)
    count, base = store.spike_counts(rule.name, when.base_start, when.start)
    found = spikes.decide(rule.name, rule.spike, when, count, base, store.last_spike_at(rule.name))
    if found is None:
        return 0
    found = replace(found, release_ids=store.spike_releases(rule.name, when.start))
    targets = [c for c in rule.notify if channels is None or c in channels]
    log.info("rule %r: spike of %d matches in %s (baseline %.2f)", rule.name, found.count,
             format_window(rule.spike.window), found.baseline)
    return store.add_spike(found, targets, now)


def fetch(feed: Feed, state: FeedState, *, fetcher: FetcherLike, clock: Clock) -> Outcome:
    """The network half of a poll: fetch one feed; return the Outcome, not yet digested (errors
    included, never raised)."""
    start = clock.monotonic()
    try:
        fetched = fetcher.fetch(feed.url, state)
    except Exception as exc:  # noqa: BLE001 - one feed's failure (or bug) must not stop the others
        return Outcome(feed, error=_as_feed_error(exc), elapsed=clock.monotonic() - start)
    return Outcome(feed, fetched, elapsed=clock.monotonic() - start)


def gather(feed: Feed, state: FeedState, *, fetcher: FetcherLike, clock: Clock) -> Outcome:
    """Fetch and digest one feed in the calling thread; return the Outcome (never raises)."""
    return digest_fetched(fetch(feed, state, fetcher=fetcher, clock=clock), state, clock=clock)


def digest_fetched(outcome: Outcome, state: FeedState, *, clock: Clock) -> Outcome:
    """The CPU half: digest a fetched body, in the calling thread (parsing in worker processes was
    measured slower for `run --once`: bench/README.md, issue 20); return the Outcome (never raises)."""
    fetched = outcome.fetched
    if fetched is None or fetched.not_modified:
        return outcome
    start = clock.monotonic()
    try:
        args = (fetched.body, fetched.final_url, clock.now(), state.items, fetched.content_type)
        digested = digest(*args)
    except Exception as exc:  # noqa: BLE001 - as in fetch()
        return Outcome(outcome.feed, error=_as_feed_error(exc), elapsed=outcome.elapsed + clock.monotonic() - start)
    return Outcome(outcome.feed, fetched, digested, elapsed=outcome.elapsed + clock.monotonic() - start)


def _as_feed_error(exc: BaseException) -> FeedError:
    """Return the FeedError to record; an unexpected exception is logged with its traceback first."""
    if isinstance(exc, FeedError):
        return exc
    log.error("internal error while polling", exc_info=exc)
    error = FeedError(f"internal error: {type(exc).__name__}: {exc}")
    error.kind = "internal"
    return error
