"""The only place that reads the wall clock.

Pure functions take `now`; orchestrators take a Clock. Tests use ManualClock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current UTC-aware time."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never goes backwards (for deadlines)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (tests, benchmarks, replays)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        self._mono += max(0.0, (when - self._now).total_seconds())
        self._now = when


def iso(when: datetime | None) -> str | None:
    """Return a time as every JSON output writes it (API, `search --json`, `status --json`): ISO 8601 UTC, "…Z"."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None
