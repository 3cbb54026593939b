"""Cluster benchmark (issue 19): 1, 2 and 3 `press-monitor run` nodes on one PostgreSQL archive.

    .venv/bin/python bench/bench_cluster.py                      # 300 feeds, 60 s per size, 10 kills
    .venv/bin/python bench/bench_cluster.py --feeds 100 --window 30 --kills 5 --nodes 1,3

Throughput, per cluster size (a fresh archive each, the nodes started together):
  every feed has `interval = "1s"`, so the nodes poll as fast as they can (after the first poll
  mostly 304s: the steady state of a real deployment); each of the feeds' 2 items matches a rule
  (one webhook alert each) and has a release page on one of 20 loopback hosts (127.0.0.2-21,
  page_delay = 0). Reported: feed polls per minute over the window's second half, pages per minute
  and alerts per second from the first to the last one, lease row writes (inserts, updates,
  deletes on `leases`, from pg_stat_user_tables) per node per minute, and the CPU the nodes and the
  whole machine used: which of PostgreSQL or the 2 cores was the limit.
Failover, with 2 nodes and the lease given (--lease, 5 s): a release whose page hangs is
  published; the node fetching it (the leases table names it) is killed with -9; failover is the
  time from the kill to the other node asking for that page. p50/p95 over --kills kills.

The baseline in the same process is the 1-node run: ratios are against it. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.pgserver import TestDatabase  # noqa: E402

HOSTS = [f"127.0.0.{i}" for i in range(2, 22)]
TICK = os.sysconf("SC_CLK_TCK")


class Wire:
    """Feeds, pages and a webhook receiver on one loopback server (listening on every 127.x address)."""

    def __init__(self, feeds: int, items: int = 2) -> None:
        self.lock = threading.Lock()
        self.feed_hits: list[float] = []
        self.page_hits: dict[str, list[float]] = {}
        self.alerts: list[tuple[float, str]] = []
        self.hang = threading.Event()
        self.bodies: dict[str, bytes] = {}
        wire = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", f'"{hash(body)}"')
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                now, path = time.monotonic(), self.path
                if path.startswith("/feed/"):
                    with wire.lock:
                        wire.feed_hits.append(now)
                        body = wire.bodies.get(path, b"")
                    if self.headers.get("If-None-Match") == f'"{hash(body)}"':
                        self.send_response(304)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self._reply(200, body, "application/rss+xml")
                elif path.startswith(("/page/", "/hang/")):
                    with wire.lock:
                        wire.page_hits.setdefault(path, []).append(now)
                    if path.startswith("/hang/"):
                        wire.hang.wait(120)
                    self._reply(200, (f"<html><body><article><h1>Release {path}</h1><p>Summit text of {path}, with"
                                      " the full page's several long sentences about the summit.</p></article>"
                                      "</body></html>").encode(), "text/html")
                else:
                    self._reply(404, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with wire.lock:
                    wire.alerts.append((time.monotonic(), self.headers.get("webhook-id", "")))
                del body
                self._reply(200, b"ok")

        self.server = QuietServer(("0.0.0.0", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.feeds = feeds
        self.published = format_datetime(datetime.now(UTC), usegmt=True)
        for f in range(feeds):
            self.publish(f, [f"{f}-{i}" for i in range(items)])

    def publish(self, f: int, items: list[str], page: str = "page") -> None:
        host = HOSTS[f % len(HOSTS)]
        xml = "".join(f"<item><title>Release {i} on the summit</title><link>http://{host}:{self.port}/{page}/{i}</link>"
                      f"<guid>g{i}</guid><pubDate>{self.published}</pubDate><description>Summit {i}.</description>"
                      "</item>" for i in items)
        body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{f}</title><link>http://x/</link>'
                f"<description>d</description>{xml}</channel></rss>").encode()
        with self.lock:
            self.bodies[f"/feed/{f}.xml"] = body

    def config(self, path: Path, url: str, lease: float, *, full_text: bool = True) -> Path:
        lines = ["[monitor]", f'database = "{url}"', 'timeout = "10s"', f'lease = "{lease:g}s"', "page_delay = 0",
                 'allow_private_networks = ["127.0.0.0/8"]', 'log_level = "INFO"', ""]
        for f in range(self.feeds):
            lines += ["[[feeds]]", f'name = "f{f}"', f'url = "http://127.0.0.1:{self.port}/feed/{f}.xml"',
                      'interval = "1s"', f"full_text = {'true' if full_text else 'false'}", ""]
        lines += ["[channels.hook]", 'type = "webhook"', f'url = "http://127.0.0.1:{self.port}/hook"', "",
                  "[[rules]]", 'name = "summit"', 'query = "summit"', 'notify = ["hook"]', ""]
        path.write_text("\n".join(lines))
        return path


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def postgres_cpu() -> float:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
            and (p / "comm").exists() and (p / "comm").read_text().strip() in ("postgres", "postmaster")]
    return cpu_seconds(pids)


def lease_statements(logs: list[Path]) -> int:
    """Lease statements the nodes sent (claims, renewals, releases), from their `stopped` log lines."""
    total = 0
    for log in logs:
        for line in log.read_text().splitlines():
            if "event=stopped" in line:
                total += sum(int(part.split("=")[1]) for part in line.split()
                             if part.startswith(("lease_claims=", "lease_renewals=", "lease_releases=")))
    return total


def lease_writes(url: str) -> int:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
                           " WHERE relname = 'leases' AND schemaname = current_schema()").fetchone()
    return int(row[0]) if row else 0


def wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def throughput(db: TestDatabase, nodes: int, feeds: int, window: float, lease: float, tmp: Path) -> dict[str, Any]:
    wire = Wire(feeds)
    archive = db.archive()
    config = wire.config(tmp / f"config-{nodes}.toml", archive.url, lease)
    logs = [tmp / f"n{nodes}-{i}.log" for i in range(nodes)]
    procs = [start(config, log) for log in logs]
    t0 = time.monotonic()
    busy0, total0 = machine_busy()
    pg0 = postgres_cpu()
    time.sleep(window / 2)
    writes0 = lease_writes(archive.url)
    half = time.monotonic()
    with wire.lock:
        polls0 = len(wire.feed_hits)
    time.sleep(window / 2)
    end = time.monotonic()
    with wire.lock:
        polls1 = len(wire.feed_hits)
    writes1 = lease_writes(archive.url)
    expected = feeds * 2
    wait(lambda: len({a for _, a in wire.alerts}) >= expected and len(wire.page_hits) >= expected, 120)
    node_cpu = cpu_seconds([p.pid for p in procs])
    busy1, total1 = machine_busy()
    pg1 = postgres_cpu()
    elapsed = time.monotonic() - t0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    codes = [p.wait(120) for p in procs]
    stopped = time.monotonic()
    statements = lease_statements(logs)
    with wire.lock:
        page_times = sorted(t for hits in wire.page_hits.values() for t in hits)
        alert_times = sorted(t for t, _ in wire.alerts)
        distinct = len({a for _, a in wire.alerts})
    wire.server.shutdown()
    minutes = (end - half) / 60
    return {
        "nodes": nodes, "exit_codes": codes,
        "polls_per_min": round((polls1 - polls0) / minutes),
        "pages": len(page_times), "pages_per_min": round(len(page_times) / max(1e-9, (page_times[-1] - page_times[0]))
                                                         * 60) if len(page_times) > 1 else None,
        "alerts": distinct, "alert_deliveries": len(alert_times),
        "alerts_per_s": round(len(alert_times) / max(1e-9, alert_times[-1] - alert_times[0]), 1)
        if len(alert_times) > 1 else None,
        "lease_statements_per_node_min": round(statements / nodes / ((stopped - t0) / 60)),
        "lease_row_writes_per_node_min": round((writes1 - writes0) / minutes / nodes),
        "polls_total": len(wire.feed_hits),
        "node_cpu_cores": round(node_cpu / elapsed, 2),
        "postgres_cpu_cores": round((pg1 - pg0) / elapsed, 2),
        "machine_busy": round((busy1 - busy0) / max(1, total1 - total0), 2),
    }


def failover(db: TestDatabase, kills: int, lease: float, tmp: Path) -> dict[str, Any]:
    wire = Wire(20, items=1)  # (an empty feed is a failing feed: it backs off for minutes)
    archive = db.archive()
    config = wire.config(tmp / "config-failover.toml", archive.url, lease)
    procs = [start(config, tmp / f"fail-{i}.log") for i in range(2)]
    times: list[float] = []
    skipped = 0
    try:
        for k in range(kills):
            wire.hang.clear()
            path = f"/hang/k{k}"
            wire.publish(k % wire.feeds, [f"k{k}"], page="hang")
            if not wait(lambda p=path: p in wire.page_hits, 60):  # type: ignore[misc]
                print(f"kill {k}: the page {path} was never asked for; skipped", flush=True)
                skipped += 1
                continue
            holder = None

            def held(path: str = path) -> bool:
                nonlocal holder
                with psycopg.connect(archive.url) as conn:
                    row = conn.execute("SELECT l.node FROM leases l JOIN pages p ON l.resource = 'page:' || p.id"
                                       " WHERE p.url LIKE %s", (f"%{path}",)).fetchone()
                holder = row[0] if row else None
                return holder is not None
            if not wait(held, 30):
                raise SystemExit("no node holds the hanging page's lease")
            assert holder is not None
            pid = int(holder.split(":")[1])
            victim = next(p for p in procs if p.pid == pid)
            victim.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            victim.wait(30)
            if not wait(lambda p=path: len(wire.page_hits.get(p, [])) >= 2, 120):  # type: ignore[misc]
                raise SystemExit(f"nobody took over {path}")
            times.append(wire.page_hits[path][1] - killed)
            print(f"kill {k}: failover {times[-1]:.2f} s", flush=True)
            wire.hang.set()
            procs.remove(victim)
            procs.append(start(config, tmp / f"fail-{k}-restart.log"))
            time.sleep(2)  # let the new node start before the next kill
    finally:
        wire.hang.set()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(120)
        wire.server.shutdown()
    times.sort()
    return {"lease_s": lease, "kills": len(times), "failover_p50_s": round(statistics.median(times), 2),
            "failover_p95_s": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 2),
            "failover_max_s": round(times[-1], 2), "skipped": skipped}


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A node killed -9 mid-request leaves its socket closed: expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--window", type=float, default=60.0, help="seconds each cluster size runs")
    ap.add_argument("--nodes", default="1,2,3")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--lease", type=float, default=5.0, help="the lease of the failover phase (s)")
    args = ap.parse_args()
    db = TestDatabase().create()
    results: dict[str, Any] = {"feeds": args.feeds, "window_s": args.window, "load_before": os.getloadavg()[0]}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = []
            for n in [int(x) for x in args.nodes.split(",")]:
                run = throughput(db, n, args.feeds, args.window, 30.0, Path(tmp))
                runs.append(run)
                print(json.dumps(run), flush=True)
            base = runs[0]
            for run in runs:
                for key in ("polls_per_min", "pages_per_min", "alerts_per_s"):
                    if run.get(key) and base.get(key):
                        run[f"{key}_x"] = round(run[key] / base[key], 2)
            results["throughput"] = runs
            if args.kills:
                results["failover"] = failover(db, args.kills, args.lease, Path(tmp))
                print(json.dumps(results["failover"]), flush=True)
    finally:
        from monitor.store import pg
        pg.close_pools()
        db.drop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
