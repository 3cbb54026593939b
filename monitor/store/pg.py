"""The PostgreSQL backend: the archive in a server database (psycopg 3, connections from psycopg_pool).

The only module that imports psycopg. A `ServerDatabase` URL goes to libpq untouched, so libpq's PG*
variables and ~/.pgpass fill in what it leaves out. Each process keeps one pool per URL: a Store (one
per thread, as on SQLite: the daemon's workers, each web request) borrows a connection on open and
gives it back on close, so a web request never waits for a connection the daemon's ingest holds.

Statements are the store's shared SQL (`:name` parameters, turned into psycopg's `%(name)s` here).
Connections run in autocommit; `transaction()` opens BEGIN … COMMIT itself (savepoints inside) and
first takes a transaction-level advisory lock, so writers take turns exactly as SQLite's one writer
does: dedupe decides against what the archive holds with nobody writing in between. Readers never
wait (MVCC). Right before COMMIT, the releases whose text changed (noted by a trigger in
`search_pending`) get their search vector (pgsearch.py), so the index commits with the data.

A server that went away (restart, network) is a StoreError saying "the database is unavailable":
the poller records it as the poll's failure and polls again; the pool replaces broken connections.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from monitor.errors import StoreError, StoreUnavailable
from monitor.store import pgschema, pgsearch
from monitor.store.dialect import POSTGRES
from monitor.types import ServerDatabase

if TYPE_CHECKING:
    from monitor.store.base import Connection

# How long a Store waits for a pooled connection before saying the database is unavailable.
CONNECT_TIMEOUT = 15.0
# A Store keeps its connection while open, and the daemon keeps one Store per thread: 8 poll workers,
# the page worker, 2 service jobs (delivery, maintenance), the lease renewer and the main thread (13).
# With 8, a busy daemon's lease renewer waited 15 s for a connection and its fence dropped.
POOL_SIZE = 16

_pools: dict[str, ConnectionPool] = {}
log = logging.getLogger(__name__)


class _OutageLog(logging.Filter):
    """psycopg_pool warns at every reconnect attempt while the server is down (about one a second for
    as long as the outage lasts) and once per pooled connection it finds broken after a restart. This
    filter on its logger lets the first such warning through, drops the rest, and back() says once
    that the database answers again (the pool made a connection), with how many it dropped.

    A connection the restart broke may be found broken only after that (one a thread held through
    the outage, returned once its statement failed): that is the same outage's aftermath, not a new
    one, so a discarded connection made before the server answered again is dropped too. Only the
    connections made since then (`_fresh`) can start a new outage."""

    NOISE = frozenset({"error connecting in %r: %s", "reconnection attempt in pool %r failed after %s sec",
                       "discarding broken connection: %s", "discarding closed connection: %s"})
    DISCARDS = frozenset({"discarding broken connection: %s", "discarding closed connection: %s"})

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._down = False
        self._dropped = 0
        self._fresh: weakref.WeakSet[Any] | None = None  # connections made since the last outage ended

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in self.NOISE:
            return True
        with self._lock:
            if self._down:
                self._dropped += 1
                return False
            if (record.msg in self.DISCARDS and self._fresh is not None and isinstance(record.args, tuple)
                    and record.args and record.args[0] not in self._fresh):
                return False
            self._down = True
        return True

    def back(self, conn: object) -> None:
        """A new connection: the first after an outage ends it."""
        with self._lock:
            if self._fresh is not None:
                self._fresh.add(conn)
            if not self._down:
                return
            dropped, self._down, self._dropped = self._dropped, False, 0
            self._fresh = weakref.WeakSet([conn])
        log.warning("the database answers again (%d more connection warnings of the outage not logged)", dropped)


OUTAGE = _OutageLog()
logging.getLogger("psycopg.pool").addFilter(OUTAGE)


def _connected(conn: psycopg.Connection[Any]) -> None:
    """The pool's `configure` hook: called for each new connection, so the first after an outage ends it."""
    OUTAGE.back(conn)

_GIN = f"{pgsearch.TABLE}_{pgsearch.FTS}_gin"  # the search index (pgsearch.INDEX_DDL)
# Sent with COMMIT as one message (no extra round trip per write transaction): see flush_index().
_MERGE_AND_COMMIT = (f"SELECT gin_clean_pending_list(c.oid) FROM pg_class c WHERE c.oid = to_regclass('{_GIN}')"
                     " AND pg_has_role(c.relowner, 'USAGE'); COMMIT")
