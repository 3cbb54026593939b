"""Benchmark: the CPU of a warm poll's HTTP, i.e. N conditional GETs answered 304, through `Fetcher`.

    .venv/bin/python bench/bench_fetch.py [--feeds 200] [--rounds 5]

bench/wire.py serves the feeds in its own process. Each feed is fetched once for its validators
(what a warm archive holds), then every round sends one conditional GET per feed, one after the
other in this thread, as the lead measured it for issue 14:

  fetcher   monitor.fetch.Fetcher.fetch(url, FeedState(etag, last_modified)): the project's client
            (a requests Session with our adapter, monitor/httpclient.py), its deadline, redirect
            and 304 handling
  urllib3   the same GETs through a bare urllib3 pool (one kept-alive connection): the floor under
            requests
  requests  the same through a plain requests.Session().get(): what requests costs used the usual
            way (environment lookups per request, hooks, cookies, the redirect machinery), which
            the client avoids (proxies and CA read once, the mounted adapter called directly)

CPU is this process's user+sys (the wire runs elsewhere); the best round of each is reported. Run
with another tree's bench/ copy to compare two versions of Fetcher on the same machine state.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import urllib3  # noqa: E402

from bench.bench_ingest import start_wire  # noqa: E402
from monitor.clock import SystemClock  # noqa: E402
from monitor.fetch import ACCEPT, Fetcher  # noqa: E402
from monitor.types import FeedState  # noqa: E402


def timed(fn: Callable[[], None], rounds: int) -> tuple[float, float]:
    """Return the best (CPU s, wall s) of `rounds` calls of fn."""
    best_cpu, best_wall = float("inf"), float("inf")
    for _ in range(rounds):
        c, w = time.process_time(), time.perf_counter()
        fn()
        best_cpu, best_wall = min(best_cpu, time.process_time() - c), min(best_wall, time.perf_counter() - w)
    return best_cpu, best_wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    a.overlap, a.seed, a.latency_ms = 0.3, 1, 0
    wire, base = start_wire(a)
    try:
        urls = [f"{base}/feed/{i}.rss" for i in range(a.feeds)]
        with Fetcher(user_agent="press-monitor-bench/1", timeout=20.0, max_bytes=50_000_000,
                     clock=SystemClock()) as fetcher:
            states = []
            for url in urls:
                got = fetcher.fetch(url)
                states.append(FeedState(url=url, etag=got.etag, last_modified=got.last_modified))

            def poll() -> None:
                for url, state in zip(urls, states, strict=True):
                    assert fetcher.fetch(url, state).not_modified

            results = {"fetcher": timed(poll, a.rounds)}

        headers = [{"User-Agent": "press-monitor-bench/1", "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate",
                    **({"If-None-Match": s.etag} if s.etag else {}),
                    **({"If-Modified-Since": s.last_modified} if s.last_modified else {})} for s in states]
        paths = [urllib3.util.parse_url(u).request_uri for u in urls]
        port = urllib3.util.parse_url(base).port
        with urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False) as pool:
            def raw() -> None:
                for path, h in zip(paths, headers, strict=True):
                    resp = pool.urlopen("GET", path, headers=h, redirect=False, preload_content=False)
                    assert resp.status == 304
                    resp.read()
                    resp.release_conn()

            results["urllib3"] = timed(raw, a.rounds)

        try:
            import requests
        except ImportError:
            requests = None  # type: ignore[assignment]
        if requests is not None:
            with requests.Session() as session:
                def via_requests() -> None:
                    for url, h in zip(urls, headers, strict=True):
                        resp = session.get(url, headers=h, allow_redirects=False, timeout=(20, 20))
                        assert resp.status_code == 304
                        resp.close()

                results["requests"] = timed(via_requests, a.rounds)
    finally:
        wire.terminate()
        wire.wait()

    floor = results["urllib3"][0]
    print(f"{a.feeds} conditional GETs answered 304, one thread, best of {a.rounds} rounds")
    print(f"{'client':>10}  {'cpu s':>7}  {'wall s':>7}  {'cpu/GET ms':>10}  {'cpu vs urllib3':>14}")
    for name, (cpu, wall) in results.items():
        print(f"{name:>10}  {cpu:>7.3f}  {wall:>7.3f}  {cpu / a.feeds * 1000:>10.3f}  {cpu / floor:>13.2f}x")
    print(json.dumps({"feeds": a.feeds, "rounds": a.rounds,
                      **{f"{k}_cpu_s": round(v[0], 4) for k, v in results.items()},
                      **{f"{k}_wall_s": round(v[1], 4) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
