"""Change requests (maker-checker) for pools, prizes and runtime settings.

Draft (``pools.write`` for pool and prize kinds, ``config.write`` for ``config.set``; edits need
If-Match with the target's ETag: 428 without, 412 when stale), submit and withdraw (the maker),
approve and publish (``changes.approve`` and a fresh TOTP code; never the maker's own), reject
(``changes.approve``). The detail shows the diff against the target now and, for pools, the odds
before and after — what publishing would do.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from application.changes import ChangePreview, ChangeView
from domain.changes import ChangeKind
from infrastructure.bootstrap import System
from interfaces.admin.pools import OddsOut, odds_out
from interfaces.admin.security import Staff, StaffCaller
from interfaces.problems import ApiError

__all__ = ["router"]

Kind = Literal[
    "pool.create",
    "pool.update",
    "prize.add",
    "prize.change",
    "prize.retire",
    "prize.restock",
    "config.set",
    "mission.create",
    "mission.change",
    "mission.retire",
]
RequestState = Literal["draft", "submitted", "approved", "published", "rejected", "withdrawn"]
SIGNED_IN = {"signed_in": True}  # the permission depends on the kind: checked in the route
READ = {"permission": "pools.read"}
CHECKER = {"permission": "changes.approve"}
CHECKER_STEP_UP = {"permission": "changes.approve", "step_up": True}


class DraftBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: Kind
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]  # pool key or setting
    payload: dict[str, Any]
    reason: str = ""


class ReasonBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: str = ""


class ChangeOut(msgspec.Struct, frozen=True):
    change_id: str
    kind: str
    target: str
    payload: dict[str, Any]
    base_version: str  # the target's ETag it was drafted against
    state: str
    maker: str
    reason: str
    approver: str | None
    publisher: str | None
    closed_by: str | None
    closing_reason: str | None


class DiffRow(msgspec.Struct, frozen=True):
    field: str
    before: Any
    after: Any


class ChangeDetail(msgspec.Struct, frozen=True):
    change: ChangeOut
    current_version: str  # the target's ETag now
    stale: bool  # the target changed since the draft: approve/publish would be refused
    diff: list[DiffRow]
    odds_before: OddsOut | None
    odds_after: OddsOut | None
    problem: dict[str, str] | None  # why publishing would be refused now, if it would


class ChangeListItem(msgspec.Struct, frozen=True):
    change_id: str
    kind: str
    target: str
    state: str
    maker: str
    reason: str
    approver: str | None
    publisher: str | None
    payload: dict[str, Any]
    drafted_at: str
    updated_at: str


class ChangePage(msgspec.Struct, frozen=True):
    rows: list[ChangeListItem]
    next_cursor: str | None


def _write_permission(kind: str) -> str:
    return "config.write" if kind == ChangeKind.CONFIG_SET.value else "pools.write"


def _read_permission(kind: str) -> str:
    return "config.read" if kind == ChangeKind.CONFIG_SET.value else "pools.read"


def _require(caller: StaffCaller, permission: str) -> None:
    if permission not in caller.permissions:
        raise ApiError(403, "permission_denied", f"this needs the {permission} permission")


def _change_out(view: ChangeView) -> ChangeOut:
    return ChangeOut(
        change_id=view.change_id,
        kind=view.kind,
        target=view.target,
        payload=view.payload,
        base_version=view.base_version,
        state=view.state,
        maker=view.maker,
        reason=view.reason,
        approver=view.approver,
        publisher=view.publisher,
        closed_by=view.closed_by,
        closing_reason=view.closing_reason,
    )


def _detail(preview: ChangePreview) -> ChangeDetail:
    return ChangeDetail(
        change=_change_out(preview.change),
        current_version=preview.current_version,
        stale=preview.stale,
        diff=[DiffRow(r["field"], r["before"], r["after"]) for r in preview.diff],
        odds_before=odds_out(preview.odds_before) if preview.odds_before else None,
        odds_after=odds_out(preview.odds_after) if preview.odds_after else None,
        problem=preview.problem,
    )


def _if_match(request: Request[Any, Any, Any]) -> str | None:
    """The entity tag of If-Match (quotes and a weak marker dropped), None when absent."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    tag = raw.split(",", 1)[0].strip().removeprefix("W/")
    return tag.strip('"')


def _change_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, "not_found", f"change request {value} not found") from None


