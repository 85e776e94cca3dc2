"""Console pages: the deposit queue and one deposit with its actions — confirm against the
provider's settlement reference (credits the wallet once; a fresh TOTP code), fail, or reverse
a credited one (a charge-back; a fresh TOTP code). ``deposits.review``; every action asks for a
reason and calls the same use case as the API."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from application.errors import NotFound
from application.results import DepositStatus
from domain.errors import DomainError
from infrastructure.bootstrap import System
from interfaces.admin.console.kit import Form, Req, is_htmx, redirect, refusal, render
from interfaces.admin.schemas import uuid_of
from interfaces.admin.security import Staff, StaffCaller
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

READ = {"permission": "finance.read"}
REVIEW = {"permission": "deposits.review"}
REVIEW_STEP_UP = {"permission": "deposits.review", "step_up": True}
STATES = ("requested", "provider_pending", "provider_succeeded", "credited", "failed", "reversed")
OPEN = ("requested", "provider_pending", "provider_succeeded")
Wanted = Annotated[str | None, QueryParameter(name="state", max_length=20)]
Cursor = Annotated[str | None, QueryParameter(max_length=64)]


@get("/deposits", sync_to_thread=True, opt=READ)
def queue(
    request: Req, state: State, wanted: Wanted = "provider_succeeded", cursor: Cursor = None
) -> Response[str]:
    """Deposits in a state, oldest first; htmx swaps the rows only."""
    chosen = wanted if wanted in STATES else None
    try:
        page = state.system.read_models.deposits(chosen, None, cursor, 50)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    template = "_deposit_rows.html" if is_htmx(request) else "deposits.html"
    context = {"rows": page.rows, "next_cursor": page.next_cursor, "states": STATES}
    return render(request, template, state=chosen or "", **context)


def _detail(system: System, deposit_id: str) -> dict[str, Any]:
    uid = uuid_of(deposit_id, "deposit")
    try:
        status = system.deposits.status(uid)
    except NotFound:
        raise ApiError(404, "not_found", f"deposit {deposit_id} not found") from None
    timeline = system.read_models.audit(target=str(uid), limit=100).rows
    return {
        "d": status,
        "row": system.read_models.deposit(str(uid)),
        "timeline": [row for row in reversed(timeline) if row.action.startswith("Deposit.")],
        "open": OPEN,
        "error": None,
        "form": {},
    }


@get("/deposits/{deposit_id:str}", sync_to_thread=True, opt=READ)
def detail(request: Req, state: State, deposit_id: FromPath[str]) -> Response[str]:
    """One deposit: state from the ledger, provider and timeline, and the actions."""
    return render(request, "deposit.html", **_detail(state.system, deposit_id))


def _act(
    request: Req,
    system: System,
    caller: StaffCaller,
    deposit_id: str,
    action: str,
    data: dict[str, str],
) -> Response[Any]:
    uid = uuid_of(deposit_id, "deposit")
    try:
        cause = caller.cause(data.get("reason", ""))
        done: DepositStatus
        if action == "confirm":
            ref = data.get("settlement_ref", "").strip()
            if not ref or len(ref) > 200:
                raise ApiError(400, "settlement_ref_required", "the provider's settlement")
            done = system.deposits.confirm(uid, ref, cause)
        elif action == "fail":
            done = system.deposits.fail(uid, cause.reason, cause)
        else:
            done = system.deposits.reverse(uid, cause.reason, cause)
    except (DomainError, ApiError) as error:
        context = _detail(system, deposit_id) | {"error": refusal(request, error), "form": data}
        return render(request, "deposit.html", 422, **context)
    return redirect(request, f"/deposits/{done.deposit_id}")


@post("/deposits/{deposit_id:str}/confirm", sync_to_thread=True, opt=REVIEW_STEP_UP)
def confirm(
    request: Req, state: State, caller: Staff, deposit_id: FromPath[str], data: Form
) -> Response[Any]:
    """The money arrived (checked against the provider's settlement): credit it, once."""
    return _act(request, state.system, caller, deposit_id, "confirm", data)


@post("/deposits/{deposit_id:str}/fail", sync_to_thread=True, opt=REVIEW)
def fail(
    request: Req, state: State, caller: Staff, deposit_id: FromPath[str], data: Form
) -> Response[Any]:
    """The payment will not arrive."""
    return _act(request, state.system, caller, deposit_id, "fail", data)


@post("/deposits/{deposit_id:str}/reverse", sync_to_thread=True, opt=REVIEW_STEP_UP)
def reverse(
    request: Req, state: State, caller: Staff, deposit_id: FromPath[str], data: Form
) -> Response[Any]:
    """A charge-back: take the credited amount back."""
    return _act(request, state.system, caller, deposit_id, "reverse", data)


ROUTES = [queue, detail, confirm, fail, reverse]
