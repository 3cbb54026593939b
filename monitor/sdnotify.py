"""The systemd notify protocol over $NOTIFY_SOCKET, with the standard library only.

    n = Notifier.from_env(os.environ)      # does nothing when not started by systemd
    n.ready(); n.status("polling 12 feeds"); n.watchdog(); n.stopping()
    watchdog_interval(os.environ)          -> seconds between WATCHDOG=1 pings, or None

Messages are datagrams of newline-separated KEY=VALUE lines (sd_notify(3)). Sending never blocks
and never raises: a full or vanished socket must not take the daemon down with it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Mapping


class Notifier:
    """Sends sd_notify messages to one socket; a no-op when `address` is None."""

    def __init__(self, address: str | None) -> None:
        self.address = _sockaddr(address) if address else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Notifier:
        """Return a Notifier for $NOTIFY_SOCKET (a no-op one when it is unset)."""
        return cls(environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send KEY=VALUE fields in one datagram; return whether it was sent."""
        if self.address is None:
            return False
        # A value may not contain a newline: it would start a new field.
        payload = "\n".join(f"{k}={' '.join(str(v).splitlines())}" for k, v in fields.items()).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(payload, socket.MSG_DONTWAIT, self.address)
                return True
            except OSError:
                # systemd restarted, the socket went away, or its queue is full: drop this message
                # and reconnect next time. A lost ping only matters if they all get lost.
                self._close()
                return False

    def ready(self, status: str | None = None) -> bool:
        return self.send(READY="1", **({"STATUS": status} if status else {}))

    def reloading(self, monotonic_usec: int) -> bool:
        # systemd >= 253 wants MONOTONIC_USEC with RELOADING=1 to tell this reload from older ones.
        return self.send(RELOADING="1", MONOTONIC_USEC=str(monotonic_usec))

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str | None = None) -> bool:
        return self.send(STOPPING="1", **({"STATUS": status} if status else {}))

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Return seconds between watchdog pings (half of $WATCHDOG_USEC), or None when no watchdog is asked for."""
    usec = (environ.get("WATCHDOG_USEC") or "").strip()
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = (environ.get("WATCHDOG_PID") or "").strip()
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None  # the watchdog belongs to another process (we were started by a wrapper)
    return int(usec) / 2 / 1_000_000


def _sockaddr(address: str) -> str | bytes:
    """Return the address for sendto(): a path, or an abstract-namespace name for '@name'."""
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address
