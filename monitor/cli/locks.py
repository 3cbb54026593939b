"""Who holds the archive: the processes with a lock on the SQLite file (read from /proc/locks).

SQLite locks with POSIX byte-range locks: the writer of a rollback-journal database holds a WRITE
lock on the file itself, the writer in WAL mode one on the `-shm` file. Linux lists every such lock
with its owner's pid and the file's device:inode in /proc/locks, so a "database is locked" error
can name the process instead of leaving the user to guess. Elsewhere (no /proc) this returns [].
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def holders(database: Path, *, proc: Path = PROC) -> list[tuple[int, str]]:
    """Return [(pid, command line)] of other processes holding a write lock on the archive's files."""
    wanted: set[tuple[int, int, int]] = set()
    for suffix in ("", "-wal", "-shm"):
        try:
            st = os.stat(f"{database}{suffix}")
        except OSError:
            continue
        wanted.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    try:
        table = (proc / "locks").read_text()
    except OSError:
        return []
    writers: list[int] = []
    for line in table.splitlines():
        fields = line.replace("->", " ").split()
        # "1: POSIX  ADVISORY  WRITE 1234 08:01:123456 0 EOF"; "->" marks a process waiting for the lock.
        if len(fields) < 6 or "->" in line or fields[3] != "WRITE":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in wanted and pid != os.getpid() and pid not in writers:
            writers.append(pid)
    return [(pid, _command(proc, pid)) for pid in writers]


def _command(proc: Path, pid: int) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)[:120] or "?"
