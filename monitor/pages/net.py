"""Fetching release pages safely: their links come from untrusted feed content.

    PageFetcher.fetch(url, feed_url=...) -> Page       (or raises PageError: why not, and what next)

Every hop (the link and each redirect, at most `max_redirects`):
  - http(s) only (`file:///etc/passwd`, `ftp:` ... are refused);
  - the host name is resolved here, once; every address it resolves to must be public (not
    loopback, private, link-local, multicast, reserved, ...) unless the hop is on the origin
    (scheme, host, port) of the feed that carried the link, or the address is inside one of the
    `allow_private_networks`;
  - the connection goes to the address that was checked (Host header, TLS SNI and the
    certificate check keep the host name), so a DNS answer that changes between check and
    connect (DNS rebinding) cannot steer the request somewhere else.
Then: connect/read timeouts, one deadline for the whole exchange (a watchdog shuts the socket of a
server that drips bytes), a cap on the decompressed body, and only HTML is accepted as a page.

urllib3 directly rather than requests: pinning the address needs our own connection classes and
one pool per checked address; requests' adapters would only hide that.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from monitor.clock import Clock
from monitor.deadline import Deadline
from monitor.errors import PageError
from monitor.fetch import _phrase, _retry_after, _size
from monitor.httpclient import describe, is_timeout, read_capped

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024
_POOLS = 64  # pools kept open (one per host and checked address), least recently used closed first
_current = threading.local()  # the Deadline of the exchange running in this thread

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
Origin = tuple[str, str, int]


@dataclass(frozen=True)
class Page:
    """A fetched page (or robots.txt): the bytes as sent, after decompression."""

    url: str  # as asked for
    final_url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case ("text/html")
    charset: str | None
    body: bytes


def system_resolve(host: str, port: int) -> list[str]:
    """Return the addresses the system resolver gives for host (every one is checked)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def origin(url: str) -> Origin | None:
    """Return (scheme, host, port) of an http(s) URL, default ports filled in; None otherwise."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        return scheme, parts.hostname.lower().rstrip("."), parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None


def refusal(address: str, allowed: Sequence[Network] = ()) -> str | None:
    """Return why an address may not be fetched ("loopback", "private", ...), or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in net for net in allowed):
        return None
    # Order matters: 127.0.0.1 and 169.254.x are "private" too; name the narrower reason.
    for test, label in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                        ("is_unspecified", "unspecified"), ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, test):
            return label
    return None if ip.is_global else "non-public"


# --------------------------------------------------------------------------- connections to a checked address


