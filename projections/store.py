"""What a projection needs from a read-model database: transactions of parameterised SQL.

SQL in projections uses ``%s`` placeholders and the subset both Postgres and SQLite speak
(``INSERT … ON CONFLICT … DO UPDATE``, ``excluded.col``, integer and text columns). Timestamps
are stored as ISO-8601 text (UTC), which sorts correctly in both.

Bulk writes (``insert_rows``, ``merge_rows``) name a table and its columns instead of SQL, so
that each store can write many rows its fastest way: Postgres with one ``COPY`` or one
statement over arrays, SQLite with one prepared statement per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Merge", "ReadStore", "ReadTx", "Row", "SetStatement"]

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Merge:
    """A commutative change of rows found by ``key``: the ``sums`` columns are added to, the
    ``last`` columns overwritten. With ``insert`` a missing row is inserted with the given
    values (an upsert), else it is left alone (as an ``UPDATE`` that matches nothing).

    Rows are given as (*sums, *last, *key); one batch holds each key at most once. A Merge is
    made once per projection and compared by identity (hashing its fields on every merged
    change cost more than the merge itself)."""

    table: str
    key: tuple[str, ...]
    sums: tuple[str, ...]
    last: tuple[str, ...] = ()
    insert: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.sums, *self.last, *self.key)

    def assignments(self, new: str) -> str:
        """The SET list, reading the new values from the row alias ``new``."""
        sets = [f"{c} = {self.table}.{c} + {new}.{c}" for c in self.sums]
        sets += [f"{c} = {new}.{c}" for c in self.last]
        return ", ".join(sets)

    def row_sql(self) -> str:
        """The statement for one row, with ``%s`` placeholders (both dialects)."""
        if self.insert:
            return (
                f"{insert_sql(self.table, self.columns)} ON CONFLICT ({', '.join(self.key)})"
                f" DO UPDATE SET {self.assignments('excluded')}"
            )
        sets = [f"{c} = {c} + %s" for c in self.sums] + [f"{c} = %s" for c in self.last]
        where = " AND ".join(f"{c} = %s" for c in self.key)
        return f"UPDATE {self.table} SET {', '.join(sets)} WHERE {where}"


@dataclass(frozen=True, slots=True, eq=False)
class SetStatement:
    """A statement for one row of parameters (``one``, ``%s`` placeholders) that also has a
    form for many rows at once (``many``: the rows come from the relation ``{src}``, whose
    ``columns`` are (name, SQL type), in the order of ``one``'s parameters). It is only given
    rows that write different rows of the database (see ``Writes.add_for``), so the set form
    does what the row form would do row after row. Compared by identity, as Merge."""

    one: str
    many: str
    columns: tuple[tuple[str, str], ...]


def insert_sql(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


class ReadTx(Protocol):
    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""

    def send(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run one statement whose result is not needed: a store may send it with others
        and wait for them all later (its error is raised by then, before the commit)."""

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        """Insert every row (values in the order of ``columns``)."""

    def merge_rows(self, merge: Merge, rows: Sequence[Sequence[object]]) -> None:
        """Apply ``merge`` to every row (values as (*sums, *last, *key), each key once)."""

    def execute_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> None:
        """Run ``statement`` for every row: in one statement where the store can."""

    def update_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> int:
        """As ``execute_set``, at once: returns how many rows of the database it changed."""

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...

    def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


class ReadStore(Protocol):
    dialect: str  # "postgres" or "sqlite"

    def transaction(self) -> AbstractContextManager[ReadTx]:
        """All statements inside commit together, or none does."""

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        """One query on its own, outside any transaction (one round trip on Postgres, where a
        transaction around it would add a BEGIN and a COMMIT): one statement sees one
        snapshot either way."""

    def close(self) -> None: ...


def iter_pages(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
