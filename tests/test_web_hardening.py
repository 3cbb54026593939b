"""The web server's error boundary and limits (issue 11), through a real `press-monitor serve` process.

Every request gets an HTTP answer (4xx/5xx page, never a traceback or a dropped connection), idle
connections are closed, threads are bounded, and only http(s) links are rendered as links.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.store import Store
from monitor.types import Database
from monitor.web.gate import PER_CLIENT
from monitor.web.server import MAX_THREADS, WebServer
from tests.configs import wait_for
from tests.conftest import BACKENDS
from tests.test_export import CONFIG, T0, build_archive, config_for, release
from tests.test_web import Served, start_server, stop_server


def _serve(tmp: Path, database: Database) -> Served:
    cfg = tmp / "config.toml"
    cfg.write_text(config_for(database), encoding="utf-8")
    ids = build_archive(database)
    with Store(database) as store, store.transaction():
        fid = store.feed_id("PRN World", "https://www.prnewswire.com/rss/world.rss")
        item = release("evil-1", "Links that are not web links", "Nothing to click here.",
                       url="javascript:alert(1)", published=T0)
        item = item.__class__(**{**item.__dict__, "link": "data:text/html,<script>alert(2)</script>"})
        ids["evil"] = store.insert_release(item, "PRN World", T0)
        store.add_sighting(fid, "PRN World", ids["evil"], item, T0)
    proc, url = start_server(cfg)
    return Served(url, cfg, ids, proc, database)


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`serve` over the test archive on each backend in turn (one server per backend for the module:
    the `database` fixture is per test; conftest.py's --backend is honoured)."""
    if request.config.getoption("--backend") not in ("both", request.param):
        pytest.skip(f"--backend {request.config.getoption('--backend')}")
    tmp = tmp_path_factory.mktemp("hardening")
    database: Database = tmp / "archive.db"
    if request.param == "postgresql":
        database = request.getfixturevalue("pg_test_database").archive()
    s = _serve(tmp, database)
    try:
        yield s
    finally:
        stop_server(s.proc)


