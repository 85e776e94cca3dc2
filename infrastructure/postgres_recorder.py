"""The Postgres application recorder, inserting a batch with binary COPY.

The library inserts a batch as ``unnest`` of a composite array, which costs the server several
times what COPY does for the same rows (measured here: 500 events, ~25 ms vs ~7 ms) — the
largest single cost of a group-commit save. This recorder keeps everything else of the
library's protocol: the EXCLUSIVE table lock that makes notification ids follow commit order,
the NOTIFY for subscribers, and the notification ids it returns. Because the lock is held until
commit, the ids of one COPY are contiguous and end at the sequence's ``currval``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

__all__ = ["CopyPostgresApplicationRecorder"]


class CopyPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = SQL("{schema}.{table}").format(
            schema=Identifier(datastore.schema), table=Identifier(events_table_name)
        )
        self.copy_statement = SQL(
            "COPY {table} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(table=table)
        qualified = f"{datastore.schema}.{events_table_name}"
        self.last_id_statement = SQL(
            "SELECT currval(pg_get_serial_sequence({name}, 'notification_id')) AS last_id"
        ).format(name=Literal(qualified))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        if any(v is not None for v in kwargs.values()):  # tracking: the library's own path
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            with curs.copy(self.copy_statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for e in stored_events:
                    copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))
            curs.execute(self.last_id_statement)
            row = curs.fetchone()
            assert row is not None
            last = int(row["last_id"])
        return list(range(last - len(stored_events) + 1, last + 1))
