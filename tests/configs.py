"""What the tests share besides fixtures: config writers, the CLI as a subprocess, wait_for.

    cli("search", "summit", cwd=tmp_path, check=True, env={...})      -> CompletedProcess (text)
    wait_for(lambda: server.hits("/x") == 2, 30, "the second poll")  -> the check's first true value

Config writers (conftest.py exposes them as the `configs` fixture):

    configs.feed("wire", url, interval="1m", extra='adaptive = true')   -> a [[feeds]] table
    configs.write(feeds, hook=receiver.url, rules=..., timeout="2s", monitor='retention = "30d"')
    configs.path                                                         -> tmp_path / "config.toml"

The archive is `archive.db` beside the config. A `hook` adds a signed webhook channel named "hook"
(secret from $PM_TEST_HOOK_SECRET: pass HOOK_ENV to a subprocess) and, unless `rules` is given, a
rule "summit" that notifies it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOK_ENV = {"PM_TEST_HOOK_SECRET": SECRET}


def feed_toml(name: str, url: str, interval: str = "1s", extra: str = "", full_text: bool = False) -> str:
    # Polling tests leave release pages alone (full_text defaults to true for http feeds); the page
    # tests (test_pages_*.py) write their own configs.
    pages = "" if full_text else "full_text = false\n"
    return f'[[feeds]]\nname = "{name}"\nurl = "{url}"\ninterval = "{interval}"\n{pages}{extra}\n'


def write_config(path: Path, feeds: str, *, hook: str | None = None, timeout: str = "2s",
                 rules: str | None = None, monitor: str = "", signed: bool = True) -> Path:
    text = f'[monitor]\ndatabase = "archive.db"\ntimeout = "{timeout}"\n{monitor}\n{feeds}'
    if hook:
        text += f'[channels.hook]\ntype = "webhook"\nurl = "{hook}"\n'
        text += 'secret_env = "PM_TEST_HOOK_SECRET"\n\n' if signed else "\n"
    text += rules if rules is not None else (
        '[[rules]]\nname = "summit"\nquery = "summit*"\nnotify = ["hook"]\n' if hook else "")
    path.write_text(text)
    return path


class Configs:
    """write_config and feed_toml bound to one test's directory."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "config.toml"

    @staticmethod
    def feed(name: str, url: str, interval: str = "1s", extra: str = "", full_text: bool = False) -> str:
        return feed_toml(name, url, interval, extra, full_text)

    def write(self, feeds: str, **options: object) -> Path:
        return write_config(self.path, feeds, **options)  # type: ignore[arg-type]


def cli(*args: str, cwd: Path, check: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m monitor ARGS` in `cwd` (env: added to this environment); check: assert it exits 0."""
    done = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env} if env else None)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> object:
    """Return check()'s first true value, polling every `interval`; fail naming `what` after `timeout` s.

    The timeout is a generous ceiling for a loaded machine, never the thing a test measures.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
