"""Wiring shared by the CLI and the daemon: load a config with its compiled rules, open the archive.

This is layer 5 (it builds things); it holds no business logic.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from monitor import config as config_mod
from monitor.rules import RuleSet, compile_rules
from monitor.store import Store
from monitor.types import Config


@dataclass(frozen=True)
class App:
    config: Config
    rules: RuleSet

    @property
    def channels(self) -> frozenset[str]:
        """Names of the channels alerts may be queued for (enabled ones)."""
        return frozenset(name for name, spec in self.config.channels.items() if spec.enabled)

    def open_store(self, *, readonly: bool = False) -> Store:
        return Store(self.config.settings.database, readonly=readonly)


def load(path: Path) -> App:
    """Return the loaded config with its rules compiled (raises ConfigError naming the problem)."""
    cfg = config_mod.load(path)
    return App(cfg, compile_rules(cfg.rules, cfg.terms, source=path.name))


def digest_pool(feed_count: int) -> Executor | None:
    """Return a process pool for parsing when there are enough feeds to pay for starting it, else None.

    feedparser is pure Python and holds the GIL: on two cores a second process nearly halves a cold
    ingest of many feeds, but starting it costs ~0.1 s, so small configs parse in-thread.
    """
    cores = os.cpu_count() or 1
    if cores < 2 or feed_count < 8:
        return None
    return ProcessPoolExecutor(max_workers=min(cores, 4))
