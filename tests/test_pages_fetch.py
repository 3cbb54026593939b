"""The page fetcher against a real local server: what is fetched, what is refused, and why."""

from __future__ import annotations

import ipaddress
import math
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from monitor.clock import ManualClock, SystemClock
from monitor.errors import PageError
from monitor.pagefetch.net import PageFetcher, origin, refusal
from monitor.pagefetch.polite import HostGate, PageClient, Robots
from tests.feedserver import FeedServer, Handler, hang, respond

PAGE = b"<!DOCTYPE html><html><body><article><p>BEIJING, May 11, 2023 /PRNewswire/ -- Summit.</p></article></body>"
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
def other() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def fetcher(**kw) -> PageFetcher:  # type: ignore[no-untyped-def]
    args = {"user_agent": "press-monitor/0.1 (+test)", "timeout": 2.0, "max_bytes": 5_000_000,
            "clock": SystemClock()}
    args.update(kw)
    return PageFetcher(**args)


def html(body: bytes = PAGE, status: int = 200, **headers: str):  # type: ignore[no-untyped-def]
    return respond(status, body, headers={"Content-Type": "text/html; charset=utf-8", **headers})


def refused(exc: pytest.ExceptionInfo[PageError]) -> tuple[str, str]:
    return exc.value.kind, exc.value.outcome


def test_a_page_on_the_feeds_own_origin_is_fetched(server: FeedServer) -> None:
    server.route("/news/1.html", html())
    with fetcher() as f:
        page = f.fetch(server.url("/news/1.html"), feed_url=server.url("/feed.xml"))
    assert page.status == 200 and page.body == PAGE and page.content_type == "text/html" and page.charset == "utf-8"
    assert server.last("/news/1.html").headers["Accept-Encoding"] == "gzip, deflate"


def test_loopback_is_refused_without_the_same_origin_or_an_allowed_network(server: FeedServer) -> None:
    server.route("/news/1.html", html())
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/news/1.html"), feed_url="https://feeds.example.com/rss")
    assert refused(exc) == ("refused", "skipped") and "loopback" in str(exc.value)
    assert server.hits("/news/1.html") == 0
    with fetcher(allow_networks=LOOPBACK) as f:
        assert f.fetch(server.url("/news/1.html")).body == PAGE


def test_a_redirect_to_loopback_on_another_port_is_refused(server: FeedServer, other: FeedServer) -> None:
    other.route("/admin", html(b"<html><body>secret</body></html>"))
    server.redirect("/news/1.html", other.url("/admin"), 302)
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/news/1.html"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("refused", "skipped")
    assert other.hits("/admin") == 0


def test_a_public_looking_name_that_resolves_to_loopback_is_refused(server: FeedServer) -> None:
    server.redirect("/news/1.html", f"http://press.example.com:{server.port}/x", 301)
    server.route("/x", html())
    resolve = {"127.0.0.1": ["127.0.0.1"], "press.example.com": ["93.184.216.34", "127.0.0.1"]}
    with fetcher(resolve=lambda host, port: resolve[host]) as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/news/1.html"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("refused", "skipped") and "press.example.com (127.0.0.1): loopback" in str(exc.value)
    assert server.hits("/x") == 0


def test_the_connection_goes_to_the_checked_address_with_the_host_name_kept(server: FeedServer) -> None:
    """Resolved once per hop; a second (rebound) answer is never asked for, the Host header stays the name."""
    server.route("/x", html())
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["10.0.0.1"]  # a rebinding DNS server

    with fetcher(resolve=resolve, allow_networks=LOOPBACK) as f:
        f.fetch(f"http://pages.test:{server.port}/x")
    assert calls == ["pages.test"]
    assert server.last("/x").headers["Host"] == f"pages.test:{server.port}"


@pytest.mark.parametrize(("link", "why"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:9/x", "loopback"),
    ("http://10.1.2.3/x", "private"),
    ("http://0.0.0.0/x", "unspecified"),
    ("http://224.0.0.1/x", "multicast"),
])
def test_private_addresses_are_refused_before_any_connection(link: str, why: str) -> None:
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(link, feed_url="https://feeds.example.com/rss")
    assert refused(exc) == ("refused", "skipped") and why in str(exc.value)


