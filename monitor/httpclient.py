"""The project's one HTTP client (feeds, release pages, robots.txt, webhooks), on requests.

    client = HttpClient(user_agent="press-monitor/0.1", timeout=15.0, maxsize=16)
    exchange = client.get(url, headers={...}, deadline=d, check=hop_check)   # redirects followed here
    resp = exchange.response                      # status, reason, headers; exchange.final / .permanent
    body = resp.read_capped(max_bytes, ...)       # or read(n) / read1(n)
    resp.release(); client.close()

One `requests.Session` per client, our `httpadapter.WatchedAdapter` mounted for http:// and https://
(every socket shown to the exchange's Deadline, pool sizes per host, pinned addresses for pages).
Built once, from the environment: proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY with
CIDR ranges, proxy credentials in the URL) and the CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
else certifi) are read when the client is built, then `trust_env` is off: no per-request
environment or .netrc lookups. A route (direct or which proxy) is decided once per origin.

A request goes through the session's mounted adapter (`Session.get_adapter(url).send`) rather than
`Session.send`: with redirects off, Session.send still reads a 3xx body to its end, uncapped,
to prepare the next hop, fills a cookie jar, and dispatches hooks; the redirect loop here reads at
most one chunk of a redirect body, checks every hop (`check`), and keeps no cookies.

Also here, for every caller: the status phrase and the capped body read (Retry-After has its own
small module, monitor/retry_after.py, which the scheduler and the outbox read without loading
requests). Failures below HTTP raise NetworkError (monitor/errors.py) with a one-line message naming the host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import certifi
import requests
from requests.structures import CaseInsensitiveDict

from monitor.errors import NetworkError
from monitor.httpadapter import ACCEPT_ENCODING, WatchedAdapter, Watcher, failure, host_of

CHUNK = 64 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
_ROUTES_MAX = 4096  # remembered origin -> direct/proxy decisions before starting over

__all__ = ["CHUNK", "REDIRECTS", "Exchange", "HttpClient", "Response", "ca_bundle", "host_of", "phrase",
           "read_capped", "size_text"]


def ca_bundle(environ: Mapping[str, str] | None = None) -> str:
    """Return the CA file (or directory) TLS is verified against: what requests uses."""
    env = os.environ if environ is None else environ
    return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or certifi.where()


@dataclass(frozen=True)
class Exchange:
    """The last answer of a redirect chain: the response (body unread), its URL, and the target of
    a permanent (301/308) first hop, if any."""

    response: Response
    final: str
    permanent: str | None = None


class HttpClient:
    """Sends requests over one Session's kept-alive pools; thread-safe. One per fetcher / channel.

    maxsize: connections kept per host (a webhook channel sends one at a time: 1; the feed
    fetcher's workers poll side by side: 16); num_pools: hosts kept, least recently used dropped.
    ssl_context: trust this instead of the CA bundle (tests with their own CA).
    """

    def __init__(self, *, user_agent: str, timeout: float, maxsize: int = 1, num_pools: int = 10,
                 ssl_context: Any = None) -> None:
        self.timeout = timeout  # connect and read, per packet; the deadline bounds the sum
        self._headers = {"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        session = self._session = requests.Session()
        session.trust_env = False  # read below, once: no per-request environment lookups
        session.verify = ca_bundle()
        self._adapter = WatchedAdapter(maxsize=maxsize, num_pools=num_pools, ssl_context=ssl_context)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        env = getproxies()
        self._no_proxy = [e.strip().lower() for e in (env.get("no") or "").split(",") if e.strip()]
        self._proxies = {k: v if "://" in v else f"http://{v}" for k, v in env.items() if k != "no" and v}
        self._routes: dict[tuple[str, str], dict[str, str]] = {}

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one request

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, deadline: Watcher | None = None, pin: str | None = None) -> Response:
        """Send one request (no redirect followed, no retry); return the response, its body unread.

        headers override the client's User-Agent / Accept-Encoding (names compared case-blind).
        pin: connect to this (checked) address instead of resolving the host name again.
        Raises NetworkError; `deadline` (if any) watches every socket until the body is released.
        """
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
        except ValueError:
            raise NetworkError(f"invalid URL {url!r}") from None
        if scheme not in ("http", "https") or not parts.netloc:
            raise NetworkError(f"invalid URL {url!r}: only http:// and https:// are fetched")
        proxies = self._route(scheme, parts.netloc)
        sent = CaseInsensitiveDict(self._headers)
        if headers:
            sent.update(headers)
        prepared = requests.PreparedRequest()
        try:
            prepared.prepare_method(method)
            prepared.prepare_url(url, None)
        except (requests.RequestException, ValueError, UnicodeError):
            raise NetworkError(f"invalid URL {url!r}") from None
        try:
            prepared.prepare_headers(sent)
            prepared.prepare_body(body, None)
        except (requests.RequestException, ValueError) as exc:
            raise NetworkError(f"invalid request to {host_of(url)}: {exc}") from None
        proxy = next(iter(proxies.values()), None)
        try:
            raw = self._adapter.send(prepared, stream=True, timeout=self.timeout, verify=self._session.verify,
                                     proxies=proxies, deadline=deadline, pin=pin)
        except (requests.RequestException, OSError, ValueError) as exc:
            raise failure(exc, url, deadline, proxy) from exc
        return Response(raw, url, deadline, proxy)

    def get(self, url: str, *, headers: Mapping[str, str] | None = None, deadline: Watcher,
            max_redirects: int = 5, check: Callable[[str], str | None] | None = None,
            before_hop: Callable[[], None] | None = None) -> Exchange:
        """GET url, following redirects here (at most max_redirects): return the last answer.

        check(url) runs before every hop (the first included): it raises to refuse the hop, and may
        return the address to connect to (a page's checked address). A hop to anything but http(s)
        is refused. before_hop() runs before each request (the caller's deadline check).
        Raises NetworkError (kind "redirects" past the limit).
        """
        current, permanent = url, None
        for hop in range(max_redirects + 1):
            if before_hop is not None:
                before_hop()
            pin = check(current) if check is not None else None
            resp = self.request("GET", current, headers=headers, deadline=deadline, pin=pin)
            location = resp.headers.get("location")
            if resp.status not in REDIRECTS or not location:
                return Exchange(resp, current, permanent)
            resp.release()  # reads at most one chunk of the redirect's body: the connection stays alive
            try:
                target = urljoin(current, location.strip())
                target_scheme = urlsplit(target).scheme.lower()
            except ValueError:  # a Location urljoin cannot read (a bad IPv6 literal, ...)
                raise NetworkError(f"invalid URL {location.strip()[:200]!r} (redirect from {current})") from None
            if target_scheme not in ("http", "https"):
                raise NetworkError(f"{current} redirects to unsupported URL {target[:200]!r}", kind="refused")
            if hop == 0 and resp.status in (301, 308):
                permanent = target
            current = target
        raise NetworkError(f"too many redirects (>{max_redirects})", kind="redirects")

    # ------------------------------------------------------------------ proxies

    def _route(self, scheme: str, netloc: str) -> dict[str, str]:
        """Return the proxies argument for this origin ({} to connect directly): decided once."""
        key = (scheme, netloc)
        route = self._routes.get(key)
        if route is None:
            proxy = self._proxies.get(scheme) or self._proxies.get("all")
            if proxy and self._bypass(netloc):
                proxy = None
            route = {scheme: proxy} if proxy else {}
            if len(self._routes) >= _ROUTES_MAX:
                self._routes.clear()
            self._routes[key] = route
        return route

    def _bypass(self, netloc: str) -> bool:
        """NO_PROXY as read when the client was built (requests would read the environment again):
        "*", a name and its subdomains (".example.com" or "example.com"), host:port, an IP address
        or a CIDR range."""
        try:
            parts = urlsplit(f"//{netloc}")
            host, port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        for entry in self._no_proxy:
            if entry == "*":
                return True
            if address is not None and "/" in entry:
                with contextlib.suppress(ValueError):
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                continue
            name, entry_port = entry, ""
            if entry.count(":") == 1 or entry.startswith("[") and "]:" in entry:  # host:port, [v6]:port
                name, _, entry_port = entry.rpartition(":")
            name = name.strip("[]").lstrip("*").lstrip(".")
            if entry_port and entry_port != str(port or ""):
                continue
            if host == name or host.endswith("." + name):
                return True
        return False


# --------------------------------------------------------------------------- the response


class Response:
    """One answer: status, reason, headers (case-blind lookups); the body is read by the caller."""

    __slots__ = ("_deadline", "_decoded", "_proxy", "_raw", "headers", "reason", "status", "url")

    def __init__(self, resp: requests.Response, url: str, deadline: Watcher | None, proxy: str | None) -> None:
        self._raw, self.url, self._deadline, self._proxy = resp.raw, url, deadline, proxy
        self.status: int = resp.status_code
        self.reason: str | None = resp.reason
        self.headers: Mapping[str, str] = resp.headers
        self._decoded = False

    def read1(self, n: int = CHUNK) -> bytes:
        """Return what one recv() brought, decoded (at most n bytes); b"" at the end of the body."""
        self._decoded = True
        try:
            return self._raw.read1(n, decode_content=True)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - urllib3's and the socket's errors, worded in one place
            raise failure(exc, self.url, self._deadline, self._proxy) from exc

    def read(self, n: int) -> bytes:
        """Return up to n decoded bytes of the body (fewer only at its end)."""
        self._decoded = True
        try:
            return self._raw.read(n, decode_content=True)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - as read1
            raise failure(exc, self.url, self._deadline, self._proxy) from exc

    def read_capped(self, max_bytes: int, deadline: Watcher, *, check_deadline: Callable[[], None],
                    too_large: Callable[[], Exception], timed_out: Callable[[], Exception]) -> bytes:
        """Return the whole body, raising too_large() past max_bytes (decoded): see read_capped().

        A body declared (Content-Length, no encoding) larger than max_bytes is refused unread.
        """
        length = self.headers.get("content-length", "").strip()
        identity = self.headers.get("content-encoding", "identity").lower() == "identity"
        if identity and length.isdigit() and int(length) > max_bytes:
            raise too_large()
        self._decoded = True
        return read_capped(self.read1, max_bytes, deadline, check_deadline=check_deadline, too_large=too_large,
                           timed_out=timed_out)

    def release(self, drain: int = CHUNK) -> None:
        """Give the connection back to the pool for keep-alive, or close it.

        A body read to its end is already back in the pool. Otherwise up to `drain` more bytes are
        read (undecoded: a short redirect or error body) when nothing was read of it yet, and the
        connection is closed if the body still has not ended (an abandoned body: too large, too slow).
        """
        raw = self._raw
        try:
            if drain and not self._decoded and not raw.closed:
                raw.read(drain, decode_content=False)
        except Exception:  # noqa: BLE001 - the outcome is decided; this is only tidying up
            pass
        try:
            raw.close()  # closes the connection only if the body did not end
        except Exception:  # noqa: BLE001 - as above
            pass
        finally:
            raw.release_conn()
            if self._deadline is not None:
                self._deadline.forget()  # the connection may serve another thread's exchange next


def read_capped(read1: Callable[[int], bytes], max_bytes: int, deadline: Watcher, *,
                check_deadline: Callable[[], None], too_large: Callable[[], Exception],
                timed_out: Callable[[], Exception]) -> bytes:
    """Return a body read piece by piece, raising too_large() past max_bytes (decoded), timed_out()
    if the deadline cut it.

    read1 returns whatever one recv() brought (decoded, at most CHUNK bytes: urllib3 >= 2.6.3
    inflates incrementally), so a gzip bomb never expands past the cap and the deadline is checked
    between small reads instead of after a 64 KB read that a drip could stretch.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        check_deadline()
        chunk = read1(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise too_large()
        chunks.append(chunk)
    deadline.cancel()
    if deadline.fired:  # the deadline's shutdown looks like EOF on a body without a length
        raise timed_out()
    return b"".join(chunks)


# --------------------------------------------------------------------------- status wording


def phrase(status: int, reason: str | None) -> str:
    """Return "HTTP 404 Not Found" style wording's phrase: the standard one, else the server's (short)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a non-standard code: the server's own reason, kept short
        return (reason or "")[:60]


def size_text(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    return f"{n / 1000:g} KB" if n >= 1000 else f"{n} bytes"

