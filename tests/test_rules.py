"""Watch rules: compiling, refusing bad rules with a useful message, matching a batch, snippets."""

from __future__ import annotations

import sqlite3
import sys
import threading

import pytest

import monitor.rules as rules_mod
from monitor.errors import ConfigError, QueryError
from monitor.rules import Rule, check_query, compile_query, compile_rules, expand_terms
from monitor.rules import fts as fts_mod
from monitor.rules import snippet as snippet_mod
from monitor.rules.fts import FTS
from monitor.rules.query import forgive
from monitor.saferegex import Pattern
from monitor.types import FTS_COLUMNS, FTS_TOKENIZE, Doc, RuleSpec

TERMS = {
    "central_asia": ['"Central Asia"', "Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan"],
    "energy": ["oil", "gas", "pipeline*"],
}

CGTN = Doc(
    key=101,
    title="Xi Jinping chairs first China–Central Asia Summit in Xi'an",
    summary=(
        "Chinese President Xi Jinping on Friday chaired the first China–Central Asia Summit with the "
        "leaders of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan and Uzbekistan."
    ),
    body=(
        "BEIJING, May 19, 2023 /PRNewswire/ -- The summit in Xi'an, the ancient capital at the eastern "
        "end of the Silk Road, adopted the Xi'an Declaration. The six countries agreed to hold the summit "
        "every two years. Leaders discussed trade, energy and transport corridors, including a new gas "
        "pipeline and railway links across the region."
    ),
    author="CGTN",
    dateline="BEIJING 2023-05-19 PRNewswire",
    tickers="",
    feeds=("cgtn", "prn-asia"),
)

EARNINGS = Doc(
    key=102,
    title="Norvex Holdings Reports Third Quarter 2025 Financial Results",
    summary="Norvex Holdings (NYSE: NVX) today reported revenue of $1.2 billion.",
    body="NEW YORK, Oct 30, 2025 /PRNewswire/ -- Revenue rose 12 percent. The board declared a dividend.",
    author="Norvex Holdings",
    dateline="NEW YORK 2025-10-30 PRNewswire",
    tickers="NYSE:NVX",
    feeds=("prn-financial",),
)


def doc(key: int = 1, **cols: object) -> Doc:
    return Doc(key=key, **cols)  # type: ignore[arg-type]


def keys_matching(query: str, docs: list[Doc], terms: dict | None = None) -> set[int]:
    rs = compile_query(query, terms or TERMS)
    return {m.key for m in rs.match(docs)}


# --------------------------------------------------------------------------- the CGTN release


def test_cgtn_summit_release_matches_summit_prefix_and_central_asia_list() -> None:
    rs = compile_rules(
        [
            RuleSpec("summits", "summit*", notify=("console",)),
            RuleSpec("central-asia", "@central_asia", notify=("console",)),
            RuleSpec("both", "summit* AND @central_asia AND dateline : beijing"),
            RuleSpec("earnings", '"financial results"'),
        ],
        TERMS,
    )
    found = rs.match([CGTN, EARNINGS])
    assert [(m.key, m.rule) for m in found] == [
        (101, "summits"),
        (101, "central-asia"),
        (101, "both"),
        (102, "earnings"),
    ]
    by_rule = {m.rule: m.snippet for m in found}
    assert "[Summit]" in by_rule["summits"]
    assert "[Central Asia]" in by_rule["central-asia"] and "[Kazakhstan]" in by_rule["central-asia"]
    assert "[Financial Results]" in by_rule["earnings"]
    rule = rs.get("central-asia")
    assert rule is not None and rule.expanded.startswith('("Central Asia" OR Kazakhstan OR')
    assert rule.notify == ("console",)
    assert rs.get("nope") is None


# --------------------------------------------------------------------------- query semantics

