"""Problems: walks parsed TOML with the value checks, collecting every problem instead of stopping at the first.

Messages read `<file>: <key path>: <problem>`, e.g. `config.toml: feeds[2].interval: ...`. Array
indexes in key paths count from 1, as people do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from monitor.config.values import describe, did_you_mean, key_path
from monitor.errors import ConfigError

T = TypeVar("T")


class Problems:
    """The problems found so far in one file, and the environment the file is read in."""

    def __init__(self, file: str, base: Path, environ: Mapping[str, str]) -> None:
        self.file = file
        self.base = base  # relative paths in the file are relative to its folder
        self.environ = environ
        self.problems: list[str] = []

    def __len__(self) -> int:
        return len(self.problems)

    def add(self, key: str, problem: str) -> None:
        self.problems.append(f"{self.file}: {key}: {problem}")

    def check(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Return fn(...), or None after recording its ConfigError."""
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            self.problems.append(f"{self.file}: {exc}")
            return None

    def unknown_keys(self, table: Mapping[str, object], allowed: tuple[str, ...], prefix: str) -> None:
        for name in table:
            if name not in allowed:
                hint = did_you_mean(name, allowed) or f" (accepted: {', '.join(allowed)})"
                self.add(key_path(prefix, name), f"unknown key{hint}")

    def table(self, value: object, key: str, how: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(key, f"expected a table ({how}), got {describe(value)}")
        return None

    def array_of_tables(self, data: Mapping[str, object], name: str) -> list[tuple[str, dict[str, Any]]]:
        value = data.get(name, [])
        if isinstance(value, dict):
            self.add(name, f"expected an array of tables: write [[{name}]] (double brackets), not [{name}]")
            return []
        if not isinstance(value, list):
            self.add(name, f"expected an array of tables ([[{name}]]), got {describe(value)}")
            return []
        items = []
        for i, item in enumerate(value, 1):
            key = f"{name}[{i}]"
            if isinstance(item, dict):
                items.append((key, item))
            else:
                self.add(key, f"expected a table ([[{name}]]), got {describe(item)}")
        return items

    # -- field access

    def required(
        self, table: Mapping[str, object], prefix: str, name: str, parse: Callable[..., T], *extra: Any
    ) -> T | None:
        if name not in table:
            self.add(key_path(prefix, name), "missing (required)")
            return None
        return self.optional(table, prefix, name, parse, None, *extra)

    def optional(
        self, table: Mapping[str, object], prefix: str, name: str, parse: Callable[..., T], default: Any, *extra: Any
    ) -> Any:
        """Return the parsed value of table[name], `default` when absent, None when invalid."""
        if name not in table:
            return default
        return self.check(parse, table[name], key_path(prefix, name), *extra)
