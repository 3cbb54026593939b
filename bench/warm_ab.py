"""Benchmark: a warm `run --once --force` (200 feeds, all 304) of this tree against another tree, interleaved.

    .venv/bin/python bench/warm_ab.py --other /path/to/main/checkout [--runs 6]

One wire (bench/wire.py) and one archive, filled by a cold run of this tree; then, `--runs` times,
`check` and a warm `run --once --force` of this tree, then the same with the other tree's code
(PYTHONPATH=OTHER in front of this venv's editable install). Interleaving puts both versions
under the same machine load, which back-to-back runs of bench_ingest.py cannot on a shared
machine. The other tree must use the same archive schema. Reports median and best wall, CPU
(user+sys of the CLI) and CPU minus `check` (the start-up). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import start_wire, write_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--other", required=True, help="another checkout of the project (its monitor/ is imported)")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    a = ap.parse_args()
    a.overlap, a.seed, a.latency_ms = 0.3, 1, 0
    other = Path(a.other).resolve()
    if not (other / "monitor" / "__init__.py").exists():
        sys.exit(f"{other} holds no monitor/ package")
    exe = Path(sys.executable).with_name("press-monitor")
    wire, base = start_wire(a)
    tmp = Path(tempfile.mkdtemp(prefix="press-monitor-warm-ab-"))
    cfg = write_config(tmp, base, a.feeds)
    envs = {"this": {}, "other": {"PYTHONPATH": str(other)}}

    def run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
        r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        p = subprocess.run([str(exe), "--config", str(cfg), *args], cwd=tmp, capture_output=True, text=True,
                           env={**os.environ, **env})
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit(f"{' '.join(args)} failed:\n{p.stderr[-2000:]}")
        return time.perf_counter() - t, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, p.stdout

    results: dict[str, list[tuple[float, float, float]]] = {"this": [], "other": []}
    try:
        run(["run", "--once", "--force"], envs["this"])  # cold: fills the archive and the validators
        for _ in range(a.runs):
            for name, env in envs.items():
                _, start_cpu, _ = run(["check"], env)
                wall, cpu, out = run(["run", "--once", "--force"], env)
                if out.count("not modified") != a.feeds:
                    sys.exit(f"{name}: not every feed answered 304:\n{out[-1000:]}")
                results[name].append((wall, cpu, cpu - start_cpu))
    finally:
        wire.terminate()
        wire.wait()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()

    summary = {}
    print(f"warm run --once --force, {a.feeds} feeds all 304, {a.runs} interleaved runs each; other = {other}")
    print(f"{'tree':>6}  {'wall med':>8}  {'wall min':>8}  {'cpu med':>7}  {'cpu min':>7}  {'cpu-check med':>13}")
    for name, rows in results.items():
        walls, cpus, nets = ([r[i] for r in rows] for i in range(3))
        summary[name] = {"wall_median_s": round(statistics.median(walls), 3), "wall_min_s": round(min(walls), 3),
                         "cpu_median_s": round(statistics.median(cpus), 3), "cpu_min_s": round(min(cpus), 3),
                         "net_cpu_median_s": round(statistics.median(nets), 3)}
        s = summary[name]
        print(f"{name:>6}  {s['wall_median_s']:>8.3f}  {s['wall_min_s']:>8.3f}  {s['cpu_median_s']:>7.3f}  "
              f"{s['cpu_min_s']:>7.3f}  {s['net_cpu_median_s']:>13.3f}")
    print(json.dumps({"feeds": a.feeds, "runs": a.runs, **summary}))


if __name__ == "__main__":
    main()
