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

The HTTP is the project's one client (monitor/httpclient.py: its redirect loop, with the check
above as the per-hop check; its status, size and Retry-After handling; the proxies and CA bundle
from the environment). Through a proxy from the environment the name is still resolved and checked
here, but the proxy connects, so the pin (and the rebinding guard) cannot apply there.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.clock import Clock
from monitor.deadline import Deadline
from monitor.errors import NetworkError, PageError
from monitor.httpclient import HttpClient, Response, phrase, size_text
from monitor.retry_after import retry_after

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
_POOLS = 64  # pools kept open (one per host and checked address), least recently used closed first

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


# --------------------------------------------------------------------------- the fetcher


class PageFetcher:
    """Fetches pages under the rules above; thread-safe, keeps a few keep-alive pools."""

    def __init__(self, *, user_agent: str, timeout: float, max_bytes: int, clock: Clock,
                 allow_networks: Sequence[Network] = (), max_redirects: int = 5,
                 resolve: Resolver = system_resolve, ssl_context: ssl.SSLContext | None = None) -> None:
        self.user_agent, self._timeout, self._max_bytes = user_agent, timeout, max_bytes
        self._clock, self._allowed, self._max_redirects = clock, tuple(allow_networks), max_redirects
        self._resolve = resolve
        # Two connections per (host, checked address): the page worker asks a host one page at a time.
        self._client = HttpClient(user_agent=user_agent, timeout=timeout, maxsize=2, num_pools=_POOLS,
                                  ssl_context=ssl_context)

    def close(self) -> None:
        self._client.close()

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
        deadline = Deadline(self._timeout)
        headers = {"Accept": "text/plain, */*;q=0.1" if robots else HTML_ACCEPT, "Accept-Encoding": "gzip, deflate"}
        try:
            exchange = self._client.get(url, headers=headers, deadline=deadline, max_redirects=self._max_redirects,
                                        check=lambda hop: self._check(hop, home),
                                        before_hop=lambda: self._check_deadline(start))
            resp = exchange.response
            try:
                return self._finish(resp, url, exchange.final, robots, start, deadline)
            finally:
                resp.release(drain=0 if 200 <= resp.status < 300 else 64 * 1024)
        except NetworkError as exc:
            if exc.kind == "timeout" or deadline.fired:
                raise self._timed_out() from exc
            if exc.kind == "refused":
                raise PageError(f"refused: {exc}", kind="refused", outcome="skipped") from exc
            if exc.kind == "redirects":
                raise PageError(str(exc), kind="redirects", outcome="failed") from exc
            if exc.kind == "bad-body":
                raise PageError(str(exc), kind="bad-body", outcome="failed") from exc
            raise PageError(str(exc), kind="connection") from exc
        finally:
            deadline.cancel()

    # ------------------------------------------------------------------ one hop

    def _check(self, url: str, home: Origin | None) -> str:
        """The client's per-hop check: refuse what may not be fetched; return the address to connect to."""
        where = origin(url)
        if where is None:
            shown = url if len(url) <= 200 else url[:200] + "…"
            raise PageError(f"refused {shown!r}: only http(s) URLs are fetched", kind="refused", outcome="skipped")
        _scheme, host, port = where
        return self._address(host, port, same_origin=where == home)

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

    # ------------------------------------------------------------------ the answer

    def _finish(self, resp: Response, url: str, final: str, robots: bool, start: float, deadline: Deadline) -> Page:
        status, h = resp.status, resp.headers
        media, charset = _content_type(h.get("content-type", ""))
        if not 200 <= status < 300:
            if robots and 400 <= status < 500 and status != 429:
                return Page(url, final, status, media, charset, b"")  # RFC 9309: no usable rules, no limits
            message = f"HTTP {status} {phrase(status, resp.reason)}".strip()
            if status in (429, 503) or status >= 500 or status == 408:
                wait = retry_after(h.get("retry-after"), self._clock.now()) if status in (429, 503) else None
                if wait is not None:
                    message += f" (retry after {wait:g}s)"
                raise PageError(message, kind="http", retry_after=wait, status=status)
            raise PageError(message, kind="http", outcome="failed", status=status)
        if not robots and media and media not in HTML_TYPES:
            raise PageError(f"not an HTML page ({media})", kind="not-html", outcome="skipped", status=status)
        body = resp.read_capped(self._max_bytes, deadline, check_deadline=lambda: self._check_deadline(start),
                                too_large=self._too_large, timed_out=self._timed_out)
        if not robots and not media and not _looks_like_html(body):
            raise PageError("not an HTML page (no content type, no HTML markup)", kind="not-html", outcome="skipped")
        return Page(url, final, status, media, charset, body)

    def _check_deadline(self, start: float) -> None:
        if self._clock.monotonic() - start > self._timeout:
            raise self._timed_out()

    def _timed_out(self) -> PageError:
        return PageError(f"timeout after {self._timeout:g}s", kind="timeout")

    def _too_large(self) -> PageError:
        return PageError(f"page larger than {size_text(self._max_bytes)}", kind="too-large", outcome="failed")


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
