"""Read-model stores: Postgres (production) and SQLite (embedded), behind projections.ReadStore."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from projections.store import Row

__all__ = ["PostgresReadStore", "SqliteReadStore"]


class _PgTx:
    def __init__(self, conn: Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

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

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

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

    def close(self) -> None:
        with self._lock:
            self._conn.close()
