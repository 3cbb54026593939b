"""Rules and queries through the real CLI: regexes that cannot stall a poll, queries that forgive,
text folded the same way in rules and in search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.configs import cli
from tests.feedserver import FeedServer, rss


def _config(tmp: Path, feeds: FeedServer, rules: str) -> None:
    (tmp / "config.toml").write_text(f"""
[monitor]
database = "a.db"
[[feeds]]
name = "attack"
url = "{feeds.url('/attack.rss')}"
[[feeds]]
name = "healthy"
url = "{feeds.url('/healthy.rss')}"
{rules}
[channels.console]
type = "console"
""")


def _item(title: str, guid: str, description: str = "<p>A release.</p>", **extra: object) -> dict[str, object]:
    return {"title": title, "guid": guid, "link": f"https://wire.example/{guid}.html",
            "description": description, "pubDate": datetime.now(UTC) - timedelta(minutes=5), **extra}


@pytest.mark.slow
def test_a_catastrophic_regex_cannot_stall_run_once(tmp_path: Path, feed_server: FeedServer) -> None:
    # With Python's re, (a+)+$ against "aaa...ab" backtracks 2**40 times: the poll never ends.
    feed_server.publish("/attack.rss", rss([_item("redos " + "a" * 40 + "b", "evil")]))
    feed_server.publish("/healthy.rss", rss([_item("Summit opens in Astana", "ok")]))
    _config(tmp_path, feed_server, """
[[rules]]
name = "redos"
query = "redos"
regex = "(a+)+$"
notify = ["console"]
[[rules]]
name = "summits"
query = "summit*"
notify = ["console"]
""")
    run = cli("run", "--once", cwd=tmp_path)  # cli() fails the test after 120 s
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Summit opens in Astana" in run.stdout  # the healthy feed's release alerted
    found = cli("search", "astana", cwd=tmp_path, check=True).stdout
    assert "Summit opens in Astana" in found
    assert "redos" in cli("search", "redos", cwd=tmp_path, check=True).stdout  # stored, just not matched


@pytest.mark.slow
def test_check_refuses_regexes_re2_cannot_run_and_deep_queries_in_one_line(tmp_path: Path,
                                                                           feed_server: FeedServer) -> None:
    _config(tmp_path, feed_server, '[[rules]]\nname = "twice"\nquery = "gas"\nregex = "(gas) \\\\1"\n')
    bad = cli("check", cwd=tmp_path)
    assert bad.returncode == 2
    assert "rules[1].regex" in bad.stderr and "backreferences" in bad.stderr
    assert "Traceback" not in bad.stderr

    deep = "(" * 3000 + "gas" + ")" * 3000
    _config(tmp_path, feed_server, f'[[rules]]\nname = "deep"\nquery = "{deep}"\n')
    bad = cli("check", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr[-2000:]
    assert '"deep"' in bad.stderr and "nests 3000 parentheses deep; at most 100" in bad.stderr
    [line] = [x for x in bad.stderr.splitlines() if "nests" in x]  # one short line, not 6,000 parentheses
    assert len(line) < 200, line

    _config(tmp_path, feed_server, "")
    for args in (("rules", "test", deep), ("search", deep)):
        out = cli(*args, cwd=tmp_path)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
        assert "nests 3000 parentheses deep" in out.stderr


@pytest.mark.slow
def test_queries_forgive_punctuation_and_not_and_a_left_out_and(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.publish("/attack.rss", rss([
        _item("AT&T and 3M sign U.S. deal", "att"),
        _item("Xi'an hosts summit-2026", "xian"),
        _item("Summit in Geneva", "geneva"),
    ]))
    feed_server.publish("/healthy.rss", rss([_item("Quarterly results", "q3")]))
    _config(tmp_path, feed_server, """
