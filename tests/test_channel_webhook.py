"""Webhook channel against a real HTTP receiver that verifies Standard Webhooks signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitor.channel_options import WebhookOptions
from monitor.channels import WebhookChannel, build
from monitor.channels.webhook import decode_secret, sign
from monitor.errors import DeliveryError
from monitor.retry_after import MAX_RETRY_AFTER
from monitor.retry_after import retry_after as parse_retry_after
from monitor.types import ChannelSpec, Secret
from tests.smtpservers import closed_port
from tests.test_channel_console import make_notice
from tests.webhook_receiver import Reply, SignatureInvalid, WebhookReceiver, verify_standard_webhook

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def clock() -> dict[str, datetime]:
    """The fake 'now' shared by the channel (argument) and the receiver (tolerance check)."""
    return {"now": NOW}


@pytest.fixture
def receiver(clock: dict[str, datetime]) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET, clock=lambda: clock["now"].timestamp()) as rx:
        yield rx


def webhook(url: str, **options: object) -> WebhookChannel:
    """Return a webhook channel built from options; signed with SECRET unless secret=None."""
    options.setdefault("secret", Secret(SECRET))
    if options["secret"] is None:
        del options["secret"]
    spec = ChannelSpec(name="hook", type="webhook", options=WebhookOptions(url=url, **options))  # type: ignore[arg-type]
    channel = build(spec)
    assert isinstance(channel, WebhookChannel)
    return channel


# --------------------------------------------------------------------------- signing


def test_signature_reproduces_the_standard_webhooks_test_vector() -> None:
    # Published with the specification's reference libraries: proves interoperability, which a
    # round trip through our own receiver alone could not.
    body = b'{"test": 2432232314}'
    signature = sign(decode_secret(SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,bm9wZQ== " + signature,
    }
    verify_standard_webhook(SECRET, headers, body, now=1614265330)
    with pytest.raises(SignatureInvalid):
        verify_standard_webhook(SECRET, headers, body + b" ", now=1614265330)
    with pytest.raises(SignatureInvalid, match="tolerance"):
        verify_standard_webhook(SECRET, headers, body, now=1614265330 + 301)


# --------------------------------------------------------------------------- json format


def test_json_alert_is_delivered_signed_with_the_documented_shape(receiver: WebhookReceiver) -> None:
    channel = webhook(receiver.url, secret=Secret(SECRET), headers={"X-Team": "desk"})
    notice = make_notice("alert-7f3a")
    channel.send([notice], now=NOW, message_id=notice.alert_id)

    [delivery] = receiver.deliveries
    assert delivery.verified is True, delivery.reason
    assert delivery.answered == 200
    assert delivery.headers["webhook-id"] == "alert-7f3a"
    assert delivery.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["user-agent"].startswith("press-monitor")
    assert delivery.headers["x-team"] == "desk"
    assert delivery.json == {
        "type": "release.matched",
        "timestamp": "2026-11-27T18:00:00Z",
        "data": {
            "alert_id": "alert-7f3a",
            "rule": "central-asia",
            "channel": "newsroom",
            "snippet": "leaders of [Central] [Asia] meet in Xi'an",
            "matches": [{"alert_id": "alert-7f3a", "rule": "central-asia",
                         "snippet": "leaders of [Central] [Asia] meet in Xi'an"}],
            "release": {
                "id": 42,
                "title": "China-Central Asia Summit opens in Xi'an",
                "url": "https://www.prnewswire.com/news-releases/summit-301.html",
                "published": "2023-05-11T08:00:00Z",
                "first_seen": "2023-05-11T08:05:30Z",
                "author": "CGTN",
                "summary": "Leaders of five Central Asian states meet.",
                "dateline": {"place": "BEIJING", "date": "2023-05-11", "wire": "PRNewswire"},
                "tickers": [],
                "sources": [
                    {"feed": "PR Newswire: all", "url": "https://www.prnewswire.com/rss/all.rss"},
                    {"feed": "PR Newswire: asia", "url": "https://www.prnewswire.com/rss/asia.rss"},
                ],
            },
        },
    }


def test_the_body_sent_is_exactly_the_body_rendered_and_signed(receiver: WebhookReceiver) -> None:
    channel = webhook(receiver.url, secret=SECRET)
    notice = make_notice(title="Ünïcödé “quotes” — and emoji 🚀")
    channel.send([notice], now=NOW, message_id="m1")
    assert receiver.deliveries[0].body == channel.render([notice], now=NOW)
    assert receiver.deliveries[0].verified is True
    assert receiver.deliveries[0].json["data"]["release"]["title"] == "Ünïcödé “quotes” — and emoji 🚀"


def test_missing_dateline_is_null_and_unsafe_links_are_blanked(receiver: WebhookReceiver) -> None:
    notice = make_notice(dateline=None, url="javascript:alert(1)")
    webhook(receiver.url).send([notice], now=NOW, message_id="m1")
    release = receiver.deliveries[0].json["data"]["release"]
    assert release["dateline"] is None
    assert release["url"] is None  # what the release lacks is null, as in the JSON API


# --------------------------------------------------------------------------- the published schema


def event_schema() -> dict:
    """The JSON Schema shipped in the package (monitor/channels/webhook-events.schema.json)."""
    from importlib.resources import files

    from monitor.channels.render import WEBHOOK_SCHEMA

    return json.loads(files("monitor.channels").joinpath(WEBHOOK_SCHEMA).read_text(encoding="utf-8"))


def check_event(event: dict) -> None:
    """Fail unless `event` is valid under the shipped schema, which must name its type."""
    import jsonschema

    schema = event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(event)
    assert {"$ref": f"#/$defs/{event['type']}"} in schema["oneOf"], event["type"]


def test_every_event_a_real_receiver_gets_matches_the_published_schema(receiver: WebhookReceiver) -> None:
    """release.matched, release.digest and release.test as delivered (issue 23), odd releases included."""
    import jsonschema

    from monitor.cli.alerts import sample_notice
    from monitor.types import Source

    hook = webhook(receiver.url, secret=SECRET)
    odd = make_notice("pm-4a0f9ab9-7", dateline=None, url="javascript:alert(1)",
                      sources=(Source("no link", "ftp://x"),))
    odd = odd.__class__(**{**odd.__dict__, "release": odd.release.__class__(
        **{**odd.release.__dict__, "author": "", "tickers": ("NYSE:ABC",)})})
    hook.send([make_notice("pm-4a0f9ab9-6")], now=NOW, message_id="pm-4a0f9ab9-6")
    hook.send([odd], now=NOW, message_id="pm-4a0f9ab9-7")
    hook.send([make_notice(f"pm-4a0f9ab9-{i}", release_id=i) for i in (8, 9)], now=NOW, message_id="d",
              digest=True)
    test = sample_notice("newsroom", NOW)
    hook.send([test], now=NOW, message_id=test.alert_id)
    events = [d.json for d in receiver.deliveries]
    assert [e["type"] for e in events] == ["release.matched", "release.matched", "release.digest", "release.test"]
    for event in events:
        check_event(event)
    assert events[1]["data"]["release"]["author"] is None and events[1]["data"]["release"]["url"] is None
    assert events[1]["data"]["release"]["sources"] == [{"feed": "no link", "url": None}]
    # The schema is not a blank cheque: a body missing a key or with an unknown type fails it.
    broken = json.loads(json.dumps(events[0]))
    del broken["data"]["release"]["published"]
    with pytest.raises(jsonschema.ValidationError):
        check_event(broken)
    with pytest.raises(jsonschema.ValidationError):
        check_event({**events[0], "type": "release.unknown"})


def test_the_readme_shows_every_event_type_with_a_valid_example() -> None:
    """Each event type in the schema has a JSON example in the README's webhook section, valid under it."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(\{\n  \"type\": \"(?:release|rule)\..*?)```", readme, re.DOTALL)
    examples = [json.loads(block) for block in blocks]
    types = {ref["$ref"].rsplit("/", 1)[1] for ref in event_schema()["oneOf"]}
    assert {e["type"] for e in examples} == types
    for example in examples:
        check_event(example)


