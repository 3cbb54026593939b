"""Benchmark: the stories LSH lookup (issue 21) against a band table of 1M releases.

    .venv/bin/python bench/bench_story_lookup.py [--releases 1000000] [--dir /work/bench-data] [--database URL]

Builds (once; kept in --dir and reused) an SQLite archive whose `story_bands` holds stories.BANDS band
keys for each of --releases release ids (random 63-bit keys, as _bands() spreads them), then times
`Store.band_holders()` — the lookup pipeline.place_in_stories() makes for a new release — for 16 fresh
keys (a release with no near-copy: the common case) and for the keys of a stored release (a copy: one
holder per band), 2,000 runs each after a warm-up, and in a batch of 100 releases (what one poll asks
in one call). Also the table's size on disk (dbstat) per release. --database postgresql://… runs the
same against a PostgreSQL archive (built there the first time).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import stories  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.types import ServerDatabase  # noqa: E402

MASK = (1 << 63) - 1


def keys_of(rid: int) -> list[int]:
    rng = random.Random(rid)
    return [rng.getrandbits(63) & MASK for _ in range(stories.BANDS)]


def build(store: Store, n: int) -> None:
    have = store.scalar("SELECT count(*) FROM story_bands")
    if have >= n * stories.BANDS:
        print(f"reusing {have:,} band rows")
        return
    print(f"building {n:,} releases x {stories.BANDS} bands ...", flush=True)
    start = time.perf_counter()
    step = 20_000
    for lo in range(1 + have // stories.BANDS, n + 1, step):
        with store.transaction():
            store.add_story_bands([(rid, k) for rid in range(lo, min(n + 1, lo + step)) for k in keys_of(rid)])
    print(f"built in {time.perf_counter() - start:.0f} s", flush=True)


def timed(fn, runs: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--releases", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/work/bench-data"))
    ap.add_argument("--database", help="a postgresql:// URL instead of an SQLite file in --dir")
    args = ap.parse_args()
    if args.database:
        store = Store(ServerDatabase(args.database))
    else:
        args.dir.mkdir(parents=True, exist_ok=True)
        store = Store(args.dir / f"story-bands-{args.releases}.db")
    build(store, args.releases)
    store.analyze()
    rng = random.Random(7)
    miss = [rng.getrandbits(63) for _ in range(stories.BANDS)]
    hit_id = args.releases // 2
    hit = keys_of(hit_id)
    assert all(store.band_holders(hit)[k] == [hit_id] for k in hit)
    print(f"{args.releases:,} releases, {store.scalar('SELECT count(*) FROM story_bands'):,} band rows, {store.path}")
    for label, keys in (("no near-copy (16 fresh keys)", miss), ("a copy (16 keys held once)", hit)):
        p50, p95 = timed(lambda keys=keys: store.band_holders(keys), 2000)
        print(f"band_holders, {label:30} p50 {p50:.3f} ms  p95 {p95:.3f} ms")
    batch = [k for i in range(100) for k in (keys_of(rng.randrange(1, args.releases)) if i % 10 == 0
                                             else [rng.getrandbits(63) for _ in range(stories.BANDS)])]
    p50, p95 = timed(lambda: store.band_holders(batch), 200)
    print(f"band_holders, a poll of 100 releases (10 copies)   p50 {p50:.3f} ms  p95 {p95:.3f} ms"
          f"  ({p50 / 100:.3f} ms per release)")
    if not args.database:
        store.checkpoint()
        sizes = {r["name"]: r["size"] for r in store.rows(
            "SELECT name, sum(pgsize) AS size FROM dbstat WHERE name IN ('story_bands',"
            " 'idx_story_bands_release_id') GROUP BY name")}
        for name, size in sizes.items():
            print(f"disk {name:28} {size / 2**20:,.0f} MiB  ({size / args.releases:.0f} B per release)")
    store.close()


if __name__ == "__main__":
    main()
