"""monitor.deadline: what a fired deadline cuts, and what it lets go of (fired by hand: no timing)."""

from __future__ import annotations

import socket

from monitor.deadline import Deadline


def cut(sock: socket.socket) -> bool:
    """Whether sock's connection was shut down (a send fails, or the peer reads EOF)."""
    try:
        sock.sendall(b"x")
    except OSError:
        return True
    return False


def test_a_fired_deadline_cuts_every_watched_connection() -> None:
    a, a_peer = socket.socketpair()
    b, b_peer = socket.socketpair()
    with a, a_peer, b, b_peer:
        deadline = Deadline(3600)
        deadline.watch(a)
        deadline.watch(b)
        deadline.fire()
        assert deadline.fired and cut(a) and cut(b)
        deadline.cancel()


def test_forgotten_connections_are_not_cut_later_ones_are() -> None:
    """A redirect's connection goes back to its pool (another exchange may take it) before the next
    hop: the deadline of this exchange must not cut it any more."""
    pooled, pooled_peer = socket.socketpair()
    hop, hop_peer = socket.socketpair()
    with pooled, pooled_peer, hop, hop_peer:
        deadline = Deadline(3600)
        deadline.watch(pooled)
        deadline.forget()
        deadline.watch(hop)
        deadline.fire()
        assert not cut(pooled) and pooled_peer.recv(1) == b"x"
        assert cut(hop)
        deadline.cancel()


def test_a_cancelled_deadline_never_fires() -> None:
    a, a_peer = socket.socketpair()
    with a, a_peer:
        deadline = Deadline(3600)
        deadline.watch(a)
        deadline.cancel()
        deadline.fire()
        assert not deadline.fired and not cut(a)