def test_json_digest_bundles_every_alert(receiver: WebhookReceiver) -> None:
    notices = [make_notice(f"a{i}", rule=f"rule-{i}", release_id=i) for i in range(3)]
    webhook(receiver.url, secret=SECRET).send(notices, now=NOW, message_id="digest-2026-11-27", digest=True)
    [delivery] = receiver.deliveries
    assert delivery.verified is True
    assert delivery.headers["webhook-id"] == "digest-2026-11-27"
    assert delivery.json["type"] == "release.digest"
    assert delivery.json["timestamp"] == "2026-11-27T18:00:00Z"
    assert delivery.json["data"]["channel"] == "newsroom"
    alerts = delivery.json["data"]["alerts"]
    assert [a["alert_id"] for a in alerts] == ["a0", "a1", "a2"]
    assert [a["rule"] for a in alerts] == ["rule-0", "rule-1", "rule-2"]
    assert [a["release"]["id"] for a in alerts] == [0, 1, 2]
    assert set(alerts[0]) == {"alert_id", "rule", "snippet", "release"}
    check_event(delivery.json)


def test_without_a_secret_the_id_travels_but_nothing_is_signed() -> None:
    with WebhookReceiver() as rx:
        webhook(rx.url, secret=None).send([make_notice()], now=NOW, message_id="alert-1")
        headers = rx.deliveries[0].headers
    assert headers["webhook-id"] == "alert-1"
    assert "webhook-signature" not in headers


