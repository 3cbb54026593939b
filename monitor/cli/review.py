"""Reviewing the archive elsewhere: `export`, `feed` (Atom), `import` (OPML), `serve` (web view)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

import click

from monitor import __version__, export
from monitor.cli import configedit
from monitor.cli.base import LIMIT, SINCE_HELP, Ctx, fail, main, parse_when, quiet_broken_pipe
from monitor.clock import SystemClock
from monitor.errors import MonitorError
from monitor.rules import search_query

# A token is one line; a --token-file pointing at /dev/zero must not be read without end.
TOKEN_MAX = 4096


@main.command("export")
@click.option("-f", "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="one JSON object per line, or CSV with a header (list fields joined by newlines)")
@click.option("-q", "--query", metavar="Q", help="only releases matching this FTS5 query (@terms allowed)")
@click.option("-r", "--rule", metavar="R", help="only releases this rule matched")
@click.option("--since", metavar="WHEN", help=SINCE_HELP)
@click.option("--until", metavar="WHEN", help="published before: the same forms as --since")
@click.option("-o", "--output", metavar="FILE", default="-", show_default=True, help="write here instead of stdout")
@click.pass_obj
def export_cmd(obj: Ctx, fmt: str, query: str | None, rule: str | None, since: str | None, until: str | None,
               output: str) -> None:
    """Stream releases out of the archive, oldest first, in constant memory.

    \b
    Fields: id title url published published_known first_seen updated author dateline_place
    dateline_date wire tickers feeds links rules summary body story (the story id: copies share it)
    Examples:
      press-monitor export > archive.jsonl
      press-monitor export --format csv --rule central-asia --since 30d -o matches.csv
    """
    a = obj.app
    now = SystemClock().now()
    # Checked here (fts_query's hints): a bad query is one line now, not an error from SQLite
    # halfway through the stream.
    fts = search_query(query, a.config.terms, everything=True)
    filters = {"rule": rule} if rule else None
    start, end = parse_when(since, now), parse_when(until, now)
    with a.open_store(readonly=True) as store:
        if rule and rule not in {r.name for r in a.config.rules} and rule not in store.rule_stats():
            fail(f"no rule named {rule!r} in {a.config.path.name} or the archive "
                 f"(rules: {', '.join(r.name for r in a.config.rules) or 'none'})")
        records = store.export_records(fts_query=fts, filters=filters, since=start, until=end)
        show_progress = sys.stderr.isatty()
        total = store.export_count(fts_query=fts, filters=filters, since=start, until=end) if show_progress else 0
        try:
            with _open_output(output) as out:
                if fmt == "csv":
                    out.write(export.csv_header().encode("utf-8"))
                line = export.csv_line if fmt == "csv" else export.jsonl_line
                if show_progress:
                    with click.progressbar(records, length=total, label="exporting", file=sys.stderr) as bar:
                        for rec in bar:
                            out.write(line(rec).encode("utf-8"))
                else:
                    for rec in records:
                        out.write(line(rec).encode("utf-8"))
        finally:
            records.close()  # release the cursor before the store closes, however the loop ended


class _open_output:  # noqa: N801 (used like open())
    """A binary sink: stdout for "-", else FILE written beside itself and renamed in place when complete."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.tmp: Path | None = None

    def __enter__(self) -> BinaryIO:
        if self.output == "-":
            self.handle: BinaryIO = sys.stdout.buffer
            return self.handle
        target = Path(self.output)
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent if str(target.parent) else ".")
        except OSError as exc:
            fail(f"cannot write {self.output}: {exc.strerror or exc}")
        self.tmp = Path(name)
        self.handle = os.fdopen(fd, "wb")
        return self.handle

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.tmp is None:
            if exc_type is None:
                try:
                    self.handle.flush()
                except BrokenPipeError:
                    quiet_broken_pipe()
            elif exc_type is BrokenPipeError:  # `export | head`: the reader has all it wants
                quiet_broken_pipe()
            return
        self.handle.close()
        if exc_type is None:
            try:
                os.replace(self.tmp, self.output)
            except OSError as err:
                self.tmp.unlink(missing_ok=True)
                fail(f"cannot write {self.output}: {err.strerror or err}")
        else:
            self.tmp.unlink(missing_ok=True)


@main.command("feed")
@click.argument("rule")
@click.option("-n", "--limit", default=50, show_default=True, type=LIMIT,
              help="at most this many entries (newest matches)")
