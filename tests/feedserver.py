"""A real threaded HTTP/1.1 server on 127.0.0.1 for tests: well-behaved feeds and every bad server.

    server = FeedServer().start()
    server.publish("/feed.xml", rss([{"title": "Hello", "link": "https://x.example/1"}]))
    server.url("/feed.xml")           -> "http://127.0.0.1:PORT/feed.xml"
    server.route("/flaky", respond(503), publish_behaviour)   # served in turn, the last repeats
    server.hits("/feed.xml"), server.requests, server.last("/feed.xml").headers["If-None-Match"]
    server.stop()

Behaviours are plain callables taking the request Handler; the factories below build them and the
FeedServer methods of the same names register them. Slow or hanging behaviours wait on the server's
`stopping` event, so stop() is fast whatever the handlers are doing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

Behaviour = Callable[["Handler"], None]
XMLISH = b"<item><title>more</title><description>and more</description></item>\n"


class Seen(NamedTuple):
    """One request as the server saw it. headers look up case-insensitively (None when absent)."""

    method: str
    path: str  # the request target, query included
    headers: Message
    body: bytes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, like real feed servers
    server: _Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        feed = self.server.feed
        feed._record(Seen(self.command, self.path, self.headers, body))
        behaviour = feed._next(urlsplit(self.path).path)
        (behaviour or respond(404, b"no route for this path"))(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet test output
        pass

    @property
    def stopping(self) -> threading.Event:
        return self.server.feed.stopping

    @property
    def accepts_gzip(self) -> bool:
        return "gzip" in (self.headers.get("Accept-Encoding") or "").lower()

    def reply(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        """Send a complete response with Content-Length."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def start_chunked(self, status: int, headers: Mapping[str, str]) -> None:
        self.close_connection = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a client's socket never blocks the test run
    feed: FeedServer

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        self.feed._opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        self.feed._closed(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        # Clients hanging up mid-body (size caps, deadlines) is what these tests are about.
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------- behaviours


def respond(
    status: int = 200,
    body: bytes | str = b"",
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: Mapping[str, str] | None = None,
) -> Behaviour:
    """Return a behaviour answering `status` with a fixed body."""
    data = body.encode() if isinstance(body, str) else body

    def run(h: Handler) -> None:
        h.reply(status, data, {"Content-Type": content_type, **(headers or {})})

    return run


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def document(
    body: bytes | str,
    *,
    content_type: str = "application/rss+xml; charset=utf-8",
    etag: str | None = None,
    last_modified: datetime | str | None = None,
    gzip: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Behaviour:
    """Return a behaviour serving `body` with validators; 304 to a matching conditional GET.

    etag None derives a strong ETag from the body; etag "" sends none. gzip=True compresses when
    the client accepts gzip.
    """
    data = body.encode() if isinstance(body, str) else body
    tag = strong_etag(data) if etag is None else etag
    modified = format_datetime(last_modified, usegmt=True) if isinstance(last_modified, datetime) else last_modified
    validators = {k: v for k, v in (("ETag", tag), ("Last-Modified", modified)) if v}

    def run(h: Handler) -> None:
        if _not_modified(h, tag, modified):
            h.reply(304, b"", validators)
            return
        out, extra = data, {"Content-Type": content_type, **validators, **(headers or {})}
        if gzip and h.accepts_gzip:
            out, extra["Content-Encoding"] = _gzip(data), "gzip"
        h.reply(200, out, extra)

    return run


def _not_modified(h: Handler, etag: str | None, modified: str | None) -> bool:
    inm = h.headers.get("If-None-Match")
    if inm is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return bool(etag) and ("*" in tags or etag.removeprefix("W/") in tags)
    ims = h.headers.get("If-Modified-Since")
    if ims and modified:
        try:
            return parsedate_to_datetime(modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def redirect(location: str, status: int = 301) -> Behaviour:
    """Return a behaviour redirecting to `location` (absolute, or a path on this server)."""
    return respond(status, b"moved", headers={"Location": location})


def retry_later(retry_after: int | float | str | datetime, status: int = 429) -> Behaviour:
    """Return a 429/503 behaviour with Retry-After as delta-seconds, or an HTTP date for datetimes."""
    value = format_datetime(retry_after, usegmt=True) if isinstance(retry_after, datetime) else str(retry_after)
    return respond(status, b"slow down", headers={"Retry-After": value})


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Newsroom</title></head><body><h1>News</h1></body></html>"


def html_page(body: bytes = HTML_PAGE) -> Behaviour:
    """Return a behaviour answering 200 text/html (a login wall or a site redesign)."""
    return respond(200, body, content_type="text/html; charset=utf-8")


def drip(body: bytes | None = None, *, interval: float = 0.5) -> Behaviour:
    """Return a behaviour sending one byte every `interval` s: `body` (with its length) or forever."""

    def run(h: Handler) -> None:
        h.close_connection = True
        if body is None:
            h.start_chunked(200, {"Content-Type": "application/rss+xml"})
        else:
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
        data = body if body is not None else XMLISH * 10_000
        for i in range(len(data)):
            if body is None:
                h.write_chunk(data[i : i + 1])
            else:
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
            if h.stopping.wait(interval):
                return

    return run


def endless(*, content_length: int | None = None) -> Behaviour:
    """Return a behaviour streaming XML-ish bytes as fast as the client reads, until it hangs up.

    Chunked without end by default; with content_length, that length is declared up front.
    """
    block = XMLISH * 500

    def run(h: Handler) -> None:
        h.close_connection = True
        if content_length is None:
            h.start_chunked(200, {"Content-Type": "application/rss+xml"})
        else:
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", str(content_length))
            h.end_headers()
        sent = 0
        while not h.stopping.is_set() and (content_length is None or sent < content_length):
            part = block if content_length is None else block[: content_length - sent]
            if content_length is None:
                h.write_chunk(part)
            else:
                h.wfile.write(part)
            sent += len(part)

    return run


@functools.cache
def gzip_bomb_bytes(megabytes: int = 120) -> bytes:
    """Return one gzip member (~120 KB) that inflates to `megabytes` MB; built once per process.

    A full flush resets the compressor, so the compressed form of 1 MB of zeros is the same bytes
    every time: repeat it instead of deflating 120 MB (40 ms instead of a second).
    """
    prefix, zeros = b"<?xml version='1.0'?><rss><channel><title>", bytes(1_000_000)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: we write the gzip frame ourselves
    head = z.compress(prefix) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(zeros) + z.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    size = (len(prefix) + megabytes * len(zeros)) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + head + block * megabytes + z.flush() + struct.pack("<II", crc, size)


def gzip_bomb() -> Behaviour:
    """Return a behaviour serving gzip_bomb_bytes() with Content-Encoding: gzip, whatever was asked."""

    def run(h: Handler) -> None:
        h.close_connection = True
        h.reply(200, gzip_bomb_bytes(), {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})

    return run


def hang() -> Behaviour:
    """Return a behaviour that never answers (until the server stops)."""

    def run(h: Handler) -> None:
        h.close_connection = True
        h.stopping.wait()

    return run


def hang_up() -> Behaviour:
    """Return a behaviour that closes the connection without sending anything."""

    def run(h: Handler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    return run


def _gzip(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


# --------------------------------------------------------------------------- server


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 (free port) with a route table of behaviours."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._routes: dict[str, list[Behaviour]] = {}
        self._seen: list[Seen] = []
        self._sockets: set[socket.socket] = set()
        self.connections = 0  # TCP connections accepted: tells whether clients reuse them
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FeedServer:
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.feed = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()  # frees hanging and dripping handlers
        self._httpd.shutdown()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:  # idle keep-alive handlers are blocked reading these
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "FeedServer not started"
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    # routes
    def route(self, path: str, *behaviours: Behaviour) -> None:
        """Serve `path` with these behaviours in turn; the last one repeats. Replaces any route."""
        if not behaviours:
            raise ValueError("route() needs at least one behaviour")
        with self._lock:
            self._routes[urlsplit(path).path] = list(behaviours)

    def publish(self, path: str, body: bytes | str, content_type: str = "application/rss+xml", **kw) -> None:  # type: ignore[no-untyped-def]
        """Serve a document with ETag (auto) / Last-Modified and 304s; kw as for document()."""
        self.route(path, document(body, content_type=content_type, **kw))

    def status(self, path: str, code: int, body: bytes | str = b"", headers: Mapping[str, str] | None = None) -> None:
        self.route(path, respond(code, body, headers=headers))

    def redirect(self, path: str, target: str, code: int = 301) -> None:
        """Redirect `path` to `target` (a path on this server or an absolute URL)."""
        self.route(path, redirect(self.url(target) if target.startswith("/") else target, code))

    def redirect_loop(self, path: str) -> None:
        """Make `path` redirect to itself forever."""
        self.route(path, redirect(self.url(path), 302))

    def retry_later(self, path: str, retry_after: int | float | str | datetime, code: int = 429) -> None:
        self.route(path, retry_later(retry_after, code))

    def html(self, path: str, body: bytes = HTML_PAGE) -> None:
        self.route(path, html_page(body))

    def drip(self, path: str, body: bytes | None = None, interval: float = 0.5) -> None:
        self.route(path, drip(body, interval=interval))

    def endless(self, path: str, content_length: int | None = None) -> None:
        self.route(path, endless(content_length=content_length))

    def gzip_bomb(self, path: str) -> None:
        self.route(path, gzip_bomb())

    def hang(self, path: str) -> None:
        self.route(path, hang())

    # what was seen
    @property
    def requests(self) -> list[Seen]:
        """Return a copy of every request so far, oldest first."""
        with self._lock:
            return list(self._seen)

    def hits(self, path: str) -> int:
        """Return how many requests asked for `path` (the query string is ignored unless given)."""
        return len(self._matching(path))

    def last(self, path: str) -> Seen | None:
        """Return the latest request for `path`, or None."""
        found = self._matching(path)
        return found[-1] if found else None

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def _matching(self, path: str) -> list[Seen]:
        return [s for s in self.requests if s.path == path or urlsplit(s.path).path == path]

    # called from handler threads
    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _next(self, path: str) -> Behaviour | None:
        with self._lock:
            queue = self._routes.get(path)
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            self.connections += 1

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)


# --------------------------------------------------------------------------- feed documents


def _date(value: datetime | str, rfc822: bool) -> str:
    if isinstance(value, str):
        return value
    return format_datetime(value, usegmt=True) if rfc822 else value.isoformat()


def _el(tag: str, text: object, attrs: str = "") -> str:
    return f"<{tag}{attrs}>{escape(str(text))}</{tag}>"


def rss(
    items: Iterable[Mapping[str, object]] = (),
    *,
    title: str = "Test Wire",
    link: str = "https://wire.example/",
    description: str = "Press releases for tests",
    ttl: int | None = None,
) -> bytes:
    """Return an RSS 2.0 document as UTF-8 bytes.

    Item keys (all optional): title, link, guid, description (HTML is escaped as text, as real
    feeds do), content (content:encoded), pubDate (datetime or string), author, category (str or
    list). guid gets isPermaLink="true" only when it equals link.
    """
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel>",
        _el("title", title),
        _el("link", link),
        _el("description", description),
    ]
    if ttl is not None:
        out.append(_el("ttl", ttl))
    for item in items:
        out.append("<item>")
        for key in ("title", "link", "description", "author"):
            if key in item:
                out.append(_el(key, item[key]))
        if "guid" in item:
            permalink = "true" if item["guid"] == item.get("link") else "false"
            out.append(_el("guid", item["guid"], f" isPermaLink={quoteattr(permalink)}"))
        if "pubDate" in item:
            out.append(_el("pubDate", _date(item["pubDate"], rfc822=True)))  # type: ignore[arg-type]
        if "content" in item:
            out.append(_el("content:encoded", item["content"]))
        cats = item.get("category", ())
        for cat in [cats] if isinstance(cats, str) else cats:  # type: ignore[union-attr]
            out.append(_el("category", cat))
        out.append("</item>")
    out += ["</channel>", "</rss>"]
    return "\n".join(out).encode()


def atom(
    entries: Iterable[Mapping[str, object]] = (),
    *,
    title: str = "Test Wire",
    feed_id: str = "urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6",
    link: str = "https://wire.example/",
    updated: datetime | str = "2026-11-27T12:00:00Z",
) -> bytes:
    """Return an Atom 1.0 document as UTF-8 bytes.

    Entry keys (all optional): title, link, id, summary, content (both type="html"), published,
    updated (datetime or string), author (a name).
    """
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        _el("title", title),
        _el("id", feed_id),
        f"<link href={quoteattr(link)}/>",
        _el("updated", _date(updated, rfc822=False)),
    ]
    for e in entries:
        out.append("<entry>")
        for key in ("title", "id"):
            if key in e:
                out.append(_el(key, e[key]))
        if "link" in e:
            out.append(f"<link rel=\"alternate\" href={quoteattr(str(e['link']))}/>")
        for key in ("summary", "content"):
            if key in e:
                out.append(_el(key, e[key], ' type="html"'))
        for key in ("published", "updated"):
            if key in e:
                out.append(_el(key, _date(e[key], rfc822=False)))  # type: ignore[arg-type]
        if "author" in e:
            out.append(f"<author>{_el('name', e['author'])}</author>")
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out).encode()
