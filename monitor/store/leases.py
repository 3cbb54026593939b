"""Leases: which node holds which piece of work until when (issue 19: several daemons, one archive).

One table for every kind of work, named by resource: "feed:<name>", "page:<pages.id>",
"alert:<alerts.id>", "host:<hostname>" (the one page request to a host), "slot:<hostname>:<n>" (one
of a host's feed-request slots), "job:<name>" ("job:maintain", "job:digest:<channel>:<…>").
Every statement here runs on its own, outside `transaction()` (both backends' connections are in
autocommit), so a claim never waits for an ingest holding the writers' lock and never holds a row
lock longer than its one statement.

    claim_leases(node, resources, now, until)   -> the resources won: a conditional upsert that wins
                                                   where no row exists, the row is ours already, or its
                                                   lease expired (expires_at <= now)
    renew_leases(node, resources, now, until)   -> the resources still ours, now held until `until`
    release_leases(node, resources, until=None) -> deleted, or (with until) kept ours until then and
                                                   no longer renewed: a cooling-off period ("host:" after
                                                   a request: page_delay cluster-wide; "job:maintain")
    expire_leases(now), live_leases(now)        -> housekeeping, and what each node holds (`nodes`)

Why a table and not `FOR UPDATE SKIP LOCKED` or advisory locks (ARCHITECTURE.md says it too): a row
lock or an advisory lock lives exactly as long as the session that took it, so work would have to be
done inside one open transaction per item (a page fetch, a webhook call) and a node cut off by the
network keeps its locks until the server notices the dead TCP session (minutes to hours); the node
itself cannot know when the server let go. A lease has an expiry the node chose itself, so it can
stop working before that moment by its own clock (cluster.LeaseKeeper's fence). The same rows work
on SQLite, and `nodes` lists them with one query.

Row locks (PostgreSQL): a claim's upsert locks each conflicting row even where its WHERE refuses it,
so every statement that touches several rows takes them in the order of `resource` (claims sorted,
renewals and releases through an ORDER BY … FOR UPDATE subquery): two nodes never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.store.base import CHUNK, Connection, must_ts, ts


@dataclass(frozen=True)
class Lease:
    resource: str
    node: str
    expires_at: datetime
    acquired_at: datetime | None


class LeaseStore(Connection):
    """The leases table (see the module's docstring)."""

    def _text_ids(self, param: str) -> str:
        """A subquery of the strings in a JSON array parameter (one parameter, however many resources)."""
        if self.dialect.postgres:
            return f"SELECT value FROM json_array_elements_text(CAST(:{param} AS json))"
        return f"SELECT value FROM json_each(:{param})"

    def _mine(self, param: str) -> str:
        """The rows of :node among the resources in `param`, locked in resource order (PostgreSQL)."""
        lock = " FOR UPDATE" if self.dialect.postgres else ""  # SQLite: one writer, no row locks
        return (f"SELECT resource FROM leases WHERE node = :node AND resource IN ({self._text_ids(param)})"
                f" ORDER BY resource{lock}")

    def claim_leases(self, node: str, resources: Iterable[str], now: datetime, until: datetime) -> set[str]:
        """Take (or keep) each resource no other node holds unexpired, until `until`; return those won."""
        wanted = sorted(set(resources))
        won: set[str] = set()
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            params: dict[str, object] = {"node": node, "now": ts(now), "until": ts(until)}
            values = []
            for i, resource in enumerate(chunk):
                params[f"r{i}"] = resource
                values.append(f"(:r{i}, :node, :until, :now)")
            # acquired_at says since when the holder has had it: kept when the holder claims again.
            won.update(r["resource"] for r in self.rows(
                f"INSERT INTO leases (resource, node, expires_at, acquired_at) VALUES {', '.join(values)}"
                " ON CONFLICT (resource) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at,"
                " acquired_at = CASE WHEN leases.node = excluded.node THEN leases.acquired_at"
                " ELSE excluded.acquired_at END"
                " WHERE leases.node = excluded.node OR leases.expires_at <= :now"
                " RETURNING resource", params))
        return won

    def renew_leases(self, node: str, resources: Iterable[str], until: datetime) -> set[str]:
        """Move the expiry of the given leases still held by `node` to `until`; return those (still ours).

        A lease taken over by another node (ours expired first) is not in the answer: it is lost.
        """
        wanted = sorted(set(resources))
        if not wanted:
            return set()
        return {r["resource"] for r in self.rows(
            f"UPDATE leases SET expires_at = :until WHERE node = :node AND resource IN ({self._mine('ids')})"
            " RETURNING resource", {"node": node, "until": ts(until), "ids": json.dumps(wanted)})}

    def release_leases(self, node: str, resources: Iterable[str], *, until: datetime | None = None) -> int:
        """Give up `node`'s leases on resources: at once, or (with `until`) keep them ours until then."""
        wanted = sorted(set(resources))
        if not wanted:
            return 0
        params = {"node": node, "ids": json.dumps(wanted)}
        if until is None:
            return self.run(f"DELETE FROM leases WHERE node = :node AND resource IN ({self._mine('ids')})",
                            params).rowcount
        return self.run(f"UPDATE leases SET expires_at = :until WHERE node = :node AND resource IN"
                        f" ({self._mine('ids')})", {**params, "until": ts(until)}).rowcount

    def release_node(self, node: str) -> int:
        """Give up every lease of `node` (a clean shutdown: the others take over at once)."""
        return self.run(f"DELETE FROM leases WHERE resource IN (SELECT resource FROM leases WHERE node = :node"
                        f" ORDER BY resource{' FOR UPDATE' if self.dialect.postgres else ''})",
                        {"node": node}).rowcount

    def expire_leases(self, now: datetime) -> int:
        """Delete leases expired before `now` (housekeeping: an expired row is free to claim anyway)."""
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect.postgres else ""
        return self.run(f"DELETE FROM leases WHERE resource IN (SELECT resource FROM leases WHERE expires_at <= :now"
                        f" ORDER BY resource{lock})", {"now": ts(now)}).rowcount

    def lease_expiry(self, resource: str) -> datetime | None:
        """When the lease on `resource` runs out, or None when there is none."""
        row = self.one("SELECT expires_at FROM leases WHERE resource = :r", {"r": resource})
        return must_ts(row["expires_at"]) if row is not None else None

    def live_leases(self, now: datetime, *, node: str | None = None) -> list[Lease]:
        """Return the unexpired leases (of one node, if given), by node then resource."""
        sql = "SELECT resource, node, expires_at, acquired_at FROM leases WHERE expires_at > :now"
        params: dict[str, object] = {"now": ts(now)}
        if node is not None:
            sql += " AND node = :node"
            params["node"] = node
        return [Lease(r["resource"], r["node"], must_ts(r["expires_at"]),
                      must_ts(r["acquired_at"]) if r["acquired_at"] else None)
                for r in self.rows(sql + " ORDER BY node, resource", params)]
