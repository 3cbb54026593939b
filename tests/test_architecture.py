"""ARCHITECTURE.md's layers and library owners, read from the imports of every module in monitor/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "monitor"

LAYER = {
    **dict.fromkeys(["types", "errors", "clock", "links", "channel_options", "saferegex", "fold",
                     "wires", "httpclient", "httpadapter", "retry_after", "deadline", "excerpt", "node"], 1),
    **dict.fromkeys(["config", "parse", "normalize", "dedupe", "stories", "rules", "export", "schedule", "discover",
                     "extract", "spikes"], 2),
    **dict.fromkeys(["fetch", "hostqueue", "store", "channels", "sdnotify"], 3),
    **dict.fromkeys(["pipeline", "deliver", "maintenance", "pagefetch", "health", "membership", "cluster"], 4),
}
# What each layer may import from monitor (layer 5 — poller, daemon, cli, app, web, __main__ — may import anything).
# Layer 1 may use layer 1 (saferegex's errors derive from errors.ConfigError).
ALLOWED = {1: {1}, 2: {1}, 3: {1}, 4: {1, 2, 3}}
# The one exception to ALLOWED: PostgreSQL has no FTS5, so its search (store/pgsearch.py) tokenizes,
# verifies and makes snippets with the rules' own FTS5 code (rules/), or search and rules would disagree.
EXCEPTIONS = {"store.pgsearch": {"rules"}}
# Each third-party library lives in one place.
OWNERS = {
    "feedparser": {"parse"},
    "sqlite_utils": {"store"},
    # PostgreSQL: one module, the driver behind the store's seam (store/base.py: Driver).
    "psycopg": {"store.pg"},
    "psycopg_pool": {"store.pg"},
    "apscheduler": {"daemon"},
    # requests is the one HTTP client (feeds, pages, robots.txt, webhooks): its Session in httpclient,
    # our HTTPAdapter (watched sockets, pinned addresses) in httpadapter, the only module under urllib3.
    "requests": {"httpclient", "httpadapter"},
    "urllib3": {"httpadapter"},
    "certifi": {"httpclient"},
    "click": {"cli"},
    "jinja2": {"web.render"},
    "markupsafe": {"web.render"},
    "apprise": {"channels.apprise"},
    "re2": {"saferegex"},
    "tomlkit": {"cli.configedit"},
    "trafilatura": {"extract"},
    "lxml": {"extract"},
}


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append((".".join(parts) or "__init__", path))
    return out


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "monitor":
                found.update(f"monitor.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add("monitor.<relative>")
    return found


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    return LAYER.get(top, 5)


@pytest.mark.parametrize(("name", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_follow_the_layers(name: str, path: Path) -> None:
    mine = layer_of(name)
    for imp in imports(path):
        assert imp != "monitor.<relative>", f"{name}: use absolute imports (from monitor.x import y)"
        if imp.startswith("monitor.") and mine in ALLOWED:
            target = imp.split(".")[1]
            if name.split(".")[0] == target:
                continue  # inside one package (channels.x -> channels.render)
            if target in EXCEPTIONS.get(name, ()):
                continue
            assert layer_of(target) in ALLOWED[mine], f"{name} (layer {mine}) must not import {imp}"
        top = imp.split(".")[0]
        if top in OWNERS:
            owner = name if name in OWNERS[top] else name.split(".")[0]  # a package owns it whole (cli/)
            assert owner in OWNERS[top], f"{name} imports {top}; only {sorted(OWNERS[top])} may"


def test_only_clock_reads_the_wall_clock() -> None:
    offenders = []
    for name, path in modules():
        if name == "clock":
            continue
        text = path.read_text()
        for needle in ("datetime.now(", "time.time(", "datetime.utcnow(", "time.monotonic("):
            if needle in text:
                offenders.append(f"{name}: {needle}")
    assert not offenders, offenders


def test_tests_never_import_bench() -> None:
    # bench/ may use tests' generators (tests/wire.py, tests/corpus.py); never the other way round,
    # so the suite runs without the benchmarks and a benchmark change cannot break a test.
    offenders = [path.name for path in sorted(PKG.parent.joinpath("tests").glob("*.py"))
                 if any(imp == "bench" or imp.startswith("bench.") for imp in imports(path))]
    assert not offenders, offenders


def test_requests_is_the_one_http_client() -> None:
    """Feeds, pages and webhooks reach the network through monitor.httpclient only."""
    users = {name for name, path in modules() if any(i == "monitor.httpclient" for i in imports(path))}
    assert users == {"fetch", "pagefetch.net", "channels.webhook"}, users
    assert "requests" in imports(PKG / "httpclient.py")
