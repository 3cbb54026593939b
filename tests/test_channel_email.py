"""Email channel against real aiosmtpd servers: delivery, header injection, HTML safety, failures."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import trustme

from monitor.channel_options import EmailOptions
from monitor.channels import EmailChannel, build
from monitor.channels.email import message_id_header
from monitor.channels.render import truncate
from monitor.errors import DeliveryError
from monitor.types import ChannelSpec, Secret
from tests.smtpservers import (
    DroppingHandler,
    RecordingHandler,
    RefusingHandler,
    RunningServer,
    closed_port,
    password_authenticator,
    server_tls_context,
    silent_server,
    smtp_server,
)
from tests.test_channel_console import html_markup, make_notice

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
TO = ("desk@example.org", "editor@example.org")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A private CA nobody's system trusts."""
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    return server_tls_context(ca.issue_cert("127.0.0.1", "localhost"))


@pytest.fixture
def trusting_ctx(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that verifies as strictly as the default one, but trusts the test CA."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def recorder() -> Iterator[RunningServer]:
    with smtp_server(RecordingHandler()) as server:
        yield server


def channel_for(
    server: RunningServer, *, tls_context: ssl.SSLContext | None = None, **options: object
) -> EmailChannel:
    """Return an email channel for `server` built by build(), or directly when given a TLS context."""
    opts: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from": "press-monitor@example.org",
        "to": TO,
        "timeout": 5.0,
        "subject_prefix": "[pm]",
    }
    opts.update(options)
    if tls_context is not None:
        # build() has no way to pass a context (config offers none); a deployment with a private
        # CA would construct the channel the same way.
        return EmailChannel(
            "mail",
            host=server.host,
            port=server.port,
            security=str(opts["security"]),
            username=opts.get("username"),  # type: ignore[arg-type]
            password=opts.get("password"),  # type: ignore[arg-type]
            sender=str(opts["from"]),
            recipients=TO,
            timeout=5.0,
            subject_prefix="[pm]",
            tls_context=tls_context,
        )
    opts["sender"] = opts.pop("from")
    opts["to"] = tuple(opts["to"])  # type: ignore[arg-type]
    channel = build(ChannelSpec(name="mail", type="email", options=EmailOptions(**opts)))  # type: ignore[arg-type]
    assert isinstance(channel, EmailChannel)
    return channel


