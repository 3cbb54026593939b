"""`pages`: the release-page queue (full text): list it with its errors, backfill the archive."""

from __future__ import annotations

import sys

import click

from monitor.cli.base import LIMIT, Ctx, main, parse_when
from monitor.clock import SystemClock

STATUSES = ("pending", "done", "failed", "skipped")


@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(STATUSES), help="only pages in this state")
@click.option("-n", "--limit", default=50, show_default=True, type=LIMIT, help="rows to show")
@click.pass_context
def pages(ctx: click.Context, status: str | None, limit: int) -> None:
    """List the page queue (newest first) with each page's state and last error.

    \b
    pending  waiting to be fetched (or to be tried again after a failure)
    done     the page text is the release's body
    skipped  not fetched on purpose: unsafe address, robots.txt, not HTML, no text found
    failed   gave up: 404/403, too large, or still failing after several tries

    \b
    Examples:
      press-monitor pages --status failed
      press-monitor pages fetch --since 30d      fetch the pages of last month's releases
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Ctx = ctx.obj
    with obj.app.open_store(readonly=True) as store:
        counts = store.page_counts()
        rows = store.pages(status=status, limit=limit)
    click.echo("  ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES))
    for r in rows:
        click.echo(f"{r.status:<8} {r.attempts:>2}  {r.release_id:>7}  {r.feed}  {r.url}")
        if r.last_error and r.status != "done":
            when = f" (next try {r.next_attempt_at:%Y-%m-%d %H:%M})" if r.status == "pending" and r.attempts else ""
            click.echo(f"{'':<21}{r.last_error}{when}")
        if r.quality:  # the text was stored but may not be the release: the feed's title and first words are not in it
            click.echo(f"{'':<21}page quality: {r.quality} (read by {r.method or '?'})")


@pages.command("fetch")
@click.option("--since", default="2d", show_default=True, metavar="WHEN",
              help="releases published since this date (2024-05-01) or this long ago (30d)")
@click.option("--workers", default=4, show_default=True, help="hosts fetched at the same time")
@click.pass_obj
def fetch_pages(obj: Ctx, since: str, workers: int) -> None:
    """Fetch the pages of archived releases (feeds with full_text), politely; failed ones are tried again.

    \b
    Examples:
      press-monitor pages fetch                  the last 2 days
      press-monitor pages fetch --since 2024-05-01
    """
    from monitor.pageworker import PageWorker, build_client

    a = obj.app
    s = a.config.settings
    clock = SystemClock()
    cutoff = parse_when(since, clock.now())
    assert cutoff is not None
    names = [f.name for f in a.config.feeds if f.full_text]
    if not names:
        click.echo("no feed has full_text = true: nothing to fetch")
        return
    worker = PageWorker(build_client(s, clock), clock, workers=workers)
    try:
        with a.open_store() as store:
            with store.transaction():
                queued = store.queue_backfill(cutoff, names, clock.now())
            click.echo(f"{queued} pages to fetch", err=True)
            if sys.stdout.isatty() and queued:
                with click.progressbar(length=queued, label="pages") as bar:
                    report = worker.drain(store, settings=s, rules=a.rules, channels=a.channels, limit=queued,
                                          progress=lambda row, result: bar.update(1), claims=a.claims(clock))
            else:
                report = worker.drain(store, settings=s, rules=a.rules, channels=a.channels, limit=max(1, queued),
                                     claims=a.claims(clock))
            click.echo(report.line())
            delivered = a.deliver(store, clock) if report.alerts else None
            if delivered is not None and delivered.sent:
                click.echo(f"alerts: {delivered.sent} sent")
    finally:
        worker.close()
