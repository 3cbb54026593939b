"""Shared fixtures (keep this file to fixtures only; helpers live in tests/*.py modules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.types import Database
from tests.configs import SECRET, Configs
from tests.feedserver import FeedServer
from tests.pgserver import TestDatabase
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer on 127.0.0.1, stopped after the test."""
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A started WebhookReceiver verifying signatures made with tests.configs.SECRET (any timestamp age)."""
    with WebhookReceiver(secret=SECRET, tolerance=float("inf")) as rx:
        yield rx


@pytest.fixture
def configs(tmp_path: Path, request: pytest.FixtureRequest) -> Configs:
    """Config writers for tmp_path/config.toml (see tests/configs.py); naming the `database` fixture's
    archive when the test uses it (so it runs on both backends), else archive.db."""
    database = request.getfixturevalue("database") if "database" in request.fixturenames else None
    return Configs(tmp_path, database)


# --------------------------------------------------------------------------- both backends (issue 18)
# A test that takes the `database` fixture runs once per backend: an SQLite file in tmp_path, and a
# fresh archive (its own schema) in this run's PostgreSQL database (tests/pgserver.py), created on
# first use and dropped at the end. `--backend sqlite` (or postgresql) runs only one of them.

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=(*BACKENDS, "both"), default="both",
                     help="the archive backends tests taking `database` run on (default: both)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        metafunc.parametrize("database", BACKENDS if chosen == "both" else (chosen,), indirect=True)


@pytest.fixture(scope="session")
def pg_test_database() -> Iterator[TestDatabase]:
    """This run's throwaway PostgreSQL database."""
    db = TestDatabase().create()
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A new, empty archive on the backend this run of the test is for (see pytest_generate_tests)."""
    if request.param == "sqlite":
        yield tmp_path / "archive.db"
        return
    pg: TestDatabase = request.getfixturevalue("pg_test_database")
    archive = pg.archive()
    yield archive
    from monitor.store.pg import close_pool
    close_pool(archive.url)  # each archive is a URL of its own: its pooled connections must not pile up
