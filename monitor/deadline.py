"""An overall deadline for one outbound conversation (a feed fetch, a page fetch, a webhook POST,
an SMTP session).

Socket timeouts only bound the gap between two packets: a server dripping a feed a byte at a time,
a receiver dribbling its status line one byte every 0.5 s, or an SMTP server dribbling its greeting,
would hold a worker for ever. A Deadline shuts the conversation's socket down when its time is up,
which wakes any blocked recv()/send(); the worker then sees EOF or an error and asks `fired`
whether that was the deadline.

    with Deadline(15.0) as deadline:
        deadline.watch(sock)        # every socket the conversation uses (again after STARTTLS is fine)
        ... talk ...
        deadline.forget()           # a redirect's connection went back to the pool: no longer ours
    if deadline.fired: ...          # the conversation was cut at the deadline

The watched socket's file descriptor is duplicated, so the deadline still reaches the connection
after TLS wraps it into a new socket object (SSLSocket takes over the descriptor).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading

from monitor.clock import SystemClock

_CLOCK = SystemClock()


class Deadline:
    """Shuts down the watched connection once `seconds` have passed since it was created."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self.cancelled = False
        self._fds: list[int] = []
        self._lock = threading.Lock()
        _WATCHDOG.add(_CLOCK.monotonic() + seconds, self)

    def watch(self, sock: socket.socket | None) -> None:
        """Cut `sock`'s connection at the deadline (at once if it has already passed)."""
        if sock is None:
            return
        with self._lock, contextlib.suppress(OSError, ValueError):
            fd = os.dup(sock.fileno())
            self._fds.append(fd)
            if self.fired:
                _shutdown(fd)

    def fire(self) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.fired = True
            for fd in self._fds:
                _shutdown(fd)

    def forget(self) -> None:
        """Stop watching the connections seen so far (back in a pool, another thread may use them
        next); the deadline still fires for sockets watched later."""
        with self._lock:
            self._close_fds()

    def cancel(self) -> None:
        """Let go of the watched connections (they stay open for reuse); the deadline no longer fires."""
        with self._lock:
            self.cancelled = True
            self._close_fds()

    def _close_fds(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class _Watchdog:
    """One thread for every Deadline of the process, asleep until the nearest one is due.

    A timer thread per conversation cost ~0.3 ms a send on a loaded 2-core machine: 3 s of a
    10,000-alert backlog, and a share of every warm poll's 200 conditional GETs. Cancelled
    deadlines are dropped when they reach the top of the heap.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, when: float, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:  # a new nearest deadline: wake the sleeper to re-aim
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - _CLOCK.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, due = heapq.heappop(self._heap)
            due.fire()


_WATCHDOG = _Watchdog()


def _shutdown(fd: int) -> None:
    # shutdown() acts on the connection, not on one descriptor: the duplicate reaches every holder.
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()  # the descriptor is closed by cancel(), not here
