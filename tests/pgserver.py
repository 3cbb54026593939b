"""A real PostgreSQL server for the tests: one throwaway database per test run, one schema per archive.

The server is the one at $PM_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres, trust
auth: what this project's machines and `.ci/run` provide). `TestDatabase.create()` makes a database
named for this run; `archive()` gives a fresh, empty archive in it as a URL whose search_path is a new
schema (cheaper than a database per test, and just as separate: every table press-monitor makes lands
in that schema); `drop()` removes the database at the end of the run.
"""

from __future__ import annotations

import itertools
import os
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from monitor.types import ServerDatabase

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("PM_TEST_PG_URL", DEFAULT_URL)


def with_database(url: str, name: str, options: str = "") -> str:
    parts = urlsplit(url)
    query = f"options={quote(options)}" if options else ""
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", query, ""))


class TestDatabase:
    """One database for this test run (created, then dropped by the session fixture)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, url: str | None = None) -> None:
        self.admin_url = url or server_url()
        self.name = f"pm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = with_database(self.admin_url, self.name)
        self._schemas = itertools.count(1)

    def create(self) -> TestDatabase:
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"no PostgreSQL server answers at {self.admin_url} ({exc}); start one (.ci/run does)"
                               " or set PM_TEST_PG_URL, or run only the SQLite backend: pytest --backend sqlite")\
                from exc
        return self

    def archive(self) -> ServerDatabase:
        """A fresh, empty archive: a new schema of this run's database, as the URL press-monitor is given."""
        schema = f"a{next(self._schemas)}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return ServerDatabase(with_database(self.admin_url, self.name, f"-csearch_path={schema}"))

    def drop(self) -> None:
        from monitor.store import pg
        pg.close_pools()  # this process's pooled connections would keep the database in use
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
