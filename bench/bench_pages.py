"""Page benchmark: N new releases on 20 loopback hosts; the page worker fetches, extracts, re-indexes, re-matches.

    .venv/bin/python bench/bench_pages.py                        # 1,000 releases, page_delay = 0
    .venv/bin/python bench/bench_pages.py --pages 200 --delay 1  # default politeness: ~10 s expected

The page servers run in a child process on 127.0.0.2 ... 127.0.0.21 (all loopback; the archive's
`allow_private_networks = ["127.0.0.0/8"]`), each serving one of the fixture pages of
tests/data/pages (PR Newswire, Business Wire, GlobeNewswire, a news site) with the release number
written in, and no robots.txt (404). One feed per host carries its releases; one FeedPoller round
queues every page, then one `PageWorker.drain` fetches them all. Reported: pages per second, CPU
per page of this process (fetch + extract + commit: re-index and re-match), the share of that CPU
spent in extraction and in the commit, and peak resident memory. With --delay the wall time is
compared with what the per-host delay implies (pages per host x delay).

This is a benchmark, not a test: its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import pipeline  # noqa: E402
from monitor.clock import SystemClock  # noqa: E402
from monitor.fetch import Fetcher  # noqa: E402
from monitor.pageworker import PageWorker, build_client  # noqa: E402
from monitor.rules import compile_rules  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.types import Feed, RuleSpec, Settings  # noqa: E402
from tests.polling import make_poller, poll  # noqa: E402

PAGES = ROOT / "tests" / "data" / "pages"
FIXTURES = ("prnewswire", "businesswire", "globenewswire", "news")
HOSTS = 20


def serve(hosts: int, per_host: int, port_box: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Child process: one HTTP server per loopback address, all on one port; never returns."""
    templates = [(PAGES / f"{name}.html").read_bytes() for name in FIXTURES]
    now = datetime.now(UTC)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one write: separate small writes meet Nagle + delayed ACK (40 ms a page).
        wbufsize = 1 << 16

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            host = int(self.server.server_address[0].rsplit(".", 1)[1]) - 2
            if self.path == "/feed.rss":
                items = "".join(
                    f"<item><title>Release {host}-{i}</title><guid>r{host}-{i}</guid>"
                    f"<link>http://127.0.0.{host + 2}:{self.server.server_address[1]}/release/{i}.html</link>"
                    f"<description>{escape('NEW YORK, May 11, 2023 /PRNewswire/ -- Abstract ' + str(i))}"
                    f"</description><pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate></item>"
                    for i in range(per_host))
                body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>h{host}</title>{items}" \
                       "</channel></rss>"
                self._send(200, body.encode(), "application/rss+xml")
            elif self.path.startswith("/release/"):
                n = int(self.path.split("/")[-1].split(".")[0])
                page = templates[(host + n) % len(templates)].replace(b"</h1>", f" #{host}-{n}</h1>".encode())
                self._send(200, page, "text/html; charset=utf-8")
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    first = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    port = first.server_address[1]
    servers = [first] + [ThreadingHTTPServer((f"127.0.0.{i + 2}", port), Handler) for i in range(1, hosts)]
    for srv in servers:
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    port_box.put(port)
    threading.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--delay", type=float, default=0.0, help="page_delay (seconds)")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    per_host = max(1, args.pages // HOSTS)
    box: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    child = multiprocessing.Process(target=serve, args=(HOSTS, per_host, box), daemon=True)
    child.start()
    port = box.get(timeout=30)
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database=Path(tmp) / "bench.db", page_delay=args.delay, timeout=20.0,
                            allow_private_networks=("127.0.0.0/8",))
        feeds = [Feed(f"host{i}", f"http://127.0.0.{i + 2}:{port}/feed.rss", 300.0, full_text=True)
                 for i in range(HOSTS)]
        specs = (RuleSpec("summits", "summit*"), RuleSpec("uranium", "uranium AND Kazakhstan"),
                 RuleSpec("ports", '"Caspian Sea"'))
        rules = compile_rules(specs, {})
        with Store(settings.database) as store, Fetcher(user_agent=settings.user_agent, timeout=20.0,
                                                        max_bytes=settings.max_feed_bytes, clock=clock) as fetcher:
            results = poll(make_poller(settings, specs, clock=clock, fetcher=fetcher, channels=()), store,
                           *feeds).values()
            queued = sum(r.pages for r in results)
            assert queued == per_host * HOSTS, [r.error for r in results if r.error]
            assert ipaddress.ip_network(settings.allow_private_networks[0])

            timers = {"extract": 0.0, "commit": 0.0}
            real_extract, real_apply = sys.modules["monitor.pageworker"].extract, pipeline.apply_page
            lock = threading.Lock()

            def timed(name: str, fn: Callable) -> Callable:  # type: ignore[type-arg]
                def run(*a, **kw):  # type: ignore[no-untyped-def]
                    t0 = time.thread_time()
                    try:
                        return fn(*a, **kw)
                    finally:
                        with lock:
                            timers[name] += time.thread_time() - t0
                return run

            sys.modules["monitor.pageworker"].extract = timed("extract", real_extract)  # type: ignore[attr-defined]
            pipeline.apply_page = timed("commit", real_apply)  # type: ignore[assignment]
            worker = PageWorker(build_client(settings, clock), clock, workers=args.workers)
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                report = worker.drain(store, settings=settings, rules=rules, limit=queued)
            finally:
                worker.close()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            counts = store.page_counts()
            matched = store.conn.execute("SELECT count(*) FROM matches").fetchone()[0]
    child.terminate()
    done = report.fetched
    out = {
        "pages": queued, "hosts": HOSTS, "page_delay": args.delay, "workers": args.workers,
        "fetched": done, "skipped": report.skipped, "failed": report.failed, "statuses": counts,
        "matches": matched, "wall_s": round(wall, 2), "pages_per_s": round(done / wall, 1),
        "cpu_ms_per_page": round(1000 * cpu / max(1, done), 2),
        "extract_ms_per_page": round(1000 * timers["extract"] / max(1, done), 2),
        "commit_ms_per_page": round(1000 * timers["commit"] / max(1, done), 2),
        "peak_rss_mb_before": round(rss0 / 1024, 1), "peak_rss_mb_after": round(rss1 / 1024, 1),
    }
    if args.delay:
        out["delay_implies_s"] = round(per_host * args.delay, 1)  # robots.txt, then each page, a delay apart
    print(f"{done} pages on {HOSTS} hosts, page_delay {args.delay:g}s, {args.workers} workers: {wall:.2f} s wall,"
          f" {out['pages_per_s']} pages/s")
    print(f"CPU per page {out['cpu_ms_per_page']} ms (extract {out['extract_ms_per_page']} ms, commit"
          f" {out['commit_ms_per_page']} ms: re-index + re-match; the rest: fetch, threads)")
    print(f"peak RSS {out['peak_rss_mb_before']} MB before the drain, {out['peak_rss_mb_after']} MB after")
    if args.delay:
        print(f"the per-host delay implies >= {out['delay_implies_s']} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
