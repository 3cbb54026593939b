"""Email channel: one multipart/alternative (text + HTML) message per alert or digest, over SMTP.

Feed text ends up in the Subject header, so it is reduced to one clean line first: a CR/LF, a
Unicode line separator or an RFC 2047 encoded word in a title must never become a second header.
The Subject is folded here (`fold_subject`), not by the email package: its folder can leave a
space between two encoded words, which decoders drop ("açılış: Almaty" read as "açılış:Almaty").
The envelope recipients are always the configured ones, never read back from the headers.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import hashlib
import re
import smtplib
import socket
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from monitor.channels.render import (
    check_batch,
    clean_text,
    html_message,
    plural,
    releases_of,
    spike_heading,
    spike_of,
    text_message,
    truncate,
    view,
)
from monitor.deadline import Deadline
from monitor.errors import DeliveryError
from monitor.types import AnyNotice

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT = 30.0
DEFAULT_SUBJECT_PREFIX = "[press-monitor] "
SUBJECT_MAX = 200
MESSAGE_ID_DOMAIN = "press-monitor"

# RFC 5322 atext: what a dot-atom (the id-left of a Message-ID) may be made of.
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
LINE_MAX = 78  # RFC 5322's recommended line length, folding whitespace included
EW_BYTES = 45  # UTF-8 bytes per encoded word: "=?utf-8?b?" + 60 base64 characters + "?=" is 72 <= 75 (RFC 2047)
PLAIN_PREFIX_MAX = 60  # ASCII words kept readable before the encoded part


def fold_subject(text: str, linesep: str = "\r\n") -> str:
    """Return the header line "Subject: …" (with linesep) that RFC 2047/5322 decoders read back as `text`.

    ASCII is folded at spaces (unfolding gives each space back). Otherwise the ASCII words before
    the first non-ASCII one stay readable and the rest, spaces included, becomes base64 encoded
    words, one per line: whitespace between encoded words is ignored by decoders, so none of the
    text's own spaces may fall there. Words are cut between characters, never inside one.
    """
    if text.isascii():
        out, line = [], "Subject:"
        for word in text.split(" "):
            if len(line) + 1 + len(word) > LINE_MAX and line != "Subject:" and line.strip():
                out.append(line)
                line = ""
            line += " " + word
        return linesep.join([*out, line]) + linesep
    first = next(i for i, ch in enumerate(text) if not ch.isascii())
    cut = text.rfind(" ", 0, first)
    plain, rest = (text[:cut], text[cut + 1:]) if 0 < cut <= PLAIN_PREFIX_MAX else ("", text)
    words, chunk = [], ""
    room = EW_BYTES if plain else EW_BYTES - 3  # the first word shares its line with "Subject: "
    for ch in rest:
        if len((chunk + ch).encode("utf-8")) > room:
            words.append(chunk)
            chunk, room = "", EW_BYTES
        chunk += ch
    words.append(chunk)
    encoded = [f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words]
    lines = [f"Subject: {plain}" if plain else f"Subject: {encoded.pop(0)}"] + [f" {w}" for w in encoded]
    return linesep.join(lines) + linesep


class _MailPolicy(email.policy.EmailPolicy):
    """email.policy.SMTP with the Subject folded by fold_subject (every other header as before)."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = _MailPolicy(linesep="\r\n")


def list_id(channel: str) -> str:
    """Return the List-Id header (RFC 2919) for a channel: mail filters can sort alerts by channel."""
    label = re.sub(r"[^A-Za-z0-9]+", "-", channel).strip("-")[:60].strip("-") or "alerts"
    return f"press-monitor {label} <{label}.press-monitor.localhost>"


def message_id_header(message_id: str) -> str:
    """Return "<id-left@press-monitor>" with id-left reduced to a valid RFC 5322 dot-atom."""
    left = _NOT_ATEXT.sub("-", message_id)
    left = re.sub(r"\.{2,}", ".", left).strip(".")[:200].strip(".")
    if not left:
        # Nothing usable survived; a hash still gives the same id on every retry.
        left = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<{left}@{MESSAGE_ID_DOMAIN}>"


