"""A real PostgreSQL server for the tests: one throwaway database per test run, one schema per archive.

The server is PM_TEST_POSTGRES (a libpq URL of a database to connect to for CREATE DATABASE), by
default postgresql://postgres@127.0.0.1:5432/postgres (trust auth, as on this project's machines and
in CI: `.ci/run` starts one where none answers). No server is a failure, not a skip: the PostgreSQL
backend is part of what CI checks (`pytest --backend sqlite` runs the SQLite side alone).

- `TestDatabase` (the session fixture `pg_test_database` in conftest.py): a database named for this
  run, dropped at its end; `archive()` gives a fresh, empty archive in it as the URL press-monitor is
  given, whose search_path is a new schema (cheaper than a database per test, and just as separate:
  every table press-monitor makes lands in that schema).
- `pg_url` / `pg_conn`: this session's database as a URL / an autocommit connection, for tests that
  speak SQL to the server themselves (`from tests.pgserver import pg_conn, pg_url  # noqa: F401`).
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from monitor.store import pgsearch
from monitor.types import FTS_COLUMNS, ServerDatabase

ADMIN_URL = os.environ.get("PM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, name: str, options: str = "") -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name, query=f"options={quote(options)}" if options else ""))


class TestDatabase:
    """One database for this test run (created, then dropped by the session fixture)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, admin_url: str = ADMIN_URL) -> None:
        self.admin_url = admin_url
        self.name = f"pm_test_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = _with_database(admin_url, self.name)
        self._schemas = itertools.count(1)

    def create(self) -> TestDatabase:
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.OperationalError as exc:
            pytest.fail(f"no PostgreSQL server at {self.admin_url} (set PM_TEST_POSTGRES, or run only the"
                        f" SQLite backend: pytest --backend sqlite): {exc}")
        return self

    def archive(self) -> ServerDatabase:
        """A fresh, empty archive: a new schema of this run's database, as the URL press-monitor is given."""
        schema = f"a{next(self._schemas)}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return ServerDatabase(_with_database(self.admin_url, self.name, f"-csearch_path={schema}"))

    def drop(self) -> None:
        from monitor.store import pg
        pg.close_pools()  # this process's pooled connections would keep the database in use
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url(pg_test_database: TestDatabase) -> str:
    """The URL of this session's database (see TestDatabase; dropped afterwards)."""
    return pg_test_database.url


@pytest.fixture(scope="session")
def pg_conn(pg_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the session's database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


@contextmanager
def search_table(conn: psycopg.Connection, schema: str) -> Iterator[psycopg.Cursor]:
    """A cursor on a schema of its own holding a bare `releases` table with the search column and index
    (monitor/store/pgsearch.py's DDL and its bucket trigger), for the search tests that need no whole archive."""
    cur = conn.cursor()
    cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    cur.execute(f"CREATE SCHEMA {schema}")
    cur.execute(f"SET search_path TO {schema}")
    cols = ", ".join(f"{c} text NOT NULL DEFAULT ''" for c in FTS_COLUMNS)
    cur.execute(f"CREATE TABLE releases (id bigint PRIMARY KEY, {cols})")
    for ddl in (*pgsearch.DDL, *pgsearch.BUCKET_DDL):
        cur.execute(ddl)
    yield cur
    cur.execute(f"DROP SCHEMA {schema} CASCADE")
    cur.execute("SET search_path TO public")


class PrivateServer:
    """A PostgreSQL server of one test's own, to stop and start under a running daemon.

    Debian's tools where we are root (the server refuses to run as root: pg_ctlcluster runs it as
    postgres), else initdb/pg_ctl as ourselves; trust auth on loopback, a free port, removed at close().
    """

    def __init__(self, directory: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not bins:
            pytest.fail("PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)")
        self.bin, self.version = bins[-1], bins[-1].parent.name
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.root = os.geteuid() == 0
        self.name = f"pmtest{self.port}"
        self.data = directory / "pgdata"
        if self.root:
            self._run("pg_createcluster", "--port", str(self.port), self.version, self.name, "--",
                      "--auth-local=trust", "--auth-host=trust")
        else:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        if self.root:
            self._run("pg_ctlcluster", self.version, self.name, "start")
        else:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.data / "log"),
                      "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        if self.root:
            self._run("pg_ctlcluster", "--mode", "fast", self.version, self.name, "stop")
        else:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def close(self) -> None:
        if self.root:
            subprocess.run(["pg_dropcluster", "--stop", self.version, self.name], capture_output=True, timeout=120)
        else:
            subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=120)
