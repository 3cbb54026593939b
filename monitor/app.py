"""Wiring shared by the CLI and the daemon: load a config with its compiled rules, open the archive.

This is layer 5 (it builds things); it holds no business logic.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TextIO

from monitor import __version__, deliver
from monitor import channels as channels_mod
from monitor import config as config_mod
from monitor.clock import Clock
from monitor.cluster import LeaseKeeper
from monitor.errors import ConfigError
from monitor.node import new_identity
from monitor.rules import RuleSet, compile_rules
from monitor.store import Store
from monitor.types import Config


@dataclass(frozen=True)
class App:
    config: Config
    source: str = "config.toml"  # the config file's name, for rule errors

    @cached_property
    def rules(self) -> RuleSet:
        """The compiled rules, compiled on first use: commands that only read the archive never need
        them, and 10,000 rules take seconds to compile."""
        return compile_rules(self.config.rules, self.config.terms, source=self.source)

    @property
    def channels(self) -> frozenset[str]:
        """Names of the channels alerts may be queued for (enabled ones)."""
        return frozenset(name for name, spec in self.config.channels.items() if spec.enabled)

    def open_store(self, *, readonly: bool = False) -> Store:
        return Store(self.config.settings.database, readonly=readonly)

    @cached_property
    def channel_set(self) -> channels_mod.ChannelSet:
        """Every channel, built on first use and then kept (sessions stay alive between deliveries)
        until close_channels(). Building reads the channels' secrets: only what sends asks for it,
        so read-only commands work without them (raises ConfigError naming a secret it cannot read)."""
        return channels_mod.ChannelSet(self.config.channels)

    def close_channels(self) -> None:
        """Close the channels if they were built (at exit, or when a reload replaces this config)."""
        built = self.__dict__.get("channel_set")
        if built is not None:
            built.close()

    def build_channel(self, name: str, *, stdout: TextIO | None = None) -> channels_mod.Channel:
        """Return a new channel for one configured name (for `alerts test`; the caller closes it)."""
        return channels_mod.build(self.config.channels[name], stdout=stdout)

    def deliver(self, store: Store, clock: Clock, *, on_event: Callable[[str], None] | None = None,
                claims: deliver.Claims | None = None) -> deliver.Report | None:
        """Drain the outbox once; return None when another process is delivering right now.

        With `claims` (the daemon's leases) on a server, nodes drain side by side, each sending the
        rows it holds a lease on, so no database session lock is taken: a node cut off from the
        server would keep such a lock until the server noticed, and stall every other node's delivery.
        """
        database = self.config.settings.database
        if isinstance(database, Path):
            lock: AbstractContextManager[bool] = delivery_lock(database)
        else:
            # On a server, leases (`run --once`, `pages fetch`: a one-off node id) beside the daemons' own.
            claims = claims or self.claims(clock)
            lock = nullcontext(True)
        with lock as mine:
            if not mine:
                return None
            return deliver.drain(store, self.channel_set, self.config.channels, clock,
                                 timezone=self.config.settings.timezone, on_event=on_event, claims=claims)


    def claims(self, clock: Clock) -> LeaseKeeper | None:
        """On a server: leases for a one-off command (`run --once`, `pages fetch`), so it takes no feed
        page or alert a daemon of the cluster holds. Each claim first checks the database answers."""
        if isinstance(self.config.settings.database, Path):
            return None
        def no_store() -> Store:
            raise ConfigError("a one-off command's leases are renewed by its claims, not by a thread")
        return LeaseKeeper(new_identity(clock.now(), __version__).id, self.config.settings.lease, clock, no_store)


@contextmanager
def delivery_lock(database: Path) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock beside the archive; yield False if another process has it.

    Two drainers (the daemon and a `run --once`) would send the same due alert twice; the lock makes
    one of them skip. The OS drops it when a process dies, so a crash never wedges delivery.
    """
    path = database.with_name(database.name + ".deliver.lock")
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load(path: Path, *, lazy: bool = False) -> App:
    """Return the loaded config, its rules compiled unless lazy (raises ConfigError naming the problem)."""
    app = App(config_mod.load(path), source=path.name)
    if not lazy:
        _ = app.rules  # refuse a bad rule now, not at the first poll
    return app
