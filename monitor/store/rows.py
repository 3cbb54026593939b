"""What the archive hands back: one frozen dataclass per concept, each built from a row by column name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.store.base import Row, must_ts, parse_ts
from monitor.types import AlertStatus, FeedStatus, ReleaseView


def feed_status(r: Row) -> FeedStatus:
    """Build a FeedStatus from a row of FEED_STATUS_SELECT."""
    return FeedStatus(
        name=r["name"], url=r["url"], etag=r["etag"], last_modified=r["last_modified"],
        last_polled_at=parse_ts(r["last_polled_at"]), last_ok_at=parse_ts(r["last_ok_at"]),
        last_error=r["last_error"], last_error_kind=r["last_error_kind"], failures=r["consecutive_failures"] or 0,
        next_poll_at=parse_ts(r["next_poll_at"]), retry_after_until=parse_ts(r["retry_after_until"]),
        gone=bool(r["gone"]), redirect_to=r["redirect_to"], redirect_since=parse_ts(r["redirect_since"]),
        entries=r["entries"] or 0,
    )


FEED_STATUS_SELECT = (
    "SELECT name, url, etag, last_modified, last_polled_at, last_ok_at, last_error, last_error_kind,"
    " consecutive_failures, next_poll_at, retry_after_until, gone, redirect_to, redirect_since, entries FROM feeds"
)

# The names the two halves of FeedStatus had before they were one type.
FeedRow = FeedStatus
Schedule = FeedStatus


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    url: str
    published: datetime
    snippet: str
    rank: float

    @classmethod
    def from_row(cls, r: Row) -> Hit:
        return cls(id=r["id"], title=r["title"], url=r["url"] or "", published=must_ts(r["published_at"]),
                   snippet=r["snippet"] or "", rank=r["rank"])


@dataclass(frozen=True)
class Sighting:
    feed: str
    key: str
    link: str
    first_seen: datetime
    last_seen: datetime

    @classmethod
    def from_row(cls, r: Row) -> Sighting:
        return cls(feed=r["feed"], key=r["key"], link=r["link"] or "", first_seen=must_ts(r["first_seen_at"]),
                   last_seen=must_ts(r["last_seen_at"]))


@dataclass(frozen=True)
class Version:
    title: str
    summary: str
    body: str
    replaced_at: datetime

    @classmethod
    def from_row(cls, r: Row) -> Version:
        return cls(title=r["title"], summary=r["summary"] or "", body=r["body"] or "",
                   replaced_at=must_ts(r["replaced_at"]))


@dataclass(frozen=True)
class MatchRow:
    rule: str
    snippet: str
    matched_at: datetime

    @classmethod
    def from_row(cls, r: Row) -> MatchRow:
        return cls(rule=r["rule"], snippet=r["snippet"] or "", matched_at=must_ts(r["matched_at"]))


@dataclass(frozen=True)
class OutboxRow:
    id: int
    alert_id: str
    release_id: int | None  # None for a rule.spike alert (spike_id)
    rule: str
    channel: str
    status: AlertStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    digest_id: str | None
    title: str  # the release's title, or "spike: N matches" for a spike
    spike_id: int | None = None
    group_id: str | None = None  # the message id it was last sent under with other rows of its release

    @classmethod
    def from_row(cls, r: Row, install_id: str) -> OutboxRow:
        spike = r["spike_id"]
        title = f"spike: {r['spike_matches']} matches" if spike is not None else r["title"] or ""
        return cls(id=r["id"], alert_id=f"pm-{install_id}-{r['id']}", release_id=r["release_id"], rule=r["rule"],
                   channel=r["channel"], status=AlertStatus(r["status"]), attempts=r["attempts"],
                   next_attempt_at=parse_ts(r["next_attempt_at"]), last_error=r["last_error"],
                   created_at=must_ts(r["created_at"]), sent_at=parse_ts(r["sent_at"]), digest_id=r["digest_id"],
                   title=title, spike_id=spike, group_id=r["group_id"])


@dataclass(frozen=True)
class ReleaseDetail:
    view: ReleaseView
    body: str
    updated: datetime
    sightings: tuple[Sighting, ...]
    versions: tuple[Version, ...]
    matches: tuple[MatchRow, ...]
    boilerplate: str = ""  # the end matter cut from the page text (About, contacts, safe harbor): not searched
    page_quality: str = ""  # the page-quality flag of its page ("anchor-missing"), "" when trusted or none


@dataclass(frozen=True)
class StoryCopy:
    """One release of a story (monitor/stories.py), as `show`, the web page and the API list it."""

    id: int
    title: str
    url: str
    source: str  # the feed that first carried it
    wire: str  # the wire its dateline names, "" when none
    published: datetime
    first_seen: datetime


@dataclass(frozen=True)
class Story:
    """A story: its id (its first copy's release id) and every copy, first seen first."""

    id: int
    copies: tuple[StoryCopy, ...]
