"""The web view and HTTP API at scale: p50/p95 per page over an archive built by archive_scale.py.

    .venv/bin/python bench/web_scale.py [--releases 100000] [--dir /tmp/pm-web-scale] [--runs 20] [--keep]

Grows (or reuses) an archive with bench/archive_scale.py's generator (release i published at
2023-01-01 + i minutes, 20 feeds, the real compiled rules), writes a matching config.toml, and
starts `press-monitor serve` in a child process whose clock is set to the newest release (so the
90-day charts cover real data). Then times each page over HTTP, sequentially: one warm-up and
`--runs` timed requests each; p50/p95 per page. The target is p95 <= 300 ms at 1M releases.

Ratio in the same process, against the baseline: `Store.browse` (the search the web view used
before the rank window) vs `Store.web_search` for a word in every release, page 1.

Measured 2026-12-01 at 100,000 releases (1M would take over an hour to grow on the shared
2-core machine), `--releases 100000 --runs 20`, p50 / p95 ms, load average 4.3-5.5 from other work.
Before / after the window fixes (one JSON parameter for id lists; feed/rule filters as id sets;
ranking only the window; the sightings_by_feed index), same archive, same hour:

    front page (newest, facets of the newest 5,000)   609 / 736   ->   54 / 70
    search: word in every release                     711 / 952   ->   68 / 85     (page 5: 768 / 821 -> 67 / 92)
    search: common word (~30%)                        812 / 917   ->   72 / 100
    search: @central_asia                              64 / 96    ->   48 / 61
    search: every-release word + feed filter (10%)  1,308 / 1,363 ->  115 / 161
    feeds                                              96 / 126   ->   56 / 68     (unchanged code: load)
    release 2 / 3, rules 3 / 3, rule with chart 8 / 12, its page 2 8 / 14, playground 21 / 26,
    /api/search 22 / 35, /api/rules/R/matches 4 / 4, /api/feeds 2 / 2, /healthz 4 / 6
    rank window ratio (web_search / browse, 'announced' page 1): 0.10 (17 ms vs 172 ms)
"""

from __future__ import annotations

import argparse
import json
import selectors
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.archive_scale import FEEDS, RULES, TERMS, Generator, grow, release_time  # noqa: E402
from monitor.rules import compile_rules  # noqa: E402
from monitor.store import Store  # noqa: E402


def config_text(db: Path) -> str:
    lines = ["[monitor]", f'database = "{db}"', "", "[terms]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in TERMS.items()]
    for f in FEEDS:
        lines += ["", "[[feeds]]", f'name = "{f.name}"', f'url = "{f.url}"']
    for r in RULES:
        lines += ["", "[[rules]]", f'name = "{r.name}"', f"query = {json.dumps(r.query)}", "notify = []"]
    return "\n".join(lines) + "\n"


def child(cfg: Path, now: str) -> None:
    """Serve with the clock at `now` (ISO): print the URL, serve until killed."""
    from datetime import datetime

    from monitor import app as app_mod
    from monitor import web
    from monitor.clock import SystemClock

    class ArchiveTime(SystemClock):
        """The archive's "now" for the charts; the real monotonic clock for the facet budget."""

        def now(self) -> datetime:
            return datetime.fromisoformat(now)

    server = web.make_server(app_mod.load(cfg), "127.0.0.1", 0, clock=ArchiveTime())
    print(f"serving {server.url}", flush=True)
    web.serve(server)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def fetch(url: str) -> tuple[int, int]:
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:
            return resp.status, len(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, len(exc.read())


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--releases", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/pm-web-scale"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the archive for a later run")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db = args.dir / "archive.db"
    with Store(db) as store:
        have = store.count("releases")
    if have < args.releases:
        print(f"growing {have:,} -> {args.releases:,} releases", flush=True)
        added, seconds = grow(db, Generator(), compile_rules(RULES, TERMS), args.releases)
        print(f"grew {added:,} in {seconds:,.0f} s", flush=True)
    with Store(db) as store:
        n = store.count("releases")
        store.conn.execute("PRAGMA optimize")
        some = store.conn.execute("SELECT id FROM releases ORDER BY id DESC LIMIT 1 OFFSET 1000").fetchone()[0]
    now = release_time(n).isoformat()
    cfg = args.dir / "config.toml"
    cfg.write_text(config_text(db), encoding="utf-8")

    # The baseline ratio, in this process: ranking every match vs the rank window.
    with Store(db, readonly=True) as store:
        def best(fn: object, runs: int = 5) -> float:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()  # type: ignore[operator]
                times.append(time.perf_counter() - t)
            return min(times)
        old = best(lambda: store.browse("announced", limit=26))
        new = best(lambda: store.web_search("announced", limit=26, window=store.web_window("announced")[0]))
    print(f"search 'announced' (every release), page 1: browse (all ranked) {old * 1000:,.0f} ms,"
          f" web_search (rank window) {new * 1000:,.0f} ms: ratio {new / old:.3f}", flush=True)

    proc = subprocess.Popen([sys.executable, __file__, "--child", str(cfg), now], stdout=subprocess.PIPE, text=True)
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=60):
        proc.kill()
        raise SystemExit("the server did not start")
    base = proc.stdout.readline().split()[1].rstrip("/")
    q = urllib.parse.quote
    pages = [
        ("front page (newest)", "/"),
        ("search: word in every release", "/?q=announced"),
        ("search: word in every release, page 5", "/?q=announced&page=5"),
        ("search: common word (~30%)", "/?q=million"),
        ("search: @central_asia", "/?q=" + q("@central_asia")),
        ("search: filtered by feed", "/?q=announced&feed=" + q(FEEDS[3].name)),
        ("release", f"/release/{some}"),
        ("rules", "/rules"),
        ("rule with chart (earnings)", "/rule/earnings"),
        ("rule page 2", None),
        ("playground: summit*", "/rules/try?q=" + q("summit*")),
        ("feeds", "/feeds"),
        ("api search: every release", "/api/search?q=announced"),
        ("api rule matches", "/api/rules/earnings/matches?limit=50"),
        ("api feeds", "/api/feeds"),
        ("healthz", "/healthz"),
    ]
    results = []
    try:
        for label, path in pages:
            if path is None:  # the second page of the rule's matches, by its own "older" link
                with urllib.request.urlopen(base + "/rule/earnings", timeout=120) as resp:
                    html = resp.read().decode()
                start = html.index('rel="next" href="') + len('rel="next" href="')
                path = html[start:html.index('"', start)].replace("&amp;", "&")
            status, size = fetch(base + path)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                status, size = fetch(base + path)
                times.append((time.perf_counter() - t) * 1000)
            results.append({"page": label, "path": path, "status": status, "bytes": size,
                            "p50_ms": round(statistics.median(times), 1), "p95_ms": round(pct(times, 0.95), 1)})
            print(f"{label:<40} {status}  p50 {results[-1]['p50_ms']:>7.1f} ms   p95 {results[-1]['p95_ms']:>7.1f} ms",
                  flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    if not args.keep:
        shutil.rmtree(args.dir)
    print(json.dumps({"releases": n, "ratio_rank_window": round(new / old, 4), "pages": results}))


if __name__ == "__main__":
    main()
