"""Slow and idle clients against `press-monitor serve`: how long /healthz takes meanwhile (issue 23).

    .venv/bin/python bench/bench_slowloris.py [--slow 24] [--idle 1000] [--seconds 20] [--code DIR]

Starts `press-monitor serve --port 0` in a child process (the `monitor` package from --code, this
checkout by default: pass another checkout to measure its server the same way) over a fresh empty
archive. Then, one scenario after the other:

  slow    --slow connections from 127.0.0.2 each send one request-head byte every 3 s (never the end);
  idle    --idle connections from 127.0.0.2 send nothing;
  spread  --idle connections, each from its own loopback address (127.1.x.y), dribbling as `slow`;

and meanwhile /healthz is asked from 127.0.0.1 once a second for --seconds: each probe's time to a
full answer (cut at 30 s: counted as unanswered). Loopback only; every loop is bounded by count
and time, and the child is stopped at the end. Prints one line per scenario: probes answered,
median and worst latency.

Measured 2026-12-04 on the shared 2-core machine (load ~3), `--slow 24 --idle 1000 --seconds 20`:
see bench/README.md ("Web view under slow clients").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE_TIMEOUT = 30.0
CONFIG = """
[monitor]
database = "{db}"

[[feeds]]
name = "Example"
url = "https://example.com/feed.rss"
"""


def start(code: Path, cfg: Path) -> tuple[subprocess.Popen[str], str, int]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=code)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "http://" in line:
            url = line[line.index("http://"):].split()[0]
            host, port = url.split("/")[2].rsplit(":", 1)
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, host, int(port)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("press-monitor serve did not print its URL")


def probe(host: str, port: int) -> float | None:
    """Seconds to a whole /healthz answer from 127.0.0.1; None if none came within PROBE_TIMEOUT."""
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT, source_address=("127.0.0.1", 0)) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b"".join(iter(lambda: s.recv(65536), b""))
    except OSError:
        return None
    return time.monotonic() - t0 if data.startswith(b"HTTP/") else None


def source(i: int, spread: bool) -> str:
    """127.0.0.2 for every client, or (spread) one loopback address each: 127.1.x.y."""
    return f"127.1.{i // 250}.{i % 250 + 1}" if spread else "127.0.0.2"


def open_clients(host: str, port: int, n: int, spread: bool = False) -> list[socket.socket]:
    out = []
    for i in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5, source_address=(source(i, spread), 0))
        except OSError:
            break  # the server (or the kernel's backlog) would take no more
        out.append(s)
    return out


def scenario(host: str, port: int, name: str, n: int, seconds: float, dribble: bool, spread: bool = False) -> str:
    clients = open_clients(host, port, n, spread)
    stop = threading.Event()

    def drip() -> None:
        head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
        i = 0
        while not stop.wait(3.0) and i < len(head):
            for s in clients:
                with contextlib.suppress(OSError):
                    s.send(head[i:i + 1])
            i += 1

    dripper = threading.Thread(target=drip, daemon=True)
    if dribble:
        for s in clients:
            with contextlib.suppress(OSError):
                s.send(b"G")
        dripper.start()
    times: list[float | None] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        times.append(probe(host, port))
        time.sleep(max(0.0, 1.0 - (times[-1] or 0.0)))
    stop.set()
    if dribble:
        dripper.join()
    open_now = 0
    for s in clients:
        s.setblocking(False)
        try:
            open_now += s.recv(1) != b""
        except BlockingIOError:
            open_now += 1
        except OSError:
            pass
        s.close()
    ok = [t for t in times if t is not None]
    median = f"{statistics.median(ok) * 1000:.0f} ms" if ok else "-"
    worst = f"{max(ok) * 1000:.0f} ms" if ok else "-"
    return (f"{name:<6} {len(clients):>5} connected ({open_now} still open at the end): /healthz answered"
            f" {len(ok)}/{len(times)}, median {median}, worst {worst}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slow", type=int, default=24)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose monitor package serves")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))  # the child inherits it
    with tempfile.TemporaryDirectory(prefix="pm-slowloris-") as tmp:
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(CONFIG.format(db=Path(tmp) / "archive.db"), encoding="utf-8")
        proc, host, port = start(args.code.resolve(), cfg)
        try:
            print(f"server from {args.code}: baseline /healthz {probe(host, port)}")
            print(scenario(host, port, "slow", args.slow, args.seconds, dribble=True), flush=True)
            print(scenario(host, port, "idle", args.idle, args.seconds, dribble=False), flush=True)
            print(scenario(host, port, "spread", args.idle, args.seconds, dribble=True, spread=True), flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
