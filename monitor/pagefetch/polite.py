"""Politeness per host: one request at a time, a delay between requests, Retry-After, robots.txt.

    HostGate     who may ask a host now: try_acquire(host) -> 0.0 (yours) or seconds to wait
    Robots       robots.txt per origin, fetched once and kept a day
    PageClient   the two around a PageFetcher: get(url, feed_url) for a caller holding the gate

Waiting is the caller's business (the page worker picks another host meanwhile); PageClient only
waits the delay between a robots.txt request and the page request that follows it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from monitor.clock import Clock
from monitor.errors import PageError
from monitor.pagefetch.net import Page, PageFetcher, origin

ROBOTS_TTL = 86400.0  # RFC 9309: robots.txt may be cached up to 24 hours
ROBOTS_MAX_BYTES = 512_000  # RFC 9309: at least 500 KiB must be parsed


def host_of(url: str) -> str:
    """Return the key pages are rationed by: the lower-case host name ("" for a URL without one)."""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


class HostGate:
    """Per host: at most one request at a time, `delay` seconds from the end of one to the next,
    and nothing before a Retry-After the host asked for has passed."""

    def __init__(self, delay: float, clock: Clock) -> None:
        self.delay, self._clock = delay, clock
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._free_at: dict[str, float] = {}  # monotonic time the host may be asked again

    def try_acquire(self, host: str) -> float:
        """Take the host and return 0.0, or return how long to wait (math.inf while another holds it)."""
        with self._lock:
            if host in self._busy:
                return math.inf
            wait = self._free_at.get(host, 0.0) - self._clock.monotonic()
            if wait > 0:
                return wait
            self._busy.add(host)
            return 0.0

    def cancel(self, host: str) -> None:
        """Give the host back unused (no request was made): no delay follows."""
        with self._lock:
            self._busy.discard(host)

    def release(self, host: str, *, retry_after: float | None = None) -> None:
        """Give the host back; it may be asked again after the delay (or after retry_after if longer)."""
        with self._lock:
            self._busy.discard(host)
            self._free_at[host] = self._clock.monotonic() + max(self.delay, retry_after or 0.0)
            if len(self._free_at) > 10_000:  # forget hosts whose wait is over
                now = self._clock.monotonic()
                self._free_at = {h: t for h, t in self._free_at.items() if t > now or h in self._busy}


class Robots:
    """robots.txt rules per origin (scheme, host, port), fetched on first need and kept ROBOTS_TTL."""

    def __init__(self, agent: str, clock: Clock) -> None:
        # The product token is the user agent's first word without its version ("press-monitor").
        self.agent = (agent.split("/", 1)[0].split() or ["*"])[0]
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: dict[tuple[str, str, int], tuple[RobotFileParser, float]] = {}

    def cached(self, url: str) -> RobotFileParser | None:
        key = origin(url)
        with self._lock:
            hit = self._rules.get(key) if key else None
        if hit is None or hit[1] <= self._clock.monotonic():
            return None
        return hit[0]

    def remember(self, url: str, page: Page) -> RobotFileParser:
        """Keep the rules of url's origin from a robots.txt answer (a 4xx means no rules)."""
        parser = RobotFileParser()
        text = page.body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace") if 200 <= page.status < 300 else ""
        parser.parse(text.splitlines())  # no lines: no rules, everything allowed
        self._keep(url, parser, ROBOTS_TTL)
        return parser

    def _keep(self, url: str, parser: RobotFileParser, ttl: float) -> None:
        key = origin(url)
        if key is not None:
            with self._lock:
                self._rules[key] = (parser, self._clock.monotonic() + ttl)

    def allows(self, parser: RobotFileParser, url: str) -> bool:
        return parser.can_fetch(self.agent, url)


class PageClient:
    """Fetch a page the polite way; the caller holds the page host's HostGate slot."""

    def __init__(self, fetcher: PageFetcher, gate: HostGate, robots: Robots,
                 wait: Callable[[float], object] | None = None) -> None:
        self.fetcher, self.gate, self.robots = fetcher, gate, robots
        self._wait = wait or threading.Event().wait

    def needs_robots(self, url: str) -> bool:
        """Return True when url's robots.txt is not cached: load_robots() is the next request."""
        return self.robots.cached(url) is None

    def load_robots(self, url: str, *, feed_url: str | None = None) -> None:
        """Fetch and keep url's robots.txt (raise PageError when the site is refused or it is unavailable)."""
        self._load_robots(url, feed_url)

    def get(self, url: str, *, feed_url: str | None = None) -> Page:
        """Return the page (raise PageError); robots.txt is asked first when not cached.

        A caller that schedules hosts itself (the page worker) calls load_robots() as a request of
        its own instead, so no thread sleeps through the delay between the two.
        """
        parser = self.robots.cached(url)
        if parser is None:
            parser = self._load_robots(url, feed_url)
            if self.gate.delay > 0:
                self._wait(self.gate.delay)  # the delay holds between robots.txt and the page too
        if not self.robots.allows(parser, url):
            raise PageError(f"disallowed by robots.txt of {host_of(url)}", kind="robots", outcome="skipped")
        return self.fetcher.fetch(url, feed_url=feed_url)

    def _load_robots(self, url: str, feed_url: str | None) -> RobotFileParser:
        parts = urlsplit(url)
        robots_url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
        try:
            page = self.fetcher.fetch(robots_url, feed_url=feed_url, robots=True)
        except PageError as exc:
            if exc.outcome == "skipped":
                raise  # the site itself is refused: say so, not "robots.txt unavailable"
            if exc.status is not None and exc.status not in (429, 503) and exc.status < 500 or exc.kind == "too-large":
                return self.robots.remember(url, Page(robots_url, robots_url, 404, "", None, b""))
            # RFC 9309: an unreachable robots.txt means "assume complete disallow" for now: retry later.
            raise PageError(f"robots.txt of {host_of(url)} unavailable: {exc}", kind="robots-unavailable",
                            retry_after=exc.retry_after) from exc
        return self.robots.remember(url, page)
