"""The first hour, as the README tells it: the quick start alerts offline; check, rules and help say what they mean."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.configs import ROOT, cli


def readme_quick_start() -> list[str]:
    """Return the arguments of the README's first press-monitor command (the quick start)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", text, re.S)
    assert block, "README has a Quick start with a sh block"
    command = block[1].split("&&")[-1].strip()
    words = shlex.split(command)
    assert words[0].endswith("press-monitor"), command
    return words[1:]


def test_readme_quick_start_shows_an_alert_in_a_fresh_directory(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    args = readme_quick_start()
    assert args[-2:] == ["run", "--once"]
    done = cli(*args, cwd=tmp_path)  # exit 1 without internet: the real PR Newswire feeds fail
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("[central-asia] Steppe Corridor Logistics") for line in lines), done.stdout
    # With internet the real feeds add their own matches, hence "at least".
    quiet = re.search(r"^(\d+) matched, archived without alert: published before alert_max_age 2d", done.stdout, re.M)
    assert quiet and int(quiet[1]) >= 2, done.stdout
    sent = re.search(r"^alerts: (\d+) sent, 0 to retry, 0 dead", done.stdout, re.M)
    assert sent and int(sent[1]) >= 1, done.stdout
    # The README promises what the output says.
    readme = (ROOT / "README.md").read_text()
    assert "archived without alert" in readme and "newsroom-undated.xml" in readme
    again = cli(*args, cwd=tmp_path)
    assert "[central-asia]" not in again.stdout  # one alert per release, not one per run


def _bad_config(tmp_path: Path, extra: str = "") -> None:
    (tmp_path / "config.toml").write_text(f"""
[monitor]
database = "a.db"
poll_interval = true
[[feeds]]
name = "local"
url = "./missing.xml"
[[rules]]
name = "one"
query = "summit AND"
notify = ["console"]
[[rules]]
name = "two"
query = "(("
notify = ["console"]
[[rules]]
name = "three"
query = "fine"
notify = ["console"]
[channels.console]
type = "console"
{extra}""")


def test_check_reports_config_and_rule_problems_together_and_never_ok(tmp_path: Path) -> None:
    _bad_config(tmp_path)
    done = cli("check", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""  # no "ok", no summary
    assert "monitor.poll_interval" in done.stderr
    assert 'rules[1] "one": query: syntax error near "AND"' in done.stderr
    assert 'rules[2] "two": query:' in done.stderr
    assert "rules[3]" not in done.stderr and "Traceback" not in done.stderr
    # With the config itself fixed, both rule errors still come together.
    (tmp_path / "config.toml").write_text((tmp_path / "config.toml").read_text().replace("poll_interval = true\n", ""))
    again = cli("check", cwd=tmp_path)
    assert again.returncode == 2 and again.stdout == ""
    assert 'rules[1] "one"' in again.stderr and 'rules[2] "two"' in again.stderr
    assert "2 problem(s)" in again.stderr


def test_check_warns_about_a_missing_feed_file_and_a_rule_that_alerts_nobody(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("""
[[feeds]]
name = "local"
url = "./missing.xml"
[[rules]]
name = "quiet"
query = "summit"
[[rules]]
name = "muted"
query = "summit"
notify = ["mail"]
[[rules]]
name = "loud"
query = "summit"
notify = ["console"]
[channels.console]
type = "console"
[channels.mail]
type = "console"
enabled = false
""")
    done = cli("check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].endswith(": ok")
    warnings = done.stderr.splitlines()
    assert len(warnings) == 3, warnings
    assert 'feeds[1] "local": no such file' in warnings[0] and "missing.xml" in warnings[0]
    assert 'rules[1] "quiet" alerts no channel (it has no notify list)' in warnings[1]
    assert 'rules[2] "muted" alerts no channel (its channels are disabled: mail)' in warnings[2]


@pytest.mark.slow
def test_rules_and_rules_test_count_the_same_releases(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "config.toml").write_text("""
[monitor]
database = "a.db"
[[feeds]]
name = "us"
url = "./samples/prnewswire-sample.xml"
[[feeds]]
name = "uk"
url = "./samples/prnewswire-uk-sample.xml"
[[rules]]
name = "summits"
query = "summit*"
""")
    cli("run", "--once", cwd=tmp_path, check=True)
    listed = cli("rules", cwd=tmp_path, check=True).stdout
    row = next(line for line in listed.splitlines() if line.startswith("summits"))
    day, week, total = (int(x) for x in row.split()[1:4])
    backtest = cli("rules", "test", "summits", "--since", "100y", cwd=tmp_path, check=True).stdout
    assert f"would have matched {total} release(s)" in backtest
    # The samples are from 2023 and early 2026: by publication date none is from this week.
    week_test = cli("rules", "test", "summits", "--since", "7d", cwd=tmp_path, check=True).stdout
    assert f"would have matched {week} release(s)" in week_test and week == day == 0 and total >= 1


@pytest.mark.slow
def test_rules_test_with_an_unknown_rule_name_says_so(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "config.toml").write_text("""
[monitor]
database = "a.db"
[[feeds]]
name = "us"
url = "./samples/prnewswire-sample.xml"
[terms]
ca = ["Kazakhstan"]
[[rules]]
name = "summits"
query = "summit*"
""")
    cli("run", "--once", cwd=tmp_path, check=True)
    done = cli("rules", "test", "nosuch-rule", cwd=tmp_path)
    assert "no rule named 'nosuch-rule' (rules: summits)" in done.stderr
    assert "searched: \"nosuch-rule\"" in done.stderr  # as FTS5 ran it: a punctuated word is a phrase
    plain = cli("rules", "test", "nosuchrule", cwd=tmp_path, check=True)
    assert "no rule named 'nosuchrule'" in plain.stderr and "searched: nosuchrule" in plain.stderr
    assert "would have matched 0 release(s)" in plain.stdout
    terms = cli("rules", "test", "@ca", "--since", "100y", cwd=tmp_path, check=True)
    assert "searched: (Kazakhstan)" in terms.stderr and "no rule named" not in terms.stderr


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        out.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, (*prefix, name)))
    return out


def test_every_command_has_an_example_in_its_help() -> None:
    runner = CliRunner()
    missing = []
    for path, _ in _commands(main):
        text = runner.invoke(main, [*path, "--help"]).output
        if not re.search(rf"^\s+press-monitor .*{re.escape(path[-1])}", text, re.M):
            missing.append(" ".join(path))
    assert not missing, f"no example in --help of: {missing}"


def test_each_short_flag_means_one_thing() -> None:
    meanings: dict[str, set[str]] = {}
    for _path, command in [((), main), *_commands(main)]:
        for param in command.params:
            if isinstance(param, click.Option):
                longs = [o for o in param.opts if o.startswith("--")]
                for short in (o for o in param.opts if re.fullmatch(r"-[A-Za-z]", o)):
                    meanings.setdefault(short, set()).add(longs[0] if longs else param.name or "?")
    clashes = {short: longs for short, longs in meanings.items() if len(longs) > 1}
    assert not clashes, clashes
