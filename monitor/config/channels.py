"""[channels.NAME]: the common keys (type, digest, enabled) and the type's options, read from its
options dataclass in channel_options.py: TOML key, kind of value, default, whether it is required.

Secrets are only located here (a SecretRef: which $VAR, which file); channels.secrets reads them
when a channel is built to send, so commands that only read the archive never need them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from monitor.channel_options import OPTIONS, Opt, SecretRef, schema
from monitor.config.keys import ACCEPTED_KEYS, CHANNEL_TYPES
from monitor.config.problems import Problems
from monitor.config.units import digest, duration
from monitor.config.values import (
    ENV_NAME,
    SLUG,
    address,
    boolean,
    choice,
    headers,
    host,
    http_url,
    key_path,
    line,
    local_path,
    port,
    quote,
    recipients,
    slug,
    subject_prefix,
)
from monitor.types import ChannelSpec

# How each kind of option (Opt.kind) is checked; "secret" is handled by secret_ref().
PARSERS: Mapping[str, Callable[..., object]] = {
    "choice": choice,  # with the Opt's choices
    "line": line,
    "http_url": http_url,
    "headers": headers,
    "duration": duration,
    "host": host,
    "port": port,
    "address": address,
    "recipients": recipients,
    "subject_prefix": subject_prefix,
}

# Keys that would put a credential in config.toml: refused, with the keys to use instead.
_REFUSED = {"secret": ("secret_env", "secret_file"), "password": ("password_env", "password_file"),
            "urls": ("urls_env", "urls_file")}


def channels(p: Problems, value: object) -> dict[str, ChannelSpec]:
    """Return every valid [channels.NAME] by name."""
    table = p.table(value, "channels", "[channels.NAME] tables")
    out: dict[str, ChannelSpec] = {}
    for name, body in (table or {}).items():
        key = key_path("channels", name)
        if not SLUG.fullmatch(name):
            p.add(key, f"{quote(name)} is not a valid channel name; use a-z, 0-9, _ and -")
            continue
        spec = channel(p, name, body, key)
        if spec is not None:
            out[name] = spec
    return out


def channel(p: Problems, name: str, body: object, key: str) -> ChannelSpec | None:
    table = p.table(body, key, f"[{key}]")
    if table is None:
        return None
    if "type" not in table:
        p.add(f"{key}.type", f"missing; set type = one of {', '.join(CHANNEL_TYPES)}")
        return None
    kind = p.check(choice, table["type"], f"{key}.type", CHANNEL_TYPES)
    if kind is None:
        return None
    mark = len(p)
    common = ACCEPTED_KEYS["channels.<name>"]
    own = ACCEPTED_KEYS[f"channels.<name>:{kind}"]
    for extra in table:
        if extra in common or extra in own:
            continue
        if extra in _REFUSED:
            env_key, file_key = _REFUSED[extra]
            advice = (
                f"use {env_key} (the name of an environment variable) or {file_key} (a file holding it)"
                if env_key in own
                else f"{kind} channels take no {extra}"
            )
            p.add(key_path(key, extra), f"secrets never go in config.toml; {advice}")
            continue
        owners = [t for t in CHANNEL_TYPES if extra in ACCEPTED_KEYS[f"channels.<name>:{t}"]]
        if owners:
            p.add(key_path(key, extra), f"not a key of {kind} channels (it belongs to {owners[0]} channels)")
        else:
            p.unknown_keys({extra: None}, common + own, key)
    schedule = p.optional(table, key, "digest", digest, None)
    enabled = p.optional(table, key, "enabled", boolean, True)
    options = _options(p, OPTIONS[kind], table, key)
    if len(p) > mark or options is None:
        return None
    return ChannelSpec(name=name, type=kind, digest=schedule, enabled=bool(enabled), options=options)


def _options(p: Problems, cls: type[Any], table: Mapping[str, object], prefix: str) -> object | None:
    """Return an instance of the options class `cls` read from `table`, or None after recording problems."""
    mark = len(p)
    values: dict[str, object] = {}
    for f, o in schema(cls):
        name = o.key or f.name
        if o.kind == "secret":
            ref = _secret_ref(p, table, prefix, name, o)
            if ref is not None:
                values[f.name] = ref
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in table:
            if required:
                p.add(key_path(prefix, name), "missing (required)")
            continue
        extra = (o.choices,) if o.kind == "choice" else ()
        value = p.check(PARSERS[o.kind], table[name], key_path(prefix, name), *extra)
        if value is not None:
            values[f.name] = value
    if len(p) > mark:
        return None
    options = cls(**values)
    for field_key, problem in getattr(options, "problems", list)():
        p.add(key_path(prefix, field_key), problem)
    return None if len(p) > mark else options


def _secret_ref(p: Problems, table: Mapping[str, object], prefix: str, stem: str, o: Opt) -> SecretRef | None:
    """Return where the secret <stem>_env / <stem>_file lives (not its value), or None when neither is set."""
    env_key, file_key = f"{stem}_env", f"{stem}_file"
    if env_key in table and file_key in table:
        p.add(key_path(prefix, file_key), f"give {env_key} or {file_key}, not both")
        return None
    if env_key in table:
        key = key_path(prefix, env_key)
        var = p.check(slug, table[env_key], key, ENV_NAME, "an environment variable name such as MY_SECRET")
        return None if var is None else SecretRef(env=var, check=o.check, where=f"{p.file}: {key}")
    if file_key in table:
        key = key_path(prefix, file_key)
        text = p.check(line, table[file_key], key)
        if text is None:
            return None
        # systemd's LoadCredential= puts credentials in $CREDENTIALS_DIRECTORY; a bare name there is
        # how a unit file refers to them.
        cred_dir = p.environ.get("CREDENTIALS_DIRECTORY", "").strip()
        path = local_path(text, Path(cred_dir) if cred_dir else p.base)
        return SecretRef(file=path, check=o.check, where=f"{p.file}: {key}")
    return None
