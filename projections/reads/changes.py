"""Reads over the change requests read model: the approval queue and a target's requests."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from projections.changes import ChangeRequestsProjection
from projections.reads.common import Page, ReadBase, _check, _page, _position

__all__ = ["ChangeReads", "ChangeRow"]


@dataclass(frozen=True, slots=True)
class ChangeRow:
    change_id: str
    position: int
    kind: str
    target: str
    state: str
    maker: str
    reason: str
    approver: str | None
    publisher: str | None
    closed_by: str | None
    closing_reason: str | None
    payload: dict[str, Any]
    base_version: str
    drafted_at: str
    updated_at: str


class ChangeReads(ReadBase):
    def change_requests(
        self,
        state: str | None = None,
        target: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[ChangeRow]:
        """Change requests in ``state`` and/or for ``target``, oldest first."""
        table = self._table(ChangeRequestsProjection, "changes")
        columns = [f.name for f in fields(ChangeRow)]
        where = ["position > %s"]
        params: list[object] = [_position(cursor, 0)]
        for column, value in (("state", state), ("target", target)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        rows = self._fetch(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where)}"
            " ORDER BY position LIMIT %s",
            (*params, _check(limit) + 1),
        )
        return _page([_row(r) for r in rows], limit)


def _row(row: tuple[Any, ...]) -> ChangeRow:
    values = list(row)
    values[11] = json.loads(values[11])
    return ChangeRow(*values)
