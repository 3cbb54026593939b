"""The real CLI as a subprocess, on the bundled samples and a local feed server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.configs import ROOT, cli
from tests.feedserver import FeedServer


@pytest.fixture
def workdir(tmp_path: Path, feed_server: FeedServer) -> Path:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    feed_server.status("/down.rss", 503)
    (tmp_path / "config.toml").write_text(f"""
[monitor]
database = "archive.db"

[[feeds]]
name = "Sample US"
url = "./samples/prnewswire-sample.xml"

[[feeds]]
name = "Sample UK"
url = "./samples/prnewswire-uk-sample.xml"

[[feeds]]
name = "Down"
url = "{feed_server.url('/down.rss')}"

[terms]
central_asia = ['"Central Asia"', "Kazakhstan", "Uzbekistan"]

[[rules]]
name = "central-asia"
query = "@central_asia"
notify = ["console"]

[channels.console]
type = "console"
""")
    return tmp_path


def test_bundled_config_is_valid() -> None:
    done = cli("--config", str(ROOT / "config.toml"), "check", cwd=ROOT, check=True)
    assert "feeds     7 (7 enabled)" in done.stdout
    assert "console (console)" in done.stdout


@pytest.mark.slow
def test_run_once_search_show_and_no_duplicates(workdir: Path) -> None:
    first = cli("run", "--once", cwd=workdir)
    assert first.returncode == 1  # one feed failed
    lines = sorted(first.stdout.splitlines())
    assert "ERR HTTP 503 Service Unavailable  Down" in lines
    # The two samples share releases; whichever commits second reports them as dups.
    ok = {line.rsplit("  ", 1)[1]: line for line in lines if line.startswith("ok")}
    assert set(ok) == {"Sample US", "Sample UK"}
    new = [int(line.split()[1]) for line in ok.values()]
    dup = [int(line.split()[3]) for line in ok.values()]
    assert sum(new) == 7 and sum(dup) == 2, ok
    assert "Traceback" not in first.stderr

    second = cli("run", "--once", cwd=workdir)  # polled a moment ago: not due yet, the 503 backs off
    assert second.returncode == 1, second.stdout
    assert "wait  not due, next poll " in second.stdout
    assert "wait  backing off after 1 failure(s), next poll " in second.stdout
    forced = cli("run", "--once", "--force", cwd=workdir)
    assert "ok  not modified  Sample US" in forced.stdout
    assert "ok  not modified  Sample UK" in forced.stdout

    hits = json.loads(cli("search", '"Central Asia" summit*', "--json", cwd=workdir, check=True).stdout)
    assert hits and "Central Asian" in hits[0]["title"]
    assert len({h["id"] for h in hits}) == len(hits)  # the CGTN release once, not once per feed
    published = hits[0]["published"][:10]
    until = cli("search", '"Central Asia" summit*', "--json", "--until", published, cwd=workdir, check=True)
    assert hits[0]["id"] not in {h["id"] for h in json.loads(until.stdout)}  # published on that day, not before

    shown = cli("show", str(hits[0]["id"]), cwd=workdir, check=True).stdout
    assert "Sample US" in shown and "Sample UK" in shown  # two sightings of one release
    assert "BEIJING" in shown

    feeds = cli("feeds", cwd=workdir, check=True).stdout
    assert "failing" in feeds and "HTTP 503" in feeds

    rules = cli("rules", cwd=workdir, check=True).stdout
    assert "central-asia" in rules
    backtest = cli("rules", "test", "central-asia", "--since", "2000-01-01", cwd=workdir, check=True).stdout
    assert "would have matched 1 release(s)" in backtest


@pytest.mark.slow
def test_bad_query_is_one_line_not_a_traceback(workdir: Path) -> None:
    cli("run", "--once", cwd=workdir)
    bad = cli("search", "summit AND", cwd=workdir)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "syntax error" in bad.stderr
    unknown = cli("search", "@nowhere", cwd=workdir)
    assert unknown.returncode == 2 and "nowhere" in unknown.stderr


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[[feeds]]\nname = "x"\nurl = "htp://x"\nintervall = "5m"\n')
    done = cli("check", cwd=tmp_path)
    assert done.returncode == 2
    assert 'feeds[1].url: "htp://x" is not an http(s) or file URL' in done.stderr
    assert 'feeds[1].intervall: unknown key (did you mean "interval"?)' in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_config_and_version(tmp_path: Path) -> None:
    done = cli("check", cwd=tmp_path)
    assert done.returncode == 2 and "config.toml" in done.stderr
    assert cli("--version", cwd=tmp_path, check=True).stdout.startswith("press-monitor")


@pytest.mark.slow
def test_feeds_opml_export_is_valid_opml_and_imports_back(workdir: Path, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    opml = cli("feeds", "--opml", cwd=workdir, check=True).stdout
    outlines = ET.fromstring(opml).findall("./body/outline")
    assert [o.get("text") for o in outlines] == ["Sample US", "Sample UK", "Down"]
    assert all(o.get("type") == "rss" and o.get("xmlUrl") for o in outlines)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.toml").write_text("# my feeds\n[monitor]\n")
    (other / "feeds.opml").write_text(opml)
    done = cli("import", "feeds.opml", cwd=other, check=True)
    # Local file feeds are not subscriptions to hand on: skipped, and said so.
    assert done.stdout.count("file:") + done.stderr.count("file:") >= 2, done.stdout + done.stderr
    text = (other / "config.toml").read_text()
    assert text.startswith("# my feeds") and text.count("[[feeds]]") == 1 and 'name = "Down"' in text
    assert "feeds     1 (1 enabled)" in cli("check", cwd=other, check=True).stdout


@pytest.mark.slow
def test_a_bad_rule_stops_check_and_run_but_not_reading_the_archive(workdir: Path) -> None:
    cli("run", "--once", cwd=workdir)
    config = workdir / "config.toml"
    config.write_text(config.read_text().replace('query = "@central_asia"', 'query = "summit AND"'))
    for args in (("check",), ("run", "--once")):
        done = cli(*args, cwd=workdir)
        assert done.returncode == 2, args
        assert 'rules[1] "central-asia": query: syntax error near "AND"' in done.stderr
    assert json.loads(cli("search", "summit*", "--json", cwd=workdir, check=True).stdout)


def test_the_run_line_says_when_items_were_left_for_later_and_who_parsed() -> None:
    from monitor.cli.ingest import format_result
    from monitor.types import PollResult

    line = format_result(PollResult("Big", new=2000, dropped=98_000, parse_fallback="not well-formed XML"))
    assert line == ("ok  2000 new  0 dup  (98000 more items than a poll reads: left for the next polls)"
                    "  [feedparser: not well-formed XML]  Big")
    assert format_result(PollResult("Small", new=1)) == "ok  1 new  0 dup  Small"


def test_usage_errors_are_one_line_like_every_error(tmp_path: Path) -> None:
    """click's three-line usage errors become the README's one line, exit 2 (issue 23)."""
    for args, what in [(("nosuch",), "No such command 'nosuch' (see press-monitor --help)"),
                       (("search",), "Missing argument 'QUERY' (see press-monitor search --help)"),
                       (("search", "-n", "x", "q"), "'x' is not a valid integer range (see press-monitor search"),
                       (("feeds", "add"), "Missing argument 'URL|PRESET|FILE' (see press-monitor feeds add --help)")]:
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.startswith("press-monitor: "), (args, done.stderr)
        assert done.stderr.count("\n") == 1 and what in done.stderr, (args, done.stderr)
    assert cli("--help", cwd=tmp_path, check=True).stdout.startswith("Usage: press-monitor")
    assert cli("--version", cwd=tmp_path, check=True).stdout.startswith("press-monitor, version")
