"""The open archive every aggregate works through: connection, transactions, meta values, helpers.

The archive lives in an SQLite file (store/sqlite.py) or a PostgreSQL database (store/pg.py): a
`Driver` each, picked by `Connection` from `[monitor] database`. The aggregates above this class
speak to the driver only through rows()/one()/scalar()/run()/insert()/run_many()/transaction(), in
SQL both engines read; where the engines differ they ask `self.dialect` (store/dialect.py).

Rows are read by column name. Every statement takes named parameters (`:name`); an IN list is
spelled out by `in_list()`. (On SQLite, `Store.conn` is the sqlite3 connection, plain tuples.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self, TypeAlias, TypeVar

import sqlite_utils

from monitor.errors import StoreError
from monitor.store.dialect import Dialect
from monitor.types import Database, ServerDatabase

# SQLite's IN (...) takes at most 32766 parameters; stay far below for lookups of one batch.
CHUNK = 500

Params = Mapping[str, Any]
T = TypeVar("T")
# A row read by column name: an `sqlite3.Row` (SQLite) or a psycopg dict row (PostgreSQL).
Row: TypeAlias = Any


class Cursor(Protocol):
    """What a statement hands back on either backend."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ...) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def close(self) -> None: ...


class Driver(Protocol):
    """One backend's connection (monitor/store/sqlite.py, monitor/store/pg.py): the seam between the two."""

    dialect: Dialect
    label: str

    def open_archive(self, store: Connection, *, readonly: bool) -> list[str]: ...
    def close(self) -> None: ...
    def sqlite(self) -> sqlite3.Connection: ...
    def rows(self, sql: str, params: Params) -> Cursor: ...
    def run(self, sql: str, params: Params) -> Cursor: ...
    def insert(self, sql: str, params: Params) -> int | None: ...
    def run_many(self, sql: str, params: Sequence[Params]) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    @property
    def in_transaction(self) -> bool: ...
    def budget(self, expired: Callable[[], bool] | None) -> AbstractContextManager[None]: ...
    def interrupted(self, exc: BaseException) -> bool: ...
    def version(self) -> int: ...


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
    """An open archive: an SQLite file or a PostgreSQL database (the driver). Not shared between threads:
    open one per thread (they are cheap; on PostgreSQL they come from a pool)."""

    def __init__(self, database: Database, *, readonly: bool = False) -> None:
        self.driver: Driver
        if isinstance(database, ServerDatabase):
            from monitor.store.pg import PgDriver  # psycopg is loaded only for an archive on a server
            self.driver = PgDriver(database, readonly=readonly)
        else:
            from monitor.store.sqlite import SqliteDriver
            self.driver = SqliteDriver(Path(database), readonly=readonly)
        self.database = database
        self.path = self.driver.label  # what messages call the archive (a URL without its password)
        self.dialect: Dialect = self.driver.dialect
        self._install_id: str | None = None
        try:
            self.migrated: list[str] = self.driver.open_archive(self, readonly=readonly)  # migrations applied
        except BaseException:
            self.driver.close()
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        """The sqlite3 connection of an SQLite archive (SQLite-only maintenance; tests that speak SQLite)."""
        return self.driver.sqlite()

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the SQLite archive (its schema and migrations)."""
        from monitor.store.sqlite import SqliteDriver
        if not isinstance(self.driver, SqliteDriver):
            raise StoreError(f"{self.path}: not an SQLite archive")
        return self.driver.db

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading rows by name

    def rows(self, sql: str, params: Params | None = None) -> Cursor:
        """Run one statement; its rows are read by column name (`sqlite3.Row`s or psycopg dict rows)."""
        return self.driver.rows(sql, params or {})

    def one(self, sql: str, params: Params | None = None) -> Row | None:
        """Return the first row of a query, or None."""
        return self.rows(sql, params).fetchone()

    def scalar(self, sql: str, params: Params | None = None) -> Any:
        """Return the first column of the first row (a query that always returns a row: count, max)."""
        row = self.driver.run(sql, params or {}).fetchone()
        return None if row is None else row[0]

    def run(self, sql: str, params: Params | None = None) -> Cursor:
        """Run one writing statement (its cursor tells rowcount)."""
        return self.driver.run(sql, params or {})

    def insert(self, sql: str, params: Params | None = None) -> int:
        """Run one INSERT of one row into a table with an `id` column; return the new row's id."""
        new_id = self.driver.insert(sql, params or {})
        if new_id is None:
            raise StoreError(f"{self.path}: an insert returned no id")
        return new_id

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        """Run one writing statement once per parameter set."""
        if params:
            self.driver.run_many(sql, params)

    # ------------------------------------------------------------------ schema version, transactions

    def version(self) -> int:
        return self.driver.version()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (one writer at a time); inside another one, a savepoint.

        A failure inside a savepoint undoes only its own part and the outer transaction commits the
        rest (the poller commits a sweep's ready polls together).
        """
        with self.driver.transaction():
            yield

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
        if table not in {"releases", "sightings", "matches", "alerts", "feeds", "release_versions", "pages", "spikes"}:
            raise ValueError(table)
        n: int = self.scalar(f"SELECT count(*) FROM {table}")
        return n
