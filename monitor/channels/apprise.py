"""Apprise channel: one notification per alert (or digest) to every Apprise URL of the channel.

Apprise (https://github.com/caronc/apprise) reaches Telegram, Microsoft Teams, ntfy, Pushover,
Matrix, Mattermost and ~100 more services from one URL each. Those URLs carry credentials, so they
come from `urls_env` / `urls_file` only. Title and body are the email channel's: the subject line
(without prefix) and the plain-text rendering, or Markdown when `format = "markdown"`.

Apprise reports success or failure per service but no reason a machine can act on, so a failure is
always retried (never permanent). A partial failure retries the whole alert: services that did get
it may see it twice (delivery is at least once everywhere). Apprise applies its own connect and
read timeouts per service (URL parameters `cto` / `rto`); the channel's `timeout` bounds how long
a delivery waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import apprise

from monitor.channels.email import subject_for
from monitor.channels.render import check_batch, text_message
from monitor.errors import DeliveryError
from monitor.types import AnyNotice


def markdown_message(notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> str:
    """Return the text rendering with its lines kept apart in Markdown (a hard break per line)."""
    return "\n".join(line + "  " if line.strip() else line
                     for line in text_message(notices, now=now, digest=digest).splitlines())


class AppriseChannel:
    """Sends alerts to a list of Apprise URLs; raises DeliveryError (retryable) when any fails."""

    def __init__(self, name: str, urls: Sequence[str], *, format: str = "text", timeout: float = 30.0) -> None:
        self.name = name
        self.format = format
        self.timeout = float(timeout)
        self._urls = tuple(urls)

    def __repr__(self) -> str:
        return f"AppriseChannel({self.name!r}, {len(self._urls)} URL(s))"  # never the URLs: they hold tokens

    def _apprise(self) -> apprise.Apprise:
        # A fresh Apprise object per send: plugins keep no state we want, and a URL that fails to
        # parse must be reported at the send that needs it.
        apobj = apprise.Apprise()
        for i, url in enumerate(self._urls, 1):
            if not apobj.add(url):
                raise DeliveryError(f"apprise {self.name!r}: URL {i} of {len(self._urls)} is not one Apprise "
                                    "understands (check its scheme; see the Apprise wiki) (permanent)", permanent=True)
        return apobj

    def send(
        self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False
    ) -> None:
        """Notify every URL; return None when all took it, else raise DeliveryError (to retry)."""
        check_batch(notices, digest)
        title = subject_for(notices, prefix="", digest=digest)
        if self.format == "markdown":
            body, kind = markdown_message(notices, now=now, digest=digest), apprise.NotifyFormat.MARKDOWN
        else:
            body, kind = text_message(notices, now=now, digest=digest), apprise.NotifyFormat.TEXT
        apobj = self._apprise()
        outcome: list[bool] = []

        def notify() -> None:
            outcome.append(bool(apobj.notify(body=body, title=title, body_format=kind)))

        worker = threading.Thread(target=notify, name=f"apprise-{self.name}", daemon=True)
        worker.start()
        worker.join(self.timeout)
        where = f"apprise {self.name!r} ({len(self._urls)} URL(s))"
        if not outcome:
            # The call goes on in its (daemon) thread; its per-service timeouts end it.
            raise DeliveryError(f"{where}: timed out after {self.timeout:g}s")
        if not outcome[0]:
            raise DeliveryError(f"{where}: at least one service did not accept the notification "
                                "(Apprise logs each service's reason as a warning)")

    def close(self) -> None:
        """Nothing to release: each send builds its own Apprise object."""
