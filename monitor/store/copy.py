"""Moving house: copy a whole archive into an empty one, SQLite to PostgreSQL or back (`db copy`).

Table by table in foreign-key order, each in id order, a batch per transaction, with the ids kept
(so alert ids, `pm-<install id>-<row id>`, and links to releases stay what they were; the install
id is copied too). The target notes `copy_of` = the source's install id before the first row and
drops the note with the last: a copy cut short (kill -9, a lost server) is resumed by running it
again, each table after the highest id the target holds, so nothing is copied twice. A target
holding anything else (a finished copy included: it may have moved on) is refused. The target
writes its index as it commits each batch, as for any write.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from monitor.errors import StoreError
from monitor.store.base import Connection
from monitor.store.review import ReviewStore

# Tables with an `id`, parents before children.
TABLES = ("feeds", "releases", "sightings", "release_versions", "matches", "spikes", "alerts", "pages")
# Small tables keyed by name: copied whole at the end (a re-run writes the same rows again).
KEYED = {"channels": "name", "meta": "key"}
COPY_OF = "copy_of"


@dataclass(frozen=True)
class Progress:
    table: str
    rows: int  # rows of this table copied in this step


def columns(store: Connection, table: str) -> list[str]:
    """The table's column names, in order."""
    if store.dialect.postgres:
        sql = ("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema()"
               " AND table_name = :t ORDER BY ordinal_position")
    else:
        sql = "SELECT name FROM pragma_table_info(:t) ORDER BY cid"
    return [r["name"] for r in store.rows(sql, {"t": table})]


def counts(store: Connection) -> dict[str, int]:
    return {t: store.count(t) for t in TABLES}


def start(source: Connection, target: Connection) -> dict[str, int]:
    """Check the target is empty or a copy of this source cut short; mark it; return the rows left per table."""
    origin = source.install_id()
    mark = target.meta(COPY_OF)
    if mark != origin and any(target.count(t) for t in TABLES):
        what = "a copy of another archive" if mark else "an archive already"
        raise StoreError(f"{target.path}: holds {what}; copy into an empty database (or file)")
    with target.transaction():
        target.set_meta(COPY_OF, origin)
        target.set_meta("install_id", origin)
    left = {}
    for table in TABLES:
        after = target.scalar(f"SELECT coalesce(max(id), 0) FROM {table}")
        left[table] = source.scalar(f"SELECT count(*) FROM {table} WHERE id > :after", {"after": after})
    return left


def copy(source: Connection, target: Connection, *, batch: int = 1000) -> Iterator[Progress]:
    """Copy every row the target lacks (see start()), yielding progress after each committed batch."""
    for table in TABLES:
        theirs = set(columns(target, table))
        cols = [c for c in columns(source, table) if c in theirs]
        names = ", ".join(cols)
        insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + c for c in cols)})"
        after = target.scalar(f"SELECT coalesce(max(id), 0) FROM {table}")
        while True:
            rows = [dict(r) for r in source.rows(f"SELECT {names} FROM {table} WHERE id > :after ORDER BY id"
                                                 " LIMIT :n", {"after": after, "n": batch})]
            if not rows:
                break
            with target.transaction():
                target.run_many(insert, rows)
            after = rows[-1]["id"]
            yield Progress(table, len(rows))
    with target.transaction():
        for table, key in KEYED.items():
            theirs = set(columns(target, table))
            cols = [c for c in columns(source, table) if c in theirs]
            rows = [dict(r) for r in source.rows(f"SELECT {', '.join(cols)} FROM {table}")
                    if table != "meta" or r["key"] not in (COPY_OF, "install_id")]
            update = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key) or f"{key} = excluded.{key}"
            target.run_many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
                            f" ON CONFLICT({key}) DO UPDATE SET {update}", rows)
        if target.dialect.postgres:  # new rows get ids after the copied ones
            for table in TABLES:
                target.scalar(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1),"
                              f" max(id) IS NOT NULL) FROM {table}")
        target.set_meta(COPY_OF, None)  # done: from now on it is an archive of its own, never resumed into


_WORD = re.compile(r"[A-Za-z]{4,}")


def sample_queries(store: Connection, n: int = 8, *, seed: int = 0) -> list[str]:
    """Words from the titles of up to `n` releases spread over the archive, to search on both sides."""
    ids = [r["id"] for r in store.rows("SELECT id FROM releases ORDER BY id")]
    picked = sorted(random.Random(seed).sample(ids, min(n, len(ids))))
    out: list[str] = []
    for rid in picked:
        title = store.scalar("SELECT title FROM releases WHERE id = :id", {"id": rid}) or ""
        words = _WORD.findall(title)
        if words:
            word = max(words, key=len).lower()
            if word not in out:
                out.append(word)
    return out


def compare(source: ReviewStore, target: ReviewStore, queries: list[str]) -> list[str]:
    """Return what differs between the two archives: row counts, and the releases each query finds."""
    problems = [f"{t}: {a} rows here, {b} there" for t, a in counts(source).items()
                if (b := target.count(t)) != a]
    for q in queries:
        mine = {h.id for h in source.search(q, limit=None)}
        theirs = {h.id for h in target.search(q, limit=None)}
        if mine != theirs:
            problems.append(f"search {q!r}: {len(mine)} releases here, {len(theirs)} there"
                            f" ({len(mine ^ theirs)} differ)")
    return problems
