"""Reading the archive: `search`, `show`, `feeds`."""

from __future__ import annotations

import json
import sys

import click

from monitor import export, schedule, stories
from monitor.cli.base import LIMIT, MAX_ID, SINCE_HELP, Ctx, fail, main, parse_when
from monitor.clock import SystemClock, iso
from monitor.config import format_duration
from monitor.rules import search_query
from monitor.store import Hit


@main.command()
@click.argument("query")
@click.option("-n", "--limit", default=20, show_default=True, type=LIMIT, help="at most this many results")
@click.option("--since", metavar="WHEN", help=SINCE_HELP)
@click.option("--until", metavar="WHEN", help="published before: the same forms as --since")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array instead of lines")
@click.option("--copies", is_flag=True, help="list every copy of a story, not one line per story")
@click.pass_obj
def search(obj: Ctx, query: str, limit: int, since: str | None, until: str | None, as_json: bool,
           copies: bool) -> None:
    """Search the archive with an FTS5 query, best matches first, one line per story.

    A story is one announcement and its near-copies (the wire's release, the newsroom's post, a finance
    site's copy): its best match stands for it, with "N copies" (`show ID` lists them; --copies lists
    every copy as a line of its own). --json lists every matching release, each with its `story` id
    and the story's `copies`, for scripts to fold as they like.

    \b
    QUERY uses the same language as watch rules:
      summit*                        prefix
      "Central Asia"                 phrase
      summit AND (Kazakhstan OR Uzbekistan)
      title : summit                 one column (title summary body author dateline tickers source)
      NEAR(xi summit, 10)            within 10 tokens
      @central_asia                  a term list from [terms] in config.toml

    \b
    Examples:
      press-monitor search 'summit* AND @central_asia' --since 30d
      press-monitor search 'title : recall*' --since yesterday --json | jq .
    """
    a = obj.app
    expanded = search_query(query, a.config.terms)
    now = SystemClock().now()
    fold = not copies and not as_json
    with a.open_store(readonly=True) as store:
        # One line per story: ask for more matches than shown, so copies folded away leave `limit` stories.
        hits = store.search(expanded, limit=limit * STORY_OVERFETCH if fold else limit,
                            since=parse_when(since, now), until=parse_when(until, now))
        sizes = store.story_sizes([h.id for h in hits])
    if fold:
        best: dict[int, Hit] = {}  # story -> its best-ranked hit (hits come best first)
        for h in hits:
            best.setdefault(sizes[h.id][0], h)
        hits = list(best.values())[:limit]
    if as_json:
        click.echo(json.dumps([{"id": h.id, "title": h.title, "url": h.url, "published": iso(h.published),
                                "snippet": h.snippet, "story": sizes[h.id][0], "copies": sizes[h.id][1]}
                               for h in hits], ensure_ascii=False, indent=1))
        return
    for h in hits:
        n = sizes[h.id][1]
        more = f"  ({n} copies)" if n > 1 else ""
        click.echo(f"{h.id:>7}  {h.published:%Y-%m-%d}  {h.title}{more}")
        click.echo(f"         {h.snippet}")
    if not hits:
        click.echo("no matches", err=True)


# `search` fetches this many times its limit, then keeps the best match of each story.
STORY_OVERFETCH = 3


@main.command()
@click.argument("release_id", type=int)
@click.pass_obj
def show(obj: Ctx, release_id: int) -> None:
    """Show one release: text, its story's copies, sightings (which feeds, when), versions and rule matches.

    \b
    Example (ids are the first column of `search`):
      press-monitor show 42
    """
    with obj.app.open_store(readonly=True) as store:
        detail = store.release(release_id) if 0 < release_id <= MAX_ID else None
        story = store.story(release_id) if detail is not None else None
    if detail is None or story is None:
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
    if len(story.copies) > 1:
        click.echo(f"\nstory {story.id} ({len(story.copies)} copies): {stories.told(story.copies)}")
        for c in story.copies:
            mark = "*" if c.id == v.id else " "
            click.echo(f"  {mark}{c.id:>7}  {c.published:%Y-%m-%d %H:%M} UTC  {stories.where(c)}  {c.title}")
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
    if detail.page_quality:  # the page text was stored, but the feed's release was not found in it
        click.echo(f"\npage quality: {detail.page_quality}")
    click.echo("")
    click.echo(v.summary if not detail.body else detail.body)
    if detail.boilerplate:
        click.echo("\n-- end matter (About, contacts, safe harbor; not searched) --")
        click.echo(detail.boilerplate)


@main.group(invoke_without_command=True)
@click.option("--opml", "as_opml", is_flag=True, help="print the feeds as an OPML subscription list instead")
@click.pass_context
def feeds(ctx: click.Context, as_opml: bool) -> None:
    """Show a health table: one line per configured feed (or, with --opml, export them for a feed reader).

    \b
    Examples:
      press-monitor feeds
      press-monitor feeds --opml > subscriptions.opml
      press-monitor feeds add https://example.com/newsroom     add a feed (found from the page)
      press-monitor feeds presets                              the wires' feeds by short name
    """
    if ctx.invoked_subcommand is not None:
        return
    a = ctx.obj.app
    if as_opml:
        sys.stdout.write(export.opml_document(a.config.feeds, now=SystemClock().now()))
        return
    now = SystemClock().now()
    with a.open_store(readonly=True) as store:
        rows = store.schedules([f.name for f in a.config.feeds])
        page_counts = store.page_counts()
        page_failures = store.page_failures()
    click.echo(f"{'status':<8} {'entries':>7}  {'last ok':<16}  {'fails':>5}  name / last error")
    for f in a.config.feeds:
        r = rows.get(f.name)
        state = schedule.feed_state(f, r, now)
        last_ok = f"{r.last_ok_at:%Y-%m-%d %H:%M}" if r and r.last_ok_at else "-"
        line = f"{state:<8} {(r.entries if r else 0):>7}  {last_ok:<16}  {(r.failures if r else 0):>5}"
        click.echo(f"{line}  {f.name}")
        if r and r.last_error:
            click.echo(f"{'':<46}{r.last_error}")
        gap = schedule.stretch(f, r)
        if gap is not None:
            click.echo(f"{'':<46}polled about every {format_duration(round(gap / 60) * 60 or gap)}, not "
                       f"{format_duration(f.interval)}: the feed's <ttl> or Cache-Control max-age asks for longer "
                       f"(honoured up to {format_duration(schedule.MAX_STRETCH)})")
        if page_failures.get(f.name):
            click.echo(f"{'':<46}{page_failures[f.name]} release pages failed (press-monitor pages --status failed)")
    if page_counts:
        click.echo(f"pages: {page_counts.get('pending', 0)} pending, {page_counts.get('failed', 0)} failed")
