"""systemd/press-monitor.service (the daemon) and press-monitor-web.service (`serve`): systemd's own
tools accept them, and their hardening scores well.

These tests need systemd-analyze (Debian: `apt-get install systemd`; .ci/run installs it when it is
missing). Without it they fail rather than skip: an unchecked unit file is how broken ones ship.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
UNIT = UNITS / "press-monitor.service"
WEB_UNIT = UNITS / "press-monitor-web.service"
INSTALLED_AT = "/usr/local/bin/press-monitor"


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: apt-get install -y systemd (the unit file cannot be checked)"
    return tool


def installed(source: Path, tmp_path: Path, text: str | None = None) -> Path:
    """A shipped unit, with ExecStart pointing at this venv's press-monitor (verify checks it exists)."""
    text = source.read_text() if text is None else text
    assert INSTALLED_AT in text
    binary = Path(sys.executable).parent / "press-monitor"
    assert binary.exists(), binary
    path = tmp_path / source.name
    path.write_text(text.replace(INSTALLED_AT, str(binary)))
    return path


@pytest.fixture(params=[UNIT, WEB_UNIT], ids=lambda p: p.name)
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return installed(request.param, tmp_path)


def settings_of(text: str) -> dict[str, list[str]]:
    """Every active `Key=value` of a unit file (comments skipped), values in order."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # SYSTEMD_LOG_LEVEL pinned: an environment asking for debug output must not fail the test.
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_LEVEL": "notice"}
    return subprocess.run([analyze(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def test_systemd_analyze_verify_is_silent(unit: Path) -> None:
    done = run("verify", unit.name, cwd=unit.parent)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def test_verify_would_catch_a_broken_unit(unit: Path) -> None:
    # The check above can fail: a typo in a key or value makes verify talk.
    bad = unit.with_name("broken.service")
    text = unit.read_text().replace("ProtectHome=yes", "ProtectHome=maybe")
    text = text.replace("Type=notify", "Type=notif").replace("Type=exec", "Type=exe")
    bad.write_text(text)
    done = run("verify", bad.name, cwd=bad.parent)
    assert "maybe" in done.stderr and ("notif" in done.stderr or "exe" in done.stderr)


def test_security_exposure_is_below_the_threshold(unit: Path) -> None:
    done = run("security", "--offline=yes", "--threshold=20", unit.name, cwd=unit.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert score and float(score.group(1)) <= 2.0, done.stdout[-500:]


def test_the_unit_has_what_the_daemon_relies_on() -> None:
    settings = settings_of(UNIT.read_text())
    one = {k: v[-1] for k, v in settings.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["WatchdogSec"] and one["Restart"] == "on-failure"
    # The daemon gives running polls 20 s after SIGTERM; systemd must wait longer before SIGKILL.
    assert int(one["TimeoutStopSec"].rstrip("s")) > 20
    assert one["DynamicUser"] == "yes" and one["StateDirectory"] == "press-monitor"
    assert one["ConfigurationDirectory"] == "press-monitor"
    # No credential is active as shipped: an active LoadCredential= whose file is missing fails the
    # start (243/CREDENTIALS), so a console-only setup must run as shipped.
    assert "LoadCredential" not in settings
    commented = re.findall(r"^#LoadCredential=([\w-]+):", UNIT.read_text(), re.M)
    assert commented == ["smtp-password", "webhook-secret"]
    assert one["ExecReload"].endswith("kill -HUP $MAINPID")
    for key, value in {"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "UMask": "0077",
                       "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}.items():
        assert one[key] == value, key
    assert "@system-service" in settings["SystemCallFilter"]
    assert one["MemoryMax"]


def test_the_credential_lines_verify_once_enabled(tmp_path: Path) -> None:
    text = UNIT.read_text().replace("#LoadCredential=", "LoadCredential=")
    unit = installed(UNIT, tmp_path, text)
    assert len(settings_of(unit.read_text())["LoadCredential"]) == 2
    done = run("verify", unit.name, cwd=unit.parent)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_web_unit_serves_the_daemons_archive_read_only() -> None:
    web, daemon = settings_of(WEB_UNIT.read_text()), settings_of(UNIT.read_text())
    [exec_start] = web["ExecStart"]
    assert exec_start.split()[1:] == ["--config", "${CONFIGURATION_DIRECTORY}/config.toml", "serve", "--host",
                                      "127.0.0.1", "--port", "8001"]
    # One dynamic user for both units (User= names it; the daemon's is its unit name), so the web
    # view can open the archive the daemon writes.
    assert web["DynamicUser"] == ["yes"] and web["User"] == ["press-monitor"] and "User" not in daemon
    for key in ("StateDirectory", "ConfigurationDirectory", "WorkingDirectory", "UMask", "ProtectSystem",
                "CapabilityBoundingSet", "SystemCallFilter", "RestrictAddressFamilies"):
        assert web[key] == daemon[key], key
    assert "LoadCredential" not in web and "#LoadCredential=web-token:" in WEB_UNIT.read_text()