def header_text(value: str, limit: int) -> str:
    """Return feed text fit for a header: one clean line, capped, with no RFC 2047 encoded word."""
    text = clean_text(value)
    # Python's email package decodes "=?charset?q?...?=" found in a header value we set, so an
    # encoded word in a title could smuggle CR/LF (and so a Bcc: header) into the message.
    # "=?" begins every encoded word; breaking it makes the title display literally instead.
    text = text.replace("=?", "= ?")
    return truncate(text, limit)


def subject_for(notices: Sequence[AnyNotice], *, prefix: str, digest: bool) -> str:
    """Return the Subject: prefix + rules + title, prefix + "N alerts" for a digest, or the spike's heading."""
    head = clean_text(prefix)
    if head:
        head += " "
    spike = spike_of(notices)
    if spike is not None:
        return header_text(f"{head}{spike_heading(spike)}", SUBJECT_MAX)
    if digest:
        return header_text(f"{head}{plural(len(notices), 'alert')}", SUBJECT_MAX)
    releases = releases_of(notices)
    v = view(releases[0])
    rules = ", ".join(n.rule for n in releases)  # one message per release: every rule that matched it
    return header_text(f"{head}{rules}: {v.title}", SUBJECT_MAX)


class _Watched:
    """Mixin for smtplib.SMTP / SMTP_SSL: the socket is cut at the deadline, from before the greeting is read."""

    def __init__(self, deadline: Deadline, host: str, **kwargs: Any) -> None:
        self._deadline = deadline
        super().__init__(**kwargs)  # no host: connect() comes later, once the deadline watches
        self._host = host  # what SMTP(host) would have kept: STARTTLS/SSL check the certificate against it

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self._deadline.watch(sock)
        return sock


class _WatchedSMTP(_Watched, smtplib.SMTP):
    pass


class _WatchedSMTP_SSL(_Watched, smtplib.SMTP_SSL):  # noqa: N801 - named after smtplib.SMTP_SSL
    pass


