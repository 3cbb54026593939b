"""config.toml -> Config: every value checked; every error names the file, the key and the problem.

Messages read `<file>: <key path>: <problem>`, e.g. `config.toml: feeds[2].interval: ...`. Array
indexes in key paths count from 1, as people do. All problems in one file are reported together,
one per line, so a user fixes them in one pass instead of one reload per typo.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from datetime import time as dtime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from monitor.errors import ConfigError
from monitor.types import ChannelSpec, Config, Feed, RuleSpec, Secret, Settings

T = TypeVar("T")

ENV_VAR = "PRESS_MONITOR_CONFIG"
DEFAULT_FILE = "config.toml"
DEFAULT_DATABASE = "press-monitor.db"

# Every key the loader accepts, by section. The loader's unknown-key check reads this very table,
# and a test checks that README.md documents every entry, so the three cannot drift apart.
# "channels.<name>" holds the keys every channel takes; "channels.<name>:<type>" the extra ones.
ACCEPTED_KEYS: Mapping[str, tuple[str, ...]] = {
    "": ("monitor", "feeds", "terms", "rules", "channels"),
    "monitor": (
        "database",
        "user_agent",
        "poll_interval",
        "timeout",
        "max_feed_bytes",
        "alert_max_age",
        "log_level",
        "timezone",
        "retention",
        "display_timezone",
    ),
    "feeds[]": ("name", "url", "interval", "enabled", "adaptive", "min_interval"),
    "terms": ("<name>",),
    "rules[]": ("name", "query", "notify", "feeds", "regex", "enabled"),
    "channels.<name>": ("type", "digest", "enabled"),
    "channels.<name>:console": ("stream",),
    "channels.<name>:webhook": ("url", "format", "headers", "timeout", "secret_env", "secret_file"),
    "channels.<name>:email": (
        "host",
        "port",
        "security",
        "username",
        "password_env",
        "password_file",
        "from",
        "to",
        "timeout",
        "subject_prefix",
    ),
}

CHANNEL_TYPES = ("console", "webhook", "email")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
WEBHOOK_FORMATS = ("json", "slack", "discord")
EMAIL_SECURITY = {"starttls": 587, "ssl": 465, "none": 25}
MIN_DIGEST = 60.0
# timedelta (and so APScheduler) overflows near 10**9 days; nobody means more than a century.
MAX_DURATION = 36500 * 86400.0

# Keys that would put a credential in config.toml: refused, with the keys to use instead.
_REFUSED = {"secret": ("secret_env", "secret_file"), "password": ("password_env", "password_file")}
# Headers press-monitor sets itself; overriding them would break signatures or framing.
_RESERVED_HEADERS = {
    "webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length", "host"
}
_SENSITIVE_HEADER = re.compile(r"auth|token|secret|key|password|signature|cookie", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_TERM_NAME = re.compile(r"[a-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*[A-Za-z]+\s*)+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}
_DAILY = re.compile(r"daily\s+(\d{1,2}):(\d{2})", re.IGNORECASE)
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_LOCALHOSTS = {"localhost", "127.0.0.1", "::1"}


# --------------------------------------------------------------------------- public helpers


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
    """Return the Config in `text`; `path` names it in messages and anchors relative paths."""
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
    loader = _Loader(str(path), path.expanduser().absolute().parent, os.environ if environ is None else environ)
    return loader.config(data, path)


def parse_duration(value: object, *, key: str) -> float:
    """Return seconds (> 0) from "30s", "5m", "2h", "1d", "1w", "1h30m" or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(
            f'{key}: expected a duration such as "5m" or "1h30m" or a number of seconds, '
            f"got {_describe(value)}"
        )
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            raise ConfigError(
                f'{key}: {_q(value)} has no unit; write "{text}s" for seconds (or "{text}m", "{text}h")'
            )
        if not _DURATION.fullmatch(text):
            raise ConfigError(f'{key}: {_q(value)} is not a duration; write e.g. "30s", "5m", "2h", "1h30m"')
        seconds = 0.0
        for number, unit in _DURATION_PART.findall(text):
            factor = _DURATION_UNITS.get(unit.lower())
            if factor is None:
                raise ConfigError(f"{key}: {_q(value)}: unknown unit {_q(unit)} (use s, m, h, d or w)")
            seconds += float(number) * factor
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{key}: a duration must be more than zero, got {_describe(value)}")
    if seconds > MAX_DURATION:
        raise ConfigError(f"{key}: {_describe(value)} is longer than the 36500d this accepts")
    return seconds


