"""`press-monitor alerts ...` as a user runs it: a real webhook receiver, a real feed server, the real CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.configs import Configs
from tests.feedserver import FeedServer, rss
from tests.test_cli import cli
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