class EmailChannel:
    """Sends alerts through one SMTP server; raises DeliveryError saying whether to retry. Options come
    checked from config (channel_options.EmailOptions)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        sender: str,
        recipients: Sequence[str],
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        subject_prefix: str = DEFAULT_SUBJECT_PREFIX,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = int(port) if port else DEFAULT_PORTS[security]
        self.security = security
        self.username = username or None
        self._password = password
        self.sender = sender
        self.recipients = tuple(recipients)
        self.timeout = float(timeout)
        self.subject_prefix = subject_prefix
        # Tests (and anyone with a private CA) pass a context; everyone else verifies against
        # the system trust store with hostname checking on.
        self._tls_context = tls_context

    def __repr__(self) -> str:
        return f"EmailChannel({self.name!r}, {self.host}:{self.port}, security={self.security!r})"

    def compose(
        self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False
    ) -> EmailMessage:
        """Return the message send() would deliver: multipart/alternative, text then HTML."""
        check_batch(notices, digest)
        msg = EmailMessage(policy=MAIL_POLICY)
        msg["Subject"] = subject_for(notices, prefix=self.subject_prefix, digest=digest)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = message_id_header(message_id)
        # RFC 3834: tells vacation responders and list servers not to answer automated mail.
        msg["Auto-Submitted"] = "auto-generated"
        # RFC 2919: one list per channel, so mail filters can file alerts. No List-Unsubscribe:
        # recipients are set in config.toml, and no address or URL could honour the request.
        msg["List-Id"] = list_id(self.name)
        msg.set_content(text_message(notices, now=now, digest=digest))
        msg.add_alternative(html_message(notices, now=now, digest=digest), subtype="html")
        return msg

    def send(
        self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False
    ) -> None:
        """Deliver one alert (or a digest) by SMTP; return None or raise DeliveryError."""
        msg = self.compose(notices, now=now, message_id=message_id, digest=digest)
        try:
            self._deliver(msg)
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
            raise self._classify(exc) from None

    def _context(self) -> ssl.SSLContext:
        return self._tls_context or ssl.create_default_context()

    def _deliver(self, msg: EmailMessage) -> None:
        # One deadline for the whole session: smtplib's timeout bounds each read only, so a server
        # dribbling its greeting (or any reply) a byte at a time would otherwise hold us for ever.
        with Deadline(self.timeout) as deadline:
            try:
                self._session(msg, deadline)
            except (smtplib.SMTPException, OSError):
                if deadline.fired:
                    raise DeliveryError(f"{self._where()}: timed out after {self.timeout:g}s") from None
                raise

    def _session(self, msg: EmailMessage, deadline: Deadline) -> None:
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = _WatchedSMTP_SSL(deadline, self.host, timeout=self.timeout, context=self._context())
        else:
            smtp = _WatchedSMTP(deadline, self.host, timeout=self.timeout)
        try:
            code, greeting = smtp.connect(self.host, self.port)
            if code != 220:  # what SMTP(host) checks when it connects in its constructor
                raise smtplib.SMTPConnectError(code, greeting)
        except BaseException:
            smtp.close()
            raise
        with smtp:
            if self.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{self._where()}: the server does not offer STARTTLS; refusing to send "
                        "in clear text (set security = \"none\" only if that is intended)"
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
            # Explicit envelope: never let smtplib derive recipients from To/Cc/Bcc headers.
            smtp.send_message(msg, from_addr=self.sender, to_addrs=list(self.recipients))

    def close(self) -> None:
        """Nothing to release: each send is one SMTP session."""

    def _where(self) -> str:
        return f"email {self.name!r} ({self.host}:{self.port})"

    def _classify(self, exc: BaseException) -> DeliveryError:
        where = self._where()
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            # Retried rather than dropped: a password being rotated or a provider hiccup should
            # delay alerts, not kill them. The dead-letter queue catches a password that stays wrong.
            return DeliveryError(
                f"{where}: authentication failed for user {self.username!r}: {_reply(exc)}; "
                "check username and password"
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            refused = ", ".join(
                f"{addr} ({code} {_text(message)})" for addr, (code, message) in exc.recipients.items()
            )
            permanent = bool(codes) and all(code >= 500 for code in codes)
            kind = "permanent" if permanent else "temporary"
            return DeliveryError(f"{where}: recipients refused ({kind}): {refused}", permanent=permanent)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            permanent = exc.smtp_code >= 500
            return DeliveryError(
                f"{where}: sender {exc.sender!r} refused: {_reply(exc)}", permanent=permanent
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            permanent = exc.smtp_code >= 500
            return DeliveryError(f"{where}: server answered {_reply(exc)}", permanent=permanent)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            # smtplib reports a read timeout or reset as "disconnected"; the cause says which.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, TimeoutError):
                return DeliveryError(f"{where}: timed out after {self.timeout:g}s waiting for the server")
            if isinstance(cause, OSError):
                reason = cause.strerror or type(cause).__name__
                return DeliveryError(f"{where}: connection lost: {reason}")
            return DeliveryError(f"{where}: the server closed the connection unexpectedly")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return DeliveryError(f"{where}: not supported by the server: {_text(str(exc))}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryError(
                f"{where}: certificate verify failed for {self.host}:{self.port}: {exc.verify_message}"
            )
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(f"{where}: TLS error: {exc.reason or type(exc).__name__}")
        if isinstance(exc, TimeoutError):
            return DeliveryError(f"{where}: timed out after {self.timeout:g}s")
        if isinstance(exc, ConnectionRefusedError):
            return DeliveryError(f"{where}: connection refused")
        if isinstance(exc, socket.gaierror):
            return DeliveryError(f"{where}: host name could not be resolved")
        if isinstance(exc, OSError):
            return DeliveryError(f"{where}: network error: {exc.strerror or type(exc).__name__}")
        return DeliveryError(f"{where}: SMTP error: {_text(str(exc))}")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return clean_text(str(value), 200)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"
