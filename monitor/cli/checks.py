"""What `check` finds beyond the loader: every rule problem at once, and warnings that are not errors.

The loader (monitor.config) reports every config problem together; rules compile separately
(monitor.rules stops at the first bad rule, since the daemon only needs to know that one is bad).
Here each rule is compiled on its own so `check` can list them all, even when the config itself
has problems (the rules are then read from the raw TOML).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from monitor.errors import ConfigError, QueryError
from monitor.rules import compile_rules
from monitor.types import Config, RuleSpec


def raw_rules(path: Path) -> tuple[tuple[RuleSpec, ...], dict[str, tuple[str, ...]]]:
    """Return the rules and term lists as written, when the config as a whole does not load."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return (), {}  # the loader has said why already
    terms_raw = data.get("terms")
    terms = {str(k): tuple(str(x) for x in v) for k, v in terms_raw.items() if isinstance(v, list)} \
        if isinstance(terms_raw, dict) else {}
    specs = []
    rules_raw = data.get("rules")
    for entry in rules_raw if isinstance(rules_raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("query"), str):
            regex = entry.get("regex")
            specs.append(RuleSpec(name=str(entry.get("name", "")), query=entry["query"],
                                  regex=regex if isinstance(regex, str) else None))
        else:
            specs.append(RuleSpec(name=str(entry.get("name", "")) if isinstance(entry, dict) else "", query="x"))
    return tuple(specs), terms


def rule_problems(specs: Sequence[RuleSpec], terms: Mapping[str, Sequence[str]], *, source: str) -> list[str]:
    """Return one line per bad term list or rule (all of them, in file order)."""
    problems: list[str] = []
    try:
        compile_rules([], terms, source=source)
    except (ConfigError, QueryError) as exc:
        problems.append(str(exc))
        return problems  # every rule using the terms would fail for the same reason
    for i, spec in enumerate(specs):
        try:
            compile_rules([spec], terms, source=source)
        except (ConfigError, QueryError) as exc:
            # compile_rules saw a list of one: put the rule's real position back into the message.
            problems.append(str(exc).replace(f"{source}: rules[1]", f"{source}: rules[{i + 1}]", 1))
        except RecursionError:
            problems.append(f'{source}: rules[{i + 1}] "{spec.name}": query: nested too deeply')
    if not problems:
        try:
            compile_rules(specs, terms, source=source)  # what only the whole list shows: duplicate names
        except (ConfigError, QueryError) as exc:
            problems.append(str(exc))
    return problems


def warnings(cfg: Config) -> list[str]:
    """Return what works but is probably a mistake: missing local feed files, rules that alert nobody."""
    out: list[str] = []
    for i, feed in enumerate(cfg.feeds):
        parsed = urlparse(feed.url)
        if feed.enabled and parsed.scheme == "file":
            local = Path(unquote(parsed.path))
            if not local.exists():
                out.append(f'{cfg.path.name}: feeds[{i + 1}] "{feed.name}": no such file {local} (yet?); '
                           f"polling it will fail until it exists")
    for i, rule in enumerate(cfg.rules):
        if not rule.enabled:
            continue
        live = [c for c in rule.notify if c in cfg.channels and cfg.channels[c].enabled]
        if not live:
            why = "it has no notify list" if not rule.notify else f"its channels are disabled: {', '.join(rule.notify)}"
            out.append(f'{cfg.path.name}: rules[{i + 1}] "{rule.name}" alerts no channel ({why}); '
                       f"its matches are only archived")
    return out
