"""Read-model stores: Postgres (production) and SQLite (embedded), behind projections.ReadStore."""
# ruff: noqa: S608 - bulk writes name tables and columns from projection code, never from input.

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from projections.store import Merge, Row, SetStatement, insert_sql

__all__ = ["COPY_FROM_ROWS", "PostgresReadStore", "SqliteReadStore"]


# Fewer rows than this go as one pipelined ``INSERT … SELECT FROM unnest(arrays)`` instead of a
# ``COPY``: a COPY cannot run in pipeline mode, and leaving it costs a round trip.
COPY_FROM_ROWS = 64


_INTEGER_TYPES = frozenset({"bigint", "integer", "smallint"})


def _integer_array(values: Sequence[object]) -> str:
    """A Postgres array literal of integers (None is NULL)."""
    parts = []
    for value in values:
        if type(value) is int:
            parts.append(str(value))
        elif value is None:
            parts.append("NULL")
        else:
            raise TypeError(f"not an integer for an integer column: {value!r}")
    return "{" + ",".join(parts) + "}"


def _text_array(values: Sequence[object]) -> str:
    """A Postgres array literal of strings, each quoted (None is NULL)."""
    parts = []
    for value in values:
        if type(value) is str:
            if "\\" in value or '"' in value:
                parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
            else:
                parts.append(f'"{value}"')
        elif type(value) is int:  # as Postgres would cast it
            parts.append(str(value))
        elif value is None:
            parts.append("NULL")
        else:
            raise TypeError(f"not a string for a text column: {value!r}")
    return "{" + ",".join(parts) + "}"


def _array_literal(kind: str, values: Sequence[object]) -> str:
    if kind in _INTEGER_TYPES:
        return _integer_array(values)
    if kind == "text":
        return _text_array(values)
    raise TypeError(f"no array literal for {kind}")


