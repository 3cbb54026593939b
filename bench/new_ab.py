"""Before/after: the "new releases" phase of compare.sh (`run --once --force` after 50 new releases),
two press-monitor commands alternating.

    .venv/bin/python bench/new_ab.py [--runs 3] [--feeds 200] [--items 100] CMD_A CMD_B

Each CMD starts a CLI (a shell string, e.g. `env PYTHONPATH=/tmp/old .venv/bin/press-monitor` for an
old tree checked out with `git worktree add /tmp/old COMMIT`). The config is compare.sh's (two rules
alerting the console; feeds with the default `full_text`), not bench_ingest.py's (full_text off):
the phase as users and compare.sh see it. Per command, one cold run fills an archive; then each run
starts a fresh wire server (same seed: same bytes), copies that archive, advances the wire by
`--advance` releases (untimed) and times `run --once --force`. The commands take turns so both see
the same machine load. Prints each run's wall and CPU (all processes of the CLI), then the medians.
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


def write_config(tmp: Path, base: str, n: int) -> Path:
    lines = ["[monitor]", f'database = "{tmp / "archive.db"}"', 'log_level = "WARNING"', "",
             "[[rules]]", 'name = "summits"', 'query = "summit*"', 'notify = ["console"]', "",
             "[[rules]]", 'name = "central-asia"', "query = '\"Central Asia\" OR Kazakhstan OR Uzbekistan'",
             'notify = ["console"]', "", "[channels.console]", 'type = "console"', ""]
    for i in range(n):
        lines += ["[[feeds]]", f'name = "feed-{i}"', f'url = "{base}/feed/{i}.rss"', ""]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("commands", nargs=2, metavar="CMD")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--advance", type=int, default=50)
    a = ap.parse_args()
    wire_args = argparse.Namespace(feeds=a.feeds, items=a.items, overlap=0.3, seed=1, latency_ms=0)
    root = Path(tempfile.mkdtemp(prefix="new-ab-"))
    results: dict[str, list[tuple[float, float]]] = {c: [] for c in a.commands}

    def cli(cmd: str, cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([*shlex.split(cmd), "--config", str(cfg), *args], capture_output=True, text=True)
        if p.returncode not in (0, 1):
            raise SystemExit(f"{cmd}: exit {p.returncode}\n{p.stderr[-2000:]}")
        return p

    wires: dict[str, tuple[subprocess.Popen[str], str, Path]] = {}
    try:
        # --force where `run --help` offers it, as compare.sh does (older trees polled every feed anyway).
        force = {c: ["--force"] if "--force" in subprocess.run([*shlex.split(c), "run", "--help"], capture_output=True,
                                                               text=True).stdout else [] for c in a.commands}
        for i, cmd in enumerate(a.commands):  # a wire server and an archive per command, kept to the end
            wire, base = bench_ingest.start_wire(wire_args)
            d = root / f"tree-{i}"
            d.mkdir()
            wires[cmd] = (wire, base, write_config(d, base, a.feeds))
            cli(cmd, wires[cmd][2], "run", "--once")  # cold: fills the archive
        for _ in range(a.runs):
            for i, cmd in enumerate(a.commands):
                _, base, cfg = wires[cmd]
                bench_ingest.call(base, f"/advance?k={a.advance}", "POST")
                load, cpu, start = os.getloadavg()[0], children_cpu(), time.perf_counter()
                p = cli(cmd, cfg, "run", "--once", *force[cmd])
                wall, used = time.perf_counter() - start, children_cpu() - cpu
                new = sum(int(line.split()[1]) for line in p.stdout.splitlines()
                          if line.startswith("ok  ") and line.split()[1].isdigit())
                results[cmd].append((wall, used))
                print(f"[{i}] wall {wall:.3f} s, CPU {used:.3f} s, {new} new, load {load:.2f}", flush=True)
    finally:
        for wire, _, _ in wires.values():
            wire.kill()
            wire.wait()
        shutil.rmtree(root, ignore_errors=True)
    for i, (cmd, runs) in enumerate(results.items()):
        print(f"[{i}] {cmd}: median wall {statistics.median(w for w, _ in runs):.3f} s,"
              f" CPU {statistics.median(c for _, c in runs):.3f} s ({len(runs)} runs)")


if __name__ == "__main__":
    main()
