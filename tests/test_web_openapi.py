"""The API's OpenAPI document (/api/openapi.json) against the real answers of a real `serve` (issue 23).

Every endpoint the server routes is described, every described path is exercised here, and every
answer — successes and errors — validates against the schema the document gives for its status.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from monitor.health import META_LAST_POLL, META_STARTED
from monitor.store import Store, ts
from tests.test_web import Served, stop_server
from tests.test_web_api import get_json, serve_archive


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s, proc = serve_archive(tmp_path_factory.mktemp("openapi"))
    try:
        yield s
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def doc(served: Served) -> dict:
    status, body = get_json(served, "/api/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.1")
    for name, schema in body["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    return body


def template_of(doc: dict, path: str) -> str:
    """Return the document's path template that `path` (without its query) is an instance of."""
    found = [t for t in doc["paths"] if re.fullmatch(re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(t)), path)]
    assert len(found) == 1, (path, found)
    return found[0]


def check(doc: dict, path: str, status: int, body: object, seen: set[str]) -> None:
    """Fail unless `body` is what the document promises for `path` answering `status`."""
    template = template_of(doc, urllib.parse.urlsplit(path).path)
    responses = doc["paths"][template]["get"]["responses"]
    assert str(status) in responses, f"{path} answered {status}, which the document does not list"
    answer = responses[str(status)]
    if "$ref" in answer:
        answer = doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = {**answer["content"]["application/json"]["schema"], "components": doc["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
    seen.add(template)


def test_every_answer_matches_the_openapi_document(served: Served, doc: dict) -> None:
    ids = served.ids
    seen: set[str] = set()
    requests = [
        ("/api/search", 200), ("/api/search?q=%40central_asia", 200), ("/api/search?q=summit*&limit=1", 200),
        ("/api/search?q=quarter*&rule=earnings&date=2026-11", 200), ("/api/search?q=summit+AND", 400),
        ("/api/search?rule=nosuch", 400), ("/api/search?limit=0", 400),
        (f"/api/releases/{ids['summit']}", 200), (f"/api/releases/{ids['acme']}", 200), ("/api/releases/424242", 404),
        ("/api/rules", 200), ("/api/rules/earnings/matches?limit=1", 200), ("/api/rules/central-asia/matches", 200),
        ("/api/rules/nosuch/matches", 404), ("/api/rules/earnings/matches?cursor=%%", 400),
        ("/api/feeds", 200), ("/api/alerts?limit=1", 200), ("/api/alerts?cursor=bad", 400),
        ("/api/openapi.json", 200), ("/healthz", 503),
    ]
    for path, expected in requests:
        status, body = get_json(served, path)
        assert status == expected, (path, status, body)
        check(doc, path, status, body, seen)
        if isinstance(body, dict) and body.get("next_cursor"):  # the next page too
            sep = "&" if "?" in path else "?"
            nxt = f"{path}{sep}cursor={body['next_cursor']}"
            status, body = get_json(served, nxt)
            check(doc, nxt, status, body, seen)
    with Store(served.db) as store, store.transaction():
        store.set_meta(META_LAST_POLL, ts(datetime.now(UTC)))
        store.set_meta(META_STARTED, ts(datetime.now(UTC)))
    status, body = get_json(served, "/healthz")
    assert status == 200 and body["code"] in (0, 1) and body["last_poll"].endswith("Z")
    check(doc, "/healthz", status, body, seen)
    # A request line too long for the server is still a JSON error on the API (stdlib HTML before).
    host, port = urllib.parse.urlsplit(served.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(f"GET /api/search?q={'a' * 70_000} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        raw = b"".join(iter(lambda: s.recv(65536), b""))
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 414") and b"application/json" in head
    check(doc, "/api/search", 414, json.loads(payload), seen)
    assert seen == set(doc["paths"]), set(doc["paths"]) - seen  # every described endpoint was exercised


def test_the_document_describes_every_api_route(tmp_path: Path) -> None:
    """A new endpoint in the route table without its description (or the reverse) fails here."""
    from monitor import app as app_mod
    from monitor.web import make_server
    from monitor.web.server import OPENAPI
    from tests.test_export import CONFIG

    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    server = make_server(app_mod.load(tmp_path / "config.toml"), "127.0.0.1", 0)
    try:
        routes = [pattern for pattern, _ in server.routes.table
                  if pattern.pattern.startswith(("/api/", "/healthz"))]
    finally:
        server.server_close()
    samples = [re.sub(r"\{[^/]+\}", "1", t) for t in json.loads(OPENAPI)["paths"]]
    assert routes and len(routes) == len(samples)
    for pattern in routes:
        assert [s for s in samples if pattern.fullmatch(s)], f"route {pattern.pattern} is not in the document"
    for sample in samples:
        assert [p for p in routes if p.fullmatch(sample)], f"{sample} is described but not routed"


def test_the_readme_names_every_endpoint_and_the_document() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    from monitor.web.server import OPENAPI

    assert "/api/openapi.json" in readme
    for template in json.loads(OPENAPI)["paths"]:
        assert template.split("{")[0] in readme, template
    for documented in ("ranked_within_newest", "last_poll", '"code"'):
        assert documented in readme, documented
