"""Where a cold ingest's time goes on PostgreSQL: the same releases written by each method, one run.

    .venv/bin/python bench/bench_pg_write.py --pg postgresql://postgres@127.0.0.1/DB [--feeds 20] [--items 100]

A real `press-monitor run --once` over bench/wire.py fills a scratch schema of DB (the corpus: the
releases as the archive holds them). Then each method writes those same releases into a fresh archive
(a new schema, migrated by the Store) in one transaction, and is timed (wall, server included):

    one by one      INSERT … RETURNING id per release (the ingest before issue 18's batching)
    executemany     one pipelined executemany, no search vector
    + vector        the same with each release's search vector (pgsearch.tsvector) in its row, the GIN
                    index taking every entry at once (fastupdate off, the index as first built)
    + UPDATE        rows first, then one UPDATE … FROM unnest of the vectors (the flush at COMMIT)
    + fastupdate    vectors in the rows, GIN pending list merged once at the end (gin_clean_pending_list):
                    what the ingest does now (migration pg_ingest); and rows, then UPDATE, then merge

and the Python CPU of building the vectors (rules/tsearch.document). The baseline is the first row.
Every schema made here is dropped at the end. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_ingest  # noqa: E402
import psycopg  # noqa: E402

from monitor.store import Store  # noqa: E402
from monitor.store.pg import close_pools  # noqa: E402
from monitor.store.pgsearch import tsvector  # noqa: E402
from monitor.types import FTS_COLUMNS, ServerDatabase  # noqa: E402

COLS = ["url", "title", "summary", "body", "author", "dateline", "tickers", "source", "published_at",
        "published_known", "first_seen_at", "updated_at", "dateline_place", "dateline_date", "wire", "fingerprint",
        "content_hash"]


def in_schema(url: str, schema: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=f"options={quote(f'-csearch_path={schema}')}"))


def fresh(url: str, schema: str) -> str:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        c.execute(f'CREATE SCHEMA "{schema}"')
    return in_schema(url, schema)


def corpus(a: argparse.Namespace) -> list[tuple[Any, ...]]:
    """The releases a cold `run --once` over the wire stores, as rows of COLS."""
    ns = argparse.Namespace(feeds=a.feeds, items=a.items, overlap=0.3, seed=1, latency_ms=0)
    wire, base = bench_ingest.start_wire(ns)
    src = fresh(a.pg, "pm_write_src")
    try:
        tmp = Path(tempfile.mkdtemp(prefix="pm-write-bench-"))
        cfg = bench_ingest.write_config(tmp, base, a.feeds, src)
        exe = Path(sys.executable).with_name("press-monitor")
        import subprocess
        subprocess.run([str(exe), "--config", str(cfg), "run", "--once"], capture_output=True, check=False)
        with psycopg.connect(src) as c:
            return c.execute(f"SELECT {', '.join(COLS)} FROM releases ORDER BY id").fetchall()
    finally:
        wire.terminate()
        wire.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description="Time each way of writing a cold ingest's releases on PostgreSQL.")
    ap.add_argument("--pg", required=True, metavar="URL", help="a database to make scratch schemas in")
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--items", type=int, default=100)
    a = ap.parse_args()

    rows = corpus(a)
    t0 = time.process_time()
    vectors = [tsvector([r[COLS.index(c)] for c in FTS_COLUMNS]) for r in rows]
    vector_cpu = time.process_time() - t0
    names = ", ".join(COLS)
    marks = ", ".join(["%s"] * len(COLS))
    with_vectors = [(*r, v) for r, v in zip(rows, vectors, strict=True)]

    def one_by_one(c: psycopg.Connection) -> None:
        for r in rows:
            c.execute(f"INSERT INTO releases ({names}) VALUES ({marks}) RETURNING id", r).fetchone()

    def many(c: psycopg.Connection) -> None:
        with c.cursor() as cur:
            cur.executemany(f"INSERT INTO releases ({names}) VALUES ({marks})", rows)

    def many_vectors(c: psycopg.Connection) -> None:
        with c.cursor() as cur:
            cur.executemany(f"INSERT INTO releases ({names}, fts) VALUES ({marks}, %s::tsvector)", with_vectors)

    def then_update(c: psycopg.Connection) -> None:
        many(c)
        ids = [r[0] for r in c.execute("SELECT id FROM releases ORDER BY id")]
        c.execute("UPDATE releases r SET fts = v.fts::tsvector FROM unnest(%s::bigint[], %s::text[]) AS v(id, fts)"
                  " WHERE r.id = v.id", (ids, vectors))

    def merged(c: psycopg.Connection) -> None:
        many_vectors(c)
        c.execute("SELECT gin_clean_pending_list('releases_fts_gin')").fetchone()

    def update_merged(c: psycopg.Connection) -> None:
        then_update(c)
        c.execute("SELECT gin_clean_pending_list('releases_fts_gin')").fetchone()

    methods: list[tuple[str, Callable[[psycopg.Connection], None], bool]] = [
        ("one by one (RETURNING id), no vector", one_by_one, False),
        ("executemany, no vector", many, False),
        ("executemany + vector, GIN fastupdate off", many_vectors, False),
        ("executemany, then UPDATE vectors, fastupdate off", then_update, False),
        ("executemany + vector, fastupdate on + merge", merged, True),
        ("executemany, then UPDATE vectors, fastupdate on + merge", update_merged, True),
    ]
    out: dict[str, Any] = dict(releases=len(rows), vector_cpu_s=round(vector_cpu, 3), methods={})
    print(f"{len(rows)} releases (bench/wire.py {a.feeds} feeds x {a.items} items); building their search vectors"
          f" in Python: {vector_cpu:.3f} s CPU ({vector_cpu / max(len(rows), 1) * 1000:.2f} ms each)")
    base = None
    for label, fn, fastupdate in methods:
        url = fresh(a.pg, "pm_write_run")
        Store(ServerDatabase(url)).close()  # the archive's schema, migrated
        close_pools()
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f"ALTER INDEX releases_fts_gin SET (fastupdate = {'on' if fastupdate else 'off'})")
            c.execute("DROP TRIGGER IF EXISTS releases_search_ai ON releases")  # timing the writes alone
            c.execute("DROP TRIGGER IF EXISTS releases_search_au ON releases")
            t = time.perf_counter()
            with c.transaction():
                fn(c)
            wall = time.perf_counter() - t
        base = base or wall
        out["methods"][label] = round(wall, 3)
        print(f"  {label:<52} {wall:7.3f} s  {wall / base:5.2f}x")
    with psycopg.connect(a.pg, autocommit=True) as c:
        for schema in ("pm_write_src", "pm_write_run"):
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(json.dumps(out))


if __name__ == "__main__":
    main()
