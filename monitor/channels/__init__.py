"""Alert channels: each renders notices and sends them one way (console, webhook, email, apprise).

    channels = ChannelSet(config.channels, environ=os.environ)    # built once per config (re)load
    channels["ops"].send([notice], now=now, message_id=notice.alert_id)          # one alert
    channels["ops"].send(notices, now=now, message_id=digest_id, digest=True)    # one digest message
    channels.close()                                                             # at reload / exit

send() returns None when the alert was handed over, and raises DeliveryError otherwise; the error
says whether retrying can help (`permanent`), when (`retry_after`) and whether the endpoint is gone.
Options arrive typed and checked (channel_options.py, config/channels.py): nothing here re-checks
them. Secrets are read here, when a channel is built to send, and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TextIO

from monitor.channel_options import AppriseOptions, ConsoleOptions, EmailOptions, WebhookOptions, redactions
from monitor.channels.console import ConsoleChannel
from monitor.channels.email import EmailChannel
from monitor.channels.secrets import resolve
from monitor.channels.webhook import WebhookChannel
from monitor.errors import ConfigError
from monitor.types import AnyNotice, ChannelSpec

__all__ = ["Channel", "ChannelSet", "ConsoleChannel", "EmailChannel", "WebhookChannel", "build"]


class Channel(Protocol):
    name: str

    def send(
        self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False
    ) -> None:
        """Deliver one notice (digest=False) or one message bundling all of them; raise DeliveryError.

        message_id is the notice's alert_id for a single alert, or a stable digest id: it travels as
        webhook-id / Message-ID, unchanged across retries, so receivers can drop repeats.
        """
        ...

    def close(self) -> None:
        """Release what the channel holds open (pooled connections)."""
        ...


def build(spec: ChannelSpec, *, environ: Mapping[str, str] | None = None,
          stdout: TextIO | None = None) -> Channel:
    """Return the channel described by `spec`, its secrets read from `environ` (default os.environ);
    `stdout` replaces sys.stdout for a console channel. Raises ConfigError when a secret cannot be read."""
    return _build(spec, os.environ if environ is None else environ, stdout)[0]


def _build(spec: ChannelSpec, environ: Mapping[str, str],
           stdout: TextIO | None) -> tuple[Channel, list[str | tuple[str, str]]]:
    """Return the channel and what the log redactor must hide for it."""
    o = spec.options
    if isinstance(o, ConsoleOptions):
        return ConsoleChannel(spec.name, stream=o.stream, out=stdout if o.stream == "stdout" else None), []
    if isinstance(o, WebhookOptions):
        secret = resolve(o.secret, environ)
        channel: Channel = WebhookChannel(spec.name, o.url, format=o.format, headers=o.headers, timeout=o.timeout,
                                          secret=secret)
        return channel, redactions(o, {"secret": secret} if secret else None)
    if isinstance(o, EmailOptions):
        password = resolve(o.password, environ)
        channel = EmailChannel(spec.name, host=o.host, port=o.port, security=o.security, username=o.username,
                               password=password, sender=o.sender, recipients=o.to, timeout=o.timeout,
                               subject_prefix=o.subject_prefix)
        return channel, redactions(o, {"password": password} if password else None)
    if isinstance(o, AppriseOptions):
        # Imported here: apprise loads ~190 plugins (0.3 s), which configs without it never pay for.
        from monitor.channels.apprise import AppriseChannel

        urls = (resolve(o.urls, environ) or "").split()
        return AppriseChannel(spec.name, urls, format=o.format, timeout=o.timeout), list(urls)
    raise ConfigError(f"channels.{spec.name}.type: unknown channel type {spec.type!r}")


class ChannelSet(Mapping[str, Channel]):
    """Every configured channel, built once (one HTTP session each, kept alive between sweeps).

    Built per config (re)load and closed when that config is replaced or the process ends.
    `redactions` lists what the log redactor must hide: resolved secrets, token-bearing URLs,
    credential headers. A channel whose secret cannot be read makes the whole set a ConfigError,
    listing every such channel.
    """

    def __init__(self, specs: Mapping[str, ChannelSpec], *, environ: Mapping[str, str] | None = None,
                 stdout: TextIO | None = None) -> None:
        env = os.environ if environ is None else environ
        self._channels: dict[str, Channel] = {}
        self.redactions: list[str | tuple[str, str]] = []
        problems: list[str] = []
        for name, spec in specs.items():
            try:
                channel, hidden = _build(spec, env, stdout)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            self._channels[name] = channel
            self.redactions.extend(hidden)
        if problems:
            self.close()
            raise ConfigError("\n".join(problems))

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)

    def close(self) -> None:
        for channel in self._channels.values():
            with contextlib.suppress(Exception):
                channel.close()

    def __enter__(self) -> ChannelSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
