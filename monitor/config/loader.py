"""config.toml -> Config: find the file, read it, parse the TOML, check every section.

All problems in one file are reported together, one per line, so a user fixes them in one pass
instead of one reload per typo.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor.config import channels as channels_section
from monitor.config import feeds as feeds_section
from monitor.config import rules as rules_section
from monitor.config import settings as settings_section
from monitor.config.keys import ACCEPTED_KEYS
from monitor.config.problems import Problems
from monitor.errors import ConfigError
from monitor.types import Config

ENV_VAR = "PRESS_MONITOR_CONFIG"
DEFAULT_FILE = "config.toml"
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def resolve_path(cli_value: str | None, environ: Mapping[str, str], cwd: Path) -> Path:
    """Return the config file to load: --config, else $PRESS_MONITOR_CONFIG, else ./config.toml."""
    for candidate in (cli_value, environ.get(ENV_VAR)):
        if candidate is not None and candidate.strip():
            path = Path(candidate.strip()).expanduser()
            return path if path.is_absolute() else cwd / path
    return cwd / DEFAULT_FILE


def load(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Return the Config in the file at `path`; raise ConfigError naming every problem."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    return loads(text, path=path, environ=environ)


def loads(text: str, *, path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Return the Config in `text`; `path` names it in messages and anchors relative paths.

    `environ` is read for $CREDENTIALS_DIRECTORY only: secrets are located, never read, here.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_POSITION.search(message)
        if where:
            message = message[: where.start()]
            raise ConfigError(
                f"{path}: line {where[1]}, column {where[2]}: invalid TOML: {message}"
            ) from None
        raise ConfigError(f"{path}: invalid TOML: {message}") from None
    path = Path(path)
    p = Problems(str(path), path.expanduser().absolute().parent, os.environ if environ is None else environ)
    return _config(p, data, path)


def _config(p: Problems, data: dict[str, Any], path: Path) -> Config:
    p.unknown_keys(data, ACCEPTED_KEYS[""], "")
    settings = settings_section.settings(p, data.get("monitor", {}))
    feeds, feed_names = feeds_section.feeds(p, data, settings)
    terms = feeds_section.terms(p, data.get("terms", {}))
    raw_channels = data.get("channels", {})
    channel_names = set(raw_channels) if isinstance(raw_channels, dict) else set()
    rules = rules_section.rules(p, data, feed_names, channel_names)
    channels = channels_section.channels(p, raw_channels)
    if p.problems:
        raise ConfigError("\n".join(p.problems))
    assert settings is not None  # no problems recorded means every section parsed
    return Config(
        path=path.expanduser().absolute(),
        settings=settings,
        feeds=feeds,
        terms=terms,
        rules=rules,
        channels=channels,
    )
