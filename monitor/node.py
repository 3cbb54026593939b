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
