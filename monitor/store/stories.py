"""Stories: the LSH band keys of each release's lead and which story each release belongs to.

The pure half (shingles, signature, bands, the same-story decision) is monitor/stories.py; the pipeline
asks this aggregate for candidates and records the decision, in the poll's (or page's) transaction.
A story's id is its first copy's release id: `releases.story_id` is set on the later copies only
(NULL: the release is its own story's first copy, or alone), so every story is `id = S OR story_id = S`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from monitor.store.base import Connection, chunks, lines, must_ts, ts
from monitor.store.rows import Story, StoryCopy

# A lead shared with hundreds of releases (a template every release of a site opens with) must not make
# one insert read them all: the closest copies are among the newest few.
MAX_CANDIDATES = 4
KEYS_PER_STATEMENT = 64  # band keys looked up per statement (4 releases' worth)


class StoryStore(Connection):
    def band_holders(self, bands: Sequence[int]) -> dict[int, list[int]]:
        """Return band key -> the ids of the releases holding it (newest first, at most MAX_CANDIDATES each).

        One bounded index range per key (`ORDER BY release_id DESC LIMIT`), glued with UNION ALL: a key that
        thousands of templated releases share costs MAX_CANDIDATES rows, not thousands (a plain IN list read
        them all, and a cold ingest of a templated corpus grew quadratic).
        """
        out: dict[int, list[int]] = {}
        keys = sorted(set(bands))
        for lo in range(0, len(keys), KEYS_PER_STATEMENT):
            chunk = keys[lo:lo + KEYS_PER_STATEMENT]
            sql = " UNION ALL ".join(
                f"SELECT * FROM (SELECT band_key, release_id FROM story_bands WHERE band_key = :b{i}"
                f" ORDER BY release_id DESC LIMIT {MAX_CANDIDATES}) AS t{i}" for i in range(len(chunk)))
            # Plain tuples (run(), not rows()): up to 64 rows per release, read by position.
            for key, rid in self.run(sql, {f"b{i}": k for i, k in enumerate(chunk)}).fetchall():
                out.setdefault(key, []).append(rid)
        return out

    def story_texts(self, release_ids: Iterable[int], start: datetime,
                    end: datetime) -> dict[int, tuple[int, str, str, datetime]]:
        """Return id -> (story id, title, text, published) of these releases published in [start, end]."""
        out: dict[int, tuple[int, str, str, datetime]] = {}
        for chunk in chunks(sorted(set(release_ids))):
            for r in self.rows(
                "SELECT id, coalesce(story_id, id) AS story, title, summary, body, published_at FROM releases"
                f" WHERE id IN ({self.dialect.json_ids('ids')}) AND published_at BETWEEN :start AND :end",
                {"ids": json.dumps(list(chunk)), "start": ts(start), "end": ts(end)},
            ):
                out[r["id"]] = (r["story"], r["title"] or "", r["body"] or r["summary"] or "",
                                must_ts(r["published_at"]))
        return out

    def set_stories(self, joins: Sequence[tuple[int, int]]) -> None:
        """Make each (release id, story id) release a later copy of that story."""
        self.run_many("UPDATE releases SET story_id = :story WHERE id = :id",
                      [{"id": rid, "story": story} for rid, story in joins if rid != story])

    def add_story_bands(self, bands: Sequence[tuple[int, int]]) -> None:
        """Index (release id, band key) pairs (a revised text adds its new keys; the old ones stay findable)."""
        self.run_many(self.dialect.ignore("INSERT INTO story_bands (band_key, release_id) VALUES (:k, :id)"),
                      [{"k": k, "id": rid} for rid, k in bands])

    def story_id(self, release_id: int) -> int:
        """Return the story a release belongs to (its own id when it is the first copy or alone)."""
        story = self.scalar("SELECT coalesce(story_id, id) FROM releases WHERE id = :id", {"id": release_id})
        return int(story) if story is not None else release_id

    def story_alone(self, release_id: int) -> bool:
        """Whether the release is alone in its own story (no copy has joined it, it joined none)."""
        return not self.scalar(
            "SELECT EXISTS (SELECT 1 FROM releases WHERE id = :id AND story_id IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM releases WHERE story_id = :id)", {"id": release_id})

    def story_alerted(self, story_id: int, release_id: int, rule: str, channel: str) -> bool:
        """Whether another copy of the story already has an outbox row for this rule and channel."""
        return bool(self.scalar(
            # The story's copies first (two index lookups), then each copy's alerts by its (release, rule,
            # channel) key: never a scan of the outbox.
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE release_id IN (SELECT id FROM releases WHERE id = :story"
            " UNION SELECT id FROM releases WHERE story_id = :story) AND release_id != :id AND rule = :rule"
            " AND channel = :channel)",
            {"story": story_id, "id": release_id, "rule": rule, "channel": channel}))

    def story(self, release_id: int) -> Story:
        """Return the story of a release with all its copies, earliest published first (a story of one: just it)."""
        story_id = self.story_id(release_id)
        copies = tuple(
            StoryCopy(id=r["id"], title=r["title"] or "", url=r["url"] or "", source=(lines(r["source"]) or [""])[0],
                      wire=r["wire"] or "", published=must_ts(r["published_at"]),
                      first_seen=must_ts(r["first_seen_at"]))
            for r in self.rows(
                "SELECT id, title, url, source, wire, published_at, first_seen_at FROM releases"
                " WHERE id = :story OR story_id = :story ORDER BY published_at, first_seen_at, id",
                {"story": story_id}))
        return Story(story_id, copies)

    def story_sizes(self, release_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Return release id -> (story id, copies in the story) for these releases."""
        ids = sorted(set(release_ids))
        out: dict[int, tuple[int, int]] = {}
        for chunk in chunks(ids):
            for r in self.rows(
                "SELECT r.id, coalesce(r.story_id, r.id) AS story, (SELECT count(*) FROM releases c"
                " WHERE c.id = coalesce(r.story_id, r.id) OR c.story_id = coalesce(r.story_id, r.id)) AS n"
                f" FROM releases r WHERE r.id IN ({self.dialect.json_ids('ids')})",
                {"ids": json.dumps(list(chunk))},
            ):
                out[r["id"]] = (r["story"], r["n"])
        return out
