"""Feeds: identity, conditional-GET validators, poll health, and the daemon's schedule.

feeds.item_hashes remembers the items of the last good body as JSON {raw item hash: sighting key}
(older archives: the hashes space-joined, keys unknown). The pipeline skips parsing an item whose
raw bytes it saw last time; this map is how such an item, or every item of a 304, still counts as
seen again (sightings.last_seen_at).

What the daemon remembers between polls and restarts, and what `status` reads back: the next poll,
Retry-After, 410 Gone and a permanent redirect under watch live in the feeds table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from monitor.store.base import Connection, chunks, in_list, opt_ts, parse_ts, ts
from monitor.store.rows import FEED_STATUS_SELECT, feed_status
from monitor.types import FeedState, FeedStatus

# When a sighting was last seen, for a query joining sightings `s` to feeds `f`: its own
# last_seen_at, or the feed's last good poll when that is later and the item is still in the
# feed's last good body (feeds.item_hashes), which is how a 304 counts as seen without a write.
SEEN_AT = ("CASE WHEN f.last_ok_at > s.last_seen_at AND s.key IN (SELECT value FROM json_each("
           "CASE WHEN f.item_hashes LIKE '{%' THEN f.item_hashes ELSE '{}' END))"
           " THEN f.last_ok_at ELSE s.last_seen_at END")


class FeedStore(Connection):
    def feed_id(self, name: str, url: str) -> int:
        """Return the feed's id, creating the row (or updating its URL) as needed."""
        row = self.one("SELECT id, url FROM feeds WHERE name = :name", {"name": name})
        if row is None:
            cur = self.run("INSERT INTO feeds (name, url) VALUES (:name, :url)", {"name": name, "url": url})
            new_id = cur.lastrowid
            assert new_id is not None
            return new_id
        if row["url"] != url:
            self.run("UPDATE feeds SET url = :url, etag = NULL, last_modified = NULL WHERE id = :id",
                     {"url": url, "id": row["id"]})
        feed_id: int = row["id"]
        return feed_id

    def feed_state(self, name: str, url: str) -> FeedState:
        """Return the validators for a conditional GET of this feed (empty if never polled or URL changed)."""
        row = self.one("SELECT url, etag, last_modified, item_hashes FROM feeds WHERE name = :name", {"name": name})
        if row is None or row["url"] != url:
            return FeedState(url=url)
        return FeedState(url=url, etag=row["etag"], last_modified=row["last_modified"],
                         items=frozenset(_item_keys(row["item_hashes"])))

    def record_poll(self, feed_id: int, now: datetime, *, error: str | None = None, error_kind: str | None = None,
                    etag: str | None = None, last_modified: str | None = None,
                    retry_after: float | None = None, items: frozenset[str] | None = None,
                    item_keys: Mapping[str, str] | None = None, not_modified: bool = False) -> None:
        """Record the outcome of one poll: validators and health on success, the error and streak on failure.

        items: the raw item hashes of this poll's body (None keeps the stored ones, e.g. on a 304).
        item_keys: {raw hash: sighting key} of the items this poll parsed.
        not_modified: the server answered 304, so every item of the last good body was seen again;
        that costs no sighting write (a sweep of 304s is the common case): SEEN_AT reads it back.
        Items seen again without being parsed get their sightings' last_seen_at refreshed here.
        """
        when = ts(now)
        stored = None
        if error is None and items is not None:
            row = self.one("SELECT item_hashes, last_ok_at FROM feeds WHERE id = :id", {"id": feed_id})
            stored = _item_keys(row["item_hashes"] if row else None)
            last_ok = parse_ts(row["last_ok_at"]) if row else None
            if last_ok is not None:
                # A 304 writes no sighting (see SEEN_AT): the last good body's items were seen at the
                # last good poll. Written down now, before this body replaces the list.
                self.touch_sightings(feed_id, [key for key in stored.values() if key], last_ok)
        if stored is not None and items is not None:
            parsed = item_keys or {}
            # An item not parsed this time was skipped as byte-for-byte the one of the last good body.
            self.touch_sightings(feed_id, [stored[h] for h in items if h not in parsed and stored.get(h)], now)
            new_map = {h: parsed.get(h) or stored.get(h, "") for h in sorted(items)}
            items_text: str | None = json.dumps(new_map, separators=(",", ":"))
        else:
            # A 304 (the whole last good body again) only moves last_ok_at: SEEN_AT reads it back.
            items_text = None
        if error is None:
            self.run(
                "UPDATE feeds SET last_polled_at = :now, last_ok_at = :now, last_error = NULL,"
                " last_error_kind = NULL, consecutive_failures = 0, retry_after_until = NULL,"
                " etag = coalesce(:etag, etag), last_modified = coalesce(:last_modified, last_modified),"
                " item_hashes = coalesce(:items, item_hashes) WHERE id = :id",
                {"now": when, "etag": etag, "last_modified": last_modified, "items": items_text, "id": feed_id},
            )
        else:
            until = None
            if retry_after:
                until = ts(datetime.fromtimestamp(now.timestamp() + retry_after, UTC))
            self.run(
                "UPDATE feeds SET last_polled_at = :now, last_error = :error, last_error_kind = :kind,"
                " consecutive_failures = consecutive_failures + 1, retry_after_until = :until WHERE id = :id",
                {"now": when, "error": error, "kind": error_kind, "until": until, "id": feed_id},
            )

    def touch_sightings(self, feed_id: int, keys: Iterable[str], now: datetime) -> None:
        """Record that the feed still carries these items (by sighting key): their last_seen_at becomes now."""
        for chunk in chunks(sorted(set(keys))):
            marks, params = in_list(chunk, "k")
            # (Rows already at `now`, e.g. inserted by this poll, are not rewritten.)
            self.run(f"UPDATE sightings SET last_seen_at = :now WHERE feed_id = :feed_id AND key IN ({marks})"
                     " AND last_seen_at < :now", {"now": ts(now), "feed_id": feed_id, **params})

    def feeds(self) -> list[FeedStatus]:
        """Return every feed the archive knows (configured or not any more), by name."""
        return [feed_status(r) for r in self.rows(f"{FEED_STATUS_SELECT} ORDER BY name")]

    # ------------------------------------------------------------------ the daemon's schedule

    def schedules(self, names: Sequence[str] | None = None) -> dict[str, FeedStatus]:
        """Return {feed name: FeedStatus} for these feeds (every feed the archive knows when None)."""
        if names is None:
            return {r["name"]: feed_status(r) for r in self.rows(FEED_STATUS_SELECT)}
        out: dict[str, FeedStatus] = {}
        for chunk in chunks(list(names)):
            marks, params = in_list(chunk)
            out.update((r["name"], feed_status(r))
                       for r in self.rows(f"{FEED_STATUS_SELECT} WHERE name IN ({marks})", params))
        return out

    def schedule(self, name: str) -> FeedStatus | None:
        return self.schedules([name]).get(name)

    def set_schedule(self, name: str, *, next_poll_at: datetime | None, gone: bool = False) -> None:
        """Record when the feed is polled next (None with gone=True: never, it answered 410 Gone)."""
        self.run("UPDATE feeds SET next_poll_at = :next, gone = :gone WHERE name = :name",
                 {"next": opt_ts(next_poll_at), "gone": int(gone), "name": name})

    def set_redirect(self, name: str, target: str | None, since: datetime | None) -> None:
        """Record the permanent redirect under watch (None clears it)."""
        self.run("UPDATE feeds SET redirect_to = :target, redirect_since = :since WHERE name = :name",
                 {"target": target, "since": opt_ts(since), "name": name})

    def adopt_url(self, name: str, url: str) -> None:
        """Replace a feed's stored URL (an adopted redirect); the old validators belong to the old URL."""
        self.run("UPDATE feeds SET url = :url, etag = NULL, last_modified = NULL, redirect_to = NULL,"
                 " redirect_since = NULL WHERE name = :name", {"url": url, "name": name})

    def recent_publications(self, name: str, *, since: datetime, limit: int = 20) -> list[datetime]:
        """Return the feed's latest known publication times since `since`, newest first."""
        rows = self.rows(
            "SELECT r.published_at FROM sightings s JOIN feeds f ON f.id = s.feed_id"
            " JOIN releases r ON r.id = s.release_id WHERE f.name = :name AND r.published_known = 1"
            " AND r.published_at >= :since ORDER BY r.published_at DESC LIMIT :limit",
            {"name": name, "since": ts(since), "limit": limit})
        return [when for r in rows if (when := parse_ts(r["published_at"])) is not None]


def _item_keys(text: str | None) -> dict[str, str]:
    """Return {raw item hash: sighting key ('' when unknown)} from feeds.item_hashes."""
    if not text:
        return {}
    if text.startswith("{"):
        value = json.loads(text)
        return {str(h): str(k) for h, k in value.items()} if isinstance(value, dict) else {}
    return dict.fromkeys(text.split(), "")  # written before the keys were kept
