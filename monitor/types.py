"""The values handed from one stage to the next. All frozen; all datetimes UTC-aware.

config.load()      -> Config (Settings, Feed, RuleSpec, ChannelSpec)
fetch.fetch()      -> Fetched                 (or raises a FeedError)
parse.parse()      -> ParsedFeed of Entry     (or raises NotAFeed)
normalize.normalize() -> Release              (one feed item, cleaned, identity keys computed)
rules              -> Match per (doc, rule)   (docs are Doc: the searchable columns of a release)
pipeline.commit()   -> PollResult            (poller.FeedPoller drives fetch, digest and commit)
deliver            -> Notice (what a channel renders) built from the outbox
store              -> FeedStatus (a feed's recorded health and schedule), AlertStatus (an outbox row's state)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# The searchable columns, in FTS order. store/schema.py (archive index) and rules/fts.py (in-memory
# batch index) both build their FTS5 tables from these two constants, over text folded by fold.py,
# so that a query means the same thing in both places.
FTS_COLUMNS: tuple[str, ...] = ("title", "summary", "body", "author", "dateline", "tickers", "source")
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"


# --------------------------------------------------------------------------- config


class Secret(str):
    """A secret string (webhook secret, SMTP password): usable as a str, never shown by repr()."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class ServerDatabase:
    """An archive on a PostgreSQL server: `[monitor] database` (or `database_env`) as a postgresql:// URL.

    The URL goes to libpq untouched, so libpq's PG* variables and ~/.pgpass fill in what it leaves
    out; str() shows it without its password (logs, `check`, `run --once`'s header).
    """

    url: str = field(repr=False)

    def __str__(self) -> str:
        return _PASSWORD.sub(r"\1***", _QUERY_PASSWORD.sub(r"\1***", self.url))

    def __repr__(self) -> str:
        return f"ServerDatabase({str(self)!r})"


