"""HTTP (and file:) fetching for feeds: conditional GET, one deadline, a size cap, manual redirects.

feedparser never fetches: it would follow redirects, decompress and wait without bounds. Here every
exchange ends within `timeout` seconds and never holds more than `max_bytes` (+ one chunk) of body.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from monitor.clock import Clock
from monitor.errors import ConnectionFailed, FeedError, FetchTimeout, HTTPStatusError, NotAFeed, TooLarge
from monitor.types import FeedState, Fetched

ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"
_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf", b"<?xml")
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)
_SECONDS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which float() refuses
# A Retry-After (or max-age) beyond this is clamped to it: a server cannot park a feed for years, and
# a huge value ("99999999999999999999", a date in year 9999) never reaches a timestamp. The scheduler
# honours Retry-After up to the same 24 h (schedule.MAX_RETRY_AFTER).
MAX_RETRY_AFTER = 24 * 3600.0
MAX_MAX_AGE = 7 * 86400.0
_current = threading.local()  # the _Watchdog of the fetch running in this thread


class _Watchdog:
    """Shuts the exchange's socket down when the deadline passes.

    Read timeouts only bound the gap between two packets, so a server dripping a byte at a time
    (headers or body) would otherwise hold a worker forever. shutdown() wakes any blocked recv().
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            # The plain-socket method: SSLSocket.shutdown would also drop TLS state under a reader.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _Watched:
    # getresponse() runs for new and reused pooled connections alike: the one hook that sees the
    # socket of every hop before the (possibly slow) status line and headers are read.
    def getresponse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        dog = getattr(_current, "dog", None)
        if dog is not None:
            dog.watch(self.sock)  # type: ignore[attr-defined]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = type("_WatchedHTTPConnection", (_Watched, HTTPConnection), {})


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("_WatchedHTTPSConnection", (_Watched, HTTPSConnection), {})


class _Adapter(HTTPAdapter):
    # Only direct connections get the watchdog hook; through an HTTP(S)_PROXY the header phase is
    # bounded by the read timeout per packet only (the body still obeys the deadline checks).
    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}



