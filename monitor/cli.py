"""The command line: click commands that wire the parts together. No business logic lives here."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from monitor import __version__, app as app_mod, pipeline
from monitor.clock import SystemClock
from monitor.config import parse_duration, resolve_path
from monitor.errors import ConfigError, MonitorError
from monitor.fetch import Fetcher
from monitor.rules import expand_terms
from monitor.types import PollResult

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Ctx:
    """Lazily loaded config/app, so `--help` and `--version` never touch the disk."""

    def __init__(self, config_opt: str | None) -> None:
        self.config_opt = config_opt
        self._app: app_mod.App | None = None

    @property
    def path(self) -> Path:
        return resolve_path(self.config_opt, os.environ, Path.cwd())

    @property
    def app(self) -> app_mod.App:
        if self._app is None:
            path = self.path
            if not path.exists():
                raise ConfigError(f"{path}: no such config file (use --config PATH or $PRESS_MONITOR_CONFIG)")
            self._app = app_mod.load(path)
        return self._app


def fail(message: str, code: int = 2) -> None:
    click.echo(f"press-monitor: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Turns every MonitorError into a one-line message and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            fail(str(exc))


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="press-monitor")
@click.option("-c", "--config", "config_opt", metavar="PATH",
              help="config file [default: $PRESS_MONITOR_CONFIG, else ./config.toml]")
@click.pass_context
def main(ctx: click.Context, config_opt: str | None) -> None:
    """press-monitor: watch press-release wires, keep one record per release, alert on your rules.

    \b
    Typical use:
      press-monitor check                      validate config.toml and summarise it
      press-monitor run --once                 poll every feed once, then exit
      press-monitor search '"Central Asia" summit*'
      press-monitor show 42                    one release with its sightings and versions
    """
    ctx.obj = Ctx(config_opt)


# --------------------------------------------------------------------------- check / run


@main.command()
@click.pass_obj
def check(obj: Ctx) -> None:
    """Validate the config (feeds, rules, channels) and print a short summary."""
    a = obj.app
    cfg = a.config
    enabled = [f for f in cfg.feeds if f.enabled]
    click.echo(f"{obj.path}: ok")
    click.echo(f"  database  {cfg.settings.database}")
    click.echo(f"  feeds     {len(cfg.feeds)} ({len(enabled)} enabled)")
    click.echo(f"  rules     {len(a.rules.rules)} ({sum(r.enabled for r in a.rules.rules)} enabled)")
    click.echo(f"  terms     {len(cfg.terms)}")
    chans = ", ".join(f"{n} ({c.type})" for n, c in cfg.channels.items()) or "none"
    click.echo(f"  channels  {chans}")


@main.command()
@click.option("--once", is_flag=True, help="poll every enabled feed once, deliver due alerts, and exit")
@click.option("--workers", default=8, show_default=True, help="feeds fetched at the same time")
@click.pass_obj
def run(obj: Ctx, once: bool, workers: int) -> None:
    """Run the monitor.

    With --once: poll every enabled feed once, print one line per feed, exit 0 when every feed
    succeeded and 1 otherwise.
    """
    a = obj.app
    logging.basicConfig(level=a.config.settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not once:
        fail("the scheduler daemon is not available yet: use `run --once`")
    sys.exit(run_once(a, workers))


def run_once(a: app_mod.App, workers: int) -> int:
    """Poll every enabled feed once; return the exit code."""
    s = a.config.settings
    clock = SystemClock()
    feeds = [f for f in a.config.feeds if f.enabled]
    fetcher = Fetcher(user_agent=s.user_agent, timeout=s.timeout, max_bytes=s.max_feed_bytes, clock=clock)
    pool = app_mod.digest_pool(len(feeds))
    failed = 0
    try:
        with a.open_store() as store:
            for result in pipeline.poll_many(feeds, fetcher=fetcher, store=store, rules=a.rules, settings=s,
                                             clock=clock, channels=a.channels, workers=workers, digest_pool=pool):
                click.echo(format_result(result))
                failed += not result.ok
    finally:
        fetcher.close()
        if pool is not None:
            pool.shutdown()
    return 1 if failed else 0


def format_result(r: PollResult) -> str:
    """Return the one-line summary of a poll: `ok  12 new  3 dup  NAME` or `ERR reason  NAME`."""
    if not r.ok:
        return f"ERR {r.error}  {r.feed}"
    if r.not_modified:
        return f"ok  not modified  {r.feed}"
    extra = f"  {r.revised} revised" if r.revised else ""
    extra += f"  {r.matches} matched" if r.matches else ""
    extra += f"  (recovered from bad XML: {r.bozo})" if r.bozo else ""
    return f"ok  {r.new} new  {r.seen} dup{extra}  {r.feed}"


# --------------------------------------------------------------------------- reading the archive


def parse_when(value: str | None, now: datetime) -> datetime | None:
    """Return the UTC time for `2024-05-01`, an ISO timestamp, or a duration back from now (`30d`)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except ValueError:
        pass
    try:
        return now - timedelta(seconds=parse_duration(value, key="--since"))
    except ConfigError:
        raise click.BadParameter(f"{value!r} is neither a date (2024-05-01) nor a duration (30d)") from None


