"""What a projection needs from a read-model database: transactions of parameterised SQL.

SQL in projections uses ``%s`` placeholders and the subset both Postgres and SQLite speak
(``INSERT … ON CONFLICT … DO UPDATE``, ``excluded.col``, integer and text columns). Timestamps
are stored as ISO-8601 text (UTC), which sorts correctly in both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["ReadStore", "ReadTx", "Row"]

Row = tuple[Any, ...]


class ReadTx(Protocol):
    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...

    def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


class ReadStore(Protocol):
    dialect: str  # "postgres" or "sqlite"

    def transaction(self) -> AbstractContextManager[ReadTx]:
        """All statements inside commit together, or none does."""

    def close(self) -> None: ...


def iter_pages(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
