"""The web view: `press-monitor serve` as a real process, driven over HTTP and by headless Chromium."""

from __future__ import annotations

import hashlib
import re
import selectors
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser  # only to validate the served Atom the way feed readers read it
import pytest

from monitor import app as app_mod
from monitor.clock import ManualClock
from monitor.store import Store
from monitor.types import Database
from monitor.web import Pages
from tests.test_export import CONFIG, T0, build_archive, config_for, release

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def text(html: str) -> str:
    """Return a page's text without its tags (highlighting splits titles into pieces)."""
    return re.sub(r"<[^>]+>", "", html)


class Served:
    def __init__(self, url: str, cfg: Path, ids: dict[str, int], proc: subprocess.Popen[str],
                 db: Database | None = None) -> None:
        self.url, self.cfg, self.ids, self.proc = url, cfg, ids, proc
        self.db: Database = db if db is not None else cfg.parent / "archive.db"

    def get(self, path: str, *, host: str | None = None) -> tuple[int, str, str]:
        """Return (status, content type, body) for a GET of path."""
        req = urllib.request.Request(self.url.rstrip("/") + path)
        if host:
            req.add_header("Host", host)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers["Content-Type"], resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], exc.read().decode("utf-8")


def start_server(cfg: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start `press-monitor serve --port 0 [extra…]` and return it with the URL it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "serve", "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=20):
        proc.kill()
        pytest.fail("press-monitor serve printed nothing within 20 s")
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        proc.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")
    return proc, line.split()[1]


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def served(tmp_path: Path, database: Database) -> Iterator[Served]:
    """`serve` over the test archive, on each backend in turn (conftest.py: `database`)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_for(database), encoding="utf-8")
    ids = build_archive(database)
    proc, url = start_server(cfg)
    try:
        yield Served(url, cfg, ids, proc, database)
    finally:
        stop_server(proc)


# --------------------------------------------------------------------------- over plain HTTP


def test_serve_binds_loopback_and_stops_cleanly_on_sigterm(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    status, ctype, body = served.get("/")
    assert status == 200 and ctype.startswith("text/html")
    stop_server(served.proc)
    assert served.proc.returncode == 0


def test_search_pages_show_results_facets_and_errors(served: Served) -> None:
    status, _, body = served.get("/?q=%40central_asia")
    assert status == 200
    assert "Leaders gather for <mark>Central Asia</mark> summit" in body  # titles highlighted too
    assert "Uzbekistan opens its largest solar plant" in text(body)
    assert "Acme Corp" not in body
    assert 'id="facet-rule"' in body and "central-asia" in body and 'id="facet-feed"' in body
    status, _, body = served.get("/?q=summit+AND")
    assert status == 400 and "invalid query" in body
    status, _, body = served.get("/?q=%40nope")
    assert status == 400 and "unknown term list @nope" in body
    # Queries forgive as everywhere else: "*" alone is everything, an unclosed quote says so (no traceback).
    status, _, everything = served.get("/?q=%2A")
    assert status == 200 and "Acme Corp" in everything and "Leaders gather for Central Asia summit" in everything
    status, _, body = served.get("/?q=%22Central%20Asia")
    assert status == 400 and "never closed" in body
    status, _, body = served.get("/?q=summit+AND+NOT+Uzbekistan")
    assert status == 200 and "Leaders gather for Central Asia summit" in text(body)
    status, _, body = served.get("/?rule=earnings&date=2026-11")
    assert status == 200 and "Globex declares" in body and "Acme Corp" not in body
    status, _, body = served.get("/?wire=Business+Wire")
    assert status == 200 and "Acme Corp" in body and "Globex" not in body
    status, _, body = served.get("/?q=%22quotes%22")
    assert 'Zürich &lt;b&gt;&#34;<mark>Quotes</mark>&#34;&lt;/b&gt; &amp; commas' in body  # escaped, never markup
    assert "<b>" not in body


def test_pages_for_a_release_a_rule_and_feeds(served: Served) -> None:
    status, _, body = served.get(f"/release/{served.ids['solar']}")
    assert status == 200 and "Earlier versions (1)" in body and "Corrected capacity" in body
    status, _, body = served.get("/rules")
    assert status == 200 and "/rule/central-asia/feed.atom" in body
    status, _, body = served.get("/rule/central-asia")
    assert status == 200 and 'type="application/atom+xml"' in body and "Leaders gather" in body
    status, ctype, body = served.get("/rule/central-asia/feed.atom")
    assert status == 200 and ctype.startswith("application/atom+xml")
    parsed = feedparser.parse(body.encode("utf-8"))
    assert parsed.bozo == 0 and len(parsed.entries) == 2
    assert parsed.feed.links[0].href == served.url.rstrip("/") + "/rule/central-asia/feed.atom"
    status, _, body = served.get("/feeds")
    assert status == 200 and all(n in body for n in ("PRN Politics", "PRN World", "BW Earnings"))
    for path in ("/release/999999", "/rule/no-such-rule", "/rule/no-such-rule/feed.atom", "/admin"):
        assert served.get(path)[0] == 404, path


def test_only_loopback_host_names_are_answered(served: Served) -> None:
    # A page on evil.example that resolves its name to 127.0.0.1 (DNS rebinding) gets nothing.
    assert served.get("/", host="evil.example:8001")[0] == 403
    assert served.get("/", host=f"localhost:{served.url.rstrip('/').rsplit(':', 1)[1]}")[0] == 200
    # Userinfo, a path or anything else in the Host header is refused, even with a loopback name.
    for bad in ("user@127.0.0.1", "evil.example@localhost", "localhost/x", "localhost:80:80"):
        assert served.get("/", host=bad)[0] == 400, bad


def test_web_never_writes_and_never_blocks_the_writer(served: Served) -> None:
    pages = ("/", "/?q=summit", f"/release/{served.ids['summit']}", "/rules", "/rule/earnings",
             "/rule/earnings/feed.atom", "/feeds")
    if isinstance(served.db, Path):
        before = hashlib.sha256(served.db.read_bytes()).hexdigest()
        for path in pages:
            assert served.get(path)[0] == 200
        assert hashlib.sha256(served.db.read_bytes()).hexdigest() == before
        assert not Path(str(served.db) + "-wal").exists() or Path(str(served.db) + "-wal").stat().st_size == 0
    else:  # the web side's connections are read-only sessions (test_store_pg.py checks they refuse writes)
        for path in pages:
            assert served.get(path)[0] == 200

    # The daemon's write lock is free at once between requests (busy timeout 0), and what it
    # writes shows on the next page: no snapshot or cache is held by the web side.
    writer = Store(served.db)
    if isinstance(served.db, Path):
        writer.conn.execute("PRAGMA busy_timeout = 0")
    else:
        writer.run("SET lock_timeout = 1")  # a lock the web side held would fail the write at once
    try:
        for i in range(3):
            assert served.get("/?q=summit")[0] == 200
            with writer.transaction():
                fid = writer.feed_id("PRN World", "https://www.prnewswire.com/rss/world.rss")
                item = release(f"late-{i}", f"Late breaking tundra report {i}", "Fresh text about the tundra.",
                               published=T0)
                writer.add_sighting(fid, "PRN World", writer.insert_release(item, "PRN World", T0), item, T0)
        status, _, body = served.get("/?q=tundra")
        assert status == 200 and body.count('class="hit"') == 3
    finally:
        writer.close()


def test_serve_without_an_archive_explains_itself(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    proc, url = start_server(cfg)
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=10)
        assert info.value.code == 503 and "no archive here yet" in info.value.read().decode()
        assert not (tmp_path / "archive.db").exists()  # the web side never creates one
    finally:
        stop_server(proc)


# --------------------------------------------------------------------------- in a real browser


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Selenium through Debian's chromedriver."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        # Fail, never skip: `bash .ci/run` (the README's test command) installs them.
        pytest.fail(f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)")
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.slow
def test_search_open_release_and_see_sightings_in_a_browser(served: Served, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, 15)
    driver.get(served.url)
    box = wait.until(ec.presence_of_element_located((By.ID, "q")))
    box.send_keys('"Central Asia" summit', Keys.ENTER)
    wait.until(ec.title_contains("Search:"))
    hits = driver.find_elements(By.CSS_SELECTOR, "ol.results li.hit a.title")
    assert hits, driver.page_source[:2000]
    assert hits[0].text == "Leaders gather for Central Asia summit in Astana"
    assert driver.find_element(By.CSS_SELECTOR, "li.hit .snippet mark").text.lower() in ("central asia", "summit")
    driver.save_screenshot(str(tmp_path / "search.png"))

    hits[0].click()
    wait.until(ec.presence_of_element_located((By.ID, "release-title")))
    assert driver.find_element(By.ID, "release-title").text == "Leaders gather for Central Asia summit in Astana"
    assert driver.current_url.endswith(f"/release/{served.ids['summit']}")
    rows = driver.find_elements(By.CSS_SELECTOR, "ul.sightings li a.feed")
    assert [r.text for r in rows] == ["PRN Politics", "PRN World"]
    statuses = {r.find_elements(By.TAG_NAME, "td")[1].text: r.find_elements(By.TAG_NAME, "td")[2].text
                for r in driver.find_elements(By.CSS_SELECTOR, "table.alerts tbody tr")}
    assert statuses == {"console": "sent", "hook": "pending"}
    shot = tmp_path / "release.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

    # From the release to its rule, and the rule's Atom feed link works.
    driver.find_element(By.CSS_SELECTOR, "ul.matches a").click()
    atom = wait.until(ec.presence_of_element_located((By.ID, "atom"))).get_attribute("href")
    with urllib.request.urlopen(atom, timeout=10) as resp:
        assert feedparser.parse(resp.read()).bozo == 0


@pytest.mark.slow
def test_facets_narrow_the_search_in_a_browser(served: Served, browser) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(served.url + "?q=%40central_asia+OR+quarter*+OR+dividend")
    titles = {a.text for a in driver.find_elements(By.CSS_SELECTOR, "li.hit a.title")}
    assert len(titles) == 4
    driver.find_element(By.CSS_SELECTOR, "#facet-feed a[href*='BW+Earnings']").click()
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "li.hit a.title")]
    assert sorted(titles) == ["Acme Corp reports third quarter results", "Globex declares quarterly dividend"]
    assert "Feed: BW Earnings" in driver.find_element(By.CSS_SELECTOR, "p.filters").text
    driver.find_element(By.CSS_SELECTOR, "#facet-place a[href*='CHICAGO']").click()
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "li.hit a.title")]
    assert titles == ["Globex declares quarterly dividend"]


# --------------------------------------------------------------------------- facets under a time budget


class SteppingClock(ManualClock):
    """Each look at the monotonic clock finds it one second later: every deadline passes quickly."""

    def monotonic(self) -> float:
        self.advance(1.0)
        return super().monotonic()


def test_facets_not_counted_in_time_are_skipped_not_waited_for(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    build_archive(tmp_path / "archive.db")
    with Store(tmp_path / "archive.db", readonly=True) as store:
        assert set(store.facets(None, {}, expired=lambda: True).values()) == {None}
        looks = iter(range(100))
        partial = store.facets(None, {}, expired=lambda: next(looks) >= 1)
        assert partial["rule"] == [("central-asia", 2), ("earnings", 2)]
        assert partial["feed"] is None and partial["place"] is None
    status, body = Pages(app_mod.load(cfg), SteppingClock()).search({"q": "quarter* OR dividend"})
    html = body.decode()
    assert status == 200 and "Globex declares" in html  # the results never wait for the facets
    assert html.count("skipped: too many releases to count quickly") == 4
