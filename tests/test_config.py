"""config.toml loading: values, defaults, every error message, paths, secrets, and the README reference."""

from __future__ import annotations

import base64
import re
import textwrap
from datetime import time as dtime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import config
from monitor.channel_options import ConsoleOptions, EmailOptions, SecretRef, WebhookOptions
from monitor.channels import ChannelSet
from monitor.channels.secrets import resolve
from monitor.config import (
    ACCEPTED_KEYS,
    format_duration,
    load,
    loads,
    parse_digest,
    parse_duration,
    parse_size,
    resolve_path,
)
from monitor.errors import ConfigError
from monitor.types import ChannelSpec, Feed, RuleSpec, Secret, ServerDatabase, Settings

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SMTP_PASSWORD = "correct horse battery staple"


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def secret(cfg: config.Config, channel: str, environ: dict[str, str]) -> Secret | None:
    """Return the resolved secret (webhook secret or SMTP password) of a loaded channel, as a sender reads it."""
    options = cfg.channels[channel].options
    return resolve(getattr(options, "secret", None) or getattr(options, "password", None), environ)


def send_problems(text: str, environ: dict[str, str] | None = None) -> str:
    """Return the ConfigError a sender gets building the channels of `text` (which loads fine)."""
    cfg = loads(textwrap.dedent(text), path=Path("config.toml"), environ=environ or {})
    with pytest.raises(ConfigError) as info:
        ChannelSet(cfg.channels, environ=environ or {})
    return str(info.value)


def problems(text: str, environ: dict[str, str] | None = None) -> str:
    """Return the ConfigError message for `text` loaded as config.toml (fails if it loads)."""
    with pytest.raises(ConfigError) as info:
        loads(textwrap.dedent(text), path=Path("config.toml"), environ=environ or {})
    return str(info.value)


# --------------------------------------------------------------------------- a full, valid config

FULL = """
    [monitor]
    database = "data/archive.db"
    user_agent = "acme-monitor/2.0 (ops@acme.example)"
    poll_interval = "10m"
    timeout = 30
    max_feed_bytes = "20MiB"
    alert_max_age = "1d12h"
    log_level = "debug"
    timezone = "Europe/Paris"
    retention = "52w"

    [[feeds]]
    name = "prn-all"
    url = "https://www.prnewswire.com/rss/news-releases-list.rss"

    [[feeds]]
    name = "prn-energy"
    url = "https://www.prnewswire.com/rss/energy-latest-news/energy-latest-news-list.rss"
    interval = "15m"
    adaptive = true

    [[feeds]]
    name = "sample"
    url = "samples/prn.xml"
    enabled = false
    adaptive = true
    min_interval = "2m"

    [terms]
    central_asia = ["Kazakhstan", "Uzbekistan", "Central Asia"]
    no-dashes_ok = ["x"]

    [[rules]]
    name = "central-asia"
    query = "@central_asia AND energy"
    notify = ["hook", "mail", "hook"]
    feeds = ["prn-energy"]
    regex = '(?i)\\bjoint venture\\b'

    [[rules]]
    name = "recalls"
    query = "title:recall*"
    enabled = false

    [channels.out]
    type = "console"
    stream = "stderr"

    [channels.hook]
    type = "webhook"
    url = "https://hooks.example.com/press"
    format = "slack"
    headers = { Authorization = "Bearer tok-123", X-Team = "news" }
    timeout = "5s"
    secret_env = "HOOK_SECRET"
    digest = "daily 8:05"

    [channels.mail]
    type = "email"
    host = "smtp.example.com"
    security = "ssl"
    username = "monitor"
    password_file = "smtp.pw"
    from = "Press Monitor <monitor@example.com>"
    to = ["ops@example.com", "News Desk <news@example.com>"]
    subject_prefix = "[PR]"
    digest = "1h"
    enabled = false
"""


@pytest.fixture
def full(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "smtp.pw").write_text(SMTP_PASSWORD + "\n")
    path = write(tmp_path / "etc", FULL)
    return load(path, environ={"HOOK_SECRET": WEBHOOK_SECRET}), tmp_path / "etc"


def test_full_config_settings(full) -> None:
    cfg, folder = full
    assert cfg.path == folder / "config.toml"
    assert cfg.settings == Settings(
        database=folder / "data" / "archive.db",
        user_agent="acme-monitor/2.0 (ops@acme.example)",
        poll_interval=600.0,
        timeout=30.0,
        max_feed_bytes=20 * 2**20,
        alert_max_age=36 * 3600.0,
        log_level="DEBUG",
        timezone="Europe/Paris",
        retention=52 * 7 * 86400.0,
    )


def test_page_settings_and_full_text(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[monitor]\nfull_text_max_age = "1d"\nmax_page_bytes = "2MB"\npage_delay = 0\n'
        'allow_private_networks = ["10.0.0.0/8", "127.0.0.1/8"]\n'
        '[[feeds]]\nname = "a"\nurl = "https://a.example/rss"\n'
        '[[feeds]]\nname = "b"\nurl = "https://b.example/rss"\nfull_text = false\n'
        '[[feeds]]\nname = "c"\nurl = "feed.xml"\n'
        '[[feeds]]\nname = "d"\nurl = "feed2.xml"\nfull_text = true\n')
    cfg = load(path)
    s = cfg.settings
    assert (s.full_text_max_age, s.max_page_bytes, s.page_delay) == (86400.0, 2_000_000, 0.0)
    assert s.allow_private_networks == ("10.0.0.0/8", "127.0.0.0/8")
    assert [f.full_text for f in cfg.feeds] == [True, False, False, True]
    path.write_text('[monitor]\nallow_private_networks = ["10.0.0.0/33"]\npage_delay = "0"\n')
    with pytest.raises(ConfigError) as exc:
        load(path)
    assert 'monitor.allow_private_networks[1]: "10.0.0.0/33" is not a network' in str(exc.value)
    assert "monitor.page_delay" not in str(exc.value)


