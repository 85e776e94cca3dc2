"""Read models against the fold of the raw events, each at its own tracked position.

A projection's rows and its tracking position are read in one snapshot (REPEATABLE READ on
Postgres; a SQLite transaction) once the fold has reached exactly that position, so a lagging
projection is compared where it is (and its lag reported) instead of producing false mismatches;
one that moved on while the fold caught up is compared at its new position (a few times at most).
What each projection's rows must be is ``ops.audit.model_rows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ops.audit.draw_checks import draw_row
from ops.audit.fold import LedgerFold
from ops.audit.model_rows import COMPARE
from ops.audit.report import Check, Offence
from projections.base import LedgerView
from projections.catalog import ALL
from projections.store import ReadStore

__all__ = ["ModelState", "ReadModelAudit", "draw_explainer"]

_DEFAULT_VERSIONS = {cls.name: cls.version for cls in ALL}  # active until a rebuild
MAX_ATTEMPTS = 3
Explain = Callable[[str], tuple[Any, ...] | None]  # draw id -> its expected row (after position)


@dataclass
class ModelState:
    name: str
    version: int = 1
    position: int = 0  # the tracked position it was (or is to be) compared at
    lag: int = 0  # head at the start of the audit minus its position then
    error: str | None = None  # the poison event it stopped at, if any
    outcome: str = "pending"
    mismatches: int = 0
    attempts: int = 0


class ReadModelAudit:
    def __init__(self, store: ReadStore, fold: LedgerFold, check: Check, explain: Explain) -> None:
        self._store = store
        self._fold = fold
        self.check = check
        self.explain = explain
        self.states: dict[str, ModelState] = {}
        self._limit: int | None = None
        self._next_due = -1  # the least position a comparison waits for

    def load(self, head: int, limit: int | None) -> None:
        """Where each projection is; ``limit``: never fold past this notification id."""
        self._limit = limit
        tracked = self._tracked()
        for name, default in _DEFAULT_VERSIONS.items():
            version, position, error = tracked.get(name, (default, 0, None))
            state = ModelState(name, version, position, max(0, head - position), error)
            if name not in COMPARE:
                state.outcome = "not compared (no independent fold of it)"
            elif name not in tracked:
                state.outcome = "not compared (never projected)"
            elif limit is not None and position > limit:
                state.outcome = f"not compared (at {position}, past --to)"
            self.states[name] = state
        self._tell_fold()

    def waiting(self, beyond: int) -> bool:
        """Is a comparison due at or after notification ``beyond``?"""
        return any(s.outcome == "pending" and s.position >= beyond for s in self.states.values())

    def compare_before(self, position: int) -> None:
        """Compare every projection tracked before ``position`` (the fold is there now)."""
        if position <= self._next_due:
            return
        for state in sorted(self.states.values(), key=lambda s: s.position):
            if state.outcome == "pending" and state.position < position:
                self._compare_one(state)
        pending = [s.position for s in self.states.values() if s.outcome == "pending"]
        self._next_due = min(pending, default=2**63)
        self._tell_fold()

    def _tell_fold(self) -> None:
        """The fold works out what only the ``draws`` and ``pool_stats`` comparisons read while
        either is still to come (a Draw after the last comparison is in no read model compared)."""
        pending = {name for name, s in self.states.items() if s.outcome == "pending"}
        self._fold.draws.rows, self._fold.draws.stats = "draws" in pending, "pool_stats" in pending

    def finish(self) -> None:
        """The log ended: what is still pending tracks a position past the last event."""
        self.compare_before(self._fold.position + 1)
        for state in self.states.values():
            if state.outcome == "pending":
                state.outcome = "mismatch"
                message = f"tracks position {state.position}, past the log's last event"
                _Comparison(self, state).fail(message)

    # ---- one comparison ------------------------------------------------------------------------

    def _tracked(self) -> dict[str, tuple[int, int, str | None]]:
        """(active version, position, error) per projection; read-only, {} without read models."""
        try:
            with self._store.transaction() as tx:
                active: dict[str, int] = dict(
                    tx.fetchall("SELECT projection, version FROM rm_active")
                )
        except Exception:  # no read models yet: every projection is at version 1
            active = {}
        try:
            with self._store.transaction() as tx:
                rows = tx.fetchall("SELECT projection, version, position, error FROM rm_tracking")
        except Exception:
            return {}
        found = {}
        for name, version, position, error in rows:
            if version == active.get(name, _DEFAULT_VERSIONS.get(name)):
                found[name] = (int(version), int(position), error)
        return found

    def _compare_one(self, state: ModelState) -> None:
        with self._store.transaction() as tx:
            if self._store.dialect == "postgres":
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            active = tx.fetchone(
                "SELECT version FROM rm_active WHERE projection = %s", (state.name,)
            )
            version = int(active[0]) if active else _DEFAULT_VERSIONS[state.name]
            row = tx.fetchone(
                "SELECT position FROM rm_tracking WHERE projection = %s AND version = %s",
                (state.name, version),
            )
            position = int(row[0]) if row else 0
            if position != state.position or version != state.version:
                self._moved(state, version, position)
                return
            view = LedgerView(self._store, state.name, version)
            COMPARE[state.name](tx, view, self._fold, _Comparison(self, state))
        state.outcome = "mismatch" if state.mismatches else "equal"

    def _moved(self, state: ModelState, version: int, position: int) -> None:
        state.attempts += 1
        past = self._limit is not None and position > self._limit
        if position < self._fold.position or past or state.attempts >= MAX_ATTEMPTS:
            state.outcome = f"not compared (moved to {position} while the audit ran)"
            return
        state.version, state.position = version, position


class _Comparison:
    """One projection's comparison: its differences become offences of the read_models check."""

    def __init__(self, audit: ReadModelAudit, state: ModelState) -> None:
        self._audit = audit
        self._state = state

    def fail(self, message: str, key: str | None = None) -> None:
        self._state.mismatches += 1
        self._audit.check.fail(Offence(message, None, key, f"read model {self._state.name}"))

    def explain(self, draw_id: str) -> tuple[Any, ...] | None:
        return self._audit.explain(draw_id)

    def diff(
        self,
        columns: tuple[str, ...],
        expected: dict[Any, tuple[Any, ...]],
        found: Iterable[tuple[Any, ...]],
    ) -> None:
        width = len(columns)
        remaining = dict(expected)
        for row in found:
            key = row[0] if len(row) == width + 1 else tuple(row[: len(row) - width])
            values = tuple(row[len(row) - width :])
            wanted = remaining.pop(key, None)
            if wanted is None:
                self.fail(f"row {key} has no events behind it", _name(key))
            elif values != wanted:
                diff = [
                    f"{c} {v!r} (events: {w!r})"
                    for c, v, w in zip(columns, values, wanted, strict=True)
                    if v != w
                ]
                self.fail(f"row {key}: {', '.join(diff)}", _name(key))
        for key in remaining:
            self.fail(f"no row for {key}", _name(key))


def _name(key: Any) -> str:
    if isinstance(key, tuple):
        return ":".join(str(k) for k in key)
    return str(key)


def draw_explainer(event_store: Any) -> Explain:
    """The expected row of one draw, read from its own stream (for describing a mismatch)."""

    def explain(draw_id: str) -> tuple[Any, ...] | None:
        try:
            event = next(iter(event_store.get(UUID(draw_id))), None)
        except Exception:
            return None
        return None if event is None else draw_row(event)

    return explain
