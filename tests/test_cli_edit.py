"""`feeds add`, `feeds presets`, `rules add` and `import` edit config.toml: the real CLI, a real local web server."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import config as config_mod
from monitor import discover
from monitor.cli import configedit
from tests.configs import HOOK_ENV, ROOT, SECRET, cli
from tests.feedserver import FeedServer, html_page, rss
from tests.webhook_receiver import WebhookReceiver

HEAD = """# My press-monitor config.  A comment the edits must keep.
[monitor]
database = "a.db"   # trailing comment

[[feeds]]
name = "first"   # the first feed
url = "./samples/prnewswire-sample.xml"

[[rules]]
name = "summits"
query = "summit*"
notify = ["console"]

# channels below
[channels.console]
type = "console"
"""


def setup(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "config.toml").write_text(HEAD)
    return tmp_path / "config.toml"


def test_feeds_add_discovers_the_feed_of_a_web_page(tmp_path: Path, feed_server: FeedServer) -> None:
    cfg = setup(tmp_path)
    feed_server.publish("/news/feed.xml", rss([{"title": "A release", "guid": "g1", "link": "https://x.example/1"}],
                                              title="Example Corp newsroom"))
    page = (b'<!doctype html><html><head><title>Newsroom</title>'
            b'<link rel="stylesheet" href="/s.css">'
            b'<link rel="alternate" type="application/rss+xml" title="Releases" href="news/feed.xml">'
            b"</head><body>hello</body></html>")
    feed_server.route("/newsroom", html_page(page))
    done = cli("feeds", "add", feed_server.url("/newsroom"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"found {feed_server.url('/news/feed.xml')}" in done.stderr
    text = cfg.read_text()
    assert text.startswith(HEAD.split("[[rules]]")[0])  # everything before the new table is untouched
    assert "# channels below" in text and "# trailing comment" in text and "# the first feed" in text
    feeds = config_mod.load(cfg).feeds
    assert [(f.name, f.url) for f in feeds][1] == ("Example Corp newsroom", feed_server.url("/news/feed.xml"))
    # The same feed again (by its page or its own URL) is refused, and the file stays as it is.
    again = cli("feeds", "add", feed_server.url("/news/feed.xml"), "--name", "other", cwd=tmp_path)
    assert again.returncode == 2 and "already configured as 'Example Corp newsroom'" in again.stderr
    assert cfg.read_text() == text
    # The new feed polls.
    polled = cli("run", "--once", cwd=tmp_path, check=True)
    assert "ok  1 new  0 dup  Example Corp newsroom" in polled.stdout


def test_feeds_add_says_why_a_page_has_no_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    cfg = setup(tmp_path)
    feed_server.route("/plain", html_page(b"<html><head><title>x</title></head><body>no feed</body></html>"))
    feed_server.status("/gone", 404)
    for path, why in [("/plain", "is neither a feed nor a page that links to one"), ("/gone", "HTTP 404")]:
        done = cli("feeds", "add", feed_server.url(path), cwd=tmp_path)
        assert done.returncode == 2 and why in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert cfg.read_text() == HEAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "samples"]  # no temp file left


@pytest.mark.slow
def test_feeds_add_a_preset_and_a_local_file(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    listed = cli("feeds", "presets", cwd=tmp_path, check=True).stdout
    assert "prnewswire:energy" in listed and "globenewswire:" in listed and "businesswire:" in listed
    done = cli("feeds", "add", "prnewswire:energy", cwd=tmp_path, check=True)
    assert "added feed 'PR Newswire: energy'" in done.stdout
    unknown = cli("feeds", "add", "prnewswire:nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "no preset 'prnewswire:nope'" in unknown.stderr
    local = cli("feeds", "add", "./samples/prnewswire-uk-sample.xml", "--name", "UK", cwd=tmp_path, check=True)
    assert "added feed 'UK'" in local.stdout
    loaded = {f.name: f.url for f in config_mod.load(cfg).feeds}
    assert loaded["PR Newswire: energy"] == discover.preset("prnewswire:energy").url  # type: ignore[union-attr]
    assert loaded["UK"] == (tmp_path / "samples" / "prnewswire-uk-sample.xml").as_uri()
    dup = cli("feeds", "add", "./samples/prnewswire-sample.xml", "--name", "again", cwd=tmp_path)
    assert dup.returncode == 2 and "already configured as 'first'" in dup.stderr, dup.stderr


def test_feeds_add_a_file_takes_the_feeds_title_and_knows_it_from_anywhere(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    # Named from another folder: config.toml gets the path relative to its own folder.
    done = cli("--config", "../config.toml", "feeds", "add", "../samples/prnewswire-uk-sample.xml",
               cwd=tmp_path / "elsewhere", check=True)
    assert "added feed 'PR Newswire UK: Latest News Releases (sample)'" in done.stdout, done.stdout
    assert 'url = "./samples/prnewswire-uk-sample.xml"' in cfg.read_text()
    # The configured file, however it is spelled, is "already configured as", not a loader error.
    for spelling in ("samples/prnewswire-sample.xml", str(tmp_path / "samples" / "prnewswire-sample.xml"),
                     (tmp_path / "samples" / "prnewswire-sample.xml").as_uri()):
        dup = cli("feeds", "add", spelling, "--name", "again", cwd=tmp_path)
        assert dup.returncode == 2 and "is already configured as 'first'" in dup.stderr, dup.stderr
    (tmp_path / "junk.xml").write_text("not a feed")
    junk = cli("feeds", "add", "junk.xml", cwd=tmp_path)
    assert junk.returncode == 2 and junk.stderr.startswith("press-monitor: cannot add junk.xml: "), junk.stderr
    later = cli("feeds", "add", "./later.xml", cwd=tmp_path, check=True)
    assert "added feed 'later'" in later.stdout and "does not exist (yet?)" in later.stderr


def test_concurrent_rules_add_keeps_every_acknowledged_rule(tmp_path: Path) -> None:
    """Several `rules add` at once on one config: each that exits 0 has its rule in the file."""
    cfg = setup(tmp_path)
    names: list[str] = []
    for round_ in range(3):
        batch = [f"r{round_}-{i}" for i in range(6)]
        procs = [subprocess.Popen([sys.executable, "-m", "monitor", "rules", "add", name, f"summit {name}",
                                   "--notify", "console"], cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for name in batch]
        for name, proc in zip(batch, procs, strict=True):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert f"added rule {name!r}" in out
        names += batch
        assert sorted(r.name for r in config_mod.load(cfg).rules) == sorted(["summits", *names]), round_
    text = cfg.read_text()
    assert text.startswith("# My press-monitor config.") and "# channels below" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config.toml.lock", "config.toml", "samples"]


def test_rules_add_edits_a_symlinked_config_through_the_link(tmp_path: Path) -> None:
    setup(tmp_path)
    real_dir = tmp_path / "etc"
    real_dir.mkdir()
    real = real_dir / "real.toml"
    real.write_text(HEAD.replace('"./samples/', '"../samples/'))
    real.chmod(0o640)
    (tmp_path / "config.toml").unlink()
    (tmp_path / "config.toml").symlink_to("etc/real.toml")
    cli("rules", "add", "linked", "uranium", "--notify", "console", cwd=tmp_path, check=True)
    link = tmp_path / "config.toml"
    assert link.is_symlink() and os.readlink(link) == "etc/real.toml"
    assert [r.name for r in config_mod.load(real).rules] == ["summits", "linked"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real_dir.iterdir()) == [".real.toml.lock", "real.toml"]


def test_replace_file_keeps_mode_and_owner(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("# old\n")
    target.chmod(0o600)
    gid = next((g for g in os.getgroups() if g != target.stat().st_gid), None)
    if gid is not None:  # a second group of ours: the rewritten file must keep the one the file had
        os.chown(target, -1, gid)
    before = target.stat()
    configedit.replace_file(target, "# new\n")
    after = target.stat()
    assert target.read_text() == "# new\n" and after.st_ino != before.st_ino
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (0o600, before.st_uid, before.st_gid)


@pytest.mark.slow
def test_rules_add_checks_before_it_writes(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    done = cli("rules", "add", "uranium", "uranium OR Kazakhstan", "--notify", "console", cwd=tmp_path, check=True)
    assert "added rule 'uranium'" in done.stdout
    text = cfg.read_text()
    assert text.startswith(HEAD.split("# channels below")[0]) and "# channels below" in text
    rules = config_mod.load(cfg).rules
    assert [(r.name, r.query, r.notify) for r in rules][1] == ("uranium", "uranium OR Kazakhstan", ("console",))
    for args, why in [
        (("uranium", "x"), "a rule named 'uranium' is already"),
        (("broken", "summit AND"), 'rules[3] "broken": query: syntax error near "AND"'),
        (("nochannel", "x", "--notify", "slak"), 'no channel named "slak"'),
        (("Bad Name", "x"), "rules[3].name"),
        (("nofeed", "x", "--feed", "frist"), "frist"),
        (("badre", "x", "--regex", "(NYSE"), "rules[3].regex: invalid regular expression: missing )"),
    ]:
        refused = cli("rules", "add", *args, cwd=tmp_path)
        assert refused.returncode == 2 and why in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert cfg.read_text() == text
    quiet = cli("rules", "add", "quiet", "x", cwd=tmp_path, check=True)
    assert "alerts no channel" in quiet.stderr
    cli("run", "--once", cwd=tmp_path, check=True)
    backtest = cli("rules", "test", "uranium", "--since", "100y", cwd=tmp_path, check=True).stdout
    assert "rule 'uranium' would have matched 1 release(s)" in backtest

    narrow = cli("rules", "add", "narrow", "uranium", "--feed", "first", "--regex", r"(?i)\bKazakh", "--notify",
                 "console", cwd=tmp_path, check=True)
    assert "feeds: first  regex: (?i)\\bKazakh" in narrow.stdout
    rule = next(r for r in config_mod.load(cfg).rules if r.name == "narrow")
    assert (rule.feeds, rule.regex) == (("first",), r"(?i)\bKazakh")


def test_import_keeps_folders_and_says_why_it_skips(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    exported = cli("feeds", "--opml", cwd=tmp_path, check=True).stdout
    (tmp_path / "mine.opml").write_text(exported.replace("</body>", """
      <outline text="Wires">
        <outline text="Energy">
          <outline type="rss" text="PRN energy" xmlUrl="https://www.prnewswire.com/rss/energy.rss"/>
        </outline>
        <outline type="rss" text="GNW" xmlUrl="https://www.globenewswire.com/rss"/>
      </outline>
      <outline type="rss" text="Top" xmlUrl="https://top.example/rss"/>
      <outline type="rss" text="Elsewhere" xmlUrl="file:///srv/other.xml"/>
    </body>"""))
    done = cli("import", "mine.opml", cwd=tmp_path, check=True)
    # The configured file:// feed comes back as a duplicate, not as "not an http(s) URL".
    assert "skipped  first" in done.stdout and "already configured as 'first'" in done.stdout
    assert "Elsewhere  (file:///srv/other.xml): not an http(s) URL" in done.stdout
    names = [f.name for f in config_mod.load(cfg).feeds]
    assert names == ["first", "Wires / Energy: PRN energy", "Wires: GNW", "Top"]
    assert "# imported from mine.opml" in cfg.read_text() and cfg.read_text().startswith("# My press-monitor")


def test_channels_add_webhook_then_it_alerts(tmp_path: Path, receiver: WebhookReceiver) -> None:
    cfg = setup(tmp_path)
    done = cli("channels", "add", "webhook", "ops", "--url", receiver.url, "--header", "X-Team: press",
               "--secret-env", "PM_TEST_HOOK_SECRET", "--rule", "summits", cwd=tmp_path, env=HOOK_ENV)
    assert done.returncode == 0, done.stderr
    assert "added webhook channel 'ops'; rules alerting it: summits" in done.stdout
    text = cfg.read_text()
    assert text.startswith(HEAD.split("notify =")[0]) and "# channels below" in text
    assert 'headers = {X-Team = "press"}' in text and "secret_env" in text and SECRET not in text
    loaded = config_mod.load(cfg)
    assert next(r for r in loaded.rules if r.name == "summits").notify == ("console", "ops")
    assert loaded.channels["ops"].type == "webhook"
    sent = cli("alerts", "test", "ops", cwd=tmp_path, env=HOOK_ENV)
    assert sent.returncode == 0 and "ops: sent test alert" in sent.stdout, sent.stderr
    [delivery] = receiver.deliveries
    assert delivery.headers["x-team"] == "press" and delivery.verified
    assert "ops" in cli("channels", cwd=tmp_path, check=True).stdout


def test_channels_add_checks_before_it_writes(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    done = cli("channels", "add", "email", "desk", "--host", "smtp.example.com", "--from", "pm@example.com",
               "--to", "a@example.com", "--to", "b@example.com", "--digest", "daily 8:00", cwd=tmp_path, check=True)
    assert "no rule alerts it yet" in done.stderr
    desk = config_mod.load(cfg).channels["desk"]
    assert (desk.options.to, desk.options.port, desk.digest.text) == (  # type: ignore[union-attr]
        ("a@example.com", "b@example.com"), 587, "daily 08:00")
    text = cfg.read_text()
    for args, why in [
        (("webhook", "desk", "--url", "https://x.example/"), "a channel named 'desk' is already in config.toml"),
        (("webhook", "bad", "--url", "ftp://x.example/"), 'channels.bad.url: "ftp://x.example/" is not an http(s)'),
        (("webhook", "w", "--url", "https://x.example/", "--rule", "nosuch"), "no rule named 'nosuch' (rules:"),
        (("apprise", "phone"), "channels.phone.urls_env: missing"),
        (("email", "e", "--host", "h", "--from", "pm@example.com"), "Missing option '--to'"),
        (("webhook", "h", "--url", "https://x.example/", "--header", "nocolon"), "'nocolon' is not 'Name: value'"),
    ]:
        refused = cli("channels", "add", *args, cwd=tmp_path)
        assert refused.returncode == 2 and why in refused.stderr, (args, refused.stderr)
        assert refused.stderr.count("\n") == 1, refused.stderr  # one line, as every error
    assert cfg.read_text() == text