class _Pinned:
    """Connects to the address given at construction, whatever the host name resolves to now."""

    def __init__(self, *args, pinned: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._pinned = pinned

    def _new_conn(self) -> socket.socket:
        conn: HTTPConnection = self  # type: ignore[assignment]
        sock = urllib3.util.connection.create_connection(
            (self._pinned, conn.port), conn.timeout, source_address=conn.source_address,
            socket_options=conn.socket_options)
        return sock

    # getresponse() runs for new and reused connections alike: the hook that sees every hop's socket.
    def getresponse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        dog = getattr(_current, "dog", None)
        if dog is not None:
            dog.watch(self.sock)  # type: ignore[attr-defined]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _PinnedHTTP(_Pinned, HTTPConnection):
    pass


class _PinnedHTTPS(_Pinned, HTTPSConnection):
    pass


# --------------------------------------------------------------------------- the fetcher


class PageFetcher:
    """Fetches pages under the rules above; thread-safe, keeps a few keep-alive pools."""

    def __init__(self, *, user_agent: str, timeout: float, max_bytes: int, clock: Clock,
                 allow_networks: Sequence[Network] = (), max_redirects: int = 5,
                 resolve: Resolver = system_resolve, ssl_context: ssl.SSLContext | None = None) -> None:
        self.user_agent, self._timeout, self._max_bytes = user_agent, timeout, max_bytes
        self._clock, self._allowed, self._max_redirects = clock, tuple(allow_networks), max_redirects
        self._resolve, self._ssl_context = resolve, ssl_context  # None: the system's CA certificates
        self._pools: OrderedDict[tuple[str, str, int, str], HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()

    def __enter__(self) -> PageFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, *, feed_url: str | None = None, robots: bool = False) -> Page:
        """Return the page at url; raise PageError saying why not.

        feed_url: the feed that carried the link; its origin may be a private address.
        robots: fetching robots.txt: any content type, and a 4xx answer is returned (it means
        "no rules"), not raised.
        """
        home = origin(feed_url) if feed_url else None
        start = self._clock.monotonic()
        dog = _current.dog = Deadline(self._timeout)
        current = url
        try:
            for _hop in range(self._max_redirects + 1):
                self._check_deadline(start)
                resp = self._request(current, home, robots)
                try:
                    location = resp.headers.get("location")
                    if resp.status in _REDIRECTS and location:
                        current = urljoin(current, location.strip())
                        continue
                    return self._finish(resp, url, current, robots, start, dog)
                finally:
                    _discard(resp)
                    dog.forget()  # that connection is back in its pool: another exchange may use it
            raise PageError(f"too many redirects (>{self._max_redirects})", kind="redirects", outcome="failed")
        except PageError:
            raise
        except urllib3.exceptions.DecodeError as exc:
            raise PageError(f"body of {current} is not valid gzip/deflate data", kind="bad-body",
                            outcome="failed") from exc
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if dog.fired or is_timeout(exc):
                raise self._timed_out() from exc
            raise PageError(describe(exc, current), kind="connection") from exc
        finally:
            dog.cancel()
            _current.dog = None

    # ------------------------------------------------------------------ one hop

    def _request(self, url: str, home: Origin | None, robots: bool) -> urllib3.BaseHTTPResponse:
        where = origin(url)
        if where is None:
            shown = url if len(url) <= 200 else url[:200] + "…"
            raise PageError(f"refused {shown!r}: only http(s) URLs are fetched", kind="refused", outcome="skipped")
        scheme, host, port = where
        address = self._address(host, port, same_origin=where == home)
        pool = self._pool(scheme, host, port, address)
        parts = urlsplit(url)
        target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        headers = {"User-Agent": self.user_agent, "Accept": "text/plain, */*;q=0.1" if robots else HTML_ACCEPT,
                   "Accept-Encoding": "gzip, deflate"}
        return pool.urlopen("GET", target, headers=headers, redirect=False, retries=False, preload_content=False,
                            assert_same_host=False, release_conn=True,
                            timeout=urllib3.Timeout(connect=self._timeout, read=self._timeout))

    def _address(self, host: str, port: int, *, same_origin: bool) -> str:
        """Resolve host once and check every address; return the one to connect to."""
        try:
            addresses = list(self._resolve(host, port))
        except (OSError, UnicodeError) as exc:
            raise PageError(f"cannot resolve host {host}", kind="connection") from exc
        if not addresses:
            raise PageError(f"cannot resolve host {host}", kind="connection")
        if not same_origin:
            for address in addresses:
                why = refusal(address, self._allowed)
                if why is not None:
                    shown = host if host == address else f"{host} ({address})"
                    raise PageError(f"refused {shown}: {why} address (not the feed's own site; "
                                    "see allow_private_networks)", kind="refused", outcome="skipped")
        return addresses[0]

    def _pool(self, scheme: str, host: str, port: int, address: str) -> HTTPConnectionPool:
        key = (scheme, host, port, address)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            if scheme == "https":
                pool = HTTPSConnectionPool(host, port, maxsize=2, block=False, retries=False, pinned=address,
                                           ssl_context=self._ssl_context)
                pool.ConnectionCls = _PinnedHTTPS
            else:
                pool = HTTPConnectionPool(host, port, maxsize=2, block=False, retries=False, pinned=address)
                pool.ConnectionCls = _PinnedHTTP
            self._pools[key] = pool
            old = None
            if len(self._pools) > _POOLS:
                _, old = self._pools.popitem(last=False)
        if old is not None:
            old.close()
        return pool

    # ------------------------------------------------------------------ the answer

    def _finish(self, resp: urllib3.BaseHTTPResponse, url: str, final: str, robots: bool, start: float,
                dog: Deadline) -> Page:
        status, h = resp.status, resp.headers
        media, charset = _content_type(h.get("content-type", ""))
        if not 200 <= status < 300:
            if robots and 400 <= status < 500 and status != 429:
                return Page(url, final, status, media, charset, b"")  # RFC 9309: no usable rules, no limits
            message = f"HTTP {status} {_phrase(status, resp.reason)}".strip()
            if status in (429, 503) or status >= 500 or status == 408:
                retry_after = _retry_after(h.get("retry-after"), self._clock.now()) if status in (429, 503) else None
                if retry_after is not None:
                    message += f" (retry after {retry_after:g}s)"
                raise PageError(message, kind="http", retry_after=retry_after, status=status)
            raise PageError(message, kind="http", outcome="failed", status=status)
        if not robots and media and media not in HTML_TYPES:
            raise PageError(f"not an HTML page ({media})", kind="not-html", outcome="skipped", status=status)
        length = h.get("content-length", "").strip()
        identity = h.get("content-encoding", "identity").lower() == "identity"
        if identity and length.isdigit() and int(length) > self._max_bytes:
            raise self._too_large()  # refuse before reading a byte of it
        body = self._read_body(resp, start, dog)
        if not robots and not media and not _looks_like_html(body):
            raise PageError("not an HTML page (no content type, no HTML markup)", kind="not-html", outcome="skipped")
        return Page(url, final, status, media, charset, body)

    def _read_body(self, resp: urllib3.BaseHTTPResponse, start: float, dog: Deadline) -> bytes:
        return read_capped(lambda n: resp.read1(n, decode_content=True),  # type: ignore[call-arg]
                           self._max_bytes, dog, check_deadline=lambda: self._check_deadline(start),
                           too_large=self._too_large, timed_out=self._timed_out)

    def _check_deadline(self, start: float) -> None:
        if self._clock.monotonic() - start > self._timeout:
            raise self._timed_out()

    def _timed_out(self) -> PageError:
        return PageError(f"timeout after {self._timeout:g}s", kind="timeout")

    def _too_large(self) -> PageError:
        return PageError(f"page larger than {_size(self._max_bytes)}", kind="too-large", outcome="failed")


def _content_type(value: str) -> tuple[str, str | None]:
    media, _, rest = value.partition(";")
    charset = None
    for param in rest.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'")
    return media.strip().lower(), charset


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<!--", b"<title"))


def _discard(resp: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back for keep-alive when its body was read to the end; else close it.

    A body read to its end has already gone back to the pool; a short redirect or error body is
    read out; an abandoned page (too large, too slow) closes its connection before release.
    """
    with contextlib.suppress(Exception):  # the outcome is decided; this is only tidying up
        if not 200 <= resp.status < 300 and not resp.closed:
            resp.read(_CHUNK, decode_content=False)
    with contextlib.suppress(Exception):
        resp.close()
    with contextlib.suppress(Exception):
        resp.release_conn()