def test_full_config_feeds_terms_rules(full) -> None:
    cfg, folder = full
    assert cfg.feeds == (
        Feed("prn-all", "https://www.prnewswire.com/rss/news-releases-list.rss", 600.0, full_text=True),
        Feed(
            "prn-energy",
            "https://www.prnewswire.com/rss/energy-latest-news/energy-latest-news-list.rss",
            900.0,
            adaptive=True,
            min_interval=225.0,
            full_text=True,
        ),
        Feed("sample", (folder / "samples" / "prn.xml").as_uri(), 600.0, enabled=False, adaptive=True,
             min_interval=120.0),
    )
    assert cfg.terms == {"central_asia": ("Kazakhstan", "Uzbekistan", "Central Asia"), "no-dashes_ok": ("x",)}
    assert cfg.rules == (
        RuleSpec(
            name="central-asia",
            query="@central_asia AND energy",
            notify=("hook", "mail"),  # the repeated "hook" is dropped, order kept
            feeds=("prn-energy",),
            regex=r"(?i)\bjoint venture\b",
        ),
        RuleSpec(name="recalls", query="title:recall*", enabled=False),
    )


def test_full_config_channels(full) -> None:
    cfg, _ = full
    assert set(cfg.channels) == {"out", "hook", "mail"}
    assert cfg.channels["out"] == ChannelSpec("out", "console", options=ConsoleOptions(stream="stderr"))
    hook = cfg.channels["hook"]
    assert (hook.type, str(hook.digest), hook.enabled) == ("webhook", "daily 08:05", True)
    assert hook.digest is not None and hook.digest.at == dtime(8, 5) and hook.digest.every is None
    assert hook.options == WebhookOptions(
        url="https://hooks.example.com/press",
        format="slack",
        headers={"Authorization": "Bearer tok-123", "X-Team": "news"},
        timeout=5.0,
        secret=SecretRef(env="HOOK_SECRET", check="webhook_secret", where=f"{cfg.path}: channels.hook.secret_env"),
    )
    mail = cfg.channels["mail"]
    assert (mail.type, str(mail.digest), mail.enabled) == ("email", "1h", False)
    assert mail.digest is not None and mail.digest.every == 3600.0
    assert isinstance(mail.options, EmailOptions) and isinstance(mail.options.password, SecretRef)
    assert mail.options == EmailOptions(
        host="smtp.example.com",
        port=465,
        security="ssl",
        username="monitor",
        password=SecretRef(file=cfg.path.parent / "smtp.pw", check="password",
                           where=f"{cfg.path}: channels.mail.password_file"),
        sender="Press Monitor <monitor@example.com>",
        to=("ops@example.com", "News Desk <news@example.com>"),
        timeout=30.0,
        subject_prefix="[PR]",
    )


def test_secrets_never_show_in_repr(full) -> None:
    cfg, _ = full
    for text in (repr(cfg), str(cfg), repr(cfg.channels), repr(cfg.channels["hook"]), str(cfg.channels["mail"])):
        assert WEBHOOK_SECRET not in text
        assert SMTP_PASSWORD not in text
        assert "tok-123" not in text  # an Authorization header is a credential too
    assert "news" in repr(cfg.channels["hook"])  # ordinary header values stay visible for debugging
    # ... while the values, once read by a sender, stay usable as plain strings by the channels.
    hook = secret(cfg, "hook", {"HOOK_SECRET": WEBHOOK_SECRET})
    assert isinstance(hook, Secret) and str(hook) == WEBHOOK_SECRET and WEBHOOK_SECRET not in repr(hook)
    password = secret(cfg, "mail", {})
    assert password is not None and password.encode() == SMTP_PASSWORD.encode()


def test_empty_config_is_all_defaults(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, ""), environ={})
    assert cfg.settings == Settings(database=tmp_path / "press-monitor.db")
    assert (cfg.feeds, cfg.terms, cfg.rules, cfg.channels) == ((), {}, (), {})


def test_channel_defaults() -> None:
    cfg = loads(
        """
        [channels.c]
        type = "console"
        [channels.w]
        type = "webhook"
        url = "http://127.0.0.1:8080/hook"
        [channels.e]
        type = "email"
        host = "localhost"
        from = "a@example.com"
        to = "b@example.com"
        [channels.plain]
        type = "email"
        host = "mx.example.com"
        security = "NONE"
        from = "a@example.com"
        to = "b@example.com"
        """,
        path=Path("config.toml"),
        environ={},
    )
    assert cfg.channels["c"].options == ConsoleOptions(stream="stdout")
    assert cfg.channels["w"].options == WebhookOptions(
        url="http://127.0.0.1:8080/hook", format="json", headers={}, timeout=15.0, secret=None
    )
    e = cfg.channels["e"].options
    assert (e.port, e.security, e.username, e.password, e.to, e.timeout, e.subject_prefix) == (
        587, "starttls", None, None, ("b@example.com",), 30.0, "[press-monitor]"
    )
    assert (cfg.channels["plain"].options.port, cfg.channels["plain"].options.security) == (25, "none")
    assert all(spec.digest is None and spec.enabled for spec in cfg.channels.values())


def test_feed_interval_defaults() -> None:
    cfg = loads(
        """
        [monitor]
        poll_interval = "8m"
        [[feeds]]
        name = "a"
        url = "https://a.example/rss"
        [[feeds]]
        name = "b"
        url = "https://b.example/rss"
        adaptive = true
        [[feeds]]
        name = "c"
        url = "https://c.example/rss"
        interval = "1h"
        min_interval = "10m"
        """,
        path=Path("config.toml"),
        environ={},
    )
    assert [(f.interval, f.adaptive, f.min_interval) for f in cfg.feeds] == [
        (480.0, False, None),
        (480.0, True, 120.0),  # interval / 4
        (3600.0, False, 600.0),
    ]


# --------------------------------------------------------------------------- every error, with its message

