"""Watch rules from the command line: `rules` (list with match counts) and `rules test` (backtest)."""

from __future__ import annotations

import re
from dataclasses import replace

import click

from monitor.cli.base import LIMIT, SINCE_HELP, Ctx, main, parse_when
from monitor.clock import SystemClock
from monitor.config.units import format_duration
from monitor.fold import unsplit
from monitor.rules import compile_query, compile_rules, fts_query
from monitor.spikes import BASELINE_DAYS


@main.group(invoke_without_command=True)
@click.pass_context
def rules(ctx: click.Context) -> None:
    """List the watch rules with their channels and match counts.

    Counts are matched releases by publication date (published in the last 24 h, 7 days, ever),
    the same basis as `rules test`, so the two agree.

    \b
    press-monitor rules test summits             backtest a configured rule on the archive
    press-monitor rules test 'summit* NOT tech'  ... or any query, before you add it
    """
    if ctx.invoked_subcommand is not None:
        return
    a = ctx.obj.app
    try:
        with a.open_store(readonly=True) as store:
            counts = store.match_counts(SystemClock().now())
    except Exception:  # noqa: BLE001 - no archive yet: list the rules with zero counts
        counts = {}
    click.echo(f"{'rule':<20} {'24h':>5} {'7d':>6} {'all':>7}  channels / query   (matches by publication date)")
    for r in a.rules.rules:
        day, week, total = counts.get(r.name, (0, 0, 0))
        state = "" if r.enabled else "  (disabled)"
        click.echo(f"{r.name:<20} {day:>5} {week:>6} {total:>7}  {', '.join(r.notify) or '-'}{state}")
        click.echo(f"{'':<42}{r.query}")
        if r.feeds:
            click.echo(f"{'':<42}feeds: {', '.join(r.feeds)}")
        if r.regex is not None:
            click.echo(f"{'':<42}regex: {r.regex.pattern}")
        if r.spike is not None:
            click.echo(f"{'':<42}spike: {r.spike.min}+ matches in {format_duration(r.spike.window)} and "
                       f"{r.spike.factor:g}x the {BASELINE_DAYS}-day baseline")
        if r.once_per != "story":
            click.echo(f"{'':<42}once_per: {r.once_per} (every near-copy alerts)")


# A word that looks like a rule name (lower-case, with a dash or underscore): a typo'd name more likely than a query.
_NAME_LIKE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)+$|^[a-z0-9]+$")


@rules.command("test")
@click.argument("rule_or_query")
@click.option("--since", default="30d", show_default=True, metavar="WHEN", help=SINCE_HELP)
@click.option("-n", "--limit", default=20, show_default=True, type=LIMIT, help="show at most this many matches")
@click.pass_obj
def test_rule(obj: Ctx, rule_or_query: str, since: str, limit: int) -> None:
    """Backtest a rule (by name) or a query on the archive: how many releases it would have matched, and which.

    The archive search finds the candidates; a rule's `feeds` filter and `regex` then apply exactly
    as they do on the stream. Counted by publication date, like `rules`.

    \b
    Examples:
      press-monitor rules test summits --since 2w
      press-monitor rules test '@central_asia AND energy' --since yesterday
    """
    a = obj.app
    spec = next((s for s in a.config.rules if s.name == rule_or_query), None)
    if spec is not None:  # a disabled rule can be tested too: that is how one tunes it before enabling
        ruleset = compile_rules([replace(spec, enabled=True)], a.config.terms, source=obj.path.name)
    else:
        if _NAME_LIKE.match(rule_or_query):  # `rules test nosuchrule`: say so rather than search silently
            names = ", ".join(r.name for r in a.config.rules) or "none"
            click.echo(f"no rule named {rule_or_query!r} (rules: {names}); searching the archive for it as a query",
                       err=True)
        click.echo(f"searched: {_short(unsplit(fts_query(rule_or_query, a.config.terms)))}", err=True)
        ruleset = compile_query(rule_or_query, a.config.terms)
    rule = ruleset.rules[0]
    if spec is not None:
        click.echo(f"searched: {_short(unsplit(rule.expanded))}", err=True)
    with a.open_store(readonly=True) as store:
        hits = store.search(rule.expanded, limit=None, since=parse_when(since, SystemClock().now()))
        if rule.feeds or rule.regex is not None:
            kept = {m.key for m in ruleset.match(store.docs(h.id for h in hits))}
            hits = [h for h in hits if h.id in kept]
    label = f"rule {rule.name!r}" if rule.name != "query" else repr(rule.query)
    click.echo(f"{label} would have matched {len(hits)} release(s) published since {since}")
    for h in hits[:limit]:
        click.echo(f"{h.id:>7}  {h.published:%Y-%m-%d}  {h.title}")
        click.echo(f"         {h.snippet}")
    if len(hits) > limit:
        click.echo(f"... and {len(hits) - limit} more (--limit)")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
