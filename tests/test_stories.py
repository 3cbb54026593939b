"""Stories: near-copies of one release join one story, and a rule alerts once per story (issue 21).

The pure decision (monitor/stories.py) on hand-written copies; the archive side through the real
pipeline.commit / apply_page on both backends (SQLite file and the PostgreSQL server).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor import pipeline, stories
from monitor.normalize import normalize
from monitor.rules import compile_rules
from monitor.store import Store
from monitor.types import Database, Entry, Feed, Fetched, RuleSpec, Settings

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)

WIRE_TITLE = "Northwind Energy Commissions 400 MW Offshore Wind Farm off the Coast of Maine"
WIRE = ("PORTLAND, Maine, Dec. 4, 2026 /PRNewswire/ -- Northwind Energy (NYSE: NWE) today commissioned Gulf of Maine"
        " One, a 400-megawatt offshore wind farm whose 27 turbines will supply power to about 180,000 homes. The"
        " project, built with a floating foundation design developed at the University of Maine, began delivering"
        " power to the regional grid on December 1 and cost $1.9 billion. \"Floating foundations open deep water"
        " that fixed turbines cannot reach,\" said chief executive Dana Whitcomb. Northwind plans two more floating"
        " projects in the Gulf of Maine by 2030.")
NEWSROOM_TITLE = "Gulf of Maine One is online: our first floating wind farm"
NEWSROOM = ("Northwind Energy (NYSE: NWE) today commissioned Gulf of Maine One, a 400-megawatt offshore wind farm"
            " whose 27 turbines will supply power to about 180,000 homes. The project, built with a floating"
            " foundation design developed at the University of Maine, began delivering power to the regional grid on"
            " December 1 and cost $1.9 billion. \"Floating foundations open deep water that fixed turbines cannot"
            " reach,\" said chief executive Dana Whitcomb.")
OTHER_TITLE = "Northwind Energy Reports Third Quarter 2026 Results"
OTHER = ("PORTLAND, Maine, Nov. 3, 2026 /PRNewswire/ -- Northwind Energy (NYSE: NWE) today reported third quarter"
         " 2026 revenue of $812 million, up 9 percent from a year earlier, and net income of $96 million. Offshore"
         " generation rose 14 percent as the Gulf of Maine One wind farm neared completion. The company reaffirmed"
         " its full-year outlook and declared a quarterly dividend of $0.42 per share.")


def sk(title: str, text: str) -> stories.Sketch:
    s = stories.sketch(title, text)
    assert s is not None
    return s


def test_a_newsroom_copy_with_its_own_headline_is_the_same_story() -> None:
    assert stories.same_story(sk(WIRE_TITLE, WIRE), sk(NEWSROOM_TITLE, NEWSROOM))
    assert not stories.same_story(sk(WIRE_TITLE, WIRE), sk(OTHER_TITLE, OTHER))


def test_the_dateline_is_not_part_of_the_lead() -> None:
    assert stories.lead(WIRE).startswith("Northwind Energy (NYSE: NWE) today")
    assert stories.lead(NEWSROOM) == NEWSROOM


def test_copies_published_too_far_apart_are_separate_stories() -> None:
    a = stories.Candidate(1, 1, NOW, sk(WIRE_TITLE, WIRE))
    new = sk(NEWSROOM_TITLE, NEWSROOM)
    assert stories.pick(new, NOW + timedelta(hours=1), [a]) == 1
    assert stories.pick(new, NOW + stories.MAX_SKEW + timedelta(hours=1), [a]) is None


def test_too_little_text_has_no_sketch_and_bands_are_stable() -> None:
    assert stories.sketch("Notice", "") is None
    one, two = sk(WIRE_TITLE, WIRE), sk(WIRE_TITLE, WIRE)
    assert one.bands == two.bands and len(one.bands) == stories.BANDS
    assert all(0 <= k < 2**63 for k in one.bands)


# --------------------------------------------------------------------------- the archive, both backends


def entry(guid: str, title: str, text: str, when: datetime, link: str) -> Entry:
    return Entry(guid=guid, link=link, title=title, summary=text, content="", author="", published=when, updated=None)


def commit(store: Store, feed: str, entries: list[Entry], now: datetime, specs: list[RuleSpec]):
    items = tuple(normalize(e, now=now) for e in entries)
    outcome = pipeline.Outcome(Feed(name=feed, url=f"https://{feed}.example/rss", interval=60),
                               Fetched(url="u", final_url=f"https://{feed}.example/rss", status=200),
                               pipeline.Digested(items))
    return pipeline.commit(store, outcome, now, settings=Settings(database=store.database),
                           rules=compile_rules(specs, {}), channels=None)


def alerts(store: Store) -> list[tuple[int, str]]:
    return [(r["release_id"], r["rule"]) for r in store.rows("SELECT release_id, rule FROM alerts ORDER BY id")]


WIRE_LINK = "https://www.prnewswire.com/news-releases/northwind-301900001.html"
NEWSROOM_LINK = "https://www.northwind.example/news/gulf-of-maine-one"


@pytest.mark.parametrize("once_per", ["story", "release"])
def test_a_near_copy_joins_the_story_and_alerts_once(database: Database, once_per: str) -> None:
    specs = [RuleSpec("wind", "offshore wind", notify=("log",), once_per=once_per),
             RuleSpec("maine", "maine", notify=("log",), once_per=once_per)]
    with Store(database) as store:
        commit(store, "prn", [entry("prn-1", WIRE_TITLE, WIRE, NOW, WIRE_LINK),
                              entry("prn-2", OTHER_TITLE, OTHER, NOW - timedelta(days=1), WIRE_LINK + "?q3")],
               NOW, specs)
        wire_id = store.scalar("SELECT id FROM releases WHERE url = :u", {"u": WIRE_LINK})
        later = NOW + timedelta(hours=1)
        result = commit(store, "newsroom", [entry("nr-1", NEWSROOM_TITLE, NEWSROOM, later, NEWSROOM_LINK)],
                        later, specs)
        assert result.new == 1
        copy_id = store.scalar("SELECT id FROM releases WHERE url = :u", {"u": NEWSROOM_LINK})
        assert store.story_id(copy_id) == wire_id
        story = store.story(copy_id)
        assert [c.id for c in story.copies] == [wire_id, copy_id]
        assert [c.source for c in story.copies] == ["prn", "newsroom"]
        assert story.copies[0].wire == "PR Newswire"
        # The earnings release shares words (Northwind, Gulf of Maine One) but is a story of its own.
        other_id = store.scalar("SELECT id FROM releases WHERE title = :t", {"t": OTHER_TITLE})
        assert store.story_id(other_id) == other_id and len(store.story(other_id).copies) == 1
        # The copy's matches are recorded either way; only the outbox differs.
        assert store.scalar("SELECT count(*) FROM matches WHERE release_id = :id", {"id": copy_id}) == 2
        copy_alerts = sorted(a for a in alerts(store) if a[0] == copy_id)
        assert copy_alerts == ([] if once_per == "story" else [(copy_id, "maine"), (copy_id, "wind")])
        assert store.story_sizes([wire_id, copy_id, other_id]) == {
            wire_id: (wire_id, 2), copy_id: (wire_id, 2), other_id: (other_id, 1)}


def test_a_rule_newly_matching_a_copy_still_alerts(database: Database) -> None:
    """Once per story is per rule: a rule that did not alert for the first copy alerts for the copy it matches."""
    specs = [RuleSpec("wind", "offshore wind", notify=("log",)), RuleSpec("homes", "homes AND newsroom_only",
                                                                          notify=("log",))]
    with Store(database) as store:
        commit(store, "prn", [entry("prn-1", WIRE_TITLE, WIRE, NOW, WIRE_LINK)], NOW, specs)
        later = NOW + timedelta(minutes=40)
        commit(store, "newsroom", [entry("nr-1", NEWSROOM_TITLE, NEWSROOM + " newsroom_only", later, NEWSROOM_LINK)],
               later, specs)
        copy_id = store.scalar("SELECT id FROM releases WHERE url = :u", {"u": NEWSROOM_LINK})
        assert store.story_id(copy_id) != copy_id
        assert [a for a in alerts(store) if a[0] == copy_id] == [(copy_id, "homes")]


def test_a_copy_in_the_same_poll_and_the_page_text_join_the_story(database: Database) -> None:
    specs = [RuleSpec("wind", "offshore wind", notify=("log",))]
    with Store(database) as store:
        # Two near-copies in one poll: the second joins the first's story before any alert is queued.
        commit(store, "agg", [entry("a", WIRE_TITLE, WIRE, NOW, WIRE_LINK),
                              entry("b", NEWSROOM_TITLE, NEWSROOM, NOW, NEWSROOM_LINK)], NOW, specs)
        ids = [r["id"] for r in store.rows("SELECT id FROM releases ORDER BY id")]
        assert store.story_id(ids[1]) == ids[0]
        assert len(alerts(store)) == 1
        # A feed item with only a headline has too little text; its page text then places it.
        later = NOW + timedelta(hours=2)
        commit(store, "fin", [entry("f", "Northwind turns on Maine floating wind farm", "", later,
                                    "https://finance.example/northwind")], later, specs)
        fin = store.scalar("SELECT id FROM releases WHERE url = 'https://finance.example/northwind'")
        assert store.story_id(fin) == fin
        page = store.queue_page(fin, "https://finance.example/northwind", "fin", "https://fin.example/rss", later)
        assert page
        page_id = store.scalar("SELECT id FROM pages WHERE release_id = :id", {"id": fin})
        pipeline.apply_page(store, pipeline.PageOutcome(page_id, fin, text=NEWSROOM, method="generic"), later,
                            settings=Settings(database=store.database), rules=compile_rules(specs, {}))
        assert store.story_id(fin) == ids[0]
        assert [c.id for c in store.story(fin).copies] == [ids[0], ids[1], fin]
        assert len(alerts(store)) == 1


# --------------------------------------------------------------------------- the CLI end to end


@pytest.mark.parametrize("once_per", ["story", "release"])
def test_cli_wire_then_newsroom_copy_alerts_once_and_show_lists_both(
        tmp_path, configs, feed_server, receiver, once_per: str) -> None:
    """A wire release, then its newsroom copy with an edited headline an hour later: one webhook call per story
    (two with once_per = "release"), and `show` tells the story."""
    from tests.configs import HOOK_ENV, cli
    from tests.feedserver import rss

    now = datetime.now(UTC).replace(microsecond=0)
    wired = now - timedelta(hours=2)
    feed_server.publish("/wire.rss", rss([{"title": WIRE_TITLE, "link": WIRE_LINK, "guid": "prn-1",
                                           "description": WIRE, "pubDate": wired}]))
    older = {"title": OTHER_TITLE, "link": NEWSROOM_LINK + "-q3", "guid": "nr-0", "description": OTHER,
             "pubDate": now - timedelta(days=30)}
    feed_server.publish("/newsroom.rss", rss([older]))
    rules = (f'[[rules]]\nname = "wind"\nquery = "offshore wind"\nnotify = ["hook"]\n'
             f'once_per = "{once_per}"\n')
    configs.write(configs.feed("wire", feed_server.url("/wire.rss"))
                  + configs.feed("newsroom", feed_server.url("/newsroom.rss")), hook=receiver.url, rules=rules)
    cli("run", "--once", cwd=tmp_path, check=True, env=HOOK_ENV)
    assert len(receiver.deliveries) == 1
    feed_server.publish("/newsroom.rss", rss([{"title": NEWSROOM_TITLE, "link": NEWSROOM_LINK, "guid": "nr-1",
                                               "description": NEWSROOM, "pubDate": wired + timedelta(hours=1)}, older]))
    cli("run", "--once", "--force", cwd=tmp_path, check=True, env=HOOK_ENV)
    assert len(receiver.deliveries) == (1 if once_per == "story" else 2)
    assert all(d.verified for d in receiver.deliveries)

    every = json.loads(cli("search", "floating", "--json", cwd=tmp_path, check=True).stdout)
    assert len(every) == 2 and len({h["story"] for h in every}) == 1 and {h["copies"] for h in every} == {2}
    found = [h for h in every if h["id"] == h["story"]]  # the story's id is its first copy's
    copy_id = max(h["id"] for h in every)
    shown = cli("show", str(copy_id), cwd=tmp_path, check=True).stdout
    first = f"first on PR Newswire {wired:%Y-%m-%d %H:%M} UTC, then newsroom"
    assert "story " in shown and "(2 copies)" in shown and first in shown, shown
    assert WIRE_TITLE in shown and NEWSROOM_TITLE in shown
    lines = cli("search", "floating", cwd=tmp_path, check=True).stdout
    assert "(2 copies)" in lines and lines.count("\n") == 2
    assert cli("search", "floating", "--copies", cwd=tmp_path, check=True).stdout.count("\n") == 4
    out = cli("export", "-q", "floating", cwd=tmp_path, check=True).stdout
    exported = [json.loads(line) for line in out.splitlines()]
    assert [r["story"] for r in exported] == [found[0]["story"]] * 2
    if once_per == "story":
        _web_tells_the_story(configs.path, copy_id, found[0]["story"], wired)


def _web_tells_the_story(cfg, copy_id: int, story_id: int, wired: datetime) -> None:
    """The release page lists the copies, the search page folds them into one expandable result, the API
    release JSON carries `story` (its OpenAPI schema is checked by tests/test_web_openapi.py)."""
    import urllib.request

    from tests.test_web import start_server, stop_server

    proc, url = start_server(cfg)
    try:
        def get(path: str) -> str:
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=20) as resp:
                return resp.read().decode()

        api = json.loads(get(f"/api/releases/{copy_id}"))
        assert api["story"]["id"] == story_id and [c["id"] for c in api["story"]["copies"]] == [story_id, copy_id]
        assert api["story"]["told"].startswith(f"first on PR Newswire {wired:%Y-%m-%d %H:%M} UTC, then newsroom")
        assert api["story"]["copies"][0]["wire"] == "PR Newswire" and api["story"]["copies"][1]["wire"] is None
        # The copy has its match but no alert: the page says why.
        assert "already alerted for another copy of its story" in api["no_alert_reason"]
        page = get(f"/release/{copy_id}")
        assert 'id="story"' in page and "2 copies" in page and "first on PR Newswire" in page
        results = get("/?q=floating")
        assert results.count('class="hit"') == 1 and "<summary>2 copies</summary>" in results
    finally:
        stop_server(proc)


def test_a_release_too_old_to_alert_is_left_a_story_of_one(database: Database) -> None:
    """stories.floor(): a backlog (published before alert_max_age + MAX_SKEW) is not placed at ingest."""
    specs = [RuleSpec("wind", "offshore wind", notify=("log",))]
    old = NOW - timedelta(days=30)
    with Store(database) as store:
        commit(store, "prn", [entry("prn-1", WIRE_TITLE, WIRE, old, WIRE_LINK)], NOW, specs)
        commit(store, "newsroom", [entry("nr-1", NEWSROOM_TITLE, NEWSROOM, old, NEWSROOM_LINK)], NOW, specs)
        assert store.scalar("SELECT count(*) FROM story_bands") == 0
        assert store.scalar("SELECT count(*) FROM releases WHERE story_id IS NOT NULL") == 0
