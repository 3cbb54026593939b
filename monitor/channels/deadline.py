"""An overall deadline for one outbound conversation (an HTTP POST, an SMTP session).

Socket timeouts only bound the gap between two packets: a receiver dribbling its status line one
byte every 0.5 s, or an SMTP server dribbling its greeting, would hold a sender for ever. A Deadline
shuts the conversation's socket down when its time is up, which wakes any blocked recv()/send();
the sender then sees EOF or an error and asks `fired` whether that was the deadline. The same idea
as fetch.py's watchdog for feeds.

    with Deadline(15.0) as deadline:
        deadline.watch(sock)        # every socket the conversation uses (again after STARTTLS is fine)
        ... talk ...
    if deadline.fired: ...          # the conversation was cut at the deadline

The watched socket's file descriptor is duplicated, so the deadline still reaches the connection
after TLS wraps it into a new socket object (SSLSocket takes over the descriptor).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading


class Deadline:
    """Shuts down the watched connection once `seconds` have passed since it was created."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._fds: list[int] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        """Cut `sock`'s connection at the deadline (at once if it has already passed)."""
        if sock is None:
            return
        with self._lock, contextlib.suppress(OSError, ValueError):
            fd = os.dup(sock.fileno())
            self._fds.append(fd)
            if self.fired:
                _shutdown(fd)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for fd in self._fds:
                _shutdown(fd)

    def cancel(self) -> None:
        """Stop the timer and let go of the watched connections (they stay open for reuse)."""
        self._timer.cancel()
        with self._lock:
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _shutdown(fd: int) -> None:
    # shutdown() acts on the connection, not on one descriptor: the duplicate reaches every holder.
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()  # the descriptor is closed by cancel(), not here
