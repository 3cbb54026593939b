"""Search on PostgreSQL (monitor/store/pgsearch.py) over N releases: p50/p95 per query class.

    .venv/bin/python bench/bench_pgsearch.py [--releases 100000] [--runs 20] [--keep] [--explain]
        [--server postgresql://postgres@127.0.0.1:5432/postgres]

Builds N synthetic releases (tests/corpus.py: PR Newswire-style text) in a throwaway database
(`pm_bench_pgsearch_<N>`, dropped at the end unless --keep, reused when kept), with the search
column computed by pgsearch.tsvector() and its GIN index, then times for each query class:

- window: the ids of the newest 5,000 matches (pgsearch.newest), what `search` and the web view
  rank within;
- page: the window, then its first 20 ranked (pgsearch.ranked) with their snippets
  (pgsearch.snippets), i.e. a whole `search` answer.

Each is run --runs times after one warm-up; p50 and p95 in milliseconds. --explain prints
EXPLAIN (ANALYZE, BUFFERS) of each class's window query, to say where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.rules import fts_query  # noqa: E402
from monitor.store import pgsearch  # noqa: E402
from monitor.types import FTS_COLUMNS  # noqa: E402
from tests.corpus import Corpus  # noqa: E402

WINDOW = 5000
CLASSES = {
    "rare word": "Zenlodyn",  # a made-up company name: a handful of releases
    "word in every release": "forward",  # every release's forward-looking-statements line
    "phrase": '"Central Asia"',
    "common phrase": '"forward-looking statements"',
    "prefix": "acqui*",
    "NEAR": "NEAR(summit Kazakhstan, 5)",
    "column filter": "title: dividend",
    "NOT": "dividend NOT Kazakhstan",
}


def build(conn: psycopg.Connection, n: int) -> None:
    cols = ", ".join(f"{c} text NOT NULL DEFAULT ''" for c in FTS_COLUMNS)
    conn.execute(f"CREATE TABLE releases (id bigint PRIMARY KEY, {cols})")
    conn.execute(pgsearch.COLUMN_DDL)
    conn.execute(pgsearch.STORAGE_DDL)
    for ddl in pgsearch.BUCKET_DDL:  # each row's id bucket lexeme, as the store's archive has it
        conn.execute(ddl)
    corpus = Corpus(seed=1)
    started = time.monotonic()
    step = 5000
    with conn.cursor() as cur:
        for start in range(0, n, step):
            docs = corpus.docs(min(step, n - start), start)
            with cur.copy(f"COPY releases (id, {', '.join(FTS_COLUMNS)}, fts) FROM STDIN") as copy:
                for d in docs:
                    copy.write_row((d.key, *d.columns(), pgsearch.tsvector(d.columns())))
            conn.commit()
            done = start + len(docs)
            print(f"\r  {done:,} releases, {done / (time.monotonic() - started):,.0f}/s", end="", file=sys.stderr)
    print(file=sys.stderr)
    t = time.monotonic()
    conn.execute(pgsearch.INDEX_DDL)
    conn.execute("ANALYZE releases")
    conn.commit()
    print(f"  GIN index and ANALYZE: {time.monotonic() - t:.0f} s", file=sys.stderr)


def timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn()
    got = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        got.append((time.perf_counter() - t) * 1000)
    got.sort()
    return statistics.median(got), got[min(len(got) - 1, round(0.95 * (len(got) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--releases", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    name = f"pm_bench_pgsearch_{args.releases}"
    url = urlunsplit(urlsplit(args.server)._replace(path="/" + name))
    with psycopg.connect(args.server, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(url) as conn:
            if not exists:
                print(f"building {args.releases:,} releases in {name}", file=sys.stderr)
                build(conn, args.releases)
            conn.autocommit = True
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database())),"
                                " pg_size_pretty(pg_relation_size('releases_fts_gin'))").fetchone()
            print(f"{args.releases:,} releases; database {size[0]}, GIN index {size[1]}")
            print(f"{'class':<24} {'matches':>8} {'window p50':>10} {'p95':>7} {'page p50':>9} {'p95':>7}  in SQL")
            cur = conn.cursor()
            for label, query in CLASSES.items():
                q = fts_query(query, {})
                hits = pgsearch.newest(cur, q, WINDOW)

                def page(q: str = q) -> None:
                    window = pgsearch.newest(cur, q, WINDOW)
                    pgsearch.snippets(cur, q, pgsearch.ranked(cur, q, window, limit=20))

                w50, w95 = timed(lambda q=q: pgsearch.newest(cur, q, WINDOW), args.runs)  # type: ignore[misc]
                p50, p95 = timed(page, args.runs)
                print(f"{label:<24} {len(hits):>8,} {w50:>10.1f} {w95:>7.1f} {p50:>9.1f} {p95:>7.1f}"
                      f"  {'yes' if pgsearch.prepare(q).decides else 'verified'}")
                if args.explain:
                    plan = pgsearch.prepare(q)
                    rows = cur.execute("EXPLAIN (ANALYZE, BUFFERS) SELECT r.id FROM releases r"
                                       " WHERE r.fts @@ %s::tsquery ORDER BY r.id DESC LIMIT %s",
                                       (plan.upper, WINDOW)).fetchall()
                    print("\n".join("    " + r[0] for r in rows))
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
