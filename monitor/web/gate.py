"""The web server's front door: one thread reads every connection's request head, workers only answer.

A thread-per-connection server can be held by a few clients that open connections and send
nothing, or one header byte every few seconds (slowloris): each holds a worker while it dribbles.
Here one selector thread accepts connections and reads their request heads (request line and
headers) without blocking, so a slow client costs a buffer, never a worker. A head must arrive
whole within HEAD_SECONDS of the connection (a deadline for the whole head, not per receive); one
client address may have at most PER_CLIENT heads in progress (more are hung up at once); and at
most MAX_WAITING heads are read at once (a new connection then pushes out the oldest). A complete
head goes to `dispatch`, which answers it on a worker thread (see server.WebServer).

Counts of what the gate did (`Gate.counts`) are for tests and the bench: they show the defence
acting without timing anything.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.clock import Clock, SystemClock

HEAD_SECONDS = 10.0  # the whole request head, from accept: a browser sends it in one packet
PER_CLIENT = 32  # heads in progress per client address (a reverse proxy's heads arrive whole at once)
MAX_WAITING = 512  # heads in progress in all; a new connection then pushes out the oldest
MAX_HEAD_BYTES = 66 * 1024  # http.server refuses a line over 64 KiB (414/431); a head past this is not read on
ACCEPT_BATCH = 64


@dataclass(frozen=True)
class Head:
    """A connection whose request head has arrived (or that sent more than MAX_HEAD_BYTES without one)."""

    sock: socket.socket
    address: tuple[str, int]
    data: bytes
    complete: bool


@dataclass
class _Reading:
    sock: socket.socket
    address: tuple[str, int]
    deadline: float
    data: bytearray = field(default_factory=bytearray)


def head_end(data: bytes | bytearray) -> bool:
    """Whether `data` holds a whole request head (ended by an empty line; bare LF as http.server accepts)."""
    return b"\r\n\r\n" in data or b"\n\n" in data or data.startswith((b"\r\n", b"\n"))


class Gate:
    """Accepts on `listener` and hands each complete request head to `dispatch` (which must not block)."""

    def __init__(self, listener: socket.socket, dispatch: Callable[[Head], None], *,
                 clock: Clock | None = None, head_seconds: float = HEAD_SECONDS,
                 per_client: int = PER_CLIENT, max_waiting: int = MAX_WAITING) -> None:
        self.listener = listener
        self.dispatch = dispatch
        self.clock = clock or SystemClock()
        self.head_seconds, self.per_client, self.max_waiting = head_seconds, per_client, max_waiting
        self.counts: Counter[str] = Counter()  # accepted, dispatched, timed_out, refused, pushed_out, closed
        self._reading: dict[int, _Reading] = {}  # by fd, in accept order (so deadlines are in order too)
        self._per_client: Counter[str] = Counter()
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()
        self.stopped = threading.Event()

    def run(self) -> None:
        """Serve until stop(); every connection still being read is closed on the way out."""
        sel = selectors.DefaultSelector()
        self.listener.setblocking(False)
        sel.register(self.listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stop:
                now = self.clock.monotonic()
                first = next(iter(self._reading.values()), None)
                timeout = None if first is None else max(0.0, first.deadline - now)
                for key, _ in sel.select(timeout):
                    if key.data == "accept":
                        self._accept(sel)
                    elif key.data == "wake":
                        self._wake_r.recv(64)
                    else:
                        self._read(sel, key.fileobj)  # type: ignore[arg-type]
                self._expire(sel)
        finally:
            for r in list(self._reading.values()):
                self._drop(sel, r, "closed")
            sel.close()
            self._wake_r.close()
            self._wake_w.close()
            self.stopped.set()

    def stop(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):  # already closed: run() has returned
            self._wake_w.send(b"x")

    def waiting(self) -> int:
        """Heads in progress now (read by the gate's own thread; approximate elsewhere)."""
        return len(self._reading)

    def _accept(self, sel: selectors.BaseSelector) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, a connection reset before accept, ...
                self.counts["accept_failed"] += 1
                return
            self.counts["accepted"] += 1
            host = str(address[0])
            if self._per_client[host] >= self.per_client:
                self.counts["refused"] += 1
                _close(sock)
                continue
            if len(self._reading) >= self.max_waiting:
                self._drop(sel, next(iter(self._reading.values())), "pushed_out")
            sock.setblocking(False)
            r = _Reading(sock, (host, int(address[1])), self.clock.monotonic() + self.head_seconds)
            self._reading[sock.fileno()] = r
            self._per_client[host] += 1
            sel.register(sock, selectors.EVENT_READ, "read")

    def _read(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        r = self._reading.get(sock.fileno())
        if r is None:
            return
        try:
            chunk = sock.recv(16384)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client hung up before finishing its head
            self._drop(sel, r, "closed")
            return
        r.data += chunk
        complete = head_end(r.data)
        if complete or len(r.data) > MAX_HEAD_BYTES:
            self._forget(sel, r)
            r.sock.setblocking(True)
            self.counts["dispatched"] += 1
            self.dispatch(Head(r.sock, r.address, bytes(r.data), complete))

    def _expire(self, sel: selectors.BaseSelector) -> None:
        now = self.clock.monotonic()
        for r in list(self._reading.values()):
            if r.deadline > now:
                break  # accept order is deadline order
            self._drop(sel, r, "timed_out")

    def _forget(self, sel: selectors.BaseSelector, r: _Reading) -> None:
        sel.unregister(r.sock)
        del self._reading[r.sock.fileno()]
        self._per_client[r.address[0]] -= 1
        if not self._per_client[r.address[0]]:
            del self._per_client[r.address[0]]

    def _drop(self, sel: selectors.BaseSelector, r: _Reading, why: str) -> None:
        self._forget(sel, r)
        self.counts[why] += 1
        _close(r.sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