def test_wrong_secret_is_rejected_by_the_receiver_and_permanent(receiver: WebhookReceiver) -> None:
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    with pytest.raises(DeliveryError) as caught:
        webhook(receiver.url, secret=other).send([make_notice()], now=NOW, message_id="m1")
    assert receiver.deliveries[0].verified is False
    assert caught.value.permanent and not caught.value.gone
    assert "401" in str(caught.value)
    assert "QUJD" not in str(caught.value)  # the secret never appears in a message


# --------------------------------------------------------------------------- retries and statuses


def test_failures_then_success_keep_the_same_webhook_id_with_fresh_signatures(
    receiver: WebhookReceiver, clock: dict[str, datetime]
) -> None:
    receiver.fail(2)
    channel = webhook(receiver.url, secret=SECRET)
    notice = make_notice("alert-retry")
    for attempt in range(2):
        with pytest.raises(DeliveryError) as caught:
            channel.send([notice], now=clock["now"], message_id=notice.alert_id)
        assert not caught.value.permanent, attempt
        assert "HTTP 500" in str(caught.value)
        clock["now"] += timedelta(minutes=5)  # the caller retries later with the same id
    channel.send([notice], now=clock["now"], message_id=notice.alert_id)

    assert [d.answered for d in receiver.deliveries] == [500, 500, 200]
    assert {d.headers["webhook-id"] for d in receiver.deliveries} == {"alert-retry"}
    assert all(d.verified for d in receiver.deliveries)
    stamps = [int(d.headers["webhook-timestamp"]) for d in receiver.deliveries]
    assert stamps == [int(NOW.timestamp()) + 300 * i for i in range(3)]


def test_429_with_retry_after_seconds(receiver: WebhookReceiver) -> None:
    receiver.queue(Reply(429, {"Retry-After": "120"}))
    with pytest.raises(DeliveryError) as caught:
        webhook(receiver.url).send([make_notice()], now=NOW, message_id="m1")
    assert not caught.value.permanent
    assert caught.value.retry_after == 120
    assert "429" in str(caught.value)


def test_429_with_retry_after_http_date_is_relative_to_now(receiver: WebhookReceiver) -> None:
    receiver.queue(Reply(429, {"Retry-After": format_datetime(NOW + timedelta(seconds=90), usegmt=True)}))
    with pytest.raises(DeliveryError) as caught:
        webhook(receiver.url).send([make_notice()], now=NOW, message_id="m1")
    assert caught.value.retry_after == 90


def test_503_honours_retry_after_and_408_is_transient(receiver: WebhookReceiver) -> None:
    receiver.queue(Reply(503, {"Retry-After": "30"}), Reply(408))
    channel = webhook(receiver.url)
    with pytest.raises(DeliveryError) as first:
        channel.send([make_notice()], now=NOW, message_id="m1")
    assert (first.value.permanent, first.value.retry_after) == (False, 30)
    with pytest.raises(DeliveryError) as second:
        channel.send([make_notice()], now=NOW, message_id="m1")
    assert (second.value.permanent, second.value.retry_after) == (False, None)


def test_410_gone_disables_the_channel(receiver: WebhookReceiver) -> None:
    receiver.queue(Reply(410))
    with pytest.raises(DeliveryError) as caught:
        webhook(receiver.url).send([make_notice()], now=NOW, message_id="m1")
    assert caught.value.gone and caught.value.permanent
    assert "410" in str(caught.value) and "disabled until it is re-enabled" in str(caught.value)