_pools_lock = threading.Lock()
IDLE_IN_WRITE = 30.0  # seconds a write transaction may sit idle before the server ends it (transaction())


def pool(url: str, label: str) -> ConnectionPool:
    """Return this process's pool for `url` (opened on first use, closed at exit).

    The first use connects once directly: a server that is down or refuses us is said at once, in
    libpq's words, rather than after the pool's timeout.
    """
    with _pools_lock:
        found = _pools.get(url)
        if found is None:
            try:
                psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT)).close()
            except psycopg.Error as exc:
                raise _unavailable(label, exc) from exc
            found = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, kwargs={"autocommit": True},
                                   check=ConnectionPool.check_connection, timeout=CONNECT_TIMEOUT,
                                   name="press-monitor", open=True, configure=_connected)
            _pools[url] = found
        return found


def close_pool(url: str) -> None:
    """Close this process's pool for `url`, if any (its connections go back to the server)."""
    with _pools_lock:
        found = _pools.pop(url, None)
    if found is not None:
        found.close()


@atexit.register
def close_pools() -> None:
    """Close every pool of this process (at exit; tests that drop their database)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for p in pools:
        p.close()


# A string literal (kept as it is), a `::` cast, a `:name` parameter, or a `%` (doubled for psycopg).
_TOKEN = re.compile(r"'(?:[^']|'')*'|::|:([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def psycopg_sql(sql: str) -> str:
    """The store's SQL with psycopg's placeholders: `:name` -> `%(name)s`, `%` -> `%%` (outside literals too)."""
    def one(m: re.Match[str]) -> str:
        text = m[0]
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "::":
            return text
        if text == "%":
            return "%%"
        return f"%({m[1]})s"
    return _TOKEN.sub(one, sql)


def _unavailable(label: str, exc: BaseException) -> StoreUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreUnavailable(f"{label}: the database is unavailable ({reason}); it is retried")


class PgDriver:
    dialect = POSTGRES

    def __init__(self, database: ServerDatabase, *, readonly: bool = False) -> None:
        self.label = str(database)
        self.readonly = readonly
        self._pool = pool(database.url, self.label)
        self._depth = 0
        self.conn: psycopg.Connection[Any] = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = self._pool.getconn()
            if self.readonly:  # the server itself refuses a reader's writes (the web view, `search`, `show`…)
                conn.execute("SET default_transaction_read_only = on")
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise _unavailable(self.label, exc) from exc
        return conn

    def connection(self) -> psycopg.Connection[Any]:
        """This Store's connection; a broken one (the server restarted) is exchanged for a new one.

        Only between transactions: a transaction the server lost is lost, and its caller says so
        (the poller records the poll's failure and polls again).
        """
        if self.conn.broken and self._depth == 0:
            self._pool.putconn(self.conn)  # the pool discards it
            self.conn = self._connect()
        return self.conn

    def open_archive(self, store: Connection, *, readonly: bool) -> list[str]:
        with self.errors():
            if readonly:
                pgschema.check_readable(self)
                return []
            return pgschema.migrate(self)

    def close(self) -> None:
        conn, self.conn = self.conn, None  # type: ignore[assignment]
        if conn is not None:
            with contextlib.suppress(psycopg.Error):  # a broken connection: the pool discards it anyway
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.broken:
                    conn.rollback()  # a consumer that stopped midway (e.g. an export cut short)
                if self.readonly and not conn.broken:
                    conn.execute("RESET default_transaction_read_only")  # the pool lends it to writers too
            self._pool.putconn(conn)

    def sqlite(self) -> sqlite3.Connection:
        raise StoreError(f"{self.label}: not an SQLite archive")

    # ------------------------------------------------------------------ statements

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn a lost server into StoreError("… the database is unavailable …")."""
        try:
            yield
        except psycopg.OperationalError as exc:
            if isinstance(exc, psycopg.errors.QueryCanceled):
                raise
            raise _unavailable(self.label, exc) from exc

    def _params(self, sql: str, params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
        if not params:
            return sql, None
        return psycopg_sql(sql), self.values(params)

    @staticmethod
    def values(params: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters as psycopg sends them: str subclasses (AlertStatus) as plain text."""
        return {k: (str(v) if isinstance(v, str) else v) for k, v in params.items()}

    def rows(self, sql: str, params: Mapping[str, Any]) -> psycopg.Cursor[dict[str, Any]]:
        query, values = self._params(sql, params)
        with self.errors():
            return self.connection().cursor(row_factory=dict_row).execute(query, values)  # type: ignore[arg-type]

    def run(self, sql: str, params: Mapping[str, Any]) -> psycopg.Cursor[Any]:
        query, values = self._params(sql, params)
        with self.errors():
            return self.connection().execute(query, values)  # type: ignore[arg-type]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.run(sql, params or {}).fetchone()
        return None if row is None else row[0]

    def insert(self, sql: str, params: Mapping[str, Any]) -> int | None:
        row = self.run(f"{sql} RETURNING id", params).fetchone()
        return None if row is None else int(row[0])

    def run_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        if len(params) == 1:  # executemany enters and leaves pipeline mode: a round trip more for one row
            self.run(sql, params[0])
            return
        query = psycopg_sql(sql)
        with self.errors(), self.connection().cursor() as cur:
            cur.executemany(query, [self.values(p) for p in params])

    def version(self) -> int:
        return 0  # SQLite's PRAGMA user_version has no counterpart: pm_migrations alone says what ran

    # ------------------------------------------------------------------ transactions

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    @contextmanager
    def transaction(self, lock: int = pgschema.WRITE_LOCK) -> Iterator[None]:
        """BEGIN … COMMIT holding the writers' advisory lock (a savepoint inside another transaction)."""
        if self._depth:
            self._depth += 1
            name = f"pm_{self._depth}"
            self.run(f"SAVEPOINT {name}", {})
            try:
                yield
            except BaseException:
                if not self.conn.closed and self.in_transaction:
                    self.run(f"ROLLBACK TO SAVEPOINT {name}", {})
                    self.run(f"RELEASE SAVEPOINT {name}", {})
                raise
            finally:
                self._depth -= 1
            self.run(f"RELEASE SAVEPOINT {name}", {})
            return
        self.connection()  # (a broken connection is exchanged before, never inside, a transaction)
        self._depth = 1
        try:
            self.run("BEGIN", {})
            # A writer that stops between statements (cut off from the server, frozen) would keep the
            # writers' lock until the server noticed its dead session, which a half-open TCP connection
            # can take hours: every other node's writes would wait. The server ends such a session
            # after IDLE_IN_WRITE instead (our writes never pause that long between statements).
            idle = "set_config('idle_in_transaction_session_timeout', :idle, true), "
            self.run(f"SELECT {idle if lock == pgschema.WRITE_LOCK else ''}pg_advisory_xact_lock(:cls, :key)",
                     {"idle": f"{int(IDLE_IN_WRITE * 1000)}ms", "cls": pgschema.LOCK_CLASS, "key": lock})
            yield
            if lock == pgschema.WRITE_LOCK:
                self.flush_index()  # part of the transaction: committed together or not at all
                self.run(_MERGE_AND_COMMIT, {})
            else:
                self.run("COMMIT", {})
        except BaseException:
            if not self.conn.closed and self.in_transaction:
                with contextlib.suppress(psycopg.OperationalError):  # broken: the server rolled back already
                    self.conn.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def flush_index(self) -> None:
        """Give the releases noted in search_pending their search vector (pgsearch.py).

        Then, with the COMMIT (_MERGE_AND_COMMIT), the transaction's new index entries are merged from
        the GIN pending list into the index (pgschema.pg_ingest says why). Merging needs the index's
        owner (as VACUUM does): a writer under another role leaves the list to the next owner's
        commit, to autovacuum, or to the insert that fills it (gin_pending_list_limit).
        """
        from monitor.store.pgreview import flush  # (pgreview reads through this module)
        with self.errors():
            flush(self)

    # ------------------------------------------------------------------ budgets and locks

    @contextmanager
    def budget(self, expired: Callable[[], bool] | None) -> Iterator[None]:
        """Cancel the statement running inside once `expired()` says so (it raises; see interrupted()).

        SQLite asks a progress handler; the server is asked to cancel from a watchdog thread.
        """
        if expired is None:
            yield
            return
        done = threading.Event()
        conn = self.conn

        def watch() -> None:
            while not done.wait(0.02):
                if expired():
                    conn.cancel_safe()
                    return

        watcher = threading.Thread(target=watch, name="pm-budget", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    @staticmethod
    def interrupted(exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.QueryCanceled)
