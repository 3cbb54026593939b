"""The Apprise channel against local targets Apprise supports: json:// to a real HTTP receiver,
mailto:// to a real aiosmtpd server; through the outbox and `alerts test`. No outside network."""

from __future__ import annotations

import email
import email.policy
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import channels as channels_mod
from monitor import deliver
from monitor.channel_options import AppriseOptions
from monitor.channels.apprise import AppriseChannel
from monitor.clock import ManualClock
from monitor.config import loads
from monitor.errors import ConfigError, DeliveryError
from monitor.store import Store
from monitor.types import ChannelSpec
from tests.smtpservers import RecordingHandler, closed_port, smtp_server
from tests.test_channel_console import make_notice
from tests.test_deliver import queue_alert
from tests.webhook_receiver import WebhookReceiver

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def spec(urls: str, **options: object) -> ChannelSpec:
    return ChannelSpec("phone", "apprise", options=AppriseOptions(urls=urls, **options))  # type: ignore[arg-type]


def test_json_and_mailto_targets_get_the_email_rendering() -> None:
    with WebhookReceiver() as rx, smtp_server(RecordingHandler()) as mail:
        urls = (f"json://127.0.0.1:{rx.port}/hook\n"
                f"mailto://{mail.host}:{mail.port}?from=pm@example.com&to=ops@example.com&mode=insecure")
        channel = channels_mod.build(spec(urls))
        channel.send([make_notice()], now=NOW, message_id="a1")
        [delivery] = rx.deliveries
        [message] = mail.handler.messages
    notice = make_notice()
    assert delivery.json["title"] == f"{notice.rule}: {notice.release.title}"
    assert notice.release.url in delivery.json["message"] and notice.rule in delivery.json["message"]
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert parsed["Subject"] == delivery.json["title"] and parsed["To"] == "ops@example.com"
    assert notice.release.url in parsed.get_content()


def test_a_digest_is_one_notification() -> None:
    with WebhookReceiver() as rx:
        channel = channels_mod.build(spec(f"json://127.0.0.1:{rx.port}/hook"))
        channel.send([make_notice("a1"), make_notice("a2")], now=NOW, message_id="d1", digest=True)
        [delivery] = rx.deliveries
    assert delivery.json["title"] == "2 alerts"


def test_a_failing_target_is_a_retryable_delivery_error() -> None:
    channel = channels_mod.build(spec(f"json://127.0.0.1:{closed_port()}/hook?cto=2&rto=2"))
    with pytest.raises(DeliveryError) as info:
        channel.send([make_notice()], now=NOW, message_id="a1")
    assert not info.value.permanent and "did not accept" in str(info.value)
    assert "json://" not in str(info.value)  # the URLs (credentials) are never in a message


def test_an_unknown_scheme_is_permanent_and_never_echoed() -> None:
    channel = AppriseChannel("phone", ["nosuchservice://tok3n@x"])
    with pytest.raises(DeliveryError) as info:
        channel.send([make_notice()], now=NOW, message_id="a1")
    assert info.value.permanent and "tok3n" not in str(info.value) and "tok3n" not in repr(channel)


def test_urls_only_from_the_environment_or_a_file(tmp_path: Path) -> None:
    base = "[channels.phone]\ntype = 'apprise'\n"
    with pytest.raises(ConfigError, match=r"channels.phone.urls: secrets never go in config.toml; use urls_env"):
        loads(base + "urls = 'json://x/y'\n", path=Path("config.toml"), environ={})
    with pytest.raises(ConfigError, match=r"channels.phone.urls_env: missing; give urls_env or urls_file"):
        loads(base, path=Path("config.toml"), environ={})
    (tmp_path / "urls").write_text("# phone\njson://127.0.0.1:9/a json://127.0.0.1:9/b\n")
    cfg = loads(base + f"urls_file = '{tmp_path / 'urls'}'\nformat = 'markdown'\n", path=Path("config.toml"),
                environ={})
    with channels_mod.ChannelSet(cfg.channels, environ={}) as built:
        assert set(built.redactions) == {"json://127.0.0.1:9/a", "json://127.0.0.1:9/b"}
        assert built["phone"].format == "markdown"  # type: ignore[attr-defined]
    (tmp_path / "urls").write_text("just-a-token\n")
    with pytest.raises(ConfigError, match=r"1 of 1 entries are not URLs"):
        channels_mod.ChannelSet(cfg.channels, environ={})


def test_through_the_outbox_with_retries(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    with Store(tmp_path / "a.db") as store, WebhookReceiver() as rx:
        alert = queue_alert(store, clock, 1, channel="phone")
        rx.fail(1)
        specs = {"phone": spec(f"json://127.0.0.1:{rx.port}/hook")}
        with channels_mod.ChannelSet(specs) as built:
            assert deliver.drain(store, built, specs, clock, rng=random.Random(1)) == deliver.Report(retrying=1)
            clock.advance(60)
            assert deliver.drain(store, built, specs, clock, rng=random.Random(1)) == deliver.Report(sent=1)
        assert len(rx.deliveries) == 2
        status = store.conn.execute("SELECT status, attempts FROM alerts WHERE id = ?", (alert,)).fetchone()
    assert tuple(status) == ("sent", 2)


def test_alerts_test_works_for_an_apprise_channel(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        (tmp_path / "config.toml").write_text(
            '[monitor]\ndatabase = "a.db"\n[channels.phone]\ntype = "apprise"\nurls_env = "PM_TEST_APPRISE_URLS"\n')
        env = {**os.environ, "PM_TEST_APPRISE_URLS": f"json://127.0.0.1:{rx.port}/hook"}
        done = subprocess.run([sys.executable, "-m", "monitor", "alerts", "test", "phone"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "phone: sent test alert" in done.stdout
        [delivery] = rx.deliveries
    assert delivery.json["title"] == "test: press-monitor test alert"