CASES = [
    # (query, document columns, should match)
    ("summits", {"title": "The Summit opens"}, True),  # plural and case
    ("SUMMIT", {"body": "two summits were held"}, True),
    ("summitry", {"body": "a summit"}, False),
    ("Türkmenistan", {"body": "leaders of Turkmenistan"}, True),  # accents either way
    ("Turkmenistan", {"body": "leaders of TÜRKMENISTAN"}, True),
    ("café", {"title": "Cafe opening"}, True),
    ("summit*", {"title": "Summitry is an art"}, True),
    ("summ*", {"title": "Summary"}, True),
    ('"central asia"', {"body": "Central Asia summit"}, True),
    ('"central asia"', {"body": "Asia and central Europe"}, False),  # phrase vs bag of words
    ("central asia", {"body": "Asia and central Europe"}, True),
    ('"central as"*', {"body": "the Central Asian republics"}, True),  # prefix on a phrase's last token
    ('"central as*"', {"body": "the Central Asian republics"}, False),  # a * inside quotes is not a prefix
    ('"China–Central Asia"', {"title": "China-Central Asia Summit"}, True),  # punctuation is a separator
    ("title : summit", {"title": "Summit", "body": "nothing"}, True),
    ("title : summit", {"title": "Talks", "body": "summit"}, False),
    ("{title summary} : summit", {"summary": "a summit"}, True),
    ("-body : summit", {"body": "summit"}, False),
    ("-body : summit", {"author": "Summit Partners"}, True),
    ("body : (gas AND pipeline)", {"body": "gas", "title": "pipeline"}, False),
    ("tickers : nvx", {"tickers": "NYSE:NVX"}, True),
    ("source : cgtn", {"feeds": ("cgtn",)}, True),
    ("dateline : beijing", {"dateline": "BEIJING 2023-05-19 PRNewswire"}, True),
    ("summit NOT forum", {"body": "summit and forum"}, False),
    ("summit NOT forum", {"body": "summit"}, True),
    ("a OR b NOT c", {"body": "a c"}, True),  # NOT binds tighter than OR: a OR (b NOT c)
    ("summit forum OR gas", {"body": "gas"}, True),  # implicit AND binds tighter than OR
    ("summit and forum", {"body": "summit forum"}, False),  # lower-case "and" is a word to find
    ("summit and forum", {"body": "summit and forum"}, True),
    ("NEAR(china summit)", {"body": "China " + "x " * 10 + "summit"}, True),  # default distance 10
    ("NEAR(china summit)", {"body": "China " + "x " * 11 + "summit"}, False),
    ("NEAR(china summit, 2)", {"body": "China held a summit"}, True),
    ("NEAR(china summit, 2)", {"body": "China held a big summit"}, False),
    ("NEAR(china summit, 2)", {"title": "China", "body": "summit"}, False),  # one column
    ('NEAR("central asia" summit, 0)', {"body": "Central Asia summit"}, True),
    ("^china", {"title": "China hosts", "body": "in China"}, True),
    ("^summit", {"title": "China summit"}, False),
    ("kazakh + stan", {"body": "Kazakh stan"}, True),
    ("@central_asia AND @energy", {"body": "Uzbekistan gas pipelines"}, True),
    ("@central_asia AND @energy", {"body": "Uzbekistan wheat"}, False),
]


@pytest.mark.parametrize(("query", "cols", "expected"), CASES)
def test_query_semantics(query: str, cols: dict, expected: bool) -> None:
    assert keys_matching(query, [doc(1, **cols)]) == ({1} if expected else set())


def test_a_rule_can_match_only_in_the_body() -> None:
    d = doc(7, title="Quarterly update", summary="Results are in.", body="The pipeline to Kazakhstan opened.")
    assert keys_matching("pipeline AND kazakhstan", [d]) == {7}
    assert keys_matching("{title summary} : pipeline", [d]) == set()


# --------------------------------------------------------------------------- filters


def test_feeds_filter_keeps_only_releases_sighted_in_those_feeds() -> None:
    rs = compile_rules([RuleSpec("asia", "summit", feeds=("prn-asia",))], TERMS)
    other = doc(5, title="Summit", feeds=("prn-all",))
    assert [m.key for m in rs.match([CGTN, other])] == [101]


def test_regex_must_also_match_title_summary_or_body() -> None:
    rs = compile_rules(
        [
            RuleSpec("nyse", "revenue", regex=r"\((?:NYSE|NASDAQ): [A-Z]{2,5}\)"),
            RuleSpec("nasdaq", "revenue", regex=r"\(NASDAQ: [A-Z]+\)"),
            RuleSpec("case", "revenue", regex=r"norvex"),  # case-sensitive unless (?i)
            RuleSpec("nocase", "revenue", regex=r"(?i)norvex"),
        ],
        TERMS,
    )
    assert [m.rule for m in rs.match([EARNINGS])] == ["nyse", "nocase"]
    rule = rs.get("nyse")
    assert isinstance(rule, Rule) and isinstance(rule.regex, Pattern)


