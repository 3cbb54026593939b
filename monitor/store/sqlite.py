"""The SQLite backend: one archive file in WAL mode, opened per thread (sqlite3; sqlite-utils for the schema).

Readers (CLI, web view) never block the writer (daemon). A write transaction is `BEGIN IMMEDIATE`:
it takes the write lock up front, so two writers never deadlock upgrading a read lock; other
processes wait for it up to busy_timeout. The FTS index is brought up to date once per transaction,
right before its COMMIT (schema.flush_index).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from monitor.errors import StoreError
from monitor.store import schema
from monitor.store.dialect import SQLITE

if TYPE_CHECKING:
    from monitor.store.base import Connection


class SqliteDriver:
    dialect = SQLITE

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.label = str(path)
        try:
            if readonly:
                if not path.exists():
                    raise StoreError(f"{path}: no archive here yet (run `press-monitor run --once` first)")
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, isolation_level=None)
            # Another process (daemon vs CLI) may hold the write lock for one poll: wait, don't fail.
            conn.execute("PRAGMA busy_timeout = 15000")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the archive: {exc}") from exc
        self.conn = conn
        schema.register_functions(conn)  # the FTS index's triggers and view call them
        # 1 inside this connection's own write transaction: the triggers then leave indexing to
        # schema.flush_index() at its COMMIT (schema.py says why).
        self._defer_index = False
        conn.create_function("pm_defer", 0, lambda: self._defer_index)
        self.db = sqlite_utils.Database(conn)
        self._depth = 0  # nested transaction() savepoints open
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
            # the last commits, which then are simply polled again.
            conn.execute("PRAGMA synchronous = NORMAL")

    def open_archive(self, store: Connection, *, readonly: bool) -> list[str]:
        """Migrate (a writer) or check (a reader) the archive; return the migrations applied."""
        if readonly:
            schema.check_readable(store)
            return []
        return schema.migrate(store)

    def close(self) -> None:
        self.conn.close()

    def sqlite(self) -> sqlite3.Connection:
        return self.conn

    def rows(self, sql: str, params: Mapping[str, Any]) -> sqlite3.Cursor:
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(sql, params)

    def run(self, sql: str, params: Mapping[str, Any]) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def insert(self, sql: str, params: Mapping[str, Any]) -> int | None:
        return self.conn.execute(sql, params).lastrowid

    def run_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        self.conn.executemany(sql, params)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

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

    @contextmanager
    def budget(self, expired: Callable[[], bool] | None) -> Iterator[None]:
        """Abandon the statements run inside once `expired()` says so (they raise; see interrupted())."""
        if expired is None:
            yield
            return
        check = expired
        # SQLite calls this every 10k VM steps (well under a millisecond); non-zero aborts the query.
        self.conn.set_progress_handler(lambda: int(check()), 10_000)
        try:
            yield
        finally:
            self.conn.set_progress_handler(None, 0)

    @staticmethod
    def interrupted(exc: BaseException) -> bool:
        """Whether `exc` is a statement abandoned by budget()."""
        return isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc)

    def version(self) -> int:
        version: int = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return version
