"""Ingest benchmark: the real `press-monitor run --once` over a local PR Newswire-style wire.

    .venv/bin/python bench/bench_ingest.py [--feeds 200] [--items 100] [--advance 50] [--seed 1]
        [--pg postgresql://postgres@127.0.0.1/DB]   (the same phases on PostgreSQL too, beside SQLite)

bench/wire.py serves N feeds x M items (about 30% of releases carried by 2-3 feeds, each feed with
its own tracking parameters and guid style) in its own process. The CLI runs as a subprocess, one
fresh process per phase, against one fresh archive:

    startup  `check`: the fixed cost of one CLI process (median of 3), subtracted as "net"
    cold     `run --once`, everything new
    warm     `run --once --force` again (no feed is due yet: force), nothing changed: every feed
             should answer 304 and nothing be parsed
    new      `run --once` after POST /advance?k=K: the work should grow with the K new releases,
             not with the size of the feeds they landed in
    search   `search '"Central Asia" summit' --json --limit 100000` (compare.sh's search_query)

After each phase the archive is read: releases stored vs distinct 6-digit release ids in
releases.url (any difference is a duplicate release). /stats gives the requests by status.
The baseline, in this process on the same bodies: feedparser.parse() with its defaults over every
feed, i.e. the floor of any feedparser-based reader (the `reader` library spends ~85% of its update
in it). The peer itself is timed by ../shared/bench/compare.sh; the command is printed at the end.
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
RELEASE_ID = re.compile(r"-(\d{6})\.html")
SEARCH_QUERY = '"Central Asia" summit'  # compare.sh's (../shared/bench/ours.py) search_query phase
OK_LINE = re.compile(r"^ok  (\d+) new  (\d+) dup(.*?)  (\S+)$")
NOT_MODIFIED = re.compile(r"^ok  not modified  (\S+)$")


def call(base: str, path: str, method: str = "GET") -> dict:
    with urllib.request.urlopen(urllib.request.Request(base + path, method=method), timeout=60) as r:
        return json.load(r)


def start_wire(a: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """Start bench/wire.py in its own process; return it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "wire.py"), "--port", "0", "--feeds", str(a.feeds), "--items", str(a.items),
         "--overlap", str(a.overlap), "--seed", str(a.seed), "--latency-ms", str(a.latency_ms)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()  # the server renders every feed before it prints this
    if not base.startswith("http://127.0.0.1:"):
        proc.kill()
        sys.exit(f"bench/wire.py did not start (got {base!r})")
    return proc, base


def write_config(tmp: Path, base: str, n: int, database: str | None = None) -> Path:
    lines = [
        "[monitor]", f'database = "{database or tmp / "archive.db"}"', 'log_level = "WARNING"', "",
        "[terms]", 'central_asia = ["Central Asia", "Kazakhstan", "Uzbekistan", "Kyrgyzstan"]', "",
        "[[rules]]", 'name = "summits"', 'query = "summit*"', 'notify = ["console"]', "",
        "[[rules]]", 'name = "central-asia-energy"', 'query = "@central_asia AND (energy OR pipeline)"',
        'notify = ["console"]', "",
        "[[rules]]", 'name = "acquisitions"', 'query = "title:acquire AND (NASDAQ OR NYSE)"',
        'notify = ["console"]', "",
        "[channels.console]", 'type = "console"', "",
    ]
    for i in range(n):
        # full_text = false: this measures polling, not release pages.
        lines += ["[[feeds]]", f'name = "wire-{i}"', f'url = "{base}/feed/{i}.rss"', "full_text = false", ""]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines))
    return path


