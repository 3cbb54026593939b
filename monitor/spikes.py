"""Spike alerts: when does a rule's match count jump far enough above its usual level to say so.

Pure decision logic (layer 2): the counts come from the store (`store.spike_counts`), the call from
the pipeline after each commit that added matches for a rule with `spike = {...}` (pipeline.py).

    window    the last `window` (default 1 day) ending now
    count     the rule's matches among releases published in the window
    baseline  the rule's matches published in the BASELINE_DAYS days before the window, as a daily
              mean, scaled to the window: 28 matches over 14 days is a baseline of 2 per 1-day window
    fires     count >= min AND count >= factor x baseline, and no spike of this rule was recorded in
              the last `window` (at most one per rule per window)

Counted by publication date, as every chart and the rules page count: importing a feed's backlog
(old releases matched today) must not look like a spike. With no history the baseline is 0, so the
first `min` matches in a window alert: a topic that was silent and now is not is what a spike means.
A spike is checked only when matches inside the window are added (nothing else can raise the
count); a baseline that falls as its days age out does not raise an alert on its own until the
rule's next match in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.types import Spike, SpikeSpec

BASELINE_DAYS = 14
DAY = 86400.0


@dataclass(frozen=True)
class Span:
    """The periods one check counts: [base_start, start) is the baseline, [start, end] the window."""

    base_start: datetime
    start: datetime
    end: datetime


def span(spec: SpikeSpec, now: datetime) -> Span:
    start = now - timedelta(seconds=spec.window)
    return Span(start - timedelta(days=BASELINE_DAYS), start, now)


def baseline(base_count: int, spec: SpikeSpec) -> float:
    """Return the matches expected in one window: the baseline period's daily mean x the window in days."""
    return base_count / BASELINE_DAYS * (spec.window / DAY)


def decide(rule: str, spec: SpikeSpec, when: Span, count: int, base_count: int,
           last_spike: datetime | None) -> Spike | None:
    """Return the Spike to alert about, or None (below `min`, below factor x baseline, or one already
    recorded for this rule within the window)."""
    if last_spike is not None and last_spike > when.end - timedelta(seconds=spec.window):
        return None
    expected = baseline(base_count, spec)
    if count < spec.min or count < spec.factor * expected:
        return None
    return Spike(rule=rule, start=when.start, end=when.end, count=count, baseline=round(expected, 3),
                 factor=spec.factor, min=spec.min)
