"""`--since` / `--until` values: a date, a timestamp, `today`, `yesterday`, or a span back from now.

Pure: the caller passes `now`. Everything a user can type ends as a UTC datetime inside the range
the archive's timestamps can hold (years 1970..9999), or as a one-line BadParameter naming it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,  # 30 days: "since" needs no calendar precision
    "y": 31536000, "yr": 31536000, "year": 31536000, "years": 31536000,  # 365 days
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_SPAN = re.compile(r"^(?:\d+(?:\.\d+)?\s*[a-z]+\s*)+(?:ago)?$")
HELP = "a date (2024-05-01), today, yesterday, or a span back from now (30d, 2w, '3 days')"


def parse_when(value: str | None, now: datetime) -> datetime | None:
    """Return the UTC time `value` names, clamped to the archive's range; None for an empty value."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return midnight
    if text == "yesterday":
        return midnight - timedelta(days=1)
    if text == "now":
        return now
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        pass
    else:
        return _clamp_utc(when)
    if _SPAN.match(text):
        seconds = 0.0
        for number, unit in _PART.findall(text.removesuffix("ago")):
            if unit not in _UNITS:
                raise click.BadParameter(f"{value!r}: unknown unit {unit!r} ({HELP})")
            seconds += float(number) * _UNITS[unit]
        try:
            return max(EARLIEST, now - timedelta(seconds=seconds))
        except OverflowError:  # a span longer than the calendar: since the beginning
            return EARLIEST
    raise click.BadParameter(f"{value!r} is not {HELP}")


def _clamp_utc(when: datetime) -> datetime:
    """Return `when` in UTC (naive means UTC), held inside EARLIEST..LATEST instead of overflowing."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        offset = when.utcoffset() or timedelta(0)
        return LATEST if offset < timedelta(0) else EARLIEST
    return min(max(when, EARLIEST), LATEST)
