"""Issue 21, signals: one message per release per channel, and spike alerts.

Real parts: the archive on both backends (`database`), a real webhook receiver, a real aiosmtpd
server, the real feed server and poller, the CLI as a subprocess; only the clock is fake.
"""

from __future__ import annotations

import email
import email.policy
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import app as app_mod
from monitor import channels as channels_mod
from monitor import deliver
from monitor.app import App
from monitor.channel_options import ConsoleOptions, EmailOptions, WebhookOptions
from monitor.clock import ManualClock, SystemClock
from monitor.config import load
from monitor.fetch import Fetcher
from monitor.normalize import normalize
from monitor.poller import FeedPoller
from monitor.store import Store
from monitor.types import (
    ChannelSpec,
    Config,
    Database,
    Entry,
    Feed,
    RuleSpec,
    Secret,
    Settings,
    Spike,
    SpikeNotice,
    SpikeSpec,
)
from monitor.web import Pages
from tests.configs import HOOK_ENV, SECRET, Configs, cli
from tests.feedserver import FeedServer, rss
from tests.smtpservers import RecordingHandler, smtp_server
from tests.test_channel_webhook import check_event
from tests.webhook_receiver import WebhookReceiver

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RULES = ("asia", "summits", "xian")


@pytest.fixture
def store(database: Database):
    with Store(database) as s:
        yield s


def hook(url: str, name: str = "hook") -> ChannelSpec:
    return ChannelSpec(name=name, type="webhook", options=WebhookOptions(url=url, timeout=5.0, secret=Secret(SECRET)))


def mail(port: int) -> ChannelSpec:
    return ChannelSpec(name="mail", type="email", options=EmailOptions(
        host="127.0.0.1", port=port, security="none", sender="pm@example.org", to=("desk@example.org",), timeout=5.0))


def queue_release(store: Store, clock: ManualClock, n: int, rules: tuple[str, ...], channels: tuple[str, ...]) -> int:
    """Store a release matched by `rules`, one outbox row per rule and channel, as one poll would; return its id."""
    entry = Entry(guid=f"g{n}", link=f"https://www.prnewswire.com/news-releases/summit-{n}.html",
                  title=f"China-Central Asia Summit number {n} opens in Xi'an",
                  summary="<p>BEIJING, May 19, 2023 /PRNewswire/ -- A summit.</p>", content="", author="CGTN",
                  published=clock.now(), updated=None)
    item = normalize(entry, now=clock.now())
    with store.transaction():
        fid = store.feed_id("wire", "https://wire.example/rss")
        rid = store.insert_release(item, "wire", clock.now())
        store.add_sighting(fid, "wire", rid, item, clock.now())
        add_rules(store, clock, rid, rules, channels)
    return rid


def add_rules(store: Store, clock: ManualClock, rid: int, rules: tuple[str, ...], channels: tuple[str, ...]) -> None:
    with store.transaction():
        for rule in rules:
            store.add_match(rid, rule, f"the [{rule}] snippet", clock.now())
            for channel in channels:
                store.add_alert(rid, rule, channel, clock.now())


def drain(store: Store, clock: ManualClock, *specs: ChannelSpec) -> deliver.Report:
    with channels_mod.ChannelSet({s.name: s for s in specs}) as chans:
        return deliver.drain(store, chans, {s.name: s for s in specs}, clock, rng=random.Random(1))


# --------------------------------------------------------------------------- one message per release per channel


