"""Geometry for the small server-rendered SVG charts (bars per day); the templates draw them.

Pure: counts in, rectangles out. Days are UTC calendar days (the archive's own days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    day: str
    n: int
    bad: bool = False  # a day the feed was failing (drawn in the alarm colour)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    total: int
    peak: int
    first: str
    last: str
    label: str  # the chart's text alternative, e.g. "127 matches in 90 days, at most 9 a day"


def days_back(today: date, n: int) -> list[date]:
    """Return the n days ending with today, oldest first."""
    return [today - timedelta(days=n - 1 - i) for i in range(n)]


def bars(counts: Mapping[str, int], today: date, *, days: int = 90, width: int = 540, height: int = 80,
         what: str = "releases", bad_days: frozenset[str] = frozenset()) -> Chart:
    """Return a bar chart of counts per day (keys "YYYY-MM-DD") over the `days` days ending today."""
    span = days_back(today, days)
    keys = [d.isoformat() for d in span]
    values = [int(counts.get(k, 0)) for k in keys]
    peak = max(values, default=0)
    step = width / days
    gap = 1.0 if step >= 3 else 0.0
    out = []
    for i, (k, n) in enumerate(zip(keys, values, strict=True)):
        h = 0.0 if peak == 0 else max(1.0, (height - 2) * n / peak) if n else 0.0
        bad = k in bad_days
        if bad and h == 0:
            h = height - 2  # a failing day with nothing carried still shows
        out.append(Bar(round(i * step, 2), round(height - h, 2), round(max(step - gap, 0.5), 2), round(h, 2), k, n,
                       bad))
    total = sum(values)
    label = f"{total} {what} in {days} days, at most {peak} a day"
    return Chart(width, height, tuple(out), total, peak, keys[0], keys[-1], label)
