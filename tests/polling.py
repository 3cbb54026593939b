"""FeedPoller without a config file, for tests and benchmarks that build their settings and rules in code.

    poller = make_poller(settings, [RuleSpec("summits", "summit*", notify=("log",))], clock=clock, fetcher=f)
    results = poll(poller, store, feed_a, feed_b)   -> {feed name: PollResult}

The one poll driver (monitor/poller.py) with an App built from a Config in memory: alerts may be
queued for the console channels named in `channels` ("log" by default), as the rules' notify name them.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.app import App
from monitor.channel_options import ConsoleOptions
from monitor.clock import Clock
from monitor.fetch import Fetcher
from monitor.poller import FeedPoller
from monitor.store import Store
from monitor.types import ChannelSpec, Config, Feed, PollResult, RuleSpec, Settings


def make_poller(settings: Settings, rules: Sequence[RuleSpec], *, clock: Clock, fetcher: Fetcher,
                feeds: Sequence[Feed] = (), channels: Sequence[str] = ("log",)) -> FeedPoller:
    config = Config(path=settings.database.with_name("config.toml"), settings=settings, feeds=tuple(feeds),
                    rules=tuple(rules),
                    channels={n: ChannelSpec(n, "console", options=ConsoleOptions()) for n in channels})
    return FeedPoller(App(config), clock=clock, fetcher=fetcher)


def poll(poller: FeedPoller, store: Store, *feeds: Feed, workers: int = 8) -> dict[str, PollResult]:
    """Poll each feed once (whether due or not), as `run --once --force` does; return the results by feed."""
    return {p.result.feed: p.result for p in poller.round(store, feeds, workers=workers)}