def format_duration(seconds: float) -> str:
    """Return `seconds` written the way config.toml does: 5400 -> "1h30m", 0.5 -> "0.5s"."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_size(value: object, *, key: str) -> int:
    """Return bytes (> 0) from "15MB", "512KB", "1GB", "20MiB" (MB = 10**6, MiB = 2**20) or an int."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f'{key}: expected a size such as "15MB" or a number of bytes, got {_describe(value)}')
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if not match:
            raise ConfigError(f'{key}: {_q(value)} is not a size; write e.g. "512KB", "15MB", "1GB"')
        number, unit = match.groups()
        if not unit:
            raise ConfigError(f'{key}: {_q(value)} has no unit; write "{number}B" for bytes or e.g. "{number}MB"')
        factor = _SIZE_UNITS.get(unit.lower())
        if factor is None:
            raise ConfigError(f"{key}: {_q(value)}: unknown unit {_q(unit)} (use B, KB, MB, GB, KiB, MiB, GiB)")
        size = float(number) * factor
    elif isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{key}: a number of bytes must be whole, got {_describe(value)}")
    else:
        size = float(value)
    if not math.isfinite(size) or size < 1:
        raise ConfigError(f"{key}: a size must be at least 1 byte, got {_describe(value)}")
    return int(round(size))


def parse_digest(value: object, *, key: str) -> float | dtime:
    """Return a digest schedule: seconds between digests (>= 60) or the time of day of "daily HH:MM"."""
    if isinstance(value, str):
        daily = _DAILY.fullmatch(value.strip())
        if daily:
            hour, minute = int(daily[1]), int(daily[2])
            if hour > 23 or minute > 59:
                raise ConfigError(f"{key}: {_q(value)} is not a time of day (00:00 to 23:59)")
            return dtime(hour, minute)
        if value.strip().lower().startswith("daily"):
            raise ConfigError(f'{key}: {_q(value)}: write "daily HH:MM", e.g. "daily 08:30" (24-hour clock)')
    try:
        seconds = parse_duration(value, key=key)
    except ConfigError:
        raise ConfigError(
            f'{key}: expected a duration such as "1h" or "daily HH:MM", got {_describe(value)}'
        ) from None
    if seconds < MIN_DIGEST:
        raise ConfigError(f"{key}: a digest interval must be at least 1m, got {_describe(value)}")
    return seconds


# --------------------------------------------------------------------------- small checks
# Each raises ConfigError("<key>: <problem>"); the loader prefixes the file name.


def _q(text: str) -> str:
    """Return `text` quoted for a message, shortened when long."""
    if len(text) > 80:
        text = text[:77] + "..."
    return json.dumps(text, ensure_ascii=False)


