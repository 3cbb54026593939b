"""Search p95 per query class at scale, SQLite and PostgreSQL side by side, through the real store.

    .venv/bin/python bench/pgsearch_scale.py [--sizes 1000000] [--backends sqlite,postgresql]
        [--dir /work/bench-data/pgsearch] [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--runs 20] [--explain] [--name pm_bench_scale] [--build-only] [--against OTHER/pgsearch.py]

One archive per backend with the real schema (Store opens and migrates it): an SQLite file
`DIR/NAME.sqlite` and a PostgreSQL database NAME (--name, default pm_bench_scale), grown to each of --sizes in turn
(ascending) and measured there. Both are kept (they take many minutes to build) and grown further
by the next run; delete them by hand (`rm`, `DROP DATABASE`). Keep DIR outside the repository.

How the archive is built fast, and what that changes:
- The text is bench_pgsearch.py's: BASE distinct releases from tests/corpus.py (Corpus(seed=1)),
  with the same query classes (bench_pgsearch.CLASSES), so figures compare with its 100k table.
- Releases BASE+1.. are copies of the first BASE under new ids, made in SQL (INSERT … SELECT), so
  building N costs one pass of Python tokenizing over BASE, not N. Every word keeps its share of
  releases (a word in every release is in all N, a rare one in N/BASE times as many); what a copy
  does not change is where a search's time goes, which is per matching row and per index page.
- SQLite: the rows go into `releases` through the store's own connection, so the store's FTS5
  triggers index each one (the same index `run` builds), then the daily merge (`optimize`).
- PostgreSQL: the rows go in by COPY with the search column pgsearch.tsvector() computed once per
  distinct text (plus the id's bucket lexeme, pgsearch.bucket()), the copies by INSERT … SELECT
  with their own bucket (the store's triggers off for the load: session_replication_role =
  replica), then the GIN index (pgsearch.INDEX_DDL) and VACUUM ANALYZE.

Timed per class, after one warm-up, --runs times: Store.search(q, limit=20), i.e. what `press-monitor
search` does (the newest RANK_WINDOW matches ranked, the top 20 with snippets). p50/p95 in ms.
--explain prints, on PostgreSQL, where a search's time goes per step (pgsearch.newest, scored,
snippets) for each class.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pgsearch import CLASSES  # noqa: E402  (this folder is on sys.path when run as a script)

from monitor.rules import fts_query  # noqa: E402
from monitor.store import RANK_WINDOW, Store, pgsearch  # noqa: E402
from monitor.store.base import ts  # noqa: E402
from monitor.types import FTS_COLUMNS, ServerDatabase  # noqa: E402
from tests.corpus import Corpus  # noqa: E402

BASE = 100_000
STEP = 5_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# Every column `releases` has on both backends, in this order.
COLUMNS = ("id", "url", *FTS_COLUMNS, "published_at", "published_known", "first_seen_at", "fingerprint")


def corpus_chunks() -> list[tuple[int, int]]:
    return [(s, min(STEP, BASE - s)) for s in range(0, BASE, STEP)]


def _progress(what: str, done: int, started: float) -> None:
    print(f"\r  {what}: {done:,} releases, {done / max(time.monotonic() - started, 1e-9):,.0f}/s",
          end="", file=sys.stderr, flush=True)


def _copies(target: int) -> list[tuple[int, int]]:
    """(first id, last id) of each copy of the first BASE releases up to `target` releases."""
    return [(lo, min(lo + BASE - 1, target)) for lo in range(BASE + 1, target + 1, BASE)]


def build_sqlite(path: Path, n: int) -> None:
    started = time.monotonic()
    cols = ", ".join(COLUMNS)
    with Store(path) as store:
        conn = store.driver.sqlite()
        have = conn.execute("SELECT coalesce(max(id), 0) FROM releases").fetchone()[0]
        if have >= n:
            return
        corpus = Corpus(seed=1)
        for start, size in corpus_chunks():
            if start + size <= have:
                continue
            rows = []
            for d in corpus.docs(size, start):
                i = d.key + 1
                when = ts(T0 + timedelta(minutes=i))
                rows.append((i, f"https://news.example/r/{i}", *d.columns(), when, 1, when, f"fp{i}"))
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO releases ({cols}) VALUES ({', '.join('?' * len(COLUMNS))})", rows)
            conn.execute("COMMIT")
            _progress("sqlite distinct", start + size, started)
        for lo, hi in _copies(n):
            if hi <= have:
                continue
            off = lo - 1
            # The store's triggers index every copied row into FTS5, as ingest would.
            conn.execute("BEGIN")
            conn.execute(f"INSERT INTO releases ({cols}) SELECT id + {off}, url || '?c={off}', "
                         + ", ".join(FTS_COLUMNS) + f", published_at, published_known, first_seen_at,"
                         f" fingerprint || '-{off}' FROM releases WHERE id <= {hi - off}")
            conn.execute("COMMIT")
            _progress("sqlite copies", hi, started)
        print(file=sys.stderr)
        t = time.monotonic()
        conn.execute("INSERT INTO releases_fts(releases_fts) VALUES ('optimize')")
        print(f"  sqlite FTS optimize: {time.monotonic() - t:.0f} s; built in {time.monotonic() - started:.0f} s",
              file=sys.stderr)


def _rebucket(off: int) -> str:
    """The search column of a copy `off` ids up: its id's bucket lexeme instead of the original's
    (what pgsearch.BUCKET_DDL's trigger stores; triggers are off while loading)."""
    b = pgsearch.BUCKET_BITS
    return (f"ts_delete({pgsearch.FTS}, '#' || (id >> {b})) || array_to_tsvector(ARRAY['#' || ((id + {off}) >> {b})])")


def build_postgresql(url: str, n: int) -> None:
    started = time.monotonic()
    Store(ServerDatabase(url)).close()  # the real schema, migrated
    cols = ", ".join(COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # no search_pending notes: fts is written here
        conn.execute("SET maintenance_work_mem = '1GB'")
        have = conn.execute("SELECT coalesce(max(id), 0) FROM releases").fetchone()[0]  # type: ignore[index]
        if have >= n:
            return
        conn.execute("DROP INDEX IF EXISTS releases_fts_gin")  # built once at the end: far faster than row by row
        conn.commit()
        corpus = Corpus(seed=1)
        with conn.cursor() as cur:
            for start, size in corpus_chunks():
                if start + size <= have:
                    continue
                with cur.copy(f"COPY releases ({cols}, {pgsearch.FTS}) FROM STDIN") as copy:
                    for d in corpus.docs(size, start):
                        i = d.key + 1
                        when = ts(T0 + timedelta(minutes=i))
                        copy.write_row((i, f"https://news.example/r/{i}", *d.columns(), when, 1, when, f"fp{i}",
                                        pgsearch.tsvector(d.columns()) + f" '{pgsearch.bucket(i)}'"))
                conn.commit()
                _progress("postgresql distinct", start + size, started)
            for lo, hi in _copies(n):
                if hi <= have:
                    continue
                off = lo - 1
                cur.execute(f"INSERT INTO releases ({cols}, {pgsearch.FTS}) SELECT id + {off}, url || '?c={off}', "
                            + ", ".join(FTS_COLUMNS) + f", published_at, published_known, first_seen_at,"
                            f" fingerprint || '-{off}', {_rebucket(off)} FROM releases WHERE id <= {hi - off}")
                conn.commit()
                _progress("postgresql copies", hi, started)
        print(file=sys.stderr)
        conn.execute("SELECT setval(pg_get_serial_sequence('releases', 'id'), (SELECT max(id) FROM releases))")
        t = time.monotonic()
        conn.execute(pgsearch.INDEX_DDL)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE releases")
        print(f"  postgresql GIN index + VACUUM ANALYZE: {time.monotonic() - t:.0f} s;"
              f" built in {time.monotonic() - started:.0f} s", file=sys.stderr)


def timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn()
    got = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        got.append((time.perf_counter() - t) * 1000)
    got.sort()
    return statistics.median(got), got[min(len(got) - 1, round(0.95 * (len(got) - 1)))]


def measure(store: Store, runs: int) -> dict[str, tuple[int, float, float]]:
    out = {}
    for label, query in CLASSES.items():
        q = fts_query(query, {})
        hits = len(store.search(q, limit=None)) if label in ("rare word", "NEAR", "phrase") else -1
        p50, p95 = timed(lambda q=q: store.search(q, limit=20), runs)  # type: ignore[misc]
        out[label] = (hits, p50, p95)
        print(f"    {label:<24} {hits if hits >= 0 else '':>8} {p50:>8.1f} {p95:>8.1f}", flush=True)
    return out


def steps(store: Store, runs: int) -> None:
    """Per class on PostgreSQL: the median of each step of a search (window, rank, snippets)."""
    from monitor.store import pgreview
    for label, query in CLASSES.items():
        q = fts_query(query, {})
        window = pgreview.newest(store, q, RANK_WINDOW)
        ids = pgreview.ranked(store, q, window, limit=20)
        parts = {
            "window": lambda q=q: pgreview.newest(store, q, RANK_WINDOW),
            "rank": lambda q=q, w=window: pgreview.scored(store, q, w, limit=20),
            "snippets": lambda q=q, i=ids: pgreview.snippets(store, q, i, open="[", close="]", tokens=16, mend=True),
        }
        got = {k: timed(f, max(3, runs // 4))[0] for k, f in parts.items()}
        print(f"    {label:<24} " + "  ".join(f"{k} {v:6.1f}" for k, v in got.items()), flush=True)


def against(url: str, other: Path, runs: int) -> None:
    """Per class, the page (window, rank, snippets) through this pgsearch.py and through `other` (the
    same file of another checkout), alternating run by run on one connection so both see the same
    load; p50/p95 each (ms) and the ratio of the p95s."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("pgsearch_before", other)
    assert spec is not None and spec.loader is not None
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    print(f"  this pgsearch vs {other}: class, p50 / p95 this, p50 / p95 before, ratio of p95s", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.cursor()
        for label, query in CLASSES.items():
            q = fts_query(query, {})

            def page(mod, q: str = q) -> None:  # type: ignore[no-untyped-def]
                window = mod.newest(cur, q, RANK_WINDOW)
                mod.snippets(cur, q, mod.ranked(cur, q, window, limit=20), open="[", close="]", tokens=16, mend=True)

            times: dict[str, list[float]] = {"this": [], "before": []}
            page(pgsearch)
            page(before)
            for _ in range(runs):
                for name, mod in (("this", pgsearch), ("before", before)):
                    t = time.perf_counter()
                    page(mod)
                    times[name].append((time.perf_counter() - t) * 1000)
            st = {k: (statistics.median(v), sorted(v)[min(len(v) - 1, round(0.95 * (len(v) - 1)))])
                  for k, v in times.items()}
            print(f"    {label:<24} {st['this'][0]:8.1f} {st['this'][1]:8.1f}   {st['before'][0]:8.1f}"
                  f" {st['before'][1]:8.1f}   {st['this'][1] / st['before'][1]:5.2f}", flush=True)


def main() -> None:
    global BASE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--dir", type=Path, default=Path("/work/bench-data/pgsearch"))
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--base", type=int, default=100_000, help="distinct releases (the rest are copies)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--name", default="pm_bench_scale", help="the database's name (and the SQLite file's, NAME.sqlite)")
    ap.add_argument("--explain", action="store_true", help="on PostgreSQL, time each step of a search too")
    ap.add_argument("--against", type=Path, help="on PostgreSQL, time the page through this pgsearch.py and through"
                    " ANOTHER checkout's monitor/store/pgsearch.py, alternating (instead of the Store.search table)")
    args = ap.parse_args()
    BASE = args.base  # noqa: PLW0603
    results: dict[str, dict[str, object]] = {}
    for n in (int(s) for s in args.sizes.split(",")):
        for backend in args.backends.split(","):
            if backend == "sqlite":
                args.dir.mkdir(parents=True, exist_ok=True)
                path = args.dir / f"{args.name}.sqlite"
                print(f"sqlite {n:,}: {path}", file=sys.stderr)
                build_sqlite(path, n)
                database: Path | ServerDatabase = path
                size = f"{os.path.getsize(path) / 2**30:.1f} GiB"
            else:
                name = args.name
                url = urlunsplit(urlsplit(args.server)._replace(path="/" + name))
                with psycopg.connect(args.server, autocommit=True) as admin:
                    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                        admin.execute(f'CREATE DATABASE "{name}"')
                print(f"postgresql {n:,}: {name}", file=sys.stderr)
                build_postgresql(url, n)
                database = ServerDatabase(url)
                with psycopg.connect(url) as c:
                    size = c.execute("SELECT pg_size_pretty(pg_database_size(current_database())) || ', GIN '"
                                     " || pg_size_pretty(pg_relation_size('releases_fts_gin'))").fetchone()[0]  # type: ignore[index]
            if args.build_only:
                continue
            print(f"  {backend} {n:,} releases ({size}); class, matches, search p50, p95 (ms)", flush=True)
            with Store(database, readonly=True) as store:
                if not args.against:
                    results[f"{backend} {n}"] = {"size": size, "classes": measure(store, args.runs)}
                if args.against and backend == "postgresql":
                    against(url, args.against, args.runs)
                if args.explain and backend == "postgresql":
                    print("  steps (median ms):")
                    steps(store, args.runs)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
