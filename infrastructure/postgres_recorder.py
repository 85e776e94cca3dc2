"""The Postgres application recorder, inserting a batch with binary COPY.

The library inserts a batch as ``unnest`` of a composite array, which costs the server several
times what COPY does for the same rows (measured here: 500 events, ~25 ms vs ~7 ms) — the
largest single cost of a group-commit save. This recorder keeps everything else of the
library's protocol: the EXCLUSIVE table lock that makes notification ids follow commit order,
the NOTIFY for subscribers, and the notification ids it returns. Because the lock is held until
commit, the ids of one COPY are contiguous and end at the sequence's ``currval``. The statements
before the COPY go in one round trip, ``currval`` and COMMIT in another.

The recorder also narrows the pool's pre-ping (``POSTGRES_PRE_PING``) to connections that have
been out of use for a while (``IdleCheck``): the ping is a round trip of its own before every
save, a quarter of the draw desk's time on a hot pool, and a connection that was used a moment
ago is not worth it — one that broke since fails its statement, the library's retry takes
another connection and the pool drops the broken one.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from time import monotonic
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import ConnectionPool, PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Identifier, Literal

__all__ = ["IDLE_BEFORE_PING_S", "CopyPostgresApplicationRecorder", "IdleCheck"]

log = logging.getLogger(__name__)

# A connection handed out again within this many seconds of its last hand-out is not pinged.
IDLE_BEFORE_PING_S = 1.0


class IdleCheck:
    """The pool's connection check (``check=`` of psycopg_pool): the library's ping
    (``ConnectionPool.check_connection``), only for a connection handed out for the first time or
    last handed out at least ``idle_s`` ago. A failed ping raises and the pool tries another."""

    def __init__(self, idle_s: float = IDLE_BEFORE_PING_S) -> None:
        self.idle_s = idle_s
        self.pings = 0
        self._handed_out: WeakKeyDictionary[Connection[Any], float] = WeakKeyDictionary()

    def __call__(self, conn: Connection[Any]) -> None:
        now = monotonic()
        last = self._handed_out.get(conn)
        if last is None or now - last >= self.idle_s:
            self.pings += 1
            ConnectionPool.check_connection(conn)
        self._handed_out[conn] = now


class CopyPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.pre_ping:
            # psycopg_pool takes its check only when built; the datastore builds it (pinned
            # versions; tests/integration/test_idle_check.py fails if the attribute moves).
            datastore.pool._check = IdleCheck()
        table = SQL("{schema}.{table}").format(
            schema=Identifier(datastore.schema), table=Identifier(events_table_name)
        )
        self.copy_statement = SQL(
            "COPY {table} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(table=table)
        qualified = f"{datastore.schema}.{events_table_name}"
        # One round trip each before and after the COPY (the library's path takes seven): every
        # round trip releases the GIL and waits to take it back behind the draw callers.
        self.begin_statement = SQL("; ").join(
            [
                SQL("BEGIN"),
                *self.lock_table_statements,
                SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
            ]
        )
        self.commit_statement = SQL(
            "SELECT currval(pg_get_serial_sequence({name}, 'notification_id')) AS last_id; COMMIT"
        ).format(name=Literal(qualified))
        self._rendered: tuple[bytes, bytes, bytes] | None = None

    def _render(self, conn: Connection[Any]) -> tuple[bytes, bytes, bytes]:
        """The three statements as bytes, composed once (composing them cost every save)."""
        self._rendered = (
            self.begin_statement.as_bytes(conn),
            self.copy_statement.as_bytes(conn),
            self.commit_statement.as_bytes(conn),
        )
        return self._rendered

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        if any(v is not None for v in kwargs.values()):  # tracking: the library's own path
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            # The pool's connections are in autocommit mode: BEGIN and COMMIT are sent with the
            # statements around them, and any failure rolls back before the connection returns.
            begin, copy_rows, commit = self._rendered or self._render(conn)
            try:
                curs.execute(begin)
                with curs.copy(copy_rows) as copy:
                    copy.write(_binary_copy(stored_events))
                curs.execute(commit)
            except BaseException:
                _roll_back(conn)
                raise
            row = curs.fetchone()
            assert row is not None
            last = int(row["last_id"])
        return list(range(last - len(stored_events) + 1, last + 1))


# PostgreSQL's binary COPY format: a signature, flags and header extension length; per row the
# field count and each field as length + bytes (uuid: 16 bytes, int8: big-endian); a -1 trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_ROW_START = struct.Struct(">hi16siqi")  # 4 fields; uuid; int8; the topic's length


def _binary_copy(stored_events: Sequence[StoredEvent]) -> bytes:
    """The whole COPY stream at once: what psycopg's write_row produces for
    (uuid, int8, text, bytea) rows, at a fraction of its per-row cost."""
    parts = [_COPY_HEADER]
    for e in stored_events:
        originator_id = e.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(originator_id)
        topic = e.topic.encode()
        state = bytes(e.state)
        parts.append(
            _ROW_START.pack(4, 16, originator_id.bytes, 8, e.originator_version, len(topic))
        )
        parts.append(topic)
        parts.append(len(state).to_bytes(4, "big"))
        parts.append(state)
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


def _roll_back(conn: Connection[Any]) -> None:
    """End a failed attempt's transaction; a broken connection is left to the pool to drop."""
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        log.warning("could not roll back a failed event insert", exc_info=True)
