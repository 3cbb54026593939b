"""Full text end to end: a real feed server serving release pages, the real CLI, a real webhook receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.store import Store
from monitor.types import Database, ServerDatabase
from tests.configs import cli
from tests.feedserver import FeedServer, hang, respond, rss
from tests.polling import query
from tests.test_pages_fetch import big, html_drip
from tests.webhook_receiver import WebhookReceiver

PAGES = Path(__file__).parent / "data" / "pages"
ABSTRACT = ("BEIJING, May 11, 2023 /PRNewswire/ -- Chinese President Xi Jinping will host the heads of state of "
            "five Central Asian countries in the ancient city of Xi'an next week.")


def config(tmp: Path, server: FeedServer, hook_url: str, extra: str = "", *, database: Database) -> None:
    where = database.url if isinstance(database, ServerDatabase) else database
    (tmp / "config.toml").write_text(f"""
[monitor]
database = "{where}"
timeout = "2s"
page_delay = 0
{extra}
[[feeds]]
name = "wire"
url = "{server.url('/wire.rss')}"
[terms]
central_asia = ["Kazakhstan", "Uzbekistan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Central Asia"]
[[rules]]
name = "summits"
query = "summit*"
notify = ["hook"]
[[rules]]
name = "central-asia"
query = "@central_asia"
notify = ["hook"]
[channels.hook]
type = "webhook"
url = "{hook_url}"
""")


def html_route(body: bytes) -> object:
    return respond(200, body, headers={"Content-Type": "text/html; charset=utf-8"})


def pages_table(database: Database) -> dict[str, tuple[str, str | None]]:
    with Store(database, readonly=True) as store:
        rows = query(store, "SELECT url, status, last_error FROM pages")
    return {url: (status, error) for url, status, error in rows}


def test_the_page_text_makes_rules_match_and_alert_once_each(tmp_path: Path, database: Database,
        feed_server: FeedServer) -> None:
    now = datetime.now(UTC)
    feed_server.route("/news/cgtn.html", html_route((PAGES / "prnewswire.html").read_bytes()))  # type: ignore[arg-type]
    with WebhookReceiver() as hook:
        config(tmp_path, feed_server, hook.url, database=database)
        # Title and abstract match no rule ("Central Asian" is not "Central Asia", no summit yet).
        feed_server.publish("/wire.rss", rss([{
            "title": "CGTN: Xi Jinping to chair first meeting in Xi'an", "guid": "cgtn-1",
            "link": feed_server.url("/news/cgtn.html"), "description": ABSTRACT,
            "pubDate": now - timedelta(minutes=5)}]))
        first = cli("run", "--once", cwd=tmp_path, check=True)
        assert "ok  1 new  0 dup  wire" in first.stdout  # the abstract matches no rule
        assert "pages: 1 fetched, 0 skipped, 0 failed  2 matched" in first.stdout
        assert "alerts: 2 sent" in first.stdout
        # Both rules matched in the page's one commit: one message naming both (issue 21).
        [message] = hook.deliveries
        assert sorted(m["rule"] for m in message.json["data"]["matches"]) == ["central-asia", "summits"]
        snippets = {m["rule"]: m["snippet"] for m in message.json["data"]["matches"]}
        assert "[Summit]" in snippets["summits"]  # the snippet comes from the page text
        assert "[Central Asia]" in snippets["central-asia"] or "[Kazakhstan]" in snippets["central-asia"]

        again = cli("run", "--once", cwd=tmp_path, check=True)
        assert "pages:" not in again.stdout and "alerts:" not in again.stdout
        assert len(hook.deliveries) == 1  # once each: no new message

    show = cli("show", "1", cwd=tmp_path, check=True).stdout
    body, _, end_matter = show.partition("-- end matter")
    assert "Shavkat Mirziyoyev of Uzbekistan" in body and "About CGTN" not in body
    assert "About CGTN" in end_matter  # kept apart, shown with the release
    atom = cli("feed", "summits", cwd=tmp_path, check=True).stdout
    assert '<content type="text">' in atom and "Shavkat Mirziyoyev" in atom  # the full text
    found = cli("search", '"Central Asia" summit*', cwd=tmp_path, check=True).stdout
    assert "Xi Jinping" in found
    listed = cli("pages", cwd=tmp_path, check=True).stdout
    assert "0 pending  1 done  0 failed  0 skipped" in listed
    status = cli("status", cwd=tmp_path).stdout
    assert "pages     0 pending, 0 failed, 0 skipped, 1 done" in status
    with Store(database, readonly=True) as store:
        assert query(store, "SELECT count(*) FROM release_versions") == [(0,)]  # not a revision
        (summary, body, dateline), = query(store, "SELECT summary, body, dateline FROM releases")
    assert summary.startswith("BEIJING") and "Central Asia Summit" in body and dateline.startswith("BEIJING")


def test_bad_links_are_refused_or_recorded_and_nothing_else_is_affected(tmp_path: Path, database: Database,
                                                                         feed_server: FeedServer) -> None:
    now = datetime.now(UTC)
    with FeedServer() as other, WebhookReceiver() as hook:
        other.route("/admin", html_route(b"<html><body><p>internal</p></body></html>"))  # type: ignore[arg-type]
        s = feed_server
        s.route("/robots.txt", respond(200, b"User-agent: *\nDisallow: /private/\n"))
        s.route("/news/good.html", html_route((PAGES / "businesswire.html").read_bytes()))  # type: ignore[arg-type]
        s.route("/private/secret.html", html_route(b"<html><body><p>Summit</p></body></html>"))  # type: ignore[arg-type]
        s.route("/404.html", respond(404, b"no"))
        s.route("/403.html", respond(403, b"no"))
        s.route("/hang.html", hang())
        s.route("/drip.html", html_drip)
        s.route("/big.html", big(50_000_000))  # type: ignore[arg-type]
        s.route("/r.pdf", respond(200, b"%PDF-1.7", headers={"Content-Type": "application/pdf"}))
        s.redirect("/away.html", "http://press.invalid/release.html", 302)
        s.redirect("/inside.html", other.url("/admin"), 302)
        s.route("/429.html", respond(429, b"slow", headers={"Retry-After": "120"}))
        links = [s.url("/news/good.html"), s.url("/private/secret.html"), s.url("/404.html"), s.url("/403.html"),
                 s.url("/hang.html"), s.url("/drip.html"), s.url("/big.html"), s.url("/r.pdf"), s.url("/away.html"),
                 s.url("/inside.html"), "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
                 s.url("/429.html")]  # last: its Retry-After holds the host
        s.publish("/wire.rss", rss([{"title": f"Release {i}", "guid": f"g{i}", "link": link,
                                     "description": f"NEW YORK, May 11, 2023 /PRNewswire/ -- Release {i} text.",
                                     "pubDate": now - timedelta(minutes=5)} for i, link in enumerate(links)]))
        config(tmp_path, s, hook.url, database=database)
        run = cli("run", "--once", cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "ok  13 new  0 dup  2 matched  wire" not in run.stdout  # the feed text matches no rule
        assert "pages: 1 fetched, 5 skipped, 3 failed, 4 to retry  1 matched" in run.stdout, run.stdout
        assert other.hits("/admin") == 0
        assert s.hits("/private/secret.html") == 0 and s.hits("/robots.txt") == 1
        assert [d.json["data"]["rule"] for d in hook.deliveries] == ["central-asia"]  # Kazakhstan, on the page

    table = pages_table(database)
    status = {url: st for url, (st, _) in table.items()}
    assert status[s.url("/news/good.html")] == "done"
    private = s.url("/private/secret.html")
    assert status[private] == "skipped" and "robots.txt" in table[private][1]
    assert status[s.url("/404.html")] == "failed" and "HTTP 404" in table[s.url("/404.html")][1]
    assert status[s.url("/403.html")] == "failed"
    assert status[s.url("/big.html")] == "failed" and "larger than 5 MB" in table[s.url("/big.html")][1]
    assert status[s.url("/r.pdf")] == "skipped" and "application/pdf" in table[s.url("/r.pdf")][1]
    assert status[s.url("/inside.html")] == "skipped" and "loopback" in table[s.url("/inside.html")][1]
    assert status["http://169.254.169.254/latest/meta-data/"] == "skipped"
    assert "link-local" in table["http://169.254.169.254/latest/meta-data/"][1]
    file_link = next(url for url in table if url.startswith("file:"))  # the parser may drop a slash
    assert status[file_link] == "skipped" and "only http(s)" in table[file_link][1]
    for path in ("/hang.html", "/drip.html", "/away.html"):
        assert status[s.url(path)] == "pending", path  # a passing failure: tried again later
    assert "timeout" in table[s.url("/hang.html")][1] and "timeout" in table[s.url("/drip.html")][1]
    assert "cannot resolve host press.invalid" in table[s.url("/away.html")][1]
    assert status[s.url("/429.html")] == "pending" and "retry after 120s" in table[s.url("/429.html")][1]

    listed = cli("pages", "--status", "failed", cwd=tmp_path, check=True).stdout
    assert "HTTP 404" in listed and "HTTP 403" in listed
    feeds = cli("feeds", cwd=tmp_path, check=True).stdout
    assert "3 release pages failed" in feeds


def test_old_releases_are_not_queued_and_pages_fetch_backfills_them(tmp_path: Path, database: Database,
        feed_server: FeedServer) -> None:
    now = datetime.now(UTC)
    s = feed_server
    s.publish("/wire.rss", rss([{"title": f"Old release {i}", "guid": f"old{i}", "link": s.url(f"/news/{i}.html"),
                                 "description": "LONDON, May 2, 2024 /PRNewswire/ -- An old release.",
                                 "pubDate": now - timedelta(days=10 + 2 * i)} for i in range(3)]))
    for i in range(3):
        s.route(f"/news/{i}.html", html_route((PAGES / "prnewswire.html").read_bytes()))  # type: ignore[arg-type]
    with WebhookReceiver() as hook:
        config(tmp_path, s, hook.url, database=database)
        run = cli("run", "--once", cwd=tmp_path, check=True)
        assert "ok  3 new" in run.stdout and "pages:" not in run.stdout  # older than full_text_max_age
        assert pages_table(database) == {}
        filled = cli("pages", "fetch", "--since", "13d", cwd=tmp_path, check=True)
        assert "2 pages to fetch" in filled.stderr
        assert "pages: 2 fetched, 0 skipped, 0 failed  4 matched" in filled.stdout
        assert hook.deliveries == []  # old news is archived and matched, never alerted
    assert sorted(st for st, _ in pages_table(database).values()) == ["done", "done"]
    assert sum(s.hits(f"/news/{i}.html") for i in range(3)) == 2


def test_turning_full_text_on_and_backfilling_alerts_on_recent_releases(tmp_path: Path, database: Database,
                                                                        feed_server: FeedServer) -> None:
    now = datetime.now(UTC)
    s = feed_server
    s.publish("/wire.rss", rss([{"title": "CGTN: Xi Jinping to chair first meeting in Xi'an", "guid": "cgtn-1",
                                 "link": s.url("/news/cgtn.html"), "description": ABSTRACT,
                                 "pubDate": now - timedelta(hours=1)}]))
    s.route("/news/cgtn.html", html_route((PAGES / "prnewswire.html").read_bytes()))  # type: ignore[arg-type]
    with WebhookReceiver() as hook:
        config(tmp_path, s, hook.url, database=database)
        path = tmp_path / "config.toml"
        path.write_text(path.read_text().replace('url = "' + s.url("/wire.rss") + '"',
                                                 'url = "' + s.url("/wire.rss") + '"\nfull_text = false'))
        run = cli("run", "--once", cwd=tmp_path, check=True)
        assert "pages:" not in run.stdout and hook.deliveries == []
        path.write_text(path.read_text().replace("full_text = false", "full_text = true"))
        filled = cli("pages", "fetch", "--since", "1d", cwd=tmp_path, check=True)
        assert "pages: 1 fetched, 0 skipped, 0 failed  2 matched" in filled.stdout
        assert "alerts: 2 sent" in filled.stdout
        [message] = hook.deliveries  # one message naming both rules (issue 21)
        assert sorted(m["rule"] for m in message.json["data"]["matches"]) == ["central-asia", "summits"]


def test_a_hostile_page_fails_with_the_reason_and_the_rest_go_on(tmp_path: Path, database: Database,
        feed_server: FeedServer) -> None:
    """Issue 23: one <p> with 200,000 attributes (2.4 MB, under max_page_bytes) held `run --once` for minutes."""
    import resource

    now = datetime.now(UTC)
    hostile = ("<html><body><p " + " ".join(f"data-a{i}=x" for i in range(200_000)) + ">x</p></body></html>").encode()
    feed_server.route("/news/hostile.html", html_route(hostile))  # type: ignore[arg-type]
    feed_server.route("/news/cgtn.html", html_route((PAGES / "prnewswire.html").read_bytes()))  # type: ignore[arg-type]
    with WebhookReceiver() as hook:
        config(tmp_path, feed_server, hook.url, database=database)
        feed_server.publish("/wire.rss", rss([
            {"title": "Hostile", "guid": "h-1", "link": feed_server.url("/news/hostile.html"),
             "description": "A page.", "pubDate": now - timedelta(minutes=6)},
            {"title": "CGTN: Xi Jinping to chair first meeting in Xi'an", "guid": "cgtn-1",
             "link": feed_server.url("/news/cgtn.html"), "description": ABSTRACT,
             "pubDate": now - timedelta(minutes=5)}]))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = cli("run", "--once", cwd=tmp_path, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert "pages: 1 fetched, 0 skipped, 1 failed  2 matched" in run.stdout
        assert "alerts: 2 sent" in run.stdout  # the control page's alerts still go out
    # CPU, not wall time: lxml alone spent minutes on such a page; the whole run is a few seconds.
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 60
    status, error = pages_table(database)[feed_server.url("/news/hostile.html")]
    assert status == "failed" and error is not None and "more than 1,000 attributes" in error
    assert pages_table(database)[feed_server.url("/news/cgtn.html")][0] == "done"
