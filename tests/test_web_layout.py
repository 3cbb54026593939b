"""The web view's layout in headless Chromium: desktop (1280 px), phone (390 px) and dark mode.

Screenshots go to the test's tmp dir (look at them when the layout changes). Checked: no
horizontal scroll on the phone, facets under the results there, the release text before its
metadata box, charts drawn, dark colours under prefers-color-scheme: dark, keyboard navigation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from monitor.store import Store
from monitor.types import Database
from tests.test_export import build_archive, config_for, release
from tests.test_web import Served, browser, start_server, stop_server  # noqa: F401 (browser is a fixture)

MODES = {"desktop": (1280, 900, False), "phone": (390, 844, False), "dark": (390, 844, True)}


@pytest.fixture
def served(tmp_path: Path, database: Database) -> Iterator[Served]:
    """`serve` over the test archive, on each backend in turn (conftest.py: `database`)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_for(database), encoding="utf-8")
    ids = build_archive(database)
    # One match published today, so the 90-day charts have a bar whenever the test runs.
    now = datetime.now(UTC).replace(microsecond=0)
    with Store(database) as store, store.transaction():
        fid = store.feed_id("PRN World", "https://www.prnewswire.com/rss/world.rss")
        item = release("today-1", "Kazakhstan and Uzbekistan sign a long water-sharing agreement for the Syr Darya",
                       "TASHKENT, Uzbekistan /PRNewswire/ -- " + "The agreement covers the next decade. " * 8
                       + "\n\nA second paragraph follows after a blank line.", published=now,
                       url="https://www.prnewswire.com/news/water-1.html", place="TASHKENT, Uzbekistan",
                       wire="PRNewswire")
        ids["today"] = store.insert_release(item, "PRN World", now)
        store.add_sighting(fid, "PRN World", ids["today"], item, now)
        store.add_match(ids["today"], "central-asia", "[Kazakhstan] and [Uzbekistan] sign a long water", now)
    proc, url = start_server(cfg)
    try:
        yield Served(url, cfg, ids, proc, database)
    finally:
        stop_server(proc)


def setup_mode(driver: object, mode: str) -> None:
    width, height, dark = MODES[mode]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # type: ignore[attr-defined]
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",  # type: ignore[attr-defined]
                           {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})


def check_page(driver: object, tmp_path: Path, mode: str, name: str) -> None:
    """Screenshot the page and check what holds on every page in this mode."""
    driver.save_screenshot(str(tmp_path / f"{mode}-{name}.png"))  # type: ignore[attr-defined]
    scroll, inner = driver.execute_script(  # type: ignore[attr-defined]
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{name} scrolls sideways at {inner} px: {scroll}"
    bg = driver.execute_script("return getComputedStyle(document.body).backgroundColor")  # type: ignore[attr-defined]
    r, g, b = (int(x) for x in re.findall(r"\d+", bg)[:3])
    luminance = 0.299 * r + 0.587 * g + 0.114 * b
    assert (luminance < 60) if MODES[mode][2] else (luminance > 200), f"{name} background {bg} in {mode}"


def box(el: object) -> dict[str, float]:
    return el.rect  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("mode", list(MODES))
def test_pages_in_a_browser(served: Served, browser, tmp_path: Path, mode: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    driver = browser
    setup_mode(driver, mode)
    phone = MODES[mode][0] < 800

    # Search: highlighted titles and snippets, a chart by day, facets beside (desktop) or under (phone).
    driver.get(served.url + "?q=" + quote("@central_asia"))
    hits = driver.find_elements(By.CSS_SELECTOR, "ol.results li.hit")
    assert len(hits) == 3
    assert driver.find_elements(By.CSS_SELECTOR, "li.hit a.title mark")
    assert driver.find_elements(By.CSS_SELECTOR, "#days-chart svg rect")
    facet = driver.find_element(By.ID, "facet-rule")
    if phone:
        assert box(facet)["y"] > box(hits[-1])["y"] + box(hits[-1])["height"]
    else:
        assert box(facet)["x"] > box(hits[0])["x"] + box(hits[0])["width"]
    check_page(driver, tmp_path, mode, "search")

    # A facet narrows; "/" focuses the search, j moves, o opens the current result.
    driver.find_element(By.CSS_SELECTOR, "#facet-feed a[href*='PRN+World']").click()
    assert "Feed: PRN World" in driver.find_element(By.CSS_SELECTOR, "p.filters").text
    check_page(driver, tmp_path, mode, "facets")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("/")
    assert driver.switch_to.active_element.get_attribute("id") == "q"
    driver.switch_to.active_element.send_keys("\ue00c")  # Escape leaves the box
    body.send_keys("j")
    current = driver.find_element(By.CSS_SELECTOR, "li.hit.current a.title")
    target = current.get_attribute("href")
    body.send_keys("o")
    assert driver.current_url == target

    # A release: text first, in paragraphs; the metadata box after it (beside or below).
    driver.get(served.url + f"release/{served.ids['today']}")
    paragraphs = driver.find_elements(By.CSS_SELECTOR, "#text p")
    assert len(paragraphs) == 2
    facts = driver.find_element(By.CSS_SELECTOR, "aside.facts")
    if phone:
        assert box(facts)["y"] > box(paragraphs[-1])["y"]
    else:
        assert box(facts)["x"] > box(paragraphs[0])["x"] + box(paragraphs[0])["width"]
    assert "No alert was queued for this release: rule central-asia" in driver.find_element(By.ID, "no-alert").text
    assert driver.find_element(By.CSS_SELECTOR, "ul.matches mark").text == "Kazakhstan"
    check_page(driver, tmp_path, mode, "release")

    # A rule: the chart of matches per day, its matches by publication time, highlighted.
    driver.get(served.url + "rule/central-asia")
    assert driver.find_elements(By.CSS_SELECTOR, "#rule-chart svg rect")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.matches tbody tr")
    assert len(rows) == 3 and rows[0].find_element(By.CSS_SELECTOR, "mark").text == "Kazakhstan"
    check_page(driver, tmp_path, mode, "rule")

    # The playground: per-day chart, latest matches, the TOML to paste.
    driver.get(served.url + "rules/try?q=" + quote("Uzbekistan OR Kazakhstan"))
    assert driver.find_elements(By.CSS_SELECTOR, "#try-chart svg rect")
    assert driver.find_elements(By.CSS_SELECTOR, "li.hit a.title mark")
    assert 'query = "Uzbekistan OR Kazakhstan"' in driver.find_element(By.ID, "toml").text
    check_page(driver, tmp_path, mode, "playground")

    # Feeds: a sparkline per feed.
    driver.get(served.url + "feeds")
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.feeds svg.spark")) == 3
    check_page(driver, tmp_path, mode, "feeds")
