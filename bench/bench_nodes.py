"""What seeing the cluster costs (issue 19): a node's heartbeat, and `status`/`/healthz` reading the registry.

    .venv/bin/python bench/bench_nodes.py [--leases 0,1000,10000,50000] [--nodes 3] [--runs 30]

On each backend (a fresh SQLite file; a throwaway database on the PostgreSQL server of
$PM_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/postgres), in this one process:

  beat       one node's heartbeat transaction (Membership.beat), median ms over --runs;
  snapshot   health.snapshot() (what `status` and `/healthz` read) with --nodes registered nodes
             holding N unexpired leases between them (plus as many expired ones), median ms,
             and its ratio against the same snapshot with the registry left empty (the baseline:
             what health read before issue 19; measured in the same run);
  listing    store.cluster_nodes() with each node's leases counted by kind (what `nodes` reads),
             median ms, against the same listing without the counts (holds=False).

The feeds, outbox and page queue are empty, so the ratio is the registry's own share at its worst.
Prints one line per backend and lease count, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import health  # noqa: E402
from monitor.clock import ManualClock  # noqa: E402
from monitor.membership import Membership  # noqa: E402
from monitor.node import NodeIdentity  # noqa: E402
from monitor.store import Store, ts  # noqa: E402
from monitor.types import Database  # noqa: E402
from tests.pgserver import TestDatabase  # noqa: E402

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches and the pool
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def add_leases(store: Store, nodes: list[str], start: int, count: int) -> None:
    rows = []
    for i in range(start, start + count):
        node = nodes[i % len(nodes)]
        kind = ("feed", "page", "alert", "host")[i % 4]
        rows.append({"r": f"{kind}:{i}", "n": node, "e": ts(T0 + timedelta(minutes=1)), "a": ts(T0)})
        rows.append({"r": f"{kind}:old{i}", "n": node, "e": ts(T0 - timedelta(minutes=1)), "a": ts(T0)})
    with store.transaction():
        store.run_many("INSERT INTO leases (resource, node, expires_at, acquired_at) VALUES (:r, :n, :e, :a)", rows)


def one_backend(label: str, database: Database, leases: list[int], n_nodes: int, runs: int) -> list[dict]:
    clock = ManualClock(T0)
    out = []
    with Store(database) as store:
        baseline = median_ms(lambda: health.snapshot(store, (), clock.now()), runs)
        members = [Membership(NodeIdentity(f"bench-{i}", f"host-{i}", 1000 + i, "0.1.0", T0), clock)
                   for i in range(n_nodes)]
        for m in members:
            m.join(store, "abc", single=False)
        def one_beat() -> None:
            clock.advance(0.001)  # each beat writes a new time; a millisecond keeps every lease unexpired
            members[0].beat(store)

        beat = median_ms(one_beat, runs)
        held = 0
        for n in leases:
            add_leases(store, [m.id for m in members], held, n - held)
            held = n
            snap = median_ms(lambda: health.snapshot(store, (), clock.now()), runs)
            listing = median_ms(lambda: store.cluster_nodes(clock.now()), runs)
            bare = median_ms(lambda: store.cluster_nodes(clock.now(), holds=False), runs)
            row = {"backend": label, "leases": n, "nodes": n_nodes, "beat_ms": round(beat, 3),
                   "snapshot_ms": round(snap, 3), "baseline_ms": round(baseline, 3),
                   "snapshot_ratio": round(snap / baseline, 2), "listing_ms": round(listing, 3),
                   "listing_bare_ms": round(bare, 3), "listing_ratio": round(listing / bare, 2)}
            print(f"{label:<10} {n:>6} leases  beat {beat:6.2f} ms  snapshot {snap:6.2f} ms"
                  f" (empty registry {baseline:5.2f} ms, x{snap / baseline:.2f})  nodes listing {listing:7.2f} ms"
                  f" (without counts {bare:5.2f} ms, x{listing / bare:.1f})", flush=True)
            out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leases", default="0,1000,10000,50000")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    leases = sorted(int(x) for x in args.leases.split(","))
    results = []
    with tempfile.TemporaryDirectory(prefix="pm-bench-nodes-") as tmp:
        results += one_backend("sqlite", Path(tmp) / "archive.db", leases, args.nodes, args.runs)
    pg = TestDatabase().create()
    try:
        results += one_backend("postgresql", pg.archive(), leases, args.nodes, args.runs)
    finally:
        pg.drop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
