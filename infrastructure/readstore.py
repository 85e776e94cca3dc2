"""Read-model stores: Postgres (production) and SQLite (embedded), behind projections.ReadStore."""
# ruff: noqa: S608 - bulk writes name tables and columns from projection code, never from input.

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from projections.store import Merge, Row, insert_sql

__all__ = ["PostgresReadStore", "SqliteReadStore"]


class _PgTx:
    def __init__(self, conn: Connection[Any], types: dict[str, dict[str, str]]) -> None:
        self._conn = conn
        self._types = types

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        """One ``COPY`` (several times less client CPU per row than ``executemany``)."""
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def merge_rows(self, merge: Merge, rows: Sequence[Sequence[object]]) -> None:
        """One statement over a column array per parameter (``unnest``), sent in binary."""
        if not rows:
            return
        types = self._column_types(merge.table)
        columns = merge.columns
        arrays = ", ".join(f"%b::{types[c]}[]" for c in columns)
        source = f"unnest({arrays}) AS src ({', '.join(columns)})"
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
        self._conn.execute(statement, [list(values) for values in zip(*rows, strict=True)])

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
        row = self._conn.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
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
            yield _PgTx(conn, self._types)

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

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._conn.executemany(self._sql(sql), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        self.executemany(insert_sql(table, columns), rows)

    def merge_rows(self, merge: Merge, rows: Sequence[Sequence[object]]) -> None:
        self.executemany(merge.row_sql(), rows)

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