def test_a_release_matching_three_rules_is_one_webhook_call_and_one_email(store: Store,
                                                                           receiver: WebhookReceiver) -> None:
    clock = ManualClock(NOW)
    rid = queue_release(store, clock, 1, RULES, ("hook", "mail"))
    other = queue_release(store, clock, 2, ("asia",), ("hook",))  # another release: its own message
    with smtp_server(RecordingHandler()) as server:
        report = drain(store, clock, hook(receiver.url), mail(server.port))
        messages = server.handler.messages
    assert report == deliver.Report(sent=7)  # the outbox still counts one alert per (release, rule, channel)

    first, second = receiver.deliveries
    rows = {r.rule: r for r in store.release_alerts(rid) if r.channel == "hook"}
    assert first.verified is True
    assert first.headers["webhook-id"] == rows["asia"].alert_id == first.json["data"]["alert_id"]
    data = first.json["data"]
    assert [m["rule"] for m in data["matches"]] == list(RULES)
    assert [m["alert_id"] for m in data["matches"]] == [rows[r].alert_id for r in RULES]
    assert [m["snippet"] for m in data["matches"]] == [f"the [{r}] snippet" for r in RULES]
    assert data["release"]["id"] == rid and (data["rule"], data["snippet"]) == ("asia", "the [asia] snippet")
    check_event(first.json)
    assert second.json["data"]["release"]["id"] == other
    assert [m["rule"] for m in second.json["data"]["matches"]] == ["asia"]

    [message] = messages
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert parsed["Subject"] == "[press-monitor] asia, summits, xian: China-Central Asia Summit number 1 opens in Xi'an"
    mail_rows = {r.rule: r for r in store.release_alerts(rid) if r.channel == "mail"}
    assert parsed["Message-ID"] == f"<{mail_rows['asia'].alert_id}@press-monitor>"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    for rule in RULES:
        assert f"  {rule}: the [{rule}] snippet" in text
        assert f"<b>{rule}</b>: the <mark" in html
    assert text.count("China-Central Asia Summit number 1") == 1


def test_a_failed_group_is_retried_whole_under_the_same_id(store: Store, receiver: WebhookReceiver) -> None:
    clock = ManualClock(NOW)
    rid = queue_release(store, clock, 1, RULES, ("hook",))
    receiver.fail(1)
    spec = hook(receiver.url)
    assert drain(store, clock, spec) == deliver.Report(retrying=3)
    rows = store.release_alerts(rid)
    group = rows[0].alert_id
    assert {r.group_id for r in rows} == {group} and {r.attempts for r in rows} == {1}
    # A rule that matches the release later (its page text arrived) is not slipped into the message
    # the receiver may already hold under that id: it goes out on its own.
    clock.advance(1)
    add_rules(store, clock, rid, ("late",), ("hook",))
    clock.advance(10)
    assert drain(store, clock, spec) == deliver.Report(sent=4)
    failed, *later = receiver.deliveries
    [retried] = [d for d in later if d.headers["webhook-id"] == group]
    [late] = [d for d in later if d is not retried]
    assert failed.headers["webhook-id"] == group
    assert [m["rule"] for m in failed.json["data"]["matches"]] == list(RULES)
    assert [m["rule"] for m in retried.json["data"]["matches"]] == list(RULES)
    assert late.headers["webhook-id"] != group and [m["rule"] for m in late.json["data"]["matches"]] == ["late"]
    assert {r.status for r in store.release_alerts(rid)} == {"sent"}


def test_a_release_cut_by_the_batch_end_still_goes_out_as_one_message(store: Store, receiver: WebhookReceiver) -> None:
    clock = ManualClock(NOW)
    ids = [queue_release(store, clock, n, RULES, ("hook",)) for n in range(1, 4)]  # 9 rows
    spec = hook(receiver.url)
    with channels_mod.ChannelSet({"hook": spec}) as chans:
        report = deliver.drain(store, chans, {"hook": spec}, clock, rng=random.Random(1), batch=4)
    assert report == deliver.Report(sent=9)
    assert [d.json["data"]["release"]["id"] for d in receiver.deliveries] == ids
    assert all(len(d.json["data"]["matches"]) == 3 for d in receiver.deliveries)


def test_digests_still_list_one_alert_per_rule(store: Store, receiver: WebhookReceiver) -> None:
    from monitor import config

    clock = ManualClock(NOW)
    rid = queue_release(store, clock, 1, RULES, ("hook",))
    spec = ChannelSpec(name="hook", type="webhook", digest=config.digest("1h", "digest"),
                       options=WebhookOptions(url=receiver.url, timeout=5.0, secret=Secret(SECRET)))
    assert drain(store, clock, spec) == deliver.Report(waiting=3)
    clock.advance(3601)
    receiver.fail(1)
    assert drain(store, clock, spec) == deliver.Report(retrying=3)
    assert {r.group_id for r in store.release_alerts(rid)} == {None}  # a digest is bound by digest_id
    clock.advance(10)
    assert drain(store, clock, spec) == deliver.Report(sent=3)
    failed, digest = receiver.deliveries
    assert failed.headers["webhook-id"] == digest.headers["webhook-id"]
    assert digest.json["type"] == "release.digest"
    assert [a["rule"] for a in digest.json["data"]["alerts"]] == list(RULES)