@pytest.mark.parametrize("link", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", "//x", ""])
def test_only_http_urls_are_fetched(link: str) -> None:
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(link)
    assert refused(exc) == ("refused", "skipped") and "only http(s)" in str(exc.value)


def test_a_redirect_to_file_is_refused(server: FeedServer) -> None:
    server.redirect("/news/1.html", "file:///etc/passwd", 302)
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/news/1.html"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("refused", "skipped")


def test_status_errors_say_whether_to_retry(server: FeedServer) -> None:
    server.route("/404", html(b"gone", 404))
    server.route("/403", html(b"no", 403))
    server.route("/429", respond(429, b"slow down", headers={"Retry-After": "120"}))
    server.route("/503", respond(503, b"busy"))
    feed = server.url("/feed.xml")
    with fetcher() as f:
        for path, outcome, retry_after in (("/404", "failed", None), ("/403", "failed", None),
                                           ("/429", "retry", 120.0), ("/503", "retry", None)):
            with pytest.raises(PageError) as exc:
                f.fetch(server.url(path), feed_url=feed)
            assert (exc.value.kind, exc.value.outcome, exc.value.retry_after) == ("http", outcome, retry_after), path
            assert exc.value.status == int(path[1:])


def test_a_pdf_is_skipped_with_the_reason(server: FeedServer) -> None:
    server.route("/r.pdf", respond(200, b"%PDF-1.7 ...", headers={"Content-Type": "application/pdf"}))
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/r.pdf"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("not-html", "skipped") and "application/pdf" in str(exc.value)


def big(length: int | None) -> object:
    block = b"<p>" + b"x" * 65_000 + b"</p>"

    def run(h: Handler) -> None:
        h.close_connection = True
        if length is None:
            h.start_chunked(200, {"Content-Type": "text/html"})
        else:
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(length))
            h.end_headers()
        sent = 0
        while not h.stopping.is_set() and sent < 50_000_000:
            try:
                if length is None:
                    h.write_chunk(block)
                else:
                    h.wfile.write(block)
            except OSError:
                return
            sent += len(block)

    return run


@pytest.mark.parametrize("length", [50_000_000, None], ids=["declared", "chunked"])
def test_a_50_mb_page_is_refused_at_the_cap(server: FeedServer, length: int | None) -> None:
    server.route("/big", big(length))  # type: ignore[arg-type]
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/big"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("too-large", "failed") and "5 MB" in str(exc.value)


def html_drip(h: Handler) -> None:
    """An HTML page at one byte a second."""
    h.close_connection = True
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", str(len(PAGE)))
    h.end_headers()
    for byte in PAGE:
        if h.stopping.wait(1.0):
            return
        try:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
        except OSError:
            return


@pytest.mark.parametrize("behaviour", [hang(), html_drip], ids=["hang", "drip"])
def test_a_hanging_or_dripping_server_ends_at_the_deadline(server: FeedServer, behaviour: object) -> None:
    server.route("/slow", behaviour)  # type: ignore[arg-type]
    with fetcher(timeout=1.0) as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/slow"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("timeout", "retry")


