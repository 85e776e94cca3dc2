"""Reads over the audit trail."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

from projections.audit import AuditProjection
from projections.reads.common import (
    _MAX,
    Page,
    ReadBase,
    _at,
    _check,
    _like_prefix,
    _page,
    _position,
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    position: int
    at: str
    actor: str
    action: str
    target_id: str
    subject: str | None  # the target's player id or pool key, when known
    reason: str | None
    request_id: str | None
    ip: str | None  # the client address, for events that record one (logins, registrations)
    details: dict[str, Any]


class AuditReads(ReadBase):
    def audit(
        self,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[AuditRow]:
        """Newest first. ``action`` is one event (``Withdrawal.Rejected``), ``kind`` every event
        of one aggregate (``Withdrawal``); ``target`` is an aggregate id, a player id or a pool
        key; ``since`` is inclusive, ``until`` exclusive."""
        audit = self._table(AuditProjection, "audit")
        subjects = self._table(AuditProjection, "subjects")
        where: list[str] = ["a.position < %s"]
        params: list[object] = [_position(cursor, _MAX)]
        filters: list[tuple[str, object]] = [("a.actor = %s", actor), ("a.action = %s", action)]
        filters += [("a.action LIKE %s ESCAPE '\\'", kind and _like_prefix(f"{kind}."))]
        filters += [("a.at >= %s", since and _at(since)), ("a.at < %s", until and _at(until))]
        for clause, value in filters:
            if value is not None:
                where.append(clause)
                params.append(value)
        if target is not None:
            where.append("(a.target_id = %s OR s.subject = %s)")
            params += [target, target]
        rows = self._fetch(
            "SELECT a.position, a.at, a.actor, a.action, a.target_id, s.subject, a.reason,"
            f" a.request_id, a.ip, a.details FROM {audit} a LEFT JOIN {subjects} s"
            f" ON s.aggregate_id = a.target_id WHERE {' AND '.join(where)}"
            " ORDER BY a.position DESC LIMIT %s",
            (*params, _check(limit) + 1),
        )
        return _page([AuditRow(*[*r[:-1], json.loads(r[-1])]) for r in rows], limit)

    def audit_csv(self, **filters: Any) -> str:
        """Every row matching ``audit``'s filters, newest first, as CSV with a header."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([f.name for f in fields(AuditRow)])
        cursor = None
        while True:
            page = self.audit(**filters, cursor=cursor, limit=500)
            for row in page.rows:
                values = astuple(row)
                writer.writerow([*values[:-1], json.dumps(row.details, sort_keys=True)])
            if page.next_cursor is None:
                return out.getvalue()
            cursor = page.next_cursor
