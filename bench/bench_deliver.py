"""Benchmark: drain a backlog of alerts to one webhook on loopback, against a raw POST loop.

    python bench/bench_deliver.py [--alerts 10000] [--rules 1] [--profile]

Setup: a fresh archive with N releases, each matched by one rule and queued for one webhook
channel (as a poll would queue them); a receiver in its own process (HTTP/1.1 keep-alive, answers
200 at once). Then, in this process:

  baseline  N POSTs of an alert-sized JSON body through a bare urllib3 pool of one kept-alive
            connection (the library monitor/httpclient.py sends with): the floor any sender pays on
            this machine (HTTP and the receiver, nothing else)
  drain     monitor.deliver.drain() over the whole outbox: render, sign, POST, and one committed
            outcome per alert, through the channels the daemon builds (ChannelSet)

`--rules K` (issue 21): each release is matched by K rules, so the N alerts are N/K releases, each
sent as one message naming its K rules (deliver.group).

Target (issue 14): 10,000 alerts drain in <= 20 s. The last line is JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import pstats
import sys
import tempfile
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import urllib3  # noqa: E402

from monitor import channels as channels_mod  # noqa: E402
from monitor import deliver  # noqa: E402
from monitor.channel_options import WebhookOptions  # noqa: E402
from monitor.clock import SystemClock  # noqa: E402
from monitor.normalize import normalize  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.types import ChannelSpec, Entry  # noqa: E402


def _serve(port_out: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def queue(store: Store, n: int, now: datetime, rules: int = 1) -> None:
    """Store n alerts for the channel "hook" in one transaction: n/rules releases, each matched by `rules` rules."""
    with store.transaction():
        fid = store.feed_id("wire", "https://wire.example/rss")
        for i in range(n // rules):
            entry = Entry(guid=f"g{i}", link=f"https://www.prnewswire.com/news-releases/summit-{i}.html",
                          title=f"Summit number {i} opens in Astana", author="CGTN", published=now, updated=None,
                          summary=f"<p>ASTANA, Nov. 27, 2026 /PRNewswire/ -- Summit {i} opens with leaders.</p>",
                          content="")
            item = normalize(entry, now=now)
            rid = store.insert_release(item, "wire", now)
            store.add_sighting(fid, "wire", rid, item, now)
            for k in range(rules):
                rule = "summits" if k == 0 else f"summits-{k}"
                store.add_match(rid, rule, "a [summit] opens", now)
                store.add_alert(rid, rule, "hook", now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1, help="rules matching each release (one message each)")
    parser.add_argument("--profile", action="store_true", help="print the drain's top functions")
    args = parser.parse_args()

    ports: Any = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    receiver.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/hook"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clock = SystemClock()
            with Store(Path(tmp) / "bench.db") as store:
                t = time.perf_counter()
                queue(store, args.alerts, clock.now(), args.rules)
                args.alerts = args.alerts // args.rules * args.rules
                setup = time.perf_counter() - t

                spec = ChannelSpec("hook", "webhook", options=WebhookOptions(url=url))
                with channels_mod.ChannelSet({"hook": spec}) as chans:
                    sample = store.notices(store.due_alerts(clock.now(), args.rules))
                    body = chans["hook"].render(sample, now=clock.now())  # type: ignore[attr-defined]
                    messages = args.alerts // args.rules

                    port = urllib3.util.parse_url(url).port
                    with urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False) as pool:
                        t, c = time.perf_counter(), time.process_time()
                        for i in range(messages):
                            pool.urlopen("POST", "/hook", body=body, headers={"Content-Type": "application/json",
                                                                              "webhook-id": f"b{i}"}).close()
                        baseline, baseline_cpu = time.perf_counter() - t, time.process_time() - c

                    profile = cProfile.Profile() if args.profile else None
                    t, c = time.perf_counter(), time.process_time()
                    if profile:
                        profile.enable()
                    report = deliver.drain(store, chans, {"hook": spec}, clock)
                    if profile:
                        profile.disable()
                    drained, drained_cpu = time.perf_counter() - t, time.process_time() - c
    finally:
        receiver.terminate()

    print(f"{'alerts':>8}  {'setup s':>8}  {'baseline s':>10}  {'(cpu)':>6}  {'drain s':>8}  {'(cpu)':>6}  "
          f"{'alerts/s':>9}  {'ratio':>6}")
    print(f"{args.alerts:>8}  {setup:>8.1f}  {baseline:>10.2f}  {baseline_cpu:>6.2f}  {drained:>8.2f}  "
          f"{drained_cpu:>6.2f}  {args.alerts / drained:>9.0f}  {drained / baseline:>6.2f}")
    print(f"{messages} messages ({args.rules} rule(s) each)")
    print(f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}, waiting {report.waiting}; "
          f"target: {args.alerts} in <= 20 s -> {'met' if drained <= 20 and report.sent == args.alerts else 'MISSED'}")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    print(json.dumps({"alerts": args.alerts, "drain_s": round(drained, 3), "drain_cpu_s": round(drained_cpu, 3),
                      "alerts_per_s": round(args.alerts / drained), "messages": messages,
                      "baseline_s": round(baseline, 3),
                      "baseline_cpu_s": round(baseline_cpu, 3), "ratio": round(drained / baseline, 2),
                      "sent": report.sent}))


if __name__ == "__main__":
    main()
