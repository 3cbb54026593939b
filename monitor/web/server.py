"""HTTP for the web view: the route table, access checks (Host, token), and one error boundary.

Every request: strip the base path, check the Host header and the token, find the route, run its
handler, answer. Whatever goes wrong inside becomes an HTTP status with a page (HTML) or
{"error": …} (API), with the traceback logged at debug: never a dropped connection.

Each request opens its own read-only connection and closes it before answering, so the web side
never writes and never holds a lock or a long read snapshot while the daemon writes. Connections
come through `gate.Gate`, which reads request heads in one thread (whole-head deadline, a cap per
client address), so a slow or idle client never holds a worker. Complete requests are answered by
MAX_THREADS workers; `/healthz` and static files have CHEAP_THREADS workers of their own, so they
answer while every other worker is busy with searches. One request per connection (HTTP/1.0).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import io
import json
import logging
import re
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from monitor import __version__
from monitor.app import App
from monitor.clock import Clock, SystemClock
from monitor.errors import ConfigError, MonitorError
from monitor.web import api, view
from monitor.web.gate import Gate, Head
from monitor.web.html import Pages
from monitor.web.model import NotFound
from monitor.web.render import Renderer

log = logging.getLogger("monitor.web")

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_THREADS = 16
CHEAP_THREADS = 2  # /healthz and static files: answered even while MAX_THREADS searches run
MAX_QUEUED = 256  # complete requests waiting for a worker, per lane; more are answered 503 at once
_BUSY_BODY = b'{"error": "the server is busy: try again in a few seconds"}'
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))
IDLE_SECONDS = 15.0  # writing an answer to a client that does not read it
# A Host header: a name or [IPv6 address], an optional port; nothing else (no userinfo, no path).
HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)(:[0-9]{1,5})?")
MAX_PARAMS = 100
STATIC = Path(__file__).parent / "static"
# The API's description (OpenAPI 3.1), served as /api/openapi.json; tests check real answers against it.
OPENAPI = (Path(__file__).parent / "openapi.json").read_bytes()
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# No inline script or style; the one script and the stylesheet come from /static. Links out must
# not leak the local search in a Referer.
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self';"
       " base-uri 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Access:
    """Who may ask: the Host names answered and the token required (None: no token)."""

    allowed_hosts: tuple[str, ...] = ()
    token: str | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    ctype: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def json_answer(status: int, value: Any) -> Answer:
    return Answer(status, json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"),
                  "application/json; charset=utf-8")


@dataclass(frozen=True)
class Request:
    origin: str  # scheme://host as the client addressed us
    full_path: str  # the path as requested, base path included


RouteFn = Callable[[tuple[str, ...], Mapping[str, str], Request], Answer]

ID = r"([0-9]{1,40})"  # ASCII digits only ("²".isdigit() is true); size is checked by the handler
NAME = r"([^/]+)"


class Routes:
    """The route table: (pattern over the unquoted path, handler(groups, params, request) -> Answer)."""

    def __init__(self, app: App, clock: Clock, renderer: Renderer, static: Mapping[str, bytes]) -> None:
        p, a = Pages(app, clock, renderer), api.Api(app, clock)
        self.pages, self.static = p, static

        def html(fn: Callable[..., tuple[int, bytes]]) -> Callable[..., Answer]:
            return lambda *args: Answer(*fn(*args))

        def js(fn: Callable[..., api.Answer]) -> Callable[..., Answer]:
            return lambda *args: json_answer(*fn(*args))

        table: list[tuple[str, RouteFn]] = [
            ("/", lambda g, q, r: html(p.search)(q)),
            ("/search", lambda g, q, r: html(p.search)(q)),
            (f"/release/{ID}", lambda g, q, r: html(p.release)(int(g[0]))),
            ("/rules", lambda g, q, r: html(p.rules)()),
            ("/rules/try", lambda g, q, r: html(p.playground)(q)),
            (f"/rule/{NAME}", lambda g, q, r: html(p.rule)(g[0], q)),
            (f"/rule/{NAME}/feed\\.atom", self.atom),
            ("/feeds", lambda g, q, r: html(p.feeds)()),
            ("/static/([a-z]+\\.(?:css|js))", self.static_file),
            ("/healthz", lambda g, q, r: js(a.health)(q)),
            ("/api/openapi\\.json", lambda g, q, r: Answer(200, OPENAPI, "application/json; charset=utf-8")),
            ("/api/search", lambda g, q, r: js(a.search)(q)),
            (f"/api/releases/{ID}", lambda g, q, r: js(a.release)(int(g[0]))),
            ("/api/rules", lambda g, q, r: js(a.rules)(q)),
            (f"/api/rules/{NAME}/matches", lambda g, q, r: js(a.rule_matches)(g[0], q)),
            ("/api/feeds", lambda g, q, r: js(a.feeds)(q)),
            ("/api/alerts", lambda g, q, r: js(a.alerts)(q)),
        ]
        self.table = [(re.compile(pattern), fn) for pattern, fn in table]
        self.app, self.clock = app, clock

    def find(self, path: str) -> tuple[Callable[..., Answer], tuple[str, ...]] | None:
        segs = [unquote(s, errors="strict") for s in path.split("/")]
        for pattern, fn in self.table:
            # Match segment-wise on the unquoted path so that a rule name may contain "%2F".
            m = pattern.fullmatch("/".join(s.replace("/", "\x00") for s in segs))
            if m:
                return fn, tuple(g.replace("\x00", "/") for g in m.groups())
        return None

    def atom(self, groups: tuple[str, ...], params: Mapping[str, str], req: Request) -> Answer:
        from monitor import export

        name = groups[0]
        spec = self.pages.spec(name)
        with self.pages.store() as store:
            rows = store.rule_matches(name, limit=view.clamp_int(params.get("limit"), 50, 1, 500))
            install_id = store.install_id()
        if spec is None and not rows:
            raise NotFound(f"no rule named {name!r}")
        self_link = f"{req.origin}{req.full_path}"
        doc = export.rule_feed(name, rows, install_id=install_id, now=self.clock.now(),
                               query=spec.query if spec else "", self_link=self_link,
                               alternate_link=self_link.rsplit("/", 1)[0], version=__version__)
        return Answer(200, doc.encode("utf-8"), "application/atom+xml; charset=utf-8")

    def static_file(self, groups: tuple[str, ...], params: Mapping[str, str], req: Request) -> Answer:
        name = groups[0]
        if name not in self.static:
            raise NotFound(f"no static file {name}")
        return Answer(200, self.static[name], STATIC_TYPES[Path(name).suffix],
                      (("Cache-Control", "public, max-age=3600"),))


class Handler(BaseHTTPRequestHandler):
    """Answers one request whose head the gate has read (`request` is a gate.Head)."""

    server: WebServer
    request: Head
    server_version = f"press-monitor/{__version__}"

    def setup(self) -> None:
        self.connection = self.request.sock
        self.connection.settimeout(IDLE_SECONDS)  # a client that does not read its answer is dropped
        self.rfile = io.BytesIO(self.request.data)
        self.wfile = self.connection.makefile("wb")

    def handle(self) -> None:
        if self.request.complete:
            self.handle_one_request()
            return
        # More than MAX_HEAD_BYTES without an empty line: answer without reading on.
        self.command, self.request_version, self.close_connection = "", self.default_request_version, True
        self.requestline = self.path = target_of(self.request.data)
        if b"\n" not in self.request.data:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "Request line too long")
        else:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Request head too large")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (414, 431, 501, a broken request line) in this server's forms."""
        if not getattr(self, "path", None):  # the request line was refused before it was parsed
            self.path = target_of(self.raw_requestline if hasattr(self, "raw_requestline") else b"")
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.close_connection = True
        self._send(self._error(self._is_api(), code, phrase, message or phrase), head=self.command == "HEAD")

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        try:
            answer = self._dispatch()
        except Exception:  # the error boundary: a page saying so, the traceback at debug
            log.debug("web request %r failed", self.path, exc_info=True)
            answer = self._error(self._is_api(), 500, "Internal error",
                                 "Something went wrong answering this request; `press-monitor serve -v` logs"
                                 " the details.")
        self._send(answer, head=head)

    def _send(self, answer: Answer, *, head: bool) -> None:
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.ctype)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Content-Type-Options", "nosniff")
            headers = dict(answer.headers)
            headers.setdefault("Cache-Control", "no-store")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(answer.body)
        except OSError:  # the client went away
            pass

    def _is_api(self) -> bool:
        return is_api(self.server.local_path(self.path) or "")

    def _dispatch(self) -> Answer:
        api_call = self._is_api()
        if self._host_name() is None:
            return self._error(api_call, 400, "Bad request", "invalid Host header: expected a name or address"
                               " and an optional port")
        if not self._host_allowed():
            return self._error(api_call, 403, "Forbidden", "unexpected Host header (DNS rebinding?); "
                               "serve --allowed-host NAME answers a proxy's name")
        if not self._authorized():
            answer = self._error(api_call, 401, "Token required",
                                 "this server needs its token: as the password of the browser's login prompt"
                                 " (any user name) or as an 'Authorization: Bearer TOKEN' header")
            return Answer(answer.status, answer.body, answer.ctype,
                          (("WWW-Authenticate", 'Basic realm="press-monitor", charset="UTF-8"'),))
        parts = urlsplit(self.path)
        local = self.server.local_path(self.path)
        if local is None:
            return self._error(api_call, 404, "Not found", f"nothing at {parts.path}: this server answers under"
                               f" {self.server.base_path}/")
        path = local.rstrip("/") or "/"
        try:
            params = dict(parse_qsl(parts.query, keep_blank_values=True, max_num_fields=MAX_PARAMS))
        except ValueError:
            return self._error(api_call, 400, "Bad request", f"more than {MAX_PARAMS} query parameters")
        try:
            found = self.server.routes.find(path)
        except UnicodeDecodeError:
            found = None
        try:
            if found is None:
                raise NotFound(f"nothing at {parts.path}")
            fn, groups = found
            scheme = "https" if self.headers.get("X-Forwarded-Proto", "") == "https" else "http"
            host = self.headers.get("Host") or self.server.url.split("/")[2]
            return fn(groups, params, Request(f"{scheme}://{host}", parts.path))
        except NotFound as exc:
            return self._error(api_call, 404, "Not found", str(exc))
        except api.BadRequest as exc:
            return self._error(api_call, 400, "Bad request", str(exc))
        except MonitorError as exc:  # no archive yet, archive from a newer version, ...
            return self._error(api_call, 503, "Archive unavailable", str(exc))

    def _error(self, api_call: bool, status: int, heading: str, message: str) -> Answer:
        if api_call:
            return json_answer(status, {"error": message})
        try:
            return Answer(status, self.server.routes.pages.error(status, heading, message))
        except Exception:  # the template itself failed: plain text still answers
            log.debug("error page failed", exc_info=True)
            return Answer(status, f"{status} {heading}: {message}\n".encode(), "text/plain; charset=utf-8")

    def _host_allowed(self) -> bool:
        """A web page elsewhere may point a DNS name at 127.0.0.1: answer only the names we expect.

        On loopback: loopback names and --allowed-host names. Elsewhere: any name unless
        --allowed-host restricts it (the token is the guard there).
        """
        allowed = self.server.access.allowed_hosts
        bound = str(self.server.server_address[0])
        if bound not in LOOPBACK and not allowed:
            return True
        host = self._host_name() or ""
        return host in LOOPBACK or host == bound or host in allowed

    def _host_name(self) -> str | None:
        """Return the Host header's name, lower case ("" if none was sent); None for a malformed one."""
        m = HOST_HEADER.fullmatch((self.headers.get("Host") or "").strip())
        return m.group(1).strip("[]").lower() if m else None

    def _authorized(self) -> bool:
        token = self.server.access.token
        if token is None:
            return True
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        given = ""
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                given = ""
        # Constant time over the bytes: how far a guess matches must not show in the timing.
        return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        self.server.log(f"{self.address_string()} {format % args}")


