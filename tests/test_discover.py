"""discover: feed links in a page, presets; cli.locks: who holds the archive, read from a /proc/locks table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from monitor import discover
from monitor.cli import locks


def test_feed_links_reads_alternate_links_resolved_against_the_page() -> None:
    page = """<html><head><base href="https://cdn.example.com/site/">
      <link rel="stylesheet" href="a.css">
      <link rel="Alternate" type="application/rss+xml; charset=utf-8" title=" News  releases " href="feed.xml">
      <link rel="alternate" type="application/atom+xml" href="https://example.com/atom">
      <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
      <link rel="alternate" type="application/rss+xml" href="feed.xml">
    </head><body><a href="/other.rss">not a link element</a></body></html>"""
    assert discover.feed_links(page, "https://example.com/newsroom") == [
        ("https://cdn.example.com/site/feed.xml", "News releases"),
        ("https://example.com/atom", ""),
    ]
    assert discover.feed_links("<html><body>nothing</body></html>", "https://x.example/") == []
    assert discover.feed_links("<<<>>>&&&\x00", "https://x.example/") == []


def test_presets_have_unique_keys_and_https_urls() -> None:
    keys = [p.key for p in discover.PRESETS]
    assert len(keys) == len(set(keys))
    assert all(p.url.startswith("https://") and ":" in p.key for p in discover.PRESETS)
    assert {k.split(":")[0] for k in keys} == {"prnewswire", "businesswire", "globenewswire"}
    assert discover.preset("PRNewswire:Energy") == discover.preset("prnewswire:energy") is not None
    assert discover.looks_like_preset("prnewswire:nope") and not discover.looks_like_preset("https://x/")
    assert not discover.looks_like_preset("./samples/a.xml") and not discover.looks_like_preset("file:///a")


def test_lock_holders_come_from_proc_locks(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    db.write_bytes(b"")
    (tmp_path / "a.db-shm").write_bytes(b"")
    st, shm = os.stat(db), os.stat(tmp_path / "a.db-shm")
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "cmdline").write_bytes(b"/usr/bin/python3\0-m\0monitor\0run\0")
    (proc / "locks").write_text(
        f"1: POSIX  ADVISORY  READ  777 {dev}:{st.st_ino} 0 EOF\n"          # a reader: not the holder
        f"2: POSIX  ADVISORY  WRITE 4242 {dev}:{shm.st_ino} 120 120\n"      # WAL write lock on -shm
        f"2: -> POSIX  ADVISORY  WRITE 5151 {dev}:{shm.st_ino} 120 120\n"   # a waiter
        f"3: FLOCK  ADVISORY  WRITE 999 {dev}:{st.st_ino + 10**6} 0 EOF\n"  # another file
        f"4: POSIX  ADVISORY  WRITE {os.getpid()} {dev}:{st.st_ino} 0 EOF\n"  # ourselves
    )
    assert locks.holders(db, proc=proc) == [(4242, "/usr/bin/python3 -m monitor run")]
    assert locks.holders(db, proc=tmp_path / "nothing") == []


def test_completion_script_as_the_readme_documents_it() -> None:
    script = Path(sys.executable).parent / "press-monitor"
    done = subprocess.run([str(script)], env={**os.environ, "_PRESS_MONITOR_COMPLETE": "bash_source"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "_press_monitor_completion" in done.stdout
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert 'eval "$(_PRESS_MONITOR_COMPLETE=bash_source press-monitor)"' in readme