def _describe(value: object) -> str:
    """Return a TOML value and its TOML type, for 'got ...' in messages."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    if isinstance(value, int):
        return f"{value} (integer)"
    if isinstance(value, float):
        return f"{value:g} (float)"
    if isinstance(value, str):
        return f"{_q(value)} (string)"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | dtime):
        return f"{value.isoformat()} (date/time)"
    return type(value).__name__


def _key(prefix: str, name: str) -> str:
    """Return the dotted key path prefix.name, quoting `name` as TOML would when it needs it."""
    part = name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)
    return f"{prefix}.{part}" if prefix else part


def _string(value: object, key: str, *, what: str = "a string", allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected {what}, got {_describe(value)}")
    if not allow_empty and not value.strip():
        raise ConfigError(f"{key}: must not be empty")
    return value


def _line(value: object, key: str, *, allow_empty: bool = False) -> str:
    """Return a one-line string, stripped (names, header values, addresses: no control characters)."""
    text = _string(value, key, allow_empty=allow_empty).strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"{key}: {_q(text)} contains a control character (newline, tab, ...)")
    return text


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        hint = " (write true or false without quotes)" if value in ("true", "false") else ""
        raise ConfigError(f"{key}: expected true or false, got {_describe(value)}{hint}")
    return value


def _choice(value: object, key: str, choices: tuple[str, ...] | Mapping[str, object], *, upper: bool = False) -> str:
    text = _line(value, key)
    text = text.upper() if upper else text.lower()
    if text not in choices:
        allowed = ", ".join(f'"{c}"' for c in choices)
        raise ConfigError(f"{key}: {_q(value)} is not one of {allowed}{_did_you_mean(text, choices)}")
    return text


def _str_list(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f'{key}: expected an array of strings such as ["a", "b"], got {_describe(value)}')
    return tuple(_line(item, f"{key}[{i}]") for i, item in enumerate(value, 1))


def _slug(value: object, key: str, pattern: re.Pattern[str], what: str) -> str:
    text = _line(value, key)
    if not pattern.fullmatch(text):
        raise ConfigError(f"{key}: {_q(text)} is not a valid name; use {what}")
    return text


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _local_path(text: str, base: Path) -> Path:
    """Return `text` as an absolute path: ~ expanded, relative paths joined to `base`."""
    path = Path(text).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _http_url(value: object, key: str) -> str:
    text = _line(value, key)
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise ConfigError(f"{key}: {_q(text)} is not an http(s) URL")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port such as :99999 or :abc
    except ValueError:
        raise ConfigError(f"{key}: {_q(text)} has an invalid port") from None
    return text


def _feed_url(value: object, key: str, base: Path) -> str:
    """Return an http(s) URL as written, or a file:///abs URL for a file: URL or a local path."""
    text = _line(value, key)
    scheme = _SCHEME.match(text)
    if scheme and scheme[1].lower() in ("http", "https"):
        try:
            return _http_url(text, key)
        except ConfigError:
            raise ConfigError(f"{key}: {_q(text)} is not an http(s) or file URL") from None
    if scheme and scheme[1].lower() == "file":
        rest = text[len(scheme[0]) :]
        if rest.startswith("//"):
            parts = urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise ConfigError(f"{key}: {_q(text)}: file URLs must name a local file (no host)")
            rest = parts.path
        if not unquote(rest).strip():
            raise ConfigError(f"{key}: {_q(text)} names no file")
        return _local_path(unquote(rest), base).as_uri()
    if scheme:  # "htp://x", "ftp://x", "localhost:8080/x": a scheme we do not fetch
        raise ConfigError(f"{key}: {_q(text)} is not an http(s) or file URL")
    # No scheme: a file path. "example.com/feed" is far more likely a URL missing "https://"
    # than a folder named like a host, so refuse it unless such a file really exists.
    path = _local_path(text, base)
    first = text.split("/", 1)[0]
    if "." in first.strip(".") and ("/" in text or first.startswith("www.")) and not path.exists():
        raise ConfigError(
            f'{key}: {_q(text)} has no scheme; write "https://{text}" for a web feed or "./{text}" for a file'
        )
    return path.as_uri()


