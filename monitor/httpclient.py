"""The project's one HTTP client (feeds and webhooks): urllib3 pools, kept alive per host.

    client = HttpClient(user_agent="press-monitor/0.1", timeout=15.0)
    resp = client.request("GET", url, headers={"If-None-Match": etag}, deadline=deadline)
    try:
        resp.status, resp.headers.get("etag"), resp.read_capped(...) / resp.read1(n) / resp.read(n)
    finally:
        resp.release()          # back to the pool if the body was read out, else the socket is closed
    client.close()

What it keeps of what `requests` gave us: a kept-alive pool per (scheme, host, port); connect and
read timeouts; gzip/deflate (br/zstd when brotli/zstandard happen to be installed) decoding;
proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY incl. CIDR ranges, read
when the client is built); TLS verified against certifi's CA bundle, or REQUESTS_CA_BUNDLE /
CURL_CA_BUNDLE when set; a User-Agent. What it leaves to the caller: redirects (never followed
here: fetch records them, a webhook refuses them), retries (none) and the overall deadline (the
caller's Deadline is told every socket the exchange uses, so it can cut a dribbling server).
Failures below HTTP raise NetworkError (monitor/errors.py) with a one-line message naming the host.

Why not requests: it costs ~1 ms of CPU per request on top of urllib3 (issue 14: a warm poll is
200 conditional GETs, a webhook backlog 10,000 POSTs), for session features we do not use.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from monitor.errors import NetworkError

CHUNK = 64 * 1024
# "gzip,deflate" plus br / zstd when their decoder packages are installed (urllib3 decodes them).
ACCEPT_ENCODING = urllib3.util.make_headers(accept_encoding=True)["accept-encoding"]
_ROUTES_MAX = 4096  # remembered (scheme, host) -> direct/proxy decisions before starting over
_current = threading.local()  # the deadline of the exchange running in this thread


class Watcher(Protocol):
    """The caller's overall deadline (monitor.deadline.Deadline): it is shown every socket."""

    fired: bool

    def watch(self, sock: socket.socket | None) -> None: ...

    def forget(self) -> None: ...

    def cancel(self) -> None: ...


# --------------------------------------------------------------------------- connections


class _Watched:
    # _new_conn() sees a new connection's socket before TLS and the request are sent; getresponse()
    # the socket of a new or reused pooled connection before the (possibly dribbled) status line.
    # Through a proxy these are the proxy's sockets, which the deadline cuts just as well.
    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        _watch(sock)
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(getattr(self, "sock", None))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


def _watch(sock: socket.socket | None) -> None:
    deadline: Watcher | None = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = type("_WatchedHTTPConnection", (_Watched, HTTPConnection), {})


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("_WatchedHTTPSConnection", (_Watched, HTTPSConnection), {})


_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


def ca_bundle(environ: Mapping[str, str] | None = None) -> str:
    """Return the CA file (or directory) TLS is verified against: what requests used."""
    env = os.environ if environ is None else environ
    return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or certifi.where()


# --------------------------------------------------------------------------- the client


