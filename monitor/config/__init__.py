"""config.toml -> Config: every value checked; every error names the file, the key and the problem.

    load(path) / loads(text, path=...)   -> Config, or ConfigError listing every problem at once
    resolve_path(--config, environ, cwd) -> the file to load

Modules: loader (file, TOML, sections in order), problems (collects `<file>: <key>: <problem>`),
values (checks of single values), units (durations, sizes, digest schedules), settings
([monitor]), feeds ([[feeds]], [terms]), rules ([[rules]]), channels ([channels.NAME], read from
the options dataclasses in channel_options.py), keys (ACCEPTED_KEYS, which README.md documents).
"""

from __future__ import annotations

from monitor.config.keys import ACCEPTED_KEYS, CHANNEL_TYPES
from monitor.config.loader import DEFAULT_FILE, ENV_VAR, load, loads, resolve_path
from monitor.config.settings import DEFAULT_DATABASE, LOG_LEVELS
from monitor.config.units import (
    MAX_DURATION,
    MIN_DIGEST,
    digest,
    format_duration,
    parse_digest,
    parse_duration,
    parse_size,
)
from monitor.config.values import feed_url

__all__ = [
    "ACCEPTED_KEYS",
    "CHANNEL_TYPES",
    "DEFAULT_DATABASE",
    "DEFAULT_FILE",
    "ENV_VAR",
    "LOG_LEVELS",
    "MAX_DURATION",
    "MIN_DIGEST",
    "digest",
    "feed_url",
    "format_duration",
    "load",
    "loads",
    "parse_digest",
    "parse_duration",
    "parse_size",
    "resolve_path",
]
