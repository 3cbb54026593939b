"""Editing config.toml from the command line: `feeds add`, `feeds presets`, `rules add`.

Each command builds the new text with configedit (comments and layout kept), has the real loader
and rules compiler accept it, and only then replaces the file atomically; the daemon picks the
change up on reload (SIGHUP).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from monitor import config as config_mod
from monitor import discover
from monitor.cli import configedit
from monitor.cli.archive import feeds
from monitor.cli.base import Ctx, fail
from monitor.cli.rules import rules
from monitor.clock import SystemClock
from monitor.errors import ConfigError, FeedError
from monitor.export import url_identity
from monitor.types import Config

RELOAD = "reload the daemon (SIGHUP, or systemctl reload) to use it"


def _current(obj: Ctx) -> tuple[Path, Config]:
    path = obj.path
    if not path.exists():
        fail(f"{path}: no such config file (use --config PATH or $PRESS_MONITOR_CONFIG)")
    return path, config_mod.load(path)


@feeds.command("add")
@click.argument("url", metavar="URL|PRESET|FILE")
@click.option("--name", metavar="N", help="the feed's name [default: the feed's own title]")
@click.pass_obj
def feeds_add(obj: Ctx, url: str, name: str | None) -> None:
    """Add a feed to config.toml: a feed URL, a web page that links to its feed, a preset, or a file.

    A web page is searched for <link rel="alternate" type="application/rss+xml"> (how sites point
    to their feeds); a preset is a wire's feed by short name (`press-monitor feeds presets`).
    Comments and layout of config.toml are kept; the result is checked before the file is replaced.

    \b
    Examples:
      press-monitor feeds add prnewswire:energy
      press-monitor feeds add https://www.example.com/newsroom --name "Example newsroom"
      press-monitor feeds add ./samples/prnewswire-sample.xml
    """
    path, cfg = _current(obj)
    if discover.looks_like_preset(url):
        found = discover.preset(url)
        if found is None:
            wire = url.split(":", 1)[0].lower()
            known = ", ".join(p.key for p in discover.PRESETS if p.key.startswith(wire + ":"))
            fail(f"no preset {url!r} (presets of {wire}: {known}; all: press-monitor feeds presets)")
        feed_url, title = found.url, found.name
    elif urlsplit(url).scheme.lower() in ("http", "https"):
        feed_url, title = _discover(url, cfg)
    else:
        feed_url, title = _local(url, path)
    # The network is behind us: from here to the replace, one editor at a time.
    with configedit.editing(path) as edit:
        ident = url_identity(_loaded_url(feed_url, path))
        same = [f for f in edit.config.feeds if url_identity(f.url) == ident]
        if same:
            fail(f"{feed_url} is already configured as {same[0].name!r}")
        feed_name = " ".join((name or title or urlsplit(feed_url).hostname or feed_url).split())
        taken = {f.name.lower(): f for f in edit.config.feeds}
        if feed_name.lower() in taken:
            fail(f"a feed named {taken[feed_name.lower()].name!r} is already in {path.name}; choose one with --name")
        new_text = configedit.append_tables(edit.text, "feeds", [{"name": feed_name, "url": feed_url}])
        new_cfg = edit.validated(new_text, f"feed {feed_name!r}")
        added = next(f for f in new_cfg.feeds if f.name == feed_name)
        edit.replace(new_text)
    click.echo(f"added feed {feed_name!r}  {feed_url}")
    if urlsplit(added.url).scheme == "file" and not Path(urlsplit(added.url).path).exists():
        click.echo(f"warning: {urlsplit(added.url).path} does not exist (yet?)", err=True)
    click.echo(f"{RELOAD}; `press-monitor run --once` polls it now")


def _loaded_url(feed_url: str, config: Path) -> str:
    """The URL the loader makes of `feed_url` (a file path becomes file:///abs), for duplicate checks."""
    try:
        return config_mod.feed_url(feed_url, "url", config.expanduser().absolute().parent)
    except ConfigError:
        return feed_url  # refused later by the loader, with its own words


def _local(arg: str, config: Path) -> tuple[str, str]:
    """Return (path as config.toml should say it, the feed's title) for a local file named on the command line.

    The command line's path is relative to the working folder, config.toml's to its own folder: a
    file under the config's folder is written relative to it (the pair can move together), any
    other as an absolute path. The title is the feed's own; a file that is not there yet gets its
    file name (and a warning once added).
    """
    given = Path(unquote(urlsplit(arg).path) if arg.lower().startswith("file:") else arg).expanduser()
    where = given.absolute()
    base = config.expanduser().absolute().parent
    written = f"./{where.relative_to(base).as_posix()}" if where.is_relative_to(base) else str(where)
    if not where.exists():
        return written, where.stem or arg
    from monitor.parse import parse

    try:
        parsed = parse(where.read_bytes(), url=where.as_uri())
    except (FeedError, OSError) as exc:
        fail(f"cannot add {arg}: {getattr(exc, 'strerror', None) or exc}")
    return written, parsed.title or where.stem


def _discover(url: str, cfg: Config) -> tuple[str, str]:
    """Return (feed URL, title) for a feed URL or a page linking to one; fail with why not."""
    from monitor.fetch import Fetcher
    from monitor.parse import parse

    s = cfg.settings
    with Fetcher(user_agent=s.user_agent, timeout=s.timeout, max_bytes=s.max_feed_bytes, clock=SystemClock(),
                 pages=True) as fetcher:
        try:
            page = fetcher.fetch(url)
        except FeedError as exc:
            fail(f"cannot add {url}: {exc}")
        try:
            return url, parse(page.body, url=page.final_url).title
        except FeedError:
            pass  # not a feed itself: a page that may point to one
        links = discover.feed_links(page.body.decode("utf-8", "replace"), page.final_url)
        if not links:
            fail(f"{url} is neither a feed nor a page that links to one "
                 f'(no <link rel="alternate" type="application/rss+xml"> in it)')
        for link, _ in links[1:]:
            click.echo(f"the page also links to {link}", err=True)
        feed_url, link_title = links[0]
        try:
            parsed = parse(fetcher.fetch(feed_url).body, url=feed_url)
        except FeedError as exc:
            fail(f"{url} links to {feed_url}, which does not work: {exc}")
        click.echo(f"found {feed_url} on {url}", err=True)
        return feed_url, parsed.title or link_title


@feeds.command("presets")
def feeds_presets() -> None:
    """List the wire feeds `feeds add` knows by short name.

    \b
    Example:
      press-monitor feeds presets
      press-monitor feeds add globenewswire:mergers-acquisitions
    """
    width = max(len(p.key) for p in discover.PRESETS)
    for p in discover.PRESETS:
        click.echo(f"{p.key:<{width}}  {p.name}")
        click.echo(f"{'':<{width}}  {p.url}")


@rules.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--notify", "notify", multiple=True, metavar="CHANNEL", help="alert this channel (repeatable)")
@click.option("--feed", "feeds", multiple=True, metavar="NAME",
              help="only releases carried by this feed (repeatable; the rule's `feeds` filter)")
@click.option("--regex", metavar="RE", help="the release must also match this regular expression (RE2 syntax)")
@click.pass_obj
def rules_add(obj: Ctx, name: str, query: str, notify: tuple[str, ...], feeds: tuple[str, ...],
              regex: str | None) -> None:
    """Add a watch rule to config.toml: NAME (a slug) matching QUERY, alerting --notify channels.

    The query, the feed names and the regex are checked and the channels looked up before the
    file is replaced; comments and layout of config.toml are kept. Try the query first with
    `press-monitor rules test QUERY`.

    \b
    Examples:
      press-monitor rules add uranium '@central_asia AND uranium' --notify console
      press-monitor rules add recalls 'title : recall*' --notify ops-mail --notify slack
      press-monitor rules add kzt-energy '@central_asia (oil OR gas)' --feed "PR Newswire Energy" \\
          --regex '(?i)\\b(KZT|tenge)\\b' --notify console
    """
    row: dict[str, object] = {"name": name, "query": query}
    if notify:
        row["notify"] = list(notify)
    if feeds:
        row["feeds"] = list(feeds)
    if regex is not None:
        row["regex"] = regex
    with configedit.editing(obj.path) as edit:
        if any(r.name == name for r in edit.config.rules):
            fail(f"a rule named {name!r} is already in {edit.path.name}")
        new_text = configedit.append_tables(edit.text, "rules", [row])
        edit.validated(new_text, f"rule {name!r}")
        edit.replace(new_text)
    narrowed = "".join([f"  feeds: {', '.join(feeds)}" if feeds else "", f"  regex: {regex}" if regex else ""])
    click.echo(f"added rule {name!r}: {query}{narrowed}" + (f"  -> {', '.join(notify)}" if notify else ""))
    if not notify:
        click.echo(f"warning: rule {name!r} alerts no channel (add --notify CHANNEL); its matches are only archived",
                   err=True)
    click.echo(f"`press-monitor rules test {name}` backtests it; {RELOAD}")