def received(server: RunningServer, index: int = -1) -> EmailMessage:
    message = email.message_from_bytes(server.handler.messages[index].data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """Return the (text, html) bodies of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and rich.get_content_type() == "text/html"
    return plain.get_content(), rich.get_content()


# --------------------------------------------------------------------------- delivery


def test_alert_is_delivered_as_text_and_html_with_stable_headers(recorder: RunningServer) -> None:
    notice = make_notice("alert-7f3a")
    channel_for(recorder).send([notice], now=NOW, message_id=notice.alert_id)

    [got] = recorder.handler.messages
    assert got.mail_from == "press-monitor@example.org"
    assert got.rcpt_tos == list(TO)
    message = received(recorder)
    assert message["Message-ID"] == "<alert-7f3a@press-monitor>"
    assert message["Subject"] == "[pm] central-asia: China-Central Asia Summit opens in Xi'an"
    assert message["From"] == "press-monitor@example.org"
    assert message["To"] == "desk@example.org, editor@example.org"
    assert email.utils.parsedate_to_datetime(message["Date"]) == NOW
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    assert "[central-asia] China-Central Asia Summit opens in Xi'an" in text
    assert "https://www.prnewswire.com/news-releases/summit-301.html" in text
    assert "2023-05-11 08:00 UTC" in text and "PR Newswire: asia" in text
    assert '<a href="https://www.prnewswire.com/news-releases/summit-301.html">' in html
    assert "China-Central Asia Summit opens in Xi&#x27;an" in html


def test_same_message_id_on_every_retry(recorder: RunningServer) -> None:
    channel = channel_for(recorder)
    notice = make_notice("alert-1")
    channel.send([notice], now=NOW, message_id="alert-1")
    channel.send([notice], now=NOW, message_id="alert-1")
    ids = [received(recorder, i)["Message-ID"] for i in range(2)]
    assert ids == ["<alert-1@press-monitor>"] * 2


def test_digest_bundles_every_alert_in_one_message(recorder: RunningServer) -> None:
    notices = [make_notice(f"a{i}", title=f"Release number {i}", release_id=i) for i in range(3)]
    channel_for(recorder).send(notices, now=NOW, message_id="digest-2026-11-27", digest=True)
    [_] = recorder.handler.messages
    message = received(recorder)
    assert message["Subject"] == "[pm] 3 alerts"
    assert message["Message-ID"] == "<digest-2026-11-27@press-monitor>"
    text, html = parts(message)
    assert text.startswith("press-monitor: 3 alerts for newsroom")
    for i in range(3):
        assert f"Release number {i}" in text and f"Release number {i}" in html


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alert-1", "<alert-1@press-monitor>"),
        ("a b<c>@d\r\n", "<a-b-c-d-@press-monitor>"),
        ("..dots..here..", "<dots.here@press-monitor>"),
    ],
)
def test_message_id_is_a_valid_id_left(raw: str, expected: str) -> None:
    assert message_id_header(raw) == expected


def test_message_id_of_nothing_usable_is_still_stable() -> None:
    assert message_id_header("\u2028\u2029") == message_id_header("\u2028\u2029")
    assert message_id_header("...").endswith("@press-monitor>")


# --------------------------------------------------------------------------- untrusted feed text


@pytest.mark.parametrize(
    "title",
    [
        "Quarterly results\r\nBcc: x@evil.example",
        "Quarterly results\nBcc: x@evil.example\n\nbody",
        "Quarterly =?utf-8?q?results=0D=0ABcc:_x@evil.example?= now",
        "Quarterly =?utf-8?b?cmVzdWx0cw0KQmNjOiB4QGV2aWwuZXhhbXBsZQ==?= now",
        "Quarterly results\u2028Bcc: x@evil.example",
        "Quarterly results\u2029\u0085Bcc: x@evil.example",
    ],
)
def test_header_injection_through_a_title_adds_no_header_and_no_recipient(
    recorder: RunningServer, title: str
) -> None:
    channel_for(recorder).send([make_notice(title=title)], now=NOW, message_id="m1")
    [got] = recorder.handler.messages
    assert got.rcpt_tos == list(TO)
    message = received(recorder)
    assert sorted(message.keys()) == sorted(
        ["Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted", "List-Id", "Content-Type", "MIME-Version"]
    )
    assert message["Bcc"] is None
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\u2028" not in subject
    assert subject.startswith("[pm] central-asia: Quarterly")
    # The raw bytes agree: a line starting with "Bcc:" appears nowhere, header or body.
    assert b"\nBcc:" not in got.data


def test_subject_is_capped(recorder: RunningServer) -> None:
    channel_for(recorder).send([make_notice(title="word " * 200)], now=NOW, message_id="m1")
    subject = str(received(recorder)["Subject"])
    assert len(subject) <= 200 and subject.endswith("\u2026")


def test_non_ascii_subject_round_trips(recorder: RunningServer) -> None:
    channel_for(recorder).send([make_notice(title="Zürich — Ünïcödé “summit” 🚀")], now=NOW, message_id="m1")
    assert str(received(recorder)["Subject"]) == "[pm] central-asia: Zürich — Ünïcödé “summit” 🚀"


@pytest.mark.parametrize("title", [
    # Issue 23: the space after "açılış:" fell between two encoded words and decoders dropped it.
    "Astana'da Orta Asya zirvesi açılış: Almaty–Xi'an hattı için yeni anlaşmalar imzalandı ve çok daha fazlası",
    "açılış: Almaty–Xi'an",
    "中国—中亚峰会 在 西安 开幕 " * 6,
    "Ünïcödé " * 30,
    "🚀 " * 50,
    "A long ASCII title that has to be folded over several header lines because it goes on and on " * 2,
    "x" * 150,
])
def test_subjects_decode_to_exactly_the_title(recorder: RunningServer, title: str) -> None:
    """The raw message, read by the stdlib's standards-following parser, gives back the exact subject."""
    channel_for(recorder).send([make_notice(title=title)], now=NOW, message_id="m1")
    [got] = recorder.handler.messages
    expected = truncate(" ".join(f"[pm] central-asia: {title}".split()), 200)  # one line, capped
    raw = got.data if isinstance(got.data, bytes) else got.data.encode()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == expected
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if b"x" * 100 not in line), head
    assert head.isascii()


