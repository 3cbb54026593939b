"""Identity: decide, for each item of one feed poll, whether it is new, a revision, or already known.

A *sighting* is one item in one feed (key: feed + Release.sighting_key). A *release* is the press
release itself; a new sighting joins an existing release when its canonical URL or its content
fingerprint matches. The store looks up what it knows (`Known`); this module only decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from monitor.types import Release


class Kind(Enum):
    NEW = "new"  # a release never seen before
    REVISED = "revised"  # a known sighting whose content changed
    JOINED = "joined"  # a new sighting of a release already stored (another feed, regional site)
    SEEN = "seen"  # a known sighting, unchanged


@dataclass(frozen=True)
class Known:
    """What the archive already holds for one batch (only the keys the batch asks about)."""

    sightings: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # key -> (release id, hash)
    urls: Mapping[str, int] = field(default_factory=dict)  # canonical URL -> release id
    fingerprints: Mapping[str, int] = field(default_factory=dict)  # fingerprint -> release id


@dataclass(frozen=True)
class Decision:
    kind: Kind
    item: Release
    release_id: int | None = None  # the stored release, for REVISED / JOINED / SEEN
    joins: int | None = None  # JOINED to a NEW item earlier in this batch: its index in the decisions


def decide(items: Sequence[Release], known: Known) -> list[Decision]:
    """Return one Decision per item, in order; duplicates inside the batch join the first copy."""
    decisions: list[Decision] = []
    batch_keys: set[str] = set()
    batch_urls: dict[str, int] = {}
    batch_fps: dict[str, int] = {}
    for item in items:
        # A feed listing the same item twice (it happens) is one sighting: keep the first.
        if item.sighting_key in batch_keys:
            continue
        batch_keys.add(item.sighting_key)

        seen = known.sightings.get(item.sighting_key)
        if seen is not None:
            release_id, content_hash = seen
            kind = Kind.SEEN if content_hash == item.content_hash else Kind.REVISED
            decisions.append(Decision(kind, item, release_id=release_id))
            continue

        release_id = _lookup(known.urls, known.fingerprints, item)
        if release_id is not None:
            decisions.append(Decision(Kind.JOINED, item, release_id=release_id))
            continue

        first = _lookup(batch_urls, batch_fps, item)
        if first is not None:
            decisions.append(Decision(Kind.JOINED, item, joins=first))
            continue

        index = len(decisions)
        if item.url:
            batch_urls[item.url] = index
        batch_fps[item.fingerprint] = index
        decisions.append(Decision(Kind.NEW, item))
    return decisions


def _lookup(urls: Mapping[str, int], fingerprints: Mapping[str, int], item: Release) -> int | None:
    """Return the id the item's canonical URL, else its fingerprint, points to (0 is a valid id)."""
    found = urls.get(item.url) if item.url else None
    return found if found is not None else fingerprints.get(item.fingerprint)