# (case id, toml, key path, problem substring). Each case must produce exactly
# `config.toml: <key path>: ...<problem>...` among its lines.
ERRORS = [
    ("toml-syntax", "[monitor]\npoll_interval = \n", "line 2, column 17", "invalid TOML: Invalid value"),
    ("toml-duplicate", "[monitor]\ntimeout = 1\ntimeout = 2\n", "line 3, column 12", "invalid TOML"),
    ("top-unknown", "[[feed]]\nname = 'x'\n", "feed", 'unknown key (did you mean "feeds"?)'),
    ("top-monitor-type", "monitor = 5\n", "monitor", "expected a table ([monitor]), got 5 (integer)"),
    ("feeds-single-brackets", "[feeds]\nname = 'x'\n", "feeds", "write [[feeds]] (double brackets)"),
    ("feeds-not-tables", "feeds = ['x']\n", "feeds[1]", 'expected a table ([[feeds]]), got "x" (string)'),
    ("rules-not-array", "rules = 3\n", "rules", "expected an array of tables ([[rules]])"),
    # [monitor]
    ("mon-unknown", "[monitor]\ndatabse = 'x'\n", "monitor.databse", 'unknown key (did you mean "database"?)'),
    ("mon-unknown-far", "[monitor]\nzzz = 1\n", "monitor.zzz",
     "unknown key (accepted: database, database_env, user_agent"),
    ("mon-bool-duration", "[monitor]\npoll_interval = true\n", "monitor.poll_interval",
     'expected a duration such as "5m" or "1h30m" or a number of seconds, got true (boolean)'),
    ("mon-no-unit", "[monitor]\ntimeout = '20'\n", "monitor.timeout", '"20" has no unit; write "20s"'),
    ("mon-bad-unit", "[monitor]\ntimeout = '20 parsecs'\n", "monitor.timeout", 'unknown unit "parsecs"'),
    ("mon-not-duration", "[monitor]\ntimeout = 'soon'\n", "monitor.timeout", '"soon" is not a duration'),
    ("mon-zero", "[monitor]\nretention = '0s'\n", "monitor.retention", "must be more than zero"),
    ("mon-negative", "[monitor]\nalert_max_age = -5\n", "monitor.alert_max_age", "must be more than zero"),
    ("mon-size-unit", "[monitor]\nmax_feed_bytes = '15XB'\n", "monitor.max_feed_bytes", 'unknown unit "XB"'),
    ("mon-size-type", "[monitor]\nmax_feed_bytes = [1]\n", "monitor.max_feed_bytes",
     'expected a size such as "15MB" or a number of bytes, got an array'),
    ("mon-size-fraction", "[monitor]\nmax_feed_bytes = 1.5\n", "monitor.max_feed_bytes", "must be whole"),
    ("mon-log-level", "[monitor]\nlog_level = 'loud'\n", "monitor.log_level",
     '"loud" is not one of "DEBUG", "INFO", "WARNING", "ERROR"'),
    ("mon-timezone", "[monitor]\ntimezone = 'Europe/Pariss'\n", "monitor.timezone",
     'not a known IANA time zone such as "Europe/Paris" (did you mean "Europe/Paris"?)'),
    ("mon-timezone-path", "[monitor]\ntimezone = '../../etc/passwd'\n", "monitor.timezone", "IANA time zone"),
    ("mon-empty-db", "[monitor]\ndatabase = ' '\n", "monitor.database", "must not be empty"),
    ("mon-db-scheme", "[monitor]\ndatabase = 'mysql://u:pw@h/db'\n", "monitor.database",
     '"mysql://u:***@h/db" is neither a file path nor a postgresql:// URL'),
    ("mon-db-env-unset", "[monitor]\ndatabase_env = 'PM_TEST_UNSET_DB'\n", "monitor.database_env",
     "the environment variable PM_TEST_UNSET_DB is not set"),
    ("mon-db-both", "[monitor]\ndatabase = 'a.db'\ndatabase_env = 'X'\n", "monitor.database_env",
     "give `database` or `database_env`, not both"),
    ("mon-ua-type", "[monitor]\nuser_agent = 5\n", "monitor.user_agent", "expected a string, got 5 (integer)"),
    ("mon-ua-newline", '[monitor]\nuser_agent = "a\\nb"\n', "monitor.user_agent", "contains a control character"),
    # [[feeds]]
    ("feed-no-name", "[[feeds]]\nurl = 'https://x.example/rss'\n", "feeds[1].name", "missing (required)"),
    ("feed-no-url", "[[feeds]]\nname = 'x'\n", "feeds[1].url", "missing (required)"),
    ("feed-bad-scheme", "[[feeds]]\nname = 'x'\nurl = 'htp://x'\n", "feeds[1].url",
     '"htp://x" is not an http(s) or file URL'),
    ("feed-no-host", "[[feeds]]\nname = 'x'\nurl = 'https:///rss'\n", "feeds[1].url", "not an http(s) or file URL"),
    ("feed-bad-port", "[[feeds]]\nname = 'x'\nurl = 'https://x.example:99999/'\n", "feeds[1].url",
     "not an http(s) or file URL"),
    ("feed-host-without-scheme", "[[feeds]]\nname = 'x'\nurl = 'example.com/feed'\n", "feeds[1].url",
     'has no scheme; write "https://example.com/feed"'),
    ("feed-remote-file", "[[feeds]]\nname = 'x'\nurl = 'file://server/x.xml'\n", "feeds[1].url",
     "file URLs must name a local file"),
    ("feed-typo-key", "[[feeds]]\nname='a'\nurl='https://a.example/'\n[[feeds]]\nname='b'\n"
     "url='https://b.example/'\nintervall = '5m'\n", "feeds[2].intervall", 'unknown key (did you mean "interval"?)'),
    ("feed-enabled-string", "[[feeds]]\nname = 'x'\nurl = 'https://x.example/'\nenabled = 'true'\n",
     "feeds[1].enabled", 'expected true or false, got "true" (string) (write true or false without quotes)'),
    ("feed-min-interval", "[[feeds]]\nname = 'x'\nurl = 'https://x.example/'\ninterval = '10m'\n"
     "min_interval = '1h'\n", "feeds[1].min_interval", "1h is longer than interval (10m)"),
    ("feed-dup-name", "[[feeds]]\nname = 'PRN'\nurl = 'https://a.example/'\n[[feeds]]\nname = 'prn'\n"
     "url = 'https://b.example/'\n", "feeds[2].name", '"prn" is already the name of feeds[1]'),
    ("feed-dup-url", "[[feeds]]\nname = 'a'\nurl = 'https://X.example/rss'\n[[feeds]]\nname = 'b'\n"
     "url = 'https://x.example/rss'\n", "feeds[2].url", '"https://x.example/rss" is already the URL of feeds[1]'),
    # [terms]
    ("terms-bad-name", "[terms]\n'Central Asia' = ['x']\n", 'terms."Central Asia"',
     "is not a valid term list name"),
    ("terms-not-list", "[terms]\nca = 'Kazakhstan'\n", "terms.ca", 'expected an array of strings such as ["a", "b"]'),
    ("terms-empty", "[terms]\nca = []\n", "terms.ca", "the list is empty"),
    ("terms-empty-item", "[terms]\nca = ['a', '']\n", "terms.ca[2]", "must not be empty"),
    ("terms-item-type", "[terms]\nca = ['a', 3]\n", "terms.ca[2]", "expected a string, got 3 (integer)"),
    # [[rules]]
    ("rule-no-name", "[[rules]]\nquery = 'x'\n", "rules[1].name", "missing (required)"),
    ("rule-bad-name", "[[rules]]\nname = 'Big Deals'\nquery = 'x'\n", "rules[1].name",
     '"Big Deals" is not a valid name; use a-z, 0-9, _ and -'),
    ("rule-no-query", "[[rules]]\nname = 'x'\n", "rules[1].query", "missing (required)"),
    ("rule-empty-query", "[[rules]]\nname = 'x'\nquery = '  '\n", "rules[1].query", "must not be empty"),
    ("rule-dup", "[[rules]]\nname = 'x'\nquery = 'a'\n[[rules]]\nname = 'x'\nquery = 'b'\n", "rules[2].name",
     '"x" is already the name of rules[1]'),
    ("rule-notify-string", "[[rules]]\nname = 'x'\nquery = 'a'\nnotify = 'ops'\n", "rules[1].notify",
     "expected an array of strings"),
    ("rule-notify-unknown", "[[rules]]\nname = 'x'\nquery = 'a'\nnotify = ['slak']\n"
     "[channels.slack]\ntype = 'console'\n", "rules[1].notify[1]",
     'no channel named "slak" in [channels] (did you mean "slack"?)'),
    ("rule-notify-none", "[[rules]]\nname = 'x'\nquery = 'a'\nnotify = ['ops']\n", "rules[1].notify[1]",
     'no channel named "ops" in [channels] ([channels] is empty)'),
    ("rule-feed-unknown", "[[feeds]]\nname = 'prn-energy'\nurl = 'https://x.example/'\n"
     "[[rules]]\nname = 'x'\nquery = 'a'\nfeeds = ['prn-enrgy']\n", "rules[1].feeds[1]",
     'no feed named "prn-enrgy" in [[feeds]] (did you mean "prn-energy"?)'),
    ("rule-regex", "[[rules]]\nname = 'x'\nquery = 'a'\nregex = '(unclosed'\n", "rules[1].regex",
     "invalid regular expression: missing ): (unclosed"),
    ("rule-regex-backref", "[[rules]]\nname = 'x'\nquery = 'a'\nregex = '(a)\\1'\n", "rules[1].regex",
     "invalid regular expression: backreferences (\\1 ...) are not supported"),
    ("rule-regex-empty", "[[rules]]\nname = 'x'\nquery = 'a'\nregex = ''\n", "rules[1].regex", "must not be empty"),
    ("rule-unknown-key", "[[rules]]\nname = 'x'\nquery = 'a'\nnotfy = []\n", "rules[1].notfy",
     'unknown key (did you mean "notify"?)'),
    # [channels]
    ("chan-not-table", "[channels]\nops = 'email'\n", "channels.ops", "expected a table ([channels.ops])"),
    ("chan-bad-name", "[channels.'Ops Mail']\ntype = 'console'\n", 'channels."Ops Mail"', "not a valid channel name"),
    ("chan-no-type", "[channels.ops]\nstream = 'stdout'\n", "channels.ops.type", "missing; set type = one of"),
    ("chan-bad-type", "[channels.ops]\ntype = 'sms'\n", "channels.ops.type",
     '"sms" is not one of "console", "webhook", "email"'),
    ("chan-typo-type", "[channels.ops]\ntype = 'webhok'\n", "channels.ops.type", 'did you mean "webhook"?'),
    ("chan-unknown-key", "[channels.ops]\ntype = 'console'\nstraem = 'stderr'\n", "channels.ops.straem",
     'unknown key (did you mean "stream"?)'),
    ("chan-other-type-key", "[channels.ops]\ntype = 'webhook'\nurl = 'https://h.example/'\nhost = 'x'\n",
     "channels.ops.host", "not a key of webhook channels (it belongs to email channels)"),
    ("chan-console-stream", "[channels.ops]\ntype = 'console'\nstream = 'stdlog'\n", "channels.ops.stream",
     '"stdlog" is not one of "stdout", "stderr"'),
    ("chan-digest-short", "[channels.ops]\ntype = 'console'\ndigest = '30s'\n", "channels.ops.digest",
     "a digest interval must be at least 1m"),
    ("chan-digest-bad-time", "[channels.ops]\ntype = 'console'\ndigest = 'daily 25:00'\n", "channels.ops.digest",
     '"daily 25:00" is not a time of day'),
    ("chan-digest-no-time", "[channels.ops]\ntype = 'console'\ndigest = 'daily'\n", "channels.ops.digest",
     'write "daily HH:MM"'),
    ("chan-digest-word", "[channels.ops]\ntype = 'console'\ndigest = 'weekly'\n", "channels.ops.digest",
     'expected a duration such as "1h" or "daily HH:MM", got "weekly" (string)'),
    ("chan-enabled", "[channels.ops]\ntype = 'console'\nenabled = 1\n", "channels.ops.enabled",
     "expected true or false, got 1 (integer)"),
    # webhook
    ("hook-no-url", "[channels.h]\ntype = 'webhook'\n", "channels.h.url", "missing (required)"),
    ("hook-bad-url", "[channels.h]\ntype = 'webhook'\nurl = 'ftp://h.example/'\n", "channels.h.url",
     '"ftp://h.example/" is not an http(s) URL'),
    ("hook-format", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nformat = 'teams'\n",
     "channels.h.format", '"teams" is not one of "json", "slack", "discord"'),
    ("hook-secret-refused", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nsecret = 'whsec_abc'\n",
     "channels.h.secret", "secrets never go in config.toml; use secret_env"),
    ("hook-password-refused", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\npassword = 'x'\n",
     "channels.h.password", "secrets never go in config.toml; webhook channels take no password"),
    ("hook-headers-type", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nheaders = ['a']\n",
     "channels.h.headers", "expected a table of header names to values"),
    ("hook-header-name", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nheaders = {'X Bad' = 'v'}\n",
     'channels.h.headers."X Bad"', "is not a valid HTTP header name"),
    ("hook-header-reserved", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\n"
     "headers = {Webhook-Signature = 'v'}\n", "channels.h.headers.Webhook-Signature", "sets this header itself"),
    ("hook-header-content-type", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\n"
     "headers = {content-type = 'text/plain'}\n", "channels.h.headers.content-type", "sets this header itself"),
    ("hook-header-value", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\n"
     'headers = {X-A = "v\\r\\nX-Evil: 1"}\n', "channels.h.headers.X-A", "contains a control character"),
    ("hook-header-twice", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\n"
     "headers = {X-A = 'v', x-a = 'w'}\n", "channels.h.headers.x-a", "header given twice"),
    ("hook-timeout", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\ntimeout = 'fast'\n",
     "channels.h.timeout", '"fast" is not a duration'),
    ("hook-secret-env-name", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nsecret_env = '$HOOK'\n",
     "channels.h.secret_env", "not a valid name; use an environment variable name"),
    ("hook-secret-both", "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nsecret_env = 'HOOK'\n"
     "secret_file = 'hook.secret'\n", "channels.h.secret_file", "give secret_env or secret_file, not both"),
    # email
    ("mail-no-host", "[channels.m]\ntype = 'email'\nfrom = 'a@x.example'\nto = 'b@x.example'\n", "channels.m.host",
     "missing (required)"),
    ("mail-host-url", "[channels.m]\ntype = 'email'\nhost = 'smtp://mail.example'\nfrom = 'a@x.example'\n"
     "to = 'b@x.example'\n", "channels.m.host", 'write just the name, e.g. "smtp.example.com"'),
    ("mail-no-from", "[channels.m]\ntype = 'email'\nhost = 'h'\nto = 'b@x.example'\n", "channels.m.from",
     "missing (required)"),
    ("mail-bad-from", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'alerts'\nto = 'b@x.example'\n",
     "channels.m.from", '"alerts" is not an email address'),
    ("mail-no-to", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\n", "channels.m.to",
     "missing (required)"),
    ("mail-empty-to", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = []\n", "channels.m.to",
     "give at least one address"),
    ("mail-bad-to", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = ['b@x.example', 'c']\n",
     "channels.m.to[2]", '"c" is not an email address'),
    ("mail-to-type", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = 5\n", "channels.m.to",
     "expected an address or an array of addresses, got 5 (integer)"),
    ("mail-port", "[channels.m]\ntype = 'email'\nhost = 'h'\nport = 70000\nfrom = 'a@x.example'\nto = 'b@x.example'\n",
     "channels.m.port", "expected a port number from 1 to 65535, got 70000 (integer)"),
    ("mail-port-string", "[channels.m]\ntype = 'email'\nhost = 'h'\nport = '587'\nfrom = 'a@x.example'\n"
     "to = 'b@x.example'\n", "channels.m.port", 'got "587" (string)'),
    ("mail-security", "[channels.m]\ntype = 'email'\nhost = 'h'\nsecurity = 'tls'\nfrom = 'a@x.example'\n"
     "to = 'b@x.example'\n", "channels.m.security", '"tls" is not one of "starttls", "ssl", "none"'),
    ("mail-password-refused", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = 'b@x.example'\n"
     "username = 'u'\npassword = 'hunter2'\n", "channels.m.password",
     "secrets never go in config.toml; use password_env (the name of an environment variable) or password_file"),
    ("mail-username-alone", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = 'b@x.example'\n"
     "username = 'u'\n", "channels.m.username", "needs password_env or password_file"),
    ("mail-password-alone", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = 'b@x.example'\n"
     "password_env = 'PW'\n", "channels.m.password_env", "only allowed together with username"),
    ("mail-cleartext", "[channels.m]\ntype = 'email'\nhost = 'mail.example.com'\nsecurity = 'none'\n"
     "from = 'a@x.example'\nto = 'b@x.example'\nusername = 'u'\npassword_env = 'PW'\n", "channels.m.security",
     '"none" would send the password unencrypted'),
    ("mail-subject-newline", "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = 'b@x.example'\n"
     "subject_prefix = \"[x]\\nBcc: evil@x.example\"\n", "channels.m.subject_prefix", "contains a control character"),
]


