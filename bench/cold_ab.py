"""Before/after: cold `run --once` of two press-monitor commands, alternating, on one wire server.

    .venv/bin/python bench/cold_ab.py [--runs 3] [--feeds 200] [--items 100] CMD_A CMD_B

Each CMD is how to start a CLI that polls every feed now (e.g. `bench/pm-force` of each checkout;
a shell string, split like a shell would). Each run gets a fresh archive and the config of
bench_ingest.py, and the two commands take turns, so both see the same machine load: on a shared
machine that is the only fair comparison. Prints each run's wall and the CPU of all its processes
(digest workers included), then the medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bench_ingest


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("commands", nargs=2, metavar="CMD")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    a = ap.parse_args()
    wire, base = bench_ingest.start_wire(argparse.Namespace(feeds=a.feeds, items=a.items, overlap=0.3, seed=1,
                                                            latency_ms=0))
    walls: dict[str, list[tuple[float, float]]] = {c: [] for c in a.commands}
    try:
        for _ in range(a.runs):
            for cmd in a.commands:
                tmp = Path(tempfile.mkdtemp(prefix="cold-ab-"))
                try:
                    cfg = bench_ingest.write_config(tmp, base, a.feeds)
                    load, cpu, start = os.getloadavg()[0], children_cpu(), time.perf_counter()
                    p = subprocess.run([*shlex.split(cmd), "--config", str(cfg), "run", "--once"],
                                       capture_output=True, text=True)
                    wall, used = time.perf_counter() - start, children_cpu() - cpu
                    if p.returncode != 0:
                        raise SystemExit(f"{cmd}: exit {p.returncode}\n{p.stderr[-2000:]}")
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                walls[cmd].append((wall, used))
                print(f"{cmd}: wall {wall:.2f} s, CPU {used:.2f} s, load {load:.2f} -> {os.getloadavg()[0]:.2f}",
                      flush=True)
    finally:
        wire.kill()
    for cmd, runs in walls.items():
        print(f"{cmd}: median wall {statistics.median(w for w, _ in runs):.2f} s,"
              f" CPU {statistics.median(c for _, c in runs):.2f} s ({len(runs)} runs)")


if __name__ == "__main__":
    main()
