"""The CLI's error boundary and its handling of outside values, through the real CLI.

Most cases run the CLI as a subprocess (how a user meets it). The fuzz test uses click's CliRunner
in-process: a subprocess per example costs ~0.5 s of interpreter start on this 2-core machine, which
would limit hypothesis to a handful of examples; in-process it runs hundreds against the same
commands, parser and error boundary (monitor.cli.base.Group.invoke).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main
from monitor.cli.when import EARLIEST, LATEST, parse_when
from tests.configs import ROOT, cli

CONFIG = """
[monitor]
database = "archive.db"

[[feeds]]
name = "Sample US"
url = "./samples/prnewswire-sample.xml"

[[feeds]]
name = "Sample UK"
url = "./samples/prnewswire-uk-sample.xml"

[terms]
central_asia = ['"Central Asia"', "Kazakhstan", "Uzbekistan"]

[[rules]]
name = "central-asia"
query = "@central_asia"
notify = ["console"]

[[rules]]
name = "summits"
query = "summit*"
notify = ["console"]

[channels.console]
type = "console"
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    shutil.copytree(ROOT / "samples", folder / "samples")
    (folder / "config.toml").write_text(CONFIG)
    cli("run", "--once", cwd=folder, check=True)
    return folder


OUTSIDE_VALUES = [
    ("search", "x", "--limit", "99999999999999999999"),
    ("search", "x", "--limit", "-5"),
    ("show", "99999999999999999999999"),
    ("show", "-1"),
    ("alerts", "retry", "99999999999999999999"),
    ("alerts", "--limit", "99999999999999999999"),
    ("search", "summit", "--since", "9999-12-31T23:59:59-14:00"),
    ("search", "summit", "--since", "0001-01-01T00:00:00+14:00"),
    ("search", "summit", "--since", "99999999999999999999999d"),
    ("export", "--until", "9999-12-31T23:59:59-14:00"),
    ("export", "--output", "/nonexistent/dir/x.jsonl"),
    ("export", "--query", '"Central Asia'),
    ("rules", "test", "summit", "--limit", "99999999999999999999", "--since", "1e999d"),
    ("feed", "summits", "--limit", "99999999999999999999"),
    ("run", "--once", "--workers", "99999999999999999999"),
    ("rules", "test", "(" * 3000 + "x" + ")" * 3000),
    ("search", "(" * 3000 + "x" + ")" * 3000),
]


@pytest.mark.parametrize("args", OUTSIDE_VALUES, ids=[" ".join(a)[:60] for a in OUTSIDE_VALUES])
def test_outside_values_give_one_line_or_a_sane_result(archive: Path, args: tuple[str, ...]) -> None:
    done = cli(*args, cwd=archive)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode in (0, 1, 2), done.stderr
    if done.returncode == 2:
        errors = [line for line in done.stderr.splitlines() if line.startswith(("press-monitor:", "Error:"))]
        assert len(errors) == 1, done.stderr


@pytest.mark.slow
def test_each_outside_value_has_its_own_message(archive: Path) -> None:
    show = cli("show", "99999999999999999999999", cwd=archive)
    assert (show.returncode, show.stderr) == (1, "press-monitor: no release with id 99999999999999999999999\n")
    out = cli("export", "--output", "/nonexistent/dir/x.jsonl", cwd=archive)
    assert out.returncode == 2 and "cannot write /nonexistent/dir/x.jsonl: No such file or directory" in out.stderr
    query = cli("export", "--query", '"Central Asia', cwd=archive)
    assert query.returncode == 2 and "invalid query" in query.stderr and query.stdout == ""
    retry = cli("alerts", "retry", "99999999999999999999", cwd=archive, check=True)
    assert "requeued 0 alert(s)" in retry.stdout
    late = cli("search", "summit", "--since", "9999-12-31T23:59:59-14:00", cwd=archive, check=True)
    assert late.stdout == "" and "no matches" in late.stderr  # after the end of time: nothing, not an overflow
    many = cli("search", "summit", "--limit", "99999999999999999999", cwd=archive, check=True)
    assert "Central Asian" in many.stdout


def test_a_non_utf8_argument_is_one_line_and_debug_shows_the_traceback(archive: Path) -> None:
    def run(*args: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable.encode(), b"-m", b"monitor", *args], cwd=archive,
                              capture_output=True, timeout=120)

    plain = run(b"search", b"summit\xff")
    assert plain.returncode == 2
    assert plain.stderr == b"press-monitor: the argument 'summit\\xff' is not valid UTF-8 text; pass text in UTF-8\n"
    debug = run(b"--debug", b"search", b"summit\xff")
    assert debug.returncode == 2 and b"Traceback" in debug.stderr and b"UnicodeEncodeError" in debug.stderr
    assert debug.stderr.rstrip().endswith(b"pass text in UTF-8")