class HttpClient:
    """Sends requests over kept-alive pools; thread-safe. One per fetcher / webhook channel.

    maxsize: connections kept per host (a webhook channel sends one at a time: 1; the feed
    fetcher's workers poll side by side: 16); num_pools: hosts kept, least recently used dropped.
    """

    def __init__(self, *, user_agent: str, timeout: float, maxsize: int = 1, num_pools: int = 10) -> None:
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)  # per packet; the deadline bounds the sum
        self._headers = {"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        bundle = ca_bundle()
        tls: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
        tls["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
        self._pool_kw: dict[str, Any] = {"num_pools": num_pools, "maxsize": maxsize, "block": False,
                                         "retries": False, **tls}
        self._direct = self._manager(urllib3.PoolManager(**self._pool_kw))
        self._proxies = {k: v for k, v in getproxies().items() if k != "no" and v}
        self._no_proxy = [n.strip() for n in (getproxies().get("no") or "").split(",") if n.strip()]
        self._by_proxy: dict[str, urllib3.PoolManager] = {}
        self._routes: dict[tuple[str, str], tuple[urllib3.PoolManager, str | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _manager(manager: urllib3.PoolManager) -> urllib3.PoolManager:
        manager.pool_classes_by_scheme = _POOL_CLASSES  # type: ignore[assignment]
        return manager

    def close(self) -> None:
        with self._lock:
            managers = [self._direct, *self._by_proxy.values()]
        for manager in managers:
            manager.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, deadline: Watcher | None = None) -> Response:
        """Send one request (no redirect followed, no retry); return the response, its body unread.

        headers override the client's User-Agent / Accept-Encoding (names compared case-blind).
        Raises NetworkError; `deadline` (if any) watches every socket until the body is released.
        """
        try:
            parts = urlsplit(url)
            scheme, netloc = parts.scheme.lower(), parts.netloc
        except ValueError:
            raise NetworkError(f"invalid URL {url!r}") from None
        if scheme not in ("http", "https") or not netloc:
            raise NetworkError(f"invalid URL {url!r}: only http:// and https:// are fetched")
        manager, proxy = self._route(scheme, netloc)
        sent = self._headers if not headers else _merge(self._headers, headers)
        _current.deadline = deadline
        try:
            raw = manager.urlopen(method, url, body=body, headers=sent, redirect=False, retries=False,
                                  preload_content=False, timeout=self._timeout)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise failure(exc, url, deadline, proxy) from exc
        finally:
            _current.deadline = None
        return Response(raw, url, deadline, proxy)

    # ------------------------------------------------------------------ proxies

    def _route(self, scheme: str, netloc: str) -> tuple[urllib3.PoolManager, str | None]:
        """Return the manager for this origin (direct or through its proxy) and the proxy's URL."""
        key = (scheme, netloc)
        route = self._routes.get(key)
        if route is None:
            proxy = self._proxy_for(scheme, netloc)
            route = (self._direct, None) if proxy is None else (self._proxy_manager(proxy), proxy)
            if len(self._routes) >= _ROUTES_MAX:
                self._routes.clear()
            self._routes[key] = route
        return route

    def _proxy_for(self, scheme: str, netloc: str) -> str | None:
        """Return the proxy URL for an origin (as requests chose it), or None to connect directly."""
        proxy = self._proxies.get(scheme) or self._proxies.get("all")
        if not proxy:
            return None
        host = netloc.rpartition("@")[2]
        if self._bypass(host):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def _bypass(self, host: str) -> bool:
        try:
            if proxy_bypass(host):  # NO_PROXY names, suffixes, "*", host:port (and the OS's own list)
                return True
        except (OSError, ValueError):
            pass
        # requests also honours CIDR ranges in NO_PROXY ("10.0.0.0/8"), which urllib does not.
        name = urlsplit(f"//{host}").hostname or ""
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        for entry in self._no_proxy:
            if "/" in entry:
                try:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def _proxy_manager(self, proxy: str) -> urllib3.PoolManager:
        with self._lock:
            manager = self._by_proxy.get(proxy)
            if manager is not None:
                return manager
            try:
                parts = urllib3.util.parse_url(proxy)
            except ValueError:
                raise NetworkError(f"invalid proxy URL {_hide_auth(proxy)!r} in the environment") from None
            if parts.scheme not in ("http", "https"):
                raise NetworkError(f"proxy {_hide_auth(proxy)} (from the environment): only http:// and "
                                   "https:// proxies are supported")
            auth: dict[str, str] = {}
            if parts.auth:  # user:password@ in the proxy URL, as requests sent it
                user, _, password = parts.auth.partition(":")
                auth = urllib3.util.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
            manager = self._manager(urllib3.ProxyManager(proxy, proxy_headers=auth, **self._pool_kw))
            self._by_proxy[proxy] = manager
            return manager


def _merge(defaults: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
    given = {name.lower() for name in headers}
    return {**{k: v for k, v in defaults.items() if k.lower() not in given}, **headers}


def _hide_auth(url: str) -> str:
    scheme, sep, rest = url.rpartition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


# --------------------------------------------------------------------------- the response


class Response:
    """One answer: status, reason, headers (case-blind lookups); the body is read by the caller."""

    __slots__ = ("_deadline", "_decoded", "_proxy", "_raw", "headers", "reason", "status", "url")

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str, deadline: Watcher | None,
                 proxy: str | None) -> None:
        self._raw, self.url, self._deadline, self._proxy = raw, url, deadline, proxy
        self.status: int = raw.status
        self.reason: str | None = raw.reason
        self.headers: Mapping[str, str] = raw.headers
        self._decoded = False

    def read1(self, n: int = CHUNK) -> bytes:
        """Return what one recv() brought, decoded (at most n bytes); b"" at the end of the body."""
        self._decoded = True
        try:
            return self._raw.read1(n, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise failure(exc, self.url, self._deadline, self._proxy) from exc

    def read(self, n: int) -> bytes:
        """Return up to n decoded bytes of the body (fewer only at its end)."""
        self._decoded = True
        try:
            return self._raw.read(n, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise failure(exc, self.url, self._deadline, self._proxy) from exc

    def read_capped(self, max_bytes: int, deadline: Watcher, *, check_deadline: Callable[[], None],
                    too_large: Callable[[], Exception], timed_out: Callable[[], Exception]) -> bytes:
        """Return the whole body, raising too_large() past max_bytes (decoded); see read_capped()."""
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
    between small reads instead of after a 64 KB read that a drip could stretch. Shared by the feed
    fetcher and the page fetcher (monitor/pages/net.py).
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


# --------------------------------------------------------------------------- failures


def failure(exc: BaseException, url: str, deadline: Watcher | None = None, proxy: str | None = None) -> NetworkError:
    """Return the NetworkError for an exception raised under urllib3 (or a socket)."""
    if (deadline is not None and deadline.fired) or is_timeout(exc):
        return NetworkError(f"timeout talking to {_host(url)}", kind="timeout")
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return NetworkError(f"the body from {_host(url)} is not valid gzip/deflate data", kind="bad-body")
    message = describe(exc, url)
    if proxy is not None and _in_chain(exc, urllib3.exceptions.ProxyError):
        message = f"through proxy {_host(proxy)}: {message}"
    return NetworkError(message)


def is_timeout(exc: BaseException) -> bool:
    """Whether a connect/read timeout is what broke the exchange (not a refused connection, which
    urllib3 files under ConnectTimeoutError too)."""
    for e in _chain(exc):
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            continue
        if isinstance(e, TimeoutError | urllib3.exceptions.TimeoutError):
            return True
    return False


def describe(exc: BaseException, url: str) -> str:
    """Return one short line for a connection failure (urllib3's reprs run to hundreds of chars)."""
    host = _host(url)
    if isinstance(exc, ValueError) and not isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return f"invalid URL {url!r}"
    if isinstance(exc, urllib3.exceptions.LocationValueError):
        return f"invalid URL {url!r}"
    root = _root_cause(exc)
    if isinstance(root, socket.gaierror) or _in_chain(exc, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve host {urlsplit(url).hostname}"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"TLS certificate of {host} rejected: {root.verify_message}"
    if isinstance(root, ssl.SSLError) or _in_chain(exc, urllib3.exceptions.SSLError):
        return f"TLS error with {host}: {getattr(root, 'reason', None) or 'handshake failed'}"
    if isinstance(root, ConnectionRefusedError):
        return f"connection refused by {host}"
    if isinstance(root, ConnectionResetError | urllib3.exceptions.ProtocolError):
        return f"{host} closed the connection before a complete response"
    if isinstance(root, OSError) and root.strerror:
        return f"cannot connect to {host}: {root.strerror}"
    return f"cannot connect to {host} ({type(root or exc).__name__})"


def _host(url: str) -> str:
    # The origin's host[:port] only: a path may carry a token, userinfo a password.
    netloc = urlsplit(url).netloc if "://" in url else url
    return netloc.rpartition("@")[2] or url


def _chain(exc: BaseException) -> list[BaseException]:
    """Return exc and every exception under it (causes, contexts, urllib3's reasons, args), outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(x for x in nested if isinstance(x, BaseException))
    return seen


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _root_cause(exc: BaseException) -> BaseException | None:
    """Return the innermost standard-library error under urllib3's wrappers."""
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, OSError) and type(e).__module__.split(".")[0] != "urllib3":
            return e
    return next((e for e in chain if isinstance(e, urllib3.exceptions.ProtocolError)), None)
