"""HostQueue: a worker gets the next job whose host has a free slot; no thread needed to see it."""

from __future__ import annotations

import threading

from monitor.hostqueue import HostQueue, HostSlots, WorkerPool, host_of


def test_host_of_ignores_case_and_port_and_file_urls_have_none() -> None:
    assert host_of("https://WWW.PRNewswire.com:443/rss/x.rss") == "www.prnewswire.com"
    assert host_of("file:///tmp/feed.xml") is None
    assert host_of("http://[::1") is None  # unparseable: never limited, never a crash


def test_take_skips_a_busy_host_instead_of_waiting_for_it() -> None:
    q: HostQueue[str] = HostQueue(HostSlots(per_host=2))
    for n in range(4):
        assert q.put(f"a{n}", f"https://a.example/{n}", f"a{n}")
    assert q.put("b0", "https://b.example/0", "b0")
    assert q.put("f0", "file:///tmp/f.xml", "f0")
    first, second = q.take(), q.take()
    assert first is not None and second is not None and (first.job, second.job) == ("a0", "a1")
    third, fourth = q.take(), q.take()  # a.example is at its limit: the others go ahead
    assert third is not None and fourth is not None and (third.job, fourth.job) == ("b0", "f0")
    assert len(q) == 2
    q.done(first)
    again = q.take()
    assert again is not None and again.job == "a2"


def test_a_key_queued_or_running_is_not_queued_twice_and_close_drops_or_drains() -> None:
    q: HostQueue[str] = HostQueue()
    assert q.put("wire", "https://a.example/rss", "1") and not q.put("wire", "https://a.example/rss", "2")
    ticket = q.take()
    assert ticket is not None and not q.put("wire", "https://a.example/rss", "3")  # running
    q.done(ticket)
    assert q.put("wire", "https://a.example/rss", "4")
    q.close(drain=True)
    assert not q.put("other", "https://a.example/x", "5")  # closed: nothing new
    last = q.take()
    assert last is not None and last.job == "4" and q.take() is None

    dropped: HostQueue[str] = HostQueue()
    dropped.put("x", "https://a.example/x", "x")
    dropped.close()
    assert dropped.take() is None and len(dropped) == 0


def test_two_stages_on_shared_slots_stay_within_the_host_limit_together() -> None:
    slots = HostSlots(per_host=2)
    feeds: HostQueue[str] = HostQueue(slots)
    pages: HostQueue[str] = HostQueue(slots)
    feeds.put("f", "https://a.example/rss", "f")
    pages.put("p1", "https://a.example/p1", "p1")
    pages.put("p2", "https://a.example/p2", "p2")
    running = [feeds.take(), pages.take()]
    assert all(running)
    taken: list[object] = []
    waiter = threading.Thread(target=lambda: taken.append(pages.take()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not taken  # the host's two slots are held by the two stages
    feeds.done(running[0])  # type: ignore[arg-type]
    waiter.join(30)
    assert [t.job for t in taken] == ["p2"]  # type: ignore[attr-defined]


def test_worker_pool_survives_a_failing_job_and_ends_when_the_queue_is_drained() -> None:
    q: HostQueue[int] = HostQueue()
    done: list[int] = []

    def handle(n: int) -> None:
        if n == 2:
            raise RuntimeError("a bug in one job")
        done.append(n)

    for n in range(5):
        q.put(str(n), "https://a.example/", n)
    q.close(drain=True)
    pool = WorkerPool(q, handle, workers=1, name="t").start()
    pool.join(30)
    assert done == [0, 1, 3, 4] and pool.busy == 0
