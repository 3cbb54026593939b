"""Retry-After, read one way for every caller: feeds, release pages, webhooks, the scheduler, the outbox.

    retry_after("120", now) -> 120.0      retry_after("Fri, 04 Dec 2026 16:00:00 GMT", now) -> seconds
    retry_after("²", now) -> None         retry_after("99999999999999999999", now) -> MAX_RETRY_AFTER

A value beyond MAX_RETRY_AFTER is clamped to it: a server cannot park a feed or a channel for
years, and a huge value ("99999999999999999999", a date in year 9999) never reaches a timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 24 * 3600.0
_SECONDS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which float() refuses


def retry_after(value: str | None, now: datetime) -> float | None:
    """Return Retry-After (delay-seconds or HTTP-date, relative to `now`) as seconds within
    [0, MAX_RETRY_AFTER]; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT by definition
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)

