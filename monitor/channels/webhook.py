"""Webhook channel: POST one alert (or a digest) as JSON, Slack or Discord, signed per Standard Webhooks.

Receivers drop repeats by `webhook-id`, which is the caller's message_id and so the same on every
retry. Redirects are never followed: a webhook that answers 3xx is misconfigured, and following it
would re-send a signed body (and any extra headers) to a host nobody configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from monitor.channels.render import check_batch, clean_text
from monitor.channels.webhook_formats import render
from monitor.deadline import Deadline
from monitor.errors import DeliveryError, NetworkError
from monitor.httpclient import HttpClient, Response
from monitor.retry_after import retry_after
from monitor.types import AnyNotice

USER_AGENT = "press-monitor/0.1 (+webhook)"
DEFAULT_TIMEOUT = 15.0

# We only read the start of an error body, to quote it; a hostile receiver cannot make us buffer more.
ERROR_BODY_MAX = 64 * 1024


_MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,256}$")


# --------------------------------------------------------------------------- signing


def decode_secret(secret: str) -> bytes:
    """Return the HMAC key of a Standard Webhooks secret ("whsec_" + base64; the prefix is optional)."""
    encoded = secret.strip()
    encoded = encoded.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the secret must be 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("the secret is empty")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the webhook-signature value: "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


# --------------------------------------------------------------------------- status mapping


def _origin(url: str) -> str:
    # Slack and Discord webhook URLs carry their secret in the path: messages show only the origin.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _body_excerpt(response: Response) -> str:
    try:
        raw = response.read(ERROR_BODY_MAX)
    except Exception:  # the excerpt is decoration; the status already says what failed
        return ""
    text = clean_text(raw.decode("utf-8", "replace"), 200)
    return f": {text}" if text else ""


def status_error(name: str, origin: str, response: Response, now: datetime) -> DeliveryError:
    """Return the DeliveryError for a non-2xx answer (permanent / transient / gone, with retry_after)."""
    status = response.status
    where = f"webhook {name!r} ({origin})"
    if 300 <= status < 400:
        location = clean_text(response.headers.get("Location", ""), 300) or "(no Location)"
        return DeliveryError(
            f"{where}: HTTP {status} redirect to {location}; webhooks do not follow redirects, "
            "so fix the channel url (permanent)",
            permanent=True,
        )
    if status == 410:
        return DeliveryError(
            f"{where}: HTTP 410 Gone; the receiver removed this endpoint, so the channel is disabled "
            "until it is re-enabled",
            gone=True,
        )
    wait = retry_after(response.headers.get("Retry-After"), now)  # within retry_after.MAX_RETRY_AFTER
    excerpt = _body_excerpt(response)
    if status in (408, 429):
        after = f", retry after {wait:g}s" if wait is not None else ""
        return DeliveryError(f"{where}: HTTP {status}{after}{excerpt}", retry_after=wait)
    if 400 <= status < 500:
        return DeliveryError(f"{where}: HTTP {status} (permanent){excerpt}", permanent=True)
    after = f", retry after {wait:g}s" if wait is not None else ""
    return DeliveryError(f"{where}: HTTP {status}{after}{excerpt}", retry_after=wait)


# --------------------------------------------------------------------------- channel


class WebhookChannel:
    """POSTs alerts to one URL over one kept-alive connection; raises DeliveryError saying whether and
    when to retry. Options come checked from config (channel_options.WebhookOptions)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        format: str = "json",
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        secret: str | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.format = format
        self.timeout = float(timeout)
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._key = decode_secret(secret) if secret else None
        self._origin = _origin(url)
        # One sender thread per channel (deliver.py) posts one alert at a time: one connection, kept alive.
        self._client = HttpClient(user_agent=USER_AGENT, timeout=self.timeout, maxsize=1, num_pools=1)

    def __repr__(self) -> str:
        return f"WebhookChannel({self.name!r}, {self._origin!r}, format={self.format!r})"

    def render(self, notices: Sequence[AnyNotice], *, now: datetime, digest: bool = False) -> bytes:
        """Return the exact body bytes that send() would POST."""
        check_batch(notices, digest)
        payload = render(self.format, notices, now=now, digest=digest)
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def headers_for(self, body: bytes, *, now: datetime, message_id: str) -> dict[str, str]:
        """Return the request headers for `body`, signed when the channel has a secret."""
        if not _MESSAGE_ID.match(message_id):
            raise DeliveryError(
                f"webhook {self.name!r}: message id {message_id[:60]!r} is not printable ASCII (permanent)",
                permanent=True,
            )
        timestamp = int(now.timestamp())
        headers = {"User-Agent": USER_AGENT, **self._headers}
        headers["Content-Type"] = "application/json"
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(timestamp)
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, message_id, timestamp, body)
        return headers

    def send(
        self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False
    ) -> None:
        """POST one alert (or a digest); return None on 2xx, else raise DeliveryError."""
        body = self.render(notices, now=now, digest=digest)
        headers = self.headers_for(body, now=now, message_id=message_id)
        where = f"webhook {self.name!r} ({self._origin})"
        # The timeout bounds each packet; the deadline the whole conversation (a dribbled status line).
        deadline = Deadline(self.timeout)
        try:
            # Exactly the bytes that were signed; redirects are never followed (module docstring).
            response = self._client.request("POST", self.url, headers=headers, body=body, deadline=deadline)
            try:
                if not 200 <= response.status < 300:
                    raise status_error(self.name, self._origin, response, now)
            finally:
                response.release(ERROR_BODY_MAX)  # a short answer is read out: the connection stays alive
        except NetworkError as exc:
            if exc.kind == "timeout":
                raise DeliveryError(f"{where}: timed out after {self.timeout:g}s") from None
            raise DeliveryError(f"{where}: {exc}") from None
        finally:
            deadline.cancel()

    def close(self) -> None:
        """Release the kept-alive connection."""
        self._client.close()
