"""HTTP (and file:) fetching for feeds: conditional GET, one deadline, a size cap, manual redirects.

feedparser never fetches: it would follow redirects, decompress and wait without bounds. Here every
exchange ends within `timeout` seconds and never holds more than `max_bytes` (+ one chunk) of body.
"""

from __future__ import annotations

import re
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit
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
from monitor.httpclient import HttpClient, Response, phrase, size_text
from monitor.retry_after import retry_after
from monitor.types import FeedState, Fetched

ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"
# Only what urllib3 inflates piece by piece under the size cap (a gzip bomb never expands past it).
ACCEPT_ENCODING = "gzip, deflate"
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf", b"<?xml")
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)
MAX_MAX_AGE = 7 * 86400.0


class Fetcher:
    """Fetches feed bytes over one kept-alive HTTP client; safe to share between worker threads.

    accept_html: an HTML page is an answer too (`feeds add` looks for feed links in it); otherwise
    an HTML page where a feed was expected is NotAFeed.
    """

    def __init__(
        self, *, user_agent: str, timeout: float, max_bytes: int, clock: Clock, max_redirects: int = 5,
        accept_html: bool = False,
    ) -> None:
        self._timeout, self._max_bytes, self._clock, self._max_redirects = timeout, max_bytes, clock, max_redirects
        self._accept_html = accept_html
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
            # Redirects are followed by the client's one loop: bounded, non-HTTP targets refused (a
            # server must not make us read file:///etc/passwd), a permanent FIRST hop reported.
            exchange = self._client.get(url, headers=headers, deadline=deadline, max_redirects=self._max_redirects,
                                        before_hop=lambda: self._check_deadline(start))
            resp = exchange.response
            try:
                return self._finish(resp, url, exchange.final, exchange.permanent, state, start, deadline)
            finally:
                # A 2xx body was read to its end (the connection is back in the pool) or abandoned on
                # purpose (too large, too slow): never read more of it. A short error body is read out.
                resp.release(drain=0 if 200 <= resp.status < 300 else 64 * 1024)
        except NetworkError as exc:
            if exc.kind == "timeout" or deadline.fired:
                raise self._timed_out() from exc
            if exc.kind == "bad-body":
                raise NotAFeed(str(exc)) from exc
            raise ConnectionFailed(str(exc)) from exc
        finally:
            deadline.cancel()

    def _timed_out(self) -> FetchTimeout:
        return FetchTimeout(f"timeout after {self._timeout:g}s")

    def _check_deadline(self, start: float) -> None:
        if self._clock.monotonic() - start > self._timeout:
            raise self._timed_out()

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
        wait = retry_after(h.get("retry-after"), self._clock.now())
        if not 200 <= status < 300:
            message = f"HTTP {status} {phrase(status, resp.reason)}".strip()
            if status in (429, 503):
                if wait is not None:
                    message += f" (retry after {wait:g}s)"
                raise HTTPStatusError(status, message, retry_after=wait)
            raise HTTPStatusError(status, message)
        body = resp.read_capped(self._max_bytes, deadline, check_deadline=lambda: self._check_deadline(start),
                                too_large=self._too_large, timed_out=self._timed_out)
        if not self._accept_html:
            _check_looks_like_feed(body, h.get("content-type", ""))
        return Fetched(
            url=url, final_url=final, status=status, body=body, etag=etag, last_modified=modified,
            retry_after=wait, permanent_redirect=permanent, max_age=max_age,
            elapsed=self._clock.monotonic() - start, content_type=h.get("content-type"),
        )

    def _too_large(self) -> TooLarge:
        return TooLarge(f"body larger than {size_text(self._max_bytes)}")

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
