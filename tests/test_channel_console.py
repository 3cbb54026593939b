"""Console channel and the shared rendering helpers (channels/render.py)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from monitor.channel_options import ConsoleOptions
from monitor.channels import ConsoleChannel, build
from monitor.channels.render import clean_text, html_block, safe_url, text_block
from monitor.errors import ConfigError, DeliveryError
from monitor.types import ChannelSpec, Dateline, Notice, ReleaseView, Source

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
DATELINE = Dateline("BEIJING", date(2023, 5, 11), "PRNewswire")


def make_notice(
    alert_id: str = "alert-1",
    *,
    rule: str = "central-asia",
    channel: str = "newsroom",
    title: str = "China-Central Asia Summit opens in Xi'an",
    url: str = "https://www.prnewswire.com/news-releases/summit-301.html",
    snippet: str = "leaders of [Central] [Asia] meet in Xi'an",
    release_id: int = 42,
    sources: tuple[Source, ...] | None = None,
    dateline: Dateline | None = DATELINE,
    summary: str = "Leaders of five Central Asian states meet.",
) -> Notice:
    """Return a Notice about one release, every field overridable."""
    release = ReleaseView(
        id=release_id,
        title=title,
        url=url,
        published=datetime(2023, 5, 11, 8, 0, tzinfo=UTC),
        first_seen=datetime(2023, 5, 11, 8, 5, 30, tzinfo=UTC),
        author="CGTN",
        summary=summary,
        dateline=dateline,
        tickers=(),
        sources=sources
        if sources is not None
        else (
            Source("PR Newswire: all", "https://www.prnewswire.com/rss/all.rss"),
            Source("PR Newswire: asia", "https://www.prnewswire.com/rss/asia.rss"),
        ),
    )
    return Notice(alert_id=alert_id, rule=rule, channel=channel, snippet=snippet, release=release)


class _MarkupCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs.extend(value or "" for name, value in attrs if name in ("href", "src"))


def html_markup(document: str) -> tuple[set[str], list[str]]:
    """Return the element names a browser would see in `document`, and every href/src value."""
    collector = _MarkupCollector()
    collector.feed(document)
    collector.close()
    return collector.tags, collector.hrefs


def console(spec_options: dict[str, object] | None = None, out: io.StringIO | None = None):
    spec = ChannelSpec(name="term", type="console", options=ConsoleOptions(**(spec_options or {})))  # type: ignore[arg-type]
    return build(spec, stdout=out)


def test_single_alert_block_names_rule_title_sources_time_link_and_snippet() -> None:
    out = io.StringIO()
    notice = make_notice()
    console(out=out).send([notice], now=NOW, message_id=notice.alert_id)
    text = out.getvalue()
    assert text.startswith("[central-asia] China-Central Asia Summit opens in Xi'an\n")
    assert "source:    PR Newswire: all, PR Newswire: asia" in text
    assert "published: 2023-05-11 08:00 UTC" in text
    assert "dateline:  BEIJING 2023-05-11 PRNewswire" in text
    assert "link:      https://www.prnewswire.com/news-releases/summit-301.html" in text
    assert "leaders of [Central] [Asia] meet in Xi'an" in text
    assert "press-monitor:" not in text  # no digest heading for a single alert


def test_digest_is_a_heading_then_one_block_per_alert() -> None:
    out = io.StringIO()
    notices = [make_notice(f"a{i}", title=f"Release number {i}", release_id=i) for i in range(3)]
    console(out=out).send(notices, now=NOW, message_id="digest-1", digest=True)
    text = out.getvalue()
    first_line = text.splitlines()[0]
    assert first_line == "press-monitor: 3 alerts for newsroom at 2026-11-27 18:00 UTC"
    positions = [text.index(f"] Release number {i}") for i in range(3)]
    assert positions == sorted(positions)


def test_terminal_escapes_and_line_breaks_in_feed_text_are_neutralised() -> None:
    out = io.StringIO()
    notice = make_notice(
        title="Evil\x1b[2J\x1b]0;pwned\x07 title\r\nFAKE: line\u2028more\u202etxt",
        snippet="snip\x00pet\x85end",
    )
    console(out=out).send([notice], now=NOW, message_id="x")
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\x00" not in text
    assert "\u2028" not in text and "\u202e" not in text and "\x85" not in text
    title_line = text.splitlines()[0]
    assert title_line.startswith("[central-asia] Evil")
    assert "FAKE: line more" in title_line  # the injected "line" stayed on the title's line


def test_non_http_link_is_not_shown() -> None:
    out = io.StringIO()
    console(out=out).send([make_notice(url="javascript:alert(1)")], now=NOW, message_id="x")
    assert "javascript" not in out.getvalue()
    assert "link:      (no link)" in out.getvalue()


def test_stderr_stream(capsys: pytest.CaptureFixture[str]) -> None:
    console({"stream": "stderr"}).send([make_notice()], now=NOW, message_id="x")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "[central-asia]" in captured.err


def test_default_stream_is_stdout_looked_up_at_send_time(capsys: pytest.CaptureFixture[str]) -> None:
    channel = console()
    channel.send([make_notice()], now=NOW, message_id="x")
    assert "[central-asia]" in capsys.readouterr().out


def test_closed_stream_is_a_delivery_error() -> None:
    out = io.StringIO()
    out.close()
    with pytest.raises(DeliveryError, match="cannot write to stdout"):
        console(out=out).send([make_notice()], now=NOW, message_id="x")


def test_unknown_channel_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown channel type 'pager'"):
        build(ChannelSpec(name="p", type="pager"))


def test_send_checks_the_batch_shape() -> None:
    channel = ConsoleChannel("t", out=io.StringIO())
    with pytest.raises(ValueError, match="the alerts of one release"):
        channel.send([make_notice(), make_notice("b", release_id=7)], now=NOW, message_id="x")
    with pytest.raises(ValueError, match="at least one"):
        channel.send([], now=NOW, message_id="x", digest=True)


def test_one_release_matched_by_several_rules_is_one_block_naming_every_rule() -> None:
    out = io.StringIO()
    ConsoleChannel("t", out=out).send(
        [make_notice("a1"), make_notice("a2", rule="summits", snippet="the [Summit] opens")], now=NOW,
        message_id="a1")
    text = out.getvalue()
    assert text.count("China-Central Asia Summit opens in Xi'an") == 1
    assert text.startswith("[central-asia, summits] China-Central Asia Summit opens in Xi'an\n")
    assert "  central-asia: leaders of [Central] [Asia] meet in Xi'an\n" in text
    assert "  summits: the [Summit] opens\n" in text


# --------------------------------------------------------------------------- render helpers


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative/path",
        "http://",
        "http://[::1",
        "",
    ],
)
def test_safe_url_refuses_everything_but_absolute_http(url: str) -> None:
    assert safe_url(url) is None


def test_safe_url_keeps_http_links_and_escapes_breakout_characters() -> None:
    assert safe_url("https://example.com/a?b=1&c=2") == "https://example.com/a?b=1&c=2"
    assert safe_url("HTTP://Example.com/x") == "HTTP://Example.com/x"
    escaped = safe_url('https://example.com/a"><script>|`x` y')
    assert escaped == "https://example.com/a%22%3E%3Cscript%3E%7C%60x%60%20y"


def test_clean_text_collapses_and_caps() -> None:
    assert clean_text("  a\r\n b\t\u2029c\u0085d\u00ade ") == "a b c de"
    capped = clean_text("word " * 100, 20)
    assert len(capped) <= 20 and capped.endswith("\u2026")


def test_html_block_escapes_feed_text_and_drops_unsafe_links() -> None:
    notice = make_notice(
        title='<script>alert("x")</script> & <b>bold</b>',
        url="javascript:alert(1)",
        snippet="<img src=x onerror=alert(1)>",
        sources=(Source('<a href="javascript:1">feed</a>', "https://x.example"),),
    )
    fragment = html_block(notice)
    assert "<script" not in fragment and "<img" not in fragment and "<b>" not in fragment
    assert 'href="javascript' not in fragment
    tags, hrefs = html_markup(fragment)
    assert tags <= {"div"}  # no link at all: the only link was javascript:
    assert hrefs == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in fragment


def test_text_block_without_dateline_or_sources() -> None:
    block = text_block(make_notice(dateline=None, sources=()))
    assert "dateline" not in block and "source:" not in block
    assert block.splitlines()[0] == "[central-asia] China-Central Asia Summit opens in Xi'an"


def test_untitled_release_still_renders() -> None:
    block = text_block(replace(make_notice(), release=replace(make_notice().release, title="\x00 ")))
    assert block.startswith("[central-asia] (untitled)")
