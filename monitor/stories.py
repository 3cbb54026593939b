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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor.fold import fold

SHINGLE = 3  # words per shingle (_shingles() combines three): a one-word edit touches at most three
LEAD_WORDS = 50  # words of the text (after the dateline) that stand for the release
BANDS = 16
ROWS = 2  # (1/16)**(1/2) = 0.25: a pair at Jaccard 0.4 shares a band with probability 0.94, at 0.5 0.99
MIN_SHINGLES = 8  # fewer (a bare short title): too little text to call anything a copy
_LEAD_CHARS = 3000  # a dateline (250), a correction's note (600) and LEAD_WORDS words, with room to spare

# Measured on bench/data/story_pairs.json (bench/bench_stories.py): see bench/README.md, issue 21.
MIN_JACCARD = 0.35
MIN_CONTAINMENT = 0.8  # a short copy (a finance site's excerpt) whose shingles are nearly all in the longer
MIN_CONTAINED = 12  # ... when the short one has at least this many shingles
MAX_COMPARED = 8  # candidates compared per release: those sharing the most bands (pipeline.place_in_stories)
MIN_FIGURES = 3
MIN_FIGURES_SHARED = 1.0  # 0.7 let two sister funds' distributions in one template through (held-out set 1)
MAX_SKEW = timedelta(days=3)  # as dedupe.MAX_COPY_SKEW: copies go out within hours, late feeds within days

_WORD = re.compile(r"\w+")
# A dateline ends in a dash within the first few hundred characters: "NEW YORK, Dec. 4, 2026 /PRNewswire/ --".
_DATELINE_SCAN = 250
_DATELINE_ENDS = (" -- ", " – ", " — ", ")--", ") -- ")
_CORRECTION_SCAN = 700
# A corrected re-issue opens with what was corrected, then the release: "CORRECTING and REPLACING … The
# updated release reads:" (Business Wire), "… The corrected release follows." The lead starts after it.
_CORRECTION = re.compile(r"^.{0,600}?\b(?:corrected|updated|revised|complete)\s+(?:news\s+|press\s+)?release"
                         r"\s+(?:reads|follows|is\s+below)\b\W*", re.S | re.I)
_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class Sketch:
    """A release's lead as shingle hashes (the exact set) and its LSH band keys."""

    shingles: frozenset[int]
    bands: tuple[int, ...]
    numbers: frozenset[str] = frozenset()  # the words of the lead with a digit ("$1.9 billion": "1", "9")


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
    """Return the text after its dateline and after a correction's note, if it opens with them."""
    head = text[:_DATELINE_SCAN]
    # The dateline ends at the first dash separator: "… /PRNewswire/ -- ", "BOSTON--(BUSINESS WIRE)--".
    # str.find, not a regex: this runs for every release stored, and a lazy scan cost ~60 µs.
    cut = min((i + len(d) for d in _DATELINE_ENDS if (i := head.find(d)) >= 0), default=0)
    text = text[cut:]
    head = text[:_CORRECTION_SCAN].lower()
    if "release" in head and any(w in head for w in ("corrected", "updated", "revised", "complete")):
        c = _CORRECTION.match(text)
        if c:
            return text[c.end():]
    return text


def _shingles(tokens: Sequence[str]) -> set[int]:
    """Return the 64-bit hashes of the word shingles (one word's hash for fewer words than SHINGLE)."""
    get = _WORDS.get
    hs = [get(w) or _word_hash(w) for w in tokens]
    if len(hs) < SHINGLE:
        return {hs[0]} if hs else set()
    # Three random 64-bit word hashes combined with distinct odd multipliers: uniform, and order matters
    # ("a b c" is not "c b a"); hashing each word once (memoized) costs a third of hashing every shingle.
    return {(a * _K1 + b * _K2 + c) & _M64 for a, b, c in zip(hs, hs[1:], hs[2:], strict=False)}


_K1, _K2, _K3 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x94D049BB133111EB
_M64 = (1 << 64) - 1
_WORDS: dict[str, int] = {}  # word -> its hash; the vocabulary of releases is small, but bounded anyway
_MAX_WORDS = 200_000
_SALT = b""  # the stored bands depend on it: never change it (bench_stories.py varies it to measure LSH recall)


def _word_hash(w: str) -> int:
    h = _WORDS.get(w)
    if h is None:
        if len(_WORDS) >= _MAX_WORDS:
            _WORDS.clear()
        # blake2b, not hash(): str hashes differ between processes, and the bands are stored.
        h = _WORDS[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8, salt=_SALT).digest(), "big")
    return h


