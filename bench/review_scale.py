"""Reviewing a big archive: export, rule feeds and the web view over N releases (default 1,000,000).

    .venv/bin/python bench/review_scale.py [--releases 1000000] [--dir /tmp/pm-bench] [--keep]

Builds a synthetic archive through the Store's real ingest methods (text with a Zipf-like word
distribution, a few topic words rare enough to behave like real watch terms, 20 feeds, a dateline
on most releases, rule matches), then times the real commands as a user runs them:

- `press-monitor export` (JSONL, CSV, --rule, --query): wall time and the process's peak RSS,
  which must stay flat however big the archive is (the export streams);
- `press-monitor feed RULE`;
- `press-monitor serve`: each page type over HTTP (median of 3), and whether facets had to be
  skipped to keep the page prompt.

Building 1M releases takes several minutes and ~2.5 GB of disk; the archive is reused when
--dir already holds one of the right size.

Measured 2026-11-27 on the 2-core development machine (1,000,000 releases, 1,050,049 sightings,
52,427 matches; 2.9 GiB archive; other work running beside it):

    export, JSONL, everything        86 s   11.7k releases/s   peak RSS 47 MiB (20k releases: 47 MiB)
    export --format csv             138 s    7.2k releases/s   peak RSS 47 MiB
    export --rule earnings (26k)      6 s                      peak RSS 48 MiB
    feed central-asia               1.4 s (mostly interpreter start-up)
    web: release, rule, Atom, rules and feeds pages 3-25 ms; a selective search (summit AND dividend)
    54 ms; broad searches and the unfiltered front page 1.5-2.6 s, the facets that could not be
    counted within the 1.5 s budget shown as skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import selectors
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.store import Store
from monitor.types import Dateline, Release

PLACES = ["NEW YORK", "LONDON", "ASTANA, Kazakhstan", "CHICAGO", "TOKYO", "PARIS", "BERLIN", "TASHKENT, Uzbekistan",
          "SAN FRANCISCO", "TORONTO", "SYDNEY", "MUMBAI"]
WIRES = ["PRNewswire", "Business Wire", "GlobeNewswire"]
# Topic words and how often a release mentions one: rare, like the things people watch for.
TOPICS = {"Kazakhstan": 0.002, "Uzbekistan": 0.001, "summit": 0.01, "dividend": 0.02, "quarterly": 0.03}
CONFIG = """\
[monitor]
database = "archive.db"

[terms]
central_asia = ['"Central Asia"', "Kazakhstan", "Uzbekistan"]

{feeds}

[[rules]]
name = "central-asia"
query = "@central_asia"

[[rules]]
name = "earnings"
query = "quarterly OR dividend"
"""


def vocabulary(rng: random.Random, size: int = 8000) -> tuple[list[str], list[float]]:
    """Return pseudo-words and Zipf weights (1/rank), like word frequencies in real text."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = sorted({"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)})
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    return words, weights


def build(db: Path, n: int) -> float:
    """Fill the archive with n releases through Store.insert_release/add_sighting/add_match; return seconds."""
    rng = random.Random(20261127)
    words, weights = vocabulary(rng)
    cum = list(_accumulate(weights))
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    with Store(db) as store:
        feeds = [(f"Wire feed {i:02d}", f"https://wire.example/{i:02d}.rss") for i in range(20)]
        with store.transaction():
            fids = [store.feed_id(name, url) for name, url in feeds]
        for first in range(0, n, 5000):
            with store.transaction():
                for i in range(first, min(n, first + 5000)):
                    text = rng.choices(words, cum_weights=cum, k=140)
                    topics = [w for w, p in TOPICS.items() if rng.random() < p]
                    for w in topics:
                        text.insert(rng.randrange(len(text)), w)
                    title = " ".join(text[:9]).capitalize() + f" {i}"
                    body = " ".join(text)
                    published = t0 + timedelta(minutes=i)  # ~2 years of releases at 1M
                    place = rng.choice(PLACES) if rng.random() < 0.9 else ""
                    item = Release(
                        sighting_key=f"g{i}", url=f"https://news.example/r/{i}", link=f"https://news.example/r/{i}",
                        title=title, summary=body[:240], body=body, author="", published_at=published,
                        published_known=True,
                        dateline=Dateline(place, published.date(), rng.choice(WIRES)) if place else None,
                        tickers=(), fingerprint=hashlib.sha1(title.encode()).hexdigest()[:16], content_hash=str(i))
                    f = rng.randrange(len(feeds))
                    rid = store.insert_release(item, feeds[f][0], published)
                    store.add_sighting(fids[f], feeds[f][0], rid, item, published)
                    if rng.random() < 0.05:  # the same release on a second feed
                        g = (f + 1) % len(feeds)
                        store.add_sighting(fids[g], feeds[g][0], rid, item, published)
                    if {"Kazakhstan", "Uzbekistan"} & set(topics):
                        store.add_match(rid, "central-asia", "…", published)
                    if {"dividend", "quarterly"} & set(topics):
                        store.add_match(rid, "earnings", "…", published)
            if first and first % 100_000 == 0:
                print(f"  {first:,} releases, {time.perf_counter() - start:.0f} s", flush=True)
    (db.parent / "config.toml").write_text(CONFIG.format(
        feeds="\n".join(f'[[feeds]]\nname = "{name}"\nurl = "{url}"\n' for name, url in feeds)))
    return time.perf_counter() - start


