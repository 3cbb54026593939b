"""A throwaway database on the real PostgreSQL server, for the tests that need one.

The server is PM_TEST_POSTGRES (a libpq URL of a database to connect to for CREATE DATABASE),
by default postgresql://postgres@127.0.0.1:5432/postgres (trust auth, as on this project's
machines and in CI). Each test session gets a database of its own with a unique name, dropped at
the end; a test takes the `pg_url` fixture (its URL) or `pg_conn` (an autocommit connection).
Use them from a test module with `from tests.pgserver import pg_conn, pg_url  # noqa: F401`.
No server is a failure, not a skip: the PostgreSQL backend is part of what CI checks.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ADMIN_URL = os.environ.get("PM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of an empty database created for this test session (dropped afterwards)."""
    name = f"pm_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as e:
        pytest.fail(f"no PostgreSQL server at {ADMIN_URL} (set PM_TEST_POSTGRES): {e}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(ADMIN_URL, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_conn(pg_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the session's database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn
