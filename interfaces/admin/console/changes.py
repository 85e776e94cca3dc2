"""Console pages: the pools with their prize tables and exact odds, and the pool editor through
change requests (maker-checker): an operator with ``pools.write`` drafts a change against the
pool's current revision and submits it; another with ``changes.approve`` reviews the diff and
the odds before and after, approves and publishes it with a fresh TOTP code (never their own).
Every step asks for a reason; the same use cases and previews as the API's change routes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from application.changes import ChangeView
from domain.cause import Cause
from domain.changes import ChangeKind
from domain.errors import DomainError
from infrastructure.bootstrap import System
from interfaces.admin.console.kit import Form, Req, redirect, refusal, render
from interfaces.admin.security import Staff, StaffCaller
from interfaces.problems import ApiError

__all__ = ["ROUTES", "propose"]

READ = {"permission": "pools.read"}
WRITE = {"permission": "pools.write"}
CHECKER = {"permission": "changes.approve"}
CHECKER_STEP_UP = {"permission": "changes.approve", "step_up": True}
STATES = ("draft", "submitted", "approved", "published", "rejected", "withdrawn")
Wanted = Annotated[str | None, QueryParameter(name="state", max_length=20)]
# The edits the console offers: (kind, the form's fields as integers besides prize_id).
EDITS = {
    "weight": ("prize.change", "weight"),
    "restock": ("prize.restock", "added"),
    "draw_cost": ("pool.update", "draw_cost"),
}


def _pool(system: System, pool_key: str, **extra: Any) -> dict[str, Any]:
    summary = system.pools.summary(pool_key)
    return {
        "pool": summary,
        "odds": system.pools.odds(pool_key),
        "names": {p["prize_id"]: p["name"] for p in summary.prizes},
        # The editor's forms carry the revision they were shown: a later change makes them stale.
        "revision": system.changes.revision(ChangeKind.POOL_UPDATE, pool_key),
        "error": None,
        "form": {},
        **extra,
    }


@get("/pools", sync_to_thread=True, opt=READ)
def pools(request: Req, state: State) -> Response[str]:
    """Every pool with its draws and RTP (the pool statistics read model)."""
    return render(request, "pools.html", rows=state.system.read_models.pools())


@get("/pools/{pool_key:str}", sync_to_thread=True, opt=READ)
def pool(request: Req, state: State, pool_key: FromPath[str]) -> Response[str]:
    """A pool's prize table with each arm's exact odds, and the change request editor."""
    return render(request, "pool.html", **_pool(state.system, pool_key))


def _payload(edit: str, data: dict[str, str]) -> tuple[str, dict[str, Any]]:
    if edit not in EDITS:
        raise ApiError(400, "bad_request", "unknown edit")
    kind, field = EDITS[edit]
    raw = data.get(field, "").strip()
    if not raw.isascii() or not raw.lstrip("-").isdigit():
        raise ApiError(400, "invalid_number", f"{field} must be a whole number")
    payload: dict[str, Any] = {field: int(raw)}
    if kind.startswith("prize."):
        payload["prize_id"] = data.get("prize_id", "")
    return kind, payload


def propose(
    system: System,
    kind: str,
    target: str,
    payload: dict[str, Any],
    revision: str | None,
    cause: Cause,
) -> ChangeView:
    """Draft a change against the revision the form showed, and submit it for approval (the
    console's editors of pools and missions)."""
    view = system.changes.draft(kind, target, payload, revision, cause)
    # The submit is the request's second command: a request id of its own.
    then = replace(cause, request_id=f"{cause.request_id}:submit")
    return system.changes.submit(uuid.UUID(view.change_id), then)


@post("/pools/{pool_key:str}/changes", sync_to_thread=True, opt=WRITE)
def draft(
    request: Req, state: State, caller: Staff, pool_key: FromPath[str], data: Form
) -> Response[Any]:
    """Draft a change of this pool against the revision the editor showed (a change made by
    someone else since then is refused as stale), and submit it for approval."""
    system: System = state.system
    try:
        cause = caller.cause(data.get("reason", ""))
        kind, payload = _payload(data.get("edit", ""), data)
        submitted = propose(system, kind, pool_key, payload, data.get("revision") or None, cause)
    except (DomainError, ApiError) as error:
        context = _pool(system, pool_key, error=refusal(request, error), form=data)
        return render(request, "pool.html", 422, **context)
    return redirect(request, f"/changes/{submitted.change_id}")


@get("/changes", sync_to_thread=True, opt=READ)
def changes(request: Req, state: State, wanted: Wanted = "submitted") -> Response[str]:
    """Change requests in a state, oldest first (``submitted``: the approval queue)."""
    chosen = wanted if wanted in STATES else None
    page = state.system.read_models.change_requests(chosen, None, None, 100)
    return render(request, "changes.html", rows=page.rows, state=chosen or "", states=STATES)


def _change(system: System, change_id: str, **extra: Any) -> dict[str, Any]:
    try:
        ident = uuid.UUID(change_id)
    except ValueError:
        raise ApiError(404, "not_found", f"change request {change_id} not found") from None
    preview = system.changes.preview(ident)
    if preview.change.kind == ChangeKind.CONFIG_SET.value:
        raise ApiError(404, "not_found", "settings changes are reviewed through the API")
    try:
        prizes = system.pools.summary(preview.change.target).prizes
    except DomainError:  # a pool this request would create
        prizes = []
    names = {p["prize_id"]: p["name"] for p in prizes}
    context = {"p": preview, "c": preview.change, "names": names, "error": None, "form": {}}
    return context | extra


@get("/changes/{change_id:str}", sync_to_thread=True, opt=READ)
def change(request: Req, state: State, change_id: FromPath[str]) -> Response[str]:
    """What publishing would do now: the diff and the exact odds before and after."""
    return render(request, "change.html", **_change(state.system, change_id))


def _transition(
    request: Req, system: System, caller: StaffCaller, change_id: str, action: str, reason: str
) -> Response[Any]:
    changes = system.changes
    try:
        cause = caller.cause(reason)
        act = {
            "withdraw": changes.withdraw,
            "approve": changes.approve,
            "reject": changes.reject,
            "publish": changes.publish,
        }[action]
        act(uuid.UUID(change_id), cause)
    except (DomainError, ApiError, ValueError) as error:
        context = _change(system, change_id, error=refusal(request, error))
        return render(request, "change.html", 422, **context)
    return redirect(request, f"/changes/{change_id}")


@post("/changes/{change_id:str}/withdraw", sync_to_thread=True, opt=WRITE)
def withdraw(
    request: Req, state: State, caller: Staff, change_id: FromPath[str], data: Form
) -> Response[Any]:
    """The maker takes the request back."""
    return _transition(request, state.system, caller, change_id, "withdraw", data.get("reason", ""))


@post("/changes/{change_id:str}/approve", sync_to_thread=True, opt=CHECKER_STEP_UP)
def approve(
    request: Req, state: State, caller: Staff, change_id: FromPath[str], data: Form
) -> Response[Any]:
    """Approve another operator's request (a fresh TOTP code)."""
    return _transition(request, state.system, caller, change_id, "approve", data.get("reason", ""))


@post("/changes/{change_id:str}/reject", sync_to_thread=True, opt=CHECKER)
def reject(
    request: Req, state: State, caller: Staff, change_id: FromPath[str], data: Form
) -> Response[Any]:
    """Refuse the request, saying why."""
    return _transition(request, state.system, caller, change_id, "reject", data.get("reason", ""))


@post("/changes/{change_id:str}/publish", sync_to_thread=True, opt=CHECKER_STEP_UP)
def publish(
    request: Req, state: State, caller: Staff, change_id: FromPath[str], data: Form
) -> Response[Any]:
    """Apply the approved request to the pool (a fresh TOTP code)."""
    return _transition(request, state.system, caller, change_id, "publish", data.get("reason", ""))


ROUTES = [pools, pool, draft, changes, change, withdraw, approve, reject, publish]
