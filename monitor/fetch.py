"""HTTP (and file:) fetching for feeds: conditional GET, one deadline, a size cap, manual redirects.

feedparser never fetches: it would follow redirects, decompress and wait without bounds. Here every
exchange ends within `timeout` seconds and never holds more than `max_bytes` (+ one chunk) of body.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

from monitor.clock import Clock
from monitor.deadline import Deadline
from monitor.errors import (
    ConnectionFailed,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    NotAFeed,
    TooLarge,
)
from monitor.httpclient import CHUNK, HttpClient, Response
from monitor.types import FeedState, Fetched

ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"
# Only what urllib3 inflates piece by piece under the size cap (a gzip bomb never expands past it).
ACCEPT_ENCODING = "gzip, deflate"
_REDIRECTS = (301, 302, 303, 307, 308)
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf", b"<?xml")
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)
_SECONDS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which float() refuses
# A Retry-After (or max-age) beyond this is clamped to it: a server cannot park a feed for years, and
# a huge value ("99999999999999999999", a date in year 9999) never reaches a timestamp. The scheduler
# honours Retry-After up to the same 24 h (schedule.MAX_RETRY_AFTER).
MAX_RETRY_AFTER = 24 * 3600.0
MAX_MAX_AGE = 7 * 86400.0


class Fetcher:
    """Fetches feed bytes over one kept-alive HTTP client; safe to share between worker threads."""

    def __init__(
        self, *, user_agent: str, timeout: float, max_bytes: int, clock: Clock, max_redirects: int = 5,
        pages: bool = False,
    ) -> None:
        self._timeout, self._max_bytes, self._clock, self._max_redirects = timeout, max_bytes, clock, max_redirects
        self._pages = pages  # True: an HTML page is an answer too (`feeds add` looks for feed links in it)
        # ~16 workers polling different hosts: keep a pool per host and a few sockets in each.
        self._client = HttpClient(user_agent=user_agent, timeout=timeout, maxsize=16, num_pools=16)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, state: FeedState | None = None) -> Fetched:
        """Return the feed's bytes (or not_modified); raise a FeedError saying why not."""
        start = self._clock.monotonic()
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return self._fetch_file(url, state, start)
        if scheme not in ("http", "https"):
            raise ConnectionFailed(f"unsupported URL {url!r}: use http://, https:// or file://")
        headers = {"Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        # Validators belong to the URL they came from; after a config change they mean nothing.
        if state is not None and state.url == url:
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        deadline = Deadline(self._timeout)  # read timeouts bound one gap; this the whole exchange
        try:
            return self._exchange(url, headers, state, start, deadline)
        finally:
            deadline.cancel()

    def _timed_out(self) -> FetchTimeout:
        return FetchTimeout(f"timeout after {self._timeout:g}s")

    def _check_deadline(self, start: float) -> None:
        if self._clock.monotonic() - start > self._timeout:
            raise self._timed_out()

    def _exchange(self, url: str, headers: dict[str, str], state: FeedState | None, start: float,
                  deadline: Deadline) -> Fetched:
        current, permanent = url, None
        # Redirects by hand: to bound them, to refuse non-HTTP targets (a server must not make us
        # read file:///etc/passwd) and to learn whether the FIRST hop was permanent.
        try:
            for hop in range(self._max_redirects + 1):
                self._check_deadline(start)
                resp = self._client.request("GET", current, headers=headers, deadline=deadline)
                try:
                    location = resp.headers.get("location")
                    if resp.status in _REDIRECTS and location:
                        target = urljoin(current, location.strip())
                        if urlsplit(target).scheme.lower() not in ("http", "https"):
                            raise ConnectionFailed(f"{current} redirects to unsupported URL {target!r}")
                        if hop == 0 and resp.status in (301, 308):
                            permanent = target
                        current = target
                        continue
                    return self._finish(resp, url, current, permanent, state, start, deadline)
                finally:
                    # A 2xx body was read to its end (the connection is back in the pool) or abandoned
                    # on purpose (too large, too slow): never read more of it. A short redirect or
                    # error body is read out so the connection stays alive.
                    resp.release(drain=0 if 200 <= resp.status < 300 else CHUNK)
        except NetworkError as exc:
            if exc.kind == "timeout" or deadline.fired:
                raise self._timed_out() from exc
            if exc.kind == "bad-body":
                raise NotAFeed(f"body of {current} is not valid gzip/deflate data") from exc
            raise ConnectionFailed(str(exc)) from exc
        except ValueError as exc:  # a Location urljoin cannot read (a bad IPv6 literal, ...)
            raise ConnectionFailed(f"invalid URL {current!r}") from exc
        raise ConnectionFailed(f"too many redirects (>{self._max_redirects})")

    def _finish(
        self, resp: Response, url: str, final: str, permanent: str | None, state: FeedState | None,
        start: float, deadline: Deadline,
    ) -> Fetched:
        status, h = resp.status, resp.headers
        m = _MAX_AGE.search(h.get("cache-control", ""))
        max_age = min(float(m.group(1)), MAX_MAX_AGE) if m else None
        etag, modified = h.get("etag"), h.get("last-modified")
        if status == 304:  # a 304 may omit validators: the ones we sent are still the current ones
            etag = etag or (state.etag if state else None)
            modified = modified or (state.last_modified if state else None)
            return Fetched(
                url=url, final_url=final, status=304, not_modified=True, etag=etag, last_modified=modified,
                permanent_redirect=permanent, max_age=max_age, elapsed=self._clock.monotonic() - start,
            )
        retry_after = _retry_after(h.get("retry-after"), self._clock.now())
        if not 200 <= status < 300:
            message = f"HTTP {status} {_phrase(status, resp.reason)}".strip()
            if status in (429, 503):
                if retry_after is not None:
                    message += f" (retry after {retry_after:g}s)"
                raise HTTPStatusError(status, message, retry_after=retry_after)
            raise HTTPStatusError(status, message)
        length = h.get("content-length", "").strip()
        identity = h.get("content-encoding", "identity").lower() == "identity"
        if identity and length.isdigit() and int(length) > self._max_bytes:
            raise self._too_large()  # refuse before reading a byte of it
        body = resp.read_capped(self._max_bytes, deadline, check_deadline=lambda: self._check_deadline(start),
                                too_large=self._too_large, timed_out=self._timed_out)
        if not self._pages:
            _check_looks_like_feed(body, h.get("content-type", ""))
        return Fetched(
            url=url, final_url=final, status=status, body=body, etag=etag, last_modified=modified,
            retry_after=retry_after, permanent_redirect=permanent, max_age=max_age,
            elapsed=self._clock.monotonic() - start, content_type=h.get("content-type"),
        )

    def _too_large(self) -> TooLarge:
        return TooLarge(f"body larger than {_size(self._max_bytes)}")

    def _fetch_file(self, url: str, state: FeedState | None, start: float) -> Fetched:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConnectionFailed(f"file URL must name a local path: {url}")
        path = Path(url2pathname(parts.path))
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ConnectionFailed(f"file not found: {path}") from None
        except OSError as exc:
            raise ConnectionFailed(f"cannot read {path}: {exc.strerror}") from None
        # mtime_ns + size: finer than Last-Modified's whole seconds, so a quick edit is not missed.
        etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
        modified = formatdate(st.st_mtime, usegmt=True)
        common = {"url": url, "final_url": url, "etag": etag, "last_modified": modified}
        if state is not None and state.url == url and (state.etag or state.last_modified) and (
            state.etag == etag if state.etag else state.last_modified == modified
        ):
            elapsed = self._clock.monotonic() - start
            return Fetched(**common, status=304, not_modified=True, elapsed=elapsed)  # type: ignore[arg-type]
        if st.st_size > self._max_bytes:
            raise self._too_large()
        try:
            with path.open("rb") as f:
                body = f.read(self._max_bytes + 1)  # the file may have grown since stat()
        except OSError as exc:
            raise ConnectionFailed(f"cannot read {path}: {exc.strerror}") from None
        if len(body) > self._max_bytes:
            raise self._too_large()
        if not body.strip():
            raise NotAFeed(f"empty file: {path}")
        return Fetched(**common, status=200, body=body, elapsed=self._clock.monotonic() - start)  # type: ignore[arg-type]


def _check_looks_like_feed(body: bytes, content_type: str) -> None:
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise NotAFeed("empty response body")
    html = content_type.split(";")[0].strip().lower() == "text/html"
    if html and not any(marker in head for marker in _FEED_MARKERS):
        raise NotAFeed("got an HTML page, not a feed")


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Return Retry-After (delta-seconds or HTTP-date) as seconds from now, within [0, MAX_RETRY_AFTER]; or None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def _phrase(status: int, reason: str | None) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a non-standard code: the server's own reason, kept short
        return (reason or "")[:60]


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    return f"{n / 1000:g} KB" if n >= 1000 else f"{n} bytes"