def test_disabled_rules_never_match_but_are_still_checked() -> None:
    rs = compile_rules([RuleSpec("off", "summit", enabled=False), RuleSpec("on", "gas")], TERMS)
    assert [m.rule for m in rs.match([CGTN])] == ["on"]
    assert [r.name for r in rs.rules] == ["off", "on"]
    assert rs.last_stats.rules == 1
    with pytest.raises(ConfigError, match='rules\\[1\\] "off": query: syntax error'):
        compile_rules([RuleSpec("off", "summit AND", enabled=False)], TERMS)


# --------------------------------------------------------------------------- snippets


def test_snippet_marks_terms_and_uses_an_ellipsis() -> None:
    long_body = " ".join(f"word{i}" for i in range(40)) + " the summit closed. " + " ".join(["more"] * 30)
    rs = compile_query("summit", {})
    (m,) = rs.match([doc(3, body=long_body)])
    assert "[summit]" in m.snippet
    assert m.snippet.startswith("…") and m.snippet.endswith("…")
    assert len(m.snippet.split()) <= 16


def test_snippets_are_what_fts5_snippet_returns() -> None:
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5({', '.join(FTS_COLUMNS)}, tokenize='{FTS_TOKENIZE}')")
    db.execute(
        f"INSERT INTO t(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (CGTN.key, *CGTN.columns())
    )
    for query in ["summit", "summit* AND xi", '"Silk Road" OR pipeline', "NEAR(gas pipeline)", "@central_asia"]:
        expanded = expand_terms(query, TERMS)
        (m,) = compile_query(query, TERMS).match([CGTN])
        (want,) = db.execute("SELECT snippet(t, -1, '[', ']', '…', 16) FROM t WHERE t MATCH ?", (expanded,)).fetchone()
        assert m.snippet == " ".join(want.split()), query


# --------------------------------------------------------------------------- presearch


def test_presearch_evaluates_only_rules_the_batch_can_satisfy() -> None:
    specs = [RuleSpec(f"r{i}", f'"company{i} holdings" AND (merger OR acqui*)') for i in range(200)]
    specs += [RuleSpec("ca", "@central_asia"), RuleSpec("not", "xi NOT forum")]
    rs = compile_rules(specs, TERMS)
    found = rs.match([CGTN])
    assert [m.rule for m in found] == ["ca", "not"]
    stats = rs.last_stats
    assert stats.rules == 202
    assert stats.candidates <= 3  # "ca", "not", and nothing of the 200 company rules
    assert stats.skipped == 202 - stats.candidates
    target = doc(9, body="Company17 Holdings completes acquisition")
    assert [m.rule for m in rs.match([target])] == ["r17"]
    assert rs.last_stats.candidates <= 2


def test_empty_batch_and_empty_rule_set() -> None:
    rs = compile_rules([RuleSpec("x", "summit")], TERMS)
    assert rs.match([]) == []
    assert compile_rules([], TERMS).match([CGTN]) == []


def test_matches_come_in_batch_order_then_rule_order() -> None:
    rs = compile_rules([RuleSpec("b", "gas"), RuleSpec("a", "summit")], TERMS)
    d2 = doc(2, body="summit gas")
    assert [(m.key, m.rule) for m in rs.match([d2, CGTN])] == [(2, "b"), (2, "a"), (101, "b"), (101, "a")]


