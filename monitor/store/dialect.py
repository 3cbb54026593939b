"""The few places where SQLite's and PostgreSQL's SQL differ, as small hooks the shared statements call.

Every statement in monitor/store is written once, in the SQL both engines speak (named `:name`
parameters, which the PostgreSQL driver turns into psycopg's `%(name)s`); where the two truly
differ, the statement asks its connection's `dialect` for the fragment. Whole statements that
differ (the schema, search) live with their backend: schema.py / pgschema.py, review.py / pgsearch.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" | "postgresql"

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def ignore(self, insert: str) -> str:
        """`INSERT INTO …` that silently skips a row a unique index already holds."""
        if self.postgres:
            return f"{insert} ON CONFLICT DO NOTHING"
        return insert.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)

    def newline(self) -> str:
        """A newline character (lists of names are newline-joined in one column)."""
        return "chr(10)" if self.postgres else "char(10)"

    def join(self, expr: str, sep: str, order: str) -> str:
        """The aggregate joining `expr` over a group with `sep`, by `order` (SQLite: the order rows come in)."""
        return f"string_agg({expr}, {sep} ORDER BY {order})" if self.postgres else f"group_concat({expr}, {sep})"

    def contains(self, haystack: str, needle: str) -> str:
        """True where the text `needle` occurs in `haystack` (no pattern characters)."""
        return f"strpos({haystack}, {needle}) > 0" if self.postgres else f"instr({haystack}, {needle}) > 0"

    def before(self, expr: str, sep: str) -> str:
        """The part of `expr` before the first `sep` (a lease's kind: "feed" of "feed:NAME")."""
        if self.postgres:
            return f"split_part({expr}, {sep}, 1)"
        return f"substr({expr}, 1, instr({expr}, {sep}) - 1)"

    def at_least_zero(self, expr: str) -> str:
        return f"greatest(0, {expr})" if self.postgres else f"max(0, {expr})"

    def json_ids(self, param: str) -> str:
        """A subquery of the ids in a JSON array parameter (one parameter, however many ids)."""
        if self.postgres:
            return f"SELECT value::bigint FROM json_array_elements_text(CAST(:{param} AS json))"
        return f"SELECT value FROM json_each(:{param})"

    def new_ids(self, table: str) -> str:
        """A query of `:n` fresh ids for `table` (column `id`), for a batch inserted with its ids spelled out.

        Only under the write lock: on SQLite they are what the inserts would have been given
        (max(id) + 1 …, as a rowid table without AUTOINCREMENT does); on PostgreSQL they come from
        the identity's sequence, so any later insert without an id gets a fresh one too.
        """
        if self.postgres:
            return f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, :n)"
        return (f"WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < :n)"
                f" SELECT (SELECT coalesce(max(id), 0) FROM {table}) + i AS id FROM k")

    def search_column(self) -> str | None:
        """The column of `releases` a writer fills with the search vector itself, or None (SQLite: FTS5's
        triggers index the row). PostgreSQL cannot fold text (fold.py is Python), so the store writes
        pgsearch.tsvector() of the row's FTS_COLUMNS beside them."""
        return "fts" if self.postgres else None

    def json_object_values(self, expr: str) -> str:
        """A subquery of the values of the JSON object `expr` (text)."""
        if self.postgres:
            return f"SELECT value FROM json_each_text(CAST({expr} AS json))"
        return f"SELECT value FROM json_each({expr})"


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")
