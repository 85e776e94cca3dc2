"""Console pages: the withdrawal review queue and one withdrawal with its actions — approve or
reject (``withdrawals.review``; from the large-amount threshold two different operators must
approve), submit to the provider and mark paid (``withdrawals.pay``; paying needs a fresh TOTP
code in the form). Every action asks for a reason and calls the same use case as the API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from application.errors import NotFound
from application.results import WithdrawalStatus
from domain.errors import DomainError
from infrastructure.bootstrap import System
from interfaces.admin.console.kit import Form, Req, is_htmx, redirect, refusal, render
from interfaces.admin.schemas import uuid_of
from interfaces.admin.security import Staff, StaffCaller
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

READ = {"permission": "finance.read"}
REVIEW = {"permission": "withdrawals.review"}
PAY = {"permission": "withdrawals.pay"}
PAY_STEP_UP = {"permission": "withdrawals.pay", "step_up": True}
STATES = ("requested", "approved", "submitted", "processing", "paid", "rejected", "cancelled")
State_ = Annotated[str | None, QueryParameter(name="state", max_length=20)]
Cursor = Annotated[str | None, QueryParameter(max_length=64)]
Action = Literal["approve", "reject", "submit", "paid"]
PAGE = 50


@get("/withdrawals", sync_to_thread=True, opt=READ)
def queue(
    request: Req, state: State, status: State_ = "requested", cursor: Cursor = None
) -> Response[str]:
    """Withdrawals in a state, oldest first (the review queue); htmx swaps the rows only."""
    wanted = status if status in STATES else None
    try:
        page = state.system.read_models.withdrawals(wanted, None, cursor, PAGE)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    template = "_withdrawal_rows.html" if is_htmx(request) else "withdrawals.html"
    return render(
        request,
        template,
        rows=page.rows,
        next_cursor=page.next_cursor,
        state=wanted or "",
        states=STATES,
    )


def _detail(system: System, withdrawal_id: str) -> dict[str, Any]:
    """State and approvals from the ledger (an action's effect shows at once); destination,
    approvers and the timeline from the read models, which may be a moment behind."""
    uid = uuid_of(withdrawal_id, "withdrawal")
    try:
        status = system.withdrawals.status(uid)
    except NotFound:
        raise ApiError(404, "not_found", f"withdrawal {withdrawal_id} not found") from None
    timeline = system.read_models.audit(target=str(uid), limit=100).rows
    return {
        "w": status,
        "row": system.read_models.withdrawal(str(uid)),
        "timeline": [row for row in reversed(timeline) if row.action.startswith("Withdrawal.")],
        "error": None,
        "form": {},
    }


@get("/withdrawals/{withdrawal_id:str}", sync_to_thread=True, opt=READ)
def detail(request: Req, state: State, withdrawal_id: FromPath[str]) -> Response[str]:
    """One withdrawal: amount, player, destination, approvals, timeline and the actions."""
    return render(request, "withdrawal.html", **_detail(state.system, withdrawal_id))


def _act(
    request: Req,
    system: System,
    caller: StaffCaller,
    withdrawal_id: str,
    action: Action,
    data: dict[str, str],
) -> Response[Any]:
    uid = uuid_of(withdrawal_id, "withdrawal")
    try:
        cause = caller.cause(data.get("reason", ""))
        found: WithdrawalStatus
        if action == "approve":
            found = system.withdrawals.approve(uid, cause)
        elif action == "reject":
            found = system.withdrawals.reject(uid, cause.reason, cause)
        elif action == "submit":
            ref = data.get("provider_ref", "").strip()
            if not ref or len(ref) > 200:
                raise ApiError(400, "provider_ref_required", "the provider's reference")
            found = system.withdrawals.submit(uid, ref, cause)
        else:
            found = system.withdrawals.mark_paid(uid, cause)
    except (DomainError, ApiError) as error:
        context = _detail(system, withdrawal_id) | {"error": refusal(request, error), "form": data}
        return render(request, "withdrawal.html", 422, **context)
    return redirect(request, f"/withdrawals/{found.withdrawal_id}")


@post("/withdrawals/{withdrawal_id:str}/approve", sync_to_thread=True, opt=REVIEW)
def approve(
    request: Req, state: State, caller: Staff, withdrawal_id: FromPath[str], data: Form
) -> Response[Any]:
    """One approval; from the large-amount threshold a second operator must approve too."""
    return _act(request, state.system, caller, withdrawal_id, "approve", data)


@post("/withdrawals/{withdrawal_id:str}/reject", sync_to_thread=True, opt=REVIEW)
def reject(
    request: Req, state: State, caller: Staff, withdrawal_id: FromPath[str], data: Form
) -> Response[Any]:
    """Refuse the payout: the locked amount returns to the player."""
    return _act(request, state.system, caller, withdrawal_id, "reject", data)


@post("/withdrawals/{withdrawal_id:str}/submit", sync_to_thread=True, opt=PAY)
def submit(
    request: Req, state: State, caller: Staff, withdrawal_id: FromPath[str], data: Form
) -> Response[Any]:
    """The approved payout went to the provider under this reference."""
    return _act(request, state.system, caller, withdrawal_id, "submit", data)


@post("/withdrawals/{withdrawal_id:str}/paid", sync_to_thread=True, opt=PAY_STEP_UP)
def paid(
    request: Req, state: State, caller: Staff, withdrawal_id: FromPath[str], data: Form
) -> Response[Any]:
    """The provider paid: the locked amount leaves the platform (a fresh TOTP code)."""
    return _act(request, state.system, caller, withdrawal_id, "paid", data)


ROUTES = [queue, detail, approve, reject, submit, paid]
