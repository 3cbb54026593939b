"""Durations, sizes and digest schedules as config.toml writes them ("1h30m", "15MB", "daily 08:30")."""

from __future__ import annotations

import math
import re
from datetime import time as dtime

from monitor.config.values import describe, quote
from monitor.errors import ConfigError
from monitor.types import Digest

MIN_DIGEST = 60.0
# timedelta (and so APScheduler) overflows near 10**9 days; nobody means more than a century.
MAX_DURATION = 36500 * 86400.0
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*[A-Za-z]+\s*)+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)")
# The one duration grammar: config.toml ("2 days", "1h30m") and the CLI's --since/--until spans
# ("2 weeks ago") read the same units. A month is 30 days and a year 365: spans, not calendar dates.
DURATION_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * 86400),
    **dict.fromkeys(("mo", "month", "months"), 30 * 86400),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), 365 * 86400),
}
UNITS_HELP = "s, m, h, d, w, mo, y or words: seconds, minutes, hours, days, weeks, months, years"
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


def parse_duration(value: object, *, key: str) -> float:
    """Return seconds (> 0) from "30s", "5m", "2h", "1d", "1w", "1h30m", "2 days" or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(
            f'{key}: expected a duration such as "5m" or "1h30m" or a number of seconds, '
            f"got {describe(value)}"
        )
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            raise ConfigError(
                f'{key}: {quote(value)} has no unit; write "{text}s" for seconds (or "{text}m", "{text}h")'
            )
        try:
            seconds = span_seconds(text)
        except ValueError as exc:
            why = (f"unknown unit {quote(exc.args[0])} (use {UNITS_HELP})" if exc.args
                   else 'is not a duration; write e.g. "30s", "5m", "2 days", "1h30m"')
            raise ConfigError(f"{key}: {quote(value)}{':' if exc.args else ''} {why}") from None
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{key}: a duration must be more than zero, got {describe(value)}")
    if seconds > MAX_DURATION:
        raise ConfigError(f"{key}: {describe(value)} is longer than the 36500d this accepts")
    return seconds


def span_seconds(text: str) -> float:
    """Return the seconds of "1h30m", "2 days", "1 week 3d", "6mo" (number+unit parts, any case).

    Raises ValueError(unit) for an unknown unit, ValueError() for text that is no such span.
    """
    if not _DURATION.fullmatch(text.strip()):
        raise ValueError
    seconds = 0.0
    for number, unit in _DURATION_PART.findall(text):
        factor = DURATION_UNITS.get(unit.lower())
        if factor is None:
            raise ValueError(unit)
        seconds += float(number) * factor
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
        raise ConfigError(f'{key}: expected a size such as "15MB" or a number of bytes, got {describe(value)}')
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if not match:
            raise ConfigError(f'{key}: {quote(value)} is not a size; write e.g. "512KB", "15MB", "1GB"')
        number, unit = match.groups()
        if not unit:
            raise ConfigError(f'{key}: {quote(value)} has no unit; write "{number}B" for bytes or e.g. "{number}MB"')
        factor = _SIZE_UNITS.get(unit.lower())
        if factor is None:
            raise ConfigError(f"{key}: {quote(value)}: unknown unit {quote(unit)} (use B, KB, MB, GB, KiB, MiB, GiB)")
        size = float(number) * factor
    elif isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{key}: a number of bytes must be whole, got {describe(value)}")
    else:
        size = float(value)
    if not math.isfinite(size) or size < 1:
        raise ConfigError(f"{key}: a size must be at least 1 byte, got {describe(value)}")
    return int(round(size))


def parse_digest(value: object, *, key: str) -> float | dtime:
    """Return a digest schedule: seconds between digests (>= 60) or the time of day of "daily HH:MM"."""
    if isinstance(value, str):
        daily = _DAILY.fullmatch(value.strip())
        if daily:
            hour, minute = int(daily[1]), int(daily[2])
            if hour > 23 or minute > 59:
                raise ConfigError(f"{key}: {quote(value)} is not a time of day (00:00 to 23:59)")
            return dtime(hour, minute)
        if value.strip().lower().startswith("daily"):
            raise ConfigError(f'{key}: {quote(value)}: write "daily HH:MM", e.g. "daily 08:30" (24-hour clock)')
    try:
        seconds = parse_duration(value, key=key)
    except ConfigError:
        raise ConfigError(
            f'{key}: expected a duration such as "1h" or "daily HH:MM", got {describe(value)}'
        ) from None
    if seconds < MIN_DIGEST:
        raise ConfigError(f"{key}: a digest interval must be at least 1m, got {describe(value)}")
    return seconds


def duration(value: object, key: str) -> float:
    return parse_duration(value, key=key)


def digest(value: object, key: str) -> Digest:
    """Return the parsed digest schedule, its text normalized ("daily 8:30" -> "daily 08:30", 3600 -> "1h")."""
    schedule = parse_digest(value, key=key)
    if isinstance(schedule, dtime):
        return Digest(f"daily {schedule:%H:%M}", at=schedule)
    text = value.strip() if isinstance(value, str) else format_duration(schedule)
    return Digest(text, every=schedule)
