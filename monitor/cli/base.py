"""The `main` click group and what every command shares: the lazily loaded config, errors, dates."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import __version__
from monitor.config import parse_duration, resolve_path
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.app import App

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Ctx:
    """Lazily loaded config/app, so `--help` and `--version` never touch the disk."""

    def __init__(self, config_opt: str | None) -> None:
        self.config_opt = config_opt
        self._app: App | None = None

    @property
    def path(self) -> Path:
        return resolve_path(self.config_opt, os.environ, Path.cwd())

    @property
    def app(self) -> App:
        # Imported here: the app pulls in the store, channels and rules, which `--help` never needs.
        from monitor import app as app_mod

        if self._app is None:
            path = self.path
            if not path.exists():
                raise ConfigError(f"{path}: no such config file (use --config PATH or $PRESS_MONITOR_CONFIG)")
            self._app = app_mod.load(path, lazy=True)  # rules compile when a command uses them
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
