"""Memory benchmark: the real daemon polling 500 local feeds for 200 cycles; is resident memory flat?

    .venv/bin/python bench/bench_memory.py                        # 500 feeds x 200 cycles, 2 s interval
    .venv/bin/python bench/bench_memory.py --feeds 100 --cycles 30 --interval 1    # a quick look

It starts `press-monitor run` as a subprocess against feed servers on 127.0.0.1 ... 127.0.0.N
(loopback addresses, so the daemon's two-requests-per-host limit applies per server as it would
per real host). Every cycle a share of the feeds publishes a new item, some of which match a rule
and alert through a console channel; the rest answer 304 to the conditional GET. Resident memory
(VmRSS) of the daemon (and of any child process it starts) is sampled every few cycles. A leak shows
as growth after warm-up; the verdict compares the last sample with the one after warm-up.

This is a benchmark, not a test: it takes minutes and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("summit", "merger", "earnings", "launch", "partnership", "forecast", "dividend", "appointment")


class Feeds:
    """The feeds' contents: per feed a version counter; a new version adds an item (20 kept)."""

    def __init__(self, count: int, keep: int = 20) -> None:
        self.keep = keep
        self.versions = [keep - 1] * count  # every feed starts with `keep` items, like a real wire feed
        self.hits = [0] * count
        self.lock = threading.Lock()
        self.start = datetime.now(UTC)

    def publish(self, feed: int) -> None:
        with self.lock:
            self.versions[feed] += 1

    def body(self, feed: int, version: int) -> bytes:
        items = []
        for n in range(max(0, version - self.keep + 1), version + 1):
            word = WORDS[(feed * 7 + n) % len(WORDS)]
            when = format_datetime(self.start + timedelta(seconds=n), usegmt=True)
            title = escape(f"Company {feed} announces {word} number {n}")
            text = escape(f"<p>NEW YORK, {when} /PRNewswire/ -- Company {feed} said today that the {word} "
                          f"would go ahead. " + "Further details follow in this paragraph. " * 30 + "</p>")
            items.append(f"<item><title>{title}</title><link>https://wire.example/{feed}/{n}</link>"
                         f"<guid>wire-{feed}-{n}</guid><pubDate>{when}</pubDate>"
                         f"<description>{text}</description></item>")
        return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>Feed "
                f"{feed}</title><link>https://wire.example/</link><description>bench</description>"
                + "".join(reversed(items)) + "</channel></rss>").encode()


def serve(feeds: Feeds, host: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            feed = int(self.path.rsplit("/", 1)[-1].removesuffix(".xml"))
            with feeds.lock:
                version = feeds.versions[feed]
                feeds.hits[feed] += 1
            etag = f'"v{version}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = feeds.body(feed, version)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = [int(c) for c in Path(f"/proc/{p}/task/{t}/children").read_text().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between polls of one feed")
    ap.add_argument("--hosts", type=int, default=10, help="feed servers (127.0.0.1 ... 127.0.0.N)")
    ap.add_argument("--publish", type=float, default=0.05, help="share of feeds publishing each cycle")
    ap.add_argument("--workers", type=int, default=16, help="the daemon's --workers (poll threads)")
    ap.add_argument("--log-level", default="WARNING", help="the daemon's log_level (INFO logs every poll)")
    ap.add_argument("--warmup", type=int, default=20, help="cycles before the baseline sample")
    ap.add_argument("--every", type=int, default=10, help="sample every this many cycles")
    args = ap.parse_args()

    feeds = Feeds(args.feeds)
    servers = [serve(feeds, f"127.0.0.{i + 1}") for i in range(args.hosts)]
    urls = [f"http://127.0.0.{i % args.hosts + 1}:{servers[i % args.hosts].server_address[1]}/feed/{i}.xml"
            for i in range(args.feeds)]
    work = Path(tempfile.mkdtemp(prefix="pm-bench-"))
    config = work / "config.toml"
    lines = ['[monitor]', 'database = "archive.db"', 'timeout = "10s"', f'log_level = "{args.log_level}"',
             'alert_max_age = "3650d"', '']
    for i, url in enumerate(urls):
        lines += ["[[feeds]]", f'name = "feed-{i}"', f'url = "{url}"', f"interval = {args.interval}",
                  "full_text = false", ""]
    lines += ['[channels.out]', 'type = "console"', '',
              '[[rules]]', 'name = "summits"', 'query = "summit"', 'notify = ["out"]', '']
    config.write_text("\n".join(lines))

    log = open(work / "daemon.log", "wb")  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run",
                             "--workers", str(args.workers)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    print(f"daemon pid {proc.pid}; {args.feeds} feeds on {args.hosts} hosts, interval {args.interval:g}s, "
          f"{args.cycles} cycles; archive and log in {work}")
    print(f"{'cycle':>5} {'time':>7} {'polls/s':>8} {'daemon RSS':>11} {'children RSS':>13} {'releases':>9}")
    samples: list[tuple[int, int, int]] = []
    start = time.monotonic()
    published_cycle = 0
    last_hits, last_t = 0, start
    next_sample = args.every
    rng_feed = 0
    try:
        while True:
            time.sleep(0.25)
            if proc.poll() is not None:
                print(f"daemon exited early with {proc.returncode}; see {work / 'daemon.log'}")
                return 1
            with feeds.lock:
                total = sum(feeds.hits)
            cycle = total // args.feeds
            while published_cycle < cycle:  # each completed cycle: a share of the feeds publishes
                published_cycle += 1
                for _ in range(max(1, int(args.feeds * args.publish))):
                    feeds.publish(rng_feed % args.feeds)
                    rng_feed += 7
            if cycle >= next_sample or cycle >= args.cycles:
                now = time.monotonic()
                rate = (total - last_hits) / max(1e-9, now - last_t)
                last_hits, last_t = total, now
                main_kb = rss_kb(proc.pid)
                kids_kb = sum(rss_kb(p) for p in descendants(proc.pid))
                releases = sum(v + 1 for v in feeds.versions)
                samples.append((cycle, main_kb, kids_kb))
                print(f"{cycle:>5} {now - start:>6.0f}s {rate:>8.0f} {main_kb / 1024:>9.1f}MB {kids_kb / 1024:>11.1f}MB"
                      f" {releases:>9}", flush=True)
                next_sample = cycle - cycle % args.every + args.every
                if cycle >= args.cycles:
                    break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        for s in servers:
            s.shutdown()
        log.close()
    misses = (work / "daemon.log").read_text(errors="replace").count("event=job_missed")
    base = next(((c, m, k) for c, m, k in samples if c >= args.warmup), samples[0])
    last = samples[-1]
    growth = (last[1] - base[1]) / 1024
    print(f"\ndaemon exit code {code}; missed runs logged: {misses}")
    print(f"daemon RSS after warm-up (cycle {base[0]}): {base[1] / 1024:.1f} MB; at cycle {last[0]}: "
          f"{last[1] / 1024:.1f} MB; growth {growth:+.1f} MB ({100 * growth * 1024 / max(1, base[1]):+.1f} %)")
    if last[2]:
        print(f"child processes RSS: {base[2] / 1024:.1f} MB -> {last[2] / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