# The password of a URL (postgresql://user:secret@host/db) and a password=… query parameter.
_PASSWORD = re.compile(r"^([a-z]+://[^/@:]*:)[^/@]*(?=@)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)

# Where the archive lives: an SQLite file, or a PostgreSQL database.
Database = Path | ServerDatabase


@dataclass(frozen=True)
class Settings:
    """[monitor]: durations in seconds, sizes in bytes, paths absolute."""

    database: Database
    user_agent: str = "press-monitor/0.1 (+https://github.com/press-monitor)"
    poll_interval: float = 300.0
    timeout: float = 20.0
    max_feed_bytes: int = 15_000_000
    alert_max_age: float = 2 * 86400.0
    log_level: str = "INFO"
    timezone: str = "UTC"  # used for "daily HH:MM" digests
    display_timezone: str = "UTC"  # the web view shows dates in it
    retention: float | None = None  # seconds; None keeps releases forever
    # Release pages (full text): see monitor.pagefetch.
    full_text_max_age: float = 2 * 86400.0  # pages are queued only for releases published this recently
    max_page_bytes: int = 5_000_000
    page_delay: float = 1.0  # seconds between two requests to one host
    allow_private_networks: tuple[str, ...] = ()  # CIDRs page links may resolve into
    # Several daemons on one archive (issue 19): how long a node's claim on a feed, page, alert, host or
    # job lasts without renewal, i.e. how soon the others take over from a node that died.
    lease: float = 30.0


@dataclass(frozen=True)
class Feed:
    """One [[feeds]] entry. interval is already resolved (feed's own, else poll_interval)."""

    name: str
    url: str
    interval: float
    enabled: bool = True
    adaptive: bool = False
    min_interval: float | None = None
    full_text: bool = False  # fetch each new release's page (config default: true for http(s) feeds)


@dataclass(frozen=True)
class RuleSpec:
    """One [[rules]] entry as written; rules.compile_rules() validates and compiles it."""

    name: str
    query: str
    notify: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    regex: str | None = None
    enabled: bool = True
    spike: SpikeSpec | None = None  # alert when the rule's matches jump (`spike = { factor, min, window }`)
    once_per: str = "story"  # "story": one alert per story (monitor/stories.py); "release": every near-copy


@dataclass(frozen=True)
class SpikeSpec:
    """A rule's `spike` table: alert when its matches in the last `window` reach `min` and `factor` times
    its baseline (the previous BASELINE_DAYS days' daily mean, scaled to the window): monitor/spikes.py."""

    factor: float = 3.0
    min: int = 5
    window: float = 86400.0  # seconds


@dataclass(frozen=True)
class Digest:
    """A `digest` schedule, parsed once: one message every `every` seconds, or daily at `at`.

    Interval digests cut time into fixed slots counted from the Unix epoch (UTC); "daily HH:MM"
    ends at the next HH:MM in the configured time zone. `text` is the schedule as config.toml
    would write it ("1h", "daily 08:30").
    """

    text: str
    every: float | None = None
    at: time | None = None

    def __str__(self) -> str:
        return self.text

    def period_end(self, created: datetime, tz: str) -> datetime:
        """Return the end of the digest period an alert created at `created` belongs to."""
        if self.at is not None:
            zone = ZoneInfo(tz)
            local = created.astimezone(zone)
            end = datetime.combine(local.date(), self.at, tzinfo=zone)
            if end <= local:
                end = datetime.combine(local.date() + timedelta(days=1), self.at, tzinfo=zone)
            return end.astimezone(created.tzinfo)
        assert self.every is not None
        return datetime.fromtimestamp((created.timestamp() // self.every + 1) * self.every, created.tzinfo)


@dataclass(frozen=True)
class ChannelSpec:
    """One [channels.NAME] table. `options` is the type's options value from channel_options.py
    (ConsoleOptions, WebhookOptions, EmailOptions), already validated."""

    name: str
    type: str  # a key of channel_options.OPTIONS
    digest: Digest | None = None
    enabled: bool = True
    options: Any = None


@dataclass(frozen=True)
class Config:
    path: Path
    settings: Settings
    feeds: tuple[Feed, ...] = ()
    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: tuple[RuleSpec, ...] = ()
    channels: Mapping[str, ChannelSpec] = field(default_factory=dict)


# --------------------------------------------------------------------------- fetch / parse


@dataclass(frozen=True)
class FeedState:
    """What the archive remembers about a feed between polls (for conditional GET)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    items: frozenset[str] = frozenset()  # hashes of the raw <item>/<entry> chunks of the last good poll


@dataclass(frozen=True)
class Fetched:
    """A successful HTTP exchange (2xx or 304)."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    retry_after: float | None = None  # seconds
    permanent_redirect: str | None = None  # target of a 301/308 on the first hop, if any
    max_age: float | None = None  # Cache-Control max-age, seconds
    elapsed: float = 0.0
    content_type: str | None = None  # the response's Content-Type (its charset is the parser's first guess)


@dataclass(frozen=True)
class Entry:
    """One feed item as the feed wrote it (HTML still in it). Nothing of feedparser leaks."""

    guid: str | None
    link: str | None
    title: str
    summary: str  # HTML or text
    content: str  # HTML or text; the full body when the feed has one, else ""
    author: str
    published: datetime | None  # UTC
    updated: datetime | None  # UTC


@dataclass(frozen=True)
class ParsedFeed:
    entries: tuple[Entry, ...]
    title: str = ""
    ttl: float | None = None  # RSS <ttl>, seconds
    bozo: str | None = None  # why the XML was malformed, when feedparser recovered entries anyway
    dropped: int = 0  # items beyond parse.MAX_ENTRIES, not read
    fallback: str | None = None  # why the fast path left the document to feedparser (None: it read it)


@dataclass(frozen=True)
class Dateline:
    place: str
    date: date | None
    wire: str


@dataclass(frozen=True)
class Release:
    """One feed item, normalized: plain text, canonical URL, UTC dates, identity keys."""

    sighting_key: str  # guid, else link, else hash of title+published (unique within one feed)
    url: str  # canonical URL ("" when the item has no link)
    link: str  # the link exactly as the feed gave it
    title: str
    summary: str
    body: str
    author: str
    published_at: datetime  # UTC; first-seen time when missing or impossible
    published_known: bool  # False when published_at is the first-seen fallback
    dateline: Dateline | None
    tickers: tuple[str, ...]
    fingerprint: str  # normalized title + start of body, hashed
    content_hash: str  # hash of every stored field: a change means a revision

    @property
    def dateline_text(self) -> str:
        d = self.dateline
        if d is None:
            return ""
        return " ".join(p for p in (d.place, d.date.isoformat() if d.date else "", d.wire) if p)


@dataclass(frozen=True)
class Candidate:
    """A stored release whose fingerprint equals an item's (dedupe joins it only if it can be the same release)."""

    id: int
    url: str
    published: datetime | None  # None when the release's date is unknown


@dataclass(frozen=True)
class Known:
    """What the archive already holds for one batch (only the keys the batch asks about)."""

    sightings: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # key -> (release id, hash)
    urls: Mapping[str, int] = field(default_factory=dict)  # canonical URL -> release id
    fingerprints: Mapping[str, Sequence[Candidate]] = field(default_factory=dict)


@dataclass(frozen=True)
class Doc:
    """What a rule sees of one release: the FTS_COLUMNS as text. key identifies it in the batch."""

    key: int
    title: str = ""
    summary: str = ""
    body: str = ""
    author: str = ""
    dateline: str = ""
    tickers: str = ""
    feeds: tuple[str, ...] = ()  # names of the feeds that carry the release (rule `feeds` filter)

    @property
    def source(self) -> str:
        """The `source` column: feed names, one per line."""
        return "\n".join(self.feeds)

    def columns(self) -> tuple[str, ...]:
        return (self.title, self.summary, self.body, self.author, self.dateline, self.tickers, self.source)


@dataclass(frozen=True)
class Match:
    key: int  # Doc.key
    rule: str
    snippet: str  # matched terms wrapped in [ ]


@dataclass(frozen=True)
class PollResult:
    feed: str
    new: int = 0
    revised: int = 0
    seen: int = 0  # items already stored unchanged, or joined to a release from another feed
    matches: int = 0
    alerts: int = 0
    too_old: int = 0  # new matches that queued no alert: published before alert_max_age
    not_modified: bool = False
    error: str | None = None  # "timeout after 20s" etc.; None on success
    error_kind: str | None = None
    bozo: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait (429/503)
    http_status: int | None = None  # status of a failed HTTP answer (410 means gone for good)
    max_age: float | None = None  # Cache-Control max-age of a successful answer
    ttl: float | None = None  # RSS <ttl>, seconds
    permanent_redirect: str | None = None  # where a 301/308 pointed
    elapsed: float = 0.0
    dropped: int = 0  # items beyond the per-poll cap (parse.MAX_ENTRIES), left for later polls
    parse_fallback: str | None = None  # why feedparser, not the fast path, read the feed (None: fast or unparsed)
    pages: int = 0  # release pages queued for fetching

    @property
    def ok(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class Source:
    feed: str
    url: str


@dataclass(frozen=True)
class ReleaseView:
    """A stored release as alerts and exports show it."""

    id: int
    title: str
    url: str
    published: datetime
    first_seen: datetime
    author: str
    summary: str
    dateline: Dateline | None
    tickers: tuple[str, ...]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Notice:
    """One alert ready to render: the outbox row plus the release it is about."""

    alert_id: str  # stable across retries: webhook-id, Message-ID
    rule: str
    channel: str
    snippet: str
    release: ReleaseView
    test: bool = False  # made up by `alerts test`: its own webhook event type (release.test)


@dataclass(frozen=True)
class Spike:
    """A rule's matches jumped (spikes.decide): what the `spikes` table records and a rule.spike alert says."""

    rule: str
    start: datetime  # the window: releases published from start ...
    end: datetime  # ... to end (when it was detected)
    count: int  # the rule's matches published in the window
    baseline: float  # matches expected in one window: the previous 14 days' daily mean x the window in days
    factor: float
    min: int
    release_ids: tuple[int, ...] = ()  # the top releases of the window, most carried first


@dataclass(frozen=True)
class SpikeNotice:
    """A rule.spike alert ready to render: the spike and its top releases (a channel sends it alone)."""

    alert_id: str  # stable across retries: webhook-id, Message-ID
    channel: str
    spike: Spike
    releases: tuple[ReleaseView, ...]

    @property
    def rule(self) -> str:
        return self.spike.rule


AnyNotice = Notice | SpikeNotice  # what Channel.send takes: release alerts (one release, or a digest) or one spike


# --------------------------------------------------------------------------- feed health, outbox states


class FeedCondition(StrEnum):
    """The one word `feeds`, `status` and the web view show for a feed (schedule.feed_state decides it)."""

    OK = "ok"
    FAILING = "failing"  # the last poll(s) failed; retried with backoff
    WAITING = "waiting"  # the server asked us to wait (Retry-After) and the time has not come
    GONE = "gone"  # it answered 410 Gone: never polled again until its URL changes
    NEW = "new"  # configured but never polled
    OFF = "off"  # enabled = false in config.toml
    REMOVED = "removed"  # in the archive, no longer in config.toml


@dataclass(frozen=True)
class FeedStatus:
    """One feed's row in the archive: validators, poll health, schedule and sightings count."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    failures: int = 0  # consecutive failed polls
    next_poll_at: datetime | None = None
    retry_after_until: datetime | None = None
    gone: bool = False
    redirect_to: str | None = None  # a permanent redirect under watch
    redirect_since: datetime | None = None
    entries: int = 0  # sightings from this feed

    @property
    def consecutive_failures(self) -> int:
        """`failures`, under the feeds table's column name."""
        return self.failures


class AlertStatus(StrEnum):
    """An outbox row's state (stored as these strings in alerts.status)."""

    PENDING = "pending"  # waiting for its (next) attempt
    SENT = "sent"  # a channel accepted it
    DEAD = "dead"  # retries ran out (or its channel is gone); `alerts retry` requeues it