def test_too_many_redirects(server: FeedServer) -> None:
    server.redirect_loop("/loop")
    with fetcher() as f, pytest.raises(PageError) as exc:
        f.fetch(server.url("/loop"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("redirects", "failed")


def test_refusal_and_origin_rules() -> None:
    assert refusal("93.184.216.34") is None
    assert refusal("::ffff:127.0.0.1") == "loopback"
    assert refusal("100.64.0.1") == "non-public"  # carrier-grade NAT
    assert refusal("10.0.0.1", [ipaddress.ip_network("10.0.0.0/8")]) is None
    assert origin("HTTPS://Example.COM/x") == ("https", "example.com", 443)
    assert origin("http://example.com:8080/") == ("http", "example.com", 8080)
    assert origin("file:///etc/passwd") is None


# --------------------------------------------------------------------------- politeness


def client(f: PageFetcher, clock: ManualClock | None = None) -> PageClient:
    c = clock or ManualClock()
    return PageClient(f, HostGate(0.0, c), Robots("press-monitor/0.1 (+test)", c))


def test_robots_txt_is_asked_once_and_obeyed(server: FeedServer) -> None:
    server.route("/robots.txt", respond(200, b"User-agent: *\nDisallow: /private/\n",
                                        headers={"Content-Type": "text/plain"}))
    server.route("/news/1.html", html())
    server.route("/private/2.html", html())
    feed = server.url("/feed.xml")
    with fetcher() as f:
        c = client(f)
        assert c.get(server.url("/news/1.html"), feed_url=feed).body == PAGE
        with pytest.raises(PageError) as exc:
            c.get(server.url("/private/2.html"), feed_url=feed)
        assert refused(exc) == ("robots", "skipped") and "robots.txt" in str(exc.value)
        c.get(server.url("/news/1.html"), feed_url=feed)
    assert server.hits("/robots.txt") == 1 and server.hits("/private/2.html") == 0


def test_robots_txt_for_our_agent_and_missing_or_failing_robots(server: FeedServer) -> None:
    server.route("/robots.txt", respond(200, b"User-agent: press-monitor\nDisallow: /\n\nUser-agent: *\nAllow: /\n"))
    server.route("/a", html())
    with fetcher() as f, pytest.raises(PageError) as exc:
        client(f).get(server.url("/a"), feed_url=server.url("/feed.xml"))
    assert exc.value.kind == "robots"
    server.route("/robots.txt", respond(404, b"nope"))
    with fetcher() as f:
        assert client(f).get(server.url("/a"), feed_url=server.url("/feed.xml")).body == PAGE
    server.route("/robots.txt", respond(503, b"down"))
    with fetcher() as f, pytest.raises(PageError) as exc:
        client(f).get(server.url("/a"), feed_url=server.url("/feed.xml"))
    assert refused(exc) == ("robots-unavailable", "retry")


def test_robots_rules_expire_after_a_day(server: FeedServer) -> None:
    server.route("/robots.txt", respond(200, b"User-agent: *\nAllow: /\n"))
    server.route("/a", html())
    clock = ManualClock()
    with fetcher() as f:
        c = client(f, clock)
        c.get(server.url("/a"), feed_url=server.url("/feed.xml"))
        clock.advance(86_000)
        c.get(server.url("/a"), feed_url=server.url("/feed.xml"))
        assert server.hits("/robots.txt") == 1
        clock.advance(1_000)
        c.get(server.url("/a"), feed_url=server.url("/feed.xml"))
    assert server.hits("/robots.txt") == 2


def test_host_gate_one_at_a_time_delay_and_retry_after() -> None:
    clock = ManualClock()
    gate = HostGate(1.0, clock)
    assert gate.try_acquire("a.example") == 0.0
    assert gate.try_acquire("a.example") == math.inf  # busy
    assert gate.try_acquire("b.example") == 0.0  # other hosts are independent
    gate.release("a.example")
    assert gate.try_acquire("a.example") == pytest.approx(1.0)
    clock.advance(1.0)
    assert gate.try_acquire("a.example") == 0.0
    gate.release("a.example", retry_after=120)
    clock.advance(60)
    assert gate.try_acquire("a.example") == pytest.approx(60.0)
    clock.advance(60)
    assert gate.try_acquire("a.example") == 0.0


def test_https_to_the_pinned_address_checks_the_certificate_of_the_host_name() -> None:
    """TLS goes to the checked address, but SNI and the certificate check use the link's host name."""
    ca = trustme.CA()
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    names: list[str] = []
    server_ctx.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    ca.issue_cert("pages.test").configure_cert(server_ctx)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    port = httpd.server_address[1]
    resolve = {"pages.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    try:
        with fetcher(resolve=lambda h, p: resolve[h], allow_networks=LOOPBACK, ssl_context=client_ctx) as f:
            assert f.fetch(f"https://pages.test:{port}/x").body == PAGE
            with pytest.raises(PageError) as exc:
                f.fetch(f"https://other.test:{port}/x")  # the certificate is for pages.test
        assert exc.value.kind == "connection" and "TLS" in str(exc.value)
        assert names[0] == "pages.test" and names[-1] == "other.test" and seen == [f"pages.test:{port}"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_pages_and_robots_go_through_the_environments_proxy_still_checked(
        server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """One proxy setup for feeds and pages (issue 20): read when the fetcher is built."""
    from tests.proxyserver import ProxyServer

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    server.route("/news/1.html", html())
    with ProxyServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with fetcher() as f:
            monkeypatch.delenv("HTTP_PROXY")  # read once, when the fetcher was built
            page = f.fetch(server.url("/news/1.html"), feed_url=server.url("/feed.xml"))
            assert page.body == PAGE
            with pytest.raises(PageError) as exc:  # the guard still refuses before anything is sent
                f.fetch(server.url("/news/1.html"))
            assert refused(exc) == ("refused", "skipped")
        assert [(s.method, s.target) for s in proxy.seen] == [("GET", server.url("/news/1.html"))]
