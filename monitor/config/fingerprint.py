"""A short hash of what decides a node's work: the feeds, the [terms] lists and the rules.

Nodes sharing one archive must run the same config, or one node alerts on a rule the others do not
know and a feed is polled only while its node holds it. Each node records this hash in `nodes`;
`status`, `/healthz` and the daemon itself report nodes whose hashes differ. Settings and channels are
left out on purpose: channels carry secrets (a hash of a password is still a way to test guesses), and
settings such as the log level or a database URL legitimately differ between hosts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import astuple

from monitor.types import Config

# Bump when the hashed form changes, so nodes of two versions never compare hashes of different forms.
_FORM = 1


def config_hash(config: Config) -> str:
    """Return 12 hex digits of a SHA-256 over the feeds, terms and rules, in a canonical form.

    Order matters only where it changes behaviour: feeds and rules are sorted by name (moving an entry
    in config.toml changes nothing), a term list keeps its order (it is what the user wrote)."""
    canonical = {
        "form": _FORM,
        "feeds": sorted(_text(astuple(f)) for f in config.feeds),
        "terms": sorted(_text([name, list(words)]) for name, words in config.terms.items()),
        "rules": sorted(_text(astuple(r)) for r in config.rules),
    }
    text = _text(canonical)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def _text(value: object) -> str:
    # Entries are compared as their JSON text: fields of mixed types (None next to a number) never meet
    # Python's ordering, and two entries of the same name still sort the same way every time.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=repr)
