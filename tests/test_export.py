"""Export round trips: JSONL and CSV records, the Atom feed of a rule, OPML out and in (config.toml import)."""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser  # only to validate our Atom the way feed readers read it
import pytest
from click.testing import CliRunner

from monitor import config as config_mod
from monitor import export
from monitor.cli import configedit, main
from monitor.errors import ConfigError, QueryError
from monitor.store import Store
from monitor.types import Database, Dateline, Feed, Release, ServerDatabase

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def config_for(database: Database) -> str:
    """CONFIG with its archive on `database` (the `database` fixture: either backend)."""
    if isinstance(database, ServerDatabase):
        return CONFIG.replace('database = "archive.db"', f'database = "{database.url}"')
    return CONFIG


CONFIG = """\
# press-monitor test config: comments must survive `import`
[monitor]
database = "archive.db"   # relative to this file

[terms]
central_asia = ['"Central Asia"', "Kazakhstan", "Uzbekistan"]

[[feeds]]
name = "PRN Politics"
url = "https://www.prnewswire.com/rss/politics.rss"

[[feeds]]
name = "PRN World"
url = "https://www.prnewswire.com/rss/world.rss"

[[feeds]]
name = "BW Earnings"
url = "https://feed.businesswire.com/rss/earnings"

[[rules]]
name = "central-asia"
query = "@central_asia"
notify = ["console"]

[[rules]]
name = "earnings"
query = "quarter* OR dividend"

[channels.console]
type = "console"
"""


def release(key: str, title: str, body: str, *, url: str = "", published: datetime = T0, place: str = "",
            wire: str = "", tickers: tuple[str, ...] = (), author: str = "", summary: str | None = None) -> Release:
    """Return a normalized Release as the pipeline would hand it to the store."""
    digest = hashlib.sha256(f"{title}|{body}|{summary}".encode()).hexdigest()
    dateline = Dateline(place=place, date=published.date(), wire=wire) if place or wire else None
    return Release(sighting_key=key, url=url, link=url or "", title=title,
                   summary=body[:120] if summary is None else summary, body=body, author=author,
                   published_at=published, published_known=True, dateline=dateline, tickers=tickers,
                   fingerprint=hashlib.sha256(title.encode()).hexdigest()[:16], content_hash=digest)


