"""Alert channels: each renders notices and sends them one way (console, webhook, email).

    channel = build(spec)
    channel.send([notice], now=now, message_id=notice.alert_id)                 # one alert
    channel.send(notices, now=now, message_id=digest_id, digest=True)           # one digest message

send() returns None when the alert was handed over, and raises DeliveryError otherwise; the error
says whether retrying can help (`permanent`), when (`retry_after`) and whether the endpoint is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, TextIO

from monitor.channels.console import ConsoleChannel
from monitor.channels.email import EmailChannel
from monitor.channels.webhook import WebhookChannel
from monitor.errors import ConfigError
from monitor.types import ChannelSpec, Notice

__all__ = ["Channel", "ConsoleChannel", "EmailChannel", "WebhookChannel", "build"]


class Channel(Protocol):
    name: str

    def send(
        self, notices: Sequence[Notice], *, now: datetime, message_id: str, digest: bool = False
    ) -> None:
        """Deliver one notice (digest=False) or one message bundling all of them; raise DeliveryError.

        message_id is the notice's alert_id for a single alert, or a stable digest id: it travels as
        webhook-id / Message-ID, unchanged across retries, so receivers can drop repeats.
        """
        ...


def _opt(spec: ChannelSpec, key: str, default: object = None) -> object:
    value = spec.options.get(key, default)
    return default if value is None else value


def _required_str(spec: ChannelSpec, key: str) -> str:
    value = spec.options.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"channels.{spec.name}.{key}: required for a {spec.type} channel")
    return value


def _number(spec: ChannelSpec, key: str, default: float) -> float:
    value = _opt(spec, key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"channels.{spec.name}.{key}: must be a number, got {value!r}")
    return float(value)


def build(spec: ChannelSpec, *, stdout: TextIO | None = None) -> Channel:
    """Return the channel described by `spec`; `stdout` replaces sys.stdout for a console channel."""
    where = f"channels.{spec.name}"
    if spec.type == "console":
        stream = str(_opt(spec, "stream", "stdout"))
        if stream not in ("stdout", "stderr"):
            raise ConfigError(f"{where}.stream: must be \"stdout\" or \"stderr\", got {stream!r}")
        return ConsoleChannel(spec.name, stream=stream, out=stdout if stream == "stdout" else None)
    if spec.type == "webhook":
        headers = _opt(spec, "headers", {})
        if not isinstance(headers, Mapping):
            raise ConfigError(f"{where}.headers: must be a table of header names to values")
        secret = spec.options.get("secret")
        if secret is not None and not isinstance(secret, str):
            raise ConfigError(f"{where}.secret: must be a string")
        return WebhookChannel(
            spec.name,
            _required_str(spec, "url"),
            format=str(_opt(spec, "format", "json")),
            headers={str(k): str(v) for k, v in headers.items()},
            timeout=_number(spec, "timeout", 15.0),
            secret=secret or None,
        )
    if spec.type == "email":
        to = _opt(spec, "to", ())
        if isinstance(to, str):
            to = (to,)
        if not isinstance(to, Sequence) or not all(isinstance(a, str) for a in to):
            raise ConfigError(f"{where}.to: must be a list of email addresses")
        port = _opt(spec, "port", 0)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"{where}.port: must be a port number, got {port!r}")
        username = spec.options.get("username")
        password = spec.options.get("password")
        return EmailChannel(
            spec.name,
            host=_required_str(spec, "host"),
            port=port or None,
            security=str(_opt(spec, "security", "starttls")),
            username=str(username) if username else None,
            password=password if isinstance(password, str) and password else None,
            sender=_required_str(spec, "from"),
            recipients=tuple(to),
            timeout=_number(spec, "timeout", 30.0),
            subject_prefix=str(_opt(spec, "subject_prefix", "[press-monitor] ")),
        )
    raise ConfigError(f"{where}.type: unknown channel type {spec.type!r} (console, webhook or email)")
