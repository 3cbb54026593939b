"""Search on PostgreSQL finds exactly what FTS5 finds and the rules match, with the same snippets.

The generated cases of tests/test_rules_property.py (documents and queries: phrases, prefixes,
NOT, OR, NEAR with distances, column filters, CJK, punctuation, folding), plus @lists, run three
ways: the SQLite archive's FTS5 (Store.search), the rule matcher (RuleSet.match), and
monitor/store/pgsearch.py over a real PostgreSQL database holding the same releases.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.rules import compile_query, fts_query
from monitor.rules.fts import FTS
from monitor.rules.nodes import And, Near, Node, Not, Or
from monitor.store import pgsearch
from monitor.types import FTS_COLUMNS, Doc
from tests.pgserver import pg_conn, pg_url, search_table  # noqa: F401
from tests.test_rules_property import EXAMPLES, _archive, _releases_with_a_failing_near_or_not, documents, queries

TERMS: Mapping[str, Sequence[str]] = {
    "region": ["Central Asia", "Kazakh*", "峰会", "Türkmenistan"],
    "firms": ["AT&T", "U.S.", "3M", "Acme™", "NEAR(gas pipeline, 2)"],
}


@pytest.fixture(scope="module")
def pg(pg_conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:  # noqa: F811
    """A cursor on a schema of its own holding a `releases` table with the search column and index."""
    with search_table(pg_conn, "pgsearch_prop") as cur:
        yield cur


def load(cur: psycopg.Cursor, docs: Sequence[Doc]) -> None:
    cur.execute("TRUNCATE releases")
    cols = ", ".join(FTS_COLUMNS)
    marks = ", ".join(["%s"] * len(FTS_COLUMNS))
    cur.executemany(f"INSERT INTO releases (id, {cols}, fts) VALUES (%s, {marks}, %s::tsvector)",
                    [(d.key, *d.columns(), pgsearch.tsvector(d.columns())) for d in docs])


def with_lists() -> st.SearchStrategy[str]:
    return st.one_of(
        queries(),
        st.tuples(queries(), st.sampled_from(["AND", "OR", "NOT"]), st.sampled_from(["@region", "@firms"])).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.sampled_from(["@region", "@firms", "title: @region", "NEAR(summit @region)"]),
    )


def sql_ids(cur: psycopg.Cursor, tsquery: str | None) -> set[int]:
    if tsquery is None:
        return set()
    cur.execute("SELECT id FROM releases WHERE fts @@ %s::tsquery", (tsquery,))
    return {r[0] for r in cur.fetchall()}


def has_near(node: Node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Near):
            return True
        if isinstance(n, And | Or):
            stack.extend(n.children)
        elif isinstance(n, Not):
            stack.extend((n.left, n.right))
    return False


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(docs=documents(), query=with_lists())
def test_postgresql_search_equals_fts5_and_the_rules(pg: psycopg.Cursor, docs: list[Doc], query: str) -> None:
    try:
        prepared = fts_query(query, TERMS)
        rules = compile_query(query, TERMS)
    except QueryError as e:
        event("refused: " + str(e).split(":")[0])
        return
    if FTS.check(prepared) is not None:
        event("SQLite refuses the query")  # and compile_query accepted it: the rules property test's concern
        return
    with _archive(docs) as store:
        hits = store.search(prepared, limit=None)
        titles = dict(store.conn.execute(  # what the web view marks its result titles with
            "SELECT rowid, replace(highlight(releases_fts, 0, '<', '>'), char(8203), '') FROM releases_fts"
            " WHERE releases_fts MATCH ?", (prepared,)).fetchall())
    fts5 = {h.id: " ".join(h.snippet.split()) for h in hits}
    matches = {m.key: m.snippet for m in rules.match(docs)}
    assert set(matches) == set(fts5), query
    load(pg, docs)
    found = pgsearch.newest(pg, prepared, None)
    event("some releases match" if found else "no release matches")
    event("exact in SQL" if pgsearch.prepare(prepared).decides else "verified (NEAR)")
    assert found == sorted(fts5, reverse=True), (query, prepared)
    # SQL alone is right wherever the plan says so: these releases are short (no lexeme loses
    # positions), so only NEARs that are not spelled out in tsquery are left to verification; the
    # prefilter never misses a match.
    plan = pgsearch.prepare(prepared)
    upper, lower = sql_ids(pg, plan.upper), sql_ids(pg, plan.lower)
    assert lower <= set(found) <= upper, (query, prepared)
    if plan.decides:
        assert lower == set(found), (query, prepared)
        assert set(found) == upper or not plan.tight, (query, prepared)
    else:
        assert has_near(plan.node), (query, prepared)
    assert pgsearch.count(pg, prepared) == len(found)
    assert pgsearch.newest(pg, prepared, 2) == found[:2]
    assert sorted(pgsearch.ranked(pg, prepared, found, limit=len(found) + 1)) == sorted(found)
    snips = pgsearch.snippets(pg, prepared, [d.key for d in docs], mend=True)
    assert set(snips) == set(found)
    assert snips == matches, query  # the very snippets the rule alerts carry
    unsettled = _releases_with_a_failing_near_or_not(docs, query) if "@" not in query else set(matches)
    marked = pgsearch.highlight(pg, prepared, [d.key for d in docs], open="<", close=">")
    assert set(marked) == set(found)
    for key in set(found) - unsettled:  # see test_rules_property: SQLite's choice there is arbitrary
        assert snips[key] == fts5[key], (query, key)
        assert marked[key] == titles[key], (query, key)
