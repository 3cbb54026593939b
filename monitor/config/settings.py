"""[monitor]: the archive, polling defaults, logging, the time zone of daily digests."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.config.keys import ACCEPTED_KEYS
from monitor.config.problems import Problems
from monitor.config.units import duration, parse_size
from monitor.config.values import choice, field_defaults, line, local_path, quote, str_list, timezone
from monitor.errors import ConfigError
from monitor.types import Database, ServerDatabase, Settings

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
        "database": lambda v, k: database(line(v, k), k, p.base),
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
        "lease": lease,
    }
    for name, parse in parsers.items():
        if name in table:
            values[name] = p.check(parse, table[name], f"monitor.{name}")
    if "database_env" in table:
        if "database" in table:
            p.add("monitor.database_env", "give `database` or `database_env`, not both")
        else:
            values["database"] = p.check(lambda v, k: database_env(v, k, p), table["database_env"],
                                         "monitor.database_env")
    if len(p) > mark:
        return None
    return Settings(**values)


# A URL scheme (postgresql://…); a Windows drive (C:\\…) has no "//" after its colon.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
SERVER_SCHEMES = ("postgresql", "postgres")


def database(text: str, key: str, base: Path) -> Database:
    """An SQLite file (a path, relative to the config's folder) or a PostgreSQL URL, passed on untouched."""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return local_path(text, base)
    if scheme[1].lower() not in SERVER_SCHEMES:
        raise ConfigError(f"{key}: {quote(_redacted(text))} is neither a file path nor a postgresql:// URL"
                          f" ({scheme[1]}:// is not a database press-monitor speaks)")
    return ServerDatabase(text)


def database_env(value: object, key: str, p: Problems) -> Database:
    """The archive named by an environment variable (so the password stays out of config.toml)."""
    name = line(value, key)
    text = p.environ.get(name, "").strip()
    if not text:
        raise ConfigError(f"{key}: the environment variable {name} is not set (it should hold the archive's"
                          " postgresql:// URL or file path)")
    return database(text, f"{key} ({name})", p.base)


def _redacted(text: str) -> str:
    return str(ServerDatabase(text))


def delay(value: object, key: str) -> float:
    """A duration that may also be zero (no wait at all): page_delay."""
    if value == 0 or (isinstance(value, str) and value.strip() in ("0", "0s")):
        return 0.0
    return duration(value, key)


LEASE_MIN = 3.0  # below this the fence (1 s of timestamp resolution + a fifth for clock skew) leaves no time to work
LEASE_MAX = 3600.0


def lease(value: object, key: str) -> float:
    """How long a node's claim lasts unrenewed: 3 s .. 1 h (failover takes up to this long)."""
    seconds = duration(value, key)
    if not LEASE_MIN <= seconds <= LEASE_MAX:
        raise ConfigError(f"{key}: {quote(str(value))} is not between 3s and 1h (a node that dies is replaced"
                          " within one lease; shorter leaves no time to renew)")
    return seconds


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
