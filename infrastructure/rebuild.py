"""Rebuild without downtime: project into the next version from position 0 while the active
version keeps serving, then switch readers to it (the version before the old one is dropped)."""

from __future__ import annotations

from collections.abc import Callable

from application.ledger import Ledger
from infrastructure.projector import Projector
from projections.base import TRACKING_DDL, LedgerView
from projections.catalog import ALL, active_version
from projections.store import ReadStore

__all__ = ["RebuildFailed", "rebuild"]


class RebuildFailed(Exception):
    """The new version hit an event it cannot handle; the old version stays active."""


def rebuild(
    ledger: Ledger,
    store: ReadStore,
    name: str,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 2_000,
) -> int:
    """Returns the new active version. ``progress(position, head)`` is called per page."""
    cls = next((c for c in ALL if c.name == name), None)
    if cls is None:
        raise ValueError(f"unknown projection {name!r}")
    old = active_version(store, cls)
    new = old + 1
    view = LedgerView(store, name, new)
    _drop(store, view, cls.ddl)  # a previous, interrupted rebuild starts over
    projector = Projector(ledger, [cls(view)], batch_size=batch_size)
    projector.prepare()
    while True:
        while projector.step(overlap=True):  # the last step, returning 0, has written all
            if progress:
                status = projector.status()[0]
                progress(status.position, status.head)
        status = projector.status()[0]
        if status.state == "failed":
            raise RebuildFailed(f"{name} v{new} stopped: {status.last_error}; v{old} stays active")
        if status.lag == 0:
            break
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO rm_active (projection, version) VALUES (%s, %s) "
            "ON CONFLICT (projection) DO UPDATE SET version = excluded.version",
            (name, new),
        )
    # The old version stays one more generation: readers that looked it up a moment ago finish
    # their queries, and running projectors switch over on their next version check.
    if old > 1:
        _drop(store, LedgerView(store, name, old - 1), cls.ddl)
    return new


def _drop(store: ReadStore, view: LedgerView, ddl: list[str]) -> None:
    tables = {
        view.table(short)
        for statement in ddl
        if statement.startswith("CREATE TABLE")
        for short in [statement.split("{", 1)[1].split("}", 1)[0]]
    }
    with store.transaction() as tx:
        tx.execute(TRACKING_DDL)
        for table in sorted(tables):
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        tx.execute(
            "DELETE FROM rm_tracking WHERE projection = %s AND version = %s",
            (view.name, view.version),
        )
