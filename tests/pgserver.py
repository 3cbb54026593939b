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
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from monitor.types import ServerDatabase

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