@pytest.mark.slow
def test_a_locked_archive_names_the_process_holding_it(archive: Path) -> None:
    holder = sqlite3.connect(archive / "archive.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # this test process holds the write lock past the 15 s busy timeout
        done = cli("alerts", "retry", "--dead", cwd=archive)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert f"stayed locked for 15 s by pid {os.getpid()} (" in done.stderr, done.stderr


# --------------------------------------------------------------------------- fuzz


def _fuzz_archive(folder: Path) -> Path:
    if not (folder / "archive.db").exists():
        shutil.copytree(ROOT / "samples", folder / "samples", dirs_exist_ok=True)
        (folder / "config.toml").write_text(CONFIG)
        cli("run", "--once", cwd=folder, check=True)
    return folder / "config.toml"


WORD = st.one_of(
    st.text(max_size=30),
    st.sampled_from(['"Central Asia', "summit*", "AND", "NOT x", "(((", "@central_asia", "@nowhere", "*", "\x00",
                     "summit\udcff", "\udce9t\udce9", "NEAR(a b, 99999999999999999999)", "title : x", "-1", "0"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
WHEN = st.one_of(
    WORD,
    st.sampled_from(["today", "yesterday", "3 days", "2w", "30d", "1e999d", "2024-05-01", "9999-12-31T23:59:59-14:00",
                     "0001-01-01T00:00:00+14:00", "2024-13-45", "5 fortnights", "ago"]),
)
COMMANDS = st.one_of(
    st.tuples(st.just("search"), WORD, st.just("--limit"), WORD, st.just("--since"), WHEN),
    st.tuples(st.just("search"), WORD, st.just("--json")),
    st.tuples(st.just("show"), WORD),
    st.tuples(st.just("rules"), st.just("test"), WORD, st.just("--since"), WHEN, st.just("-n"), WORD),
    st.tuples(st.just("export"), st.just("--query"), WORD, st.just("--since"), WHEN, st.just("--until"), WHEN),
    st.tuples(st.just("export"), st.just("--rule"), WORD, st.just("--format"), st.sampled_from(["csv", "jsonl", "x"])),
    st.tuples(st.just("feed"), WORD, st.just("--limit"), WORD),
    st.tuples(st.just("alerts"), st.just("--status"), WORD, st.just("--rule"), WORD, st.just("-n"), WORD),
    st.tuples(st.just("alerts"), st.just("retry"), WORD),
    st.tuples(st.just("alerts"), st.just("test"), WORD),
    st.tuples(st.sampled_from(["check", "feeds", "status", "rules"])),
    st.lists(WORD, max_size=4).map(tuple),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=COMMANDS)
def test_fuzzed_arguments_never_give_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = _fuzz_archive(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=True)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, output)
    assert "Traceback" not in output, (args, output)


# --------------------------------------------------------------------------- --since


NOW = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("today", datetime(2026, 12, 1, tzinfo=UTC)),
    ("yesterday", datetime(2026, 11, 30, tzinfo=UTC)),
    ("3 days", datetime(2026, 11, 28, 15, 30, tzinfo=UTC)),
    ("3 days ago", datetime(2026, 11, 28, 15, 30, tzinfo=UTC)),
    ("2w", datetime(2026, 11, 17, 15, 30, tzinfo=UTC)),
    ("1h30m", datetime(2026, 12, 1, 14, 0, tzinfo=UTC)),
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("9999-12-31T23:59:59-14:00", LATEST),
    ("0001-01-01T00:00:00+14:00", EARLIEST),
    ("99999999999999999999999d", EARLIEST),
])
def test_since_forms(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["5 fortnights", "soon", "2024-13-45", "3 days later"])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(click.BadParameter, match=re.escape(repr(text))):
        parse_when(text, NOW)


@pytest.mark.parametrize("args", [("search", "summit*"), ("feeds", "presets"), ("export",), ("show", "1")])
def test_a_closed_pipe_ends_quietly(archive: Path, args: tuple[str, ...]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=archive, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `press-monitor ... | head -0`: the reader is gone before the first line
    code = proc.wait(timeout=120)
    assert (code, proc.stderr.read()) == (0, b"")