@pytest.fixture(scope="module")
def served_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server on SQLite, for the tests of the server itself (connections, threads): no store in them."""
    tmp = tmp_path_factory.mktemp("hardening-server")
    s = _serve(tmp, tmp / "archive.db")
    try:
        yield s
    finally:
        stop_server(s.proc)


def raw_get(served: Served, target: str) -> tuple[int, str]:
    """GET a raw request target (no client-side quoting); a dropped connection raises."""
    host, port = urllib.parse.urlsplit(served.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.mark.parametrize(("target", "status"), [
    ("/?q=%22Central%20Asia", 400),
    ("/?q=%2A", 200),  # "*" alone is everything
    ("/release/99999999999999999999", 404),
    ("/?page=99999999999999999999", 200),
    ("/release/%C2%B2", 404),
    ("/release/%FF", 404),
    ("/rule/%FF%FE", 404),
    ("/rules/try?q=%22open", 400),
    ("/rule/earnings?before=x~99999999999999999999999", 200),
    ("/api/releases/%C2%B2", 404),
])
def test_bad_urls_get_a_page_not_a_traceback(served: Served, target: str, status: int) -> None:
    got, body = raw_get(served, target)
    assert got == status, body[:500]
    assert "Traceback" not in body and "<html" in body or body.startswith("{")


def test_only_http_links_are_links(served: Served) -> None:
    status, body = raw_get(served, f"/release/{served.ids['evil']}")
    assert status == 200
    assert 'href="javascript:' not in body and 'href="data:' not in body
    assert "javascript:alert(1)" in body  # shown as text
    assert "data:text/html,&lt;script&gt;" in body
    status, body = raw_get(served, f"/release/{served.ids['summit']}")
    assert 'href="https://www.prnewswire.com/news/summit-1.html"' in body


def test_idle_connections_are_closed_and_threads_bounded(served_sqlite: Served) -> None:
    served = served_sqlite
    host, port = urllib.parse.urlsplit(served.url).netloc.split(":")
    idle = [socket.create_connection((host, int(port)), timeout=60) for _ in range(MAX_THREADS + 8)]
    try:
        time.sleep(0.5)  # let the server accept what it will (no assertion depends on this)
        threads = len(os.listdir(f"/proc/{served.proc.pid}/task"))
        assert threads <= MAX_THREADS + 4, threads  # main thread + workers, never one per connection
        # The gate hangs up on a connection whose request head has not arrived within HEAD_SECONDS,
        # and a real request gets through meanwhile: idle clients never hold a worker.
        assert idle[0].recv(1) == b""
        assert raw_get(served, "/rules")[0] == 200
    finally:
        for s in idle:
            s.close()


QUERY_KEYS = st.sampled_from(["q", "page", "rule", "feed", "wire", "place", "date", "before", "limit", "cursor",
                              "x"])
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['"Central Asia', "*", "AND", "NEAR(", "@nope", "@central_asia", "title:", "-1", "0",
                     "99999999999999999999", "2026-13", "2026-02-30", "1e400", "NaN", "\x00", "²", "%", "~"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
PATHS = st.sampled_from(["/", "/search", "/rules", "/rules/try", "/rule/earnings", "/rule/%C2%B2", "/feeds",
                         "/release/1", "/api/search", "/api/rules/earnings/matches", "/api/alerts", "/api/feeds",
                         "/healthz", "/rule/earnings/feed.atom"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, params=st.lists(st.tuples(QUERY_KEYS, VALUES), max_size=4))
def test_fuzzed_query_strings_never_break_the_server(served: Served, path: str, params: list) -> None:
    target = path + ("?" + urllib.parse.urlencode(params) if params else "")
    status, body = raw_get(served, target)  # a dropped connection raises here
    assert status in ((200, 503) if path == "/healthz" else (200, 400, 404)), (target, status, body[:300])
    assert "Traceback" not in body


def test_too_many_parameters_is_a_bad_request(served: Served) -> None:
    status, body = raw_get(served, "/?" + "&".join(f"a{i}=1" for i in range(150)))
    assert status == 400 and "more than 100 query parameters" in body


def test_an_unexpected_error_is_a_500_page_with_the_traceback_at_debug(
        tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import threading
    import urllib.error
    import urllib.request

    from monitor import app as app_mod
    from monitor.web import make_server

    tmp = tmp_path_factory.mktemp("boom")
    (tmp / "config.toml").write_text(CONFIG, encoding="utf-8")
    build_archive(tmp / "archive.db")
    server = make_server(app_mod.load(tmp / "config.toml"), "127.0.0.1", 0)

    def broken() -> tuple[int, bytes]:
        raise RuntimeError("a bug in a page handler")

    server.routes.pages.rules = broken  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="monitor.web"):
            for path, ctype in (("rules", "text/html"), ("api/nothing", "application/json")):
                try:
                    urllib.request.urlopen(server.url + path, timeout=10)
                except urllib.error.HTTPError as exc:
                    status, body, got = exc.code, exc.read().decode(), exc.headers["Content-Type"]
                assert got.startswith(ctype)
                if path == "rules":
                    assert status == 500 and "Internal error" in body and "Traceback" not in body
                    assert "a bug in a page handler" not in body
        assert any("a bug in a page handler" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[WebServer]:
    """A server in this process, so a test can read its gate's counts and set its limits."""
    from monitor import app as app_mod
    from monitor.web import make_server

    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    build_archive(tmp_path / "archive.db")
    server = make_server(app_mod.load(tmp_path / "config.toml"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _get(server: WebServer, path: str, source: str = "127.0.0.1") -> tuple[int, bytes]:
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=60, source_address=(source, 0)) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b"".join(iter(lambda: s.recv(65536), b""))
    return int(data.split(b" ", 2)[1]), data


def test_slowloris_clients_do_not_stop_healthz(in_process: WebServer) -> None:
    """More slow clients than workers, each dribbling its request head: /healthz still answers (issue 23)."""
    server = in_process
    server.gate.head_seconds = 3600  # nothing is cut by the deadline in this test: only the gate's design helps
    host, port = str(server.server_address[0]), int(server.server_address[1])
    slow = [socket.create_connection((host, port), timeout=60, source_address=("127.0.0.2", 0))
            for _ in range(MAX_THREADS + 8)]
    try:
        for s in slow:
            s.sendall(b"G")  # one byte of a request head, the rest withheld
        wait_for(lambda: server.gate.waiting() == len(slow), 60, "the gate to hold every slow client")
        for path in ("/healthz", "/api/rules", "/rules"):
            status, body = _get(server, path)
            assert status in (200, 503) if path == "/healthz" else status == 200, body[:300]
        # The slow clients were held all along, none was cut or answered: they were simply not in the way.
        assert server.gate.waiting() == len(slow)
        assert server.gate.counts["timed_out"] == server.gate.counts["refused"] == 0
        # One address may hold PER_CLIENT heads in progress; connections past that are hung up at once.
        extra = [socket.create_connection((host, port), timeout=60, source_address=("127.0.0.2", 0))
                 for _ in range(PER_CLIENT - len(slow) + 3)]
        try:
            wait_for(lambda: server.gate.counts["refused"] == 3, 60, "three connections past the cap refused")
            assert _get(server, "/healthz")[0] in (200, 503)  # other addresses are not affected
        finally:
            for s in extra:
                s.close()
        # A slow client that does finish its head is answered like anyone else.
        for s in slow[:4]:
            s.sendall(b"ET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            assert b"".join(iter(lambda s=s: s.recv(65536), b"")).split(b" ", 2)[1] in (b"200", b"503")  # type: ignore[misc]
    finally:
        for s in slow:
            s.close()


def test_a_request_head_must_arrive_whole_within_the_deadline(in_process: WebServer) -> None:
    server = in_process
    server.gate.head_seconds = 0.5
    host, port = str(server.server_address[0]), int(server.server_address[1])
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(b"GET /healthz HTTP/1.0\r\n")  # and never the empty line that ends the head
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(1) == b""  # hung up, not answered (the guard timeout above fails the test)
    assert server.gate.counts["timed_out"] == 1 and server.gate.counts["dispatched"] == 0


def test_a_long_request_line_is_answered_in_json_on_the_api(in_process: WebServer) -> None:
    status, body = _get(in_process, "/api/search?q=" + "a" * 70_000)
    assert status == 414 and body.split(b"\r\n\r\n", 1)[1].startswith(b"{"), body[:300]
    status, body = _get(in_process, "/api/search?q=" + "a" * 65_600)
    assert status == 414 and b'"error"' in body, body[:300]
    status, body = _get(in_process, "/search?q=" + "a" * 70_000)
    assert status == 414 and b"<html" in body


def test_a_flood_of_requests_is_shed_not_queued_for_ever(in_process: WebServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.web import server as server_mod

    monkeypatch.setattr(server_mod, "MAX_QUEUED", 0)  # as if every worker were busy and the queue full
    status, body = _get(in_process, "/rules")
    assert status == 503 and b"Retry-After: 5" in body and body.endswith(b'try again in a few seconds"}')
    assert in_process.counts["shed"] == 1
