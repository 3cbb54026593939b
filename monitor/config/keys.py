"""Every key the loader accepts, by section: the unknown-key checks read this very table, and a
test checks that README.md documents every entry, so the three cannot drift apart.

"channels.<name>" holds the keys every channel takes; "channels.<name>:<type>" the extra ones, read
from the type's options dataclass (channel_options.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.channel_options import OPTIONS, toml_keys

CHANNEL_TYPES: tuple[str, ...] = tuple(OPTIONS)

ACCEPTED_KEYS: Mapping[str, tuple[str, ...]] = {
    "": ("monitor", "feeds", "terms", "rules", "channels"),
    "monitor": (
        "database",
        "database_env",
        "user_agent",
        "poll_interval",
        "timeout",
        "max_feed_bytes",
        "alert_max_age",
        "log_level",
        "timezone",
        "retention",
        "full_text_max_age",
        "max_page_bytes",
        "page_delay",
        "allow_private_networks",
        "display_timezone",
        "lease",
    ),
    "feeds[]": ("name", "url", "interval", "enabled", "adaptive", "min_interval", "full_text"),
    "terms": ("<name>",),
    "rules[]": ("name", "query", "notify", "feeds", "regex", "enabled", "once_per", "spike"),
    "rules[].spike": ("factor", "min", "window"),
    "channels.<name>": ("type", "digest", "enabled"),
    **{f"channels.<name>:{kind}": toml_keys(cls) for kind, cls in OPTIONS.items()},
}