def test_matching_from_several_threads_gives_the_same_answer() -> None:
    rs = compile_rules([RuleSpec("ca", "@central_asia"), RuleSpec("gas", "gas OR dividend")], TERMS)
    want = rs.match([CGTN, EARNINGS])
    got: list[list] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(20):
                got.append(rs.match([CGTN, EARNINGS, doc(9, body=f"novel words {threading.get_ident()}")]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 80 and all(g == want for g in got)


def test_matching_survives_the_token_memo_starting_over(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny memo limit makes every batch reset the memo while other threads are matching.
    monkeypatch.setattr(fts_mod, "_CACHE_LIMIT", 40)
    rs = compile_rules([RuleSpec("ca", "@central_asia"), RuleSpec("pipe", '"gas pipeline" OR dividend')], TERMS)
    want = [(m.key, m.rule, m.snippet) for m in rs.match([CGTN, EARNINGS])]
    assert [w[:2] for w in want] == [(101, "ca"), (101, "pipe"), (102, "pipe")]
    got: list[list] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            for i in range(15):
                novel = doc(9, body=f"fresh{n}x{i} words{n}y{i} every{n}z{i} time")
                got.append([(m.key, m.rule, m.snippet) for m in rs.match([CGTN, novel, EARNINGS])])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 60 and all(g == want for g in got)
    assert len(FTS.chunk_tokens()) < 400


def test_a_query_only_sqlite_understands_is_run_by_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    real = rules_mod.parse

    def picky(query: str):  # our parser "refuses" this one; SQLite accepts it
        if query == "summit OR gas":
            raise QueryError("pretend we cannot parse this")
        return real(query)

    monkeypatch.setattr(rules_mod, "parse", picky)
    rs = compile_rules([RuleSpec("odd", "summit OR gas"), RuleSpec("ok", "dividend")], TERMS)
    found = rs.match([CGTN, EARNINGS])
    assert [(m.key, m.rule) for m in found] == [(101, "odd"), (102, "ok")]
    assert "[summit]" in found[0].snippet.lower()
    assert rs.last_stats.fallback == 1


# --------------------------------------------------------------------------- load-time errors

ERRORS = [
    # (specs, message fragments)
    (
        [RuleSpec("ok", "gas"), RuleSpec("x", "gas"), RuleSpec("summits", "summit AND")],
        ['config.toml: rules[3] "summits": query: syntax error near "AND" at position 7: summit AND'],
    ),
    ([RuleSpec("p", "(gas OR oil"), ], ['"p": query: syntax error near "oil" at position 8',
                                        '(the "(" at position 0 is never closed)']),
    ([RuleSpec("p", "(summit")], ['near "summit" at position 1: (summit (the "(" at position 0 is never closed)']),
    ([RuleSpec("p", "(a) AND (b OR (c) AND d")], ['(the "(" at position 8 is never closed)']),
    ([RuleSpec("p", "gas)")], ['syntax error near ")" at position 3', "unbalanced parenthesis"]),
    ([RuleSpec("p", "OR gas")], ['syntax error near "OR" at position 0', "needs a search term on both sides"]),
    ([RuleSpec("p", "*")], ['"p": query: "*" alone is not a search']),
    ([RuleSpec("deep", "(" * 3000 + "gas" + ")" * 3000)],
     ['rules[1] "deep": query: the query nests 3000 parentheses deep; at most 100: ((((']),
    ([RuleSpec("chain", "gas" + " NOT oil" * 3000)], ['rules[1] "chain": query: the query nests 3001 operators deep']),
    ([RuleSpec("p", "(" * 99 + "gas" + ")" * 99)], ["the query nests too deeply for SQLite"]),
    ([RuleSpec("p", '"Central Asia')], ["unterminated string: the quote at position 0 is never closed"]),
    ([RuleSpec("p", "headline : summit")], ['no such column "headline" at position 0', "columns: title, summary"]),
    ([RuleSpec("p", "NEAR(a b, x)")], ['NEAR distance must be a whole number, got "x"']),
    ([RuleSpec("p", "@asia AND gas")], ['"p": query: unknown term list @asia (known: @central_asia, @energy)']),
    ([RuleSpec("p", "gas"), RuleSpec("p", "oil")], ['rules[2] "p": duplicate name (rules[1] has the same name)']),
    ([RuleSpec("p", "gas", regex="(NYSE")], ['rules[1] "p": regex: missing ): (NYSE']),
    ([RuleSpec("p", "gas", regex=r"(gas)\1")], ['rules[1] "p": regex: backreferences', "RE2 syntax"]),
    ([RuleSpec("p", "gas", regex=r"gas(?= pipeline)")], ['rules[1] "p": regex: lookahead', "RE2 syntax"]),
    ([RuleSpec("p", "gas", regex=r"(?<!natural )gas")], ['rules[1] "p": regex: lookbehind']),
    ([RuleSpec("p", '"---"')], ['"p": query: can never match: "---" contains no letters or digits']),
    ([RuleSpec("p", "gas AND —")], ["can never match: — contains no letters or digits"]),
    ([RuleSpec("p", "gas NOT gas")], ["can never match: the NOT part excludes everything"]),
    ([RuleSpec("p", "summit NOT summit*")], ["can never match"]),
    ([RuleSpec("p", "gas NOT (oil OR gas)")], ["can never match"]),
    ([RuleSpec("p", '"gas pipeline" NOT gas')], ["can never match"]),
    ([RuleSpec("p", "title : (body : gas)")], ["can never match: the column filters around gas leave no column"]),
    ([RuleSpec("p", "NEAR(gas \"-\" oil)")], ["NEAR group has a phrase with no letters or digits"]),
    ([RuleSpec("p", "   ")], ['rules[1] "p": query is empty']),
]


@pytest.mark.parametrize(("specs", "fragments"), ERRORS)
def test_bad_rules_are_refused_with_the_rule_and_the_reason(specs: list[RuleSpec], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        compile_rules(specs, TERMS)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_error_names_the_source_file_and_the_expansion() -> None:
    with pytest.raises(ConfigError) as err:
        compile_rules([RuleSpec("ca", "summit @central_asia OR")], TERMS, source="/etc/pm/config.toml")
    message = str(err.value)
    assert message.startswith('/etc/pm/config.toml: rules[1] "ca": query: syntax error near "OR"'), message
    assert message.endswith("(expanded from: summit @central_asia OR)"), message


def test_bad_term_list_entries_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"terms.broken\[2\] 'oil\)': syntax error near \"\)\""):
        compile_rules([], {"broken": ["gas", "oil)"]})
    with pytest.raises(ConfigError, match="term list @empty is empty"):
        compile_rules([RuleSpec("p", "@empty")], {"empty": []})
    with pytest.raises(ConfigError, match="refers to itself"):
        compile_rules([], {"a": ["@b"], "b": ["@a"]})


def test_a_query_that_can_still_match_is_accepted() -> None:
    # The em dash is dropped by FTS5's implicit AND, and a dead OR branch is harmless.
    assert keys_matching("China — Central", [CGTN]) == {101}
    assert keys_matching('summit OR "---"', [CGTN]) == {101}


@pytest.mark.parametrize("typed, explicit", [
    ("summit (gas OR oil)", "summit AND (gas OR oil)"),
    ("U.S. (economy OR trade)", '"U.S." AND (economy OR trade)'),
    ("(Xi'an OR Astana) summit", '("Xi\'an" OR Astana) AND summit'),
    ("summit @energy", "summit AND @energy"),
    ("@central_asia dividend", "@central_asia AND dividend"),
    ("board title: (dividend OR merger)", "board AND title: (dividend OR merger)"),
    ("NEAR(summit declaration) (gas OR coal)", "NEAR(summit declaration) AND (gas OR coal)"),
    ("near(summit declaration)(gas OR coal)", "NEAR(summit declaration) AND (gas OR coal)"),
    ("dividend(quarterly OR annual)", "dividend AND (quarterly OR annual)"),
])
def test_a_group_next_to_a_term_means_both_as_people_type_it(typed: str, explicit: str) -> None:
    # FTS5 refuses the implicit AND next to a bracketed group; people write it anyway.
    assert forgive(typed) == explicit
    docs = [CGTN, EARNINGS]
    assert keys_matching(typed, docs) == keys_matching(explicit, docs)


# --------------------------------------------------------------------------- public helpers


def test_expand_terms() -> None:
    assert expand_terms("@energy AND summit", TERMS) == "(oil OR gas OR pipeline*) AND summit"
    assert expand_terms('"@energy" AND x', TERMS) == '"@energy" AND x'  # not inside quotes
    assert expand_terms("@x", {"x": ["a b", "c"]}) == "((a b) OR c)"
    with pytest.raises(QueryError, match="unknown term list @nope"):
        expand_terms("@nope", TERMS)


def test_check_query_for_the_search_command() -> None:
    check_query('summit* AND "Central Asia" AND title : xi')
    with pytest.raises(QueryError, match='syntax error near "AND" at position 7'):
        check_query("summit AND")
    with pytest.raises(QueryError, match="can never match"):
        check_query("a NOT a")


def test_compile_query_for_ad_hoc_queries() -> None:
    rs = compile_query("@central_asia", TERMS, name="adhoc")
    (m,) = rs.match([CGTN])
    assert m.rule == "adhoc" and m.key == 101
    assert rs.rules[0].expanded.startswith('("Central Asia"')
    with pytest.raises(QueryError):
        compile_query("summit AND", TERMS)


# --------------------------------------------------------------------------- the tokenizer memo


def test_every_python_whitespace_character_separates_fts5_tokens() -> None:
    # The tokenizer memo splits text on whitespace before asking FTS5; that is only exact if FTS5
    # also treats every such character as a separator.
    spaces = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()]
    assert FTS.tokens("".join(f"ab{s}cd" for s in spaces)) == ["ab"] + ["cdab"] * (len(spaces) - 1) + ["cd"]
    got = [FTS._run([f"ab{s}cd"])[0] for s in spaces]  # straight from FTS5, no memo
    assert all(g == ["ab", "cd"] for g in got)


def test_tokens_come_from_fts5_itself() -> None:
    assert FTS.tokens("Summits in Türkmenistan, U.S.-based running") == [
        "summit", "in", "turkmenistan", "u", "s", "base", "run"
    ]  # fmt: skip
    # The marker word used to learn chunks in one round trip is handled when a release contains it.
    assert FTS.tokens("qzxchunkqzx Qzxchunkqzx's") == ["qzxchunkqzx", "qzxchunkqzx", "s"]


def test_a_regex_that_fails_on_one_release_skips_that_match_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rs = compile_rules([RuleSpec("nyse", "revenue", regex=r"NYSE"), RuleSpec("plain", "revenue")], TERMS)
    rule = rs.get("nyse")
    assert rule is not None and rule.regex is not None

    class GivesUp:  # what RE2 does when a match needs more memory than it may use
        def search(self, text: str) -> None:
            raise RuntimeError("out of memory")

    monkeypatch.setattr(rule.regex, "_re", GivesUp())
    with caplog.at_level("WARNING", logger="monitor.rules"):
        found = rs.match([EARNINGS])
    assert [m.rule for m in found] == ["plain"]  # the other rule, and the poll, go on
    assert "rule 'nyse': release 102 skipped: regex 'NYSE' failed on this text: out of memory" in caplog.text


def test_regexes_run_in_linear_time() -> None:
    rs = compile_rules([RuleSpec("redos", "redos", regex="(a+)+c")], TERMS)
    evil = doc(1, title="redos " + "a" * 5000 + "b")
    assert rs.match([evil]) == []  # Python's re would backtrack 2**5000 times here
    assert [m.key for m in rs.match([doc(2, title="redos aaaac")])] == [2]


def test_matching_leaves_the_garbage_collector_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Matching used to gc.disable() the whole (threaded) process; measured, it bought nothing (issue 23)."""
    import gc

    seen: list[bool] = []
    real = snippet_mod.window

    def watching(*args: object, **kwargs: object) -> tuple[int, str, bool]:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(snippet_mod, "window", watching)
    assert gc.isenabled()
    rs = compile_rules([RuleSpec("summit", "summit*")], {})
    assert gc.isenabled()
    assert [m.rule for m in rs.match([CGTN])] == ["summit"]
    assert seen and all(seen) and gc.isenabled()


def test_the_clean_cut_shortcut_gives_what_mending_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window whose cuts are clean skips the wide snippet: mending it must change nothing."""
    from tests.corpus import Corpus

    docs = Corpus(seed=5).docs(150) + [CGTN, EARNINGS]
    queries = ['"Central Asia"', "summit*", "acquisition", '"financial results"', "Kazakhstan OR Uzbekistan",
               "energy AND pipeline", "revenue", "Xi", "峰会"]
    fast = {q: [m.snippet for m in compile_query(q).match(docs)] for q in queries}
    real = snippet_mod.window

    def never_clean(*args: object, **kwargs: object) -> tuple[int, str, bool]:
        col, text, _ = real(*args, **kwargs)  # type: ignore[arg-type]
        return col, text, False

    monkeypatch.setattr(snippet_mod, "window", never_clean)
    slow = {q: [m.snippet for m in compile_query(q).match(docs)] for q in queries}
    assert slow == fast
    assert sum(s.endswith("…") or s.startswith("…") for v in fast.values() for s in v) > 100  # cut windows seen
