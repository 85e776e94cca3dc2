"""The projector: runs projections over the ledger's notification log, in batches.

* Catch-up: pages of up to ``batch_size`` notifications, each page applied to every projection
  in one read-store transaction together with their tracking positions (exactly once), its
  statements pipelined; the next page is read meanwhile. Only events a projection handles are
  decoded (in Postgres, even read).
* Live: when caught up it sleeps until Postgres NOTIFY says new events were recorded (the event
  store sends one per insert), or polls when embedded (SQLite has no notifications). While
  events keep coming it waits ``gather_s`` more after each wake-up, so that pages grow with the
  rate instead of holding one commit's events each.
* Faults: an event a projection cannot handle (a poison event) stops that projection only, with
  the notification id and error in its status; the others keep running. A lost database
  connection is retried with backoff.
* Leadership: in Postgres each projection runs in one process at a time, holding an advisory
  lock; another instance waits as a standby and takes over when the lock is released.
"""

from __future__ import annotations

import hashlib
import logging
import select
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
from infrastructure.readstore import text_array
from projections.base import (
    Batch,
    LedgerProjection,
    LedgerView,
    TrackingConflict,
    Writes,
    write_batches,
)
from projections.catalog import active_versions

__all__ = ["BATCH_SIZE", "GATHER_S", "Leases", "Projector", "ProjectionStatus", "Waker"]

# Store failures: retried by ``run``, never mistaken for a poison event.
_TRANSIENT = (psycopg.OperationalError, sqlite3.OperationalError, es_persistence.OperationalError)

log = logging.getLogger(__name__)
VERSION_CHECK_S = 2.0
GATHER_S = 0.005
# Notifications per page while catching up (each page one transaction per projection). Measured
# over a 200k-event catch-up of balances, history and trial_balance: 1,000 gave 20.7-23.8k
# events/s, 2,000 26-27k, 4,000 28.8-31.0k (fewer commits to wait for, 28 vs 29-34 µs of CPU per
# event), for 7 MiB more peak memory. Following the log, pages hold only what is new.
BATCH_SIZE = 4_000


class _Skipped:
    """Stands for an event no running projection handles (never decoded)."""


_SKIPPED = _Skipped()

