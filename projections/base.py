"""Projections: event handlers that write read-model rows and their tracking position in the
same transaction, so a crash can never apply an event twice or skip one.

A projection is an ``eventsourcing.projection.Projection`` whose view is a ``LedgerView``.
It handles one event (``process_event``, the library's protocol) or a batch of events in one
transaction (``process_batch``); the projector works out each projection's batch
(``prepare_batch``) and writes them all in one transaction (``write_batches``). Tables are versioned
(``rm_{name}_v{version}_{table}``): a rebuild projects into a new version while the old one
serves, then switches the active version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from projections.store import Merge, ReadStore, ReadTx, SetStatement

__all__ = [
    "ACTIVE_DDL",
    "Batch",
    "Handler",
    "LedgerProjection",
    "LedgerView",
    "Merge",
    "TRACKING_DDL",
    "TrackingConflict",
    "Writes",
    "iso",
    "write_batches",
]


# What a run of rows goes to: a statement, a (table, columns) insert, a Merge, a SetStatement.
_Target = str | tuple[str, tuple[str, ...]] | Merge | SetStatement


class Writes:
    """The statements a batch of events turns into, flushed in order; runs of the same
    statement go as one ``executemany``, runs of inserts into the same table as one
    ``insert_rows`` (a ``COPY`` or one statement over arrays in Postgres), merged changes as
    one ``merge_rows`` per Merge. In Postgres they are pipelined: one round trip in all."""

    def __init__(self) -> None:
        self._runs: list[tuple[_Target, list[Sequence[object]]]] = []
        self._merged: dict[Merge, dict[tuple[object, ...], list[Any]]] = {}
        self._keyed: dict[object, list[tuple[str | SetStatement, tuple[object, ...]]]] = {}

    def add(self, sql: str, *params: object) -> None:
        if self._keyed:
            self._settle_keyed()
        if self._runs and self._runs[-1][0] == sql:
            self._runs[-1][1].append(params)
        else:
            self._runs.append((sql, [params]))

    def add_for(self, key: object, sql: str | SetStatement, *params: object) -> None:
        """A statement that writes only rows of ``key`` (a player, say) and reads no row that
        another key's statements write: statements of different keys commute, so the ones
        added one after the other are flushed in rounds — the first of every key, then the
        second… — each round's same statements as one ``executemany`` (a SetStatement: as
        one statement over the round's rows, where the store can). A key's own statements
        keep their order, and any other statement added after them goes after them all."""
        statements = self._keyed.get(key)
        if statements is None:
            self._keyed[key] = [(sql, params)]
        else:
            statements.append((sql, params))

    def _settle_keyed(self) -> None:
        keyed, self._keyed = list(self._keyed.values()), {}
        for turn in range(max(len(statements) for statements in keyed)):
            runs: dict[str | SetStatement, list[Sequence[object]]] = {}
            for statements in keyed:
                if turn < len(statements):
                    sql, params = statements[turn]
                    runs.setdefault(sql, []).append(params)
            self._runs.extend(runs.items())

    def insert(self, table: str, columns: tuple[str, ...], *values: object) -> None:
        """A row for ``table``, values in the order of ``columns``."""
        if self._keyed:
            self._settle_keyed()
        target = (table, columns)
        if self._runs and self._runs[-1][0] == target:
            self._runs[-1][1].append(values)
        else:
            self._runs.append((target, [values]))

    def merge(
        self, merge: Merge, key: tuple[object, ...], sums: Sequence[int], last: Sequence[object]
    ) -> None:
        """A commutative change (see ``Merge``): changes of the same ``key`` are combined —
        ``sums`` added up, ``last`` replaced by the latest — and flushed once, after every
        other statement of the batch (or at the next ``cut``)."""
        rows = self._merged.get(merge)
        if rows is None:
            rows = self._merged[merge] = {}
        current = rows.get(key)
        if current is None:
            rows[key] = [*sums, *last]
            return
        for i, value in enumerate(sums):
            current[i] += value
        if last:
            current[len(sums) :] = last

    def cut(self) -> None:
        """The changes merged so far are flushed before any statement added after this: for
        a statement that does not commute with them (one that sets a column they add to)."""
        if self._keyed:
            self._settle_keyed()
        for merge, merged in self._merged.items():
            self._runs.append((merge, [(*values, *key) for key, values in merged.items()]))
        self._merged = {}

    def flush(self, tx: ReadTx) -> None:
        self.cut()
        for target, rows in self._runs:
            if isinstance(target, Merge):
                tx.merge_rows(target, rows)
            elif isinstance(target, SetStatement):
                tx.execute_set(target, rows)
            elif isinstance(target, tuple):
                tx.insert_rows(*target, rows)
            elif len(rows) == 1:
                tx.send(target, rows[0])
            else:
                tx.executemany(target, rows)


Handler = Callable[[Writes, Any, int], None]


TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_tracking (projection TEXT NOT NULL, version INTEGER NOT NULL, "
    "position BIGINT NOT NULL, error TEXT, PRIMARY KEY (projection, version))"
)
ACTIVE_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_active (projection TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


def iso(at: datetime) -> str:
    """Timestamps as sortable UTC ISO-8601 text (the same in Postgres and SQLite)."""
    return at.isoformat(timespec="microseconds")


class TrackingConflict(Exception):
    """Another writer moved this projection's position; the batch was rolled back."""


