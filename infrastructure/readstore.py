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

__all__ = ["COPY_FROM_ROWS", "PostgresReadStore", "SqliteReadStore", "text_array"]


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


def text_array(values: Sequence[object]) -> str:
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


def _array_param(kind: str, values: Sequence[object]) -> object:
    """One column's values as the parameter of ``%s::{kind}[]``: an array literal built here
    for text and integers (psycopg's list dumper costs ~15 us per array, more than the rest of
    the statement), else the list for psycopg to dump."""
    if kind in _INTEGER_TYPES:
        return _integer_array(values)
    if kind == "text":
        return text_array(values)
    return list(values)


def _arrays(kinds: Sequence[str], rows: Sequence[Sequence[object]]) -> list[object]:
    columns = zip(*rows, strict=True)
    return [_array_param(kind, values) for kind, values in zip(kinds, columns, strict=True)]


def _source(columns: Sequence[tuple[str, str]]) -> str:
    """``unnest(…) AS src (names)`` over one array parameter per (name, type)."""
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    return f"unnest({arrays}) AS src ({', '.join(name for name, _ in columns)})"


class _PgTx:
    """Statements whose result nobody reads (``send``, ``executemany``, ``merge_rows``, a few
    rows of ``insert_rows``) go in pipeline mode: sent at once, their results read at the next
    statement that returns something, or before the commit — one round trip for a page of
    many small statements instead of one each. An error among them is raised there, and the
    transaction rolls back as for any error."""

    def __init__(
        self,
        conn: Connection[Any],
        types: dict[str, dict[str, str]],
        texts: dict[object, tuple[str, tuple[str, ...]]],
    ) -> None:
        self._conn = conn
        self._types = types
        self._texts = texts  # per Merge, SetStatement, insert: the SQL and its columns' types
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
            key = (table, tuple(columns))
            text = self._texts.get(key)
            if text is None:
                typed = self._typed(table, columns)
                names = ", ".join(columns)
                sql = f"INSERT INTO {table} ({names}) SELECT * FROM {_source(typed)}"
                text = self._texts[key] = (sql, tuple(kind for _, kind in typed))
            self.send(text[0], _arrays(text[1], rows))
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
        text = self._texts.get(merge)
        if text is None:
            typed = self._typed(merge.table, merge.columns)
            if merge.insert:
                sql = (
                    f"INSERT INTO {merge.table} ({', '.join(merge.columns)})"
                    f" SELECT * FROM {_source(typed)} ON CONFLICT ({', '.join(merge.key)})"
                    f" DO UPDATE SET {merge.assignments('excluded')}"
                )
            else:
                match = " AND ".join(f"{merge.table}.{c} = src.{c}" for c in merge.key)
                sql = (
                    f"UPDATE {merge.table} SET {merge.assignments('src')}"
                    f" FROM {_source(typed)} WHERE {match}"
                )
            text = self._texts[merge] = (sql, tuple(kind for _, kind in typed))
        self.send(text[0], _arrays(text[1], rows))

    def execute_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> None:
        """One row: its own (prepared) statement; more: the set form over column arrays."""
        if len(rows) == 1:
            self.send(statement.one, rows[0])
            return
        sql, kinds = self._set_text(statement)
        self.send(sql, _arrays(kinds, rows))

    def update_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> int:
        if len(rows) == 1:
            return self.execute(statement.one, rows[0])
        sql, kinds = self._set_text(statement)
        return self.execute(sql, _arrays(kinds, rows))

    def _set_text(self, statement: SetStatement) -> tuple[str, tuple[str, ...]]:
        text = self._texts.get(statement)
        if text is None:
            sql = statement.many.replace("{src}", _source(statement.columns))
            text = self._texts[statement] = (sql, tuple(kind for _, kind in statement.columns))
        return text

    def _typed(self, table: str, columns: Sequence[str]) -> list[tuple[str, str]]:
        types = self._column_types(table)
        return [(column, types[column]) for column in columns]

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
        self._texts: dict[object, tuple[str, tuple[str, ...]]] = {}  # see _PgTx

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._pool.connection() as conn, conn.transaction():
            tx = _PgTx(conn, self._types, self._texts)
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

    def update_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> int:
        return sum(self.execute(statement.one, row) for row in rows)

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
