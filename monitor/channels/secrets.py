"""Reading a channel's secret where config.toml says it lives: $VAR or a file, read with a size cap.

Only what sends calls this (channels.build), so `search`, `alerts` or `serve` work when a
channel's secret variable is unset. A bad value is never echoed: a mistake here is often a real
secret pasted into the wrong place.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping

from monitor.channel_options import SecretRef
from monitor.errors import ConfigError
from monitor.types import Secret

# One secret is a line; a file larger than this is not a secret file (/dev/zero, a log, a disk).
MAX_SECRET_BYTES = 64 * 1024


def _webhook_secret(raw: str, where: str, source: str) -> str:
    secret = raw.strip()
    body = secret.removeprefix("whsec_")
    try:
        valid = secret.startswith("whsec_") and bool(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise ConfigError(f'{where}: the secret in {source} must be "whsec_" followed by base64 (Standard Webhooks)')
    return secret


def _password(raw: str, where: str, source: str) -> str:
    # Files usually end with a newline the password does not contain; inner spaces are kept.
    password = raw.rstrip("\r\n")
    if not password:
        raise ConfigError(f"{where}: the password in {source} is empty")
    return password


def _apprise_urls(raw: str, where: str, source: str) -> str:
    # One Apprise URL per line (or separated by spaces); "#" starts a comment line.
    urls = [u for line in raw.splitlines() if not line.strip().startswith("#") for u in line.split()]
    if not urls:
        raise ConfigError(f"{where}: {source} holds no Apprise URL")
    bad = sum("://" not in u for u in urls)
    if bad:
        raise ConfigError(f"{where}: {source}: {bad} of {len(urls)} entries are not URLs (e.g. json://host/path)")
    return "\n".join(urls)


def _text(raw: str, where: str, source: str) -> str:
    text = raw.strip()
    if not text:
        raise ConfigError(f"{where}: {source} is empty")
    return text


CHECKS: Mapping[str, Callable[[str, str, str], str]] = {
    "webhook_secret": _webhook_secret,
    "password": _password,
    "apprise_urls": _apprise_urls,
    "": _text,
}


def resolve(ref: SecretRef | str | None, environ: Mapping[str, str]) -> Secret | None:
    """Return the secret `ref` points at (a plain string is taken as the secret itself), checked;
    raise ConfigError naming the config key when it cannot be read or is malformed."""
    if ref is None:
        return None
    if not isinstance(ref, SecretRef):
        return Secret(ref)
    check = CHECKS[ref.check]
    if ref.env is not None:
        if ref.env not in environ:
            raise ConfigError(f"{ref.where}: the environment variable {ref.env} is not set")
        return Secret(check(environ[ref.env], ref.where, f"${ref.env}"))
    assert ref.file is not None
    return Secret(check(read_capped(ref.file, ref.where), ref.where, str(ref.file)))


def read_capped(path: object, where: str, limit: int = MAX_SECRET_BYTES) -> str:
    """Return the UTF-8 text of the file at `path`, refusing one larger than `limit` bytes."""
    try:
        with open(str(path), "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > limit:
        raise ConfigError(f"{where}: {path} is larger than {limit // 1024} KiB; a secret file holds one secret")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: cannot read {path}: not UTF-8 text") from None