def _accumulate(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += v
        out.append(total)
    return out


def cli(cfg: Path, *args: str) -> tuple[float, float, int]:
    """Run press-monitor with stdout to /dev/null; return (seconds, peak RSS MiB, bytes written)."""
    out = cfg.parent / "out.bin"
    start = time.perf_counter()
    with open(out, "wb") as sink:
        # Each command runs in a fresh process that reports its own peak RSS (see _PEAK_WRAPPER).
        proc = subprocess.run(
            [sys.executable, "-c", _PEAK_WRAPPER, "--config", str(cfg), *args],
            stdout=sink, stderr=subprocess.PIPE, text=False, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"press-monitor {' '.join(args)} failed: {proc.stderr.decode()[-2000:]}")
    peak = float(proc.stderr.decode().strip().splitlines()[-1].split()[-1])
    size = out.stat().st_size
    out.unlink()
    return seconds, peak, size


# Runs the CLI in-process, then prints its own peak RSS on stderr (ru_maxrss is KiB on Linux).
_PEAK_WRAPPER = """
import resource, sys
from monitor.cli import main
try:
    main.main(args=sys.argv[1:], prog_name="press-monitor", standalone_mode=False)
finally:
    sys.stdout.flush()
    print("peak_rss_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)
"""


def web_timings(cfg: Path, n: int) -> list[tuple[str, float, int, int]]:
    """Return (path, median ms, HTTP status, facets skipped) per page of a running `serve`."""
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        sel = selectors.DefaultSelector()
        assert proc.stdout is not None
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=30):
            raise SystemExit("serve did not start")
        base = proc.stdout.readline().split()[1].rstrip("/")
        paths = ["/", "/?q=Kazakhstan", "/?q=%40central_asia", "/?q=summit+AND+dividend",
                 "/?q=%22Central+Asia%22+OR+Uzbekistan&place=ASTANA%2C+Kazakhstan", "/?rule=earnings",
                 "/?feed=Wire+feed+03&date=2024-03", f"/release/{n // 2}", "/rules", "/rule/central-asia",
                 "/rule/central-asia/feed.atom", "/feeds"]
        out = []
        for path in paths:
            times, status, skipped = [], 0, 0
            for _ in range(3):
                start = time.perf_counter()
                try:
                    with urllib.request.urlopen(base + path, timeout=120) as resp:
                        status, body = resp.status, resp.read().decode()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read().decode()
                times.append((time.perf_counter() - start) * 1000)
                skipped = body.count("skipped: too many releases")
            out.append((path, statistics.median(times), status, skipped))
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--releases", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/press-monitor-review-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the archive for another run")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db, cfg = args.dir / "archive.db", args.dir / "config.toml"
    existing = 0
    if db.exists() and cfg.exists():
        with Store(db, readonly=True) as store:
            existing = store.count("releases")
    if existing != args.releases:
        for p in args.dir.glob("archive.db*"):
            p.unlink()
        print(f"building {args.releases:,} releases in {db} ...", flush=True)
        print(f"built in {build(db, args.releases):.0f} s, {db.stat().st_size / 2**30:.2f} GiB", flush=True)
    else:
        print(f"reusing {db} ({existing:,} releases, {db.stat().st_size / 2**30:.2f} GiB)")
    with Store(db, readonly=True) as store:
        counts = {t: store.count(t) for t in ("releases", "sightings", "matches")}
    print(f"archive: {counts}\n")

    print("| command | seconds | releases/s | peak RSS MiB | output MiB |\n|---|---:|---:|---:|---:|")
    for label, cmd, rows in [
        ("export (JSONL, everything)", ("export",), counts["releases"]),
        ("export --format csv", ("export", "--format", "csv"), counts["releases"]),
        ("export --rule earnings", ("export", "--rule", "earnings"), None),
        ("export --query @central_asia", ("export", "--query", "@central_asia"), None),
        ("export --since 2025-06-01", ("export", "--since", "2025-06-01"), None),
        ("feed central-asia", ("feed", "central-asia"), None),
    ]:
        seconds, peak, size = cli(cfg, *cmd)
        rate = f"{rows / seconds:,.0f}" if rows else "–"
        print(f"| `{label}` | {seconds:.1f} | {rate} | {peak:.0f} | {size / 2**20:.1f} |", flush=True)

    print("\n| page | median ms | status | facets skipped |\n|---|---:|---:|---:|")
    for path, ms, status, skipped in web_timings(cfg, counts["releases"]):
        print(f"| `{path}` | {ms:.0f} | {status} | {skipped} |", flush=True)
    if not args.keep:
        shutil.rmtree(args.dir)


if __name__ == "__main__":
    main()
