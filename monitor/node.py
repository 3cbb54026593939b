"""Who this process is among the daemons sharing one archive (issue 19: several nodes, one database).

A node id is made once per process start: the host and pid say where to look, the random tail keeps a
restarted process with a recycled pid from inheriting the leases of the one that died.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NodeIdentity:
    id: str
    host: str
    pid: int
    version: str
    started_at: datetime


def new_identity(now: datetime, version: str) -> NodeIdentity:
    host = socket.gethostname()
    pid = os.getpid()
    return NodeIdentity(f"{host}:{pid}:{secrets.token_hex(3)}", host, pid, version, now)


# How often a daemon writes its heartbeat into `nodes`, and after how long without one it counts as
# stale (dead or cut off). Three missed beats, so one slow write (a long commit holding the writer) is
# not a false alarm. Deliberately not tied to `[monitor] lease`: staleness says "this node stopped
# beating" (what status and /healthz count), the lease says when its work moves to another node; a
# stale node's unexpired leases stay listed by `nodes` until they run out.
NODE_HEARTBEAT_INTERVAL = 10.0
NODE_STALE_AFTER = 3 * NODE_HEARTBEAT_INTERVAL
# Stopped or stale rows older than this are deleted when a node registers: rows are only ever added by
# a start, so pruning then keeps the table as small as the restarts of one week.
NODE_KEEP_DAYS = 7

LIVE = "live"
STALE = "stale"
STOPPED = "stopped"


def node_state(heartbeat_at: datetime, stopped_at: datetime | None, now: datetime,
               stale_after: float = NODE_STALE_AFTER) -> str:
    """Return "stopped" (it exited cleanly), "live" (a heartbeat within stale_after) or "stale"."""
    if stopped_at is not None:
        return STOPPED
    return LIVE if (now - heartbeat_at).total_seconds() <= stale_after else STALE


def pid_running(pid: int) -> bool:
    """Return whether a process with this pid exists on this host (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    return True
