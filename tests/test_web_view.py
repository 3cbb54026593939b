"""The web view's pure parts (text shaping, charts) and pages rendered in-process on a ManualClock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor import app as app_mod
from monitor.clock import ManualClock
from monitor.errors import ConfigError
from monitor.types import Database, ServerDatabase
from monitor.web import charts, view
from monitor.web.html import Pages, toml_snippet
from monitor.web.model import duration_words
from tests.test_export import T0, build_archive, config_for


def test_snippets_titles_and_rule_matches_share_one_highlighting() -> None:
    assert view.pieces("a \x02b\x03 c") == [("a ", False), ("b", True), (" c", False)]
    assert view.pieces(view.from_brackets("third [quarter] results")) == [
        ("third ", False), ("quarter", True), (" results", False)]
    assert view.pieces(view.from_brackets("a [b] [c d]…")) == [("a ", False), ("b", True), (" ", False),
                                                                ("c d", True), ("…", False)]


def test_cuts_end_on_a_word_with_an_ellipsis() -> None:
    assert view.cut("short text") == "short text"
    text = "word " * 100
    cut = view.cut(text, 40)
    assert cut.endswith("word…") and len(cut) <= 41
    assert view.cut("a, b, c, d, e, f", 9) == "a, b, c…"


@pytest.mark.parametrize(("url", "ok"), [
    ("https://example.com/x", True), ("HTTP://example.com", True), ("javascript:alert(1)", False),
    ("data:text/html,<b>", False), ("//example.com/x", False), ("ftp://example.com", False), ("", False),
    ("http://[::1", False), ("vbscript:msgbox", False), (" javascript:alert(1)", False),
])
def test_only_http_and_https_are_links(url: str, ok: bool) -> None:
    assert (view.link(url) is not None) is ok


def test_paragraphs_and_clamped_numbers() -> None:
    assert view.paragraphs("One.\n\nTwo\nlines.\n\n\n") == ["One.", "Two lines."]
    assert view.paragraphs("Line one.\nLine two.") == ["Line one.", "Line two."]
    assert view.clamp_int("99999999999999999999", 1, 1, 10) == 10
    assert view.clamp_int("²", 1, 1, 10) == 1 and view.clamp_int("-4", 1, 1, 10) == 1
    assert view.clamp_int("1e9", 3, 1, 10) == 3


def test_dates_name_their_zone() -> None:
    when = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert view.Zone("UTC").when(when) == "2026-11-20 09:00 UTC"
    assert view.Zone("Europe/Paris").when(when) == "2026-11-20 10:00 CET"
    assert view.Zone("America/New_York").when(datetime(2026, 7, 1, 12, tzinfo=UTC)) == "2026-07-01 08:00 EDT"
    assert view.Zone("UTC").when(None) == "–"


def test_bar_chart_geometry() -> None:
    c = charts.bars({"2026-11-30": 4, "2026-12-01": 2, "2025-01-01": 99}, date(2026, 12, 1), days=10, width=100,
                    height=50)
    assert c.total == 6 and c.peak == 4 and c.first == "2026-11-22" and c.last == "2026-12-01"
    drawn = [b for b in c.bars if b.h > 0]
    assert [(b.day, b.n) for b in drawn] == [("2026-11-30", 4), ("2026-12-01", 2)]
    assert drawn[0].h == 48 and drawn[1].h == 24 and drawn[1].y == 26 and drawn[1].x == 90
    empty = charts.bars({}, date(2026, 12, 1), days=3, bad_days=frozenset({"2026-12-01"}))
    assert [b.bad for b in empty.bars if b.h > 0] == [True]  # a failing day shows even with nothing carried


def test_toml_snippet_and_durations() -> None:
    import tomllib

    q = 'merger AND "Central Asia" \\ @terms'
    assert tomllib.loads(toml_snippet(q))["rules"][0]["query"] == q
    assert duration_words(172800) == "2 days" and duration_words(5400) == "90 minutes"


def with_zone(zone: str, database: Database) -> str:
    return config_for(database).replace("[monitor]\n", f'[monitor]\ndisplay_timezone = "{zone}"\n', 1)


def test_display_timezone_is_configured_and_checked(tmp_path: Path, database: Database) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(with_zone("Asia/Almaty", database), encoding="utf-8")
    ids = build_archive(database)
    pages = Pages(app_mod.load(cfg), ManualClock(T0))
    status, body = pages.release(ids["summit"])
    assert status == 200 and "2026-11-18 14:00 +05" in body.decode() and "Times in Asia/Almaty" in body.decode()
    cfg.write_text(with_zone("Mars/Olympus", database), encoding="utf-8")
    with pytest.raises(ConfigError, match="monitor.display_timezone"):
        app_mod.load(cfg)


def test_pages_on_a_manual_clock(tmp_path: Path, database: Database) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_for(database), encoding="utf-8")
    ids = build_archive(database)
    pages = Pages(app_mod.load(cfg), ManualClock(T0))
    status, body = pages.rule("central-asia", {})
    html = body.decode()
    assert status == 200 and "Matched releases, last 90 days, by day published (UTC): 2 from" in html
    assert 'class="xlabel"' in html and '<rect class="bar"' in html
    assert html.index("Uzbekistan opens") < html.index("Leaders gather")  # newest first
    status, body = pages.playground({"q": "@central_asia"})
    html = body.decode()
    assert status == 200 and 'id="try-chart"' in html and "query = &#34;@central_asia&#34;" in html
    assert "Expanded:" in html
    status, body = pages.playground({"q": '"open'})
    assert status == 400 and "unterminated string" in body.decode()
    status, body = pages.release(ids["bare"])
    assert "No alert was queued for this release: no watch rule matched it." in body.decode()
    status, body = pages.feeds()
    assert status == 200 and body.decode().count('class="spark"') == 3
    # One view model for the release page and /api/releases/ID (issue 23): they say the same.
    from html import unescape

    from monitor.web.api import Api

    api = Api(app_mod.load(cfg), ManualClock(T0))
    for label in ("bare", "acme", "summit"):
        _, page = pages.release(ids[label])
        _, doc = api.release(ids[label])
        text = unescape(page.decode())
        assert doc["title"] in text and all(a["channel"] in text for a in doc["alerts"])
        reason = doc["no_alert_reason"]
        assert (reason is None) == bool(doc["alerts"]) and (reason is None or reason in text), (label, reason)


@pytest.mark.parametrize(("query", "filters"), [
    (None, {}), ('"Central Asia" OR Kazakhstan OR Uzbekistan', {}), ("quarter* OR dividend", {"feed": "BW Earnings"}),
    (None, {"wire": "PRNewswire"}), (None, {"date": "2026-11"}), ("summit OR solar OR quarter* OR dividend", {}),
])
def test_window_facets_agree_with_the_full_count(database: Database, query: str | None, filters: dict) -> None:
    from monitor.store import Store

    build_archive(database)
    with Store(database, readonly=True) as store:
        window, more = store.web_window(query, filters)
        assert not more  # a small archive: the window is every match
        full = store.facets(query, filters)
        fast = store.web_facets(window, date=filters.get("date", ""))
        for name in ("rule", "feed", "wire", "place"):
            assert sorted(fast[name] or []) == sorted(full[name] or []), name
        assert sorted(fast["date"] or []) == sorted(full["date"] or [])
        hits = store.web_search(query, filters, limit=50, window=window if query else None)
        assert sorted(h["id"] for h in hits) == sorted(window)
        days = store.web_days(query, since=T0 - timedelta(days=30), until=T0 + timedelta(days=1),
                              window=window if filters else None)
        expected: dict[str, int] = {}
        for rid in window:  # by publication day, as the date facet counts (issue 23)
            day = store.scalar("SELECT substr(published_at, 1, 10) FROM releases WHERE id = :id", {"id": rid})
            if (T0 - timedelta(days=30)).date().isoformat() <= day <= (T0 + timedelta(days=1)).date().isoformat():
                expected[day] = expected.get(day, 0) + 1
        assert days == expected


def test_every_chart_counts_by_publication_date(database: Database) -> None:
    """Search, front page, playground, rule and feed charts put a release on the day it was published,
    not the day it was first seen or matched (issue 23: the rule page said 3 today where `rules` said 1)."""
    from monitor.store import Store
    from tests.test_export import release

    now = T0 + timedelta(days=10)
    with Store(database) as store, store.transaction():
        fid = store.feed_id("Wire", "https://feeds.example/wire.rss")
        for i, published in enumerate([now - timedelta(days=3), now - timedelta(days=3), now - timedelta(hours=1)]):
            item = release(f"k{i}", f"Summit {i}", "NEW YORK -- A summit.", published=published)
            rid = store.insert_release(item, "Wire", now)  # all three first seen (and matched) now
            store.add_sighting(fid, "Wire", rid, item, now)
            store.add_match(rid, "summits", "[Summit]", now)
    three_days_ago, today = (now - timedelta(days=3)).date().isoformat(), now.date().isoformat()
    expected = {three_days_ago: 2, today: 1}
    since = now - timedelta(days=89)
    with Store(database, readonly=True) as store:
        assert store.web_days(None, since=since, until=now) == expected  # the front page
        assert store.web_days("summit", since=since, until=now) == expected  # a search, the playground
        window, _ = store.web_window("summit", {"feed": "Wire"})
        assert store.web_days("summit", since=since, until=now, window=window) == expected  # with filters
        assert store.web_rule_days("summits", since=since) == expected  # the rule page
        assert store.web_feed_days(since=since) == {"Wire": expected}  # the feeds page's sparklines
        assert store.match_counts(now)["summits"][0] == 1  # what `rules` says for the last 24 h
    chart = charts.bars(expected, now.date())
    assert chart.what == "releases" and "published" in chart.label
    assert [t.text for t in chart.ticks][:1] and all(t.text.split()[1] == "1" for t in chart.ticks)  # month starts
    short = charts.bars(expected, now.date(), days=30)
    assert len(short.ticks) >= 2 and short.ticks[-1].day == today


def _wide_archive(db: Database) -> None:
    """40 releases on three feeds (some on two), every one saying "announced", rules on some, same-length texts."""
    from monitor.store import Store
    from tests.test_export import release

    with Store(db) as store, store.transaction():
        fids = [store.feed_id(f"Feed {i}", f"https://feeds.example/{i}.rss") for i in range(3)]
        for i in range(40):
            fid = i % 3
            what = "quarterly results" if i % 2 else "a dividend"
            item = release(f"k-{i}", f"Company {i} announced results", f"NEW YORK -- Company {i} announced {what}.",
                           published=T0 + timedelta(hours=i), wire="PRNewswire" if i % 4 else "Business Wire")
            rid = store.insert_release(item, f"Feed {fid}", T0 + timedelta(hours=i))
            store.add_sighting(fids[fid], f"Feed {fid}", rid, item, T0 + timedelta(hours=i))
            if i % 5 == 0:  # a second feed carries it too
                other = (fid + 1) % 3
                store.add_sighting(fids[other], f"Feed {other}", rid, release(f"x-{i}", item.title, item.body),
                                   T0 + timedelta(hours=i, minutes=3))
            if i % 3 != 2:
                store.add_match(rid, "earnings", "[announced]", T0 + timedelta(hours=i))


@pytest.mark.parametrize("filters", [
    {"feed": "Feed 1"}, {"rule": "earnings"}, {"feed": "Feed 2", "rule": "earnings"}, {"wire": "PRNewswire"},
    {"feed": "Feed 0", "wire": "Business Wire"}, {"feed": "no such feed"}, {},
])
@pytest.mark.parametrize("query", ["announced", "quarterly OR dividend"])
def test_filtered_window_and_ranking_equal_the_plain_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             database: Database, query: str, filters: dict) -> None:
    """The window's index-only shortcuts and the ranking within it give what the plain SQL gives.

    On PostgreSQL: the same window as the same archive on SQLite, ranked pages that partition it
    (ts_rank, not bm25: the order within the window may differ, pgreview.py)."""
    from monitor.store import Store, webview
    from monitor.store.review import review_where

    monkeypatch.setattr(webview, "RANK_WINDOW", 6)  # a window smaller than the matches: the cut is tested too
    _wide_archive(database)
    if isinstance(database, ServerDatabase):
        _wide_archive(tmp_path / "twin.db")
        with Store(tmp_path / "twin.db", readonly=True) as twin, Store(database, readonly=True) as store:
            window, more = store.web_window(query, filters)
            assert (window, more) == twin.web_window(query, filters)
            pages = [h["id"] for offset in (0, 2, 4)
                     for h in store.web_search(query, filters, limit=2, offset=offset, window=window)]
            assert sorted(pages) == sorted(window)
        return
    with Store(database, readonly=True) as store:
        window, more = store.web_window(query, filters)
        where, params = review_where(query, filters)
        every = [r[0] for r in store.conn.execute(f"SELECT r.id FROM releases r WHERE {where} ORDER BY r.id DESC",
                                                  params)]
        assert window == every[:6] and more == (len(every) > 6)
        ranks = dict(store.conn.execute("SELECT rowid, rank FROM releases_fts WHERE releases_fts MATCH ?", (query,)))
        expected = sorted(window, key=lambda i: (ranks[i], -i))
        for offset in (0, 2, 4):
            hits = store.web_search(query, filters, limit=2, offset=offset, window=window)
            assert [h["id"] for h in hits] == expected[offset:offset + 2]
