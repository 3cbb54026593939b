"""Geometry for the small server-rendered SVG charts (bars per day); the templates draw them.

Pure: counts in, rectangles out. Days are UTC calendar days (the archive's own days). Every chart
counts releases by the day they were published, as the lists, facets and `rules` do.
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
    bad: bool = False  # a day the feed was failing, or a rule's spike (drawn in the alarm colour)


@dataclass(frozen=True)
class Tick:
    x: float  # the middle of its day's bar
    text: str  # "Nov 1"
    day: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int  # the bars' area; the day labels go below it (LABEL_HEIGHT)
    bars: tuple[Bar, ...]
    total: int
    peak: int
    first: str
    last: str
    label: str  # the chart's text alternative, e.g. "127 matches in 90 days, at most 9 a day"
    what: str = "releases"
    ticks: tuple[Tick, ...] = ()  # x-axis: the first of each month (or every week on a short chart)
    baseline: float | None = None  # a level to draw across (a rule's daily baseline), in counts a day
    baseline_y: float | None = None  # ... and where it falls in the bars' area


LABEL_HEIGHT = 14


def ticks_for(span: list[date], step: float) -> tuple[Tick, ...]:
    """Return x-axis ticks: each month's first day in the span, or every 7th day back from the last."""
    picked = [i for i, d in enumerate(span) if d.day == 1]
    if len(picked) < 2:
        picked = list(range(len(span) - 1, -1, -7))[::-1]
    return tuple(Tick(round((i + 0.5) * step, 2), f"{span[i]:%b} {span[i].day}", span[i].isoformat())
                 for i in picked)


def days_back(today: date, n: int) -> list[date]:
    """Return the n days ending with today, oldest first."""
    return [today - timedelta(days=n - 1 - i) for i in range(n)]


def daily_mean(counts: Mapping[str, int], before: date, days: int) -> float:
    """Return the mean count a day over the `days` days before `before` (a rule's spike baseline)."""
    return sum(int(counts.get((before - timedelta(days=i)).isoformat(), 0)) for i in range(1, days + 1)) / days


def bars(counts: Mapping[str, int], today: date, *, days: int = 90, width: int = 540, height: int = 80,
         what: str = "releases", bad_days: frozenset[str] = frozenset(), baseline: float | None = None) -> Chart:
    """Return a bar chart of counts per day (keys "YYYY-MM-DD") over the `days` days ending today;
    with `baseline`, a level line across it (the bars scale so that it fits)."""
    span = days_back(today, days)
    keys = [d.isoformat() for d in span]
    values = [int(counts.get(k, 0)) for k in keys]
    peak = max(values, default=0)
    top = max(peak, baseline or 0.0)
    step = width / days
    gap = 1.0 if step >= 3 else 0.0
    out = []
    for i, (k, n) in enumerate(zip(keys, values, strict=True)):
        h = 0.0 if top == 0 else max(1.0, (height - 2) * n / top) if n else 0.0
        bad = k in bad_days
        if bad and h == 0:
            h = height - 2  # a failing day with nothing carried still shows
        out.append(Bar(round(i * step, 2), round(height - h, 2), round(max(step - gap, 0.5), 2), round(h, 2), k, n,
                       bad))
    total = sum(values)
    label = f"{total} {what} published in {days} days, at most {peak} a day"
    level = None
    if baseline is not None:
        level = round(height - (height - 2) * baseline / top, 2) if top else float(height)
        label += f", baseline {baseline:.2g} a day"
    return Chart(width, height, tuple(out), total, peak, keys[0], keys[-1], label, what, ticks_for(span, step),
                 baseline, level)
