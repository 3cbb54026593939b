"""A real webhook receiver on 127.0.0.1 that checks Standard Webhooks signatures and misbehaves on cue.

The verifier is written from the Standard Webhooks specification, independently of the channel's
signing code, so a shared mistake cannot make both sides agree:

    signed content  = "{webhook-id}.{webhook-timestamp}.{raw body}"
    key             = base64-decode(secret without its "whsec_" prefix)
    webhook-signature = space-separated list of "v1,<base64 HMAC-SHA256>"; any v1 match passes
    the timestamp must lie within `tolerance` seconds of the receiver's clock (replay protection)

    with WebhookReceiver(secret=SECRET, clock=lambda: NOW.timestamp()) as rx:
        rx.queue(Reply(500), Reply(500))          # the next two requests fail, then 200 again
        ... post to rx.url ...
        rx.deliveries[0].json, .headers, .verified
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1_000_000


class SignatureInvalid(Exception):
    """The request does not carry a valid Standard Webhooks signature."""


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance: float = 300.0
) -> None:
    """Return None when the headers sign `body` under `secret`; raise SignatureInvalid otherwise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        stamp = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise SignatureInvalid(f"missing header {missing}") from None
    if not stamp.isdigit():
        raise SignatureInvalid("webhook-timestamp is not an integer")
    if abs(now - int(stamp)) > tolerance:
        raise SignatureInvalid("webhook-timestamp outside the tolerance window")
    raw_secret = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(raw_secret)
    except binascii.Error:
        raise SignatureInvalid("receiver secret is not base64") from None
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(msg_id.encode())
    mac.update(b".")
    mac.update(stamp.encode())
    mac.update(b".")
    mac.update(body)
    expected = mac.digest()
    for candidate in signatures.split(" "):
        version, sep, value = candidate.partition(",")
        if version != "v1" or not sep:
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(given, expected):
            return
    raise SignatureInvalid("no v1 signature matches")


@dataclass(frozen=True)
class Reply:
    """How to answer one request: status, headers, body, and an optional stall before answering."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass
class Delivery:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any
    verified: bool | None  # None when the receiver has no secret
    reason: str = ""
    answered: int = 0


class WebhookReceiver:
    def __init__(
        self,
        *,
        secret: str | None = None,
        tolerance: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.clock = clock
        self.deliveries: list[Delivery] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()  # ends any stalled reply when the receiver stops
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- control

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order; afterwards 200 again."""
        with self._lock:
            self._replies.extend(replies)

    def fail(self, times: int, status: int = 500) -> None:
        """Answer the next `times` requests with `status`."""
        self.queue(*[Reply(status, body=b"receiver failing on purpose")] * times)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (and so every test's teardown) fast.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- serving

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(min(length, MAX_BODY))
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        verified: bool | None = None
        reason = ""
        if self.secret is not None:
            try:
                now = self.clock()
                verify_standard_webhook(self.secret, headers, body, now=now, tolerance=self.tolerance)
                verified = True
            except SignatureInvalid as exc:
                verified, reason = False, str(exc)
        delivery = Delivery("POST", request.path, headers, body, parsed, verified, reason)
        with self._lock:
            self.deliveries.append(delivery)
            reply = Reply(401, body=b"invalid signature") if verified is False else None
            if reply is None:
                reply = self._replies.popleft() if self._replies else Reply(200, body=b"ok")
        if reply.delay:
            self._release.wait(reply.delay)
        delivery.answered = reply.status
        try:
            request.send_response(reply.status)
            for name, value in reply.headers.items():
                request.send_header(name, value)
            request.send_header("Content-Length", str(len(reply.body)))
            request.end_headers()
            request.wfile.write(reply.body)
        except OSError:  # the client gave up (timeout test): nothing to answer to
            pass
