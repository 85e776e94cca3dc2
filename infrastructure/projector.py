"""The projector: runs projections over the ledger's notification log, in batches.

* Catch-up: pages of up to ``batch_size`` notifications, each page applied to every projection
  in one read-store transaction together with their tracking positions (exactly once), its
  statements pipelined; the next page is read meanwhile. Only events a projection handles are
  decoded (in Postgres, even read).
* Live: when caught up it sleeps until Postgres NOTIFY says new events were recorded (the event
  store sends one per insert), or polls when embedded (SQLite has no notifications).
* Faults: an event a projection cannot handle (a poison event) stops that projection only, with
  the notification id and error in its status; the others keep running. A lost database
  connection is retried with backoff.
* Leadership: in Postgres each projection runs in one process at a time, holding an advisory
  lock; another instance waits as a standby and takes over when the lock is released.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing import persistence as es_persistence
from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import resolve_topic
from psycopg import sql
from psycopg.rows import tuple_row

from application.ledger import Ledger
from projections.base import (
    Batch,
    LedgerProjection,
    LedgerView,
    TrackingConflict,
    Writes,
    write_batches,
)
from projections.catalog import active_version

__all__ = ["Leases", "Projector", "ProjectionStatus", "Waker"]

# Store failures: retried by ``run``, never mistaken for a poison event.
_TRANSIENT = (psycopg.OperationalError, sqlite3.OperationalError, es_persistence.OperationalError)

log = logging.getLogger(__name__)
VERSION_CHECK_S = 2.0


class _Skipped:
    """Stands for an event no running projection handles (never decoded)."""


_SKIPPED = _Skipped()

# A page entry: notification id, topic, and the notification (None: its state was not read).
_Entry = tuple[int, str, Notification | None]


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    version: int
    position: int
    head: int
    lag: int
    state: str  # running | failed | standby
    last_error: str | None


class Waker:
    """Blocks until the event store signals new events (Postgres LISTEN) or a poll interval."""

    def __init__(self, conninfo: str | None, channel: str | None, poll_s: float) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._poll_s = poll_s
        self._conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> None:
        if self._conninfo is None or self._channel is None:
            time.sleep(min(timeout, self._poll_s))
            return
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
                self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                break
        except psycopg.Error:
            self.close()
            time.sleep(min(timeout, 1.0))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Leases:
    """Postgres advisory locks, one per named job (a projection, the live feed), held on one
    connection for the process."""

    def __init__(self, conninfo: str | None, scope: str) -> None:
        self._conninfo = conninfo
        self._scope = scope
        self._conn: psycopg.Connection[Any] | None = None
        self._held: set[str] = set()
        # An acquire failed for want of a connection (not because another holds the lease);
        # whoever cares resets it before trying.
        self.unreachable = False

    def _key(self, name: str) -> int:
        digest = hashlib.sha256(f"prizeledger:{self._scope}:{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def check(self) -> None:
        """Drop every lease if their connection died (the server released the locks then)."""
        if self._conn is None or not self._held:
            return
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            log.warning("lost the projection leases' connection; competing for them again")
            self.close()

    def acquire(self, name: str) -> bool:
        if self._conninfo is None or name in self._held:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
                self._held.clear()
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (self._key(name),)
            ).fetchone()
        except psycopg.Error as error:
            log.warning("cannot reach Postgres for the lease of %s: %s", name, error)
            self.close()
            self.unreachable = True
            return False
        if row and row[0]:
            self._held.add(name)
            return True
        return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # releases every lock it held
            self._conn = None
        self._held.clear()


class Projector:
    def __init__(
        self,
        ledger: Ledger,
        projections: Sequence[LedgerProjection],
        *,
        conninfo: str | None = None,
        lease_scope: str = "public",
        batch_size: int = 1_000,
        poll_s: float = 0.2,
    ) -> None:
        self._ledger = ledger
        self._projections = list(projections)
        self._batch_size = batch_size
        channel = getattr(ledger.recorder, "channel_name", None)
        self._waker = Waker(conninfo, channel, poll_s)
        self._leases = Leases(conninfo, lease_scope)
        self._positions: dict[str, int] = {}
        self._errors: dict[str, str] = {}
        self._failed: set[str] = set()
        self._standby: set[str] = set()
        self._lock = threading.Lock()
        self._versions_checked = time.monotonic()
        self._page_sql: sql.Composed | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, frozenset[str], Future[Sequence[_Entry]]] | None = None

    # ---- running -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the tables; a projection that failed before is tried again (the code may
        have been fixed since; if not, it stops at the same event and says so again)."""
        for projection in self._projections:
            projection.create()
            if projection.name not in self._failed:  # failed in this process: it stays failed
                projection.view.clear_failure()
            self._positions[projection.name] = projection.view.position()

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: catch up, then follow the log. Never raises."""
        delay = 0.1
        while not stop.is_set():
            try:
                if not self._positions:
                    self.prepare()
                processed = self.step()
                delay = 0.1
            except Exception as error:  # the store went away: keep trying
                log.warning("projector step failed, retrying in %.1fs: %s", delay, error)
                self._positions.clear()
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if processed < self._batch_size:
                self._waker.wait(timeout=1.0)
        self.close()

    def close(self) -> None:
        """Release the advisory locks (a standby takes over), the LISTEN connection and the
        worker threads."""
        self._waker.close()
        self._leases.close()
        self._ahead = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _follow_rebuilds(self) -> None:
        """Switch to a projection's new version once a rebuild has activated it."""
        now = time.monotonic()
        if now - self._versions_checked < VERSION_CHECK_S:
            return
        self._versions_checked = now
        for index, projection in enumerate(self._projections):
            cls = type(projection)
            version = active_version(projection.view.store, cls)
            # Only forward: a rebuild's own projector runs ahead of the active version.
            if version > projection.view.version:
                log.info("projection %s switches to version %s", cls.name, version)
                self._projections[index] = cls(LedgerView(projection.view.store, cls.name, version))
                self._projections[index].create()
                self._positions[cls.name] = self._projections[index].view.position()

    def step(self) -> int:
        """Apply the next page of notifications to every running projection; returns how many
        notifications the page had (0 when every projection is caught up)."""
        self._follow_rebuilds()
        self._leases.check()
        active = [p for p in self._projections if self._is_active(p)]
        if not active:
            return 0
        start = min(self._positions[p.name] for p in active) + 1
        wanted = frozenset().union(*(p.handled for p in active))
        page = self._read_ahead_page(start, wanted) or self._select(start, wanted)
        if not page:
            return 0
        events, undecodable = self._decode(page, wanted)
        if len(page) == self._batch_size and undecodable is None:
            # A backlog: read the next page while this one is applied (it is the next one
            # unless a projection fails or a lease changes hands; then it is dropped).
            after = page[-1][0] + 1
            self._ahead = (after, wanted, self._workers().submit(self._select, after, wanted))
        jobs = []
        for projection in active:
            after = self._positions[projection.name]
            mine = events if after < start else [(e, i) for e, i in events if i > after]
            if mine:
                jobs.append((projection, mine))
        self._apply_all(jobs)
        for projection in active:
            if undecodable is not None and projection.name not in self._failed:
                position, error = undecodable
                if self._positions[projection.name] < position:
                    self._fail(projection, position, None, error)
        return len(page)

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="projector")
        return self._pool

    def _read_ahead_page(self, start: int, wanted: frozenset[str]) -> Sequence[_Entry]:
        """The page read ahead, if it is the one asked for (else nothing)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead[:2] != (start, wanted):
            return []
        return ahead[2].result()

    def _apply_all(self, jobs: list[tuple[LedgerProjection, list[tuple[Any, int]]]]) -> None:
        """Every projection's batch in one transaction with every tracking position: one
        commit per page instead of one per projection (following live, with many projections
        and small pages, the commits were most of the work). A projection whose handler
        fails on an event, and every projection when the shared transaction fails (a position
        moved by another writer, a statement that one projection's rows broke), is applied
        on its own, so that a poison event stops only its projection. Every batch has
        finished (committed, rolled back, or stopped its projection) before this returns or
        raises."""
        prepared: list[tuple[LedgerProjection, list[tuple[Any, int]], Writes]] = []
        for projection, events in jobs:
            try:
                writes = projection.prepare_batch(events)
            except Exception:
                self._apply(projection, events)  # finds the poison event
                continue
            prepared.append((projection, events, writes))
        stores: dict[int, list[tuple[LedgerProjection, list[tuple[Any, int]], Writes]]] = {}
        for entry in prepared:
            stores.setdefault(id(entry[0].view.store), []).append(entry)
        for together in stores.values():
            batches = [
                Batch(p.view, self._positions[p.name], events[-1][1], writes)
                for p, events, writes in together
            ]
            try:
                write_batches(together[0][0].view.store, batches)
            except _TRANSIENT:
                raise
            except Exception as error:
                log.info("applying a page projection by projection after %r", error)
                for projection, events, _ in together:
                    self._apply(projection, events)
                continue
            for projection, events, _ in together:
                self._positions[projection.name] = events[-1][1]

    def _select(self, start: int, wanted: frozenset[str]) -> Sequence[_Entry]:
        """The next page of the log as (id, topic, notification). In Postgres an event whose
        type no active projection handles comes without its notification (``_decode`` reads
        only its topic): a draw's trace is most of the log's bytes and none of the money
        projections' business."""
        recorder = self._ledger.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            page = recorder.select_notifications(start=start, limit=self._batch_size)
            return [(n.id, n.topic, n) for n in page]
        if self._page_sql is None:
            # The same test as _decode's: the topic's part after the first ':' (the qualname).
            self._page_sql = sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic,"
                " CASE WHEN substr(topic, strpos(topic, ':') + 1) = ANY(%s) THEN state END"
                " FROM {}.{} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
            ).format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
        params = (sorted(wanted), start, self._batch_size)
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(self._page_sql, params, prepare=True, binary=True).fetchall()
        return [
            (
                id_,
                topic,
                None
                if state is None
                else Notification(
                    id=id_,
                    originator_id=originator_id,
                    originator_version=version,
                    topic=topic,
                    state=bytes(state),
                ),
            )
            for id_, originator_id, version, topic, state in rows
        ]

    def _decode(
        self, page: Sequence[_Entry], wanted: frozenset[str]
    ) -> tuple[list[tuple[Any, int]], tuple[int, Exception] | None]:
        """The page's events up to the first one that cannot be decoded (a poison event for
        every projection that has not passed it yet). Events no active projection handles are
        not decoded (a draw's trace is most of the bytes); a placeholder still moves tracking."""
        events: list[tuple[Any, int]] = []
        for position, topic, notification in page:
            event: Any
            try:
                if topic.partition(":")[2] in wanted:
                    if notification is None:  # never: _select sends the state of these
                        raise LookupError(f"no state read for {topic}")
                    event = self._ledger.mapper.to_domain_event(notification)
                else:
                    # Not decoded, but its class must exist: an event type this code does not
                    # know (written by a newer release) is a poison event, not something to skip.
                    resolve_topic(topic)
                    event = _SKIPPED
            except Exception as error:
                return events, (position, error)
            events.append((event, position))
        return events, None

    def catch_up(self, timeout_s: float = 60.0) -> None:
        """Apply everything recorded so far (tests, rebuilds, the embedded mode's start)."""
        if not self._positions:
            self.prepare()
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                self._leases.unreachable = False
                if self.step():
                    continue
                if not self._leases.unreachable:
                    break  # caught up (or another process holds the lease)
                # No connection for a lease (the server is full or restarting): "everything
                # recorded so far" is not applied yet, so try again instead of returning.
                time.sleep(0.2)
        finally:
            self.close()

    def _is_active(self, projection: LedgerProjection) -> bool:
        if projection.name in self._failed:
            return False
        if self._leases.acquire(projection.name):
            self._standby.discard(projection.name)
            if projection.name not in self._positions:
                self._positions[projection.name] = projection.view.position()
            return True
        self._standby.add(projection.name)
        self._positions.pop(projection.name, None)
        return False

    def _apply(self, projection: LedgerProjection, events: list[tuple[Any, int]]) -> None:
        name = projection.name
        try:
            projection.process_batch(events, after=self._positions[name])
            self._positions[name] = events[-1][1]
        except TrackingConflict:
            # Another instance wrote this view (this one had lost its lease): start again from
            # what is committed.
            log.warning("projection %s was moved by another writer; reloading its position", name)
            self._positions[name] = projection.view.position()
        except _TRANSIENT:
            raise
        except Exception:
            # Find the poison event: apply one by one up to it, then stop this projection.
            for event, position in events:
                try:
                    projection.process_batch([(event, position)], after=self._positions[name])
                except Exception as error:
                    self._fail(projection, position, event, error)
                    return
                self._positions[name] = position

    def _fail(
        self, projection: LedgerProjection, position: int, event: Any, error: Exception
    ) -> None:
        what = "undecodable event" if event is None else type(event).__qualname__
        message = f"notification {position} ({what}): {error!r}"
        log.error("projection %s stopped at %s", projection.name, message)
        with self._lock:
            self._failed.add(projection.name)
            self._errors[projection.name] = message
        try:
            projection.view.record_failure(message)
        except Exception:  # the store is down too; the log and this process still say it
            log.exception("could not record the failure of %s", projection.name)

    # ---- status --------------------------------------------------------------------------------

    def status(self) -> list[ProjectionStatus]:
        self._follow_rebuilds()  # a long-lived instance reports the active version
        head = self._ledger.recorder.max_notification_id() or 0
        rows = []
        for p in self._projections:
            position = self._positions.get(p.name)
            if position is None:
                position = p.view.position()
            stored_error = None if p.name in self._errors else p.view.failure()
            failed = p.name in self._failed or stored_error is not None
            state = "failed" if failed else "standby" if p.name in self._standby else "running"
            rows.append(
                ProjectionStatus(
                    name=p.name,
                    version=p.view.version,
                    position=position,
                    head=head,
                    lag=max(0, head - position),
                    state=state,
                    last_error=self._errors.get(p.name, stored_error),
                )
            )
        return rows