class WebServer(HTTPServer):
    request_queue_size = 128  # the kernel's backlog: the gate accepts as fast as connections come

    def __init__(self, app: App, host: str, port: int, *, clock: Clock | None = None,
                 log: Callable[[str], None] | None = None, access: Access | None = None,
                 base_path: str = "") -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        clock = clock or SystemClock()
        self.base_path = base_path
        self.access = access or Access()
        renderer = Renderer(base=base_path, zone=view.Zone(app.config.settings.display_timezone))
        static = {p.name: p.read_bytes() for p in STATIC.iterdir() if p.suffix in STATIC_TYPES}
        self.routes = Routes(app, clock, renderer, static)
        self.log = log or (lambda line: None)
        super().__init__((host, port), Handler)
        self.gate = Gate(self.socket, self._dispatch_head)
        self._lock = threading.Lock()
        self.queued: Counter[str] = Counter()  # requests waiting for a worker, per lane
        self.counts: Counter[str] = Counter()  # shed: answered 503 at once, every worker of its lane busy
        self.workers = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="web")
        self.cheap_workers = ThreadPoolExecutor(CHEAP_THREADS, thread_name_prefix="web-cheap")

    def local_path(self, target: str) -> str | None:
        """Return a request target's path below the base path; None if it is outside it."""
        path = urlsplit(target).path or "/"
        base = self.base_path
        if not base:
            return path
        if path == base or path.startswith(base + "/"):
            return path[len(base):] or "/"
        return None

    def _dispatch_head(self, head: Head) -> None:
        """Queue a complete request for its workers (called on the gate's thread: never blocks)."""
        path = self.local_path(target_of(head.data)) or ""
        lane = "cheap" if path == "/healthz" or path.startswith("/static/") else "main"
        with self._lock:
            if self.queued[lane] >= MAX_QUEUED:  # a flood of requests: shed load instead of queueing forever
                self.counts["shed"] += 1
                busy = True
            else:
                self.queued[lane] += 1
                busy = False
        if busy:
            with contextlib.suppress(OSError):
                head.sock.setblocking(False)
                head.sock.send(BUSY)
            head.sock.close()
            return
        (self.cheap_workers if lane == "cheap" else self.workers).submit(self._answer_head, head, lane)

    def _answer_head(self, head: Head, lane: str) -> None:
        with self._lock:
            self.queued[lane] -= 1
        try:
            # The "request" is the gate's Head, not a socket: Handler.setup reads it.
            Handler(head, head.address, self)  # type: ignore[arg-type]
        except Exception:
            log.debug("answering %s failed", head.address[0], exc_info=True)
        finally:
            with contextlib.suppress(OSError):
                head.sock.shutdown(socket.SHUT_WR)
            head.sock.close()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.gate.run()

    def shutdown(self) -> None:
        self.gate.stop()
        self.gate.stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.cheap_workers.shutdown(wait=False, cancel_futures=True)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        root = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return root + self.base_path + "/"


