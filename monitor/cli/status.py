"""`status`: the daemon's health as it recorded it in the archive; the exit code is for monitoring."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from monitor import schedule
from monitor.cli.base import Ctx, main
from monitor.clock import SystemClock
from monitor.types import FeedCondition


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of a table")
@click.pass_obj
def status(obj: Ctx, as_json: bool) -> None:
    """Show the daemon's health: per feed last success, last error, failure streak and next poll;
    the outbox backlog; the daemon's last poll.

    \b
    Exit code (for monitoring):
      0  healthy
      1  degraded: some feeds or channels are failing (or a feed is gone)
      2  down: no poll for 3 intervals, the daemon stopped, or the archive cannot be read

    \b
    Examples:
      press-monitor status
      press-monitor status --json | jq .outbox
    """
    from monitor.daemon import META_LAST_POLL, META_STARTED, META_STOPPED  # apscheduler: load only here
    from monitor.deliver import channel_failures
    from monitor.store import parse_ts

    a = obj.app
    now = SystemClock().now()
    with a.open_store(readonly=True) as store:
        rows = store.schedules()
        pending, oldest, dead = store.outbox_summary()
        failing_channels = store.failing_channels()
        disabled = store.disabled_channels()
        streaks = {name: run for name in a.config.channels if (run := channel_failures(store, name))}
        last_poll = parse_ts(store.meta(META_LAST_POLL))
        started = parse_ts(store.meta(META_STARTED))
        stopped = parse_ts(store.meta(META_STOPPED))
        page_counts = store.page_counts()
        page_failures = store.page_failures()
    feeds = a.config.feeds
    health = schedule.assess(feeds, rows, now=now, last_poll=last_poll, started=started, stopped=stopped,
                             failing_channels=failing_channels, disabled_channels=disabled)
    if as_json:
        click.echo(json.dumps({
            "status": health.verdict, "code": health.code, "reasons": list(health.reasons),
            "daemon": {"last_poll": _iso(last_poll), "started": _iso(started), "stopped": _iso(stopped)},
            "outbox": {"pending": pending, "oldest_pending": _iso(oldest), "dead": dead,
                       "failing_channels": failing_channels, "disabled_channels": disabled},
            "pages": {"pending": page_counts.get("pending", 0), "failed": page_counts.get("failed", 0),
                      "skipped": page_counts.get("skipped", 0), "done": page_counts.get("done", 0)},
            "channels": [{"name": name, "consecutive_failures": run.failures, "failing_since": _iso(run.since),
                          "last_error": run.last_error} for name, run in streaks.items()],
            "feeds": [{
                "name": f.name, "state": health.states[f.name],
                "last_ok": _iso(r.last_ok_at) if r else None, "last_error": r.last_error if r else None,
                "failures": r.failures if r else 0,
                "next_poll": _iso(r.next_poll_at) if r and schedule.polled(health.states[f.name]) else None,
                "retry_after_until": _iso(r.retry_after_until) if r else None,
                "redirect_to": r.redirect_to if r else None,
                "pages_failed": page_failures.get(f.name, 0),
            } for f in feeds for r in [rows.get(f.name)]],
        }, indent=1))
        sys.exit(health.code)

    colour = {0: "green", 1: "yellow", 2: "red"}[health.code]
    click.echo(click.style(health.verdict.upper(), fg=colour, bold=True)
               + (f": {health.reasons[0]}" if health.reasons else ""))
    for reason in health.reasons[1:]:
        click.echo(f"  {reason}")
    click.echo(f"daemon    last poll {_when(last_poll, now)}"
               + (f"; started {_when(started, now)}" if started else "")
               + (f"; stopped {_when(stopped, now)}" if stopped and (not started or stopped >= started) else ""))
    backlog = f"outbox    {pending} pending"
    if oldest:
        backlog += f" (oldest queued {_when(oldest, now)})"
    backlog += f", {dead} dead"
    click.echo(backlog)
    click.echo(f"pages     {page_counts.get('pending', 0)} pending, {page_counts.get('failed', 0)} failed, "
               f"{page_counts.get('skipped', 0)} skipped, {page_counts.get('done', 0)} done")
    for name, run in streaks.items():
        click.echo(f"channel   {name}: {run.failures} consecutive failure(s) since {_when(run.since, now)}")
        click.echo(f"{'':<10}last error: {run.last_error}")
    click.echo("")
    click.echo(f"{'state':<8} {'fails':>5}  {'last ok':<16}  {'next poll':<16}  feed / last error")
    for f in feeds:
        r = rows.get(f.name)
        state = health.states[f.name]
        nxt = "-"
        if r and schedule.polled(state) and r.next_poll_at:
            nxt = f"{r.next_poll_at:%Y-%m-%d %H:%M}"
        last_ok = f"{r.last_ok_at:%Y-%m-%d %H:%M}" if r and r.last_ok_at else "-"
        click.echo(f"{state:<8} {(r.failures if r else 0):>5}  {last_ok:<16}  {nxt:<16}  {f.name}")
        if r and r.last_error and state is not FeedCondition.OK:
            extra = ""
            if state is FeedCondition.WAITING and r.retry_after_until:
                extra = f" (Retry-After until {r.retry_after_until:%Y-%m-%d %H:%M:%S})"
            click.echo(f"{'':<53}{r.last_error}{extra}")
        if page_failures.get(f.name):
            click.echo(f"{'':<53}{page_failures[f.name]} release pages failed (press-monitor pages --status failed)")
        if r and r.redirect_to:
            since = f" since {r.redirect_since:%Y-%m-%d}" if r.redirect_since else ""
            click.echo(f"{'':<53}permanent redirect to {r.redirect_to}{since} (adopted after 7 days)")
    sys.exit(health.code)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def _when(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < 0:
        ago = "just now"
    elif seconds < 120:
        ago = f"{seconds:.0f}s ago"
    elif seconds < 7200:
        ago = f"{seconds / 60:.0f}m ago"
    elif seconds < 172800:
        ago = f"{seconds / 3600:.1f}h ago"
    else:
        ago = f"{seconds / 86400:.0f}d ago"
    return f"{when:%Y-%m-%d %H:%M:%S} UTC ({ago})"