def test_every_message_names_its_channel_in_list_id(recorder: RunningServer) -> None:
    channel_for(recorder).send([make_notice()], now=NOW, message_id="m1")
    assert received(recorder)["List-Id"] == "press-monitor mail <mail.press-monitor.localhost>"
    from monitor.channels.email import list_id

    assert list_id("Ops Mail (EU)") == "press-monitor Ops-Mail-EU <Ops-Mail-EU.press-monitor.localhost>"
    assert list_id("..") == "press-monitor alerts <alerts.press-monitor.localhost>"


def test_html_mail_marks_matched_terms_instead_of_brackets(recorder: RunningServer) -> None:
    notice = make_notice(snippet="leaders of [Central] [Asia] meet <b>in</b> [Xi'an]")
    channel_for(recorder).send([notice], now=NOW, message_id="m1")
    text, html = parts(received(recorder))
    assert "leaders of [Central] [Asia] meet" in text  # plain text keeps the brackets
    assert html.count("<mark") == 3 and "<b>Central</b></mark>" in html and "<b>Xi&#x27;an</b></mark>" in html
    assert "[Central]" not in html and "&lt;b&gt;in&lt;/b&gt;" in html  # feed markup stays escaped


def test_html_part_carries_no_live_markup_from_the_feed(recorder: RunningServer) -> None:
    notice = make_notice(
        title='<script>alert("t")</script><a href="javascript:alert(2)">click</a>',
        url="javascript:alert(1)",
        snippet='<img src=x onerror="alert(3)"> <iframe src="data:text/html,x">',
        rule="<b>rule</b>",
    )
    channel_for(recorder).send([notice], now=NOW, message_id="m1")
    text, html = parts(received(recorder))
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered
    assert 'href="javascript:' not in lowered
    tags, hrefs = html_markup(html)
    assert tags <= {"html", "head", "meta", "body", "div", "h2", "a"}
    assert hrefs == []  # the only link was javascript:, so there is none
    assert "&lt;script&gt;" in html  # shown as text, not dropped
    assert "javascript:alert(1)" not in text


def test_html_links_are_only_http(recorder: RunningServer) -> None:
    notices = [
        make_notice("a", url="https://ok.example/1"),
        make_notice("b", url="data:text/html;base64,PHNjcmlwdD4="),
        make_notice("c", url='http://ok.example/2?q="><script>'),
    ]
    channel_for(recorder).send(notices, now=NOW, message_id="d", digest=True)
    _, html = parts(received(recorder))
    _, hrefs = html_markup(html)
    assert hrefs == ["https://ok.example/1", "http://ok.example/2?q=%22%3E%3Cscript%3E"]


# --------------------------------------------------------------------------- failures


def test_refused_recipient_is_permanent() -> None:
    with smtp_server(RefusingHandler()) as server:
        with pytest.raises(DeliveryError) as caught:
            channel_for(server).send([make_notice()], now=NOW, message_id="m1")
        assert server.handler.messages == []
    assert caught.value.permanent
    message = str(caught.value)
    assert "recipients refused (permanent)" in message and "550" in message and "desk@example.org" in message


def test_connection_dropped_mid_session_is_transient() -> None:
    with smtp_server(DroppingHandler()) as server:
        with pytest.raises(DeliveryError) as caught:
            channel_for(server).send([make_notice()], now=NOW, message_id="m1")
        assert server.handler.dropped == 1
    assert not caught.value.permanent
    assert re.search("closed the connection|connection lost", str(caught.value))


def test_connection_refused_is_transient() -> None:
    port = closed_port()
    with pytest.raises(DeliveryError) as caught:
        channel_for(RunningServer("127.0.0.1", port, None)).send([make_notice()], now=NOW, message_id="m1")
    assert not caught.value.permanent
    assert f"127.0.0.1:{port}" in str(caught.value) and "connection refused" in str(caught.value)


