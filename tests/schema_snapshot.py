"""The archive's schema after every migration, as SQLite writes it: monitor/store/schema.sql.

    python -m tests.schema_snapshot          rewrite monitor/store/schema.sql from a fresh archive

The migrations in monitor/store/schema.py are the truth; schema.sql is their sum, for reading.
tests/test_store_upgrade.py fails when the two disagree and prints the command above.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from monitor.store import Store

SNAPSHOT = Path(__file__).resolve().parent.parent / "monitor" / "store" / "schema.sql"
COMMAND = ".venv/bin/python -m tests.schema_snapshot"


def dump() -> str:
    """Return the schema of a freshly migrated archive: every table, index, view and trigger, by name."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fresh.db"
        with Store(path):
            pass  # opening for writing applies every migration
        conn = sqlite3.connect(path)
        try:
            # FTS5's shadow tables (releases_fts_data, ...) follow from the virtual table: left out.
            shadow = {r[0] for r in conn.execute("SELECT name FROM pragma_table_list WHERE type = 'shadow'")}
            rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                                " AND name NOT LIKE 'sqlite_%' ORDER BY type = 'trigger', type = 'index', name")
            statements = [f"{sql.strip()};" for _, name, sql in rows if name not in shadow]
            migrations = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        finally:
            conn.close()
    head = ("-- The press-monitor archive's schema after every migration (monitor/store/schema.py), as SQLite\n"
            f"-- records it. Generated: do not edit; regenerate with `{COMMAND}`.\n"
            f"-- Migrations: {', '.join(migrations)}\n")
    return head + "\n" + "\n\n".join(statements) + "\n"


def main() -> int:
    SNAPSHOT.write_text(dump())
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