@pytest.mark.slow
def test_cli_run_once_sends_one_webhook_call_for_a_release_matching_three_rules(
        database: Database, configs: Configs, feed_server: FeedServer, receiver: WebhookReceiver,
        tmp_path: Path) -> None:
    now = datetime.now(UTC)
    feed_server.publish("/wire.rss", rss([
        {"title": "China-Central Asia Summit opens in Xi'an", "guid": "g1", "link": "https://wire.example/summit-1",
         "description": "<p>BEIJING, May 19, 2023 /PRNewswire/ -- Leaders of Central Asia meet in Xi'an.</p>",
         "pubDate": now - timedelta(minutes=5)},
        {"title": "Acme opens a plant", "guid": "g2", "link": "https://wire.example/acme-2",
         "description": "<p>A plant in Central Asia.</p>", "pubDate": now - timedelta(minutes=4)}]))
    rules = "".join(f'[[rules]]\nname = "{name}"\nquery = \'{query}\'\nnotify = ["hook"]\n\n'
                    for name, query in (("asia", '"central asia"'), ("summits", "summit*"), ("xian", "leaders")))
    config = configs.write(configs.feed("wire", feed_server.url("/wire.rss"), "5m"), hook=receiver.url, rules=rules)
    done = cli("--config", str(config), "run", "--once", cwd=tmp_path, env=HOOK_ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    by_title = {d.json["data"]["release"]["title"]: d for d in receiver.deliveries}
    assert len(receiver.deliveries) == 2, [d.json for d in receiver.deliveries]
    summit = by_title["China-Central Asia Summit opens in Xi'an"]
    assert [m["rule"] for m in summit.json["data"]["matches"]] == ["asia", "summits", "xian"]
    assert summit.verified is True
    assert [m["rule"] for m in by_title["Acme opens a plant"].json["data"]["matches"]] == ["asia"]
    for d in receiver.deliveries:
        check_event(d.json)
    shown = cli("--config", str(config), "alerts", cwd=tmp_path, check=True)
    assert shown.stdout.count("sent") >= 4  # the outbox lists every (release, rule) alert


# --------------------------------------------------------------------------- spikes


def poller_for(database: Database, tmp_path: Path, rules: list[RuleSpec], clock: ManualClock,
               fetcher: Fetcher) -> FeedPoller:
    settings = Settings(database=database, timeout=2.0)
    config = Config(path=tmp_path / "config.toml", settings=settings, rules=tuple(rules),
                    channels={"hook": ChannelSpec("hook", "console", options=ConsoleOptions())})
    return FeedPoller(App(config), clock=clock, fetcher=fetcher)


def recall(n: int, published: datetime) -> dict:
    return {"title": f"Acme recalls heater model {n}", "guid": f"recall-{n}",
            "link": f"https://www.prnewswire.com/news-releases/recall-{n}.html",
            "description": f"<p>NEW YORK /PRNewswire/ -- Acme recalls its model {n} heaters.</p>", "pubDate": published}


class History:
    """A feed of recalls: 2 a day over the 14 days before NOW's day, then whatever today brings."""

    def __init__(self, server: FeedServer, clock: ManualClock) -> None:
        self.server, self.clock = server, clock
        start = NOW - timedelta(days=15)
        self.items = [recall(n, start + timedelta(days=n // 2, hours=3 + n % 2)) for n in range(28)]

    def today(self, count: int) -> None:
        base = len(self.items)
        self.items += [recall(base + i, self.clock.now() - timedelta(minutes=30 + i)) for i in range(count)]
        self.server.publish("/recalls.rss", rss(self.items[::-1]))


@pytest.fixture
def fetcher():
    f = Fetcher(user_agent="test", timeout=2.0, max_bytes=5_000_000, clock=SystemClock())
    yield f
    f.close()


def spike_rows(store: Store) -> list:
    return [r for r in store.alerts(limit=1000) if r.spike_id is not None]


def test_a_spike_over_a_15_day_history_alerts_once_per_window(database: Database, tmp_path: Path,
                                                                feed_server: FeedServer, fetcher: Fetcher,
                                                                receiver: WebhookReceiver, configs: Configs) -> None:
    clock = ManualClock(NOW)
    rule = RuleSpec("recalls", "recall*", notify=("hook",), spike=SpikeSpec(factor=3, min=5))
    poller = poller_for(database, tmp_path, [rule], clock, fetcher)
    feed = Feed(name="recalls", url=feed_server.url("/recalls.rss"), interval=60)
    history = History(feed_server, clock)
    with Store(database) as store:
        history.today(3)  # 3 today against a baseline of 2 a day: no spike
        list(poller.round(store, [feed]))
        assert spike_rows(store) == []
        clock.advance(600)
        history.today(3)  # 6 today = 3 x 2 and >= 5: a spike
        list(poller.round(store, [feed]))
        [row] = spike_rows(store)
        assert (row.rule, row.channel, row.title) == ("recalls", "hook", "spike: 6 matches")
        clock.advance(600)
        history.today(4)  # 10 today: still the same window, no second alert
        list(poller.round(store, [feed]))
        assert len(spike_rows(store)) == 1
        [spike] = store.spikes("recalls", since=NOW - timedelta(days=1))
        assert (spike.count, spike.baseline, spike.factor, spike.min) == (6, 2.0, 3.0, 5)

        report = drain(store, clock, hook(receiver.url))
        events = [d.json for d in receiver.deliveries if d.json["type"] == "rule.spike"]
        assert report.sent >= 1 and len(events) == 1
        [event] = events
        check_event(event)
        [sent] = [d for d in receiver.deliveries if d.json["type"] == "rule.spike"]
        assert sent.headers["webhook-id"] == row.alert_id == event["data"]["alert_id"]
        data = event["data"]
        assert (data["rule"], data["count"], data["baseline"]) == ("recalls", 6, 2.0)
        assert (data["factor"], data["min"]) == (3.0, 5)
        assert data["window"]["seconds"] == 86400
        assert len(data["releases"]) == 5 and all("recalls heater" in r["title"] for r in data["releases"])

        # The rule's web page draws the baseline over its chart and lists the spike.
        cfg = configs.write("", rules='[channels.hook]\ntype = "console"\n\n[[rules]]\nname = "recalls"\n'
                            'query = "recall*"\nnotify = ["hook"]\nspike = { factor = 3, min = 5 }\n')
        status, body = Pages(app_mod.load(cfg), ManualClock(clock.now())).rule("recalls", {})
        page = body.decode()
        assert status == 200 and '<line class="baseline"' in page and "Recent spikes" in page
        assert "a spike alerts at 3× that" in page and "days in red had a spike alert" in page

        # A day later the window has moved on: a new jump alerts again.
        clock.advance(86400)
        history.today(12)
        list(poller.round(store, [feed]))
        assert len(spike_rows(store)) == 2


@pytest.mark.parametrize(("today", "spike"), [(4, SpikeSpec(factor=1, min=5)), (5, SpikeSpec(factor=3, min=5))],
                         ids=["below-min", "below-factor-x-baseline"])
def test_no_spike_below_min_or_below_factor_times_baseline(database: Database, tmp_path: Path,
                                                          feed_server: FeedServer, fetcher: Fetcher,
                                                          today: int, spike: SpikeSpec) -> None:
    clock = ManualClock(NOW)
    rule = RuleSpec("recalls", "recall*", notify=("hook",), spike=spike)
    poller = poller_for(database, tmp_path, [rule], clock, fetcher)
    history = History(feed_server, clock)
    history.today(today)  # below-min: 4 < 5 (factor 1: 4 >= 2); below factor: 5 < 3 x 2
    with Store(database) as store:
        list(poller.round(store, [Feed(name="recalls", url=feed_server.url("/recalls.rss"), interval=60)]))
        assert store.spike_counts("recalls", NOW - timedelta(days=15), NOW - timedelta(days=1)) == (today, 28)
        assert spike_rows(store) == []
        assert store.spikes("recalls", since=NOW - timedelta(days=30)) == []


def test_spike_settings_are_validated_naming_the_key(tmp_path: Path) -> None:
    from monitor.errors import ConfigError

    base = '[monitor]\ndatabase = "a.db"\n[channels.c]\ntype = "console"\n[[rules]]\nname = "r"\nquery = "x"\n'
    cases = {
        "spike = 3": "rules[1].spike: expected a table",
        "spike = { factor = 0.5 }": "rules[1].spike.factor: expected a number of at least 1",
        "spike = { min = 0 }": "rules[1].spike.min: expected a whole number of matches, at least 1",
        'spike = { window = "10m" }': 'rules[1].spike.window: the window must be between "1h" and "7d"',
        'spike = { window = "2 fortnights" }': "rules[1].spike.window:",
        "spike = { factr = 3 }": "rules[1].spike.factr: unknown key (did you mean",
    }
    for line, message in cases.items():
        path = tmp_path / "config.toml"
        path.write_text(base + line + "\n")
        with pytest.raises(ConfigError) as caught:
            load(path)
        assert message in str(caught.value), (line, str(caught.value))
    path = tmp_path / "config.toml"
    path.write_text(base + 'spike = { factor = 2.5, min = 3, window = "12h" }\n')
    assert load(path).rules[0].spike == SpikeSpec(factor=2.5, min=3, window=43200.0)
    path.write_text(base)
    assert load(path).rules[0].spike is None
    assert sys.version_info >= (3, 11)


# --------------------------------------------------------------------------- every format


def spike_notice() -> SpikeNotice:
    from tests.test_channel_console import make_notice

    release = make_notice(title="Acme recalls heaters <b>now</b>").release
    spike = Spike(rule="recalls", start=NOW - timedelta(days=1), end=NOW, count=14, baseline=2.5, factor=3.0, min=5,
                  release_ids=(release.id,))
    return SpikeNotice(alert_id="pm-x-12", channel="hook", spike=spike, releases=(release,))


@pytest.mark.parametrize("fmt", ["json", "slack", "discord"])
def test_each_webhook_format_names_every_rule_and_renders_a_spike(fmt: str, receiver: WebhookReceiver) -> None:
    from monitor.channels.webhook import WebhookChannel
    from tests.test_channel_console import make_notice

    channel = WebhookChannel("hook", receiver.url, format=fmt, secret=SECRET)
    grouped = [make_notice("pm-x-1"), make_notice("pm-x-2", rule="summits", snippet="the [Summit] opens")]
    channel.send(grouped, now=NOW, message_id="pm-x-1")
    channel.send([spike_notice()], now=NOW, message_id="pm-x-12")
    group, spike = (d.body.decode() for d in receiver.deliveries)
    assert "central-asia" in group and "summits" in group and "the [Summit] opens" in group
    if fmt == "json":
        check_event(receiver.deliveries[1].json)
        assert receiver.deliveries[1].json["data"]["count"] == 14
    else:
        assert "spike: 14 matches in the last 1d (usually 2.5; alerts at 3x and at least 5)" in spike
    if fmt == "slack":
        assert "<b>" not in spike and "&lt;b&gt;" in spike  # mrkdwn control characters escaped
    channel.close()


def test_a_spike_email_says_what_jumped(tmp_path: Path) -> None:
    with smtp_server(RecordingHandler()) as server, channels_mod.ChannelSet({"mail": mail(server.port)}) as chans:
        chans["mail"].send([spike_notice()], now=NOW, message_id="pm-x-12")
        [message] = server.handler.messages
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert parsed["Subject"].startswith("[press-monitor] [recalls] spike: 14 matches in the last 1d")
    assert parsed["Message-ID"] == "<pm-x-12@press-monitor>"
    text = parsed.get_body(("plain",)).get_content()
    assert "top releases:" in text and "Acme recalls heaters" in text
    assert "&lt;b&gt;now&lt;/b&gt;" in parsed.get_body(("html",)).get_content()


def test_rules_lists_the_spike_setting_and_once_per(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[monitor]\ndatabase = "archive.db"\n[channels.c]\ntype = "console"\n'
        '[[rules]]\nname = "recalls"\nquery = "recall*"\nnotify = ["c"]\n'
        'spike = { factor = 3, min = 5, window = "12h" }\n'
        '[[rules]]\nname = "every-copy"\nquery = "summit"\nnotify = ["c"]\nonce_per = "release"\n')
    out = cli("rules", cwd=tmp_path, check=True).stdout
    assert "spike: 5+ matches in 12h and 3x the 14-day baseline" in out
    assert "once_per: release (every near-copy alerts)" in out
    assert out.count("spike:") == 1 and out.count("once_per:") == 1