def _url_identity(url: str) -> str:
    """Return `url` with scheme and host lower-cased, for spotting the same feed listed twice."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def _address(value: object, key: str) -> str:
    text = _line(value, key)
    _name, address = parseaddr(text)
    if not _ADDRESS.fullmatch(address):
        raise ConfigError(f'{key}: {_q(text)} is not an email address (e.g. "alerts@example.com")')
    return text


def _field_defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


# --------------------------------------------------------------------------- the loader


class _Loader:
    """Walks the parsed TOML, collecting every problem instead of stopping at the first."""

    def __init__(self, file: str, base: Path, environ: Mapping[str, str]) -> None:
        self.file = file
        self.base = base
        self.environ = environ
        self.problems: list[str] = []

    # -- bookkeeping

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
                hint = _did_you_mean(name, allowed) or f" (accepted: {', '.join(allowed)})"
                self.add(_key(prefix, name), f"unknown key{hint}")

    def table(self, value: object, key: str, how: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(key, f"expected a table ({how}), got {_describe(value)}")
        return None

    def array_of_tables(self, data: Mapping[str, object], name: str) -> list[tuple[str, dict[str, Any]]]:
        value = data.get(name, [])
        if isinstance(value, dict):
            self.add(name, f"expected an array of tables: write [[{name}]] (double brackets), not [{name}]")
            return []
        if not isinstance(value, list):
            self.add(name, f"expected an array of tables ([[{name}]]), got {_describe(value)}")
            return []
        items = []
        for i, item in enumerate(value, 1):
            key = f"{name}[{i}]"
            if isinstance(item, dict):
                items.append((key, item))
            else:
                self.add(key, f"expected a table ([[{name}]]), got {_describe(item)}")
        return items

    # -- sections

    def config(self, data: dict[str, Any], path: Path) -> Config:
        self.unknown_keys(data, ACCEPTED_KEYS[""], "")
        settings = self.settings(data.get("monitor", {}))
        feeds = self.feeds(data, settings)
        terms = self.terms(data.get("terms", {}))
        raw_channels = data.get("channels", {})
        channel_names = set(raw_channels) if isinstance(raw_channels, dict) else set()
        rules = self.rules(data, self.feed_names, channel_names)
        channels = self.channels(raw_channels)
        if self.problems:
            raise ConfigError("\n".join(self.problems))
        assert settings is not None  # no problems recorded means every section parsed
        return Config(
            path=path.expanduser().absolute(),
            settings=settings,
            feeds=feeds,
            terms=terms,
            rules=rules,
            channels=channels,
        )

    def settings(self, value: object) -> Settings | None:
        table = self.table(value, "monitor", "[monitor]")
        if table is None:
            return None
        self.unknown_keys(table, ACCEPTED_KEYS["monitor"], "monitor")
        mark = len(self.problems)
        values: dict[str, Any] = _field_defaults(Settings)
        values["database"] = _local_path(DEFAULT_DATABASE, self.base)
        parsers: dict[str, Callable[[object, str], object]] = {
            "database": lambda v, k: _local_path(_line(v, k), self.base),
            "user_agent": _line,
            "poll_interval": _duration,
            "timeout": _duration,
            "max_feed_bytes": lambda v, k: parse_size(v, key=k),
            "alert_max_age": _duration,
            "log_level": lambda v, k: _choice(v, k, LOG_LEVELS, upper=True),
            "timezone": _timezone,
            "retention": _duration,
            "display_timezone": _timezone,
        }
        for name, parse in parsers.items():
            if name in table:
                values[name] = self.check(parse, table[name], f"monitor.{name}")
        if len(self.problems) > mark:
            return None
        return Settings(**values)

    feed_names: set[str]

    def feeds(self, data: Mapping[str, object], settings: Settings | None) -> tuple[Feed, ...]:
        # Names of every feed that has a usable name, valid or not, so that a rule naming a feed
        # with a bad URL reports the URL, not a misleading "no such feed".
        self.feed_names = set()
        poll_interval = settings.poll_interval if settings else _field_defaults(Settings)["poll_interval"]
        feeds: list[Feed] = []
        names: dict[str, str] = {}  # lower-cased name -> key path of its first use
        urls: dict[str, str] = {}
        for key, table in self.array_of_tables(data, "feeds"):
            self.unknown_keys(table, ACCEPTED_KEYS["feeds[]"], key)
            mark = len(self.problems)
            name = self.required(table, key, "name", _line)
            if name is not None:
                self.feed_names.add(name)
                if name.lower() in names:
                    self.add(
                        f"{key}.name",
                        f"{_q(name)} is already the name of {names[name.lower()]} (feed names ignore case)",
                    )
                names.setdefault(name.lower(), key)
            url = self.required(table, key, "url", lambda v, k: _feed_url(v, k, self.base))
            if url is not None:
                ident = _url_identity(url)
                if ident in urls:
                    self.add(f"{key}.url", f"{_q(url)} is already the URL of {urls[ident]}")
                urls.setdefault(ident, key)
            interval = self.optional(table, key, "interval", _duration, poll_interval)
            enabled = self.optional(table, key, "enabled", _bool, True)
            adaptive = self.optional(table, key, "adaptive", _bool, False)
            min_interval = self.optional(table, key, "min_interval", _duration, None)
            if interval is not None and min_interval is not None and min_interval > interval:
                self.add(
                    f"{key}.min_interval",
                    f"{format_duration(min_interval)} is longer than interval ({format_duration(interval)})",
                )
            if len(self.problems) > mark:
                continue
            assert name is not None and url is not None and interval is not None
            if min_interval is None and adaptive:
                min_interval = interval / 4
            feeds.append(
                Feed(
                    name=name,
                    url=url,
                    interval=interval,
                    enabled=bool(enabled),
                    adaptive=bool(adaptive),
                    min_interval=min_interval,
                )
            )
        return tuple(feeds)

    def terms(self, value: object) -> dict[str, tuple[str, ...]]:
        table = self.table(value, "terms", "[terms]")
        terms: dict[str, tuple[str, ...]] = {}
        for name, items in (table or {}).items():
            key = _key("terms", name)
            if not _TERM_NAME.fullmatch(name):
                self.add(key, f"{_q(name)} is not a valid term list name; use a-z, 0-9, _ and -")
                continue
            words = self.check(_str_list, items, key)
            if words is not None and not words:
                self.add(key, "the list is empty; give at least one term")
            elif words is not None:
                terms[name] = words
        return terms

    def rules(self, data: Mapping[str, object], feed_names: set[str], channel_names: set[str]) -> tuple[RuleSpec, ...]:
        rules: list[RuleSpec] = []
        names: dict[str, str] = {}
        for key, table in self.array_of_tables(data, "rules"):
            self.unknown_keys(table, ACCEPTED_KEYS["rules[]"], key)
            mark = len(self.problems)
            name = self.required(table, key, "name", _slug, _SLUG, "a-z, 0-9, _ and - (starting with a-z or 0-9)")
            if name is not None:
                if name in names:
                    self.add(f"{key}.name", f"{_q(name)} is already the name of {names[name]}")
                names.setdefault(name, key)
            query = self.required(table, key, "query", _string)
            notify = self.optional(table, key, "notify", _str_list, ())
            for i, channel in enumerate(notify or (), 1):
                if channel not in channel_names:
                    where = _did_you_mean(channel, channel_names) if channel_names else " ([channels] is empty)"
                    self.add(f"{key}.notify[{i}]", f"no channel named {_q(channel)} in [channels]{where}")
            feeds = self.optional(table, key, "feeds", _str_list, ())
            for i, feed in enumerate(feeds or (), 1):
                if feed not in feed_names:
                    where = _did_you_mean(feed, feed_names) if feed_names else " ([[feeds]] is empty)"
                    self.add(f"{key}.feeds[{i}]", f"no feed named {_q(feed)} in [[feeds]]{where}")
            regex = self.optional(table, key, "regex", _regex, None)
            enabled = self.optional(table, key, "enabled", _bool, True)
            if len(self.problems) > mark:
                continue
            assert name is not None and query is not None
            rules.append(
                RuleSpec(
                    name=name,
                    query=query.strip(),
                    notify=tuple(dict.fromkeys(notify or ())),
                    feeds=tuple(dict.fromkeys(feeds or ())),
                    regex=regex,
                    enabled=bool(enabled),
                )
            )
        return tuple(rules)

    def channels(self, value: object) -> dict[str, ChannelSpec]:
        table = self.table(value, "channels", "[channels.NAME] tables")
        channels: dict[str, ChannelSpec] = {}
        for name, body in (table or {}).items():
            key = _key("channels", name)
            if not _SLUG.fullmatch(name):
                self.add(key, f"{_q(name)} is not a valid channel name; use a-z, 0-9, _ and -")
                continue
            spec = self.check(self.channel, name, body, key)
            if spec is not None:
                channels[name] = spec
        return channels

    def channel(self, name: str, body: object, key: str) -> ChannelSpec | None:
        table = self.table(body, key, f"[{key}]")
        if table is None:
            return None
        if "type" not in table:
            self.add(f"{key}.type", f"missing; set type = one of {', '.join(CHANNEL_TYPES)}")
            return None
        kind = self.check(_choice, table["type"], f"{key}.type", CHANNEL_TYPES)
        if kind is None:
            return None
        mark = len(self.problems)
        common = ACCEPTED_KEYS["channels.<name>"]
        own = ACCEPTED_KEYS[f"channels.<name>:{kind}"]
        for extra in table:
            if extra in common or extra in own:
                continue
            if extra in _REFUSED:
                env_key, file_key = _REFUSED[extra]
                advice = (
                    f"use {env_key} (the name of an environment variable) or {file_key} (a file holding it)"
                    if env_key in own
                    else f"{kind} channels take no {extra}"
                )
                self.add(_key(key, extra), f"secrets never go in config.toml; {advice}")
                continue
            owners = [t for t in CHANNEL_TYPES if extra in ACCEPTED_KEYS[f"channels.<name>:{t}"]]
            if owners:
                self.add(_key(key, extra), f"not a key of {kind} channels (it belongs to {owners[0]} channels)")
            else:
                self.unknown_keys({extra: None}, common + own, key)
        digest = self.optional(table, key, "digest", _digest_text, None)
        enabled = self.optional(table, key, "enabled", _bool, True)
        options = {"console": self.console, "webhook": self.webhook, "email": self.email}[kind](table, key)
        if len(self.problems) > mark:
            return None
        return ChannelSpec(name=name, type=kind, digest=digest, enabled=bool(enabled), options=options)

    def console(self, table: Mapping[str, object], key: str) -> dict[str, object]:
        return {"stream": self.optional(table, key, "stream", _choice, "stdout", ("stdout", "stderr"))}

    def webhook(self, table: Mapping[str, object], key: str) -> dict[str, object]:
        return {
            "url": self.required(table, key, "url", _http_url),
            "format": self.optional(table, key, "format", _choice, "json", WEBHOOK_FORMATS),
            "headers": self.optional(table, key, "headers", _headers, {}),
            "timeout": self.optional(table, key, "timeout", _duration, 15.0),
            "secret": self.secret(table, key, "secret", _webhook_secret),
        }

    def email(self, table: Mapping[str, object], key: str) -> dict[str, object]:
        security = self.optional(table, key, "security", _choice, "starttls", EMAIL_SECURITY)
        host = self.required(table, key, "host", _host)
        username = self.optional(table, key, "username", _line, None)
        password = self.secret(table, key, "password", _password)
        if username is not None and password is None and not self.has_secret_key(table, "password"):
            self.add(f"{key}.username", "needs password_env or password_file")
        if username is None and self.has_secret_key(table, "password"):
            which = "password_env" if "password_env" in table else "password_file"
            self.add(f"{key}.{which}", "only allowed together with username")
        if password is not None and security == "none" and host not in _LOCALHOSTS:
            self.add(
                f"{key}.security",
                '"none" would send the password unencrypted; use "starttls" or "ssl" '
                "(plain connections with a password are allowed to localhost only)",
            )
        to = self.required(table, key, "to", _recipients)
        return {
            "host": host,
            "port": self.optional(table, key, "port", _port, EMAIL_SECURITY.get(security or "", 587)),
            "security": security,
            "username": username,
            "password": password,
            "from": self.required(table, key, "from", _address),
            "to": to,
            "timeout": self.optional(table, key, "timeout", _duration, 30.0),
            "subject_prefix": self.optional(table, key, "subject_prefix", _subject_prefix, "[press-monitor]"),
        }

    # -- field access

    def required(
        self, table: Mapping[str, object], prefix: str, name: str, parse: Callable[..., T], *extra: Any
    ) -> T | None:
        if name not in table:
            self.add(_key(prefix, name), "missing (required)")
            return None
        return self.optional(table, prefix, name, parse, None, *extra)

    def optional(
        self, table: Mapping[str, object], prefix: str, name: str, parse: Callable[..., T], default: Any, *extra: Any
    ) -> Any:
        """Return the parsed value of table[name], `default` when absent, None when invalid."""
        if name not in table:
            return default
        return self.check(parse, table[name], _key(prefix, name), *extra)

    @staticmethod
    def has_secret_key(table: Mapping[str, object], stem: str) -> bool:
        return f"{stem}_env" in table or f"{stem}_file" in table

    def secret(
        self, table: Mapping[str, object], prefix: str, stem: str, validate: Callable[[str, str, str], str]
    ) -> Secret | None:
        """Return the secret named by <stem>_env or <stem>_file, or None when neither is set."""
        env_key, file_key = f"{stem}_env", f"{stem}_file"
        if env_key in table and file_key in table:
            self.add(_key(prefix, file_key), f"give {env_key} or {file_key}, not both")
            return None
        if env_key in table:
            key = _key(prefix, env_key)
            var = self.check(_slug, table[env_key], key, _ENV_NAME, "an environment variable name such as MY_SECRET")
            if var is None:
                return None
            if var not in self.environ:
                self.add(key, f"the environment variable {var} is not set")
                return None
            return self.check(lambda: Secret(validate(self.environ[var], key, f"${var}")))
        if file_key in table:
            key = _key(prefix, file_key)
            text = self.check(_line, table[file_key], key)
            if text is None:
                return None
            # systemd's LoadCredential= puts credentials in $CREDENTIALS_DIRECTORY; a bare name
            # there is how a unit file refers to them.
            cred_dir = self.environ.get("CREDENTIALS_DIRECTORY", "").strip()
            path = _local_path(text, Path(cred_dir) if cred_dir else self.base)
            try:
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
                self.add(key, f"cannot read {path}: {reason}")
                return None
            return self.check(lambda: Secret(validate(content, key, str(path))))
        return None


# --------------------------------------------------------------------------- field parsers used above


def _duration(value: object, key: str) -> float:
    return parse_duration(value, key=key)


def _timezone(value: object, key: str) -> str:
    name = _line(value, key)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hint = _did_you_mean(name, sorted(available_timezones()))
        raise ConfigError(f'{key}: {_q(name)} is not a known IANA time zone such as "Europe/Paris"{hint}') from None
    return name


def _regex(value: object, key: str) -> str:
    text = _string(value, key)
    try:
        re.compile(text)
    except re.error as exc:
        raise ConfigError(f"{key}: invalid regular expression: {exc}") from None
    return text


def _digest_text(value: object, key: str) -> str:
    """Return the digest schedule as written, normalized ("daily 8:30" -> "daily 08:30", 3600 -> "1h")."""
    schedule = parse_digest(value, key=key)
    if isinstance(schedule, dtime):
        return f"daily {schedule:%H:%M}"
    return value.strip() if isinstance(value, str) else format_duration(schedule)


def _headers(value: object, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f'{key}: expected a table of header names to values, e.g. {{ X-Team = "news" }}, '
                          f"got {_describe(value)}")
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, header_value in value.items():
        hkey = _key(key, name)
        if not _HEADER_NAME.fullmatch(name):
            raise ConfigError(f"{hkey}: {_q(name)} is not a valid HTTP header name")
        if name.lower() in _RESERVED_HEADERS:
            raise ConfigError(f"{hkey}: press-monitor sets this header itself")
        if name.lower() in seen:
            raise ConfigError(f"{hkey}: header given twice (names ignore case)")
        seen.add(name.lower())
        text = _line(header_value, hkey, allow_empty=True)
        # Authorization-like values are credentials: keep them out of every repr and log line.
        headers[name] = Secret(text) if _SENSITIVE_HEADER.search(name) else text
    return headers


def _webhook_secret(raw: str, key: str, source: str) -> str:
    secret = raw.strip()
    body = secret.removeprefix("whsec_")
    try:
        valid = secret.startswith("whsec_") and bool(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        # Never echo the value: a mistake here is often a real secret pasted into the wrong place.
        raise ConfigError(f'{key}: the secret in {source} must be "whsec_" followed by base64 (Standard Webhooks)')
    return secret


def _password(raw: str, key: str, source: str) -> str:
    # Files usually end with a newline the password does not contain; inner spaces are kept.
    password = raw.rstrip("\r\n")
    if not password:
        raise ConfigError(f"{key}: the password in {source} is empty")
    return password


def _host(value: object, key: str) -> str:
    host = _line(value, key)
    if "://" in host or "/" in host or " " in host:
        raise ConfigError(f'{key}: {_q(host)} is not a host name; write just the name, e.g. "smtp.example.com"')
    return host


def _port(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{key}: expected a port number from 1 to 65535, got {_describe(value)}")
    return value


def _recipients(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_address(value, key),)
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected an address or an array of addresses, got {_describe(value)}")
    if not value:
        raise ConfigError(f"{key}: give at least one address")
    return tuple(_address(item, f"{key}[{i}]") for i, item in enumerate(value, 1))


def _subject_prefix(value: object, key: str) -> str:
    return _line(value, key, allow_empty=True)
