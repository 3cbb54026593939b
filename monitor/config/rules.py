"""[[rules]] as written (RuleSpec); rules.compile_rules() compiles the queries."""

from __future__ import annotations

import math
from collections.abc import Mapping

from monitor.config.keys import ACCEPTED_KEYS
from monitor.config.problems import Problems
from monitor.config.units import parse_duration
from monitor.config.values import SLUG, boolean, choice, describe, did_you_mean, quote, regex, slug, str_list, string
from monitor.errors import ConfigError
from monitor.types import RuleSpec, SpikeSpec

# A window longer than the baseline period would compare a window with less than itself.
SPIKE_WINDOW_MAX = 7 * 86400.0

# once_per: "story" alerts a rule once for all near-copies of a release (monitor/stories.py); "release"
# alerts for every copy that is its own release, as before stories.
ONCE_PER = ("story", "release")


def rules(
    p: Problems, data: Mapping[str, object], feed_names: set[str], channel_names: set[str]
) -> tuple[RuleSpec, ...]:
    """Return the valid [[rules]]; `notify` and `feeds` must name configured channels and feeds."""
    rules: list[RuleSpec] = []
    names: dict[str, str] = {}
    for key, table in p.array_of_tables(data, "rules"):
        p.unknown_keys(table, ACCEPTED_KEYS["rules[]"], key)
        mark = len(p)
        name = p.required(table, key, "name", slug, SLUG, "a-z, 0-9, _ and - (starting with a-z or 0-9)")
        if name is not None:
            if name in names:
                p.add(f"{key}.name", f"{quote(name)} is already the name of {names[name]}")
            names.setdefault(name, key)
        query = p.required(table, key, "query", string)
        notify = p.optional(table, key, "notify", str_list, ())
        for i, channel in enumerate(notify or (), 1):
            if channel not in channel_names:
                where = did_you_mean(channel, channel_names) if channel_names else " ([channels] is empty)"
                p.add(f"{key}.notify[{i}]", f"no channel named {quote(channel)} in [channels]{where}")
        feeds = p.optional(table, key, "feeds", str_list, ())
        for i, feed in enumerate(feeds or (), 1):
            if feed not in feed_names:
                where = did_you_mean(feed, feed_names) if feed_names else " ([[feeds]] is empty)"
                p.add(f"{key}.feeds[{i}]", f"no feed named {quote(feed)} in [[feeds]]{where}")
        pattern = p.optional(table, key, "regex", regex, None)
        enabled = p.optional(table, key, "enabled", boolean, True)
        spike_spec = _spike(p, table, key)
        once_per = p.optional(table, key, "once_per", choice, "story", ONCE_PER)
        if len(p) > mark:
            continue
        assert name is not None and query is not None
        rules.append(
            RuleSpec(
                name=name,
                query=query.strip(),
                notify=tuple(dict.fromkeys(notify or ())),
                feeds=tuple(dict.fromkeys(feeds or ())),
                regex=pattern,
                enabled=bool(enabled),
                spike=spike_spec,
                once_per=once_per or "story",
            )
        )
    return tuple(rules)


def _spike(p: Problems, table: Mapping[str, object], key: str) -> SpikeSpec | None:
    """Return the rule's `spike = { factor = 3, min = 5, window = "1d" }`, None when absent (or invalid)."""
    if "spike" not in table:
        return None
    where = f"{key}.spike"
    value = p.table(table["spike"], where, 'e.g. spike = { factor = 3, min = 5, window = "1d" }')
    if value is None:
        return None
    mark = len(p)
    p.unknown_keys(value, ACCEPTED_KEYS["rules[].spike"], where)
    factor = p.optional(value, where, "factor", _factor, 3.0)
    least = p.optional(value, where, "min", _min_count, 5)
    window = p.optional(value, where, "window", _window, 86400.0)
    if len(p) > mark:
        return None
    return SpikeSpec(factor=float(factor), min=int(least), window=float(window))


def _factor(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 1:
        raise ConfigError(f"{key}: expected a number of at least 1 (how many times the baseline), "
                          f"got {describe(value)}")
    return float(value)


def _min_count(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: expected a whole number of matches, at least 1, got {describe(value)}")
    return value


def _window(value: object, key: str) -> float:
    seconds = parse_duration(value, key=key)
    if seconds < 3600 or seconds > SPIKE_WINDOW_MAX:
        raise ConfigError(f'{key}: the window must be between "1h" and "7d", got {describe(value)}')
    return seconds
