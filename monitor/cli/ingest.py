"""`check` and `run`: validate the config, poll the feeds."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from monitor import logging_setup
from monitor.cli import checks
from monitor.cli.base import Ctx, fail, main
from monitor.clock import SystemClock
from monitor.errors import ConfigError
from monitor.types import PollResult

if TYPE_CHECKING:
    from monitor.app import App


@main.command()
@click.pass_obj
def check(obj: Ctx) -> None:
    """Validate the config (feeds, rules, channels) and print a short summary.

    Every problem in the file and in its rules is listed together (exit 2, no summary). Things that
    work but probably are not what you meant are warnings (exit 0): a local feed file that does not
    exist, a rule that alerts no channel.

    \b
    Examples:
      press-monitor check
      press-monitor --config /etc/press-monitor/config.toml check
    """

    path = obj.path
    if not path.exists():
        fail(f"{path}: no such config file (use --config PATH or $PRESS_MONITOR_CONFIG)")
    problems: list[str] = []
    cfg = None
    try:
        cfg = obj.app.config
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    specs, terms = (cfg.rules, cfg.terms) if cfg is not None else checks.raw_rules(path)
    problems.extend(p for p in checks.rule_problems(specs, terms, source=path.name) if p not in problems)
    if problems:
        for line in problems:
            click.echo(line, err=True)
        fail(f"{path}: {len(problems)} problem(s); nothing was changed or polled")
    assert cfg is not None
    a = obj.app
    enabled = [f for f in cfg.feeds if f.enabled]
    click.echo(f"{path}: ok")
    click.echo(f"  database  {cfg.settings.database}")
    click.echo(f"  feeds     {len(cfg.feeds)} ({len(enabled)} enabled)")
    click.echo(f"  rules     {len(a.rules.rules)} ({sum(r.enabled for r in a.rules.rules)} enabled)")
    click.echo(f"  terms     {len(cfg.terms)}")
    chans = ", ".join(f"{n} ({c.type})" for n, c in cfg.channels.items()) or "none"
    click.echo(f"  channels  {chans}")
    for warning in checks.warnings(cfg):
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.option("--once", is_flag=True, help="poll every enabled feed once, deliver due alerts, and exit")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64, clamp=True),
              help="feeds fetched at the same time")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="log lines on stderr: key=value text, or one JSON object per line")
@click.pass_obj
def run(obj: Ctx, once: bool, workers: int, log_format: str) -> None:
    """Run the monitor: the scheduler daemon, or one round of polls with --once.

    \b
    Without --once: poll each feed on its interval until SIGTERM/SIGINT (exit 0 after running
    polls finish, at most 20 s); SIGHUP reloads config.toml (a bad one is refused, the old one
    keeps running). Speaks the systemd notify protocol when $NOTIFY_SOCKET is set.
    With --once: poll every enabled feed once, print one line per feed, exit 0 when every feed
    succeeded and 1 otherwise.

    \b
    Examples:
      press-monitor run --once
      press-monitor run --log-format json
    """
    a = obj.app
    _ = a.rules  # a bad rule is refused before anything is polled
    logging_setup.setup("DEBUG" if obj.debug else a.config.settings.log_level, log_format)
    if once:
        sys.exit(run_once(a, workers))
    from monitor import daemon  # the scheduler (apscheduler) is only loaded for the daemon

    sys.exit(daemon.run(obj.path, a, workers=workers))


def run_once(a: App, workers: int) -> int:
    """Poll every enabled feed once; return the exit code."""
    from monitor import app as app_mod  # heavy imports only for the commands that poll
    from monitor import pipeline
    from monitor.deliver import Report
    from monitor.fetch import Fetcher

    s = a.config.settings
    clock = SystemClock()
    feeds = [f for f in a.config.feeds if f.enabled]
    fetcher = Fetcher(user_agent=s.user_agent, timeout=s.timeout, max_bytes=s.max_feed_bytes, clock=clock)
    pool = app_mod.digest_pool(len(feeds))
    failed = too_old = 0
    try:
        with a.open_store() as store:
            for result in pipeline.poll_many(feeds, fetcher=fetcher, store=store, rules=a.rules, settings=s,
                                             clock=clock, channels=a.channels, workers=workers, digest_pool=pool):
                click.echo(format_result(result))
                failed += not result.ok
                too_old += result.too_old
            if too_old:
                click.echo(quiet_line(too_old, s.alert_max_age))
            report = a.deliver(store, clock, stdout=sys.stdout)
            if report is None:
                click.echo("alerts: another press-monitor process is delivering them", err=True)
            elif report != Report():
                click.echo(f"alerts: {report.sent} sent, {report.retrying} to retry, {report.dead} dead, "
                           f"{report.waiting} waiting")
    finally:
        fetcher.close()
        if pool is not None:
            pool.shutdown()
    return 1 if failed else 0


def quiet_line(n: int, max_age: float) -> str:
    """Say why matches made no alert, so a first run on old news does not look broken."""
    from monitor.config import format_duration

    return (f"{n} matched, archived without alert: published before alert_max_age {format_duration(max_age)}"
            " ([monitor] in config.toml)")


def format_result(r: PollResult) -> str:
    """Return the one-line summary of a poll: `ok  12 new  3 dup  NAME` or `ERR reason  NAME`."""
    if not r.ok:
        return f"ERR {r.error}  {r.feed}"
    if r.not_modified:
        return f"ok  not modified  {r.feed}"
    extra = f"  {r.revised} revised" if r.revised else ""
    extra += f"  {r.matches} matched" if r.matches else ""
    extra += f"  (recovered from bad XML: {r.bozo})" if r.bozo else ""
    extra += f"  ({r.dropped} more items than a poll reads: left for the next polls)" if r.dropped else ""
    # Which reader took the feed: a fast-path regression shows as feeds moving to feedparser.
    extra += f"  [feedparser: {r.parse_fallback}]" if r.parse_fallback else ""
    return f"ok  {r.new} new  {r.seen} dup{extra}  {r.feed}"