[[rules]]
name = "att"
query = "AT&T AND U.S."
notify = ["console"]
[[rules]]
name = "xian"
query = "Xi'an OR summit-2026"
notify = ["console"]
[[rules]]
name = "summit-not-xian"
query = "summit AND NOT Xi'an"
notify = ["console"]
""")
    cli("check", cwd=tmp_path, check=True)
    run = cli("run", "--once", cwd=tmp_path, check=True)
    assert "3 new  0 dup  3 matched  attack" in run.stdout
    for query, want, not_want in [
        ("AT&T", "AT&T and 3M", "Geneva"),
        ("U.S.", "AT&T and 3M", "Geneva"),
        ("3M", "AT&T and 3M", "Geneva"),
        ("Xi'an", "Xi'an hosts", "Geneva"),
        ("summit-2026", "Xi'an hosts", "Geneva"),
        ("summit AND NOT Xi'an", "Summit in Geneva", "Xi'an hosts"),
        ("summit (Geneva OR Astana)", "Summit in Geneva", "Xi'an hosts"),  # the AND people leave out
    ]:
        found = cli("search", query, cwd=tmp_path, check=True).stdout
        assert want in found and not_want not in found, (query, found)
        tested = cli("rules", "test", query, cwd=tmp_path, check=True).stdout
        assert want in tested and not_want not in tested, (query, tested)
        exported = cli("export", "--query", query, cwd=tmp_path, check=True).stdout
        assert want in exported and not_want not in exported, (query, exported)
    alerts = cli("alerts", "--status", "sent", cwd=tmp_path, check=True).stdout
    assert "att" in alerts and "xian" in alerts and "summit-not-xian" in alerts

    star = cli("search", "*", cwd=tmp_path)
    assert star.returncode == 2 and '"*" alone is not a search' in star.stderr
    assert cli("export", "--query", "*", cwd=tmp_path, check=True).stdout.count("\n") == 4  # everything

    for query, hint in [('"Central Asia', "never closed"),
                        ("summit (Geneva OR Astana", 'the "(" at position 11 is never closed'),
                        ("NOT summit", "no leading NOT")]:
        for args in (("search", query), ("export", "--query", query), ("rules", "test", query)):
            out = cli(*args, cwd=tmp_path)
            assert out.returncode == 2 and hint in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
            assert "fts5" not in out.stderr


FOLDED = [  # (as a release writes it, as a user types it)
    ("Kırgızistan", "kirgizistan"),
    ("Straße", "strasse"),
    ("ＮＹＳＥ", "NYSE"),
    ("ﬁnance", "finance"),
    ("第二届中国—中亚峰会在阿斯塔纳举行", "峰会"),
    ("哈萨克斯坦总统出席", "哈萨克斯坦"),
]


@pytest.mark.slow
def test_folded_text_matches_the_same_in_rules_and_search(tmp_path: Path, feed_server: FeedServer) -> None:
    items = [_item(f"{written} news", f"f{i}") for i, (written, _) in enumerate(FOLDED)]
    feed_server.publish("/attack.rss", rss(items))
    feed_server.publish("/healthy.rss", rss([_item("Kirgizistan strasse NYSE finance", "ascii")]))
    rules = "".join(f'[[rules]]\nname = "r{i}"\nquery = "{typed}"\nnotify = ["console"]\n'
                    for i, (_, typed) in enumerate(FOLDED))
    _config(tmp_path, feed_server, rules)
    run = cli("run", "--once", cwd=tmp_path, check=True).stdout
    for i, (written, typed) in enumerate(FOLDED):
        assert f"[r{i}] {written} news" in run, (typed, run)
        found = cli("search", typed, cwd=tmp_path, check=True).stdout
        assert f"{written} news" in found, (typed, found)
        if written.isascii() or typed.isascii():
            assert "Kirgizistan strasse NYSE finance" in found  # and the other way round
            back = cli("search", written, cwd=tmp_path, check=True).stdout
            assert "Kirgizistan strasse NYSE finance" in back and f"{written} news" in back, (written, back)
        assert "\u200b" not in found
    # Snippets show the original words, highlighted where the folded ones matched.
    assert "[Kırgızistan] news" in cli("search", "kirgizistan", cwd=tmp_path, check=True).stdout
    assert "第二届中国—中亚[峰会]在阿斯塔纳举行" in cli("search", "峰会", cwd=tmp_path, check=True).stdout
    assert "第二届中国—中亚峰会在[阿斯塔纳]举行" in cli("rules", "test", "阿斯塔纳", cwd=tmp_path, check=True).stdout
    assert "[峰会]" in run and "[Straße]" in run
