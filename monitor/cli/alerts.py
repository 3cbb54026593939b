"""The outbox from the command line: `alerts` (list), `alerts retry`, `alerts test`, `alerts enable`."""

from __future__ import annotations

import difflib
import sys
from datetime import UTC, datetime

import click

from monitor.cli.base import LIMIT, MAX_ID, Ctx, fail, main
from monitor.clock import SystemClock
from monitor.errors import DeliveryError
from monitor.types import AlertStatus, Dateline, Notice, ReleaseView, Source


@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice([s.value for s in AlertStatus]), help="only alerts in this state")
@click.option("--rule", metavar="RULE", help="only alerts of this rule")
@click.option("-n", "--limit", default=50, show_default=True, type=LIMIT, help="show at most this many")
@click.pass_context
def alerts(ctx: click.Context, status: str | None, rule: str | None, limit: int) -> None:
    """Show the alert outbox: state, attempts, next try and last error, newest first.

    \b
    press-monitor alerts --status dead
    press-monitor alerts retry --dead          put every dead alert back in the queue
    press-monitor alerts test newsroom         send a test message through one channel now
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Ctx = ctx.obj
    with obj.app.open_store(readonly=True) as store:
        rows = store.alerts(status=status, rule=rule, limit=limit)
        disabled = store.disabled_channels()
    for name, reason in disabled.items():
        click.echo(click.style(f"channel {name} is DISABLED ({reason}); re-enable: press-monitor alerts enable "
                               f"{name}", fg="red"), err=True)
    if not rows:
        click.echo("no alerts", err=True)
        return
    width = max(len(r.alert_id) for r in rows)
    click.echo(f"{'id':<{width}}  {'status':<7} {'tries':>5}  {'channel':<12} {'rule':<16} {'when':<16}  title")
    for r in rows:
        when = r.sent_at if r.status is AlertStatus.SENT else r.next_attempt_at
        stamp = f"{when:%Y-%m-%d %H:%M}" if when else "-"
        click.echo(f"{r.alert_id:<{width}}  {r.status:<7} {r.attempts:>5}  {r.channel:<12} {r.rule:<16} {stamp:<16}"
                   f"  {r.title}")
        if r.last_error and r.status is not AlertStatus.SENT:
            click.echo(f"{'':>{width + 2}}last error: {r.last_error}")


@alerts.command()
@click.argument("ids", nargs=-1)
@click.option("--dead", is_flag=True, help="requeue every dead alert")
@click.pass_obj
def retry(obj: Ctx, ids: tuple[str, ...], dead: bool) -> None:
    """Put alerts (by id, as `alerts`, the API and webhooks show them: pm-…-17, or just 17) back in
    the queue, due now.

    \b
    Examples:
      press-monitor alerts retry pm-4a0f9ab9-17 18
      press-monitor alerts retry --dead
    """
    if not ids and not dead:
        fail("name alert ids or pass --dead")
    with obj.app.open_store() as store, store.transaction():
        rows = tuple(row_of(text, store.install_id()) for text in ids)
        rows = tuple(i for i in rows if 0 < i <= MAX_ID)  # no alert has an id SQLite cannot even store
        n = store.requeue(rows, dead=dead, now=SystemClock().now()) if rows or dead else 0
    click.echo(f"requeued {n} alert(s); they go out at the next delivery (or `press-monitor run --once`)")


def row_of(text: str, install_id: str) -> int:
    """Return the outbox row of an alert id: "pm-INSTALL-N" (this archive's install id) or "N"."""
    prefix, _, number = text.strip().rpartition("-")
    if prefix not in ("", f"pm-{install_id}") or not (number.isascii() and number.isdigit()):
        mine = f"pm-{install_id}-N"
        fail(f"alert id {text!r}: expected {mine} (as `press-monitor alerts` shows) or N"
             + (" (that id is from another archive)" if prefix.startswith("pm-") else ""))
    return int(number)


@alerts.command()
@click.argument("channel")
@click.pass_obj
def enable(obj: Ctx, channel: str) -> None:
    """Re-enable a channel that was disabled after its endpoint answered 410 Gone.

    \b
    Example:
      press-monitor alerts enable slack
    """
    configured = obj.app.config.channels
    with obj.app.open_store() as store, store.transaction():
        if channel not in configured and channel not in store.disabled_channels():
            close = difflib.get_close_matches(channel, list(configured), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            fail(f"no channel named {channel!r}{hint}; configured: {', '.join(configured) or 'none'}")
        found = store.enable_channel(channel)
    click.echo(f"channel {channel} enabled" if found else f"channel {channel} was not disabled")


@alerts.command("test")
@click.argument("channel")
@click.pass_obj
def test_channel(obj: Ctx, channel: str) -> None:
    """Send a test alert through CHANNEL now and report exactly what happened.

    \b
    Example:
      press-monitor alerts test ops-mail
    """
    a = obj.app
    if channel not in a.config.channels:
        fail(f"no channel named {channel!r} (configured: {', '.join(a.config.channels) or 'none'})")
    now = SystemClock().now()
    notice = sample_notice(channel, now)
    ch = a.build_channel(channel, stdout=sys.stdout)
    try:
        ch.send([notice], now=now, message_id=notice.alert_id)
    except DeliveryError as exc:
        kind = "gone (410)" if exc.gone else "permanent" if exc.permanent else "temporary"
        after = f", retry after {exc.retry_after:.0f}s" if exc.retry_after else ""
        fail(f"{channel}: FAILED ({kind}{after}): {exc}", 1)
    finally:
        ch.close()
    click.echo(f"{channel}: sent test alert {notice.alert_id}")


def sample_notice(channel: str, now: datetime) -> Notice:
    """Return a made-up alert that looks like a real one (used by `alerts test`)."""
    release = ReleaseView(
        id=0, title="press-monitor test alert", url="https://example.com/press-monitor-test",
        published=now, first_seen=now, author="press-monitor",
        summary="If you can read this, the channel works.",
        dateline=Dateline(place="NOWHERE", date=now.astimezone(UTC).date(), wire="PRNewswire"), tickers=(),
        sources=(Source("test", "https://example.com/press-monitor-test"),),
    )
    return Notice(alert_id=f"test-{int(now.timestamp())}", rule="test", channel=channel,
                  snippet="a [test] alert from press-monitor", release=release, test=True)