def read_capped(read1: Callable[[int], bytes], max_bytes: int, dog: _Watchdog, *,
                check_deadline: Callable[[], None], too_large: Callable[[], Exception],
                timed_out: Callable[[], Exception]) -> bytes:
    """Return a response body read piece by piece, raising too_large() past max_bytes (decoded).

    read1 returns whatever one recv() brought (decoded, at most _CHUNK bytes: urllib3 >= 2.6.3
    inflates incrementally), so a gzip bomb never expands past the cap and the deadline is checked
    between small reads instead of after a 64 KB read that a drip could stretch. Shared by the feed
    fetcher and the page fetcher (monitor/pages/net.py).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        check_deadline()
        chunk = read1(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise too_large()
        chunks.append(chunk)
    dog.cancel()
    if dog.fired:  # the watchdog's shutdown looks like EOF on a body without a length
        raise timed_out()
    return b"".join(chunks)

class Fetcher:
    """Fetches feed bytes; one pooled requests.Session, safe to share between worker threads."""

    def __init__(
        self, *, user_agent: str, timeout: float, max_bytes: int, clock: Clock, max_redirects: int = 5,
        pages: bool = False,
    ) -> None:
        self._timeout, self._max_bytes, self._clock, self._max_redirects = timeout, max_bytes, clock, max_redirects
        self._pages = pages  # True: an HTML page is an answer too (`feeds add` looks for feed links in it)
        self._session = requests.Session()
        # ~16 workers polling different hosts: keep a pool per host and a few sockets in each.
        adapter = _Adapter(pool_connections=16, pool_maxsize=16, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"})

    def close(self) -> None:
        self._session.close()

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
        headers = {}
        # Validators belong to the URL they came from; after a config change they mean nothing.
        if state is not None and state.url == url:
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        dog = _current.dog = _Watchdog(self._timeout)
        try:
            return self._exchange(url, headers, state, start, dog)
        finally:
            dog.cancel()
            _current.dog = None

    def _timed_out(self) -> FetchTimeout:
        return FetchTimeout(f"timeout after {self._timeout:g}s")

    def _check_deadline(self, start: float) -> None:
        if self._clock.monotonic() - start > self._timeout:
            raise self._timed_out()

    def _exchange(self, url: str, headers: dict, state: FeedState | None, start: float, dog: _Watchdog) -> Fetched:
        current, permanent = url, None
        # Redirects by hand: to bound them, to refuse non-HTTP targets (a server must not make us
        # read file:///etc/passwd) and to learn whether the FIRST hop was permanent.
        try:
            for hop in range(self._max_redirects + 1):
                self._check_deadline(start)
                timeout = (self._timeout, self._timeout)  # (connect, read); the watchdog bounds the sum
                resp = self._session.get(current, headers=headers, stream=True, allow_redirects=False, timeout=timeout)
                try:
                    location = resp.headers.get("location")
                    if resp.status_code in _REDIRECTS and location:
                        target = urljoin(current, location.strip())
                        if urlsplit(target).scheme.lower() not in ("http", "https"):
                            raise ConnectionFailed(f"{current} redirects to unsupported URL {target!r}")
                        if hop == 0 and resp.status_code in (301, 308):
                            permanent = target
                        current = target
                        continue
                    return self._finish(resp, url, current, permanent, state, start, dog)
                finally:
                    _discard(resp)
        except FeedError:
            raise
        except urllib3.exceptions.DecodeError as exc:
            raise NotAFeed(f"body of {current} is not valid gzip/deflate data") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if dog.fired or isinstance(exc, requests.Timeout | urllib3.exceptions.ReadTimeoutError):
                raise self._timed_out() from exc
            raise ConnectionFailed(_describe(exc, current)) from exc
        raise ConnectionFailed(f"too many redirects (>{self._max_redirects})")

    def _finish(
        self, resp: requests.Response, url: str, final: str, permanent: str | None, state: FeedState | None,
        start: float, dog: _Watchdog,
    ) -> Fetched:
        status, h = resp.status_code, resp.headers
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
        body = self._read_body(resp, start, dog)
        if not self._pages:
            _check_looks_like_feed(body, h.get("content-type", ""))
        return Fetched(
            url=url, final_url=final, status=status, body=body, etag=etag, last_modified=modified,
            retry_after=retry_after, permanent_redirect=permanent, max_age=max_age,
            elapsed=self._clock.monotonic() - start, content_type=h.get("content-type"),
        )

    def _read_body(self, resp: requests.Response, start: float, dog: _Watchdog) -> bytes:
        return read_capped(lambda n: resp.raw.read1(n, decode_content=True), self._max_bytes, dog,
                           check_deadline=lambda: self._check_deadline(start),
                           too_large=self._too_large, timed_out=self._timed_out)

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


def _discard(resp: requests.Response) -> None:
    """Release the connection to the pool if the rest of the body is small, else close it."""
    try:
        # A 2xx body was read to the end (connection already back in the pool) or abandoned on
        # purpose (too large, too slow): never read more of it.
        if not 200 <= resp.status_code < 300 and not resp.raw.closed:
            resp.raw.read(_CHUNK, decode_content=False)  # a short redirect/error body: keep-alive
    except Exception:  # the outcome of the exchange is already decided; this is only tidying up
        pass
    resp.close()


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


def _describe(exc: BaseException, url: str) -> str:
    """Return one short line for a connection failure (urllib3's reprs run to hundreds of chars)."""
    host = urlsplit(url).netloc or url
    if isinstance(exc, ValueError):  # requests' InvalidURL/MissingSchema, urllib3's LocationParseError
        return f"invalid URL {url!r}"
    root = _root_cause(exc)
    if isinstance(root, socket.gaierror):
        return f"cannot resolve host {urlsplit(url).hostname}"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"TLS certificate of {host} rejected: {root.verify_message}"
    if isinstance(root, ssl.SSLError) or isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error with {host}: {getattr(root, 'reason', None) or 'handshake failed'}"
    if isinstance(root, ConnectionRefusedError):
        return f"connection refused by {host}"
    if isinstance(root, ConnectionResetError | urllib3.exceptions.ProtocolError):
        return f"{host} closed the connection before a complete response"
    if isinstance(root, OSError) and root.strerror:
        return f"cannot connect to {host}: {root.strerror}"
    return f"cannot connect to {host} ({type(root or exc).__name__})"


def _root_cause(exc: BaseException) -> BaseException | None:
    """Return the innermost standard-library error under requests'/urllib3's wrappers."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if e in seen:
            continue
        seen.append(e)
        if isinstance(e, OSError) and type(e).__module__.split(".")[0] not in ("requests", "urllib3"):
            return e
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(x for x in nested if isinstance(x, BaseException))
    return next((e for e in seen if isinstance(e, urllib3.exceptions.ProtocolError)), None)
