"""[monitor]: the archive, polling defaults, logging, the time zone of daily digests."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from monitor.config.keys import ACCEPTED_KEYS
from monitor.config.problems import Problems
from monitor.config.units import duration, parse_size
from monitor.config.values import choice, field_defaults, line, local_path, quote, str_list, timezone
from monitor.errors import ConfigError
from monitor.types import Settings

DEFAULT_DATABASE = "press-monitor.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def settings(p: Problems, value: object) -> Settings | None:
    """Return [monitor] as Settings (defaults filled in), or None after recording its problems."""
    table = p.table(value, "monitor", "[monitor]")
    if table is None:
        return None
    p.unknown_keys(table, ACCEPTED_KEYS["monitor"], "monitor")
    mark = len(p)
    values: dict[str, Any] = field_defaults(Settings)
    values["database"] = local_path(DEFAULT_DATABASE, p.base)
    parsers: dict[str, Callable[[object, str], object]] = {
        "database": lambda v, k: local_path(line(v, k), p.base),
        "user_agent": line,
        "poll_interval": duration,
        "timeout": duration,
        "max_feed_bytes": lambda v, k: parse_size(v, key=k),
        "alert_max_age": duration,
        "log_level": lambda v, k: choice(v, k, LOG_LEVELS, upper=True),
        "timezone": timezone,
        "retention": duration,
        "full_text_max_age": duration,
        "max_page_bytes": lambda v, k: parse_size(v, key=k),
        "page_delay": delay,
        "allow_private_networks": networks,
        "display_timezone": timezone,
    }
    for name, parse in parsers.items():
        if name in table:
            values[name] = p.check(parse, table[name], f"monitor.{name}")
    if len(p) > mark:
        return None
    return Settings(**values)


def delay(value: object, key: str) -> float:
    """A duration that may also be zero (no wait at all): page_delay."""
    if value == 0 or (isinstance(value, str) and value.strip() in ("0", "0s")):
        return 0.0
    return duration(value, key)


def networks(value: object, key: str) -> tuple[str, ...]:
    """A list of CIDR networks ("10.0.0.0/8", "fd00::/8"), normalised: allow_private_networks."""
    out = []
    for i, item in enumerate(str_list(value, key), 1):
        try:
            out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            example = '"10.0.0.0/8" or "fd00::/8"'
            raise ConfigError(f"{key}[{i}]: {quote(item)} is not a network such as {example}") from None
    return tuple(out)
