"""`nodes`: the daemons sharing this archive (issue 19), as the node registry records them."""

from __future__ import annotations

import json
from datetime import datetime

import click

from monitor.cli.base import Ctx, main
from monitor.clock import SystemClock, iso
from monitor.node import NODE_STALE_AFTER


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of a table")
@click.pass_obj
def nodes(obj: Ctx, as_json: bool) -> None:
    """List the daemons (`press-monitor run`) that use this archive, oldest start first.

    Each daemon is a node: it registers when it starts, writes a heartbeat every 10 s and marks
    itself stopped when it exits cleanly.

    \b
    state   live     a heartbeat within the last 30 s
            stale    no heartbeat for longer: killed (kill -9, power loss) or cut off from
                     the database; on PostgreSQL the other nodes take over its work
            stopped  exited cleanly (SIGTERM); rows are deleted 7 days after they stop
    config  a hash of the feeds, [terms] and rules it runs (not the channels or secrets);
            marked * where it is not the hash of the config.toml read here. Live nodes
            with different configs or versions make `status` say degraded.
    holds   what it holds leases on right now, by kind (feed, page, alert, host, job)

    An SQLite archive takes one daemon (a second is refused at start); several nodes need
    the archive on PostgreSQL.

    \b
    Examples:
      press-monitor nodes
      press-monitor nodes --json | jq '.nodes[] | select(.state == "live") | .host'
    """
    from monitor.config.fingerprint import config_hash

    a = obj.app
    now = SystemClock().now()
    with a.open_store(readonly=True) as store:
        rows = store.cluster_nodes(now)
    ours = config_hash(a.config)
    if as_json:
        click.echo(json.dumps({
            "now": iso(now), "stale_after": NODE_STALE_AFTER, "config_hash": ours,
            "nodes": [{
                "id": n.id, "host": n.host, "pid": n.pid, "version": n.version, "config_hash": n.config_hash,
                "state": n.state(now), "started": iso(n.started_at), "heartbeat": iso(n.heartbeat_at),
                "heartbeat_age": round(max(0.0, (now - n.heartbeat_at).total_seconds()), 1),
                "stopped": iso(n.stopped_at), "holds": dict(n.holds),
            } for n in rows],
        }, indent=1))
        return
    if not rows:
        click.echo("no daemon has registered in this archive yet (`press-monitor run` starts one)")
        return
    click.echo(f"{'state':<8} {'host':<20} {'pid':>7}  {'version':<8} {'config':<13} {'started':<19}  "
               f"{'heartbeat':<10} holds")
    for n in rows:
        mark = "" if n.config_hash == ours else "*"
        holds = ", ".join(f"{count} {kind}" for kind, count in n.holds.items()) or "-"
        beat = f"stopped {_ago(n.stopped_at, now)}" if n.stopped_at else _ago(n.heartbeat_at, now)
        click.echo(f"{n.state(now):<8} {n.host:<20} {n.pid:>7}  {n.version or '?':<8} "
                   f"{(n.config_hash or '?') + mark:<13} {n.started_at:%Y-%m-%d %H:%M:%S}  {beat:<10} {holds}")
    counts: dict[str, int] = {}
    for n in rows:
        counts[n.state(now)] = counts.get(n.state(now), 0) + 1
    click.echo("")
    click.echo(", ".join(f"{count} {word}" for word, count in counts.items())
               + f"; this config.toml is {ours}" + ("" if all(n.config_hash == ours for n in rows) else " (* differs)"))


def _ago(when: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h ago"
    return f"{seconds / 86400:.0f}d ago"
