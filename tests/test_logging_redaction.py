"""The log redactor learns the secrets the channel options declare, and nothing else."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

from monitor import app as app_mod
from monitor.daemon import register_secrets
from monitor.logging_setup import REDACTOR, setup

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_none_is_not_a_secret_and_declared_secrets_are(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An unset secret option (None) was registered as the secret "None": every None in the logs
    became *** ('NoneType' logged as '***Type')."""
    monkeypatch.setenv("PM_TEST_HOOK_SECRET", SECRET)
    (tmp_path / "config.toml").write_text("""
[channels.plain]
type = "webhook"
url = "https://hooks.example.com/plain"
[channels.signed]
type = "webhook"
url = "https://hooks.slack.com/services/T0/B0/XYZTOKEN"
headers = { Authorization = "Bearer tok-12345", X-Team = "news" }
secret_env = "PM_TEST_HOOK_SECRET"
[channels.mail]
type = "email"
host = "localhost"
from = "a@example.com"
to = "b@example.com"
""")
    register_secrets(app_mod.load(tmp_path / "config.toml"))
    out = io.StringIO()
    setup("INFO", "text", stream=out, environ={"JOURNAL_STREAM": "x"})
    try:
        logging.getLogger("monitor.test").error(
            "'NoneType' object is not subscriptable; None; %s; %s; Bearer tok-12345; X-Team news; %s",
            SECRET, "https://hooks.slack.com/services/T0/B0/XYZTOKEN", "https://hooks.example.com/plain")
    finally:
        REDACTOR.set([])
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_press_monitor_handler", False)]:
            root.removeHandler(handler)
    line = out.getvalue()
    assert "'NoneType' object is not subscriptable; None;" in line and "***Type" not in line
    assert SECRET not in line and "tok-12345" not in line and "XYZTOKEN" not in line
    assert "https://hooks.slack.com/***" in line and "news" in line
