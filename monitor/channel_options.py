"""Each channel type's options: one frozen dataclass per type, the schema everything else reads.

    WebhookOptions(url="https://hooks.example/x", secret=SecretRef(env="HOOK", ...))

The loader (config/channels.py) reads the TOML keys, the kind of value and the defaults from these
fields, validates once and hands the channel builder (channels/__init__.py) a typed value; channels
never re-check. ACCEPTED_KEYS (and so the README check) is derived from the same fields, and the
fields marked `secret` are what the log redactor is told about. To add a channel type: a dataclass
here, an entry in OPTIONS, a channel module in channels/, a branch in channels._build(), README rows.

Secrets are named, not held: a `SecretRef` says where the credential lives ($VAR or a file) and is
read only by what sends (channels.secrets.resolve), so read-only commands never need it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCALHOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Header names whose values are credentials: kept out of every repr and log line.
SENSITIVE_HEADER = re.compile(r"auth|token|secret|key|password|signature|cookie", re.IGNORECASE)


@dataclass(frozen=True)
class Opt:
    """How one option is written in config.toml (field metadata under the key "opt").

    kind: which loader check parses it ("choice", "http_url", "duration", "secret", ...).
    key: its TOML key when it differs from the field name ("from"); a "secret" field named
        `secret` is written as `secret_env` or `secret_file`.
    secret: its value is a credential (kept out of logs; shown by `shown_as` when it is a URL).
    check: for a "secret": how its value is checked once read ("webhook_secret", "password").
    """

    kind: str
    key: str | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    check: str = ""


def opt(kind: str, default: Any = dataclasses.MISSING, *, key: str | None = None, choices: tuple[str, ...] = (),
        secret: bool = False, check: str = "") -> Any:
    """Return a dataclass field described by an Opt (a field with no default is required)."""
    meta = {"opt": Opt(kind, key, choices, secret or kind == "secret", check)}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SecretRef:
    """Where a credential lives: the environment variable `env` or the file `file` (one is set).

    `where` is the config location for messages ("config.toml: channels.h.secret_env").
    """

    env: str | None = None
    file: Path | None = None
    check: str = ""
    where: str = ""

    def __repr__(self) -> str:
        return f"SecretRef(env={self.env!r})" if self.env else f"SecretRef(file={str(self.file)!r})"


@dataclass(frozen=True, kw_only=True)
class ConsoleOptions:
    stream: str = opt("choice", "stdout", choices=("stdout", "stderr"))


@dataclass(frozen=True, kw_only=True)
class WebhookOptions:
    url: str = opt("http_url", secret=True)  # Slack/Discord URLs carry their token in the path
    format: str = opt("choice", "json", choices=("json", "slack", "discord"))
    headers: Mapping[str, str] = opt("headers", {})  # Authorization-like values are Secret
    timeout: float = opt("duration", 15.0)
    secret: SecretRef | str | None = opt("secret", None, check="webhook_secret")


EMAIL_SECURITY = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True, kw_only=True)
class EmailOptions:
    host: str = opt("host")
    port: int | None = opt("port", None)  # None: the usual port of `security`
    security: str = opt("choice", "starttls", choices=tuple(EMAIL_SECURITY))
    username: str | None = opt("line", None)
    password: SecretRef | str | None = opt("secret", None, check="password")
    sender: str = opt("address", key="from")
    to: tuple[str, ...] = opt("recipients")
    timeout: float = opt("duration", 30.0)
    subject_prefix: str = opt("subject_prefix", "[press-monitor]")

    def __post_init__(self) -> None:
        if self.port is None:  # the usual port of the security mode, filled in once here
            object.__setattr__(self, "port", EMAIL_SECURITY.get(self.security, 587))

    def problems(self) -> list[tuple[str, str]]:
        """(key, problem) pairs for combinations of options that cannot work."""
        out = []
        if self.username is not None and self.password is None:
            out.append(("username", "needs password_env or password_file"))
        if self.username is None and isinstance(self.password, SecretRef):
            which = "password_env" if self.password.env else "password_file"
            out.append((which, "only allowed together with username"))
        if self.password is not None and self.security == "none" and self.host not in LOCALHOSTS:
            out.append(("security", '"none" would send the password unencrypted; use "starttls" or "ssl" '
                                    "(plain connections with a password are allowed to localhost only)"))
        return out


@dataclass(frozen=True, kw_only=True)
class AppriseOptions:
    # Apprise URLs carry credentials (tokens, passwords): only ever in $VAR or a file.
    urls: SecretRef | str | None = opt("secret", None, check="apprise_urls")
    format: str = opt("choice", "text", choices=("text", "markdown"))
    timeout: float = opt("duration", 30.0)

    def problems(self) -> list[tuple[str, str]]:
        if self.urls is None:
            return [("urls_env", "missing; give urls_env or urls_file (the Apprise URLs, which carry credentials)")]
        return []


ChannelOptions = ConsoleOptions | WebhookOptions | EmailOptions | AppriseOptions

# channel type -> its options class; the loader accepts exactly these types.
OPTIONS: dict[str, type[Any]] = {
    "console": ConsoleOptions, "webhook": WebhookOptions, "email": EmailOptions, "apprise": AppriseOptions,
}


def schema(cls: type[Any]) -> Iterator[tuple[dataclasses.Field[Any], Opt]]:
    """Yield (field, Opt) for every option of an options class, in declaration order."""
    for f in dataclasses.fields(cls):
        yield f, f.metadata["opt"]


def toml_keys(cls: type[Any]) -> tuple[str, ...]:
    """Return the TOML keys an options class accepts (a secret `x` is written x_env or x_file)."""
    keys: list[str] = []
    for f, o in schema(cls):
        name = o.key or f.name
        keys.extend((f"{name}_env", f"{name}_file") if o.kind == "secret" else (name,))
    return tuple(keys)


def redactions(options: object, resolved: Mapping[str, str] | None = None) -> list[str | tuple[str, str]]:
    """Return what the log redactor must hide for these options: secret values (resolved ones given
    by field name), URLs with a token in them (shown as their origin), credential-like headers.

    Only strings are returned: an unset option (None) is not a secret.
    """
    out: list[str | tuple[str, str]] = []
    for f, o in schema(type(options)):
        value = (resolved or {}).get(f.name, getattr(options, f.name))
        if o.kind == "headers" and isinstance(value, Mapping):
            out.extend(str(v) for k, v in value.items() if SENSITIVE_HEADER.search(k) and v)
        elif not o.secret or not isinstance(value, str) or not value:
            continue
        elif o.kind == "http_url":
            parts = urlsplit(value)
            out.append((value, f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/***"))
        else:
            out.append(value)
    return out