class _PgTx:
    """Statements whose result nobody reads (``send``, ``executemany``, ``merge_rows``, a few
    rows of ``insert_rows``) go in pipeline mode: sent at once, their results read at the next
    statement that returns something, or before the commit — one round trip for a page of
    many small statements instead of one each. An error among them is raised there, and the
    transaction rolls back as for any error."""

    def __init__(self, conn: Connection[Any], types: dict[str, dict[str, str]]) -> None:
        self._conn = conn
        self._types = types
        self._pipeline: ExitStack | None = None

    def _pipelined(self) -> None:
        if self._pipeline is None:
            stack = ExitStack()
            stack.enter_context(self._conn.pipeline())
            self._pipeline = stack

    def settle(self) -> None:
        """Leave pipeline mode: wait for every statement sent (raising the first error)."""
        if self._pipeline is not None:
            stack, self._pipeline = self._pipeline, None
            stack.close()

    def abandon(self, error: BaseException) -> None:
        """Leave pipeline mode after ``error``, which stays the one raised (a rollback
        follows; psycopg logs any error of the pipeline itself)."""
        if self._pipeline is not None:
            stack, self._pipeline = self._pipeline, None
            stack.__exit__(type(error), error, error.__traceback__)

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        self.settle()
        return self._conn.execute(sql, params).rowcount

    def send(self, sql: str, params: Sequence[object] = ()) -> None:
        self._pipelined()
        self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._pipelined()
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        """Many rows: one ``COPY`` (several times less client CPU per row than
        ``executemany``); a few: one pipelined statement over a column array per column."""
        if len(rows) < COPY_FROM_ROWS:
            source, arrays = self._unnest(table, columns, rows)
            self._pipelined()
            self._conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM {source}", arrays
            )
            return
        self.settle()
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def merge_rows(self, merge: Merge, rows: Sequence[Sequence[object]]) -> None:
        """One statement over a column array per parameter (``unnest``)."""
        if not rows:
            return
        columns = merge.columns
        source, arrays = self._unnest(merge.table, columns, rows)
        if merge.insert:
            statement = (
                f"INSERT INTO {merge.table} ({', '.join(columns)}) SELECT * FROM {source}"
                f" ON CONFLICT ({', '.join(merge.key)}) DO UPDATE"
                f" SET {merge.assignments('excluded')}"
            )
        else:
            match = " AND ".join(f"{merge.table}.{c} = src.{c}" for c in merge.key)
            statement = (
                f"UPDATE {merge.table} SET {merge.assignments('src')} FROM {source} WHERE {match}"
            )
        self._pipelined()
        self._conn.execute(statement, arrays)

    def execute_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> None:
        """One row: its own (prepared) statement; more: the set form over column arrays."""
        if len(rows) == 1:
            self.send(statement.one, rows[0])
            return
        names = ", ".join(name for name, _ in statement.columns)
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in statement.columns)
        params = [
            _array_literal(kind, values)
            for (_, kind), values in zip(statement.columns, zip(*rows, strict=True), strict=True)
        ]
        source = f"unnest({arrays}) AS src ({names})"
        self.send(statement.many.replace("{src}", source), params)

    def _unnest(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> tuple[str, list[object]]:
        """``unnest(…) AS src (columns)`` over one array parameter per column, cast to the
        array of its column's type, and those parameters. Text and integer columns go as
        array literals (``{1,NULL}``, ``{"a\\"b"}``) built here: psycopg's list dumper costs
        ~15 us per array, more than the statement's other work; any other type as a list."""
        types = self._column_types(table)
        params: list[object] = []
        for column, values in zip(columns, zip(*rows, strict=True), strict=True):
            kind = types[column]
            if kind in _INTEGER_TYPES:
                params.append(_integer_array(values))
            elif kind == "text":
                params.append(_text_array(values))
            else:
                params.append(list(values))
        arrays = ", ".join(f"%s::{types[c]}[]" for c in columns)
        return f"unnest({arrays}) AS src ({', '.join(columns)})", params

    def _column_types(self, table: str) -> dict[str, str]:
        types = self._types.get(table)
        if types is None:
            rows = self._conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            ).fetchall()
            types = self._types[table] = {str(name): str(kind) for name, kind in rows}
        return types

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        self.settle()
        row = self._conn.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        self.settle()
        return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]


class PostgresReadStore:
    dialect = "postgres"

    def __init__(self, conninfo: str, schema: str = "public", size: int = 4) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            open=True,
            timeout=10,
            kwargs={"options": f"-c search_path={schema}", "connect_timeout": 5},
        )
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> type, for merge_rows

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._pool.connection() as conn, conn.transaction():
            tx = _PgTx(conn, self._types)
            try:
                yield tx
            except BaseException as error:
                tx.abandon(error)
                raise
            tx.settle()  # before the commit

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        with self._pool.connection() as conn:
            conn.autocommit = True  # no BEGIN and COMMIT round trips around the one query
            try:
                row = conn.execute(sql, params).fetchone()
            finally:
                if not conn.closed:
                    conn.autocommit = False
        return tuple(row) if row is not None else None

    def close(self) -> None:
        self._pool.close()


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%s", "?")

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(self._sql(sql), params).rowcount

    def send(self, sql: str, params: Sequence[object] = ()) -> None:
        self._conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._conn.executemany(self._sql(sql), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        self.executemany(insert_sql(table, columns), rows)

    def merge_rows(self, merge: Merge, rows: Sequence[Sequence[object]]) -> None:
        self.executemany(merge.row_sql(), rows)

    def execute_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> None:
        self.executemany(statement.one, rows)

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row = self._conn.execute(self._sql(sql), params).fetchone()
        return tuple(row) if row is not None else None

    def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(self._sql(sql), params).fetchall()]


class SqliteReadStore:
    """One connection shared by the process's threads, serialised by a lock; WAL so that
    readers in other processes are not blocked by the projector."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[_SqliteTx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        with self.transaction() as tx:
            return tx.fetchone(sql, params)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
