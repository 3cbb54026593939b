"""The `main` click group and what every command shares: the lazily loaded config and the error boundary.

The boundary (Group.invoke) is the one place a CLI error becomes output: a MonitorError is its own
one-line message; "database is locked" names the process holding the archive; anything else is one
line saying what broke, with the traceback logged at debug level (`press-monitor --debug ...`).
Every command exits 2 that way, never with a traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from monitor import __version__
from monitor.cli import locks, when
from monitor.config import resolve_path
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.app import App

log = logging.getLogger("monitor.cli")

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# SQLite integers are 64-bit signed: an id or count beyond this is never in the archive.
MAX_ID = 2**63 - 1
# A limit larger than any archive shows everything; clamping keeps it away from SQLite's integer range.
LIMIT = click.IntRange(1, 1_000_000, clamp=True)
SINCE_HELP = f"published on or after: {when.HELP}"


class Ctx:
    """Lazily loaded config/app, so `--help` and `--version` never touch the disk."""

    def __init__(self, config_opt: str | None, debug: bool = False) -> None:
        self.config_opt = config_opt
        self.debug = debug
        self._app: App | None = None

    @property
    def path(self) -> Path:
        return resolve_path(self.config_opt, os.environ, Path.cwd())

    @property
    def loaded(self) -> App | None:
        return self._app

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


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"press-monitor: {_printable(message)}", err=True)
    sys.exit(code)


def quiet_broken_pipe() -> NoReturn:
    """Exit 0 after the reader of stdout went away, without Python reporting the pipe again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _printable(text: str) -> str:
    """Return text a terminal can print: lone surrogates (undecodable argv bytes) shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _locked(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def explain(exc: Exception, obj: Ctx | None) -> str:
    """Return the one line an unexpected exception becomes."""
    if _locked(exc):
        app = obj.loaded if obj is not None else None
        if app is None:
            return "the archive is locked by another process and stayed locked past the 15 s busy timeout"
        database = app.config.settings.database
        holders = locks.holders(database)
        who = "; ".join(f"pid {pid} ({cmd})" for pid, cmd in holders) if holders else "another process"
        return (f"the archive {database} stayed locked for 15 s by {who}; try again when it is done "
                f"(a long `run --once` or a maintenance command holds it for a while)")
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to handle (a query with thousands of parentheses?); simplify it"
    if isinstance(exc, UnicodeError):
        bad = next((a for a in sys.argv[1:] if a != _printable(a)), None)
        which = f"the argument '{_printable(bad)}'" if bad is not None else "an argument"
        return f"{which} is not valid UTF-8 text; pass text in UTF-8"
    return f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


class Group(click.Group):
    """The error boundary: every command's errors end as one line on stderr and exit 2, never a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Run the CLI; a usage error (unknown option, missing argument) is one line too, not click's three."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "press-monitor"
            fail(f"{exc.format_message().rstrip('.')} (see {where} --help)", exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)  # standalone_mode=False returns Exit's code (--help: 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MonitorError as exc:
            fail(str(exc))
        except BrokenPipeError:  # `press-monitor search x | head`: the reader has all it wants
            quiet_broken_pipe()
        except KeyboardInterrupt:
            click.echo("press-monitor: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the boundary: one line, traceback at debug
            log.debug("traceback of the error below", exc_info=exc)
            obj = ctx.obj if isinstance(ctx.obj, Ctx) else None
            fail(explain(exc, obj))


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="press-monitor")
@click.option("-c", "--config", "config_opt", metavar="PATH",
              help="config file [default: $PRESS_MONITOR_CONFIG, else ./config.toml]")
@click.option("-v", "--debug", is_flag=True, help="log at debug level on stderr, with the traceback of any error")
@click.pass_context
def main(ctx: click.Context, config_opt: str | None, debug: bool) -> None:
    """press-monitor: watch press-release wires, keep one record per release, alert on your rules.

    \b
    Typical use:
      press-monitor check                      validate config.toml and summarise it
      press-monitor run --once                 poll every feed once, then exit
      press-monitor search '"Central Asia" summit*'
      press-monitor show 42                    one release with its sightings and versions
      press-monitor --debug show 42            ... with debug logging and tracebacks
    """
    if debug:
        from monitor import logging_setup

        logging_setup.setup("DEBUG", "text")
    ctx.obj = Ctx(config_opt, debug)


def parse_when(value: str | None, now: datetime) -> datetime | None:
    """Return the UTC time `--since`/`--until` names (see monitor.cli.when)."""
    return when.parse_when(value, now)