@click.option("--self-url", metavar="URL", help="the address the feed is published at (Atom rel=self)")
@click.pass_obj
def feed_cmd(obj: Ctx, rule: str, limit: int, self_url: str | None) -> None:
    """Print an Atom feed of RULE's matches, so a feed reader can follow the rule.

    Serve it from cron, or follow http://127.0.0.1:8001/rule/RULE/feed.atom while `press-monitor serve` runs.

    \b
    Example:
      press-monitor feed central-asia > /var/www/feeds/central-asia.xml
    """
    a = obj.app
    spec = next((r for r in a.config.rules if r.name == rule), None)
    with a.open_store(readonly=True) as store:
        rows = store.rule_matches(rule, limit=limit)
        install_id = store.install_id()
    if spec is None and not rows:
        fail(f"no rule named {rule!r} in {a.config.path.name} or the archive "
             f"(rules: {', '.join(r.name for r in a.config.rules) or 'none'})")
    doc = export.rule_feed(rule, rows, install_id=install_id, now=SystemClock().now(),
                           query=spec.query if spec else "", self_link=self_url, version=__version__)
    sys.stdout.buffer.write(doc.encode("utf-8"))


@main.command("import")
@click.argument("opml_file", metavar="FILE.opml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="show what would be added; change nothing")
@click.pass_obj
def import_cmd(obj: Ctx, opml_file: Path, dry_run: bool) -> None:
    """Add the feeds of an OPML subscription list (from a feed reader) to config.toml.

    Feeds whose URL is already configured are skipped; names already taken get " (2)"; a feed in a
    folder of the reader keeps the folder as a name prefix ("Wires: PRN energy"). The new [[feeds]]
    tables go after the last one, with the file's comments and layout kept.

    \b
    Examples:
      press-monitor import subscriptions.opml --dry-run
      press-monitor import subscriptions.opml
    """
    outlines = export.parse_opml(opml_file.read_bytes(), source=str(opml_file))
    with configedit.editing(obj.path) as edit:  # read, check and replace with no other editor in between
        plan = export.plan_import(edit.config.feeds, outlines)
        if plan.added:
            rows = [{"name": name, "url": url} for name, url in plan.added]
            new_text = configedit.append_tables(edit.text, "feeds", rows, comment=f"imported from {opml_file.name}")
            edit.validated(new_text, f"the feeds of {opml_file.name}")
        for item, why in plan.skipped:
            click.echo(f"skipped  {item.name or item.url}  ({item.url}): {why}")
        for name, url in plan.added:
            click.echo(f"{'would add' if dry_run else 'added'}  {name}  {url}")
        if not plan.added:
            click.echo(f"nothing to add from {opml_file.name} ({len(outlines)} feeds in it)")
            return
        if dry_run:
            return
        edit.replace(new_text)
    click.echo(f"{len(plan.added)} feed(s) added to {obj.path}; reload the daemon (SIGHUP, or systemctl reload)"
               " to poll them")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (loopback by default)")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="also answer requests for this Host name (a reverse proxy's public name); repeatable")
@click.option("--base-path", default="", metavar="PATH",
              help="serve under this path prefix, e.g. /press behind a proxy")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="require the token in FILE on every request (browser login password or Bearer token)")
@click.option("--no-auth", is_flag=True, help="listen beyond loopback without a token: anyone who can reach it reads")
@click.option("--verbose", is_flag=True, help="log each request to stderr, and failed requests' tracebacks")
@click.pass_obj
def serve_cmd(obj: Ctx, host: str, port: int, allowed_hosts: tuple[str, ...], base_path: str,
              token_file: Path | None, no_auth: bool, verbose: bool) -> None:
    """Serve a read-only web view and JSON API of the archive: search with facets, releases, rules, feeds.

    It never writes to the archive and holds no lock, so it can run beside the daemon. Beyond
    loopback (--host 0.0.0.0) it requires --token-file, or --no-auth said explicitly.

    \b
    Examples:
      press-monitor serve                          http://127.0.0.1:8001/
      press-monitor serve --port 0 --verbose       a free port, each request logged
      press-monitor serve --allowed-host press.example.com --base-path /press   behind a proxy
      press-monitor serve --host 0.0.0.0 --token-file /etc/press-monitor/web-token
    """
    from monitor import logging_setup, web

    a = obj.app
    logging_setup.setup("DEBUG" if verbose else a.config.settings.log_level)
    log = (lambda line: click.echo(line, err=True)) if verbose else None
    token = None
    if token_file is not None:
        try:
            with token_file.open("rb") as handle:
                raw = handle.read(TOKEN_MAX + 1)
        except OSError as exc:
            fail(f"--token-file {token_file}: {exc.strerror or exc}")
        if len(raw) > TOKEN_MAX:
            fail(f"--token-file {token_file}: larger than {TOKEN_MAX} bytes; a token is one line")
        try:
            token = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            fail(f"--token-file {token_file}: not UTF-8 text")
        if not token:
            fail(f"--token-file {token_file}: the file is empty")
    try:
        server = web.make_server(a, host, port, log=log, allowed_hosts=allowed_hosts, base_path=base_path,
                                 token=token, no_auth=no_auth)
    except MonitorError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if host not in web.LOOPBACK and token is None:
        click.echo(f"warning: listening on {host} with --no-auth: anyone who can reach it can read the archive",
                   err=True)
    click.echo(f"serving {server.url} (read-only; Ctrl-C stops)")
    sys.stdout.flush()
    web.serve(server)
