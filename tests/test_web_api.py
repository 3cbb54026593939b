"""The JSON API, /healthz and the access rules of `serve`, through a real `press-monitor serve` process."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.daemon import META_LAST_POLL, META_STARTED
from monitor.store import Store, ts
from monitor.types import Database
from tests.test_export import CONFIG, build_archive, config_for
from tests.test_web import Served, start_server, stop_server


def get_json(served: Served, path: str, **headers: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(served.url.rstrip("/") + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("application/json")
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Type"].startswith("application/json"), exc.headers["Content-Type"]
        return exc.code, json.loads(exc.read())


def serve_archive(tmp_path: Path, *extra: str,
                  database: Database | None = None) -> tuple[Served, subprocess.Popen[str]]:
    cfg = tmp_path / "config.toml"
    db = database if database is not None else tmp_path / "archive.db"
    cfg.write_text(config_for(db), encoding="utf-8")
    ids = build_archive(db)
    proc, url = start_server(cfg, *extra)
    return Served(url, cfg, ids, proc, db), proc


@pytest.fixture
def served(tmp_path: Path, database: Database) -> Iterator[Served]:
    """`serve` over the test archive, on each backend in turn (conftest.py: `database`)."""
    s, proc = serve_archive(tmp_path, database=database)
    try:
        yield s
    finally:
        stop_server(proc)


def walk(served: Served, path: str, key: str) -> list[dict]:
    """Follow next_cursor from path to the end; return every item."""
    items: list[dict] = []
    sep = "&" if "?" in path else "?"
    status, page = get_json(served, path)
    while True:
        assert status == 200, page
        assert len(page[key]) <= 1
        items.extend(page[key])
        if page["next_cursor"] is None:
            return items
        status, page = get_json(served, f"{path}{sep}cursor={page['next_cursor']}")


def test_every_endpoint_answers_json(served: Served) -> None:
    status, body = get_json(served, "/api/search?q=%40central_asia")
    assert status == 200 and {r["id"] for r in body["results"]} == {served.ids["summit"], served.ids["solar"]}
    assert body["next_cursor"] is None and "[Central Asia]" in body["results"][0]["snippet"] + \
        body["results"][1]["snippet"]
    summit = next(r for r in body["results"] if r["id"] == served.ids["summit"])
    assert summit["title"] == "Leaders gather for Central Asia summit in Astana"  # as published, no marks
    assert summit["title_marked"] == "Leaders gather for [Central Asia] summit in Astana"
    status, body = get_json(served, f"/api/releases/{served.ids['summit']}")
    assert status == 200 and body["title"] == "Leaders gather for Central Asia summit in Astana"
    assert [s["feed"] for s in body["sightings"]] == ["PRN Politics", "PRN World"]
    assert {a["channel"]: a["status"] for a in body["alerts"]} == {"console": "sent", "hook": "pending"}
    assert body["url"] == "https://www.prnewswire.com/news/summit-1.html"
    status, body = get_json(served, "/api/rules")
    assert status == 200 and {r["name"]: r["matches"] for r in body["rules"]} == {"central-asia": 2, "earnings": 2}
    status, body = get_json(served, "/api/rules/earnings/matches")
    assert status == 200 and [m["title"] for m in body["matches"]] == [
        "Globex declares quarterly dividend", "Acme Corp reports third quarter results"]  # newest published first
    status, body = get_json(served, "/api/feeds")
    assert status == 200 and [f["name"] for f in body["feeds"]] == ["PRN Politics", "PRN World", "BW Earnings"]
    status, body = get_json(served, "/api/alerts")
    assert status == 200 and len(body["alerts"]) == 2 and body["alerts"][0]["id"].startswith("pm-")


def test_cursor_pagination_walks_every_item_once(served: Served) -> None:
    everything = walk(served, "/api/search?q=quarter*+OR+dividend+OR+%40central_asia&limit=1", "results")
    assert sorted(r["id"] for r in everything) == sorted(
        served.ids[k] for k in ("summit", "solar", "acme", "globex"))
    newest_first = walk(served, "/api/search?limit=1", "results")
    assert len(newest_first) == len({r["id"] for r in newest_first}) == len(served.ids)
    matches = walk(served, "/api/rules/central-asia/matches?limit=1", "matches")
    assert [m["release_id"] for m in matches] == [served.ids["solar"], served.ids["summit"]]
    alerts = walk(served, "/api/alerts?limit=1", "alerts")
    assert len({a["id"] for a in alerts}) == 2


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/api/search?q=summit+AND", 400, "invalid query"),
    ("/api/search?q=%22Central%20Asia", 400, "invalid query"),
    ("/api/search?q=%40nope", 400, "unknown term list @nope"),
    ("/api/search?cursor=%%%", 400, "invalid cursor"),
    ("/api/search?cursor=" + base64.urlsafe_b64encode(b'{"offset": -5}').decode(), 400, "invalid cursor"),
    ("/api/alerts?cursor=" + base64.urlsafe_b64encode(b'{"before": 1e400}').decode(), 400, "invalid cursor"),
    ("/api/search?limit=0", 400, "invalid limit"),
    ("/api/search?limit=99999999999999999999", 400, "invalid limit"),
    ("/api/search?rule=earnings&date=2026-13", 400, "date filter"),
    # A filter naming no rule or feed is an error, not an empty answer (issue 23).
    ("/api/search?rule=nosuch", 400, "no rule named 'nosuch' (GET /api/rules lists them)"),
    ("/api/search?q=summit&feed=nosuch", 400, "no feed named 'nosuch'"),
    ("/api/releases/99999999999999999999", 404, "no release with id"),
    ("/api/releases/424242", 404, "no release with id"),
    ("/api/rules/nosuch/matches", 404, "no rule named 'nosuch'"),  # the closing quote too
    ("/api/nothing", 404, "nothing at /api/nothing"),
])
def test_api_errors_are_json_with_a_message(served: Served, path: str, status: int, says: str) -> None:
    got, body = get_json(served, path)
    assert got == status and says in body["error"], body


def test_healthz_follows_the_status_rule(served: Served) -> None:
    status, body = get_json(served, "/healthz")
    assert status == 503 and body["status"] == "down" and "has not polled yet" in body["reasons"][0]
    with Store(served.db) as store, store.transaction():
        now = ts(datetime.now(UTC))
        store.set_meta(META_LAST_POLL, now)
        store.set_meta(META_STARTED, now)
    status, body = get_json(served, "/healthz")
    assert status == 200 and body["status"] in ("healthy", "degraded"), body


def test_feeds_show_the_page_backlog_and_each_feeds_failed_pages(served: Served) -> None:
    status, body = get_json(served, "/api/feeds")
    assert body["pages"] == {"pending": 0, "failed": 0, "skipped": 0, "done": 0}
    assert {f["pages_failed"] for f in body["feeds"]} == {0}
    # The page worker's outcomes, as it records them: two of PRN Politics' pages failed, one of
    # BW Earnings' was skipped, one is still pending and one done.
    now = datetime.now(UTC)
    outcomes = {"summit": ("PRN Politics", "failed"), "solar": ("PRN Politics", "failed"),
                "acme": ("BW Earnings", "skipped"), "globex": ("BW Earnings", "pending"),
                "odd": ("PRN World", "done")}
    with Store(served.db) as store, store.transaction():
        for label, (feed, _) in outcomes.items():
            assert store.queue_page(served.ids[label], f"https://example.com/{label}", feed, "https://example.com/",
                                    now)
        for page in store.pages():
            _, outcome = outcomes[next(k for k, v in served.ids.items() if v == page.release_id)]
            if outcome != "pending":
                store.finish_page(page.id, now, status=outcome, error="HTTP 404" if outcome == "failed" else None)
    backlog = {"pending": 1, "failed": 2, "skipped": 1, "done": 1}
    status, body = get_json(served, "/api/feeds")
    assert status == 200 and body["pages"] == backlog
    assert {f["name"]: f["pages_failed"] for f in body["feeds"]} == {"PRN Politics": 2, "PRN World": 0,
                                                                      "BW Earnings": 0}
    assert get_json(served, "/healthz")[1]["pages"] == backlog
    status, _, html = served.get("/feeds")
    assert status == 200
    assert "Release pages (full text): 1 pending, 2 failed, 1 skipped, 1 done" in html
    row = next(r for r in html.split("<tr data-nav>") if ">PRN Politics</a>" in r)
    assert "2 release pages failed (press-monitor pages --status failed)" in row
    assert not any("release pages failed" in r for r in html.split("<tr data-nav>") if ">PRN Politics</a>" not in r)


# --------------------------------------------------------------------------- access


def test_listening_beyond_loopback_needs_a_token_or_no_auth(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "serve", "--host", "0.0.0.0",
                          "--port", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "needs a token: --token-file FILE (or --no-auth" in run.stderr
    assert "Traceback" not in run.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    run = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "serve", "--token-file", str(empty),
                          "--port", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "the file is empty" in run.stderr


def test_a_token_is_required_on_every_request_and_a_wrong_one_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token-value\n")
    s, proc = serve_archive(tmp_path, "--host", "0.0.0.0", "--token-file", str(token))
    s.url = s.url.replace("0.0.0.0", "127.0.0.1")
    try:
        for path in ("/api/rules", "/healthz"):
            status, body = get_json(s, path)
            assert status == 401 and "token" in body["error"]
            assert get_json(s, path, Authorization="Bearer wrong-token")[0] == 401
            assert get_json(s, path, Authorization="Bearer s3cret-token-value-and-more")[0] == 401
        assert get_json(s, "/api/rules", Authorization="Bearer s3cret-token-value")[0] == 200
        status, _, body = s.get("/")
        assert status == 401 and "Token required" in body  # the browser shows its login prompt
        basic = base64.b64encode(b"me:s3cret-token-value").decode()
        import urllib.request
        req = urllib.request.Request(s.url, headers={"Authorization": f"Basic {basic}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        wrong = base64.b64encode(b"me:nope").decode()
        assert get_json(s, "/api/feeds", Authorization=f"Basic {wrong}")[0] == 401
    finally:
        stop_server(proc)


def test_behind_a_proxy_allowed_host_and_base_path(tmp_path: Path) -> None:
    s, proc = serve_archive(tmp_path, "--allowed-host", "press.example.com", "--base-path", "/press/")
    try:
        assert s.url.endswith("/press/")
        status, _, body = s.get("/", host="press.example.com")
        assert status == 200 and 'href="/press/rules"' in body and 'href="/press/static/style.css"' in body
        assert s.get("/rules", host="press.example.com:443")[0] == 200
        assert s.get("/", host="evil.example")[0] == 403
        status, body = get_json(s, "/api/rules", Host="press.example.com")
        assert status == 200 and body["rules"]
        status, _, body = s.get("/rule/earnings/feed.atom", host="press.example.com")
        assert status == 200 and "http://press.example.com/press/rule/earnings/feed.atom" in body
        status, _, css = s.get("/static/style.css", host="press.example.com")
        assert status == 200 and "prefers-color-scheme: dark" in css
        # Outside the base path nothing is served (issue 23: /press also served /), the API errs in JSON.
        root = s.url.removesuffix("/press/")
        for outside in ("/", "/rules", "/pressx/rules", "/static/style.css", "/healthz"):
            assert Served(root, s.cfg, s.ids, proc).get(outside, host="press.example.com")[0] == 404, outside
        status, body = get_json(s, "/api/nosuch", Host="press.example.com")
        assert status == 404 and "nothing at /press/api/nosuch" in body["error"]
    finally:
        stop_server(proc)