class _TableNames(dict[str, str]):
    def __init__(self, view: LedgerView) -> None:
        super().__init__()
        self._view = view

    def __missing__(self, short: str) -> str:
        return self._view.table(short)


class LedgerView(TrackingRecorder):
    """One version of one projection's tables in a read store, plus its tracking position."""

    def __init__(self, store: ReadStore, name: str, version: int) -> None:
        self.store = store
        self.name = name
        self.version = version

    def table(self, short: str) -> str:
        return f"rm_{self.name}_v{self.version}_{short}"

    def create(self, ddl: Sequence[str]) -> None:
        """Create this version's tables (DDL names them ``{short}``) and its tracking row.

        Each statement commits on its own (they are idempotent): ``CREATE INDEX IF NOT
        EXISTS`` locks its table even when the index exists, and a transaction holding such
        locks while it waits for the tracking row, which a projector writing these tables
        holds, would deadlock with that projector."""
        names = _TableNames(self)
        for statement in (TRACKING_DDL, ACTIVE_DDL, *(s.format_map(names) for s in ddl)):
            with self.store.transaction() as tx:
                tx.execute(statement)
        with self.store.transaction() as tx:
            tx.execute(
                "INSERT INTO rm_tracking (projection, version, position) VALUES (%s, %s, 0) "
                "ON CONFLICT (projection, version) DO NOTHING",
                (self.name, self.version),
            )

    def track(self, tx: ReadTx, position: int, after: int | None = None) -> None:
        """Move the position from ``after`` (read here when not given) to ``position``.

        Conditional on ``after``: if another writer moved it meanwhile (two projectors on one
        view, say after a lost lease), nothing matches, TrackingConflict rolls the batch back,
        and no event is applied twice. In Postgres the UPDATE also locks the row, so a
        concurrent batch waits here and then fails the same way."""
        if after is None:
            row = tx.fetchone(
                "SELECT position FROM rm_tracking WHERE projection = %s AND version = %s",
                (self.name, self.version),
            )
            after = int(row[0]) if row else 0
        changed = tx.execute(
            "UPDATE rm_tracking SET position = %s"
            " WHERE projection = %s AND version = %s AND position = %s",
            (position, self.name, self.version, after),
        )
        if position <= after or changed != 1:
            raise TrackingConflict(
                f"{self.name} v{self.version}: expected position {after}, moving to {position}"
            )

    def record_failure(self, message: str) -> None:
        """Remember that this version stopped on a poison event (status reads it from here)."""
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE rm_tracking SET error = %s WHERE projection = %s AND version = %s",
                (message, self.name, self.version),
            )

    def failure(self) -> str | None:
        with self.store.transaction() as tx:
            row = tx.fetchone(
                "SELECT error FROM rm_tracking WHERE projection = %s AND version = %s",
                (self.name, self.version),
            )
        return str(row[0]) if row and row[0] is not None else None

    def clear_failure(self) -> None:
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE rm_tracking SET error = NULL WHERE projection = %s AND version = %s",
                (self.name, self.version),
            )

    def position(self) -> int:
        with self.store.transaction() as tx:
            row = tx.fetchone(
                "SELECT position FROM rm_tracking WHERE projection = %s AND version = %s",
                (self.name, self.version),
            )
        return int(row[0]) if row else 0

    # ---- the library's TrackingRecorder protocol ----------------------------------------------

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.store.transaction() as tx:
            self.track(tx, tracking.notification_id)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position() or None


