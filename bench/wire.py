"""A local PR Newswire-style wire: N category feeds of M items each, served over loopback HTTP.

    python bench/wire.py [--port 0] [--feeds 200] [--items 100] [--overlap 0.3] [--seed 1] [--latency-ms 0]

The first stdout line is the base URL (http://127.0.0.1:PORT). Endpoints:

    GET  /feed/{i}.rss    RSS 2.0, M items newest first; strong ETag + Last-Modified, 304, gzip
    POST /advance?k=K     publish K new releases at the top of random feeds (each drops its oldest
                          items to keep M); answers JSON with the feeds changed and items added
    GET  /stats           JSON: feed requests by status, bytes, and the ground truth
                          (releases_published = distinct releases ever served, items_published)

The feeds themselves (text, overlap, guid styles, bytes) come from tests/wire.py's Wire.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.wire import Wire  # noqa: E402


def _not_modified(headers, etag: str, last_modified: str) -> bool:
    """Return True when the request's validators match (If-None-Match wins over If-Modified-Since)."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags or etag[:-1] + '-gz"' in tags
    ims = headers.get("If-Modified-Since")
    if ims is not None:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def make_handler(wire: Wire, latency: float = 0.0) -> type[BaseHTTPRequestHandler]:
    feed_path = re.compile(r"^/feed/(\d+)\.rss$")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: thousands of requests per run
            pass

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/stats":
                self._send(200, json.dumps(wire.snapshot()).encode(), "application/json")
                return
            m = feed_path.match(path)
            if not m or int(m.group(1)) >= wire.n:
                wire.count(requests=1, status_404=1)
                self._send(404, b"no such feed\n", "text/plain")
                return
            if latency:
                time.sleep(latency)
            body, gz, etag, lm = wire.rendered(int(m.group(1)))
            conditional = int("If-None-Match" in self.headers or "If-Modified-Since" in self.headers)
            use_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "")
            tag = etag[:-1] + '-gz"' if use_gzip else etag
            common = {"ETag": tag, "Last-Modified": lm, "Vary": "Accept-Encoding", "Cache-Control": "max-age=0"}
            if _not_modified(self.headers, etag, lm):
                wire.count(requests=1, status_304=1, conditional=conditional)
                self.send_response(304)
                for k, v in common.items():
                    self.send_header(k, v)
                self.end_headers()
                return
            sent = gz if use_gzip else body
            if use_gzip:
                common["Content-Encoding"] = "gzip"
            wire.count(requests=1, status_200=1, conditional=conditional, gzip=int(use_gzip),
                       bytes_sent=len(sent), body_bytes=len(body))
            self._send(200, sent, "application/rss+xml; charset=utf-8", common)

        do_HEAD = do_GET

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/advance":
                self._send(404, b"not found\n", "text/plain")
                return
            try:
                k = int(parse_qs(url.query).get("k", ["1"])[0])
            except ValueError:
                self._send(400, b"k must be an integer\n", "text/plain")
                return
            changed = wire.advance(max(0, k))
            for feed in changed["feeds_changed"]:
                # Render the changed feeds now, in the untimed advance, as compare.sh's feedserver does:
                # rendered on request (~50 ms each here), they made the server, not the client, the
                # bottleneck of a "new releases" poll.
                wire.rendered(feed)
            self._send(200, json.dumps(changed).encode(), "application/json")

    return Handler


def serve(wire: Wire, port: int = 0, latency_ms: float = 0) -> ThreadingHTTPServer:
    """Return a started server on 127.0.0.1 (serving from a daemon thread); stop it with .shutdown()."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(wire, latency_ms / 1000))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="wire").start()
    return server


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--overlap", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--latency-ms", type=float, default=0)
    a = ap.parse_args(argv)
    wire = Wire(a.feeds, a.items, a.overlap, a.seed)
    for f in range(wire.n):  # render up front so the first poll measures the client, not the server
        wire.rendered(f)
    server = serve(wire, a.port, a.latency_ms)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    s = wire.snapshot()
    print(f"wire: {s['feeds']} feeds x {s['items_per_feed']} items, {s['releases_published']} releases, "
          f"{s['items_published']} items", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
