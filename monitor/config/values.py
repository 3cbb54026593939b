"""The checks of single values: each returns the value parsed or raises ConfigError("<key>: <problem>").

The loader prefixes the file name. `quote` and `describe` write the value back the way the user
wrote it, so every message says what was found as well as what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from datetime import time as dtime
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from monitor.channel_options import SENSITIVE_HEADER
from monitor.errors import ConfigError
from monitor.saferegex import RegexError, compile_regex
from monitor.types import Secret

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
TERM_NAME = re.compile(r"[a-z0-9_-]+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
# Headers press-monitor sets itself; overriding them would break signatures or framing.
_RESERVED_HEADERS = {
    "webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length", "host"
}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def quote(text: str) -> str:
    """Return `text` quoted for a message, shortened when long."""
    if len(text) > 80:
        text = text[:77] + "..."
    return json.dumps(text, ensure_ascii=False)


def describe(value: object) -> str:
    """Return a TOML value and its TOML type, for 'got ...' in messages."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    if isinstance(value, int):
        return f"{value} (integer)"
    if isinstance(value, float):
        return f"{value:g} (float)"
    if isinstance(value, str):
        return f"{quote(value)} (string)"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | dtime):
        return f"{value.isoformat()} (date/time)"
    return type(value).__name__


def key_path(prefix: str, name: str) -> str:
    """Return the dotted key path prefix.name, quoting `name` as TOML would when it needs it."""
    part = name if BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)
    return f"{prefix}.{part}" if prefix else part


def string(value: object, key: str, *, what: str = "a string", allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected {what}, got {describe(value)}")
    if not allow_empty and not value.strip():
        raise ConfigError(f"{key}: must not be empty")
    return value


def line(value: object, key: str, *, allow_empty: bool = False) -> str:
    """Return a one-line string, stripped (names, header values, addresses: no control characters)."""
    text = string(value, key, allow_empty=allow_empty).strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"{key}: {quote(text)} contains a control character (newline, tab, ...)")
    return text


def boolean(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        hint = " (write true or false without quotes)" if value in ("true", "false") else ""
        raise ConfigError(f"{key}: expected true or false, got {describe(value)}{hint}")
    return value


def choice(value: object, key: str, choices: tuple[str, ...] | Mapping[str, object], *, upper: bool = False) -> str:
    written = line(value, key)
    text = written.upper() if upper else written.lower()
    if text not in choices:
        allowed = ", ".join(f'"{c}"' for c in choices)
        raise ConfigError(f"{key}: {quote(written)} is not one of {allowed}{did_you_mean(text, choices)}")
    return text


def str_list(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f'{key}: expected an array of strings such as ["a", "b"], got {describe(value)}')
    return tuple(line(item, f"{key}[{i}]") for i, item in enumerate(value, 1))


def slug(value: object, key: str, pattern: re.Pattern[str], what: str) -> str:
    text = line(value, key)
    if not pattern.fullmatch(text):
        raise ConfigError(f"{key}: {quote(text)} is not a valid name; use {what}")
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def local_path(text: str, base: Path) -> Path:
    """Return `text` as an absolute path: ~ expanded, relative paths joined to `base`."""
    path = Path(text).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def http_url(value: object, key: str) -> str:
    text = line(value, key)
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise ConfigError(f"{key}: {quote(text)} is not an http(s) URL")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port such as :99999 or :abc
    except ValueError:
        raise ConfigError(f"{key}: {quote(text)} has an invalid port") from None
    return text


def feed_url(value: object, key: str, base: Path) -> str:
    """Return an http(s) URL as written, or a file:///abs URL for a file: URL or a local path."""
    text = line(value, key)
    scheme = _SCHEME.match(text)
    if scheme and scheme[1].lower() in ("http", "https"):
        try:
            return http_url(text, key)
        except ConfigError:
            raise ConfigError(f"{key}: {quote(text)} is not an http(s) or file URL") from None
    if scheme and scheme[1].lower() == "file":
        rest = text[len(scheme[0]) :]
        if rest.startswith("//"):
            parts = urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise ConfigError(f"{key}: {quote(text)}: file URLs must name a local file (no host)")
            rest = parts.path
        if not unquote(rest).strip():
            raise ConfigError(f"{key}: {quote(text)} names no file")
        return local_path(unquote(rest), base).as_uri()
    if scheme:  # "htp://x", "ftp://x", "localhost:8080/x": a scheme we do not fetch
        raise ConfigError(f"{key}: {quote(text)} is not an http(s) or file URL")
    # No scheme: a file path. "example.com/feed" is far more likely a URL missing "https://"
    # than a folder named like a host, so refuse it unless such a file really exists.
    path = local_path(text, base)
    first = text.split("/", 1)[0]
    if "." in first.strip(".") and ("/" in text or first.startswith("www.")) and not path.exists():
        raise ConfigError(
            f'{key}: {quote(text)} has no scheme; write "https://{text}" for a web feed or "./{text}" for a file'
        )
    return path.as_uri()


def url_identity(url: str) -> str:
    """Return `url` with scheme and host lower-cased, for spotting the same feed listed twice."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def address(value: object, key: str) -> str:
    text = line(value, key)
    _name, address = parseaddr(text)
    if not _ADDRESS.fullmatch(address):
        raise ConfigError(f'{key}: {quote(text)} is not an email address (e.g. "alerts@example.com")')
    return text


def field_defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def timezone(value: object, key: str) -> str:
    name = line(value, key)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(name, sorted(available_timezones()))
        raise ConfigError(f'{key}: {quote(name)} is not a known IANA time zone such as "Europe/Paris"{hint}') from None
    return name


def regex(value: object, key: str) -> str:
    text = string(value, key)
    try:
        compile_regex(text)
    except RegexError as exc:
        raise ConfigError(f"{key}: invalid regular expression: {exc}") from None
    return text



def headers(value: object, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f'{key}: expected a table of header names to values, e.g. {{ X-Team = "news" }}, '
                          f"got {describe(value)}")
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, header_value in value.items():
        hkey = key_path(key, name)
        if not _HEADER_NAME.fullmatch(name):
            raise ConfigError(f"{hkey}: {quote(name)} is not a valid HTTP header name")
        if name.lower() in _RESERVED_HEADERS:
            raise ConfigError(f"{hkey}: press-monitor sets this header itself")
        if name.lower() in seen:
            raise ConfigError(f"{hkey}: header given twice (names ignore case)")
        seen.add(name.lower())
        text = line(header_value, hkey, allow_empty=True)
        # Authorization-like values are credentials: keep them out of every repr and log line.
        headers[name] = Secret(text) if SENSITIVE_HEADER.search(name) else text
    return headers



def host(value: object, key: str) -> str:
    host = line(value, key)
    if "://" in host or "/" in host or " " in host:
        raise ConfigError(f'{key}: {quote(host)} is not a host name; write just the name, e.g. "smtp.example.com"')
    return host


def port(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{key}: expected a port number from 1 to 65535, got {describe(value)}")
    return value


def recipients(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (address(value, key),)
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected an address or an array of addresses, got {describe(value)}")
    if not value:
        raise ConfigError(f"{key}: give at least one address")
    return tuple(address(item, f"{key}[{i}]") for i, item in enumerate(value, 1))


def subject_prefix(value: object, key: str) -> str:
    return line(value, key, allow_empty=True)
