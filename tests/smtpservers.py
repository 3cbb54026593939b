"""Real SMTP servers on 127.0.0.1 for channel tests (aiosmtpd), each misbehaving in one chosen way.

    with smtp_server(RecordingHandler()) as server:       # accepts and records every message
        ... server.port, server.handler.messages
    RefusingHandler()      answers 550 to every RCPT TO
    DroppingHandler()      closes the socket after the message data arrived, before answering
    smtp_server(..., tls_context=ctx)   offers STARTTLS with ctx's certificate
    smtp_server(..., ssl_context=ctx)   speaks implicit TLS (SMTPS)
    silent_server()        accepts TCP connections and never says a word (greeting timeout)
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    authenticated: bool


@dataclass
class RecordingHandler:
    """Accepts everything and keeps what arrived."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        self.messages.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=data if isinstance(data, bytes) else data.encode(),
                # session.ssl is set by STARTTLS; implicit TLS shows only on the transport.
                tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 2.0.0 OK queued"


@dataclass
class RefusingHandler(RecordingHandler):
    """Refuses every recipient with a permanent 550."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


@dataclass
class DroppingHandler(RecordingHandler):
    """Takes the whole message, then drops the connection instead of answering."""

    dropped: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.dropped += 1
        server.transport.abort()
        return "421 4.3.0 connection dropped"  # never reaches the client: the socket is gone


def password_authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    """Return an aiosmtpd authenticator accepting exactly this LOGIN/PLAIN username and password."""

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


class _Controller(Controller):
    """A Controller that may listen on port 0: it learns the port before its self-test connects."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class RunningServer:
    host: str
    port: int
    handler: Any


@contextmanager
def smtp_server(handler: Any, **kwargs: Any) -> Iterator[RunningServer]:
    """Run an aiosmtpd server on 127.0.0.1 (a free port) for the duration of the block."""
    controller = _Controller(handler, hostname=HOST, port=0, **kwargs)
    controller.start()
    try:
        yield RunningServer(HOST, controller.port, handler)
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[RunningServer]:
    """Listen without ever accepting: the TCP handshake completes, the SMTP greeting never comes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        sock.listen(8)
        yield RunningServer(HOST, sock.getsockname()[1], None)
    finally:
        sock.close()


@contextmanager
def dribbling_server(every: float = 0.5) -> Iterator[RunningServer]:
    """Accept, then send the SMTP greeting one byte every `every` seconds: each read gets a byte in
    time, so only an overall deadline ends the session."""
    stop = threading.Event()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(8)
    sock.settimeout(0.05)

    def dribble(conn: socket.socket) -> None:
        with conn:
            for byte in b"220 slow.example ESMTP dribbling along, one byte at a time\r\n":
                if stop.wait(every):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            threading.Thread(target=dribble, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield RunningServer(HOST, sock.getsockname()[1], None)
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def closed_port() -> int:
    """Return a port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_tls_context(cert: Any) -> ssl.SSLContext:
    """Return a server-side TLS context presenting a trustme LeafCert."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx
