"""monitor.fetch against a real local HTTP server (tests/feedserver.py)."""

from __future__ import annotations

import os
import socket
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitor.clock import Clock, ManualClock, SystemClock
from monitor.errors import ConnectionFailed, FetchTimeout, HTTPStatusError, NotAFeed, TooLarge
from monitor.fetch import Fetcher
from monitor.types import FeedState
from tests.feedserver import FeedServer, Handler, gzip_bomb_bytes, hang_up, respond, rss

FEED = rss([{"title": "Acme buys Widgets", "link": "https://wire.example/1", "guid": "g1"}])


def make(timeout: float = 5.0, max_bytes: int = 1_000_000, clock: Clock | None = None) -> Fetcher:
    clock = clock or SystemClock()
    return Fetcher(user_agent="press-monitor-test/1", timeout=timeout, max_bytes=max_bytes, clock=clock)


@pytest.fixture
def fetcher():
    f = make()
    yield f
    f.close()


# --------------------------------------------------------------------------- conditional GET


def test_etag_round_trip_gives_304_on_one_pooled_connection(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.publish("/feed.xml", FEED, headers={"Cache-Control": "public, max-age=300"})
    url = feed_server.url("/feed.xml")

    first = fetcher.fetch(url)
    assert (first.status, first.body, first.not_modified) == (200, FEED, False)
    assert first.etag and first.etag.startswith('"')
    assert first.final_url == url and first.permanent_redirect is None
    assert first.max_age == 300.0
    seen = feed_server.last("/feed.xml")
    assert seen.headers["If-None-Match"] is None
    assert seen.headers["User-Agent"] == "press-monitor-test/1"
    assert "application/rss+xml" in seen.headers["Accept"]

    second = fetcher.fetch(url, FeedState(url=url, etag=first.etag))
    assert second.not_modified and second.status == 304 and second.body == b""
    assert second.etag == first.etag
    assert feed_server.last("/feed.xml").headers["If-None-Match"] == first.etag
    assert feed_server.connections == 1  # the 200 body was read to the end, so keep-alive worked


def test_last_modified_round_trip(feed_server: FeedServer, fetcher: Fetcher) -> None:
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    feed_server.publish("/lm.xml", FEED, etag="", last_modified=when)
    url = feed_server.url("/lm.xml")

    first = fetcher.fetch(url)
    assert first.etag is None and first.last_modified == format_datetime(when, usegmt=True)
    second = fetcher.fetch(url, FeedState(url=url, last_modified=first.last_modified))
    assert second.not_modified
    assert feed_server.last("/lm.xml").headers["If-Modified-Since"] == first.last_modified


def test_304_without_validators_keeps_the_ones_sent(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/bare304", respond(304))
    url = feed_server.url("/bare304")
    got = fetcher.fetch(url, FeedState(url=url, etag='"v1"', last_modified="Fri, 27 Nov 2026 09:30:00 GMT"))
    assert got.not_modified and got.etag == '"v1"'
    assert got.last_modified == "Fri, 27 Nov 2026 09:30:00 GMT"


def test_validators_of_another_url_are_not_sent(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.publish("/new.xml", FEED)
    fetcher.fetch(feed_server.url("/new.xml"), FeedState(url="http://old.example/feed", etag='"x"'))
    assert feed_server.last("/new.xml").headers["If-None-Match"] is None


def test_gzip_body_is_decoded(feed_server: FeedServer, fetcher: Fetcher) -> None:
    body = rss([{"title": f"Release {i}", "guid": str(i)} for i in range(200)])
    feed_server.publish("/gz.xml", body, gzip=True)
    got = fetcher.fetch(feed_server.url("/gz.xml"))
    assert got.body == body
    assert "gzip" in feed_server.last("/gz.xml").headers["Accept-Encoding"]


# --------------------------------------------------------------------------- deadline


@pytest.mark.slow
@pytest.mark.parametrize("length_known", [True, False], ids=["content-length", "chunked"])
def test_slow_drip_ends_at_the_deadline(feed_server: FeedServer, length_known: bool) -> None:
    # each byte arrives well within the read timeout: only the overall deadline can end this
    feed_server.drip("/drip", FEED * 100 if length_known else None, interval=0.2)
    with make(timeout=1.5) as f:
        t0 = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"timeout after 1\.5s"):
            f.fetch(feed_server.url("/drip"))
        assert time.monotonic() - t0 < 1.5 + 1.5


@pytest.mark.slow
def test_headers_dripping_end_at_the_deadline(feed_server: FeedServer) -> None:
    def drip_headers(h: Handler) -> None:
        h.close_connection = True
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            h.wfile.write(b"X-Slow: 1\r\n")
            h.wfile.flush()
            if h.stopping.wait(0.2):
                return

    feed_server.route("/slowheaders", drip_headers)
    with make(timeout=1.5) as f:
        t0 = time.monotonic()
        with pytest.raises(FetchTimeout):
            f.fetch(feed_server.url("/slowheaders"))
        assert time.monotonic() - t0 < 1.5 + 1.5


def test_hanging_server_times_out(feed_server: FeedServer) -> None:
    feed_server.hang("/hang")
    with make(timeout=1.0) as f:
        t0 = time.monotonic()
        with pytest.raises(FetchTimeout, match="timeout after 1s"):
            f.fetch(feed_server.url("/hang"))
        assert time.monotonic() - t0 < 1.0 + 1.5


def test_fetcher_still_works_after_a_timeout(feed_server: FeedServer) -> None:
    feed_server.hang("/hang")
    feed_server.publish("/ok.xml", FEED)
    with make(timeout=1.0) as f:
        with pytest.raises(FetchTimeout):
            f.fetch(feed_server.url("/hang"))
        assert f.fetch(feed_server.url("/ok.xml")).body == FEED


# --------------------------------------------------------------------------- size cap


def test_endless_body_is_cut_at_the_cap(feed_server: FeedServer) -> None:
    feed_server.endless("/endless")
    with make(max_bytes=200_000) as f, pytest.raises(TooLarge, match="body larger than 200 KB"):
        f.fetch(feed_server.url("/endless"))


def test_declared_content_length_over_the_cap_is_refused_before_reading(feed_server: FeedServer) -> None:
    def headers_then_nothing(h: Handler) -> None:  # a 10 GB body announced, not a byte of it sent
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(10**10))
        h.end_headers()
        h.wfile.flush()
        h.stopping.wait(60)

    feed_server.route("/huge", headers_then_nothing)
    # A fetcher that read before refusing would wait for body bytes that never come and end at its
    # (long) deadline with FetchTimeout: TooLarge means it refused on the declared length alone.
    with make(max_bytes=1_000_000, timeout=30.0) as f, pytest.raises(TooLarge, match="body larger than 1 MB"):
        f.fetch(feed_server.url("/huge"))


def test_gzip_bomb_is_cut_without_inflating_it(feed_server: FeedServer) -> None:
    gzip_bomb_bytes()  # built before measuring: only the fetch's allocations count
    feed_server.gzip_bomb("/bomb")
    with make(max_bytes=1_000_000) as f:
        tracemalloc.start()
        try:
            with pytest.raises(TooLarge, match="body larger than 1 MB"):
                f.fetch(feed_server.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # the bomb inflates to 120 MB; holding the cap plus a few chunks is all that is allowed
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB"


def test_body_at_the_cap_is_accepted(feed_server: FeedServer) -> None:
    feed_server.publish("/exact.xml", FEED)
    with make(max_bytes=len(FEED)) as f:
        assert f.fetch(feed_server.url("/exact.xml")).body == FEED
    with make(max_bytes=len(FEED) - 1) as f, pytest.raises(TooLarge):
        f.fetch(feed_server.url("/exact.xml"))


# --------------------------------------------------------------------------- redirects


def test_redirect_loop_fails(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.redirect_loop("/loop")
    with pytest.raises(ConnectionFailed, match=r"too many redirects \(>5\)"):
        fetcher.fetch(feed_server.url("/loop"))
    assert feed_server.hits("/loop") == 6  # the first request and five redirects


def test_permanent_redirect_is_reported(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.redirect("/old.xml", "/mid.xml", 301)
    feed_server.redirect("/mid.xml", "/new.xml", 302)
    feed_server.publish("/new.xml", FEED)
    got = fetcher.fetch(feed_server.url("/old.xml"))
    assert got.body == FEED
    assert got.url == feed_server.url("/old.xml")
    assert got.permanent_redirect == feed_server.url("/mid.xml")
    assert got.final_url == feed_server.url("/new.xml")


@pytest.mark.parametrize("code", [302, 307])
def test_temporary_redirect_is_followed_not_reported(feed_server: FeedServer, fetcher: Fetcher, code: int) -> None:
    feed_server.redirect("/tmp.xml", "/new.xml", code)
    feed_server.publish("/new.xml", FEED)
    got = fetcher.fetch(feed_server.url("/tmp.xml"))
    assert got.permanent_redirect is None and got.final_url == feed_server.url("/new.xml")


def test_308_relative_location(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/rel", respond(308, headers={"Location": "feeds/new.xml"}))
    feed_server.publish("/feeds/new.xml", FEED)
    got = fetcher.fetch(feed_server.url("/rel"))
    assert got.permanent_redirect == feed_server.url("/feeds/new.xml") == got.final_url


def test_redirect_to_a_file_url_is_refused(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.redirect("/evil", "file:///etc/passwd", 302)
    with pytest.raises(ConnectionFailed, match="unsupported URL"):
        fetcher.fetch(feed_server.url("/evil"))


# --------------------------------------------------------------------------- status codes


@pytest.mark.parametrize(
    ("code", "message"), [(404, "HTTP 404 Not Found"), (410, "HTTP 410 Gone"), (500, "HTTP 500 Internal Server Error")]
)
def test_error_status(feed_server: FeedServer, fetcher: Fetcher, code: int, message: str) -> None:
    feed_server.status("/x", code, b"nope")
    with pytest.raises(HTTPStatusError) as err:
        fetcher.fetch(feed_server.url("/x"))
    assert err.value.status == code and str(err.value) == message and err.value.retry_after is None
    assert err.value.kind == "http"


def test_429_retry_after_seconds(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.retry_later("/busy", 120)
    with pytest.raises(HTTPStatusError) as err:
        fetcher.fetch(feed_server.url("/busy"))
    assert err.value.status == 429 and err.value.retry_after == 120.0
    assert str(err.value) == "HTTP 429 Too Many Requests (retry after 120s)"


def test_503_retry_after_http_date(feed_server: FeedServer) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    feed_server.retry_later("/later", clock.now() + timedelta(minutes=5), code=503)
    feed_server.retry_later("/past", clock.now() - timedelta(minutes=5), code=503)
    with make(clock=clock) as f:
        with pytest.raises(HTTPStatusError) as err:
            f.fetch(feed_server.url("/later"))
        assert err.value.status == 503 and err.value.retry_after == 300.0
        with pytest.raises(HTTPStatusError) as err:
            f.fetch(feed_server.url("/past"))
        assert err.value.retry_after == 0.0  # a date in the past means "now", never negative


def test_429_with_garbage_retry_after(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.retry_later("/busy", "soon-ish")
    with pytest.raises(HTTPStatusError) as err:
        fetcher.fetch(feed_server.url("/busy"))
    assert err.value.status == 429 and err.value.retry_after is None


# --------------------------------------------------------------------------- not a feed


def test_html_page_is_not_a_feed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.html("/page")
    with pytest.raises(NotAFeed, match="got an HTML page, not a feed"):
        fetcher.fetch(feed_server.url("/page"))


def test_feed_served_as_text_html_is_accepted(feed_server: FeedServer, fetcher: Fetcher) -> None:
    body = b"\xef\xbb\xbf\n  " + FEED  # BOM and blank lines before the XML declaration
    feed_server.publish("/mislabelled", body, content_type="text/html; charset=utf-8")
    assert fetcher.fetch(feed_server.url("/mislabelled")).body == body


def test_empty_body_is_not_a_feed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.publish("/empty", b"")
    with pytest.raises(NotAFeed, match="empty response body"):
        fetcher.fetch(feed_server.url("/empty"))


# --------------------------------------------------------------------------- connection failures


def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailed, match=f"connection refused by 127.0.0.1:{port}") as err:
        fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert len(str(err.value)) < 100


def test_server_hanging_up_without_answer(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/gone", hang_up())
    with pytest.raises(ConnectionFailed, match="closed the connection") as err:
        fetcher.fetch(feed_server.url("/gone"))
    assert len(str(err.value)) < 100


def test_unsupported_scheme(fetcher: Fetcher) -> None:
    with pytest.raises(ConnectionFailed, match="unsupported URL"):
        fetcher.fetch("ftp://wire.example/feed.xml")


# --------------------------------------------------------------------------- file: URLs


def test_file_url_read_then_not_modified(tmp_path, fetcher: Fetcher) -> None:
    path = tmp_path / "sample.xml"
    path.write_bytes(FEED)
    url = path.as_uri()
    first = fetcher.fetch(url)
    assert first.body == FEED and first.status == 200 and first.last_modified and first.etag
    second = fetcher.fetch(url, FeedState(url=url, etag=first.etag, last_modified=first.last_modified))
    assert second.not_modified and second.body == b""

    path.write_bytes(FEED + b"\n")  # changed content (and size): read again
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1))
    third = fetcher.fetch(url, FeedState(url=url, etag=first.etag, last_modified=first.last_modified))
    assert not third.not_modified and third.body == FEED + b"\n"


def test_file_url_size_cap_and_missing_file(tmp_path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(FEED * 100)
    with make(max_bytes=len(FEED)) as f:
        with pytest.raises(TooLarge):
            f.fetch(path.as_uri())
        missing = tmp_path / "nope.xml"
        with pytest.raises(ConnectionFailed, match=f"file not found: {missing}"):
            f.fetch(missing.as_uri())


# --------------------------------------------------------------------------- concurrency


def test_many_threads_share_one_fetcher(feed_server: FeedServer, fetcher: Fetcher) -> None:
    for i in range(16):
        feed_server.publish(f"/f{i}.xml", rss([{"title": f"item {i}", "guid": str(i)}]))
    urls = [feed_server.url(f"/f{i % 16}.xml") for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(fetcher.fetch, urls))
    assert all(f"item {i % 16}".encode() in r.body for i, r in enumerate(results))
    assert feed_server.connections <= 16


def test_corrupt_gzip_is_not_a_feed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/badgz", respond(200, b"\x1f\x8bthis is not gzip", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(NotAFeed, match="not valid gzip"):
        fetcher.fetch(feed_server.url("/badgz"))


# --------------------------------------------------------------------------- proxies


def test_feeds_go_through_the_proxy_named_in_the_environment(feed_server: FeedServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.proxyserver import ProxyServer

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    feed_server.publish("/feed.xml", FEED)
    url = feed_server.url("/feed.xml")
    with ProxyServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with make() as f:
            first = f.fetch(url)
            second = f.fetch(url, FeedState(url=url, etag=first.etag))
        assert first.body == FEED and second.not_modified
        assert [(s.method, s.target) for s in proxy.seen] == [("GET", url)] * 2
        assert proxy.seen[1].headers["If-None-Match"] == first.etag