def _mix(x: int) -> int:
    """splitmix64's finalizer: every input bit moves every output bit."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * _K3) & _M64
    return x ^ (x >> 31)


def sketch(title: str, text: str) -> Sketch | None:
    """Return the sketch of a release (title and body or summary), or None when it has too little text."""
    # Only the start is read: a fetched page can be 100 KB, and folding it whole cost more than the rest.
    body = words(lead(text[:_LEAD_CHARS]))[:LEAD_WORDS]
    # Title and body shingled apart: a shingle across the seam would differ whenever either edge does.
    shingles = _shingles(words(title)) | _shingles(body)
    if len(shingles) < MIN_SHINGLES:
        return None
    numbers = frozenset(w for w in body if not w.isalpha())  # "1", "9" of "$1.9 billion"; "12u"; "2026"
    return Sketch(frozenset(shingles), _bands(shingles), numbers)


def _bands(shingles: set[int]) -> tuple[int, ...]:
    bins = BANDS * ROWS
    mins = [_M64] * bins
    for h in shingles:
        b = h % bins
        v = h // bins
        if v < mins[b]:
            mins[b] = v
    # Rotation densification: an empty bin takes the next filled bin's value (circularly) plus how far it
    # looked, so two similar sets still agree bin by bin where a short lead left bins empty.
    last = next(i for i in range(bins - 1, -1, -1) if mins[i] != _M64)
    sig = mins[:]
    nxt, dist = mins[last], 0
    for i in range(2 * bins - 1, -1, -1):  # twice round: the bins after the last filled one wrap to the first
        j = i % bins
        if mins[j] != _M64:
            nxt, dist = mins[j], 0
        else:
            dist += 1
            if i < bins:
                sig[j] = (nxt * bins + dist) & _M64
    # One key per band: its rows and its number mixed into 63 bits (an INTEGER in SQLite, a bigint in PostgreSQL).
    keys = []
    for band in range(BANDS):
        key = band + 1
        for v in sig[band * ROWS:(band + 1) * ROWS]:
            key = (key * _K1 + v * _K2) & _M64
        keys.append(_mix(key) & _MASK)
    return tuple(keys)


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """Return (Jaccard, containment of the smaller set in the larger) of two sketches' shingles."""
    common = len(a.shingles & b.shingles)
    small = min(len(a.shingles), len(b.shingles))
    union = len(a.shingles) + len(b.shingles) - common
    return (common / union if union else 0.0), (common / small if small else 0.0)


def figures_agree(a: Sketch, b: Sketch) -> bool:
    """Whether the figures of the shorter lead are all in the other: copies repeat the release's figures,
    while two releases in one template (two quarters' results, two conference dates, two dividends) differ
    in exactly those. Fewer than MIN_FIGURES figures: nothing to say."""
    small = min(len(a.numbers), len(b.numbers))
    if small < MIN_FIGURES:
        return True
    return len(a.numbers & b.numbers) / small >= MIN_FIGURES_SHARED


def same_story(a: Sketch, b: Sketch) -> bool:
    """Whether two leads are copies of one release (time aside: see pick())."""
    if not figures_agree(a, b):
        return False
    jaccard, containment = similarity(a, b)
    if jaccard >= MIN_JACCARD:
        return True
    return containment >= MIN_CONTAINMENT and min(len(a.shingles), len(b.shingles)) >= MIN_CONTAINED


def floor(now: datetime, alert_max_age: float) -> datetime:
    """The oldest publication time a release is placed in a story at ingest.

    A story's job at ingest is "alert once": a release published before alert_max_age cannot alert, and a
    copy that can alert is published within MAX_SKEW of its story's first copy, so the first copy needs its
    bands only if published after now - alert_max_age - MAX_SKEW. Older releases (a backlog of a cold
    start, an import) are left as stories of one: placing every one of them made a cold ingest of the
    bench's 13,771 releases (all dated 2023) ~80% slower in CPU (bench/README.md, issue 21).
    """
    return now - timedelta(seconds=alert_max_age) - MAX_SKEW


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


class Copy(Protocol):
    """What telling a story needs of each copy (store.rows.StoryCopy)."""

    @property
    def wire(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def published(self) -> datetime: ...


def where(c: Copy) -> str:
    """The name a copy is known by: its wire ("PR Newswire"), else the feed that carried it."""
    return c.wire or c.source


def told(copies: Sequence[Copy]) -> str:
    """Return "first on PR Newswire 2026-12-04 09:02 UTC, then newsroom 09:40, then …" (copies in order, UTC)."""
    if not copies:
        return ""
    first = copies[0]
    parts = [f"first on {where(first)} {first.published:%Y-%m-%d %H:%M} UTC"]
    for c in copies[1:]:
        same_day = c.published.date() == first.published.date()
        when = f"{c.published:%H:%M}" if same_day else f"{c.published:%Y-%m-%d %H:%M}"
        parts.append(f"then {where(c)} {when}")
    return ", ".join(parts)
