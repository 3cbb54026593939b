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
import socket
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
    peer: tuple[str, int] = ("", 0)  # the client's address: one per TCP connection (keep-alive test)


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
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do (every reply has a length)
            # Headers and body go out in two writes: with Nagle on, the second waits for the client's
            # delayed ACK (40 ms a request on a kept-alive connection).
            disable_nagle_algorithm = True

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
        delivery = Delivery("POST", request.path, headers, body, parsed, verified, reason,
                            peer=request.client_address[:2])
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


class DribblingReceiver:
    """An HTTP receiver that reads the request, then sends its status line one byte every `every` s.

    Socket read timeouts never fire (a byte always arrives in time): only an overall deadline ends
    the conversation. `finished` counts the connections the client closed or cut before the end.

        with DribblingReceiver() as rx:
            ... post to rx.url with timeout 1s ...
    """

    REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"  # 38 bytes: 19 s at 0.5 s a byte

    def __init__(self, *, every: float = 0.5) -> None:
        self.every = every
        self.connections = 0  # accepted
        self.finished = 0  # ended (the client hung up or was cut off)
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        self._sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)  # the request (small)
                for byte in self.REPLY:
                    if self._stop.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
                    conn.setblocking(False)
                    try:  # an empty read means the client hung up (its deadline cut it)
                        if conn.recv(1) == b"":
                            return
                    except BlockingIOError:
                        pass
                    finally:
                        conn.settimeout(5)
            except OSError:
                return
            finally:
                self.finished += 1

    def __enter__(self) -> DribblingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
