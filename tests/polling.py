"""FeedPoller without a config file, for tests and benchmarks that build their settings and rules in code.

    poller = make_poller(settings, [RuleSpec("summits", "summit*", notify=("log",))], clock=clock, fetcher=f)
    results = poll(poller, store, feed_a, feed_b)   -> {feed name: PollResult}

The one poll driver (monitor/poller.py) with an App built from a Config in memory: alerts may be
queued for the console channels named in `channels` ("log" by default), as the rules' notify name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.app import App
from monitor.channel_options import ConsoleOptions
from monitor.clock import Clock
from monitor.fetch import Fetcher
from monitor.poller import FeedPoller
from monitor.store import Store
from monitor.types import ChannelSpec, Config, Feed, PollResult, RuleSpec, Settings


def make_poller(settings: Settings, rules: Sequence[RuleSpec], *, clock: Clock, fetcher: Fetcher,
                feeds: Sequence[Feed] = (), channels: Sequence[str] = ("log",),
                config_path: Path | None = None) -> FeedPoller:
    """config_path: where the config would live (default: beside an SQLite archive; required for a server one)."""
    if config_path is None:
        assert isinstance(settings.database, Path), "an archive on a server: say config_path"
        config_path = settings.database.with_name("config.toml")
    config = Config(path=config_path, settings=settings, feeds=tuple(feeds),
                    rules=tuple(rules),
                    channels={n: ChannelSpec(n, "console", options=ConsoleOptions()) for n in channels})
    return FeedPoller(App(config), clock=clock, fetcher=fetcher)


def query(store: Store, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of one statement as tuples, on either backend: `?` placeholders take `args` in order."""
    parts = sql.split("?")
    named = "".join(p + (f":a{i}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    return [tuple(r) for r in store.run(named, {f"a{i}": a for i, a in enumerate(args)}).fetchall()]


def poll(poller: FeedPoller, store: Store, *feeds: Feed, workers: int = 8) -> dict[str, PollResult]:
    """Poll each feed once (whether due or not), as `run --once --force` does; return the results by feed."""
    return {p.result.feed: p.result for p in poller.round(store, feeds, workers=workers)}
