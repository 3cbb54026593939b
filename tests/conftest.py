"""Shared fixtures (keep this file to fixtures only; helpers live in tests/*.py modules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.configs import SECRET, Configs
from tests.feedserver import FeedServer
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
def configs(tmp_path: Path) -> Configs:
    """Config writers for tmp_path/config.toml (see tests/configs.py)."""
    return Configs(tmp_path)