def test_other_4xx_is_permanent_and_quotes_the_body(receiver: WebhookReceiver) -> None:
    receiver.queue(Reply(400, body=b"missing field\r\n\x1b[31mred"))
    with pytest.raises(DeliveryError) as caught:
        webhook(receiver.url).send([make_notice()], now=NOW, message_id="m1")
    assert caught.value.permanent and not caught.value.gone
    assert "HTTP 400" in str(caught.value) and "missing field" in str(caught.value)
    assert "\x1b" not in str(caught.value) and "\n" not in str(caught.value)


def test_redirect_is_not_followed_and_is_a_permanent_failure(receiver: WebhookReceiver) -> None:
    target = receiver.url.replace("/hook", "/elsewhere")
    receiver.queue(Reply(302, {"Location": target}))
    with pytest.raises(DeliveryError) as caught:
        webhook(receiver.url, secret=SECRET).send([make_notice()], now=NOW, message_id="m1")
    assert caught.value.permanent
    assert "302" in str(caught.value) and target in str(caught.value)
    assert [d.path for d in receiver.deliveries] == ["/hook"]  # nothing went to the redirect target


def test_a_receiver_that_hangs_times_out_as_transient() -> None:
    with WebhookReceiver() as rx:
        rx.queue(Reply(200, delay=5.0))
        channel = webhook(rx.url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            channel.send([make_notice()], now=NOW, message_id="m1")
        elapsed = time.monotonic() - started
    assert not caught.value.permanent
    assert "timed out after 0.5s" in str(caught.value)
    assert elapsed < 3


def test_connection_refused_is_transient_and_hides_the_url_path() -> None:
    url = f"http://127.0.0.1:{closed_port()}/services/T000/B000/SECRETTOKEN"
    with pytest.raises(DeliveryError) as caught:
        webhook(url).send([make_notice()], now=NOW, message_id="m1")
    message = str(caught.value)
    assert not caught.value.permanent
    assert "connection refused" in message
    assert "SECRETTOKEN" not in message and "127.0.0.1" in message


def test_retry_after_parsing_edges() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("0", NOW) == 0
    assert parse_retry_after(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0
    assert parse_retry_after("99999999999", NOW) == MAX_RETRY_AFTER == 86400  # one cap for feeds, pages, webhooks
    assert parse_retry_after("²", NOW) is None  # str.isdigit() says yes; float() would raise


# --------------------------------------------------------------------------- slack / discord


def test_slack_message_shape_and_escaping(receiver: WebhookReceiver) -> None:
    notice = make_notice(
        title="Acme <!channel> & <https://evil.example|click> Q3",
        snippet="profits > losses & <b>",
        url="https://example.com/a?b=1|2>3",
    )
    webhook(receiver.url, format="slack").send([notice], now=NOW, message_id="m1")
    payload = receiver.deliveries[0].json
    assert set(payload) == {"text", "blocks"}
    assert isinstance(payload["text"], str) and payload["text"]
    section, context = payload["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert context["type"] == "context" and context["elements"][0]["type"] == "mrkdwn"
    text = section["text"]["text"]
    # One link, to the release, with the feed's markup escaped as Slack asks.
    assert text.count("<") == 1 and text.count(">") == 1
    assert text.startswith("*<https://example.com/a?b=1%7C2%3E3|Acme &lt;!channel&gt; &amp; &lt;https")
    assert "profits &gt; losses &amp; &lt;b&gt;" in text
    assert "<!channel>" not in json.dumps(payload)
    ctx = context["elements"][0]["text"]
    assert "central-asia" in ctx and "PR Newswire: all" in ctx and "2023-05-11 08:00 UTC" in ctx
    assert "<https://example.com" in payload["text"]  # the fallback links too


def test_slack_message_without_a_safe_link_has_no_link(receiver: WebhookReceiver) -> None:
    webhook(receiver.url, format="slack").send(
        [make_notice(url="data:text/html,x")], now=NOW, message_id="m1"
    )
    payload = receiver.deliveries[0].json
    assert "<" not in payload["blocks"][0]["text"]["text"]
    assert "data:" not in json.dumps(payload)


def test_slack_digest_bundles_and_stays_within_block_limits(receiver: WebhookReceiver) -> None:
    notices = [make_notice(f"a{i}", title=f"Item {i}") for i in range(30)]
    webhook(receiver.url, format="slack").send(notices, now=NOW, message_id="d1", digest=True)
    payload = receiver.deliveries[0].json
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert "30 alerts" in blocks[0]["text"]["text"]
    sections = [b for b in blocks[1:] if b["type"] == "section"]
    assert len(sections) == 15
    assert blocks[-1]["type"] == "context" and blocks[-1]["elements"][0]["text"] == "and 15 more alerts"
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)


def _embed_chars(embed: dict) -> int:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return total


def test_discord_message_shape(receiver: WebhookReceiver) -> None:
    notice = make_notice(title="Acme @everyone results")
    webhook(receiver.url, format="discord").send([notice], now=NOW, message_id="m1")
    payload = receiver.deliveries[0].json
    assert set(payload) == {"content", "embeds", "allowed_mentions"}
    assert payload["allowed_mentions"] == {"parse": []}  # "@everyone" in a title pings nobody
    assert 0 < len(payload["content"]) <= 2000
    [embed] = payload["embeds"]
    assert embed["title"] == "Acme @everyone results"
    assert embed["url"] == "https://www.prnewswire.com/news-releases/summit-301.html"
    assert embed["description"] == "leaders of [Central] [Asia] meet in Xi'an"
    assert embed["timestamp"] == "2023-05-11T08:00:00Z"
    assert {f["name"]: f["value"] for f in embed["fields"]} == {
        "Rule": "central-asia",
        "Source": "PR Newswire: all, PR Newswire: asia",
    }
    assert embed["footer"] == {"text": "press-monitor"}


def test_discord_digest_truncates_to_ten_embeds_within_the_character_budget(
    receiver: WebhookReceiver,
) -> None:
    long = "x" * 5000
    notices = [
        make_notice(f"a{i}", title=long, snippet=long, rule="r" * 300, url="javascript:x") for i in range(12)
    ]
    webhook(receiver.url, format="discord").send(notices, now=NOW, message_id="d1", digest=True)
    payload = receiver.deliveries[0].json
    assert len(payload["embeds"]) == 10
    assert "12 alerts" in payload["content"] and "and 2 more" in payload["content"]
    assert sum(_embed_chars(e) for e in payload["embeds"]) <= 6000
    assert all(len(e["title"]) <= 256 and "url" not in e for e in payload["embeds"])


# --------------------------------------------------------------------------- configuration


def test_defaults_and_repr_hide_the_url_path() -> None:
    channel = webhook("https://hooks.slack.com/services/T0/B0/TOKEN")
    assert channel.timeout == 15.0 and channel.format == "json"
    assert "TOKEN" not in repr(channel)


def test_message_id_must_be_header_safe(receiver: WebhookReceiver) -> None:
    with pytest.raises(DeliveryError, match="message id") as caught:
        webhook(receiver.url).send([make_notice()], now=NOW, message_id="a\r\nX-Evil: 1")
    assert caught.value.permanent
    assert receiver.deliveries == []


# --------------------------------------------------------------------------- overall deadline, keep-alive


def finishes(fn, guard: float = 60.0):  # type: ignore[no-untyped-def]
    """Run fn() in a thread and return what it raised (or None); the guard only stops a hung test."""
    import threading

    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(guard)
    assert outcome, f"still running after {guard:g}s: the deadline did not end the conversation"
    return outcome[0]


def test_a_receiver_dribbling_its_status_line_ends_at_the_timeout() -> None:
    """Issue 11: one byte every 0.5 s kept a 3s-timeout channel busy past 120 s (read timeouts never fire)."""
    from tests.webhook_receiver import DribblingReceiver

    with DribblingReceiver(every=0.5) as slow:
        channel = webhook(slow.url, timeout=1.0)
        error = finishes(lambda: channel.send([make_notice()], now=NOW, message_id="m1"))
        channel.close()
    assert isinstance(error, DeliveryError)
    assert "timed out after 1s" in str(error) and not error.permanent


def test_alerts_reuse_one_kept_alive_connection(receiver: WebhookReceiver) -> None:
    channel = webhook(receiver.url)
    for i in range(5):
        channel.send([make_notice(f"a{i}")], now=NOW, message_id=f"m{i}")
    channel.close()
    assert len(receiver.deliveries) == 5
    assert len({d.peer for d in receiver.deliveries}) == 1  # one TCP connection for all five


def test_a_webhook_goes_through_the_proxy_named_in_the_environment(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from tests.proxyserver import ProxyServer

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    with ProxyServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        channel = webhook(receiver.url, secret=SECRET)  # the environment is read when the channel is built
        channel.send([make_notice("a1")], now=NOW, message_id="a1")
        channel.close()
        assert [(s.method, s.target) for s in proxy.seen] == [("POST", receiver.url)]
    [delivery] = receiver.deliveries
    assert delivery.verified is True and delivery.headers["webhook-id"] == "a1"