def target_of(head: bytes) -> str:
    """Return the request target of a raw request head ("" if it has none)."""
    parts = head.split(b"\n", 1)[0].split()
    return parts[1].decode("latin-1") if len(parts) >= 2 else ""


def is_api(local_path: str) -> bool:
    return local_path.startswith("/api/") or local_path == "/healthz"


def normalize_base_path(text: str) -> str:
    """Return "/press" for "press", "/press/" or "/press"; "" for "" or "/"; ConfigError for anything odd."""
    text = text.strip()
    path = "/" + text.strip("/") if text.strip("/") else ""
    if path and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", path):
        raise ConfigError(f"--base-path {text!r}: expected a path like /press (letters, digits, . _ ~ -)")
    return path


def make_server(app: App, host: str = "127.0.0.1", port: int = 8001, *, clock: Clock | None = None,
                log: Callable[[str], None] | None = None, allowed_hosts: tuple[str, ...] = (),
                base_path: str = "", token: str | None = None, no_auth: bool = False) -> WebServer:
    """Return a bound, not yet serving web server (port 0 picks a free port; see .url).

    Beyond loopback a token is required unless no_auth says explicitly that anyone may read.
    """
    if host not in LOOPBACK and token is None and not no_auth:
        raise ConfigError(f"listening on {host} needs a token: --token-file FILE (or --no-auth to let anyone"
                          " who can reach it read the archive)")
    if token is not None and not token:
        raise ConfigError("the token file is empty")
    access = Access(tuple(h.strip().lower() for h in allowed_hosts if h.strip()), token)
    return WebServer(app, host, port, clock=clock, log=log, access=access, base_path=normalize_base_path(base_path))


def serve(server: WebServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket."""
    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
