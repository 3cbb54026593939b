"""Identity: decide, for each item of one feed poll, whether it is new, a revision, or already known.

A *sighting* is one item in one feed (key: feed + Release.sighting_key). A *release* is the press
release itself; a new sighting joins an existing release when its canonical URL matches, or when
its content fingerprint (title + start of body) matches a release that could be the same one: on
another site (regional copies) or at the same address, published within a few days. Same text at
another address of the same site, or weeks apart, is a template (a quarterly dividend notice), not
a copy. The store looks up what it knows (`Known`); this module only decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from urllib.parse import urlsplit

from monitor.types import Candidate, Known, Release

# Copies of one release on several sites go out within hours; allow for late regional feeds.
MAX_COPY_SKEW = timedelta(days=3)


class Kind(Enum):
    NEW = "new"  # a release never seen before
    REVISED = "revised"  # a known sighting whose content changed
    JOINED = "joined"  # a new sighting of a release already stored (another feed, regional site)
    SEEN = "seen"  # a known sighting, unchanged


@dataclass(frozen=True)
class Decision:
    kind: Kind
    item: Release
    release_id: int | None = None  # the stored release, for REVISED / JOINED / SEEN
    joins: int | None = None  # JOINED to a NEW item earlier in this batch: its index in the decisions

    def stored_id(self, earlier: Sequence[int]) -> int:
        """Return the release this item belongs to: a stored one, or that of the item it joins in `earlier`."""
        if self.release_id is not None:
            return self.release_id
        if self.joins is None:
            raise ValueError(f"a {self.kind.name} decision names no release")
        return earlier[self.joins]


def decide(items: Sequence[Release], known: Known) -> list[Decision]:
    """Return one Decision per item, in order; duplicates inside the batch join the first copy."""
    decisions: list[Decision] = []
    batch_keys: set[str] = set()
    batch_urls: dict[str, int] = {}
    batch_fps: dict[str, list[tuple[int, Candidate]]] = {}
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

        joined = _join(item, known.urls, [(c.id, c) for c in known.fingerprints.get(item.fingerprint, ())])
        if joined is not None:
            decisions.append(Decision(Kind.JOINED, item, release_id=joined))
            continue

        first = _join(item, batch_urls, batch_fps.get(item.fingerprint, ()))
        if first is not None:
            decisions.append(Decision(Kind.JOINED, item, joins=first))
            continue

        index = len(decisions)
        if item.url:
            batch_urls[item.url] = index
        batch_fps.setdefault(item.fingerprint, []).append(
            (index, Candidate(index, item.url, item.published_at if item.published_known else None)))
        decisions.append(Decision(Kind.NEW, item))
    return decisions


def _join(item: Release, urls: Mapping[str, int], same_text: Sequence[tuple[int, Candidate]]) -> int | None:
    """Return the id the item's canonical URL points to, else the first same-text candidate that
    can be the same release, else None (0 is a valid id)."""
    found = urls.get(item.url) if item.url else None
    if found is not None:
        return found
    return next((ref for ref, c in same_text if could_be_copy(item, c)), None)


def could_be_copy(item: Release, c: Candidate) -> bool:
    """Return whether a release with the same fingerprint can be the same press release as the item."""
    if item.url and c.url and item.url != c.url and urlsplit(item.url).netloc == urlsplit(c.url).netloc:
        return False  # one site does not publish one release at two addresses
    if item.published_known and c.published is not None:
        return abs(item.published_at - c.published) <= MAX_COPY_SKEW
    return True
