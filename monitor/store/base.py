"""The open archive every aggregate works through: connection, transactions, meta values, helpers.

Rows are read by column name: `rows()` and `one()` return `sqlite3.Row`s (the connection itself keeps
plain tuples, so callers that run their own SQL on `Store.conn` see what they always saw). Every
statement takes named parameters (`:name`); an IN list is spelled out by `in_list()`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import sqlite_utils

from monitor.errors import StoreError
from monitor.store import schema

# SQLite's IN (...) takes at most 32766 parameters; stay far below for lookups of one batch.
CHUNK = 500

Params = Mapping[str, Any]
T = TypeVar("T")


def ts(when: datetime) -> str:
    """Return the archive's timestamp text for a UTC datetime (sorts lexicographically)."""
    u = when.astimezone(UTC)
    if u.year < 1000:  # strftime writes such a year unpadded: keep what older archives hold
        return u.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A cold ingest calls this ~50,000 times: %-formatting the fields costs ~1 µs, strftime ~4 µs and
    # an f-string with format specs ~2.7 µs (measured), hence the noqa.
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (u.year, u.month, u.day, u.hour, u.minute, u.second)  # noqa: UP031


def parse_ts(text: str | None) -> datetime | None:
    """Return the UTC datetime for archive timestamp text, or None."""
    if not text:
        return None
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        # What ts() writes: fromisoformat reads it ~100x faster than strptime (UTC from the 'Z').
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass  # not a real date after all: strptime below says what is wrong, as before
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def must_ts(text: str | None) -> datetime:
    """Return the UTC datetime of a NOT NULL timestamp column."""
    when = parse_ts(text)
    if when is None:
        raise StoreError(f"archive timestamp missing where one is required ({text!r})")
    return when


def opt_ts(when: datetime | None) -> str | None:
    """Return ts(when), or None for None."""
    return ts(when) if when is not None else None


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """Yield `values` in slices small enough for one IN (...) list."""
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def in_list(values: Sequence[object], prefix: str = "v") -> tuple[str, dict[str, object]]:
    """Return (':v0,:v1,…', {'v0': …, 'v1': …}): an IN list as named parameters."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    return ",".join(f":{n}" for n in names), dict(zip(names, values, strict=True))


def lines(text: str | None) -> list[str]:
    """Return the non-empty lines of a newline-joined list column."""
    return [line for line in (text or "").split("\n") if line]


def tickers(text: str | None) -> list[str]:
    """Return the tickers of a releases.tickers value: a JSON list ('' or NULL: none)."""
    if not text:
        return []
    values = json.loads(text)
    return [str(v) for v in values] if isinstance(values, list) else []


def fts_message(exc: sqlite3.Error) -> str:
    """Return SQLite's FTS5 error in plain words ('fts5: syntax error near "AND"' -> 'syntax error near "AND"')."""
    return str(exc).removeprefix("fts5: ")


class Connection:
    """An open archive file. Not shared between threads: open one per thread (they are cheap)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"{self.path}: no archive here yet (run `press-monitor run --once` first)")
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None)
            # Another process (daemon vs CLI) may hold the write lock for one poll: wait, don't fail.
            conn.execute("PRAGMA busy_timeout = 15000")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the archive: {exc}") from exc
        self.conn = conn
        schema.register_functions(conn)  # the FTS index's triggers and view call them
        # 1 inside this connection's own write transaction: the triggers then leave indexing to
        # schema.flush_index() at its COMMIT (schema.py says why).
        self._defer_index = False
        conn.create_function("pm_defer", 0, lambda: self._defer_index)
        self.db = sqlite_utils.Database(conn)
        self._install_id: str | None = None
        self._depth = 0  # nested transaction() savepoints open
        self.migrated: list[str] = []
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
            # the last commits, which then are simply polled again.
            conn.execute("PRAGMA synchronous = NORMAL")
            self.migrated = schema.migrate(self)  # names of the migrations this open applied
        else:
            schema.check_readable(self)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading rows by name

    def rows(self, sql: str, params: Params | None = None) -> sqlite3.Cursor:
        """Run one statement; its rows are `sqlite3.Row`s (read by column name)."""
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(sql, params or {})

    def one(self, sql: str, params: Params | None = None) -> sqlite3.Row | None:
        """Return the first row of a query, or None."""
        row: sqlite3.Row | None = self.rows(sql, params).fetchone()
        return row

    def scalar(self, sql: str, params: Params | None = None) -> Any:
        """Return the first column of the first row (a query that always returns a row: count, max)."""
        row = self.conn.execute(sql, params or {}).fetchone()
        return None if row is None else row[0]

    def run(self, sql: str, params: Params | None = None) -> sqlite3.Cursor:
        """Run one writing statement (its cursor tells rowcount and lastrowid)."""
        return self.conn.execute(sql, params or {})

    # ------------------------------------------------------------------ schema version, transactions

    def version(self) -> int:
        version: int = self.scalar("PRAGMA user_version")
        return version

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock up front (no upgrade deadlocks).

        Inside another transaction it is a savepoint: a failure undoes only its own part and the
        outer transaction commits the rest (the poller commits a sweep's ready polls together).
        """
        if self.conn.in_transaction:
            self._depth += 1
            name = f"pm_{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                if self.conn.in_transaction:  # SQLite rolls everything back itself on e.g. a full disk
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._defer_index = True
        try:
            yield
            self._defer_index = False
            schema.flush_index(self.conn)  # part of the transaction: committed together or not at all
        except BaseException:
            self._defer_index = False
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ meta (key/value)
    # The daemon's heartbeat and adopted redirects, and the archive's install id, live here.

    def meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = :key", {"key": key})
        return None if row is None else row["value"]

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (or with None, delete) a meta value."""
        if value is None:
            self.run("DELETE FROM meta WHERE key = :key", {"key": key})
        else:
            self.run("INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT(key) DO UPDATE"
                     " SET value = excluded.value", {"key": key, "value": value})

    def install_id(self) -> str:
        """Return the archive's random id (alert ids are unique across installations sending to one receiver)."""
        if self._install_id is None:
            value = self.meta("install_id")
            if value is None:
                raise StoreError(f"{self.path}: the archive has no install id")
            self._install_id = value
        return self._install_id

    def count(self, table: str) -> int:
        if table not in {"releases", "sightings", "matches", "alerts", "feeds", "release_versions", "pages"}:
            raise ValueError(table)
        n: int = self.scalar(f"SELECT count(*) FROM {table}")
        return n