@post("/changes", sync_to_thread=True, status_code=201, opt=SIGNED_IN)
def draft(
    request: Request[Any, Any, Any], state: State, caller: Staff, data: JSONBody[DraftBody]
) -> ChangeOut:
    """Draft a change request (needs ``pools.write``, or ``config.write`` for ``config.set``).
    Payloads: pool.create {name, draw_cost, controls?}; pool.update {name?, draw_cost?,
    controls? (the fields to change), rtp_target_bps?}; prize.add {prize_id, name, kind, reward,
    weight, stock?, budget?, …}; prize.change {prize_id, fields to change}; prize.retire
    {prize_id}; prize.restock {prize_id, added}; config.set {value}; mission.create and
    mission.change {title, kind, target, cadence, award, reward_kind, reward_minor, starts_at?,
    ends_at?} (the mission's terms, target = its key); mission.retire {}. Every kind but
    pool.create and mission.create needs If-Match with the target's ETag (GET /pools/{key},
    /config/{key} or /missions/{key})."""
    _require(caller, _write_permission(data.kind))
    system: System = state.system
    cause = caller.cause(data.reason)
    view = system.changes.draft(data.kind, data.target, data.payload, _if_match(request), cause)
    return _change_out(view)


@get("/changes", sync_to_thread=True, opt=READ)
def list_changes(
    state: State,
    change_state: Annotated[RequestState | None, QueryParameter(name="state")] = None,
    target: Annotated[str | None, QueryParameter(max_length=100)] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=32)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> ChangePage:
    """Change requests, oldest first; ``state=submitted`` is the approval queue."""
    try:
        page = state.system.read_models.change_requests(change_state, target, cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    rows = [
        ChangeListItem(
            r.change_id,
            r.kind,
            r.target,
            r.state,
            r.maker,
            r.reason,
            r.approver,
            r.publisher,
            r.payload,
            r.drafted_at,
            r.updated_at,
        )
        for r in page.rows
    ]
    return ChangePage(rows, page.next_cursor)


@get("/changes/{change_id:str}", sync_to_thread=True, opt=READ)
def get_change(state: State, caller: Staff, change_id: FromPath[str]) -> ChangeDetail:
    """The request with what publishing it would do now: the diff against the target and, for
    pools, the exact odds before and after (computed on a copy, never saved)."""
    preview = state.system.changes.preview(_change_id(change_id))
    _require(caller, _read_permission(preview.change.kind))
    return _detail(preview)


def _transition(
    system: System, caller: StaffCaller, change_id: str, reason: str, action: str
) -> ChangeOut:
    changes = system.changes
    ident = _change_id(change_id)
    cause = caller.cause(reason)
    act = {
        "submit": changes.submit,
        "withdraw": changes.withdraw,
        "approve": changes.approve,
        "reject": changes.reject,
        "publish": changes.publish,
    }[action]
    return _change_out(act(ident, cause))


def _makers_permission(system: System, caller: StaffCaller, change_id: str) -> None:
    _require(caller, _write_permission(system.changes.get(_change_id(change_id)).kind))


@post("/changes/{change_id:str}/submit", sync_to_thread=True, status_code=200, opt=SIGNED_IN)
def submit(
    state: State, caller: Staff, change_id: FromPath[str], data: JSONBody[ReasonBody]
) -> ChangeOut:
    """The maker asks for approval."""
    _makers_permission(state.system, caller, change_id)
    return _transition(state.system, caller, change_id, data.reason, "submit")


@post("/changes/{change_id:str}/withdraw", sync_to_thread=True, status_code=200, opt=SIGNED_IN)
def withdraw(
    state: State, caller: Staff, change_id: FromPath[str], data: JSONBody[ReasonBody]
) -> ChangeOut:
    """The maker takes the request back (before it is published)."""
    _makers_permission(state.system, caller, change_id)
    return _transition(state.system, caller, change_id, data.reason, "withdraw")


@post("/changes/{change_id:str}/approve", sync_to_thread=True, status_code=200, opt=CHECKER_STEP_UP)
def approve(
    state: State, caller: Staff, change_id: FromPath[str], data: JSONBody[ReasonBody]
) -> ChangeOut:
    """Approve another operator's submitted request (403 ``self_approval_refused`` for your own;
    409 ``change_request_stale`` if the target changed since the draft). Step-up."""
    return _transition(state.system, caller, change_id, data.reason, "approve")


@post("/changes/{change_id:str}/reject", sync_to_thread=True, status_code=200, opt=CHECKER)
def reject(
    state: State, caller: Staff, change_id: FromPath[str], data: JSONBody[ReasonBody]
) -> ChangeOut:
    """Refuse a submitted or approved request, saying why."""
    return _transition(state.system, caller, change_id, data.reason, "reject")


@post("/changes/{change_id:str}/publish", sync_to_thread=True, status_code=200, opt=CHECKER_STEP_UP)
def publish(
    state: State, caller: Staff, change_id: FromPath[str], data: JSONBody[ReasonBody]
) -> ChangeOut:
    """Apply an approved request to its target, in one save with its Published event; 409
    ``change_request_stale`` if the target changed since the draft. Step-up."""
    return _transition(state.system, caller, change_id, data.reason, "publish")


router = Router(
    "/",
    route_handlers=[draft, list_changes, get_change, submit, withdraw, approve, reject, publish],
    tags=["change requests"],
)
