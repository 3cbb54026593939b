"""Our requests transport adapter: what urllib3 does under monitor/httpclient.py (the only urllib3 user).

    WatchedAdapter(maxsize=16, num_pools=16)   every socket is shown to the exchange's Deadline
      .send(prepared, ..., deadline=d, pin="93.184.216.34")   connect to that checked address

- Deadline: the caller's `deadline.Deadline` is told each socket the exchange uses (a new
  connection before TLS and the request; a reused one before the status line), so a server that
  drips bytes is cut at the deadline, not only after a read timeout per packet. Through a proxy
  these are the proxy's sockets, which the deadline cuts just as well.
- Pinning (release pages): with `pin`, the connection goes to that address, which the caller
  resolved and checked; the Host header, TLS SNI and the certificate check keep the host name, so
  a DNS answer that changes between check and connect (rebinding) cannot steer the request. One
  pool per (scheme, host, port, address), the least recently used closed past `num_pools`.
- Pool sizes per host (`maxsize`), no retries, no redirects (the caller's loop checks every hop).

Also here: the one-line wording of failures raised under urllib3 (`failure`), so nothing else
needs urllib3's exception classes.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections import OrderedDict
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from monitor.errors import NetworkError

# "gzip,deflate" plus br / zstd when their decoder packages are installed (urllib3 decodes them).
ACCEPT_ENCODING = urllib3.util.make_headers(accept_encoding=True)["accept-encoding"]
_current = threading.local()  # the deadline of the exchange running in this thread
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class Watcher(Protocol):
    """The caller's overall deadline (monitor.deadline.Deadline): it is shown every socket."""

    fired: bool

    def watch(self, sock: socket.socket | None) -> None: ...

    def forget(self) -> None: ...

    def cancel(self) -> None: ...


def _quick_ack(sock: socket.socket | None) -> None:
    # The request is sent; acknowledge the answer's first segment at once instead of after the
    # delayed-ACK timer (40 ms on Linux). A server that writes the status line and headers, then
    # the body, in two sends without TCP_NODELAY (Python's http.server, many small frameworks) has
    # Nagle hold the body until that ACK: every 200 on a kept-alive connection waited 40 ms, which
    # with 2 requests per host at a time made a "new releases" poll of 61 changed feeds ~1.2 s
    # longer (issue 20). One setsockopt per request; the kernel leaves quick-ack mode by itself.
    if _QUICKACK is not None and sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


def _watch(sock: socket.socket | None) -> None:
    deadline: Watcher | None = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


# --------------------------------------------------------------------------- connections


