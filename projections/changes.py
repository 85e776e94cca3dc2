"""Change requests as a list operators filter by state (the approval queue) and target.

``position`` is the notification id of the draft: the list is oldest first by it, and it is
the keyset cursor. The write side (``Changes.get``/``preview``) stays the source for one request.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from projections.base import Handler, LedgerProjection, Writes, iso

__all__ = ["ChangeRequestsProjection"]


class ChangeRequestsProjection(LedgerProjection):
    name = "change_requests"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {changes} (change_id TEXT PRIMARY KEY,"
        " position BIGINT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,"
        " state TEXT NOT NULL, maker TEXT NOT NULL, reason TEXT NOT NULL, approver TEXT,"
        " publisher TEXT, closed_by TEXT, closing_reason TEXT, payload TEXT NOT NULL,"
        " base_version TEXT NOT NULL, drafted_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {changes}_by_state ON {changes} (state, position)",
        "CREATE INDEX IF NOT EXISTS {changes}_by_target ON {changes} (target, position)",
    ]

    def handlers(self) -> dict[str, Handler]:
        table = self.t("changes")
        drafted = (
            f"INSERT INTO {table} (change_id, position, kind, target, state, maker, reason,"
            " approver, publisher, closed_by, closing_reason, payload, base_version, drafted_at,"
            " updated_at) VALUES (%s, %s, %s, %s, 'draft', %s, %s, NULL, NULL, NULL, NULL,"
            " %s, %s, %s, %s)"
        )
        moved = f"UPDATE {table} SET state = %s, updated_at = %s WHERE change_id = %s"
        approved = (
            f"UPDATE {table} SET state = 'approved', approver = %s, updated_at = %s"
            " WHERE change_id = %s"
        )
        published = (
            f"UPDATE {table} SET state = 'published', publisher = %s, updated_at = %s"
            " WHERE change_id = %s"
        )
        closed = (
            f"UPDATE {table} SET state = %s, closed_by = %s, closing_reason = %s,"
            " updated_at = %s WHERE change_id = %s"
        )

        def on_drafted(w: Writes, e: Any, position: int) -> None:
            at = iso(e.timestamp)
            w.add(
                drafted,
                str(e.originator_id),
                position,
                e.kind,
                e.target,
                e.maker,
                e.reason,
                json.dumps(e.payload, sort_keys=True),
                e.base_version,
                at,
                at,
            )

        def on_submitted(w: Writes, e: Any, _: int) -> None:
            w.add(moved, "submitted", iso(e.timestamp), str(e.originator_id))

        def on_approved(w: Writes, e: Any, _: int) -> None:
            w.add(approved, e.actor, iso(e.timestamp), str(e.originator_id))

        def on_published(w: Writes, e: Any, _: int) -> None:
            w.add(published, e.actor, iso(e.timestamp), str(e.originator_id))

        def on_closed(w: Writes, e: Any, _: int) -> None:
            state = "rejected" if type(e).__name__ == "Rejected" else "withdrawn"
            at = iso(e.timestamp)
            w.add(closed, state, e.actor, e.reason, at, str(e.originator_id))

        return {
            "ChangeRequest.Drafted": on_drafted,
            "ChangeRequest.Submitted": on_submitted,
            "ChangeRequest.Approved": on_approved,
            "ChangeRequest.Published": on_published,
            "ChangeRequest.Rejected": on_closed,
            "ChangeRequest.Withdrawn": on_closed,
        }