def test_silent_server_times_out_as_transient() -> None:
    with silent_server() as server:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            channel_for(server, timeout=0.3).send([make_notice()], now=NOW, message_id="m1")
        assert time.monotonic() - started < 3
    assert not caught.value.permanent
    assert "timed out after 0.3s" in str(caught.value)


def test_starttls_with_an_untrusted_certificate_fails_verification(server_ctx: ssl.SSLContext) -> None:
    with smtp_server(RecordingHandler(), tls_context=server_ctx) as server:
        with pytest.raises(DeliveryError) as caught:
            channel_for(server, security="starttls").send([make_notice()], now=NOW, message_id="m1")
        assert server.handler.messages == []
    assert not caught.value.permanent
    assert f"certificate verify failed for 127.0.0.1:{server.port}" in str(caught.value)


def test_starttls_then_login_delivers_over_tls(
    server_ctx: ssl.SSLContext, trusting_ctx: ssl.SSLContext
) -> None:
    handler = RecordingHandler()
    auth = password_authenticator("bot", "hunter2")
    with smtp_server(handler, tls_context=server_ctx, authenticator=auth, require_starttls=True) as server:
        channel = channel_for(
            server, security="starttls", username="bot", password=Secret("hunter2"), tls_context=trusting_ctx
        )
        channel.send([make_notice()], now=NOW, message_id="m1")
    [got] = handler.messages
    assert got.tls and got.authenticated
    assert got.rcpt_tos == list(TO)


def test_wrong_password_is_transient_with_a_clear_message(
    server_ctx: ssl.SSLContext, trusting_ctx: ssl.SSLContext
) -> None:
    auth = password_authenticator("bot", "hunter2")
    with smtp_server(RecordingHandler(), tls_context=server_ctx, authenticator=auth) as server:
        channel = channel_for(
            server, security="starttls", username="bot", password=Secret("wrong-pw"), tls_context=trusting_ctx
        )
        with pytest.raises(DeliveryError) as caught:
            channel.send([make_notice()], now=NOW, message_id="m1")
        assert server.handler.messages == []
    message = str(caught.value)
    assert not caught.value.permanent
    assert "authentication failed for user 'bot'" in message and "535" in message
    assert "wrong-pw" not in message


def test_starttls_refuses_to_continue_in_clear_when_not_offered(recorder: RunningServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel_for(recorder, security="starttls").send([make_notice()], now=NOW, message_id="m1")
    assert "does not offer STARTTLS" in str(caught.value)
    assert recorder.handler.messages == []


def test_implicit_tls_verifies_the_certificate(
    server_ctx: ssl.SSLContext, trusting_ctx: ssl.SSLContext
) -> None:
    with smtp_server(RecordingHandler(), ssl_context=server_ctx) as server:
        untrusting = channel_for(server, security="ssl")
        with pytest.raises(DeliveryError, match=f"certificate verify failed for 127.0.0.1:{server.port}"):
            untrusting.send([make_notice()], now=NOW, message_id="m1")
        trusting = channel_for(server, security="ssl", tls_context=trusting_ctx)
        trusting.send([make_notice()], now=NOW, message_id="m1")
        [got] = server.handler.messages
    assert got.tls


# --------------------------------------------------------------------------- configuration


def test_defaults_for_optional_keys() -> None:
    channel = build(
        ChannelSpec(
            name="mail",
            type="email",
            options=EmailOptions(host="smtp.example.org", sender="a@example.org", to=("b@x.org",)),
        )
    )
    assert isinstance(channel, EmailChannel)
    assert (channel.port, channel.security, channel.timeout) == (587, "starttls", 30.0)
    assert channel.subject_prefix == "[press-monitor]"  # subject_for() adds the space
    assert "password" not in repr(channel)




def test_a_server_dribbling_its_greeting_ends_at_the_timeout() -> None:
    """Issue 11: an SMTP server sending its greeting a byte every 0.5 s held the sender without end
    (each read got a byte in time); the session now has one overall deadline."""
    from tests.smtpservers import dribbling_server
    from tests.test_channel_webhook import finishes

    with dribbling_server(every=0.5) as server:
        channel = channel_for(server, timeout=1.0)
        error = finishes(lambda: channel.send([make_notice()], now=NOW, message_id="m1"))
    assert isinstance(error, DeliveryError)
    assert "timed out after 1s" in str(error) and not error.permanent
