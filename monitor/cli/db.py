"""`db copy`: move the archive between SQLite and PostgreSQL (and back), resumably, then check the copy."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.base import Ctx, fail, main
from monitor.config.settings import database as parse_database
from monitor.errors import ConfigError
from monitor.store import Store, copy
from monitor.types import Database


@main.group()
def db() -> None:
    """The archive's database: copy it to a PostgreSQL server, or back to a file.

    \b
    Examples:
      press-monitor db copy --to postgresql://press_monitor@db.example.org/press_monitor
    """


def _where(text: str, option: str) -> Database:
    try:
        return parse_database(text.strip(), option, Path.cwd())
    except ConfigError as exc:
        fail(str(exc))


@db.command("copy")
@click.option("--to", "to", required=True, metavar="URL|FILE",
              help="an empty PostgreSQL database (postgresql://…) or a new SQLite file")
@click.option("--from", "from_", metavar="FILE|URL", help="the archive to copy  [default: [monitor] database]")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="rows per transaction")
@click.pass_obj
def copy_cmd(obj: Ctx, to: str, from_: str | None, batch: int) -> None:
    """Copy the whole archive (releases, versions, sightings, matches, the outbox with its states, the page
    queue, feed states and validators) into an empty database, then compare the two.

    Interrupted (Ctrl-C, kill -9, a lost server)? Run the same command again: it carries on where it
    stopped, copying nothing twice. Stop the daemon first, or what it writes meanwhile may be missed.

    \b
    Exit code: 0 the copy matches (row counts and a sample of searches), 1 it does not, 2 an error.

    \b
    Examples:
      press-monitor db copy --to postgresql://press_monitor@db.example.org/press_monitor
      press-monitor db copy --from postgresql:///press_monitor --to laptop.db
    """
    source_db = _where(from_, "--from") if from_ else obj.app.config.settings.database
    target_db = _where(to, "--to")
    if source_db == target_db:
        fail("--to names the archive being copied; give another database or file")
    if isinstance(target_db, Path) and target_db.exists() and target_db.stat().st_size:
        with Store(target_db, readonly=True) as probe:  # only a copy of this source cut short is resumed
            marked = probe.meta(copy.COPY_OF)
        if marked is None:
            fail(f"{target_db}: exists already; copy into a new file")
    with Store(source_db, readonly=True) as source, Store(target_db) as target:
        left = copy.start(source, target)
        total = sum(left.values())
        click.echo(f"copying {total:,} rows from {source.path} to {target.path}", err=True)
        with click.progressbar(length=total, label="copying", file=sys.stderr, show_pos=True) as bar:
            for step in copy.copy(source, target, batch=batch):
                bar.label = step.table
                bar.update(step.rows)
        queries = copy.sample_queries(source)
        problems = copy.compare(source, target, queries)
        for table, n in copy.counts(target).items():
            click.echo(f"{n:>12,}  {table}")
        click.echo(f"searches compared: {len(queries)} ({', '.join(queries)})" if queries else "no searches compared")
    if problems:
        for p in problems:
            click.echo(f"differs: {p}", err=True)
        sys.exit(1)
    click.echo(f"the copy matches: {target_db}")
