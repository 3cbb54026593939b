"""The archive on PostgreSQL: migrations under an advisory lock, readers' refusals, the server gone, the SQL seam.

Against the real server of tests/pgserver.py (this run's throwaway database, a schema per archive).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from monitor.errors import StoreError
from monitor.store import Store, pg, pgschema, schema
from monitor.store.pg import psycopg_sql
from monitor.types import ServerDatabase
from tests.pgserver import TestDatabase

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def archive(pg_test_database: TestDatabase) -> ServerDatabase:
    return pg_test_database.archive()


def test_both_backends_know_the_same_migrations_in_the_same_order() -> None:
    assert pgschema.NAMES == schema.NAMES


def test_the_store_sql_becomes_psycopg_placeholders_outside_literals_and_casts() -> None:
    assert psycopg_sql("SELECT :a, 'x:y %', b::text FROM t WHERE c LIKE '{%' AND d = :d_2") == (
        "SELECT %(a)s, 'x:y %%', b::text FROM t WHERE c LIKE '{%%' AND d = %(d_2)s")


def wait_until(check, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll `check` until true (an event in another process), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_processes_migrating_at_once_apply_each_step_once(archive: ServerDatabase) -> None:
    opener = textwrap.dedent("""
        import sys
        from monitor.store import Store
        from monitor.types import ServerDatabase
        with Store(ServerDatabase(sys.argv[1])) as s:
            print(",".join(s.migrated))
    """)
    schema_name = archive.url.rsplit("%3D", 1)[1]
    with psycopg.connect(archive.url, autocommit=True) as holder:
        # Hold the migration lock so both processes find the steps pending and then wait for it together.
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (pgschema.LOCK_CLASS, pgschema.MIGRATE_LOCK))
        procs = [subprocess.Popen([sys.executable, "-c", opener, archive.url], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]

        def both_waiting() -> bool:
            row = holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                 " AND classid = %s AND objid = %s",
                                 (pgschema.LOCK_CLASS, pgschema.MIGRATE_LOCK)).fetchone()
            return row is not None and row[0] == 2

        wait_until(both_waiting, "both processes to wait for the migration lock")
        holder.execute("SELECT pg_advisory_unlock(%s, %s)", (pgschema.LOCK_CLASS, pgschema.MIGRATE_LOCK))
        outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    applied = sorted(out.strip() for out, _ in outs)
    assert applied == ["", ",".join(schema.NAMES)]  # one applied every step, the other found none pending
    with psycopg.connect(archive.url) as conn:
        rows = conn.execute(f'SELECT name FROM "{schema_name}".pm_migrations ORDER BY seq').fetchall()
    assert [r[0] for r in rows] == schema.NAMES


def test_readers_refuse_an_empty_database_and_a_newer_one(archive: ServerDatabase) -> None:
    with pytest.raises(StoreError, match="no archive here yet"):
        Store(archive, readonly=True)
    with Store(archive) as s:
        assert s.migrated == schema.NAMES
        s.run("INSERT INTO pm_migrations (name) VALUES ('from_the_future')")
    for readonly in (False, True):
        with pytest.raises(StoreError, match="migration 'from_the_future', newer than this press-monitor"):
            Store(archive, readonly=readonly)


def test_a_reader_cannot_write(archive: ServerDatabase) -> None:
    Store(archive).close()
    with Store(archive, readonly=True) as reader, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        reader.set_meta("k", "v")
    with Store(archive) as writer:  # the pooled connection the reader gave back writes again
        writer.set_meta("k", "v")
        assert writer.meta("k") == "v"


def test_a_server_that_does_not_answer_is_a_clear_store_error() -> None:
    # Port 1 on loopback: nothing listens there, so libpq is refused at once.
    said = r"postgresql://pm:\*\*\*@127.0.0.1:1/pm\?connect_timeout=2: the database is unavailable \(.*refused"
    with pytest.raises(StoreError, match=said):
        Store(ServerDatabase("postgresql://pm:secret@127.0.0.1:1/pm?connect_timeout=2"))


def test_one_writer_at_a_time(archive: ServerDatabase) -> None:
    with Store(archive) as a, Store(archive) as b:
        with a.transaction():
            a.set_meta("k", "a")
            # b's write transaction would wait for a's COMMIT: ask the server without waiting.
            got = b.scalar("SELECT pg_try_advisory_xact_lock(:c, :k)",
                           {"c": pgschema.LOCK_CLASS, "k": pgschema.WRITE_LOCK})
            assert got is False
        assert b.meta("k") == "a"


def test_an_outage_is_one_warning_and_its_aftermath_is_not_a_new_one() -> None:
    """psycopg_pool's warnings through pg._OutageLog: the first of an outage passes, the rest until a new
    connection is made are dropped; a connection of before the outage found broken after it (a thread
    held it through the restart) is the same outage; a connection made since that breaks is a new one."""
    outage = pg._OutageLog()

    class Conn:  # stands for a pooled psycopg connection (hashable, weakly referenced)
        pass

    def passes(msg: str, *args: object) -> bool:
        return outage.filter(logging.LogRecord("psycopg.pool", logging.WARNING, __file__, 1, msg, args, None))

    old, new = Conn(), Conn()
    outage.back(old)  # the pool's first connection: no outage to end
    assert passes("error connecting in %r: %s", "press-monitor", "refused")
    assert not passes("reconnection attempt in pool %r failed after %s sec", "press-monitor", 1.0)
    assert not passes("discarding broken connection: %s", old)
    outage.back(new)  # the server answers again
    assert not passes("discarding closed connection: %s", old)  # held through the restart: same outage
    assert passes("something else %s", old)
    assert passes("discarding closed connection: %s", new)  # made after it: a new outage, said once
    assert not passes("error connecting in %r: %s", "press-monitor", "refused")