@main.command()
@click.argument("query")
@click.option("-n", "--limit", default=20, show_default=True, help="at most this many results")
@click.option("--since", metavar="WHEN", help="published on or after: a date (2024-05-01) or a duration back (30d)")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array instead of lines")
@click.pass_obj
def search(obj: Ctx, query: str, limit: int, since: str | None, as_json: bool) -> None:
    """Search the archive with an FTS5 query, best matches first.

    \b
    QUERY uses the same language as watch rules:
      summit*                        prefix
      "Central Asia"                 phrase
      summit AND (Kazakhstan OR Uzbekistan)
      title : summit                 one column (title summary body author dateline tickers source)
      NEAR(xi summit, 10)            within 10 tokens
      @central_asia                  a term list from [terms] in config.toml
    """
    a = obj.app
    expanded = expand_terms(query, a.config.terms)
    with a.open_store(readonly=True) as store:
        hits = store.search(expanded, limit=limit, since=parse_when(since, SystemClock().now()))
    if as_json:
        click.echo(json.dumps([{"id": h.id, "title": h.title, "url": h.url, "published": h.published.isoformat(),
                                "snippet": h.snippet} for h in hits], ensure_ascii=False, indent=1))
        return
    for h in hits:
        click.echo(f"{h.id:>7}  {h.published:%Y-%m-%d}  {h.title}")
        click.echo(f"         {h.snippet}")
    if not hits:
        click.echo("no matches", err=True)


@main.command()
@click.argument("release_id", type=int)
@click.pass_obj
def show(obj: Ctx, release_id: int) -> None:
    """Show one release: text, sightings (which feeds, when), versions and rule matches."""
    with obj.app.open_store(readonly=True) as store:
        detail = store.release(release_id)
    if detail is None:
        fail(f"no release with id {release_id}", 1)
    v = detail.view
    click.echo(click.style(v.title, bold=True))
    click.echo(f"id         {v.id}")
    click.echo(f"url        {v.url}")
    click.echo(f"published  {v.published:%Y-%m-%d %H:%M} UTC   first seen {v.first_seen:%Y-%m-%d %H:%M} UTC")
    if v.author:
        click.echo(f"author     {v.author}")
    if v.dateline:
        d = v.dateline
        click.echo(f"dateline   {d.place}  {d.date or ''}  {d.wire}")
    if v.tickers:
        click.echo(f"tickers    {' '.join(v.tickers)}")
    click.echo(f"\nsightings ({len(detail.sightings)}):")
    for s in detail.sightings:
        click.echo(f"  {s.first_seen:%Y-%m-%d %H:%M}  {s.feed}  {s.link}")
    if detail.versions:
        click.echo(f"\nearlier versions ({len(detail.versions)}):")
        for ver in detail.versions:
            click.echo(f"  replaced {ver.replaced_at:%Y-%m-%d %H:%M}  {ver.title}")
    if detail.matches:
        click.echo("\nmatched rules:")
        for m in detail.matches:
            click.echo(f"  {m.rule}  {m.matched_at:%Y-%m-%d %H:%M}  {m.snippet}")
    click.echo("")
    click.echo(v.summary if not detail.body else detail.body)


@main.command()
@click.pass_obj
def feeds(obj: Ctx) -> None:
    """Show a health table: one line per configured feed."""
    a = obj.app
    with a.open_store(readonly=True) as store:
        rows = {r.name: r for r in store.feeds()}
    click.echo(f"{'status':<8} {'entries':>7}  {'last ok':<16}  {'fails':>5}  name / last error")
    for f in a.config.feeds:
        r = rows.get(f.name)
        if not f.enabled:
            status = "off"
        elif r is None or r.last_polled_at is None:
            status = "new"
        else:
            status = "ok" if r.consecutive_failures == 0 else "FAILING"
        last_ok = f"{r.last_ok_at:%Y-%m-%d %H:%M}" if r and r.last_ok_at else "-"
        line = f"{status:<8} {(r.entries if r else 0):>7}  {last_ok:<16}  {(r.consecutive_failures if r else 0):>5}"
        click.echo(f"{line}  {f.name}")
        if r and r.last_error:
            click.echo(f"{'':<46}{r.last_error}")
