"""In-process: `FeedPoller.round` after K new releases, with two per-host limits, alternating.

    .venv/bin/python bench/round_ab.py [--runs 5] [--per-host 2 8] [--feeds 200] [--items 100] [--advance 50]

One wire (bench/wire.py, its own process) and one archive filled by a cold round; then, `--runs`
times, for each limit: advance the wire by K releases (untimed) and time one round over every feed
(8 workers). Without CLI start-up or imports, a difference in waiting (not CPU) shows plainly: this
is how issue 20's "new releases" regression was found (2 requests per host serialized a 40 ms
delayed-ACK stall per changed feed that 8 threads used to overlap). PYTHONPATH=<another tree> runs
that tree's poller (its FeedPoller must take per_host). Prints the rounds, then median and best
per limit; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: another tree can be measured

from bench.bench_ingest import call, start_wire, write_config  # noqa: E402
from monitor import app as app_mod  # noqa: E402
from monitor.clock import SystemClock  # noqa: E402
from monitor.poller import FeedPoller  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--per-host", type=int, nargs=2, default=[2, 8])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--advance", type=int, default=50)
    a = ap.parse_args()
    a.overlap, a.seed, a.latency_ms = 0.3, 1, 0
    wire, base = start_wire(a)
    rounds: dict[int, list[float]] = {n: [] for n in a.per_host}
    try:
        with tempfile.TemporaryDirectory(prefix="round-ab-") as tmp:
            app = app_mod.load(write_config(Path(tmp), base, a.feeds))
            clock = SystemClock()
            with app.open_store() as store:
                first = FeedPoller(app, clock=clock)
                list(first.round(store, app.config.feeds))  # cold: fills the archive and the validators
                for _ in range(a.runs):
                    for per_host in a.per_host:
                        call(base, f"/advance?k={a.advance}", "POST")
                        poller = FeedPoller(app, clock=clock, fetcher=first.fetcher, per_host=per_host)
                        start = time.perf_counter()
                        new = sum(p.result.new for p in poller.round(store, app.config.feeds, workers=8))
                        rounds[per_host].append(time.perf_counter() - start)
                        print(f"per_host {per_host}: {rounds[per_host][-1]:.3f} s, {new} new", flush=True)
                first.fetcher.close()
    finally:
        wire.terminate()
        wire.wait()
    summary = {str(n): {"median_s": round(statistics.median(v), 3), "best_s": round(min(v), 3)}
               for n, v in rounds.items()}
    for n, s in summary.items():
        print(f"per_host {n}: median {s['median_s']:.3f} s, best {s['best_s']:.3f} s ({a.runs} rounds)")
    print(json.dumps({"feeds": a.feeds, "advance": a.advance, "runs": a.runs, **summary}))


if __name__ == "__main__":
    main()