def build_archive(db: Database) -> dict[str, int]:
    """Fill an archive through the Store's ingest methods; return release ids by label.

    summit: "Central Asia" summit in Astana, carried by two feeds, matched by central-asia, one alert
            sent (console) and one pending (webhook)
    solar:  Uzbekistan solar plant, matched by central-asia, revised once
    acme:   quarterly results (NYSE:ACME), matched by earnings
    globex: dividend, matched by earnings
    odd:    markup, quotes, commas, a form feed, non-ASCII; no dateline
    bare:   no URL, no dateline, no summary
    """
    ids: dict[str, int] = {}
    with Store(db) as store, store.transaction():
        politics = store.feed_id("PRN Politics", "https://www.prnewswire.com/rss/politics.rss")
        world = store.feed_id("PRN World", "https://www.prnewswire.com/rss/world.rss")
        bw = store.feed_id("BW Earnings", "https://feed.businesswire.com/rss/earnings")
        items = {
            "summit": (politics, "PRN Politics", release(
                "prn-1", "Leaders gather for Central Asia summit in Astana",
                "ASTANA, Kazakhstan, Nov. 18, 2026 /PRNewswire/ -- Heads of state met for the Central Asia "
                "summit on energy and trade corridors.", url="https://www.prnewswire.com/news/summit-1.html",
                published=T0 - timedelta(days=2), place="ASTANA, Kazakhstan", wire="PRNewswire")),
            "solar": (politics, "PRN Politics", release(
                "prn-2", "Uzbekistan opens its largest solar plant",
                "TASHKENT, Uzbekistan /PRNewswire/ -- A 500 MW plant starts delivering power.",
                url="https://www.prnewswire.com/news/solar-2.html", published=T0 - timedelta(days=1),
                place="TASHKENT, Uzbekistan", wire="PRNewswire")),
            "acme": (bw, "BW Earnings", release(
                "bw-1", "Acme Corp reports third quarter results",
                "NEW YORK /Business Wire/ -- Acme Corp (NYSE:ACME) reported revenue up 12% for the quarter.",
                url="https://www.businesswire.com/news/acme-q3", published=T0 - timedelta(days=40),
                place="NEW YORK", wire="Business Wire", tickers=("NYSE:ACME",), author="Acme Investor Relations")),
            "globex": (bw, "BW Earnings", release(
                "bw-2", "Globex declares quarterly dividend",
                "CHICAGO /PRNewswire/ -- The board declared a dividend of $0.25 per share.",
                url="https://www.businesswire.com/news/globex-div", published=T0 - timedelta(days=3),
                place="CHICAGO", wire="PRNewswire", tickers=("NASDAQ:GBX",))),
            "odd": (world, "PRN World", release(
                "w-1", 'Zürich <b>"Quotes"</b> & commas, in a title',
                'Line one, with "quotes", commas\nline two\x0c with a form feed; < > & all here.',
                url="https://example.org/odd?x=1&y=2", published=T0 - timedelta(hours=5))),
            "bare": (world, "PRN World", release("w-2", "A release with nothing but a title", "", summary="",
                                                  published=T0 - timedelta(hours=1))),
        }
        for label, (fid, fname, item) in items.items():
            rid = store.insert_release(item, fname, T0)
            store.add_sighting(fid, fname, rid, item, T0)
            ids[label] = rid
        summit = items["summit"][2]
        store.add_sighting(world, "PRN World", ids["summit"],
                           release("w-9", summit.title, summit.body, url=summit.url), T0 + timedelta(minutes=5))
        solar = items["solar"][2]
        store.revise_release(ids["solar"], release(
            "prn-2", "Uzbekistan opens its largest solar plant (updated)", solar.body + " Corrected capacity.",
            url=solar.url, published=solar.published_at, place="TASHKENT, Uzbekistan", wire="PRNewswire"),
            T0 + timedelta(hours=2))
        store.add_match(ids["summit"], "central-asia", "[Central Asia] summit in Astana", T0)
        store.add_match(ids["solar"], "central-asia", "[Uzbekistan] opens its largest solar plant",
                        T0 + timedelta(minutes=1))
        store.add_match(ids["acme"], "earnings", "third [quarter] results", T0)
        store.add_match(ids["globex"], "earnings", "[quarterly] [dividend]", T0 + timedelta(minutes=2))
        store.add_alert(ids["summit"], "central-asia", "console", T0)
        store.add_alert(ids["summit"], "central-asia", "hook", T0)
        sent = [a.id for a in store.alerts() if a.channel == "console"]
        store.mark_sent(sent, T0 + timedelta(seconds=3))
    return ids


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A config.toml and a filled archive.db beside it; returns (config path, release ids)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return cfg, build_archive(tmp_path / "archive.db")


