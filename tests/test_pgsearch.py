"""PostgreSQL search (monitor/store/pgsearch.py, monitor/rules/tsearch.py): the forms and tsvector's limits.

Each case runs on a real PostgreSQL database and is checked against the rule matcher and SQLite's
FTS5 over the same releases (the property test, test_pgsearch_property.py, covers the language
at large; here are the releases that hit tsvector's limits, which it cannot generate).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import psycopg
import pytest

from monitor.rules import compile_query, fts_query
from monitor.rules.compiler import Compiler
from monitor.rules.syntax import parse
from monitor.rules.tsearch import NO_LEXEMES, POSITION_MAX, document, plan
from monitor.store import pgsearch
from monitor.types import FTS_COLUMNS, Doc
from tests.pgserver import pg_conn, pg_url, search_table  # noqa: F401
from tests.test_rules_property import _archive


@pytest.fixture(scope="module")
def pg(pg_conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:  # noqa: F811
    """A cursor on a schema of its own holding a `releases` table with the search column and index."""
    with search_table(pg_conn, "pgsearch_unit") as cur:
        yield cur


def load(cur: psycopg.Cursor, docs: Sequence[Doc]) -> None:
    cur.execute("TRUNCATE releases")
    cols = ", ".join(FTS_COLUMNS)
    cur.executemany(f"INSERT INTO releases (id, {cols}) VALUES (%s, {', '.join(['%s'] * len(FTS_COLUMNS))})",
                    [(d.key, *d.columns()) for d in docs])
    pgsearch.index_releases(cur, [d.key for d in docs])  # the writer's other door


def three_ways(cur: psycopg.Cursor, docs: Sequence[Doc], query: str) -> list[int]:
    """Return what PostgreSQL finds, after checking it is what FTS5 finds and the rules match."""
    q = fts_query(query, {})
    with _archive(list(docs)) as store:
        fts5 = sorted((h.id for h in store.search(q, limit=None)), reverse=True)
    rules = sorted((m.key for m in compile_query(query).match(docs)), reverse=True)
    found = pgsearch.newest(cur, q, None)
    assert found == fts5 == rules, (query, found, fts5, rules)
    assert pgsearch.count(cur, q) == len(found)
    return found


def filler(n: int, word: str = "w") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


# --------------------------------------------------------------------------- the compiler


def tsq(query: str) -> tuple[str | None, str | None]:
    p = plan(Compiler().compile(parse(fts_query(query, {}))))
    return p.upper, p.lower


def test_a_word_is_one_lexeme_per_column_and_exact() -> None:
    upper, lower = tsq("Summits")
    assert upper == lower == "(" + " | ".join(f"'{c}summit'" for c in range(len(FTS_COLUMNS))) + ")"


def test_column_filters_prefixes_and_not_are_exact() -> None:
    assert tsq("title: summ*") == ("'0summ':*", "'0summ':*")
    assert tsq("-{summary body author dateline tickers source}: gas") == ("'0ga'", "'0ga'")
    upper, lower = tsq("title: gas NOT title: pipeline")
    assert upper == lower == "('0ga' & !'0pipelin')"


def test_a_phrase_is_exact_unless_a_lexeme_lost_positions() -> None:
    upper, lower = tsq('title: "central asia"')
    assert upper == "(('0central' <-> '0asia') | ('!0central' | '!0asia'))"
    assert lower == "(('0central' <-> '0asia') & !('!0central' | '!0asia'))"
    assert tsq("title: ^summit")[1] == "(('0^' <-> '0summit') & !'!0summit')"


def test_not_takes_the_sure_form_of_its_right_side_for_the_prefilter() -> None:
    upper, lower = tsq('title: gas NOT title: "central asia"')
    assert upper == "('0ga' & !(('0central' <-> '0asia') & !('!0central' | '!0asia')))"
    assert lower == "('0ga' & !(('0central' <-> '0asia') | ('!0central' | '!0asia')))"


def test_near_of_two_words_is_spelled_out_other_nears_are_verified() -> None:
    upper, lower = tsq("title: NEAR(gas pipeline, 1)")
    near = ("'0ga' <0> '0pipelin' | '0pipelin' <0> '0ga' | '0ga' <1> '0pipelin' | '0pipelin' <1> '0ga'"
            " | '0ga' <2> '0pipelin' | '0pipelin' <2> '0ga'")
    assert upper == "(('0ga' & '0pipelin') | ('!0ga' | '!0pipelin'))"  # both words: GIN's cheap part
    # Both words first in the sure form too: a release without them is refused after two lookups.
    assert lower == f"(('0ga' & '0pipelin' & ({near})) & !('!0ga' | '!0pipelin'))"
    p = plan(Compiler().compile(parse(fts_query("title: NEAR(gas pipeline, 21)", {}))))
    assert (p.upper, p.lower, p.decides) == ("('0ga' & '0pipelin')", None, False)
    assert tsq('title: NEAR(a "b c")') == ("('0a' & (('0b' <-> '0c') | ('!0b' | '!0c')))", None)
    gas = tsq("gas")[0]
    assert tsq("gas OR title: NEAR(a b c)")[1] == gas  # the sure part: "gas" alone
    # Nothing sure on the right: the left alone is the prefilter.
    assert tsq("gas NOT title: NEAR(a b c)") == (gas, f"({gas} & !('0a' & '0b' & '0c'))")


def test_quotes_and_backslashes_in_lexemes_are_escaped() -> None:
    # unicode61 never makes such tokens from text, but the forms must not break on them.
    assert document(["", "", "", "", "", "", ""]).startswith("'0^':1A")
    from monitor.rules.tsearch import _quote
    assert _quote("it's\\") == "'it''s\\\\'"


# --------------------------------------------------------------------------- tsvector's limits


def test_positions_past_the_cap_are_verified(pg: psycopg.Cursor) -> None:
    late = Doc(1, title="Summit", body=filler(POSITION_MAX + 100) + " Central Asia summit")
    early = Doc(2, title="Central Asia summit")
    # Clamped positions make a false phrase for tsquery: "w16381" is stored at 16383, "asia" too.
    trap = Doc(3, body=filler(POSITION_MAX - 2) + " beta " + filler(50, "x") + " asia")
    load(pg, [late, early, trap])
    assert document(late.columns()).count("'!2") >= 3  # the lexemes that lost positions say so
    assert three_ways(pg, [late, early, trap], '"central asia"') == [2, 1]
    assert three_ways(pg, [late, early, trap], 'body: "central asia"') == [1]
    assert three_ways(pg, [late, early, trap], '"beta asia"') == []
    assert three_ways(pg, [late, early, trap], 'summit NOT "central asia"') == []
    assert three_ways(pg, [late, early, trap], 'summit NOT body: "central asia"') == [2]
    assert three_ways(pg, [late, early, trap], "NEAR(asia summit, 0)") == [2, 1]
    assert three_ways(pg, [late, early, trap], "NEAR(central asia summit, 1)") == [2, 1]
    assert three_ways(pg, [late, early, trap], "NEAR(beta asia, 40)") == []


def test_a_lexeme_past_256_positions_is_verified(pg: psycopg.Cursor) -> None:
    docs = [Doc(1, body="the " * 300 + "the summit"), Doc(2, body="summit " + "the " * 300)]
    load(pg, docs)
    assert three_ways(pg, docs, '"the summit"') == [1]
    assert three_ways(pg, docs, "summit NOT \"the summit\"") == [2]


def test_words_longer_than_a_lexeme_are_cut_and_verified(pg: psycopg.Cursor) -> None:
    long_a = "a" * 2500
    long_b = "a" * 2400 + "b" * 100  # the same first 2,000 bytes
    docs = [Doc(1, title=long_a), Doc(2, title=long_b), Doc(3, title="a" * 1999)]
    load(pg, docs)
    assert three_ways(pg, docs, long_a) == [1]
    assert three_ways(pg, docs, long_b) == [2]
    assert three_ways(pg, docs, "a" * 1990 + "*") == [3, 2, 1]


def test_a_release_too_large_for_a_tsvector_is_still_found(pg: psycopg.Cursor) -> None:
    word = "lexeme" * 5
    huge = Doc(1, body=filler(40_000, word))  # ~1.4 MB of distinct lexemes
    assert document(huge.columns()) == f"'{NO_LEXEMES}'"
    docs = [huge, Doc(2, title=f"{word}7 summit")]
    load(pg, docs)
    assert three_ways(pg, docs, f"{word}7") == [2, 1]
    assert three_ways(pg, docs, "summit") == [2]
    assert three_ways(pg, docs, f"{word}7 NOT summit") == [1]
    assert three_ways(pg, docs, f'"{word}118 {word}119"') == [1]


# --------------------------------------------------------------------------- windows, ranks, snippets


def test_newest_window_with_a_condition_and_an_id_filter(pg: psycopg.Cursor) -> None:
    docs = [Doc(i, title=f"summit {i}", summary="gas" if i % 2 else "") for i in range(1, 21)]
    load(pg, docs)
    assert pgsearch.newest(pg, "summit", 5) == [20, 19, 18, 17, 16]
    assert pgsearch.newest(pg, "summit", 3, where="r.summary <> %(s)s", params={"s": ""}) == [19, 17, 15]
    assert pgsearch.newest(pg, "summit", None, ids=[3, 4, 99]) == [4, 3]
    assert pgsearch.count(pg, "summit", where="r.id <= %(top)s", params={"top": 10}) == 10
    assert pgsearch.newest(pg, "NEAR(summit gas)", 2) == []  # gas is in another column
    assert pgsearch.newest(pg, "nothing", 5) == []
    # Rare matches far apart: the id ranges searched widen until they find them.
    load(pg, [Doc(i, title="gas" if i in (1, 150) else "summit") for i in range(1, 301)])
    assert pgsearch.newest(pg, "gas", 5) == [150, 1]
    assert pgsearch.newest(pg, "gas", 1) == [150]


def test_ranked_puts_title_hits_first_and_ties_newest_first(pg: psycopg.Cursor) -> None:
    docs = [Doc(1, title="gas summit"), Doc(2, body="gas"), Doc(3, title="gas"), Doc(4, body="gas")]
    load(pg, docs)
    window = pgsearch.newest(pg, "gas", None)
    assert pgsearch.ranked(pg, "gas", window, limit=10) == [3, 1, 4, 2]
    assert pgsearch.ranked(pg, "gas", window, limit=2, offset=1) == [1, 4]


def test_snippets_with_the_web_views_markers_equal_sqlites(pg: psycopg.Cursor) -> None:
    docs = [Doc(1, title="Summit [draft] in Astana", body="Leaders [met] at the summit. " * 5),
            Doc(2, summary="A ［full-width］ summit \ufdd0 with a noncharacter")]
    load(pg, docs)
    q = fts_query("summit", {})
    with _archive(docs) as store:
        want = {r[0]: " ".join(r[1].split()) for r in store.conn.execute(
            "SELECT rowid, snippet(releases_fts, -1, char(2), char(3), '…', 24) FROM releases_fts"
            " WHERE releases_fts MATCH ?", (q,))}
    got = pgsearch.snippets(pg, q, [1, 2, 3], open="\x02", close="\x03", tokens=24)
    assert got == want
    assert "[met]" in got[1] and "\x02summit\x03" in got[1]  # the text's own brackets kept
    rule = {m.key: m.snippet for m in compile_query("summit").match(docs)}
    assert pgsearch.snippets(pg, q, [1], mend=True) == {1: rule[1]}


def test_highlight_marks_the_title_as_fts5_does(pg: psycopg.Cursor) -> None:
    docs = [Doc(1, title="Central  Asia\tsummit: Central Asia's leaders", body="summit"),
            Doc(2, title="第二届中国—中亚峰会 AT&T", summary="central asia"), Doc(3, title="nothing")]
    load(pg, docs)
    for query in ['"central asia" OR "asia summit"', "峰会 OR AT&T", "summit", "lead*"]:
        q = fts_query(query, {})
        with _archive(docs) as store:
            want = dict(store.conn.execute(
                "SELECT rowid, replace(highlight(releases_fts, 0, char(2), char(3)), char(8203), '')"
                " FROM releases_fts WHERE releases_fts MATCH ?", (q,)).fetchall())
        assert pgsearch.highlight(pg, q, [1, 2, 3], open="\x02", close="\x03") == want, query
    assert pgsearch.highlight(pg, fts_query("峰会", {}), [2], open="<", close=">") == {2: "第二届中国—中亚<峰会> AT&T"}


def test_scored_gives_fts5_style_ranks_lower_is_better(pg: psycopg.Cursor) -> None:
    docs = [Doc(1, title="gas"), Doc(2, body="gas")]
    load(pg, docs)
    (first, r1), (second, r2) = pgsearch.scored(pg, "gas", [1, 2])
    assert (first, second) == (1, 2) and r1 < r2 < 0


def test_windows_across_id_buckets_find_the_newest_matches(pg: psycopg.Cursor) -> None:
    # 400 releases 100 ids apart: 40,000 ids, three buckets of 16,384 (pgsearch.BUCKET_BITS), a
    # word in a fifth of them. Whatever plan each range gets (walk, GIN with the range's buckets,
    # GIN alone), the window is the newest matches, as the whole list has them.
    docs = [Doc(k * 100, title=f"gas {k}" if k % 5 == 0 else f"summit {k}", body="pipeline " * (k % 3))
            for k in range(1, 401)]
    load(pg, docs)
    bucket = pg.execute("SELECT fts @@ %s::tsquery, fts @@ %s::tsquery FROM releases WHERE id = 40000",
                        (f"'{pgsearch.bucket(40000)}'", "'#0'")).fetchone()
    assert bucket == (True, False)  # the trigger stored the id's bucket, and only it
    for query in ["gas", "summit", "pipeline", "gas NOT pipeline", '"summit 7*"']:
        q = fts_query(query, {})
        everything = pgsearch.newest(pg, q, None)
        assert everything == sorted(everything, reverse=True)
        for n in (1, 5, 30, 200, 500):
            assert pgsearch.newest(pg, q, n) == everything[:n], (query, n)
            # The page ranks the window with the ranks the window's pass computed: as ranked alone does.
            window = pgsearch.newest(pg, q, n)
            cached = pgsearch.scored(pg, q, window, limit=10)
            pgsearch.newest(pg, q, 1)  # another window: the ranks kept are not this one's
            assert cached == pgsearch.scored(pg, q, window, limit=10), (query, n)
