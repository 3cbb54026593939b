"""Ingest: what one poll writes, inside its transaction (releases, sightings, versions, matches, alerts).

Dedupe asks `known()` what the archive holds for a batch, decides, and the pipeline writes through
the other methods here; rules read the new releases back as `docs()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from monitor.errors import StoreError
from monitor.store.base import Connection, chunks, in_list, must_ts, parse_ts, tickers, ts
from monitor.types import FTS_COLUMNS, AlertStatus, Candidate, Doc, Known, Release


def _release_columns(item: Release) -> dict[str, object]:
    """The columns of `releases` that come from a feed item, as named parameters."""
    d = item.dateline
    return {
        "url": item.url, "title": item.title, "summary": item.summary, "body": item.body, "author": item.author,
        "dateline": item.dateline_text, "tickers": json.dumps(list(item.tickers)),
        "published_at": ts(item.published_at), "published_known": int(item.published_known),
        "dateline_place": d.place if d else None, "dateline_date": d.date.isoformat() if d and d.date else None,
        "wire": d.wire if d else None, "fingerprint": item.fingerprint, "content_hash": item.content_hash,
    }


class IngestStore(Connection):
    def known(self, feed_id: int, items: Sequence[Release]) -> Known:
        """Return what the archive holds for this batch's sighting keys, canonical URLs and fingerprints."""
        sightings: dict[str, tuple[int, str]] = {}
        for chunk in chunks([i.sighting_key for i in items]):
            marks, params = in_list(chunk)
            for r in self.rows(f"SELECT key, release_id, content_hash FROM sightings"
                               f" WHERE feed_id = :feed_id AND key IN ({marks})", {"feed_id": feed_id, **params}):
                sightings[r["key"]] = (r["release_id"], r["content_hash"])
        urls: dict[str, int] = {}
        for chunk in chunks(sorted({i.url for i in items if i.url})):
            marks, params = in_list(chunk)
            for r in self.rows(f"SELECT url, min(id) AS id FROM releases WHERE url IN ({marks}) GROUP BY url", params):
                urls[r["url"]] = r["id"]
        fps: dict[str, list[Candidate]] = {}
        for chunk in chunks(sorted({i.fingerprint for i in items})):
            marks, params = in_list(chunk)
            for r in self.rows(f"SELECT fingerprint, id, url, published_at, published_known FROM releases"
                               f" WHERE fingerprint IN ({marks}) ORDER BY id", params):
                when = parse_ts(r["published_at"]) if r["published_known"] else None
                fps.setdefault(r["fingerprint"], []).append(Candidate(r["id"], r["url"] or "", when))
        return Known(sightings, urls, fps)

    def insert_release(self, item: Release, feed_name: str, now: datetime) -> int:
        """Insert a new release first seen in `feed_name`; return its id."""
        return self.insert_releases([item], feed_name, now)[0]

    def insert_releases(self, items: Sequence[Release], feed_name: str, now: datetime) -> list[int]:
        """Insert a poll's new releases first seen in `feed_name` in one go; return their ids, in order.

        The ids are taken first (dialect.new_ids), then the rows go in as one batch: on PostgreSQL a
        pipelined executemany, where an `INSERT … RETURNING id` per release cost a round trip each
        (bench/README.md, "PostgreSQL beside SQLite"). On PostgreSQL the row also carries its search
        vector, so the index flush at COMMIT has nothing left to do for it (pgschema.pg_ingest).
        """
        if not items:
            return []
        if self.driver.in_transaction:  # the poll's, holding the write lock
            return self._insert_releases(items, feed_name, now)
        with self.transaction():  # the ids are free only under the write lock
            return self._insert_releases(items, feed_name, now)

    def _insert_releases(self, items: Sequence[Release], feed_name: str, now: datetime) -> list[int]:
        ids = [int(r["id"]) for r in self.rows(self.dialect.new_ids("releases"), {"n": len(items)})]
        if len(ids) != len(items):
            raise StoreError(f"{self.path}: asked for {len(items)} release ids, got {len(ids)}")
        ids.sort()  # taken under the write lock: ascending, so ids still follow insertion order
        when = ts(now)
        rows = [{**_release_columns(item), "id": rid, "source": feed_name, "now": when}
                for rid, item in zip(ids, items, strict=True)]
        column, value = "", ""
        if (search := self.dialect.search_column()) is not None:
            from monitor.store.pgsearch import tsvector  # PostgreSQL only: FTS5 indexes SQLite's rows itself
            column, value = f", {search}", f", CAST(:{search} AS tsvector)"
            for row in rows:
                row[search] = tsvector([cast("str | None", row[c]) for c in FTS_COLUMNS])
        self.run_many(
            "INSERT INTO releases (id, url, title, summary, body, author, dateline, tickers, source, published_at,"
            f" published_known, first_seen_at, updated_at, dateline_place, dateline_date, wire, fingerprint,"
            f" content_hash{column}) VALUES (:id, :url, :title, :summary, :body, :author, :dateline, :tickers,"
            " :source, :published_at, :published_known, :now, :now, :dateline_place, :dateline_date, :wire,"
            f" :fingerprint, :content_hash{value})",
            rows,
        )
        return ids

    def revise_release(self, release_id: int, item: Release, now: datetime) -> None:
        """Keep the current text in release_versions, then replace it with the item's."""
        self.run(
            "INSERT INTO release_versions (release_id, title, summary, body, author, published_at, content_hash,"
            " replaced_at) SELECT id, title, summary, body, author, published_at, content_hash, :now FROM releases"
            " WHERE id = :id",
            {"now": ts(now), "id": release_id},
        )
        # An item without a real date keeps the release's stored one. A fetched page stays the body
        # until the page is fetched again (PageStore.requeue_page): the revised feed text is the summary.
        self.run(
            "UPDATE releases SET title = :title, summary = :summary, body = CASE WHEN EXISTS (SELECT 1 FROM pages"
            " WHERE release_id = releases.id AND status = 'done') THEN body ELSE :body END, author = :author,"
            " dateline = :dateline, tickers = :tickers,"
            " published_at = CASE WHEN :published_known = 1 THEN :published_at ELSE published_at END,"
            " updated_at = :now, dateline_place = :dateline_place, dateline_date = :dateline_date, wire = :wire,"
            " fingerprint = :fingerprint, content_hash = :content_hash WHERE id = :id",
            {**_release_columns(item), "now": ts(now), "id": release_id},
        )

    def add_sighting(self, feed_id: int, feed_name: str, release_id: int, item: Release, now: datetime) -> None:
        """Record that a feed carries a release; add the feed's name to the release's `source` column."""
        self.add_sightings(feed_id, feed_name, [(release_id, item, True)], now)

    def add_sightings(self, feed_id: int, feed_name: str, sightings: Sequence[tuple[int, Release, bool]],
                      now: datetime) -> None:
        """Record that a feed carries these (release id, item, joined) in one go.

        joined: the release may have been stored from another feed, so the feed's name is added to
        its `source` column (if missing). False for a release this feed's poll just inserted, whose
        `source` is this feed already: that saves a statement per new release.
        """
        if not sightings:
            return
        when = ts(now)
        self.run_many(
            "INSERT INTO sightings (feed_id, release_id, key, link, content_hash, first_seen_at, last_seen_at)"
            " VALUES (:feed_id, :rid, :key, :link, :content_hash, :now, :now)",
            [{"feed_id": feed_id, "rid": rid, "key": item.sighting_key, "link": item.link,
              "content_hash": item.content_hash, "now": when} for rid, item, _ in sightings],
        )
        self.run("UPDATE feeds SET entries = entries + :n WHERE id = :id", {"n": len(sightings), "id": feed_id})
        nl = self.dialect.newline()
        listed = self.dialect.contains(f"{nl} || source || {nl}", f"{nl} || :feed || {nl}")
        self.run_many(
            f"UPDATE releases SET source = source || {nl} || :feed WHERE id = :id AND NOT ({listed})",
            [{"feed": feed_name, "id": rid} for rid, _, joined in sightings if joined],
        )

    def update_sighting(self, feed_id: int, item: Release, now: datetime) -> None:
        self.run(
            "UPDATE sightings SET content_hash = :content_hash, link = :link, last_seen_at = :now"
            " WHERE feed_id = :feed_id AND key = :key",
            {"content_hash": item.content_hash, "link": item.link, "now": ts(now), "feed_id": feed_id,
             "key": item.sighting_key},
        )

    def docs(self, release_ids: Iterable[int]) -> list[Doc]:
        """Return the searchable columns of these releases as Docs keyed by release id."""
        out: list[Doc] = []
        for chunk in chunks(sorted(set(release_ids))):
            marks, params = in_list(chunk)
            for r in self.rows(f"SELECT id, title, summary, body, author, dateline, tickers, source FROM releases"
                               f" WHERE id IN ({marks})", params):
                out.append(Doc(key=r["id"], title=r["title"] or "", summary=r["summary"] or "",
                               body=r["body"] or "", author=r["author"] or "", dateline=r["dateline"] or "",
                               tickers=" ".join(tickers(r["tickers"])), feeds=tuple((r["source"] or "").split("\n"))))
        return out

    def add_match(self, release_id: int, rule: str, snippet: str, now: datetime) -> bool:
        """Record a match; return False when this rule had already matched this release."""
        return bool(self.add_matches([(release_id, rule, snippet)], now))

    def add_matches(self, matches: Sequence[tuple[int, str, str]], now: datetime) -> set[tuple[int, str]]:
        """Record (release id, rule, snippet) matches in one go; return the (release id, rule) pairs that are
        new (a rule that had already matched a release keeps its first match).

        What exists is read first, then only the rest is inserted: exact under the write lock, and the
        same SQL on both engines (no per-row rowcount, no RETURNING over a batch).
        """
        if not matches:
            return set()
        held: set[tuple[int, str]] = set()
        for chunk in chunks(sorted({rid for rid, _, _ in matches})):
            marks, params = in_list(chunk)
            held.update((r["release_id"], r["rule"]) for r in self.rows(
                f"SELECT release_id, rule FROM matches WHERE release_id IN ({marks})", params))
        fresh: dict[tuple[int, str], str] = {}
        for rid, rule, snippet in matches:
            if (rid, rule) not in held:
                fresh.setdefault((rid, rule), snippet)
        self.run_many(self.dialect.ignore(  # (ignore: a writer outside the write lock must not fail here)
            "INSERT INTO matches (release_id, rule, snippet, matched_at) VALUES (:release_id, :rule, :snippet, :now)"),
            [{"release_id": rid, "rule": rule, "snippet": snippet, "now": ts(now)}
             for (rid, rule), snippet in fresh.items()],
        )
        return set(fresh)

    def add_alert(self, release_id: int, rule: str, channel: str, now: datetime) -> bool:
        """Queue an alert in the outbox (due now); return False when it already existed."""
        return self.add_alerts([(release_id, rule, channel)], now) == 1

    def add_alerts(self, alerts: Sequence[tuple[int, str, str]], now: datetime) -> int:
        """Queue (release id, rule, channel) alerts in the outbox (due now) in one go; return how many were
        new (one that already existed is left as it is)."""
        if not alerts:
            return 0
        held: set[tuple[int, str, str]] = set()
        for chunk in chunks(sorted({rid for rid, _, _ in alerts})):
            marks, params = in_list(chunk)
            held.update((r["release_id"], r["rule"], r["channel"]) for r in self.rows(
                f"SELECT release_id, rule, channel FROM alerts WHERE release_id IN ({marks})", params))
        fresh = list(dict.fromkeys(a for a in alerts if a not in held))
        self.run_many(self.dialect.ignore(
            "INSERT INTO alerts (release_id, rule, channel, status, attempts, next_attempt_at, created_at)"
            " VALUES (:release_id, :rule, :channel, :pending, 0, :now, :now)"),
            [{"release_id": rid, "rule": rule, "channel": channel, "pending": AlertStatus.PENDING, "now": ts(now)}
             for rid, rule, channel in fresh],
        )
        return len(fresh)

    def published_at(self, release_id: int) -> datetime:
        return must_ts(self.scalar("SELECT published_at FROM releases WHERE id = :id", {"id": release_id}))

    def published_ats(self, release_ids: Iterable[int]) -> dict[int, datetime]:
        """{release id: published_at} of these releases, in one query per CHUNK."""
        out: dict[int, datetime] = {}
        for chunk in chunks(sorted(set(release_ids))):
            marks, params = in_list(chunk)
            for r in self.rows(f"SELECT id, published_at FROM releases WHERE id IN ({marks})", params):
                out[r["id"]] = must_ts(r["published_at"])
        return out
