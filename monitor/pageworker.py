"""The page worker: drains the `pages` queue politely, a few hosts at a time.

    PageWorker.drain(store, ...) -> PageReport     fetch every page due now (once each), then return
    PageWorker.run(store_fn, ...)                  the daemon's loop: drain, sleep until the next is due

One drain: the due pages are grouped by host; worker threads fetch and extract (network and
parsing off the committing thread), at most one request per host at a time and `page_delay`
apart (HostGate); the calling thread commits each result as it lands (pipeline.apply_page: one
short transaction, SQLite's single writer). A host that asked for a long wait (Retry-After) has
its pages deferred in the queue rather than waited for, so other hosts and new releases go on.
Nothing is marked "in progress": a crash leaves the page pending, and the next start fetches it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor import pipeline
from monitor.clock import Clock
from monitor.cluster import LeaseKeeper
from monitor.errors import PageError
from monitor.extract import Anchor, extract
from monitor.pagefetch.net import PageFetcher
from monitor.pagefetch.polite import HostGate, PageClient, Robots
from monitor.store import PageRow, Store
from monitor.types import Settings

log = logging.getLogger(__name__)

WORKERS = 4  # page fetches in flight (each to a different host)
MAX_WAIT = 5.0  # a host that must not be asked for longer than this has its pages deferred
IDLE = 60.0  # the daemon's loop looks at the queue at least this often
BUSY_PAUSE = 1.0  # the loop's pause when due pages are all another node's
HOST_BUSY_RETRY = 0.5  # seconds before asking again for a host another node is requesting


@dataclass
class PageReport:
    fetched: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: int = 0  # pending again: failed this time, tried again later
    deferred: int = 0  # not asked this time: their host asked us to wait
    matches: int = 0
    alerts: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, result: pipeline.PageResult) -> None:
        if result.status == "done":
            self.fetched += 1
        elif result.status == "skipped":
            self.skipped += 1
        elif result.status == "failed":
            self.failed += 1
        else:
            self.retrying += 1
        self.matches += result.matches
        self.alerts += result.alerts

    def line(self) -> str:
        text = f"pages: {self.fetched} fetched, {self.skipped} skipped, {self.failed} failed"
        if self.retrying or self.deferred:
            text += f", {self.retrying + self.deferred} to retry"
        if self.matches:
            text += f"  {self.matches} matched"
        return text


def build_client(settings: Settings, clock: Clock) -> PageClient:
    """Return the polite, safe page client the settings describe."""
    networks = [ipaddress.ip_network(n) for n in settings.allow_private_networks]
    fetcher = PageFetcher(user_agent=settings.user_agent, timeout=settings.timeout, max_bytes=settings.max_page_bytes,
                          clock=clock, allow_networks=networks)
    return PageClient(fetcher, HostGate(settings.page_delay, clock), Robots(settings.user_agent, clock))


class PageWorker:
    def __init__(self, client: PageClient, clock: Clock, *, workers: int = WORKERS, max_wait: float = MAX_WAIT) -> None:
        self.client, self.clock, self.workers, self.max_wait = client, clock, max(1, workers), max_wait
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="page")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.fetcher.close()

    def drain(self, store: Store, *, settings: Settings, rules: pipeline.RulesLike,
              channels: frozenset[str] | None = None, created_since: datetime | None = None,
              stop: threading.Event | None = None, limit: int = 1000,
              progress: Callable[[PageRow, pipeline.PageResult], None] | None = None,
              claims: LeaseKeeper | None = None) -> PageReport:
        """Fetch the pages due now (those queued since created_since, if given), each once; return counts.

        claims (several nodes on one archive): a page is fetched only under this node's lease on
        "page:<id>" (re-read after the claim: another node may have just fetched it) and on
        "host:<name>", which is kept, unrenewed, until page_delay after the request ends, so one
        request at a time per host and page_delay apart hold across the cluster.
        """
        report = PageReport()
        queue: OrderedDict[str, deque[PageRow]] = OrderedDict()
        for row in store.due_pages(self.clock.now(), limit=limit, created_since=created_since):
            queue.setdefault(row.host, deque()).append(row)
        gate = self.client.gate
        flying: dict[Future[pipeline.PageOutcome | None], PageRow] = {}
        while queue or flying:
            soonest = math.inf
            if stop is None or not stop.is_set():
                for host in list(queue):
                    if len(flying) >= self.workers:
                        break
                    # A link without a host is refused without a request: no need to ration it.
                    ready = gate.try_acquire(host) if host else 0.0
                    if ready == 0.0:
                        row = queue[host].popleft()
                        if not queue[host]:
                            del queue[host]
                        claim = "ok" if claims is None else _claim(store, claims, row, self.clock.now())
                        if claim == "ok":
                            flying[self._pool.submit(self._fetch, row)] = row
                        elif claim == "taken":  # another node has it, or has just done it
                            gate.cancel(host)
                        else:  # another node is asking this host: try again shortly
                            gate.release(host, retry_after=HOST_BUSY_RETRY)
                            queue.setdefault(host, deque()).appendleft(row)
                            soonest = min(soonest, HOST_BUSY_RETRY)
                    elif ready != math.inf and ready > self.max_wait:
                        rows = queue.pop(host)
                        store_defer(store, [r.id for r in rows], self.clock.now() + timedelta(seconds=ready))
                        report.deferred += len(rows)
                    else:
                        soonest = min(soonest, ready)
            elif not flying:
                break
            if not flying:
                if soonest == math.inf:
                    break
                (stop or threading.Event()).wait(soonest)
                continue
            done, _ = wait(flying, timeout=None if soonest == math.inf else soonest, return_when=FIRST_COMPLETED)
            for fut in done:
                row = flying.pop(fut)
                outcome = fut.result()
                if outcome is None:  # that was the host's robots.txt: the page goes next, after the delay
                    gate.release(row.host)
                    _release(store, claims, row, self.clock.now(), settings.page_delay)
                    queue.setdefault(row.host, deque()).appendleft(row)
                    queue.move_to_end(row.host, last=False)
                    continue
                result = pipeline.apply_page(store, outcome, self.clock.now(), settings=settings, rules=rules,
                                             channels=channels)
                retry_after = outcome.error.retry_after if outcome.error else None
                if row.host:
                    gate.release(row.host, retry_after=retry_after)
                _release(store, claims, row, self.clock.now(), max(settings.page_delay, retry_after or 0.0))
                report.add(result)
                if result.error and result.status != "done":
                    report.errors.append(f"{row.url}: {result.error}")
                if progress is not None:
                    progress(row, result)
        return report

    def _fetch(self, row: PageRow) -> pipeline.PageOutcome | None:
        """Fetch and extract one page; None when the request made was its host's robots.txt."""
        try:
            if row.host and self.client.needs_robots(row.url):
                self.client.load_robots(row.url, feed_url=row.feed_url or None)
                return None
            page = self.client.get(row.url, feed_url=row.feed_url or None)
            # What the feed said the release is: where it starts in the page, and whether the page holds it.
            found = extract(page.body, url=page.final_url, charset=page.charset, anchor=Anchor(row.title, row.summary))
            if found is None:
                return pipeline.PageOutcome(row.id, row.release_id, attempts=row.attempts)
            return pipeline.PageOutcome(row.id, row.release_id, found.text, found.method, attempts=row.attempts,
                                        boilerplate=found.boilerplate, quality=found.quality)
        except PageError as exc:
            return pipeline.PageOutcome(row.id, row.release_id, error=exc, attempts=row.attempts)
        except Exception as exc:  # noqa: BLE001 - one page's bug must not stop the queue
            log.error("internal error while fetching a page", exc_info=exc)
            error = PageError(f"internal error: {type(exc).__name__}: {exc}", kind="internal", outcome="failed")
            return pipeline.PageOutcome(row.id, row.release_id, error=error, attempts=row.attempts)

    def run(self, store: Store, *, app: Callable[[], tuple[Settings, pipeline.RulesLike, frozenset[str] | None]],
            stop: threading.Event, wake: threading.Event,
            on_report: Callable[[PageReport], None] | None = None, claims: LeaseKeeper | None = None,
            idle: float = IDLE) -> None:
        """Drain the queue until stop is set: after each drain, sleep until a page is due or wake is set
        (at most `idle`: pages another node queued, or a dead node left, are looked at that often)."""
        while not stop.is_set():
            settings, rules, channels = app()
            try:
                report = self.drain(store, settings=settings, rules=rules, channels=channels, stop=stop,
                                    claims=claims)
            except Exception as exc:  # noqa: BLE001 - the loop must survive (a locked archive, a bug)
                log.error("page worker: drain failed", exc_info=exc)
                report = None
                stop.wait(5.0)
            if report is not None and on_report is not None:
                on_report(report)
            nxt = store.next_page_due()
            # Nothing done although pages are due: other nodes hold them (or their hosts); no busy loop.
            worked = report is None or report.fetched or report.skipped or report.failed or report.retrying
            least = 0.05 if worked else BUSY_PAUSE
            pause = idle if nxt is None else min(idle, max(least, (nxt - self.clock.now()).total_seconds()))
            wake.wait(pause)
            wake.clear()


def _claim(store: Store, claims: LeaseKeeper, row: PageRow, now: datetime) -> str:
    """Claim the page and its host for this node: "ok", "taken" (the page) or "busy" (the host)."""
    page, host = f"page:{row.id}", f"host:{row.host}" if row.host else None
    won = claims.claim(store, [page] if host is None else [page, host])
    if page not in won or not store.page_due(row.id, now):
        claims.release(store, list(won))
        return "taken"
    if host is not None and host not in won:
        claims.release(store, [page])
        return "busy"
    return "ok"


def _release(store: Store, claims: LeaseKeeper | None, row: PageRow, now: datetime, delay: float) -> None:
    """After a request: the page's lease goes, the host's stays ours (unrenewed) for `delay` more."""
    if claims is None:
        return
    claims.release(store, [f"page:{row.id}"])
    if row.host:
        claims.release(store, [f"host:{row.host}"], until=now + timedelta(seconds=delay))


def store_defer(store: Store, ids: Sequence[int], until: datetime) -> None:
    with store.transaction():
        store.defer_pages(ids, until)