class _Watched:
    # _new_conn() sees a new connection's socket before TLS and the request are sent; getresponse()
    # the socket of a new or reused pooled connection before the (possibly dribbled) status line.
    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        _watch(sock)
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        sock = getattr(self, "sock", None)
        _watch(sock)
        _quick_ack(sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _Pinned(_Watched):
    """Connects to the address given at construction, whatever the host name resolves to now."""

    def __init__(self, *args: Any, pinned: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pinned = pinned

    def _new_conn(self) -> socket.socket:
        conn: HTTPConnection = self  # type: ignore[assignment]
        sock = urllib3.util.connection.create_connection(
            (self._pinned, conn.port), conn.timeout, source_address=conn.source_address,
            socket_options=conn.socket_options)
        _watch(sock)
        return sock


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = type("_WatchedHTTPConnection", (_Watched, HTTPConnection), {})


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("_WatchedHTTPSConnection", (_Watched, HTTPSConnection), {})


_PINNED = {"http": type("_PinnedHTTPConnection", (_Pinned, HTTPConnection), {}),
           "https": type("_PinnedHTTPSConnection", (_Pinned, HTTPSConnection), {})}
_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


# --------------------------------------------------------------------------- the adapter


class WatchedAdapter(HTTPAdapter):
    """requests' HTTPAdapter with watched sockets, optional pinned addresses, no retries.

    maxsize: connections kept per host; num_pools: hosts (or pinned addresses) kept, least
    recently used dropped. ssl_context: trust this context instead of the `verify` bundle
    (tests with their own CA; None in production).
    """

    def __init__(self, *, maxsize: int, num_pools: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._pinned: OrderedDict[tuple[str, str, int, str], HTTPConnectionPool] = OrderedDict()
        self._pin_lock = threading.Lock()
        super().__init__(pool_connections=num_pools, pool_maxsize=maxsize, max_retries=0, pool_block=False)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES  # type: ignore[assignment]

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if proxy not in self.proxy_manager and not proxy.lower().startswith(("http://", "https://")):
            # requests would need PySocks for socks5://; say so instead of a confusing ImportError.
            raise NetworkError(f"proxy {_hide_auth(proxy)} (from the environment): only http:// and https:// "
                               "proxies are supported")
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if self._ssl_context is not None and host["scheme"] == "https":
            pool_kwargs = {"ssl_context": self._ssl_context}
        return host, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self._ssl_context is None:
            super().cert_verify(conn, url, verify, cert)

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None,
                                        cert: Any = None) -> HTTPConnectionPool:
        pin: str | None = getattr(_current, "pin", None)
        if pin is None or proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        host, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        return self._pinned_pool(host["scheme"], host["host"], host["port"], pin, pool_kwargs)

    def _pinned_pool(self, scheme: str, host: str, port: int, address: str,
                     pool_kwargs: dict[str, Any]) -> HTTPConnectionPool:
        key = (scheme, host, port, address)
        with self._pin_lock:
            pool = self._pinned.get(key)
            if pool is not None:
                self._pinned.move_to_end(key)
                return pool
            cls = HTTPSConnectionPool if scheme == "https" else HTTPConnectionPool
            pool = cls(host, port, maxsize=self._pool_maxsize, block=False, retries=False, pinned=address,
                       **(pool_kwargs if scheme == "https" else {}))
            pool.ConnectionCls = _PINNED[scheme]
            self._pinned[key] = pool
            old = self._pinned.popitem(last=False)[1] if len(self._pinned) > self._pool_connections else None
        if old is not None:
            old.close()
        return pool

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,  # type: ignore[override]
             cert: Any = None, proxies: Any = None, *, deadline: Watcher | None = None,
             pin: str | None = None) -> Any:
        _current.deadline, _current.pin = deadline, pin
        try:
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        finally:
            _current.deadline = _current.pin = None

    def close(self) -> None:
        super().close()
        with self._pin_lock:
            pools, self._pinned = list(self._pinned.values()), OrderedDict()
        for pool in pools:
            pool.close()


def _hide_auth(url: str) -> str:
    scheme, sep, rest = url.rpartition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


# --------------------------------------------------------------------------- failures


def failure(exc: BaseException, url: str, deadline: Watcher | None = None, proxy: str | None = None) -> NetworkError:
    """Return the NetworkError for an exception raised by requests or urllib3 (or a socket)."""
    if isinstance(exc, NetworkError):
        return exc
    if (deadline is not None and deadline.fired) or is_timeout(exc):
        return NetworkError(f"timeout talking to {host_of(url)}", kind="timeout")
    if _in_chain(exc, urllib3.exceptions.DecodeError):
        return NetworkError(f"the body from {host_of(url)} is not valid gzip/deflate data", kind="bad-body")
    message = describe(exc, url)
    if proxy is not None and _in_chain(exc, urllib3.exceptions.ProxyError):
        message = f"through proxy {host_of(proxy)}: {message}"
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
    host = host_of(url)
    chain = _chain(exc)
    if any(isinstance(e, urllib3.exceptions.LocationValueError) for e in chain) or (
            isinstance(exc, ValueError) and not isinstance(exc, OSError | urllib3.exceptions.HTTPError)):
        return f"invalid URL {url!r}"
    root = _root_cause(chain)
    if isinstance(root, socket.gaierror) or any(isinstance(e, urllib3.exceptions.NameResolutionError) for e in chain):
        return f"cannot resolve host {urlsplit(url).hostname}"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"TLS certificate of {host} rejected: {root.verify_message}"
    if isinstance(root, ssl.SSLError) or any(isinstance(e, urllib3.exceptions.SSLError) for e in chain):
        return f"TLS error with {host}: {getattr(root, 'reason', None) or 'handshake failed'}"
    if isinstance(root, ConnectionRefusedError):
        return f"connection refused by {host}"
    if isinstance(root, ConnectionResetError | urllib3.exceptions.ProtocolError):
        return f"{host} closed the connection before a complete response"
    if isinstance(root, OSError) and root.strerror:
        return f"cannot connect to {host}: {root.strerror}"
    return f"cannot connect to {host} ({type(root or exc).__name__})"


def host_of(url: str) -> str:
    """The origin's host[:port] only: a path may carry a token, userinfo a password."""
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


def _root_cause(chain: list[BaseException]) -> BaseException | None:
    """Return the innermost standard-library error under requests' and urllib3's wrappers."""
    for e in chain:
        if isinstance(e, OSError) and type(e).__module__.split(".")[0] not in ("urllib3", "requests"):
            return e
    return next((e for e in chain if isinstance(e, urllib3.exceptions.ProtocolError)), None)