@pytest.mark.parametrize(("text", "key", "problem"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_error_names_file_key_and_problem(text: str, key: str, problem: str) -> None:
    message = problems(text, environ={"PW": "pw"})
    prefix = f"config.toml: {key}: "
    lines = [line for line in message.splitlines() if line.startswith(prefix)]
    assert lines, f"no line starts with {prefix!r}:\n{message}"
    assert any(problem in line for line in lines), f"{problem!r} not in:\n{message}"
    assert all(line.startswith("config.toml: ") for line in message.splitlines())


def test_every_problem_is_reported_at_once() -> None:
    message = problems(
        """
        [monitor]
        poll_interval = "5 moons"
        [[feeds]]
        name = "a"
        url = "htp://x"
        [[rules]]
        name = "r"
        query = "x"
        notify = ["nope"]
        """
    )
    assert message.splitlines() == [
        'config.toml: monitor.poll_interval: "5 moons": unknown unit "moons" (use s, m, h, d, w, mo, y or words: '
        'seconds, minutes, hours, days, weeks, months, years)',
        'config.toml: feeds[1].url: "htp://x" is not an http(s) or file URL',
        'config.toml: rules[1].notify[1]: no channel named "nope" in [channels] ([channels] is empty)',
    ]


def test_a_rule_naming_a_broken_feed_or_channel_reports_only_the_broken_part() -> None:
    # The feed and channel exist (with errors of their own): the rule must not add "no such feed".
    message = problems(
        """
        [[feeds]]
        name = "prn"
        url = "ftp://x"
        [[rules]]
        name = "r"
        query = "x"
        feeds = ["prn"]
        notify = ["ops"]
        [channels.ops]
        type = "webhook"
        """
    )
    assert message.splitlines() == [
        'config.toml: feeds[1].url: "ftp://x" is not an http(s) or file URL',
        "config.toml: channels.ops.url: missing (required)",
    ]


def test_file_name_is_given_as_passed(tmp_path: Path) -> None:
    path = write(tmp_path, "[monitor]\ntimeout = 'x'\n", name="conf/press.toml")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: monitor.timeout: "):
        load(path, environ={})


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope.toml: cannot read the config file: No such file or directory"):
        load(missing, environ={})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"a = '\xff'\n")
    with pytest.raises(ConfigError, match=r"bin.toml: not UTF-8 text \(bad byte at offset 5\)"):
        load(binary, environ={})


def test_a_bad_secret_is_never_echoed(tmp_path: Path) -> None:
    leaked = "hunter2-not-a-whsec-value"
    message = send_problems(
        "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\nsecret_env = 'HOOK'\n",
        environ={"HOOK": leaked},
    )
    assert 'channels.h.secret_env: the secret in $HOOK must be "whsec_" followed by base64' in message
    assert leaked not in message
    (tmp_path / "bad.secret").write_text("whsec_!!!not base64!!!\n")
    cfg = load(write(tmp_path, "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\n"
                               "secret_file = 'bad.secret'\n"), environ={})
    with pytest.raises(ConfigError) as info:
        ChannelSet(cfg.channels, environ={})
    assert f"channels.h.secret_file: the secret in {tmp_path / 'bad.secret'} must be" in str(info.value)
    assert "not base64" not in str(info.value)


# --------------------------------------------------------------------------- durations, sizes, digests

DURATIONS = [
    ("30s", 30.0),
    ("5m", 300.0),
    ("2h", 7200.0),
    ("1d", 86400.0),
    ("1w", 604800.0),
    ("1h30m", 5400.0),
    ("1h 30m 15s", 5415.0),
    ("1.5h", 5400.0),
    (" 90S ", 90.0),
    ("2 days", 172800.0),
    ("1 week 2d", 777600.0),
    ("90 minutes", 5400.0),
    ("6mo", 6 * 30 * 86400.0),
    ("1y", 365 * 86400.0),
    (45, 45.0),
    (2.5, 2.5),
]


@pytest.mark.parametrize(("value", "seconds"), DURATIONS)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value, key="k") == seconds


