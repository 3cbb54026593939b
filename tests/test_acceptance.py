"""Issue 18's black-box acceptance on both backends: the real CLI as a subprocess, a real feed server
and webhook receiver, the archive an SQLite file or a PostgreSQL database (conftest.py: `database`).

One story a user would see: a release carried by two feeds is stored once and alerts once; its
correction is kept as a revision, matched again without a second alert, and found by search in its
new words; bad input is one line naming it, never a traceback. On PostgreSQL the archive is checked
to live in the server (no file beside the config).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.store import Store
from monitor.types import Database, ServerDatabase
from tests.configs import HOOK_ENV, Configs, cli
from tests.feedserver import FeedServer, rss
from tests.polling import query
from tests.webhook_receiver import WebhookReceiver

RULES = """
[[rules]]
name = "summit"
query = "summit*"
notify = ["hook"]
[[rules]]
name = "water"
query = '"water agreement"'
notify = ["hook"]
"""


def item(guid: str, link: str, body: str, when: datetime) -> dict:
    return {"title": "Leaders open the Central Asia summit in Astana", "guid": guid, "link": link,
            "description": f"<p>ASTANA, Kazakhstan /PRNewswire/ -- {body}</p>", "pubDate": when}


def test_alerts_dedupe_revisions_search_and_bad_input_through_the_cli(
        tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver, configs: Configs,
        database: Database) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    link = "https://www.prnewswire.com/news-releases/summit-astana-302000001.html"
    first = "The five presidents met for the first time."
    # The same release on a category feed and a regional one (own guid, tracking parameters).
    feed_server.publish("/a.rss", rss([item("a-1", link, first, now - timedelta(minutes=10))]))
    feed_server.publish("/b.rss", rss([item("b-77", link + "?utm_source=rss", first, now - timedelta(minutes=10))]))
    configs.write(configs.feed("Wire A", feed_server.url("/a.rss"), "1m")
                  + configs.feed("Wire B", feed_server.url("/b.rss"), "1m"), hook=receiver.url, rules=RULES)

    run = cli("run", "--once", cwd=tmp_path, check=True, env=HOOK_ENV)
    assert "alerts: 1 sent" in run.stdout, run.stdout
    assert [d.json["data"]["rule"] for d in receiver.deliveries] == ["summit"]  # once, not once per feed
    hits = json.loads(cli("search", "summit*", "--json", cwd=tmp_path, check=True).stdout)
    assert len(hits) == 1
    rid = hits[0]["id"]
    shown = cli("show", str(rid), cwd=tmp_path, check=True).stdout
    assert "Wire A" in shown and "Wire B" in shown  # two sightings of one release

    # The wire corrects the release: a revision, matched by a new rule, the first rule not alerting again.
    corrected = "The five presidents met for the first time and signed a water agreement."
    feed_server.publish("/a.rss", rss([item("a-1", link, corrected, now - timedelta(minutes=10))]))
    again = cli("run", "--once", "--force", cwd=tmp_path, check=True, env=HOOK_ENV)
    assert "alerts: 1 sent" in again.stdout, again.stdout
    assert [d.json["data"]["rule"] for d in receiver.deliveries] == ["summit", "water"]
    found = json.loads(cli("search", '"water agreement"', "--json", cwd=tmp_path, check=True).stdout)
    assert [h["id"] for h in found] == [rid]
    assert json.loads(cli("search", "summit*", "--json", cwd=tmp_path, check=True).stdout)[0]["id"] == rid
    shown = cli("show", str(rid), cwd=tmp_path, check=True).stdout
    assert "signed a water agreement" in shown and "earlier versions (1):" in shown  # the text now, one before

    bad = cli("search", "summit AND", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "syntax error" in bad.stderr
    unknown = cli("show", "999999", cwd=tmp_path)
    assert unknown.returncode != 0 and "999999" in unknown.stderr and "Traceback" not in unknown.stderr

    with Store(database, readonly=True) as store:
        assert query(store, "SELECT count(*) FROM releases") == [(1,)]
        assert query(store, "SELECT count(*) FROM sightings") == [(2,)]
        assert query(store, "SELECT count(*) FROM release_versions") == [(1,)]
        assert query(store, "SELECT count(*) FROM alerts") == [(2,)]
    if isinstance(database, ServerDatabase):
        assert not list(tmp_path.glob("*.db")) and not (tmp_path / "postgresql:").exists()  # in the server
