"""Reading the raw notification log: pages in order, decoded by the ledger's own mapper.

The next page is fetched in a background thread while the caller works on the current one, so
a long audit waits on the database and on Python in parallel rather than in turn. ``rows`` reads
the same notifications as plain tuples (on Postgres straight from the events table through a
binary cursor): ``prizeledger verify`` spends no time building objects it does not need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Notification,
    OperationalError,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

__all__ = ["HIDDEN", "PAGE", "ROW_PAGE", "Row", "pages", "plain", "qualname_of", "redacted", "rows"]

PAGE = 2_000
ROW_PAGE = 10_000
# A notification as (id, originator id as text, originator version, topic, stored state).
Row = tuple[int, str, int, str, bytes]
_T = TypeVar("_T")
HIDDEN = "<secret>"
# Attribute names whose values are never printed or exported: a pool's current server seed
# (revealed only by the next EpochRotated's ``revealed_seed``), password and token hashes, TOTP
# secrets.
_SECRET_WORDS = ("server_seed", "password", "secret", "token")


def pages(
    recorder: ApplicationRecorder,
    start: int = 1,
    stop: int | None = None,
    size: int = PAGE,
    topics: Sequence[str] = (),
) -> Iterator[Sequence[Notification]]:
    """Notifications from ``start`` to ``stop`` (inclusive; None: as far as the log goes)."""

    def fetch(first: int) -> Sequence[Notification]:
        return recorder.select_notifications(
            start=first, limit=size, stop=stop, topics=list(topics)
        )

    return _prefetched(fetch, start, size, lambda n: n.id)


def rows(
    recorder: ApplicationRecorder, start: int = 1, stop: int | None = None, size: int = ROW_PAGE
) -> Iterator[Sequence[Row]]:
    """The notifications of ``pages`` as ``Row`` tuples, in order. On Postgres they are selected
    directly (the same rows, order and bounds as ``select_notifications``); on any other
    recorder they are converted from its notifications."""
    if isinstance(recorder, PostgresApplicationRecorder):
        fetch = _postgres_rows(recorder, stop, size)
    else:

        def fetch(first: int) -> Sequence[Row]:
            return [
                (n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
                for n in recorder.select_notifications(start=first, limit=size, stop=stop)
            ]

    return _prefetched(fetch, start, size, lambda row: row[0])


def _postgres_rows(
    recorder: PostgresApplicationRecorder, stop: int | None, size: int
) -> Callable[[int], Sequence[Row]]:
    datastore = recorder.datastore
    table = SQL("{}.{}").format(
        Identifier(datastore.schema), Identifier(recorder.events_table_name)
    )
    bound = SQL(" AND notification_id <= %(stop)s") if stop is not None else SQL("")
    statement = SQL(
        "SELECT notification_id, originator_id::text, originator_version, topic, state"
        " FROM {table} WHERE notification_id >= %(first)s{bound}"
        " ORDER BY notification_id LIMIT %(size)s"
    ).format(table=table, bound=bound)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def fetch(first: int) -> Sequence[Row]:
        params = {"first": first, "stop": stop, "size": size}
        with (
            datastore.get_connection() as conn,
            conn.cursor(binary=True, row_factory=tuple_row) as cursor,
        ):
            cursor.execute(statement, params, prepare=True)
            return cast(list[Row], cursor.fetchall())

    return cast(Callable[[int], Sequence[Row]], fetch)


def _prefetched(
    fetch: Callable[[int], Sequence[_T]], start: int, size: int, id_of: Callable[[_T], int]
) -> Iterator[Sequence[_T]]:
    """Pages of ``fetch(first)``, the next one fetched while the caller works on this one."""
    with ThreadPoolExecutor(1, thread_name_prefix="prizeledger-log") as prefetch:
        future = prefetch.submit(fetch, start)
        while True:
            page = future.result()
            if not page:
                return
            more = len(page) == size
            if more:
                future = prefetch.submit(fetch, id_of(page[-1]) + 1)
            yield page
            if not more:
                return


def qualname_of(topic: str) -> str:
    """``domain.wallet:Wallet.DepositCredited`` -> ``Wallet.DepositCredited``."""
    return topic.rpartition(":")[2]


def _is_secret(key: str) -> bool:
    return any(word in key for word in _SECRET_WORDS)


def redacted(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes with secrets replaced (see ``_SECRET_WORDS``), recursively."""
    return {k: HIDDEN if _is_secret(k) else _redact_value(v) for k, v in attributes.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return redacted({str(k): v for k, v in value.items()})
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO-8601, UUIDs as strings, dict keys as strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value
