"""monitor.httpclient against real local servers: a feed server, a forward proxy, a TLS server."""

from __future__ import annotations

import base64
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from monitor.errors import NetworkError
from monitor.httpclient import HttpClient, Response
from tests.feedserver import FeedServer, rss
from tests.proxyserver import ProxyServer
from tests.smtpservers import closed_port, server_tls_context

FEED = rss([{"title": "Acme buys Widgets", "link": "https://wire.example/1", "guid": "g1"}])


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA bundle from the machine running the tests: each test sets what it means."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "REQUEST_METHOD"):
            monkeypatch.delenv(name)


@pytest.fixture
def proxy() -> Iterator[ProxyServer]:
    with ProxyServer() as p:
        yield p


def get(client: HttpClient, url: str, **kw: object) -> tuple[Response, bytes]:
    resp = client.request("GET", url, **kw)  # type: ignore[arg-type]
    try:
        return resp, resp.read(10**6)
    finally:
        resp.release()


# --------------------------------------------------------------------------- the basics


def test_requests_reuse_one_kept_alive_connection_and_decode_gzip(feed_server: FeedServer) -> None:
    feed_server.publish("/feed.xml", FEED, gzip=True)
    with HttpClient(user_agent="press-monitor-test/1", timeout=5) as client:
        for _ in range(20):
            resp, body = get(client, feed_server.url("/feed.xml"))
            assert (resp.status, body) == (200, FEED)
    assert feed_server.connections == 1
    seen = feed_server.last("/feed.xml")
    assert seen.headers["User-Agent"] == "press-monitor-test/1"
    assert "gzip" in seen.headers["Accept-Encoding"]


def test_a_caller_header_replaces_the_default_whatever_its_case(feed_server: FeedServer) -> None:
    feed_server.publish("/feed.xml", FEED)
    with HttpClient(user_agent="press-monitor-test/1", timeout=5) as client:
        get(client, feed_server.url("/feed.xml"), headers={"user-agent": "custom/2"})
    assert feed_server.last("/feed.xml").headers.get_all("User-Agent") == ["custom/2"]


def test_redirects_are_returned_not_followed(feed_server: FeedServer) -> None:
    feed_server.redirect("/old.xml", "/new.xml", 301)
    with HttpClient(user_agent="t/1", timeout=5) as client:
        resp, _ = get(client, feed_server.url("/old.xml"))
    assert resp.status == 301 and resp.headers["location"].endswith("/new.xml")
    assert feed_server.hits("/new.xml") == 0


def test_a_refused_connection_is_a_connection_failure_not_a_timeout() -> None:
    port = closed_port()
    with HttpClient(user_agent="t/1", timeout=5) as client, pytest.raises(NetworkError) as caught:
        client.request("GET", f"http://127.0.0.1:{port}/secret-token/feed.xml")
    assert caught.value.kind == "connection"
    assert str(caught.value) == f"connection refused by 127.0.0.1:{port}"


# --------------------------------------------------------------------------- proxies from the environment


def test_http_proxy_from_the_environment_carries_the_request(
    feed_server: FeedServer, proxy: ProxyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    feed_server.publish("/feed.xml", FEED)
    with HttpClient(user_agent="t/1", timeout=5) as client:
        for _ in range(3):
            assert get(client, feed_server.url("/feed.xml"))[1] == FEED
    assert [(s.method, s.target) for s in proxy.seen] == [("GET", feed_server.url("/feed.xml"))] * 3
    assert feed_server.hits("/feed.xml") == 3


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "127.0.0.0/8", "*"])
def test_no_proxy_connects_directly(
    feed_server: FeedServer, proxy: ProxyServer, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    feed_server.publish("/feed.xml", FEED)
    with HttpClient(user_agent="t/1", timeout=5) as client:
        assert get(client, feed_server.url("/feed.xml"))[1] == FEED
    assert proxy.seen == []
    assert feed_server.hits("/feed.xml") == 1


def test_proxy_credentials_travel_to_the_proxy_only(
    feed_server: FeedServer, proxy: ProxyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", f"http://desk:p%40ss@127.0.0.1:{proxy.port}")
    feed_server.publish("/feed.xml", FEED)
    with HttpClient(user_agent="t/1", timeout=5) as client:
        assert get(client, feed_server.url("/feed.xml"))[1] == FEED
    [seen] = proxy.seen
    assert seen.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"desk:p@ss").decode()
    assert feed_server.last("/feed.xml").headers["Proxy-Authorization"] is None


def test_an_unreachable_proxy_is_named_without_its_password(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://desk:hunter2@127.0.0.1:{port}")
    with HttpClient(user_agent="t/1", timeout=5) as client, pytest.raises(NetworkError) as caught:
        client.request("GET", feed_server.url("/feed.xml"))
    message = str(caught.value)
    assert f"proxy 127.0.0.1:{port}" in message and "refused" in message
    assert "hunter2" not in message


def test_a_socks_proxy_is_refused_with_a_clear_message(feed_server: FeedServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    with HttpClient(user_agent="t/1", timeout=5) as client, pytest.raises(NetworkError, match="only http://"):
        client.request("GET", feed_server.url("/feed.xml"))


# --------------------------------------------------------------------------- TLS


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet test output
        pass


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_port(ca: trustme.CA) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    server.socket = server_tls_context(ca.issue_cert("127.0.0.1", "localhost")).wrap_socket(
        server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_tls_is_verified_against_the_ca_bundle(ca: trustme.CA, tls_port: int, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"https://127.0.0.1:{tls_port}/"
    with HttpClient(user_agent="t/1", timeout=5) as client, pytest.raises(NetworkError) as caught:
        client.request("GET", url)  # certifi's bundle does not know the test CA
    assert caught.value.kind == "connection"
    assert f"TLS certificate of 127.0.0.1:{tls_port} rejected" in str(caught.value)

    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))  # as requests honoured it
    with HttpClient(user_agent="t/1", timeout=5) as client:
        assert get(client, url)[1] == b"hello"


def test_https_through_the_proxy_is_tunnelled_and_still_verified(
    ca: trustme.CA, tls_port: int, proxy: ProxyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pem))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with HttpClient(user_agent="t/1", timeout=5) as client:
        assert get(client, f"https://localhost:{tls_port}/")[1] == b"hello"
    assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", f"localhost:{tls_port}")]


def test_the_default_bundle_is_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from monitor.httpclient import ca_bundle

    assert ca_bundle() == certifi.where()
    assert ssl.create_default_context(cafile=ca_bundle()).cert_store_stats()["x509_ca"] > 50