class LedgerProjection(Projection[LedgerView]):
    """Subclasses set ``name``, ``version``, ``ddl`` (naming their tables ``{short}``) and map
    event class qualnames to handler methods in ``handlers``."""

    version: ClassVar[int] = 1
    ddl: ClassVar[list[str]] = []

    def __init__(self, view: LedgerView) -> None:
        super().__init__(view)
        self._handlers = self.handlers()

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    @property
    def handled(self) -> set[str]:
        """The qualnames of the event classes this projection reads."""
        return set(self._handlers)

    def t(self, short: str) -> str:
        return self.view.table(short)

    def create(self) -> None:
        self.view.create(self.ddl)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_batch([(domain_event, tracking.notification_id)])

    def prepare_batch(self, events: Sequence[tuple[Any, int]]) -> Writes:
        """The statements that apply events (in notification order); nothing is written yet.
        A handler's error (a poison event) is raised here."""
        writes = Writes()
        handlers = self._handlers
        for event, position in events:
            handler = handlers.get(type(event).__qualname__)
            if handler is not None:
                handler(writes, event, position)
        return writes

    def process_batch(self, events: Sequence[tuple[Any, int]], after: int | None = None) -> None:
        """Apply events (in notification order, all after position ``after``) and move the
        tracking position to the last, in one transaction. Events this projection does not
        handle still move it."""
        if not events:
            return
        writes = self.prepare_batch(events)
        with self.view.store.transaction() as tx:
            self.view.track(tx, events[-1][1], after)  # first: it locks the tracking row
            writes.flush(tx)


@dataclass(frozen=True, slots=True)
class Batch:
    """One projection's prepared batch: its statements and the move of its position."""

    view: LedgerView
    after: int
    position: int
    writes: Writes


# Moves a position from ``after`` (the where part of the conditional update in ``track``).
_MOVE = SetStatement(
    "UPDATE rm_tracking SET position = %s WHERE projection = %s AND version = %s AND position = %s",
    "UPDATE rm_tracking SET position = src.position FROM {src}"
    " WHERE rm_tracking.projection = src.projection AND rm_tracking.version = src.version"
    " AND rm_tracking.position = src.after",
    (("position", "bigint"), ("projection", "text"), ("version", "integer"), ("after", "bigint")),
)


def write_batches(store: ReadStore, batches: Sequence[Batch]) -> None:
    """Several projections' batches (views of ``store``) in one transaction: one commit
    instead of one each, and each batch still together with its tracking position.

    The positions move first, in one statement that locks their rows; if any of them was
    moved by another writer meanwhile, TrackingConflict rolls every batch back (applying
    them one by one then tells which)."""
    if not batches:
        return
    for b in batches:
        if b.position <= b.after:
            raise TrackingConflict(f"{b.view.name}: moving from {b.after} to {b.position}")
    moves = [(b.position, b.view.name, b.view.version, b.after) for b in batches]
    with store.transaction() as tx:
        if tx.update_set(_MOVE, moves) != len(batches):
            names = ", ".join(b.view.name for b in batches)
            raise TrackingConflict(f"a position of {names} was moved by another writer")
        for b in batches:
            b.writes.flush(tx)
