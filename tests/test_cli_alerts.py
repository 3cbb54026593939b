"""`press-monitor alerts ...` as a user runs it: a real webhook receiver, a real feed server, the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.configs import Configs, cli
from tests.feedserver import FeedServer, rss
from tests.webhook_receiver import Reply, WebhookReceiver


@pytest.mark.slow
def test_alerts_list_dead_retry_and_test_channel(tmp_path: Path, feed_server: FeedServer, configs: Configs) -> None:
    now = datetime.now(UTC)
    feed_server.publish("/wire.rss", rss([
        {"title": f"Summit {i}", "guid": f"g{i}", "link": f"https://wire.example/s{i}.html",
         "description": "<p>GENEVA, Nov. 27, 2026 /PRNewswire/ -- A summit.</p>",
         "pubDate": now - timedelta(minutes=5)} for i in range(2)]))
    with WebhookReceiver() as hook:
        configs.write(configs.feed("wire", feed_server.url("/wire.rss"), "5m"), hook=hook.url, signed=False)
        hook.queue(Reply(400, body=b"no"), Reply(400, body=b"no"))
        run = cli("run", "--once", cwd=tmp_path, check=True)
        assert "alerts: 0 sent, 0 to retry, 2 dead, 0 waiting" in run.stdout

        listed = cli("alerts", "--status", "dead", cwd=tmp_path, check=True).stdout
        assert listed.count("dead") == 2 and "HTTP 400" in listed and "Summit 0" in listed

        requeued = cli("alerts", "retry", "--dead", cwd=tmp_path, check=True).stdout
        assert "requeued 2 alert(s)" in requeued
        again = cli("run", "--once", cwd=tmp_path, check=True)
        assert "alerts: 2 sent" in again.stdout
        assert len({d.headers["webhook-id"] for d in hook.deliveries}) == 2  # same ids on the retry
        assert "sent" in cli("alerts", "--status", "sent", cwd=tmp_path, check=True).stdout

        ok = cli("alerts", "test", "hook", cwd=tmp_path, check=True)
        assert "hook: sent test alert" in ok.stdout
        assert hook.deliveries[-1].json["data"]["rule"] == "test"

        hook.queue(Reply(410))
        gone = cli("alerts", "test", "hook", cwd=tmp_path)
        assert gone.returncode == 1 and "gone (410)" in gone.stderr

    missing = cli("alerts", "test", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "no channel named 'nope'" in missing.stderr


# --------------------------------------------------------------------------- issues 11 and 12


def channel_config(tmp: Path, hook_url: str, extra: str = "") -> None:
    (tmp / "config.toml").write_text(f"""
[monitor]
database = "a.db"
[[rules]]
name = "summits"
query = "summit*"
notify = ["hook"]
[channels.hook]
type = "webhook"
url = "{hook_url}"
{extra}
""")


def queue_alerts(tmp: Path, n: int, channel: str = "hook") -> None:
    """Queue n due alerts in the archive, as polls would have."""
    from monitor.clock import ManualClock
    from monitor.store import Store
    from tests.test_deliver import queue_alert

    clock = ManualClock(datetime.now(UTC) - timedelta(minutes=1))
    with Store(tmp / "a.db") as store:
        for i in range(1, n + 1):
            queue_alert(store, clock, i, channel=channel)


def test_alerts_enable_an_unknown_channel_exits_2_with_did_you_mean(tmp_path: Path) -> None:
    channel_config(tmp_path, "http://127.0.0.1:9/hook")
    done = cli("alerts", "enable", "hok", cwd=tmp_path)
    assert done.returncode == 2
    assert "no channel named 'hok'" in done.stderr and 'did you mean "hook"' in done.stderr
    assert cli("alerts", "enable", "hook", cwd=tmp_path, check=True).stdout.strip() == "channel hook was not disabled"


def test_read_only_commands_work_when_a_channel_secret_is_unset(tmp_path: Path) -> None:
    """Issue 12: secrets are read only by what sends; `search` and `alerts` must not need them."""
    channel_config(tmp_path, "http://127.0.0.1:9/hook", 'secret_env = "PM_TEST_SURELY_UNSET_SECRET"')
    queue_alerts(tmp_path, 1)
    assert "Summit number 1" in cli("alerts", cwd=tmp_path, check=True).stdout
    assert "Summit number 1" in cli("search", "summit", cwd=tmp_path, check=True).stdout
    from urllib.request import urlopen

    from tests.test_web import start_server, stop_server, text

    proc, url = start_server(tmp_path / "config.toml")
    try:
        with urlopen(url + "?q=summit", timeout=30) as page:
            assert page.status == 200 and "Summit number 1" in text(page.read().decode())  # title highlighted
    finally:
        stop_server(proc)
    for sender in (("run", "--once"), ("alerts", "test", "hook"), ("check",)):
        done = cli(*sender, cwd=tmp_path)
        assert done.returncode == 2, sender
        assert "channels.hook.secret_env: the environment variable PM_TEST_SURELY_UNSET_SECRET is not set" in (
            done.stderr), sender
        assert "Traceback" not in done.stderr


def test_run_once_drains_the_whole_due_outbox(tmp_path: Path) -> None:
    """Issue 11: `run --once` sent at most 1,000 alerts and exited 0 with the rest pending."""
    with WebhookReceiver() as hook:
        channel_config(tmp_path, hook.url)
        queue_alerts(tmp_path, 1100)
        done = cli("run", "--once", cwd=tmp_path, check=True)
        assert "alerts: 1100 sent, 0 to retry, 0 dead, 0 waiting" in done.stdout
        assert len(hook.deliveries) == 1100


def test_run_once_says_how_many_due_alerts_are_left_and_exits_non_zero(tmp_path: Path) -> None:
    from monitor.store import Store

    with WebhookReceiver() as hook:
        channel_config(tmp_path, hook.url)
        queue_alerts(tmp_path, 2)
        with Store(tmp_path / "a.db") as store, store.transaction():
            store.disable_channel("hook", "HTTP 410 Gone", datetime.now(UTC))
        done = cli("run", "--once", cwd=tmp_path)
        assert done.returncode == 1
        assert "alerts: 2 due alert(s) not sent: their channel is disabled or not configured" in done.stderr
        assert hook.deliveries == []


def test_status_shows_a_channels_consecutive_failures(tmp_path: Path) -> None:
    with WebhookReceiver() as hook:
        channel_config(tmp_path, hook.url)
        queue_alerts(tmp_path, 1)
        hook.fail(1)
        cli("run", "--once", cwd=tmp_path, check=True)
    text = cli("status", cwd=tmp_path).stdout
    assert "channel   hook: 1 consecutive failure(s) since" in text and "HTTP 500" in text
    data = json.loads(cli("status", "--json", cwd=tmp_path).stdout)
    assert data["channels"] == [{"name": "hook", "consecutive_failures": 1, "failing_since": data["channels"][0][
        "failing_since"], "last_error": data["channels"][0]["last_error"]}]
    assert "HTTP 500" in data["channels"][0]["last_error"]