def run(cfg: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(cfg), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- JSONL / CSV


def test_jsonl_export_round_trips_every_record(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, ids = archive
    with Store(cfg.parent / "archive.db", readonly=True) as store:
        records = list(store.export_records())
    code, out, err = run(cfg, "export")
    assert code == 0, err
    lines = out.splitlines()
    assert [json.loads(line) for line in lines] == records
    assert len(records) == len(ids)
    by_id = {r["id"]: r for r in records}
    summit = by_id[ids["summit"]]
    assert list(summit) == list(export.EXPORT_FIELDS)
    assert summit["feeds"] == ["PRN Politics", "PRN World"]
    assert summit["rules"] == ["central-asia"]
    assert summit["dateline_place"] == "ASTANA, Kazakhstan" and summit["wire"] == "PRNewswire"
    assert summit["published"] == "2026-11-18T09:00:00Z"
    assert by_id[ids["acme"]]["tickers"] == ["NYSE:ACME"]
    assert by_id[ids["solar"]]["title"].endswith("(updated)")  # the current text, not the first version
    odd = by_id[ids["odd"]]
    assert odd["title"] == 'Zürich <b>"Quotes"</b> & commas, in a title' and "\x0c" in odd["body"]
    assert by_id[ids["bare"]]["dateline_place"] is None and by_id[ids["bare"]]["url"] == ""


def test_csv_export_opens_in_the_csv_module_with_the_right_columns(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, ids = archive
    with Store(cfg.parent / "archive.db", readonly=True) as store:
        records = list(store.export_records())
    code, out, err = run(cfg, "export", "--format", "csv")
    assert code == 0, err
    reader = csv.DictReader(io.StringIO(out, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == export.EXPORT_FIELDS
    assert len(rows) == len(records)
    assert [export.record_from_csv(r) for r in rows] == records
    summit = next(r for r in rows if int(r["id"]) == ids["summit"])
    assert summit["feeds"] == "PRN Politics\nPRN World" and summit["published_known"] == "true"


def test_export_filters_by_query_terms_rule_and_dates(archive: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    cfg, ids = archive

    def exported(*args: str) -> set[int]:
        code, out, err = run(cfg, "export", *args)
        assert code == 0, err
        return {json.loads(line)["id"] for line in out.splitlines()}

    assert exported("--query", "@central_asia") == {ids["summit"], ids["solar"]}
    assert exported("--query", '"solar plant"') == {ids["solar"]}
    assert exported("--rule", "earnings") == {ids["acme"], ids["globex"]}
    assert exported("--rule", "earnings", "--since", "2026-11-01") == {ids["globex"]}
    assert exported("--until", "2026-11-01") == {ids["acme"]}
    assert exported("--query", "dividend", "--rule", "central-asia") == set()
    out_file = tmp_path / "out" / "x.jsonl"
    out_file.parent.mkdir()
    code, out, err = run(cfg, "export", "--rule", "central-asia", "-o", str(out_file))
    assert code == 0 and out == ""
    assert len(out_file.read_text().splitlines()) == 2
    assert [p.name for p in out_file.parent.iterdir()] == ["x.jsonl"]  # no temp file left behind


def test_export_refuses_a_bad_query_and_an_unknown_rule(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, _ = archive
    code, out, err = run(cfg, "export", "--query", "summit AND")
    assert code == 2 and "invalid query" in err and out == ""
    code, _, err = run(cfg, "export", "--rule", "no-such-rule")
    assert code == 2 and "no-such-rule" in err and "central-asia" in err


@pytest.mark.slow
def test_export_streams_in_constant_memory(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    body = "word " * 400  # 2 KB each: 4000 releases are ~8 MB of text
    with Store(db) as store, store.transaction():
        fid = store.feed_id("F", "https://example.com/f")
        for i in range(4000):
            item = release(f"k{i}", f"Release {i}", f"{body} {i}", url=f"https://example.com/{i}")
            store.add_sighting(fid, "F", store.insert_release(item, "F", T0), item, T0)
    with Store(db, readonly=True) as store:
        tracemalloc.start()
        try:
            count = 0
            for rec in store.export_records(batch=200):
                export.jsonl_line(rec)
                count += 1
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert count == 4000
    assert peak < 2_000_000, f"peak {peak} bytes: export is holding the archive in memory"


def test_store_rejects_unknown_filters_and_bad_dates(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, _ = archive
    with Store(cfg.parent / "archive.db", readonly=True) as store:
        with pytest.raises(QueryError, match="unknown filter 'colour'"):
            store.export_count(filters={"colour": "red"})
        with pytest.raises(QueryError, match="2026-13"):
            store.export_count(filters={"date": "2026-13"})
        assert store.export_count(filters={"date": "2026-11"}) == 5
        assert store.export_count(filters={"date": "2026-11-18"}) == 1


# --------------------------------------------------------------------------- Atom


def test_feed_is_valid_atom_that_feedparser_reads_back(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, ids = archive
    code, out, err = run(cfg, "feed", "central-asia", "--self-url", "https://example.com/ca.atom")
    assert code == 0, err
    parsed = feedparser.parse(out.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "press-monitor: central-asia"
    assert [e.title for e in parsed.entries] == ["Uzbekistan opens its largest solar plant (updated)",
                                                 "Leaders gather for Central Asia summit in Astana"]
    assert parsed.entries[1].link == "https://www.prnewswire.com/news/summit-1.html"
    assert parsed.entries[1].published_parsed[:3] == (2026, 11, 18)
    assert len({e.id for e in parsed.entries}) == 2
    assert all(e.tags[0].term == "central-asia" for e in parsed.entries)
    assert parsed.feed.links[0].href == "https://example.com/ca.atom"
    code, out, _ = run(cfg, "feed", "earnings", "--limit", "1")
    assert code == 0 and [e.title for e in feedparser.parse(out).entries] == ["Globex declares quarterly dividend"]


def test_atom_escapes_markup_and_drops_characters_xml_cannot_carry() -> None:
    rows = [{"id": 7, "title": 'A <b>"bold"</b> & odd\x0c title', "url": "https://example.org/a?x=1&y=2",
             "published": T0, "updated": T0, "summary": "x < y & z\x00", "snippet": "", "author": "Ann & Co",
             "matched_at": T0}]
    doc = export.rule_feed("r & d", rows, install_id="abcd1234", now=T0)
    parsed = feedparser.parse(doc.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    assert entry.title == 'A <b>"bold"</b> & odd title'
    assert entry.link == "https://example.org/a?x=1&y=2"
    assert entry.summary == "x < y & z" and entry.author == "Ann & Co"
    assert entry.id == "tag:press-monitor,2024:abcd1234/release/7"
    assert parsed.feed.id == "tag:press-monitor,2024:abcd1234/rule/r%20%26%20d"


def test_an_empty_rule_feed_is_still_valid_and_an_unknown_rule_fails(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, _ = archive
    doc = export.rule_feed("quiet", [], install_id="x", now=T0)
    parsed = feedparser.parse(doc)
    assert parsed.bozo == 0 and parsed.entries == [] and parsed.feed.updated_parsed[:3] == (2026, 11, 20)
    code, _, err = run(cfg, "feed", "nope")
    assert code == 2 and "no rule named 'nope'" in err


# --------------------------------------------------------------------------- OPML


def test_opml_round_trip() -> None:
    feeds = [Feed("PRN Politics", "https://www.prnewswire.com/rss/politics.rss", 300.0),
             Feed('Odd & "quoted" <name>', "https://example.org/feed?a=1&b=2", 300.0)]
    doc = export.opml_document(feeds, now=T0)
    assert export.parse_opml(doc.encode("utf-8"), source="x.opml") == [
        export.OpmlFeed(f.name, f.url) for f in feeds]


def test_parse_opml_reads_folders_and_ignores_non_feed_outlines() -> None:
    doc = b"""<?xml version="1.0"?>
    <opml version="1.0"><head><title>Reader export</title></head><body>
      <outline text="Wires">
        <outline text="PR Newswire: Energy" type="rss" xmlUrl="https://www.prnewswire.com/rss/energy.rss"/>
        <outline title="GlobeNewswire" text="ignored" type="rss" xmlurl="https://www.globenewswire.com/rss"/>
      </outline>
      <outline text="A web page, not a feed" htmlUrl="https://example.com/"/>
      <outline type="rss" xmlUrl="https://example.net/untitled.xml"/>
    </body></opml>"""
    assert export.parse_opml(doc, source="r.opml") == [
        export.OpmlFeed("PR Newswire: Energy", "https://www.prnewswire.com/rss/energy.rss", "Wires"),
        export.OpmlFeed("GlobeNewswire", "https://www.globenewswire.com/rss", "Wires"),
        export.OpmlFeed("", "https://example.net/untitled.xml"),
    ]
    with pytest.raises(ConfigError, match="bad.opml: not an OPML file"):
        export.parse_opml(b"<html><body>hi</body></html>", source="bad.opml")
    with pytest.raises(ConfigError, match="bad.opml: not an OPML file: XML error"):
        export.parse_opml(b"<opml><body>", source="bad.opml")


def test_import_appends_feeds_to_config_keeping_comments(archive: tuple[Path, dict[str, int]],
                                                         tmp_path: Path) -> None:
    cfg, _ = archive
    opml = tmp_path / "subs.opml"
    opml.write_text("""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="Wires">
        <outline type="rss" text="PRN World again" xmlUrl="https://WWW.PRNEWSWIRE.COM/rss/world.rss"/>
        <outline type="rss" text="PRN Politics" xmlUrl="https://www.prnewswire.com/rss/politics-eu.rss"/>
        <outline type="rss" text="Energy &amp; &quot;Power&quot; \\ back" xmlUrl="https://example.com/energy.xml"/>
        <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
        <outline type="rss" xmlUrl="https://news.example.net/feed"/>
      </outline></body></opml>""", encoding="utf-8")
    code, out, err = run(cfg, "import", str(opml), "--dry-run")
    assert code == 0, err
    assert "would add" in out and cfg.read_text() == CONFIG

    code, out, err = run(cfg, "import", str(opml))
    assert code == 0, err
    assert "already configured as 'PRN World'" in out
    assert "not an http(s) URL" in out
    text = cfg.read_text(encoding="utf-8")
    # Nothing of the user's file changed, comments included: the edit only inserted lines.
    ops = difflib.SequenceMatcher(a=CONFIG.splitlines(), b=text.splitlines()).get_opcodes()
    assert {op for op, *_ in ops} == {"equal", "insert"}, ops
    assert "# imported from subs.opml" in text
    loaded = config_mod.load(cfg)
    names = {f.name: f.url for f in loaded.feeds}
    assert names["Wires: PRN Politics"] == "https://www.prnewswire.com/rss/politics-eu.rss"
    assert names['Wires: Energy & "Power" \\ back'] == "https://example.com/energy.xml"
    assert names["Wires: news.example.net"] == "https://news.example.net/feed"
    assert len(loaded.feeds) == 6

    code, out, err = run(cfg, "import", str(opml))  # a second import changes nothing
    assert code == 0 and "nothing to add" in out
    assert cfg.read_text(encoding="utf-8") == text


def test_import_refuses_a_config_that_does_not_load_and_keeps_an_inline_array(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    opml = tmp_path / "s.opml"
    opml.write_text('<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/f"/></body></opml>')
    cfg.write_text('feeds = "nope"\n[monitor]\ndatabase = "a.db"\n')
    original = cfg.read_text()
    code, _, err = run(cfg, "import", str(opml))
    assert code == 2 and "config.toml" in err and "feeds" in err
    assert cfg.read_text() == original
    # No temporary file is left behind (the editors' lock file stays by design: cli/configedit.editing).
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config.toml.lock", "config.toml", "s.opml"]
    # An inline `feeds = [...]` array gets an inline table (tomlkit): the file still loads.
    cfg.write_text('feeds = []\n[monitor]\ndatabase = "a.db"\n')
    code, out, err = run(cfg, "import", str(opml))
    assert code == 0, err
    assert [(f.name, f.url) for f in config_mod.load(cfg).feeds] == [("A", "https://a.example/f")]


def test_opml_of_configured_feeds_loads_back_into_another_config(archive: tuple[Path, dict[str, int]],
                                                                 tmp_path: Path) -> None:
    cfg, _ = archive
    feeds = config_mod.load(cfg).feeds
    other = tmp_path / "other.toml"
    other.write_text('[monitor]\ndatabase = "b.db"\n')
    plan = export.plan_import((), export.parse_opml(export.opml_document(feeds), source="x"))
    other.write_text(configedit.append_tables(other.read_text(), "feeds",
                                              [{"name": n, "url": u} for n, u in plan.added]))
    assert [(f.name, f.url) for f in config_mod.load(other).feeds] == [(f.name, f.url) for f in feeds]


def test_append_tables_escapes_what_toml_needs() -> None:
    import tomllib

    for text in ['plain', 'a "quote"', "back\\slash", "tab\there", "ünïcödé", "\x7f\x01"]:
        out = configedit.append_tables("# c\n", "feeds", [{"name": text, "url": "https://x.example/"}])
        assert tomllib.loads(out)["feeds"][0]["name"] == text and out.startswith("# c\n")


def test_dates_in_export_are_utc_text(archive: tuple[Path, dict[str, int]]) -> None:
    cfg, ids = archive
    with Store(cfg.parent / "archive.db", readonly=True) as store:
        rec = next(r for r in store.export_records() if r["id"] == ids["acme"])
    assert rec["published"] == "2026-10-11T09:00:00Z" and rec["dateline_date"] == date(2026, 10, 11).isoformat()


# --------------------------------------------------------------------------- the link policy


@pytest.mark.parametrize("bad", ["javascript:alert(document.cookie)", "data:text/html,<script>x</script>",
                                 "JavaScript:alert(1)", "file:///etc/passwd", "//no-scheme.example.com/x"])
def test_exports_never_hand_on_a_link_that_is_not_http(tmp_path: Path, bad: str) -> None:
    # An archive written before the link policy may hold such a URL: export, CSV and Atom drop it
    # (the text stays in the archive), http(s) links pass.
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    with Store(tmp_path / "archive.db") as store, store.transaction():
        fid = store.feed_id("PRN World", "https://www.prnewswire.com/rss/world.rss")
        for key, url in (("evil", bad), ("good", "https://example.com/ok")):
            item = release(key, f"Summit {key}", "Central Asia summit", url=url, published=T0)
            rid = store.insert_release(item, "PRN World", T0)
            store.add_sighting(fid, "PRN World", rid, item, T0)
            store.add_match(rid, "central-asia", "summit", T0)
    code, out, err = run(cfg, "export")
    assert code == 0, err
    records = {r["title"]: r for r in map(json.loads, out.splitlines())}
    assert records["Summit evil"]["url"] == "" and records["Summit evil"]["links"] == []
    assert records["Summit good"]["url"] == "https://example.com/ok"
    assert records["Summit good"]["links"] == ["https://example.com/ok"]
    code, out, err = run(cfg, "export", "--format", "csv")
    assert code == 0 and bad not in out and "https://example.com/ok" in out
    code, out, err = run(cfg, "feed", "central-asia")
    assert code == 0 and bad not in out and bad.replace("<", "&lt;") not in out
    links = [link.href for e in feedparser.parse(out).entries for link in e.get("links", ())]
    assert links == ["https://example.com/ok"]


def test_record_link_policy_in_jsonl_and_csv_lines() -> None:
    record = {"id": 1, "title": "t", "url": "javascript:x", "links": ["data:,x", "https://ex.com/a b"]}
    line = json.loads(export.jsonl_line(record))
    assert line["url"] == "" and line["links"] == ["https://ex.com/a%20b"]
    assert "javascript" not in export.csv_line(record) and "data:" not in export.csv_line(record)


@pytest.mark.parametrize(("query", "filters"), [
    ("@central_asia", {}), ('"solar plant"', {}), ("dividend OR summit* OR quarter*", {"date": "2026-11"}),
    ("summit*", {"feed": "PRN World"}), ("nothingmatchesthis", {}),
])
def test_export_of_a_query_is_the_same_on_both_backends_and_read_in_id_ranges(
        tmp_path: Path, database: Database, monkeypatch: pytest.MonkeyPatch, query: str, filters: dict) -> None:
    """On PostgreSQL an export of a query reads its matches one id range at a time (review.EXPORT_SPAN),
    never the list of every match; what it yields, and export_count, are what SQLite gives."""
    from monitor.rules import fts_query
    from monitor.store import review

    monkeypatch.setattr(review, "EXPORT_SPAN", 2)  # several ranges even in this small archive
    q = fts_query(query, {"central_asia": ["Central Asia", "Kazakhstan", "Uzbekistan"]})
    build_archive(database)
    build_archive(tmp_path / "twin.db")
    with Store(database, readonly=True) as store, Store(tmp_path / "twin.db", readonly=True) as twin:
        got = list(store.export_records(fts_query=q, filters=filters, batch=1))
        assert got == list(twin.export_records(fts_query=q, filters=filters))
        assert [r["id"] for r in got] == sorted(r["id"] for r in got)  # oldest first, as documented
        assert store.export_count(fts_query=q, filters=filters) == len(got)