# A page entry: notification id, topic, and the notification (None: its state was not read).
_Entry = tuple[int, str, Notification | None]
# Projections writing to one read store: each with its events and the statements they make.
_Group = list[tuple[LedgerProjection, list[tuple[Any, int]], Writes]]


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
        """Drop every lease if their connection died (the server released the locks then).

        The connection is idle between acquires: the server sends nothing on it unless it
        ends it (a terminated backend, a restart), so only when there is something to read
        does a query find out (a round trip per step costs more than the step's writes when
        following live)."""
        if self._conn is None or not self._held:
            return
        if not self._conn.closed and not select.select([self._conn.fileno()], [], [], 0)[0]:
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
        batch_size: int = BATCH_SIZE,
        poll_s: float = 0.2,
        gather_s: float = GATHER_S,
    ) -> None:
        """``gather_s``: while events keep arriving, how long to wait after a wake-up for
        more of them to join the page (bounded added lag, fewer and fuller pages)."""
        self._ledger = ledger
        self._projections = list(projections)
        self._batch_size = batch_size
        self._gather_s = gather_s
        channel = getattr(ledger.recorder, "channel_name", None)
        self._waker = Waker(conninfo, channel, poll_s)
        self._conninfo = conninfo
        self._reader_conn: psycopg.Connection[Any] | None = None
        self._wanted: tuple[frozenset[str], str] = (frozenset(), "{}")  # and as a literal
        self._leases = Leases(conninfo, lease_scope)
        self._positions: dict[str, int] = {}
        self._errors: dict[str, str] = {}
        self._failed: set[str] = set()
        self._standby: set[str] = set()
        self._lock = threading.Lock()
        # Held by a step: status() from another thread must not switch versions or take in a
        # page's write meanwhile.
        self._stepping = threading.Lock()
        self._versions_checked = time.monotonic()
        self._page_sql: sql.Composed | None = None
        self._known_topics: set[str] = set()  # topics whose event class exists here
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, frozenset[str], Future[Sequence[_Entry]]] | None = None
        # The page being written in the background (catching up), and the positions it moves
        # its projections to once committed.
        self._writing: tuple[Future[list[Exception | None]], list[_Group]] | None = None
        self._writing_to: dict[str, int] = {}

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
                processed = self.step(overlap=True)
                delay = 0.1
            except Exception as error:  # the store went away: keep trying
                log.warning("projector step failed, retrying in %.1fs: %s", delay, error)
                self._abandon_write()
                self._positions.clear()
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if processed < self._batch_size:
                self._waker.wait(timeout=1.0)
                if processed and self._gather_s > 0:
                    # Events are arriving (the last page had some): a page's cost is mostly
                    # per page, so let a few ms of them gather instead of one page each.
                    stop.wait(self._gather_s)
        self.close()

    def close(self) -> None:
        """Finish the page being written, then release the advisory locks (a standby takes
        over), the LISTEN connection and the worker threads."""
        try:
            self._settle()
        except Exception as error:  # its projections start again from what is committed
            log.warning("the last page was not written: %r", error)
            self._abandon_write()
        self._waker.close()
        self._leases.close()
        self._ahead = None
        self._close_reader()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _follow_rebuilds(self) -> None:
        """Switch to a projection's new version once a rebuild has activated it."""
        now = time.monotonic()
        if now - self._versions_checked < VERSION_CHECK_S:
            return
        self._versions_checked = now
        self._settle()  # a switch resets positions: none may be moving meanwhile
        active: dict[int, dict[str, int]] = {}  # per read store
        for index, projection in enumerate(self._projections):
            cls, store = type(projection), projection.view.store
            versions = active.get(id(store))
            if versions is None:
                versions = active[id(store)] = active_versions(store)
            version = versions.get(cls.name, cls.version)
            # Only forward: a rebuild's own projector runs ahead of the active version.
            if version > projection.view.version:
                log.info("projection %s switches to version %s", cls.name, version)
                self._projections[index] = cls(LedgerView(projection.view.store, cls.name, version))
                self._projections[index].create()
                self._positions[cls.name] = self._projections[index].view.position()

    def step(self, overlap: bool = False) -> int:
        """Apply the next page of notifications to every running projection; returns how many
        notifications the page had (0 when every projection is caught up).

        With ``overlap`` (``run`` and ``catch_up``), a full page (catching up) is written in
        the background while the next step works out the next one: the Python work of one
        page and the database's of the one before take turns less. A step that returns 0, or
        whose page is not full, or without ``overlap``, returns with everything written."""
        with self._stepping:
            return self._step(overlap)

    def _step(self, overlap: bool) -> int:
        self._follow_rebuilds()
        self._leases.check()
        active = [p for p in self._projections if self._is_active(p)]
        if not active:
            self._settle()
            return 0
        start = min(self._expected(p.name) for p in active) + 1
        wanted = frozenset().union(*(p.handled for p in active))
        page = self._read_ahead_page(start, wanted) or self._select(start, wanted)
        if not page:
            self._settle()
            return 0
        events, undecodable = self._decode(page, wanted)
        backlog = len(page) == self._batch_size and undecodable is None
        if backlog:
            # Read the next page while this one is applied (it is the next one unless a
            # projection fails or a lease changes hands; then it is dropped).
            after = page[-1][0] + 1
            self._ahead = (after, wanted, self._workers().submit(self._select, after, wanted))
        jobs = []
        for projection in active:
            after = self._expected(projection.name)
            mine = events if after < start else [(e, i) for e, i in events if i > after]
            if mine:
                jobs.append((projection, mine))
        if not self._apply_all(jobs, in_background=backlog and overlap):
            return len(page)  # worked out again by the next step
        for projection in active:
            if undecodable is not None and projection.name not in self._failed:
                position, error = undecodable
                if self._positions[projection.name] < position:
                    self._fail(projection, position, None, error)
        return len(page)

    def _expected(self, name: str) -> int:
        """A projection's position once the page being written (if any) has committed."""
        return self._writing_to.get(name, self._positions[name])

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

    def _apply_all(
        self, jobs: list[tuple[LedgerProjection, list[tuple[Any, int]]]], in_background: bool
    ) -> bool:
        """Every projection's batch in one transaction with every tracking position: one
        commit per page instead of one per projection (following live, with many projections
        and small pages, the commits were most of the work). A projection whose handler
        fails on an event, and every projection when the shared transaction fails (a position
        moved by another writer, a statement that one projection's rows broke), is applied
        on its own, so that a poison event stops only its projection.

        The batches are worked out (Python) while the previous page is still being written;
        then that write is waited for. If it did not go as expected (a projection failed or
        was moved), nothing more is done and False is returned: the page is worked out again
        from what was committed. Else the batches are written, in the background when
        ``in_background`` (the next step waits for them), and True is returned."""
        expected = {projection.name: self._expected(projection.name) for projection, _ in jobs}
        prepared: _Group = []
        poisoned = []
        for projection, events in jobs:
            try:
                prepared.append((projection, events, projection.prepare_batch(events)))
            except Exception:
                poisoned.append((projection, events))
        self._settle()
        if any(self._positions.get(name) != at for name, at in expected.items()):
            return False
        for projection, events in poisoned:
            self._apply(projection, events)  # finds the poison event
        stores: dict[int, _Group] = {}
        for entry in prepared:
            stores.setdefault(id(entry[0].view.store), []).append(entry)
        groups = list(stores.values())
        if not groups:
            return True
        writes = [
            [Batch(p.view, self._positions[p.name], events[-1][1], w) for p, events, w in group]
            for group in groups
        ]
        if in_background:
            self._writing = (self._workers().submit(self._write, writes), groups)
            self._writing_to = {p.name: events[-1][1] for p, events, _ in prepared}
        else:
            self._record(groups, self._write(writes))
        return True

    @staticmethod
    def _write(groups: list[list[Batch]]) -> list[Exception | None]:
        """Each group's batches in one transaction (``write_batches``); what each raised."""
        outcomes: list[Exception | None] = []
        for batches in groups:
            try:
                write_batches(batches[0].view.store, batches)
            except Exception as error:
                outcomes.append(error)
            else:
                outcomes.append(None)
        return outcomes

    def _record(self, groups: list[_Group], outcomes: list[Exception | None]) -> None:
        """Move the positions of the groups written; apply the others projection by
        projection (a store failure is raised once every group is dealt with). A projection
        that went standby meanwhile is left alone: its lease holder takes it from the
        database."""
        transient: Exception | None = None
        for group, error in zip(groups, outcomes, strict=True):
            mine = [(p, events) for p, events, _ in group if p.name in self._positions]
            if error is None:
                for projection, events in mine:
                    self._positions[projection.name] = events[-1][1]
            elif isinstance(error, _TRANSIENT):
                transient = transient or error
            else:
                log.info("applying a page projection by projection after %r", error)
                for projection, events in mine:
                    self._apply(projection, events)
        if transient is not None:
            raise transient

    def _settle(self) -> None:
        """Wait for the page being written, if any, and take in its outcome."""
        writing, self._writing = self._writing, None
        self._writing_to = {}
        if writing is not None:
            future, groups = writing
            self._record(groups, future.result())

    def _abandon_write(self) -> None:
        """Wait for the page being written, if any, whatever its outcome (positions are
        read again from the database after this)."""
        writing, self._writing = self._writing, None
        self._writing_to = {}
        if writing is not None:
            writing[0].exception()

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
                " CASE WHEN substr(topic, strpos(topic, ':') + 1) = ANY(%s::text[]) THEN state END"
                " FROM {}.{} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
            ).format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
        if self._wanted[0] != wanted:
            self._wanted = (wanted, text_array(sorted(wanted)))
        params = (self._wanted[1], start, self._batch_size)
        if self._conninfo is None:
            with recorder.datastore.get_connection() as conn:
                rows = self._fetch_page(conn, params)
        else:
            rows = self._fetch_page(self._reader(), params)
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

    def _fetch_page(self, conn: psycopg.Connection[Any], params: tuple[object, ...]) -> list[Any]:
        assert self._page_sql is not None
        try:
            with conn.cursor(row_factory=tuple_row) as cur:
                return cur.execute(self._page_sql, params, prepare=True, binary=True).fetchall()
        except psycopg.Error:
            if conn is self._reader_conn:
                self._close_reader()  # a new connection next time
            raise

    def _reader(self) -> psycopg.Connection[Any]:
        """A connection of the projector's own for reading pages of the log: the event store's
        pool checks a connection with a round trip each time it lends one (pre-ping)."""
        with self._lock:  # the read-ahead thread may ask at the same time
            if self._reader_conn is None or self._reader_conn.closed:
                assert self._conninfo is not None
                self._reader_conn = psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5
                )
            return self._reader_conn

    def _close_reader(self) -> None:
        conn, self._reader_conn = self._reader_conn, None
        if conn is not None:
            conn.close()

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
                    if topic not in self._known_topics:
                        resolve_topic(topic)
                        self._known_topics.add(topic)
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
                if self.step(overlap=True):
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
        """Every projection's position (committed), lag and state. Called from another thread
        than the one stepping (the CLI's status log), it leaves switching to a rebuilt version
        to the stepping thread, which does it within VERSION_CHECK_S."""
        if self._stepping.acquire(blocking=False):  # no step is running: follow rebuilds here
            try:
                self._follow_rebuilds()  # a long-lived instance reports the active version
            except Exception as error:  # the page in flight failed: the next step redoes it
                log.warning("projection status: %r", error)
            finally:
                self._stepping.release()
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
