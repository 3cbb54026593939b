"""`check` and `run`: validate the config, poll the feeds."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
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
    from monitor.clock import Clock
    from monitor.deliver import Report
    from monitor.pageworker import PageReport
    from monitor.poller import Skip
    from monitor.store import Store


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
    if cfg is not None and not problems:
        try:  # reads every channel's secret, as the senders will: check reports one it cannot read
            _ = obj.app.channel_set
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
        finally:
            obj.app.close_channels()
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
    from monitor.config.fingerprint import config_hash
    click.echo(f"  hash      {config_hash(cfg)} (of the feeds, terms and rules; `press-monitor nodes` shows each "
               f"daemon's)")
    for warning in checks.warnings(cfg):
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.option("--once", is_flag=True, help="poll every due feed once, deliver due alerts, and exit")
@click.option("--force", is_flag=True,
              help="with --once: also poll feeds our schedule holds back (not due, backing off)")
@click.option("--override-server", is_flag=True,
              help="with --once: as --force, and also feeds whose server asked to wait (Retry-After) or said Gone")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64, clamp=True),
              help="feeds fetched at the same time (at most 2 per host)")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="log lines on stderr: key=value text, or one JSON object per line")
@click.pass_obj
def run(obj: Ctx, once: bool, force: bool, override_server: bool, workers: int, log_format: str) -> None:
    """Run the monitor: the scheduler daemon, or one round of polls with --once.

    \b
    Without --once: poll each feed on its interval until SIGTERM/SIGINT (exit 0 after running
    polls finish, at most 20 s); SIGHUP reloads config.toml (a bad one is refused, the old one
    keeps running). Speaks the systemd notify protocol when $NOTIFY_SOCKET is set.
    With --once: poll every enabled feed that is due, print one line per feed, exit 0 when every
    feed is healthy and 1 otherwise. A feed is skipped, with the reason, when it answered 410 Gone
    (`gone  NAME`), asked to wait with Retry-After or was polled less than its interval ago
    (`wait  ...  NAME`). --force polls the feeds our own schedule holds back (not due, backing off),
    never one whose server asked to wait or said Gone: --override-server polls those too (a gone
    feed that answers again is resumed). Pages left pending by an earlier run are fetched too.

    \b
    Examples:
      press-monitor run --once
      press-monitor run --once --force
      press-monitor run --once --override-server
      press-monitor run --log-format json
    """
    a = obj.app
    _ = a.rules  # a bad rule is refused before anything is polled
    _ = a.channel_set  # so is a channel whose secret cannot be read (only what sends reads secrets)
    logging_setup.setup("DEBUG" if obj.debug else a.config.settings.log_level, log_format)
    if (force or override_server) and not once:
        flag = "--force" if force else "--override-server"
        raise click.UsageError(f"{flag} goes with --once (the daemon always keeps to the schedule)")
    if once:
        sys.exit(run_once(a, workers, force=force, override_server=override_server))
    from monitor import daemon  # the scheduler (apscheduler) is only loaded for the daemon

    sys.exit(daemon.run(obj.path, a, workers=workers))


def run_once(a: App, workers: int, *, force: bool = False, override_server: bool = False) -> int:
    """Poll every due feed once (see FeedPoller.due for force and override_server), fetch the pages
    due (this run's and any an earlier run left pending), deliver due alerts; return the exit code."""
    from monitor.poller import FeedPoller

    clock = SystemClock()
    poller = FeedPoller(a, clock=clock)
    unhealthy = too_old = left = 0
    try:
        with a.open_store() as store:
            due = poller.due(store, a.config.feeds, force=force, override_server=override_server)
            for skip in due.skipped:
                click.echo(format_skip(skip))
                unhealthy += skip.wait.reason != "not-due" or skip.failures > 0
            for polled in poller.round(store, due.ready, workers=workers):
                click.echo(format_result(polled.result, gone=polled.plan.gone))
                unhealthy += not polled.result.ok
                too_old += polled.result.too_old
            next_page = store.next_page_due()
            if next_page is not None and next_page <= clock.now():
                # The pages due now, before delivering: this run's releases and any an earlier run left
                # pending (killed, or a page to retry), so one run gives the whole picture.
                click.echo(fetch_pages(a, store, clock).line())
            if too_old:
                click.echo(quiet_line(too_old, a.config.settings.alert_max_age))
            left = deliver_all(a, store, clock)
    finally:
        poller.fetcher.close()
        a.close_channels()
    return 1 if unhealthy or left else 0


def deliver_all(a: App, store: Store, clock: Clock) -> int:
    """Drain the outbox for `run --once`; return how many due alerts it could not send.

    On a server, alerts another node holds a lease on are not ours to send. A node killed in the
    middle of a drain (kill -9, power loss) keeps its leases until they end, at most one lease
    period: wait for that once, then drain again, so a re-run after a crash finishes the job. What is
    still held after the wait is held by a running node (it renewed the lease), which sends them."""
    from monitor import deliver

    settings = a.config.settings

    def still_due() -> tuple[list, int, datetime | None]:
        """The due alerts, how many of them another node holds, and when the last such lease ends."""
        rows = store.due_alerts(clock.now(), 10**9)
        if not rows or isinstance(settings.database, Path):
            return rows, 0, None
        return (rows, *deliver.held_elsewhere(store, rows, a.config.channels, settings.timezone, clock.now()))

    if not _report(a.deliver(store, clock)):
        return 0
    left, held, until = still_due()
    if until is not None:
        wait = min((until - clock.now()).total_seconds(), settings.lease) + 1
        click.echo(f"alerts: {held} due alert(s) leased by another node until {until:%H:%M:%S} UTC "
                   f"(a node sending them gives them back when done, one stopped mid-send holds them until "
                   f"then): waiting up to {wait:.0f} s")
        deadline = clock.monotonic() + wait
        while held and clock.monotonic() < deadline:
            # A running node gives its leases back as it sends: stop waiting as soon as none is held.
            time.sleep(min(1.0, max(0.0, deadline - clock.monotonic())))
            _, held, _ = still_due()
        _report(a.deliver(store, clock))
        left, held, _ = still_due()
        if held:
            click.echo(f"alerts: {held} due alert(s) are being sent by another running node")
    # The drain sends everything due; what is still due (and not another node's) waits for a channel
    # that is disabled (410 Gone) or no longer configured: say so, and do not call the run a success.
    if len(left) - held:
        click.echo(f"alerts: {len(left) - held} due alert(s) not sent: their channel is disabled or not "
                   "configured (see `press-monitor alerts`)", err=True)
    return len(left) - held


def _report(report: Report | None) -> bool:
    """Print a drain's counts; False when another process (SQLite's delivery lock) is draining."""
    from monitor.deliver import Report

    if report is None:
        click.echo("alerts: another press-monitor process is delivering them", err=True)
        return False
    if report != Report():
        click.echo(f"alerts: {report.sent} sent, {report.retrying} to retry, {report.dead} dead, "
                   f"{report.waiting} waiting")
    return True


def fetch_pages(a: App, store: Store, clock: Clock) -> PageReport:
    """Fetch the pages due now (each once, politely); return the counts."""
    from monitor.pageworker import PageWorker, build_client

    s = a.config.settings
    worker = PageWorker(build_client(s, clock), clock)
    try:
        return worker.drain(store, settings=s, rules=a.rules, channels=a.channels, claims=a.claims(clock))
    finally:
        worker.close()


def quiet_line(n: int, max_age: float) -> str:
    """Say why matches made no alert, so a first run on old news does not look broken."""
    from monitor.config import format_duration

    return (f"{n} matched, archived without alert: published before alert_max_age {format_duration(max_age)}"
            " ([monitor] in config.toml)")


def format_result(r: PollResult, *, gone: bool = False) -> str:
    """Return the one-line summary of a poll: `ok  12 new  3 dup  NAME` or `ERR reason  NAME`."""
    if not r.ok:
        after = "; not polled again (gone: change its url, or --override-server)" if gone else ""
        return f"ERR {r.error}{after}  {r.feed}"
    if r.not_modified:
        return f"ok  not modified  {r.feed}"
    extra = f"  {r.revised} revised" if r.revised else ""
    extra += f"  {r.matches} matched" if r.matches else ""
    extra += f"  (recovered from bad XML: {r.bozo})" if r.bozo else ""
    extra += f"  ({r.dropped} more items than a poll reads: left for the next polls)" if r.dropped else ""
    # Which reader took the feed: a fast-path regression shows as feeds moving to feedparser.
    extra += f"  [feedparser: {r.parse_fallback}]" if r.parse_fallback else ""
    return f"ok  {r.new} new  {r.seen} dup{extra}  {r.feed}"


def format_skip(skip: Skip) -> str:
    """Return the line for a feed not polled: `gone  NAME` or `wait  WHY until WHEN  NAME`."""
    wait, name = skip.wait, skip.feed.name
    if wait.reason == "gone":
        return f"gone  {name}"
    until = f"{wait.until:%Y-%m-%d %H:%M:%S} UTC" if wait.until else "later"
    if wait.reason == "retry-after":
        return f"wait  Retry-After until {until}  {name}"
    why = f"backing off after {skip.failures} failure(s)" if skip.failures else "not due"
    return f"wait  {why}, next poll {until}  {name}"
