"""`--since` / `--until` values: a date, a timestamp, `today`, `yesterday`, or a span back from now.

Pure: the caller passes `now`. Everything a user can type ends as a UTC datetime inside the range
the archive's timestamps can hold (years 1970..9999), or as a one-line BadParameter naming it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from monitor.config.units import UNITS_HELP, span_seconds

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_AGO = re.compile(r"\s*ago$")
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
    try:
        seconds = span_seconds(_AGO.sub("", text))  # the durations config.toml takes, "ago" allowed
    except ValueError as exc:
        if exc.args:
            raise click.BadParameter(f"{value!r}: unknown unit {exc.args[0]!r} (use {UNITS_HELP})") from None
        raise click.BadParameter(f"{value!r} is not {HELP}") from None
    try:
        return max(EARLIEST, now - timedelta(seconds=seconds))
    except OverflowError:  # a span longer than the calendar: since the beginning
        return EARLIEST


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
