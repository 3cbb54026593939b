"""Stories: which stored release a new one is a near-copy of (pure logic; the store keeps the bands).

A story is one announcement however many times it is published: the wire's release, the company
newsroom's post, a regional wire's edit, a finance site's copy with its own headline, a corrected
re-issue under a new link. dedupe.py already joins exact copies (same fingerprint); a story groups
the near-copies that stay separate releases.

How a release is compared: its *lead* — the title's words and the first LEAD_WORDS words of its text
after any dateline — folded (monitor/fold.py) and cut into word shingles (SHINGLE words each, hashed).
The lead, not the whole text, because copies differ most at their ends (one has the full page, another
the feed's two-line summary, a third a truncated excerpt) and agree at their start, and because a
bounded lead keeps the cost per release flat. Two releases are one story when their leads' shingle
sets overlap enough (same_story(): Jaccard, or containment for a short copy) and they were published
within MAX_SKEW of each other: a quarterly dividend notice repeats its text every quarter, a weekly
report every week, and each is a new announcement.

Finding candidates without comparing against every release: MinHash LSH. One-permutation MinHash
(one hash per shingle, the minimum kept in each of BANDS * ROWS bins; empty bins borrow the next
filled one, "rotation densification") gives a signature; each band of ROWS bins hashes to one 63-bit
key stored in `story_bands`. Releases sharing any band key are candidates; same_story() then decides on
the exact shingle sets, so LSH only has to find, never to judge. A pure-Python sketch costs one
blake2b per shingle (~100 per release); no numpy: datasketch's MinHash would make every process
import numpy and scipy for what is a few dozen lines here (bench/README.md, issue 21, measures both).
The thresholds come from bench/bench_stories.py over a labelled set of release pairs.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.fold import fold

SHINGLE = 3  # words per shingle: single word edits (a place, a date) touch at most three shingles
LEAD_WORDS = 80  # words of the text (after the dateline) that stand for the release
BANDS = 12
ROWS = 3  # (1/12)**(1/3) ~ 0.44: pairs above ~0.5 Jaccard are nearly always found
MIN_SHINGLES = 8  # fewer (a bare short title): too little text to call anything a copy

# Measured on bench/data/story_pairs.json (bench/bench_stories.py): see bench/README.md, issue 21.
MIN_JACCARD = 0.45
MIN_CONTAINMENT = 0.8  # a short copy (a finance site's excerpt) whose shingles are nearly all in the longer
MIN_CONTAINED = 12  # ... when the short one has at least this many shingles
MAX_SKEW = timedelta(days=3)  # as dedupe.MAX_COPY_SKEW: copies go out within hours, late feeds within days

_WORD = re.compile(r"\w+")
# A dateline ends in a dash within the first few hundred characters: "NEW YORK, Dec. 4, 2026 /PRNewswire/ --".
_DATELINE_END = re.compile(r"^.{0,250}?(?:/\s*\S[^/]{0,60}/\s*)?\s(?:--|–|—)\s", re.S)
_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class Sketch:
    """A release's lead as shingle hashes (the exact set) and its LSH band keys."""

    shingles: frozenset[int]
    bands: tuple[int, ...]


@dataclass(frozen=True)
class Candidate:
    """A stored release sharing a band key with the new one."""

    release_id: int
    story_id: int
    published: datetime
    sketch: Sketch | None


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text).casefold())


def lead(text: str) -> str:
    """Return the text after its dateline, if it opens with one."""
    m = _DATELINE_END.match(text)
    return text[m.end():] if m else text


def _shingles(tokens: Sequence[str]) -> set[int]:
    if len(tokens) < SHINGLE:
        return {_hash(" ".join(tokens))} if tokens else set()
    return {_hash(" ".join(tokens[i:i + SHINGLE])) for i in range(len(tokens) - SHINGLE + 1)}


def _hash(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")


def sketch(title: str, text: str) -> Sketch | None:
    """Return the sketch of a release (title and body or summary), or None when it has too little text."""
    body = words(lead(text))[:LEAD_WORDS]
    # Title and body shingled apart: a shingle across the seam would differ whenever either edge does.
    shingles = _shingles(words(title)) | _shingles(body)
    if len(shingles) < MIN_SHINGLES:
        return None
    return Sketch(frozenset(shingles), _bands(shingles))


def _bands(shingles: set[int]) -> tuple[int, ...]:
    bins = BANDS * ROWS
    mins: list[int | None] = [None] * bins
    for h in shingles:
        b = h % bins
        v = h // bins
        m = mins[b]
        if m is None or v < m:
            mins[b] = v
    # Rotation densification: an empty bin takes the next filled bin's value (and its offset), so two
    # similar sets still agree bin by bin where a short lead left bins empty.
    filled = [i for i, m in enumerate(mins) if m is not None]
    sig: list[int] = []
    for i, m in enumerate(mins):
        if m is not None:
            sig.append(m)
            continue
        j = next((k for k in filled if k > i), filled[0])
        value = mins[j]
        assert value is not None
        sig.append(value * bins + (j - i) % bins)
    keys = []
    for band in range(BANDS):
        packed = struct.pack(f">H{ROWS}Q", band, *(v & 0xFFFFFFFFFFFFFFFF for v in sig[band * ROWS:(band + 1) * ROWS]))
        # Signed 63-bit: an INTEGER in SQLite, a bigint in PostgreSQL.
        keys.append(int.from_bytes(hashlib.blake2b(packed, digest_size=8).digest(), "big") & _MASK)
    return tuple(keys)


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """Return (Jaccard, containment of the smaller set in the larger) of two sketches' shingles."""
    common = len(a.shingles & b.shingles)
    small = min(len(a.shingles), len(b.shingles))
    union = len(a.shingles) + len(b.shingles) - common
    return (common / union if union else 0.0), (common / small if small else 0.0)


def same_story(a: Sketch, b: Sketch) -> bool:
    """Whether two leads are copies of one release (time aside: see pick())."""
    jaccard, containment = similarity(a, b)
    if jaccard >= MIN_JACCARD:
        return True
    return containment >= MIN_CONTAINMENT and min(len(a.shingles), len(b.shingles)) >= MIN_CONTAINED


def pick(new: Sketch, published: datetime, candidates: Sequence[Candidate]) -> int | None:
    """Return the story the new release joins (its closest same-story candidate's), or None for a story of its own."""
    best: tuple[float, int] | None = None
    for c in candidates:
        if c.sketch is None or abs(c.published - published) > MAX_SKEW or not same_story(new, c.sketch):
            continue
        score = similarity(new, c.sketch)[0]
        # The closest copy; on a tie the oldest story (lower id) so a story never splits by accident.
        if best is None or (score, -c.story_id) > (best[0], -best[1]):
            best = (score, c.story_id)
    return None if best is None else best[1]