BAD_DURATIONS = [
    (True, 'k: expected a duration such as "5m" or "1h30m" or a number of seconds, got true (boolean)'),
    (None, "k: expected a duration"),
    ("", 'k: "" is not a duration'),
    ("5", 'k: "5" has no unit; write "5s"'),
    ("5yy", 'k: "5yy": unknown unit "yy" (use s, m, h, d, w, mo, y or words'),
    ("m5", 'k: "m5" is not a duration'),
    ("-5m", 'k: "-5m" is not a duration'),
    (0, "k: a duration must be more than zero, got 0 (integer)"),
    (float("inf"), "k: a duration must be more than zero"),
    (float("nan"), "k: a duration must be more than zero"),
    ("36501d", "longer than the 36500d"),
]


@pytest.mark.parametrize(("value", "message"), BAD_DURATIONS)
def test_parse_duration_rejects(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value, key="k")
    assert message in str(info.value)
    assert str(info.value).startswith("k: ")


@given(st.integers(min_value=1, max_value=36500 * 86400))
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds), key="k") == seconds


def test_format_duration_examples() -> None:
    assert [format_duration(s) for s in (5400, 300, 86400 + 61, 0.5)] == ["1h30m", "5m", "1d1m1s", "0.5s"]


SIZES = [
    ("15MB", 15_000_000),
    ("512KB", 512_000),
    ("1GB", 1_000_000_000),
    ("20MiB", 20 * 2**20),
    ("64 KiB", 65536),
    ("1GiB", 2**30),
    ("1.5mb", 1_500_000),
    ("100B", 100),
    (4096, 4096),
    (4096.0, 4096),
]


