"""`status`: the daemon's health as it recorded it in the archive; the exit code is for monitoring."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from monitor.cli.base import Ctx, main
from monitor.clock import SystemClock, iso
from monitor.types import FeedCondition


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of a table")
@click.pass_obj
def status(obj: Ctx, as_json: bool) -> None:
    """Show the daemon's health: per feed last success, last error, failure streak and next poll;
    the outbox backlog; the daemon's last poll; how many daemons (nodes) are live.

    \b
    Exit code (for monitoring):
      0  healthy
      1  degraded: some feeds or channels are failing (or a feed is gone), or the live
         nodes run different configs or versions
      2  down: no daemon has a fresh heartbeat (stopped or killed), no poll for 3 intervals,
         or the archive cannot be read

    Each node is listed by `press-monitor nodes`.

    \b
    Examples:
      press-monitor status
      press-monitor status --json | jq .outbox
    """
    from monitor.deliver import channel_failures
    from monitor.health import snapshot

    a = obj.app
    with a.open_store(readonly=True) as store:
        snap = snapshot(store, a.config.feeds, SystemClock().now())
        streaks = {name: run for name in a.config.channels if (run := channel_failures(store, name))}
    health, now = snap.health, snap.now
    last_poll, started, stopped = snap.last_poll, snap.started, snap.stopped
    if as_json:
        click.echo(json.dumps({
            "status": health.verdict, "code": health.code, "reasons": list(health.reasons),
            "daemon": {"last_poll": iso(last_poll), "started": iso(started), "stopped": iso(stopped)},
            "nodes": snap.nodes_json(),
            "outbox": {"pending": snap.pending, "oldest_pending": iso(snap.oldest_pending), "dead": snap.dead,
                       "failing_channels": snap.failing_channels, "disabled_channels": snap.disabled_channels},
            "pages": snap.pages,
            "channels": [{"name": name, "consecutive_failures": run.failures, "failing_since": iso(run.since),
                          "last_error": run.last_error} for name, run in streaks.items()],
            "feeds": [{
                "name": f.name, "state": f.state,
                "last_ok": iso(r.last_ok_at) if r else None, "last_error": r.last_error if r else None,
                "failures": r.failures if r else 0,
                "next_poll": iso(f.next_poll),
                "retry_after_until": iso(r.retry_after_until) if r else None,
                "redirect_to": r.redirect_to if r else None,
                "pages_failed": f.pages_failed,
            } for f in snap.configured for r in [f.row]],
        }, indent=1))
        sys.exit(health.code)

    colour = {0: "green", 1: "yellow", 2: "red"}[health.code]
    click.echo(click.style(health.verdict.upper(), fg=colour, bold=True)
               + (f": {health.reasons[0]}" if health.reasons else ""))
    for reason in health.reasons[1:]:
        click.echo(f"  {reason}")
    click.echo(f"daemon    last poll {_when(last_poll, now)}"
               + (f"; started {_when(started, now)}" if started else "")
               + (f"; stopped {_when(stopped, now)}" if stopped and (not started or stopped >= started)
                  and not snap.live_nodes() else ""))  # one node of several stopping is not the service
    if snap.nodes:
        counts = snap.node_states()
        line = f"nodes     {counts['live']} live"
        line += "".join(f", {n} {word}" for word, n in counts.items() if word != "live" and n)
        hashes = {n.config_hash for n in snap.live_nodes()}
        if len(hashes) > 1:
            line += f" ({len(hashes)} different configs)"
        click.echo(line + " (press-monitor nodes)")
    backlog = f"outbox    {snap.pending} pending"
    if snap.oldest_pending:
        backlog += f" (oldest queued {_when(snap.oldest_pending, now)})"
    backlog += f", {snap.dead} dead"
    click.echo(backlog)
    click.echo("pages     " + ", ".join(f"{n} {state}" for state, n in snap.pages.items()))
    for name, run in streaks.items():
        click.echo(f"channel   {name}: {run.failures} consecutive failure(s) since {_when(run.since, now)}")
        click.echo(f"{'':<10}last error: {run.last_error}")
    click.echo("")
    click.echo(f"{'state':<8} {'fails':>5}  {'last ok':<16}  {'next poll':<16}  feed / last error")
    for f in snap.configured:
        r, state = f.row, f.state
        nxt = f"{f.next_poll:%Y-%m-%d %H:%M}" if f.next_poll else "-"
        last_ok = f"{r.last_ok_at:%Y-%m-%d %H:%M}" if r and r.last_ok_at else "-"
        click.echo(f"{state:<8} {(r.failures if r else 0):>5}  {last_ok:<16}  {nxt:<16}  {f.name}")
        if r and r.last_error and state is not FeedCondition.OK:
            extra = ""
            if state is FeedCondition.WAITING and r.retry_after_until:
                extra = f" (Retry-After until {r.retry_after_until:%Y-%m-%d %H:%M:%S})"
            click.echo(f"{'':<53}{r.last_error}{extra}")
        if f.pages_failed:
            click.echo(f"{'':<53}{f.pages_failed} release pages failed (press-monitor pages --status failed)")
        if r and r.redirect_to:
            since = f" since {r.redirect_since:%Y-%m-%d}" if r.redirect_since else ""
            click.echo(f"{'':<53}permanent redirect to {r.redirect_to}{since} (adopted after 7 days)")
    sys.exit(health.code)


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
