"""[[feeds]] and [terms]."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.config.keys import ACCEPTED_KEYS
from monitor.config.problems import Problems
from monitor.config.units import duration, format_duration
from monitor.config.values import (
    TERM_NAME,
    boolean,
    feed_url,
    field_defaults,
    key_path,
    line,
    quote,
    str_list,
    url_identity,
)
from monitor.types import Feed, Settings


def feeds(p: Problems, data: Mapping[str, object], settings: Settings | None) -> tuple[tuple[Feed, ...], set[str]]:
    """Return the valid [[feeds]], and the names of every feed that has a usable name."""
    # Names of every feed that has a usable name, valid or not, so that a rule naming a feed
    # with a bad URL reports the URL, not a misleading "no such feed".
    feed_names: set[str] = set()
    poll_interval = settings.poll_interval if settings else field_defaults(Settings)["poll_interval"]
    feeds: list[Feed] = []
    names: dict[str, str] = {}  # lower-cased name -> key path of its first use
    urls: dict[str, str] = {}
    for key, table in p.array_of_tables(data, "feeds"):
        p.unknown_keys(table, ACCEPTED_KEYS["feeds[]"], key)
        mark = len(p)
        name = p.required(table, key, "name", line)
        if name is not None:
            feed_names.add(name)
            if name.lower() in names:
                p.add(
                    f"{key}.name",
                    f"{quote(name)} is already the name of {names[name.lower()]} (feed names ignore case)",
                )
            names.setdefault(name.lower(), key)
        url = p.required(table, key, "url", lambda v, k: feed_url(v, k, p.base))
        if url is not None:
            ident = url_identity(url)
            if ident in urls:
                p.add(f"{key}.url", f"{quote(url)} is already the URL of {urls[ident]}")
            urls.setdefault(ident, key)
        interval = p.optional(table, key, "interval", duration, poll_interval)
        enabled = p.optional(table, key, "enabled", boolean, True)
        adaptive = p.optional(table, key, "adaptive", boolean, False)
        min_interval = p.optional(table, key, "min_interval", duration, None)
        full_text = p.optional(table, key, "full_text", boolean, None)
        if interval is not None and min_interval is not None and min_interval > interval:
            p.add(
                f"{key}.min_interval",
                f"{format_duration(min_interval)} is longer than interval ({format_duration(interval)})",
            )
        if len(p) > mark:
            continue
        assert name is not None and url is not None and interval is not None
        if min_interval is None and adaptive:
            min_interval = interval / 4
        feeds.append(
            Feed(
                name=name,
                url=url,
                interval=interval,
                enabled=bool(enabled),
                adaptive=bool(adaptive),
                min_interval=min_interval,
                # Local files are samples and tests: their links point nowhere worth fetching.
                full_text=bool(full_text) if full_text is not None else url.startswith(("http://", "https://")),
            )
        )
    return tuple(feeds), feed_names


def terms(p: Problems, value: object) -> dict[str, tuple[str, ...]]:
    """Return [terms]: named word lists that rules use as @name."""
    table = p.table(value, "terms", "[terms]")
    terms: dict[str, tuple[str, ...]] = {}
    for name, items in (table or {}).items():
        key = key_path("terms", name)
        if not TERM_NAME.fullmatch(name):
            p.add(key, f"{quote(name)} is not a valid term list name; use a-z, 0-9, _ and -")
            continue
        words = p.check(str_list, items, key)
        if words is not None and not words:
            p.add(key, "the list is empty; give at least one term")
        elif words is not None:
            terms[name] = words
    return terms