def archive_counts(db: Path | str) -> dict:
    """Return releases stored, distinct release ids among them, sightings and matches."""
    if isinstance(db, str):  # a PostgreSQL archive (--pg)
        import psycopg
        with psycopg.connect(db) as pg:
            if not pg.execute("SELECT to_regclass('releases') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
                return dict(stored=0, distinct=0, dups=0, merged=0, sightings=0, matches=0)
            return _counts(pg)
    if not db.exists():
        return dict(stored=0, distinct=0, dups=0, merged=0, sightings=0, matches=0)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return _counts(con)
    finally:
        con.close()


def _counts(con: Any) -> dict:
    if True:
        urls = [u for (u,) in con.execute("SELECT url FROM releases")]
        ids = {m.group(1) for u in urls if u and (m := RELEASE_ID.search(u))}
        links = [u for (u,) in con.execute("SELECT link FROM sightings")]
        seen = {m.group(1) for u in links if u and (m := RELEASE_ID.search(u))}
        matches = con.execute("SELECT count(*) FROM matches").fetchone()[0]
    # dups: one release stored twice. merged: a release seen in a feed (its id in a sighting's link)
    # that has no release of its own, i.e. it was joined to a different release.
    return dict(stored=len(urls), distinct=len(ids), dups=len(urls) - len(ids), merged=len(seen - ids),
                sightings=len(links), matches=matches)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cli(cmd: list[str], args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run one CLI process; return it, its wall time and its CPU time (its worker processes included)."""
    c0, t0 = children_cpu(), time.perf_counter()
    p = subprocess.run(cmd + args, capture_output=True, text=True, cwd=cwd)
    return p, time.perf_counter() - t0, children_cpu() - c0


def read_lines(stdout: str) -> dict:
    """Return what the per-feed lines of `run --once` say: fetched feeds, items in them, new, 304s, errors,
    feeds the fast path left to feedparser."""
    out = dict(feeds_fetched=0, items_in_fetched=0, new=0, dup=0, not_modified=0, errors=0, alerts_line="",
               feedparser_fallbacks=0)
    for line in stdout.splitlines():
        if m := OK_LINE.match(line):
            out["feeds_fetched"] += 1
            out["new"] += int(m.group(1))
            out["dup"] += int(m.group(2))
            out["items_in_fetched"] += int(m.group(1)) + int(m.group(2))
            # The fast path should read every wire feed: a fallback here is a fast-path regression.
            out["feedparser_fallbacks"] += "[feedparser: " in m.group(3)
        elif NOT_MODIFIED.match(line):
            out["not_modified"] += 1
        elif line.startswith("ERR"):
            out["errors"] += 1
        elif line.startswith("alerts:"):
            out["alerts_line"] = line
    return out


def baseline_feedparser(base: str, n: int) -> tuple[float, int]:
    """Return the seconds feedparser.parse() (defaults) takes over every feed body, and the entries found."""
    import feedparser  # the product's own dependency; the baseline uses it the plain way readers do

    bodies = []
    for i in range(n):
        with urllib.request.urlopen(f"{base}/feed/{i}.rss", timeout=60) as r:
            bodies.append(r.read())
    t0, entries = time.process_time(), 0
    for body in bodies:
        entries += len(feedparser.parse(io.BytesIO(body)).entries)
    return time.process_time() - t0, entries


def pg_archive(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh, empty archive in the database at `url` (a schema of its own); and how to drop it."""
    import psycopg
    schema = f"pm_bench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    parts = urlsplit(url)
    archive = urlunsplit(parts._replace(query=f"options={quote(f'-csearch_path={schema}')}"))

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return archive, drop


def one_round(a: argparse.Namespace, exe: Path, baseline: bool, pg: str | None = None) -> dict:
    """Run startup, cold, warm and new against a fresh wire and a fresh archive; return the figures.

    pg: a PostgreSQL database URL: the archive is a fresh schema there instead of an SQLite file."""
    wire, base = start_wire(a)
    tmp = Path(tempfile.mkdtemp(prefix="press-monitor-ingest-bench-"))
    drop: Callable[[], None] | None = None
    try:
        n = call(base, "/stats")["feeds"]
        db: Path | str = tmp / "archive.db"
        if pg:
            db, drop = pg_archive(pg)
        cfg = write_config(tmp, base, n, db if isinstance(db, str) else None)
        cmd = [str(exe), "--config", str(cfg)]
        rows: list[dict] = []

        starts = []
        for _ in range(3):
            p, wall, cpu = run_cli(cmd, ["check"], tmp)
            if p.returncode != 0:
                sys.exit(f"check failed:\n{p.stdout}{p.stderr}")
            starts.append((wall, cpu))
        # The fastest start-up is the one least disturbed by other work on the machine.
        startup, startup_cpu = min(w for w, _ in starts), min(c for _, c in starts)
        rows.append(dict(phase="startup", wall_s=round(startup, 3), net_s=0.0, cpu_s=round(startup_cpu, 3),
                         net_cpu_s=0.0))

        advanced: dict = {}
        for phase in ("cold", "warm", "new"):
            if phase == "new":
                advanced = call(base, f"/advance?k={a.advance}", "POST")
            s0 = call(base, "/stats")
            # --force: warm and new come right after cold, before any feed is due again.
            p, wall, cpu = run_cli(cmd, ["run", "--once", "--force"], tmp)
            s1 = call(base, "/stats")
            (tmp / f"{phase}.out").write_text(p.stdout + "\n--- stderr\n" + p.stderr)
            if p.returncode != 0:
                print(f"{phase}: exit {p.returncode}\n{p.stderr[-2000:]}", file=sys.stderr)
            lines = read_lines(p.stdout)
            row = dict(phase=phase, wall_s=round(wall, 3), net_s=round(wall - startup, 3), cpu_s=round(cpu, 3),
                       net_cpu_s=round(cpu - startup_cpu, 3), exit=p.returncode,
                       requests=s1["requests"] - s0["requests"], http_200=s1["status_200"] - s0["status_200"],
                       http_304=s1["status_304"] - s0["status_304"],
                       conditional=s1["conditional"] - s0["conditional"],
                       mb_sent=round((s1["bytes_sent"] - s0["bytes_sent"]) / 1e6, 2),
                       mb_body=round((s1["body_bytes"] - s0["body_bytes"]) / 1e6, 2),
                       **{k: v for k, v in lines.items() if k != "alerts_line"},
                       **archive_counts(db))
            if lines["alerts_line"]:
                row["alerts"] = lines["alerts_line"]
            rows.append(row)

        # compare.sh's last phase: one search over the archive, every hit (a fresh process, as the peer's).
        p, wall, cpu = run_cli(cmd, ["search", SEARCH_QUERY, "--json", "--limit", "100000"], tmp)
        hits = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip().startswith("[") else []
        rows.append(dict(phase="search", wall_s=round(wall, 3), net_s=round(wall - startup, 3), cpu_s=round(cpu, 3),
                         net_cpu_s=round(cpu - startup_cpu, 3), exit=p.returncode, hits=len(hits)))
        out = dict(rows=rows, truth=call(base, "/stats"), advanced=advanced, baseline=None, kept=None)
        if baseline:
            out["baseline"] = baseline_feedparser(base, n)
    finally:
        wire.terminate()
        wire.wait()
        if drop is not None:
            drop()
        if a.keep:
            out["kept"] = tmp
        else:
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Time `press-monitor run --once` cold, warm and after new releases.")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--advance", type=int, default=50, help="new releases published before the 'new' phase")
    ap.add_argument("--overlap", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--latency-ms", type=float, default=0, help="delay per feed response (0: loopback speed)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="whole rounds (fresh wire, fresh archive); each phase reports its fastest round")
    ap.add_argument("--no-baseline", action="store_true", help="skip the in-process feedparser baseline")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (config.toml, archive.db, outputs)")
    ap.add_argument("--pg", metavar="URL", help="also run every round on PostgreSQL (a fresh schema in the database"
                    " at URL, dropped after) and print PostgreSQL / SQLite per phase")
    a = ap.parse_args()

    exe = Path(sys.executable).with_name("press-monitor")
    if not exe.exists():
        sys.exit(f"{exe} not found: run this with the project's venv python (.venv/bin/python)")
    rounds = [one_round(a, exe, baseline=(i == a.repeat - 1 and not a.no_baseline)) for i in range(max(1, a.repeat))]
    pg_rows = best_rows([one_round(a, exe, baseline=False, pg=a.pg) for _ in range(max(1, a.repeat))]) if a.pg else None
    rows = best_rows(rounds)
    last = rounds[-1]
    base_s, base_entries = last["baseline"] or (None, None)
    report(a, rows, last["truth"], last["advanced"], base_s, base_entries, last["kept"], pg_rows)


def best_rows(rounds: list[dict]) -> list[dict]:
    """Rounds are identical (same seed), so the fastest of each phase is the least disturbed measurement."""
    rows = []
    for i in range(len(rounds[0]["rows"])):
        runs = [r["rows"][i] for r in rounds]
        best = dict(min(runs, key=lambda row: row["wall_s"]))
        if len(runs) > 1:
            best["walls"] = [row["wall_s"] for row in runs]
            best["dups"] = max(row.get("dups", 0) for row in runs)  # a duplicate in any round counts
            best["merged"] = max(row.get("merged", 0) for row in runs)
            best["exit"] = max(row.get("exit", 0) for row in runs)  # so does a failed run
        rows.append(best)
    return rows


def report(a, rows, truth, advanced, base_s, base_entries, kept, pg_rows=None) -> None:
    cols = [("phase", 7), ("wall_s", 7), ("net_s", 7), ("cpu_s", 7), ("net_cpu_s", 7), ("requests", 4),
            ("http_200", 4), ("http_304", 4), ("mb_sent", 7), ("mb_body", 7), ("feeds_fetched", 7),
            ("items_in_fetched", 6), ("new", 6), ("dup", 6), ("stored", 6), ("distinct", 8), ("dups", 4), ("merged", 6),
            ("matches", 7), ("hits", 5)]
    heads = dict(requests="req", http_200="200", http_304="304", mb_sent="MB sent", mb_body="MB body",
                 feeds_fetched="fetched", items_in_fetched="items", net_s="net s", wall_s="wall s", cpu_s="cpu s",
                 net_cpu_s="net cpu")
    print(f"press-monitor run --once over bench/wire.py: {a.feeds} feeds x {a.items} items, overlap {a.overlap}, "
          f"seed {a.seed}, latency {a.latency_ms:g} ms" + (f", fastest of {a.repeat} rounds" if a.repeat > 1 else ""))
    print("  ".join(f"{heads.get(c, c):>{w}}" for c, w in cols))
    for r in rows:
        print("  ".join(f"{r.get(c, ''):>{w}}" for c, w in cols))
    print("net = minus the start-up (`check`, fastest of 3); cpu = user+sys of the CLI and its parse workers; "
          "fetched/items = feeds answered 200 and the items they held (new + dup); stored/distinct = releases in "
          "the archive / distinct 6-digit release ids; dups = stored - distinct; merged = releases seen in a feed "
          "but joined to a different release")
    print(f"ground truth: {truth['releases_published']} distinct releases published, "
          f"{truth['items_published']} feed items")

    cold, warm, new = rows[1], rows[2], rows[3]
    summary: dict = dict(tool="press-monitor", feeds=a.feeds, items_per_feed=a.items, advance=a.advance,
                         releases_published=truth["releases_published"], items_published=truth["items_published"],
                         phases=rows)
    checks = [("every run --once exited 0", all(r.get("exit", 0) == 0 for r in rows[1:]))]
    n_rel, n_items = max(cold["distinct"], 1), max(cold["items_in_fetched"], 1)
    ms_rel, ms_rel_cpu = cold["net_s"] / n_rel * 1000, cold["net_cpu_s"] / n_rel * 1000
    print(f"cold: {ms_rel:.3f} ms wall per release stored ({cold['distinct'] / max(cold['net_s'], 1e-9):,.0f} "
          f"releases/s); {ms_rel_cpu:.3f} ms CPU per release, {cold['net_cpu_s'] / n_items * 1000:.3f} ms CPU "
          "per feed item")
    summary.update(cold_ms_per_release=round(ms_rel, 4), cold_cpu_ms_per_release=round(ms_rel_cpu, 4))
    checks.append(("no duplicate releases stored", all(r.get("dups", 0) == 0 for r in rows[1:])))
    checks.append(("the fast path read every feed (no feedparser fallback)",
                   all(r.get("feedparser_fallbacks", 0) == 0 for r in rows[1:])))
    checks.append(("no distinct releases merged into another", all(r.get("merged", 0) == 0 for r in rows[1:])))
    checks.append(("every published release seen", new["distinct"] + new["merged"] == truth["releases_published"]))
    checks.append((f"warm: all {a.feeds} feeds answered 304 and nothing parsed",
                   warm["http_304"] == a.feeds and warm["http_200"] == 0 and warm["feeds_fetched"] == 0
                   and warm["not_modified"] == a.feeds))

    # The 'new' phase: its extra CPU over a warm poll, against what re-parsing the changed feeds whole
    # would cost at the cold per-item rate, and what the new releases alone cost at the cold per-release rate.
    extra = new["net_cpu_s"] - warm["net_cpu_s"]
    if_full = new["items_in_fetched"] * cold["net_cpu_s"] / n_items
    if_new = new["new"] * cold["net_cpu_s"] / n_rel
    print(f"new: {advanced.get('published')} releases published as {advanced.get('items_added')} items into "
          f"{len(advanced.get('feeds_changed', []))} feeds; the CLI re-fetched {new['feeds_fetched']} feeds "
          f"holding {new['items_in_fetched']} items, {new['new']} of them new releases "
          f"({new['dup']} already known)")
    print(f"new: {extra:+.3f} s CPU over a warm poll ({new['net_s'] - warm['net_s']:+.3f} s wall); at the cold "
          f"rate, parsing the re-fetched feeds whole would cost ~{if_full:.3f} s, the new releases alone "
          f"~{if_new:.3f} s")
    summary.update(new_extra_cpu_over_warm_s=round(extra, 3), new_if_full_reparse_cpu_s=round(if_full, 3),
                   new_if_only_new_cpu_s=round(if_new, 3))
    checks.append((f"new: {a.advance} new releases stored", new["new"] == a.advance))
    checks.append(("new: extra CPU nearer the new releases' cost than the changed feeds' size",
                   extra < (if_full + if_new) / 2))

    if base_s is not None:
        r_cpu = cold["net_cpu_s"] / base_s if base_s else float("nan")
        r_wall = cold["net_s"] / base_s if base_s else float("nan")
        print(f"baseline, this process: feedparser.parse() with its defaults over the {a.feeds} feed bodies: "
              f"{base_s:.3f} s CPU ({base_entries} entries). cold / baseline: net wall {r_wall:.2f}, net CPU "
              f"{r_cpu:.2f} (`reader` spends ~85% of its update in feedparser; the target is <= 0.5 of its update)")
        summary.update(baseline_feedparser_cpu_s=round(base_s, 3), cold_net_wall_over_feedparser=round(r_wall, 3),
                       cold_net_cpu_over_feedparser=round(r_cpu, 3))
    if pg_rows is not None:
        # The same phases on PostgreSQL, fresh wire and archive, same corpus: ratios PostgreSQL / SQLite.
        print("PostgreSQL beside SQLite (same corpus, this run):")
        print(f"  {'phase':>7}  {'sqlite net s':>12}  {'pg net s':>9}  {'ratio':>6}  {'sqlite cpu':>10}  {'pg cpu':>7}"
              f"  {'ratio':>6}  {'pg stored':>9}  {'pg dups':>7}")
        ratios = {}
        for mine, theirs in zip(rows[1:], pg_rows[1:], strict=True):
            rw = theirs["net_s"] / mine["net_s"] if mine["net_s"] > 0 else float("nan")
            rc = theirs["net_cpu_s"] / mine["net_cpu_s"] if mine["net_cpu_s"] > 0 else float("nan")
            ratios[mine["phase"]] = dict(wall=round(rw, 3), cpu=round(rc, 3))
            print(f"  {mine['phase']:>7}  {mine['net_s']:>12}  {theirs['net_s']:>9}  {rw:>6.2f}"
                  f"  {mine['net_cpu_s']:>10}  {theirs['net_cpu_s']:>7}  {rc:>6.2f}"
                  f"  {theirs.get('stored', '')!s:>9}  {theirs.get('dups', '')!s:>7}")
        summary.update(postgresql=pg_rows, postgresql_over_sqlite=ratios)
        checks.append(("PostgreSQL: every run --once exited 0", all(r.get("exit", 0) == 0 for r in pg_rows[1:])))
        checks.append(("PostgreSQL: the same releases stored, no duplicate",
                       all(p.get("stored") == s.get("stored") and p.get("dups", 0) == 0
                           for s, p in zip(rows[1:], pg_rows[1:], strict=True))))
        checks.append(("PostgreSQL: the search finds what SQLite's finds",
                       pg_rows[-1].get("hits") == rows[-1].get("hits")))
        checks.append(("PostgreSQL cold ingest within 1.5x of SQLite (net wall)", ratios["cold"]["wall"] <= 1.5))
    for name, ok in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    summary["checks"] = {name: ok for name, ok in checks}
    if kept:
        print(f"kept: {kept} (config.toml, archive.db, <phase>.out)")
    print("against the `reader` peer (several minutes): "
          "SIZES=200x100 bash /work/shared/bench/compare.sh \"$PWD/bench/pm-force\"")
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