@pytest.mark.parametrize(("value", "size"), SIZES)
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value, key="k") == size


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("15", 'k: "15" has no unit; write "15B" for bytes'),
        ("15TB", 'unknown unit "TB"'),
        ("MB", '"MB" is not a size'),
        (0, "at least 1 byte"),
        (False, "expected a size"),
        (1.5, "must be whole"),
    ],
)
def test_parse_size_rejects(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_size(value, key="k")


def test_parse_digest() -> None:
    assert parse_digest("1h", key="k") == 3600.0
    assert parse_digest(60, key="k") == 60.0
    assert parse_digest("daily 8:05", key="k") == dtime(8, 5)
    assert parse_digest("Daily 23:59", key="k") == dtime(23, 59)
    for bad in ("59s", "daily 24:00", "daily 8", "weekly", True):
        with pytest.raises(ConfigError, match="^k: "):
            parse_digest(bad, key="k")


def test_digest_is_normalized() -> None:
    cfg = loads(
        "[channels.a]\ntype = 'console'\ndigest = 3600\n[channels.b]\ntype = 'console'\ndigest = ' 2h '\n",
        path=Path("config.toml"),
        environ={},
    )
    assert (str(cfg.channels["a"].digest), str(cfg.channels["b"].digest)) == ("1h", "2h")


# --------------------------------------------------------------------------- relative paths


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc" / "press-monitor"
    path = write(
        folder,
        """
        [monitor]
        database = "../../var/archive.db"
        [[feeds]]
        name = "bare"
        url = "samples/a.xml"
        [[feeds]]
        name = "file-relative"
        url = "file:samples/b%20c.xml"
        [[feeds]]
        name = "file-absolute"
        url = "file:///srv/feeds/c.xml"
        [[feeds]]
        name = "absolute"
        url = "/srv/feeds/d.xml"
        [[feeds]]
        name = "dotted-folder"
        url = "./example.com/e.xml"
        [[feeds]]
        name = "localhost"
        url = "file://localhost/srv/feeds/f.xml"
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the current directory must not matter
    cfg = load(path, environ={})
    assert cfg.settings.database == tmp_path / "var" / "archive.db"
    assert [f.url for f in cfg.feeds] == [
        f"file://{folder}/samples/a.xml",
        f"file://{folder}/samples/b%20c.xml",
        "file:///srv/feeds/c.xml",
        "file:///srv/feeds/d.xml",
        f"file://{folder}/example.com/e.xml",
        "file:///srv/feeds/f.xml",
    ]


def test_relative_config_path_uses_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "conf", "[monitor]\ndatabase = 'a.db'\n")
    monkeypatch.chdir(tmp_path)
    cfg = load(Path("conf/config.toml"), environ={})
    assert cfg.path == tmp_path / "conf" / "config.toml"
    assert cfg.settings.database == tmp_path / "conf" / "a.db"


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = loads("[monitor]\ndatabase = '~/pm/archive.db'\n", path=Path("/etc/pm/config.toml"), environ={})
    assert cfg.settings.database == tmp_path / "pm" / "archive.db"


def test_existing_dotted_folder_is_a_file_path(tmp_path: Path) -> None:
    (tmp_path / "feeds.d").mkdir()
    (tmp_path / "feeds.d" / "x.xml").write_text("<rss/>")
    cfg = load(write(tmp_path, "[[feeds]]\nname = 'x'\nurl = 'feeds.d/x.xml'\n"), environ={})
    assert cfg.feeds[0].url == (tmp_path / "feeds.d" / "x.xml").as_uri()


# --------------------------------------------------------------------------- resolve_path


@pytest.mark.parametrize(
    ("cli", "environ", "expected"),
    [
        ("/etc/pm/cli.toml", {"PRESS_MONITOR_CONFIG": "/etc/pm/env.toml"}, "/etc/pm/cli.toml"),
        ("rel/cli.toml", {"PRESS_MONITOR_CONFIG": "/etc/pm/env.toml"}, "/home/u/rel/cli.toml"),
        (None, {"PRESS_MONITOR_CONFIG": "/etc/pm/env.toml"}, "/etc/pm/env.toml"),
        (None, {"PRESS_MONITOR_CONFIG": "env.toml"}, "/home/u/env.toml"),
        (None, {"PRESS_MONITOR_CONFIG": "  "}, "/home/u/config.toml"),
        (None, {}, "/home/u/config.toml"),
        ("", {}, "/home/u/config.toml"),
    ],
)
def test_resolve_path_order(cli: str | None, environ: dict[str, str], expected: str) -> None:
    assert resolve_path(cli, environ, Path("/home/u")) == Path(expected)


# --------------------------------------------------------------------------- secrets

HOOK = "[channels.h]\ntype = 'webhook'\nurl = 'https://h.example/'\n"


def test_secret_from_env() -> None:
    cfg = loads(HOOK + "secret_env = 'HOOK'\n", path=Path("config.toml"), environ={})  # located, not read
    value = secret(cfg, "h", {"HOOK": f" {WEBHOOK_SECRET}\n"})
    assert value == WEBHOOK_SECRET and isinstance(value, Secret)
    assert WEBHOOK_SECRET not in repr(cfg)


def test_an_unset_secret_variable_fails_only_the_sender() -> None:
    cfg = loads(HOOK + "secret_env = 'HOOK'\n", path=Path("config.toml"), environ={})
    assert cfg.channels["h"].options.secret == SecretRef(env="HOOK", check="webhook_secret",
                                                         where="config.toml: channels.h.secret_env")
    assert send_problems(HOOK + "secret_env = 'HOOK'\n") == (
        "config.toml: channels.h.secret_env: the environment variable HOOK is not set")


def test_secret_file_under_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "hook-secret").write_text(WEBHOOK_SECRET + "\n")
    # A file of the same name next to the config must lose to the credentials directory.
    (tmp_path / "hook-secret").write_text("whsec_" + base64.b64encode(b"wrong").decode())
    path = write(tmp_path, HOOK + "secret_file = 'hook-secret'\n")
    cfg = load(path, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert secret(cfg, "h", {}) == WEBHOOK_SECRET
    assert WEBHOOK_SECRET not in repr(cfg) and WEBHOOK_SECRET not in str(cfg.channels)
    # Without $CREDENTIALS_DIRECTORY the same name is looked up next to the config file.
    other = load(path, environ={})
    assert secret(other, "h", {}) == "whsec_" + base64.b64encode(b"wrong").decode()


def test_absolute_secret_file_ignores_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "abs.secret").write_text(WEBHOOK_SECRET)
    cfg = loads(HOOK + f"secret_file = '{tmp_path / 'abs.secret'}'\n", path=Path("config.toml"),
                environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "nowhere")})
    assert secret(cfg, "h", {}) == WEBHOOK_SECRET


def test_missing_secret_file_names_the_resolved_path(tmp_path: Path) -> None:
    message = send_problems(HOOK + "secret_file = 'hook-secret'\n", environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert f"config.toml: channels.h.secret_file: cannot read {tmp_path / 'hook-secret'}: No such file" in message


def test_a_huge_secret_file_fails_fast_with_a_clear_error() -> None:
    """secret_file = "/dev/zero" once read without limit (8 GB in 8 s): now 64 KiB + 1 byte at most."""
    message = send_problems(HOOK + "secret_file = '/dev/zero'\n")
    assert message == ("config.toml: channels.h.secret_file: /dev/zero is larger than 64 KiB; "
                       "a secret file holds one secret")


def test_password_from_env_and_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("  spaced pass  \n")
    mail = "[channels.m]\ntype = 'email'\nhost = 'h'\nfrom = 'a@x.example'\nto = 'b@x.example'\nusername = 'u'\n"
    from_env = loads(mail + "password_env = 'PW'\n", path=Path("config.toml"), environ={})
    from_file = load(write(tmp_path, mail + "password_file = 'pw'\n"), environ={})
    assert secret(from_env, "m", {"PW": "s3cret"}) == "s3cret"
    assert secret(from_file, "m", {}) == "  spaced pass  "  # only the newline goes
    assert send_problems(mail + "password_env = 'PW'\n", environ={"PW": ""}).endswith(
        "channels.m.password_env: the password in $PW is empty"
    )


def test_cleartext_password_is_allowed_to_localhost() -> None:
    cfg = loads(
        "[channels.m]\ntype = 'email'\nhost = '127.0.0.1'\nport = 8025\nsecurity = 'none'\nfrom = 'a@x.example'\n"
        "to = 'b@x.example'\nusername = 'u'\npassword_env = 'PW'\n",
        path=Path("config.toml"),
        environ={"PW": "pw"},
    )
    assert cfg.channels["m"].options.port == 8025


def test_senders_read_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_TEST_HOOK_SECRET", WEBHOOK_SECRET)
    cfg = loads(HOOK + "secret_env = 'PM_TEST_HOOK_SECRET'\n", path=Path("config.toml"))
    with ChannelSet(cfg.channels) as built:
        assert WEBHOOK_SECRET in built.redactions


def test_channel_option_keys_come_from_the_options_dataclasses() -> None:
    """ACCEPTED_KEYS for a channel type is derived from its options dataclass: one schema, no drift."""
    from monitor.channel_options import OPTIONS, toml_keys

    for kind, cls in OPTIONS.items():
        assert ACCEPTED_KEYS[f"channels.<name>:{kind}"] == toml_keys(cls)
    assert "from" in ACCEPTED_KEYS["channels.<name>:email"] and "sender" not in ACCEPTED_KEYS["channels.<name>:email"]
    assert {"secret_env", "secret_file"} <= set(ACCEPTED_KEYS["channels.<name>:webhook"])


# --------------------------------------------------------------------------- ACCEPTED_KEYS and the README

# Which README subsection documents which ACCEPTED_KEYS section.
README_HEADINGS = {
    "": "### Errors",  # top-level tables are introduced by their own headings; checked below
    "monitor": "### `[monitor]`",
    "feeds[]": "### `[[feeds]]`",
    "terms": "### `[terms]`",
    "rules[]": "### `[[rules]]`",
    "rules[].spike": "#### `spike`: alert when a rule's matches jump",
    "channels.<name>": "### `[channels.NAME]`",
    "channels.<name>:console": '#### `type = "console"`',
    "channels.<name>:webhook": '#### `type = "webhook"`',
    "channels.<name>:email": '#### `type = "email"`',
    "channels.<name>:apprise": '#### `type = "apprise"`',
}


def reference() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- config-reference:start -->")
    return text[start : text.index("<!-- config-reference:end -->")]


def subsection(heading: str) -> str:
    """Return the README reference text from `heading` to the next heading."""
    text = reference()
    assert heading in text, f"README config reference lacks the heading {heading!r}"
    body = text[text.index(heading) + len(heading) :]
    stop = re.search(r"^#+ ", body, re.MULTILINE)
    return body[: stop.start()] if stop else body


def test_accepted_keys_cover_every_section() -> None:
    assert set(ACCEPTED_KEYS) == set(README_HEADINGS)
    assert ACCEPTED_KEYS[""] == ("monitor", "feeds", "terms", "rules", "channels")


@pytest.mark.parametrize("section", [s for s in ACCEPTED_KEYS if s])
def test_readme_documents_every_accepted_key(section: str) -> None:
    text = subsection(README_HEADINGS[section])
    missing = [key for key in ACCEPTED_KEYS[section] if f"`{key}`" not in text]
    assert not missing, f"README section {README_HEADINGS[section]!r} does not document {missing}"


@pytest.mark.parametrize("section", [s for s in ACCEPTED_KEYS if s])
def test_readme_tables_list_only_accepted_keys(section: str) -> None:
    rows = re.findall(r"^\| `([^`]+)` \|", subsection(README_HEADINGS[section]), re.MULTILINE)
    assert rows, f"no key table under {README_HEADINGS[section]!r}"
    assert [r for r in rows if r not in ACCEPTED_KEYS[section]] == []


def test_readme_covers_the_top_level_tables_and_the_essentials() -> None:
    text = reference()
    for needle in ("`[monitor]`", "`[[feeds]]`", "`[terms]`", "`[[rules]]`", "`[channels.NAME]`",
                   "$PRESS_MONITOR_CONFIG", "$CREDENTIALS_DIRECTORY", "NEAR(", "from 1", "MiB"):
        assert needle in text, needle
    for column in ("title", "summary", "body", "author", "dateline", "tickers", "source"):
        assert f"`{column}:`" in text, column


def test_readme_complete_example_loads(tmp_path: Path) -> None:
    """The README's complete example is a valid config (with its secrets provided)."""
    example = subsection("### Complete example")
    toml = re.search(r"```toml\n(.*?)```", example, re.DOTALL)
    assert toml is not None
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("pw\n")
    cfg = loads(toml[1], path=tmp_path / "config.toml",
                environ={"PRESS_MONITOR_WEBHOOK_SECRET": WEBHOOK_SECRET, "CREDENTIALS_DIRECTORY": str(creds)})
    assert len(cfg.feeds) == 2 and len(cfg.rules) == 2 and set(cfg.channels) == {"console", "slack", "ops-mail"}


def test_loader_refuses_keys_missing_from_accepted_keys() -> None:
    """The unknown-key check reads ACCEPTED_KEYS: each section refuses a key it does not list."""
    assert "unknown key" in problems("[monitor]\ninterval = '5m'\n")
    assert "unknown key" in problems("[[feeds]]\nname = 'a'\nurl = 'https://a.example/'\nnotify = []\n")
    assert "unknown key" in problems("[[rules]]\nname = 'a'\nquery = 'x'\nurl = 'https://a.example/'\n")
    assert config.ACCEPTED_KEYS is ACCEPTED_KEYS


# --------------------------------------------------------------------------- database: a file or a server


@pytest.mark.parametrize("url", ["postgresql://pm:s3cret@db.example:5433/archive?sslmode=require",
                                 "postgres:///archive", "POSTGRESQL://localhost/pm"])
def test_database_url_is_a_server_archive_passed_on_untouched(tmp_path: Path, url: str) -> None:
    cfg = loads(f"[monitor]\ndatabase = '{url}'\n", path=tmp_path / "config.toml", environ={})
    assert cfg.settings.database == ServerDatabase(url)
    assert isinstance(cfg.settings.database, ServerDatabase) and cfg.settings.database.url == url
    assert "s3cret" not in str(cfg.settings.database) and "s3cret" not in repr(cfg.settings)
    assert not (tmp_path / "postgresql:").exists()


def test_database_env_reads_the_url_or_a_path_from_the_environment(tmp_path: Path) -> None:
    url = "postgresql://pm:pw@127.0.0.1/pm?password=pw2"
    cfg = loads("[monitor]\ndatabase_env = 'PM_DB'\n", path=tmp_path / "config.toml", environ={"PM_DB": url})
    assert cfg.settings.database == ServerDatabase(url)
    assert "pw" not in str(cfg.settings.database).replace("pm:", "")
    cfg = loads("[monitor]\ndatabase_env = 'PM_DB'\n", path=tmp_path / "config.toml", environ={"PM_DB": "a.db"})
    assert cfg.settings.database == tmp_path / "a.db"
    with pytest.raises(ConfigError, match=r"monitor.database_env \(PM_DB\): \"ftp://x\" is neither"):
        loads("[monitor]\ndatabase_env = 'PM_DB'\n", path=tmp_path / "config.toml", environ={"PM_DB": "ftp://x"})


@pytest.mark.parametrize("span", ["2 days", "30d", "2w", "12h", "3 Days", "1h30m", "6mo", "1 year", "90 mins"])
def test_config_and_the_command_line_read_one_duration_grammar(span: str) -> None:
    """ "2 days" works for --since and in config.toml alike (issue 23): the same seconds from both."""
    from datetime import UTC, datetime

    from monitor.cli.when import parse_when

    now = datetime(2026, 6, 1, tzinfo=UTC)
    since = parse_when(span, now)
    assert since is not None
    assert (now - since).total_seconds() == parse_duration(span, key="k")
    assert config.loads(f'[monitor]\npoll_interval = "{span}"\n', path=Path("c.toml")).settings.poll_interval \
        == parse_duration(span, key="k")
