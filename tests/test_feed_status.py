"""One FeedStatus, one vocabulary: `feeds`, `status` and the web view's feeds page say the same word per feed."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import app as app_mod
from monitor import schedule
from monitor.clock import ManualClock
from monitor.store import Store
from monitor.types import Feed, FeedCondition, FeedStatus
from monitor.web import Pages
from tests import configs
from tests.configs import feed_toml, write_config
from tests.feedserver import FeedServer, rss

POLLED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# Far ahead of any clock these tests run under: the feed that asked to wait is still waiting.
FAR = datetime(2099, 1, 1, tzinfo=UTC)

CONFIG = """
[monitor]
database = "archive.db"
""" + "".join(f"""
[[feeds]]
name = "{name}"
url = "https://wire.example/{name}.rss"
{extra}
""" for name, extra in [("fine", ""), ("broken", ""), ("busy", ""), ("ended", ""), ("fresh", ""),
                        ("paused", "enabled = false")])

EXPECTED = {"fine": FeedCondition.OK, "broken": FeedCondition.FAILING, "busy": FeedCondition.WAITING,
            "ended": FeedCondition.GONE, "fresh": FeedCondition.NEW, "paused": FeedCondition.OFF}


def build(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG)
    with Store(tmp_path / "archive.db") as store, store.transaction():
        ids = {name: store.feed_id(name, f"https://wire.example/{name}.rss")
               for name in ("fine", "broken", "busy", "ended", "paused", "dropped")}
        store.record_poll(ids["fine"], POLLED)
        store.record_poll(ids["dropped"], POLLED)
        store.record_poll(ids["broken"], POLLED, error="HTTP 503", error_kind="http")
        store.record_poll(ids["busy"], POLLED, error="HTTP 429", error_kind="http",
                          retry_after=(FAR - POLLED).total_seconds())
        store.record_poll(ids["ended"], POLLED, error="HTTP 410", error_kind="http")
        store.set_schedule("ended", next_poll_at=None, gone=True)
        store.record_poll(ids["paused"], POLLED)
    return cfg


def cli(*args: str, cfg: Path) -> subprocess.CompletedProcess[str]:
    return configs.cli("--config", str(cfg), *args, cwd=cfg.parent)


def test_feeds_status_and_web_use_one_word_per_feed(tmp_path: Path) -> None:
    cfg = build(tmp_path)

    table = cli("feeds", cfg=cfg).stdout.splitlines()[1:]
    from_feeds = {line.split()[-1]: line.split()[0] for line in table if not line.startswith(" ")}
    assert from_feeds == EXPECTED

    doc = json.loads(cli("status", "--json", cfg=cfg).stdout)
    assert {f["name"]: f["state"] for f in doc["feeds"]} == EXPECTED

    code, body = Pages(app_mod.load(cfg), ManualClock(POLLED)).feeds()
    assert code == 200
    rows = re.findall(r'<span class="status-(\w+)">\w+</span></td><td[^>]*><a [^>]*>([^<]+)</a>', body.decode())
    from_web = {name: word for word, name in rows}
    # The web view also lists what the archive knows but config.toml no longer names.
    assert from_web == {**EXPECTED, "dropped": FeedCondition.REMOVED}


def test_feeds_shows_a_schedule_the_feeds_ttl_stretched(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.publish("/slow.rss", rss([{"title": "A", "guid": "a", "link": "https://x.example/a"}], ttl=60))
    feed_server.publish("/plain.rss", rss([{"title": "B", "guid": "b", "link": "https://x.example/b"}]))
    cfg = write_config(tmp_path / "config.toml", feed_toml("slow", feed_server.url("/slow.rss"), interval="5m")
                       + feed_toml("plain", feed_server.url("/plain.rss"), interval="5m"))
    cli("run", "--once", cfg=cfg)
    out = cli("feeds", cfg=cfg).stdout
    lines = out.splitlines()
    slow = lines.index(next(line for line in lines if line.endswith("  slow")))
    # The <ttl> of 60 minutes stretched the 5 minute interval to about an hour (+/- the 10 % jitter).
    hint = re.fullmatch(r"\s+polled about every (?:(\d+)h)?(?:(\d+)m)?, not 5m: the feed's <ttl> or Cache-Control "
                        r"max-age asks for longer \(honoured up to 1h\)", lines[slow + 1])
    assert hint, out
    minutes = 60 * int(hint.group(1) or 0) + int(hint.group(2) or 0)  # "54m", "1h" or "1h6m"
    assert 54 <= minutes <= 66, out
    assert out.count("polled about every") == 1, out


def test_stretch_is_read_back_only_for_a_healthy_feed() -> None:
    feed = Feed(name="f", url="https://x.example/f", interval=300.0)
    row = FeedStatus(name="f", url=feed.url, last_polled_at=POLLED, next_poll_at=POLLED + timedelta(seconds=3500))
    assert schedule.stretch(feed, row) == 3500.0
    assert schedule.stretch(feed, replace(row, next_poll_at=POLLED + timedelta(seconds=330))) is None  # jitter
    assert schedule.stretch(feed, replace(row, failures=2)) is None  # backoff, not the server's hint
    assert schedule.stretch(feed, replace(row, gone=True)) is None
    assert schedule.stretch(feed, None) is None
