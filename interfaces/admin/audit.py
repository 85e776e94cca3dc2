"""The audit log: who did what to which player, pool, payment or operator, from where, and why —
every operator action with its reason — newest first with a keyset cursor, and as CSV."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from litestar import Router, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Response

from interfaces.admin.schemas import Cursor, Limit, Listing, csv_download
from interfaces.problems import ApiError

__all__ = ["router"]

Text = Annotated[str | None, QueryParameter(max_length=200)]
From = Annotated[datetime | None, QueryParameter(name="from", description="inclusive")]
To = Annotated[datetime | None, QueryParameter(name="to", description="exclusive")]
READ = {"permission": "audit.read"}
EXPORT = {"permission": "audit.export"}


def _filters(
    actor: str | None,
    subject: str | None,
    kind: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    for at in (since, until):
        if at is not None and at.tzinfo is None:
            detail = "times need a UTC offset, e.g. 2026-01-01T00:00:00Z"
            raise ApiError(400, "invalid_time", detail)
    return {
        "actor": actor,
        "target": subject,
        "kind": kind,
        "action": action,
        "since": since,
        "until": until,
    }


@get("/audit", sync_to_thread=True, opt=READ)
def audit_log(
    state: State,
    actor: Text = None,
    subject: Annotated[
        str | None, QueryParameter(max_length=200, description="player id, pool key, e-mail, id")
    ] = None,
    kind: Annotated[
        str | None, QueryParameter(max_length=60, description="an aggregate: Withdrawal")
    ] = None,
    action: Annotated[
        str | None, QueryParameter(max_length=100, description="one event: Withdrawal.Rejected")
    ] = None,
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Listing:
    """Audit rows, newest first: actor (``operator:…``, ``player:…``, ``system:…``), subject,
    kind, action, time window; ``next_cursor`` continues."""
    filters = _filters(actor, subject, kind, action, since, until)
    try:
        page = state.system.read_models.audit(**filters, cursor=cursor, limit=limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    return Listing([asdict(r) for r in page.rows], page.next_cursor)


@get("/audit.csv", sync_to_thread=True, opt=EXPORT)
def audit_export(
    state: State,
    actor: Text = None,
    subject: Annotated[str | None, QueryParameter(max_length=200)] = None,
    kind: Annotated[str | None, QueryParameter(max_length=60)] = None,
    action: Annotated[str | None, QueryParameter(max_length=100)] = None,
    since: From = None,
    until: To = None,
) -> Response[str]:
    """Every audit row matching the filters, newest first, as CSV (``details`` as JSON)."""
    filters = _filters(actor, subject, kind, action, since, until)
    return csv_download(state.system.read_models.audit_csv(**filters), "audit.csv")


router = Router("/", route_handlers=[audit_log, audit_export], tags=["audit"])
