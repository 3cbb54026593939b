"""Keeping the archive tidy while polls go on: WAL checkpoint, FTS optimize + ANALYZE once a day,
retention. The daemon runs `maintain()` every hour on its service pool.

Every step is a short transaction, so polls commit in between; `stop` ends the long loops early at
shutdown (the rest is done at the next run).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.store import Store, parse_ts, ts

META_OPTIMIZED = "daemon_optimized"
OPTIMIZE_EVERY = timedelta(days=1)
MAX_MERGE_STEPS = 10_000  # a bound on the FTS merge loop; ~500 pages a step


@dataclass(frozen=True)
class Maintained:
    checkpoint_busy: int
    wal_pages: int
    checkpointed: int
    fts_optimized: bool
    purged: int


def maintain(store: Store, *, now: datetime, retention: float | None, writer: AbstractContextManager[Any],
             stop: threading.Event) -> Maintained:
    """Checkpoint the WAL, optimize FTS once per OPTIMIZE_EVERY, purge releases first seen before
    now - retention (if set); return what was done. `writer` is the process's write lock."""
    with writer:  # no transaction of ours is open while the WAL is copied back
        busy, wal_pages, copied = store.checkpoint()
    optimized = False
    last = parse_ts(store.meta(META_OPTIMIZED))
    if last is None or now - last >= OPTIMIZE_EVERY:
        for _ in range(MAX_MERGE_STEPS):
            if stop.is_set():
                break
            with store.transaction():
                if not store.merge_fts():
                    break
        with store.transaction():
            store.analyze()
            store.set_meta(META_OPTIMIZED, ts(now))
        optimized = True
    purged = 0
    if retention:
        cutoff = now - timedelta(seconds=retention)
        while not stop.is_set():
            with store.transaction():
                n = store.purge(cutoff)
            purged += n
            if not n:
                break
    return Maintained(busy, wal_pages, copied, optimized, purged)
