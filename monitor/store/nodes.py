"""The node registry: one row per daemon process sharing the archive (issue 19, several nodes).

A daemon registers at start (`register_node`), beats every few seconds (`node_heartbeat`), records a
new config hash after SIGHUP (`set_node_config`) and marks its row stopped at a clean exit
(`node_stopped`). A row whose heartbeat is older than the staleness threshold is a node that died or
lost the database; the threshold is the caller's (monitor/node.py NODE_STALE_AFTER), this module only
stores times. Readers (`nodes`, `status`, `/healthz`) list the rows with what each node holds: its
unexpired leases (written by the lease module) counted by kind, the text before the first ':' of the
resource ("feed", "page", "alert", "host", "job").

Rows are only ever added by a start, so `prune_nodes` at registration keeps the table bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from monitor.node import NODE_STALE_AFTER, NodeIdentity, node_state
from monitor.store.base import Connection, must_ts, parse_ts, ts


@dataclass(frozen=True)
class NodeRow:
    id: str
    host: str
    pid: int
    version: str | None
    config_hash: str | None
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    holds: Mapping[str, int] = field(default_factory=dict)  # unexpired leases by kind ("feed": 12)

    def state(self, now: datetime, stale_after: float = NODE_STALE_AFTER) -> str:
        """"live", "stale" or "stopped" (monitor.node.node_state)."""
        return node_state(self.heartbeat_at, self.stopped_at, now, stale_after)


class NodeStore(Connection):
    """The `nodes` table, and the read-only count of `leases` per node."""

    def register_node(self, node: NodeIdentity, config_hash: str, now: datetime) -> None:
        """Insert this process's row (or bring it back to life: a row pruned or marked stopped)."""
        self.run(
            "INSERT INTO nodes (id, host, pid, version, config_hash, started_at, heartbeat_at, stopped_at)"
            " VALUES (:id, :host, :pid, :version, :config_hash, :started_at, :now, NULL)"
            " ON CONFLICT(id) DO UPDATE SET version = excluded.version, config_hash = excluded.config_hash,"
            " heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
            {"id": node.id, "host": node.host, "pid": node.pid, "version": node.version,
             "config_hash": config_hash, "started_at": ts(node.started_at), "now": ts(now)})

    def node_heartbeat(self, node_id: str, now: datetime, config_hash: str | None = None) -> bool:
        """Record a heartbeat (and the config hash, when given: a reload whose own update failed is
        recorded by the next beat); False when the row is gone or stopped (the caller registers again)."""
        cur = self.run("UPDATE nodes SET heartbeat_at = :now, config_hash = coalesce(:hash, config_hash)"
                       " WHERE id = :id AND stopped_at IS NULL",
                       {"id": node_id, "now": ts(now), "hash": config_hash})
        return cur.rowcount > 0

    def set_node_config(self, node_id: str, config_hash: str) -> None:
        self.run("UPDATE nodes SET config_hash = :hash WHERE id = :id", {"id": node_id, "hash": config_hash})

    def node_stopped(self, node_id: str, now: datetime) -> None:
        """Mark a clean exit: the row says "stopped", never "stale", and blocks nothing."""
        self.run("UPDATE nodes SET stopped_at = :now WHERE id = :id", {"id": node_id, "now": ts(now)})

    def prune_nodes(self, before: datetime) -> int:
        """Delete rows stopped, or silent, since before `before`; return how many."""
        cur = self.run("DELETE FROM nodes WHERE coalesce(stopped_at, heartbeat_at) < :before",
                       {"before": ts(before)})
        return cur.rowcount

    def cluster_nodes(self, now: datetime, *, holds: bool = True) -> list[NodeRow]:
        """Every registered node, oldest start first, with its unexpired leases counted by kind
        (holds=False: without them, for the daemon's own checks)."""
        kind = self.dialect.before("resource", "':'")
        held: dict[str, dict[str, int]] = {}
        if holds:
            for r in self.rows(f"SELECT node, {kind} AS kind, count(*) AS n FROM leases WHERE expires_at > :now"
                               f" GROUP BY node, {kind}", {"now": ts(now)}):
                held.setdefault(r["node"], {})[r["kind"] or "other"] = int(r["n"])
        return [
            NodeRow(id=r["id"], host=r["host"], pid=int(r["pid"]), version=r["version"],
                    config_hash=r["config_hash"], started_at=must_ts(r["started_at"]),
                    heartbeat_at=must_ts(r["heartbeat_at"]), stopped_at=parse_ts(r["stopped_at"]),
                    holds=dict(sorted(held.get(r["id"], {}).items())))
            for r in self.rows("SELECT id, host, pid, version, config_hash, started_at, heartbeat_at, stopped_at"
                               " FROM nodes ORDER BY started_at, id")
        ]


__all__ = ["NodeRow", "NodeStore"]
