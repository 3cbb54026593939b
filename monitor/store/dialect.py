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

    def json_object_values(self, expr: str) -> str:
        """A subquery of the values of the JSON object `expr` (text)."""
        if self.postgres:
            return f"SELECT value FROM json_each_text(CAST({expr} AS json))"
        return f"SELECT value FROM json_each({expr})"


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")
