"""Pages: payout methods and withdrawals (request with a TOTP code from the large-amount
threshold, cancel while requested, the status timeline)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from domain.payout_details import NETWORKS
from infrastructure.bootstrap import System
from interfaces.player.actions import cancel_withdrawal, request_withdrawal
from interfaces.player.money import PayoutMethodBody, WithdrawalBody
from interfaces.player.pages.common import (
    Form,
    RefusalError,
    Req,
    as_struct,
    fresh_key,
    is_htmx,
    money_key,
    redirect,
    refusal,
    render,
)
from interfaces.player.security import SignedIn
from interfaces.player.views import command_cause, own_withdrawal
from interfaces.problems import ApiError
from interfaces.web.formatting import parse_amount

__all__ = ["ROUTES"]

Cursor = Annotated[str | None, QueryParameter(max_length=32)]
DETAILS = {"bank_account": ("iban", "holder_name"), "crypto_address": ("network", "address")}
PAGE = 50


def _page(
    state: State, caller: SignedIn, cursor: str | None = None, **extra: Any
) -> dict[str, Any]:
    system: System = state.system
    try:
        page = system.read_models.withdrawals(None, caller.player_id, cursor, PAGE)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    context: dict[str, Any] = {
        "rows": page.rows,
        "next_cursor": page.next_cursor,
        "methods": system.payout_methods.list(caller.player_id),
        "threshold": system.config.money_policy().large_withdrawal_threshold,
        "networks": NETWORKS,
        "key": fresh_key(),
        "form": {},
        "error": None,
        "method_error": None,
    }
    return context | extra


@get("/withdrawals", include_in_schema=False, sync_to_thread=True)
def withdrawals(
    request: Req, state: State, caller: SignedIn, cursor: Cursor = None
) -> Response[str]:
    """Your withdrawals with their state, your payout methods, and the request form."""
    return render(request, "withdrawals.html", **_page(state, caller, cursor))


@post("/payout-methods", include_in_schema=False, sync_to_thread=True)
def add_method(request: Req, state: State, caller: SignedIn, data: Form) -> Response[Any]:
    """Add a bank account or a crypto address (validated and masked by the domain)."""
    kind = data.get("kind", "")
    details = {name: data.get(name, "") for name in DETAILS.get(kind, ())}
    try:
        body = as_struct(
            {"kind": kind, "details": details, "label": data.get("label", "")}, PayoutMethodBody
        )
        state.system.payout_methods.add(
            caller.player_id, body.kind, dict(body.details), body.label, command_cause(caller)
        )
    except RefusalError as error:
        context = _page(state, caller, method_error=refusal(request, error))
        return render(request, "withdrawals.html", 422, **context)
    return redirect(request, "/withdrawals")


@post("/payout-methods/{method_id:str}/remove", include_in_schema=False, sync_to_thread=True)
def remove_method(
    request: Req, state: State, caller: SignedIn, method_id: FromPath[str]
) -> Response[Any]:
    """Remove a payout method (withdrawals already requested keep theirs)."""
    try:
        state.system.payout_methods.remove(caller.player_id, method_id, command_cause(caller))
    except RefusalError as error:
        context = _page(state, caller, method_error=refusal(request, error))
        return render(request, "withdrawals.html", 422, **context)
    return redirect(request, "/withdrawals")


@post("/withdrawals", include_in_schema=False, sync_to_thread=True)
def withdraw(request: Req, state: State, caller: SignedIn, data: Form) -> Response[Any]:
    """Request a withdrawal: the amount is locked until it is paid, rejected or cancelled."""
    system: System = state.system
    amount = parse_amount(data.get("amount", ""), system.settings.policy.currency)
    try:
        if amount is None:
            raise ApiError(400, "invalid_amount", "not an amount")
        body = as_struct(
            {
                "amount_minor": amount,
                "payout_method_id": data.get("method", ""),
                "totp_code": data.get("totp") or None,
            },
            WithdrawalBody,
        )
        status = request_withdrawal(
            system,
            caller,
            body.amount_minor,
            body.payout_method_id,
            None,
            body.totp_code,
            money_key(data.get("key", "")),
        )
    except RefusalError as error:
        # A new key: the refused request is recorded under the old one and would replay.
        context = _page(state, caller, form=data, error=refusal(request, error))
        return render(request, "withdrawals.html", 422, **context)
    return redirect(request, f"/withdrawals/{status.withdrawal_id}")


def _timeline(system: System, withdrawal_id: str) -> list[Any]:
    """Every state change of the withdrawal, oldest first (from the audit trail)."""
    page = system.read_models.audit(target=withdrawal_id, limit=100)
    return [row for row in reversed(page.rows) if row.action.startswith("Withdrawal.")]


@get("/withdrawals/{withdrawal_id:str}", include_in_schema=False, sync_to_thread=True)
def withdrawal(
    request: Req, state: State, caller: SignedIn, withdrawal_id: FromPath[str]
) -> Response[str]:
    """One withdrawal: its state, approvals and the timeline of what happened to it (htmx,
    refreshing after a live notice: the detail fragment only)."""
    system: System = state.system
    found = own_withdrawal(system, caller, withdrawal_id)
    return render(
        request,
        "_withdrawal_detail.html" if is_htmx(request) else "withdrawal.html",
        withdrawal=found,
        timeline=_timeline(system, found.withdrawal_id),
        key=fresh_key(),
        error=None,
    )


@post("/withdrawals/{withdrawal_id:str}/cancel", include_in_schema=False, sync_to_thread=True)
def cancel(
    request: Req, state: State, caller: SignedIn, withdrawal_id: FromPath[str], data: Form
) -> Response[Any]:
    """Cancel while still requested: the amount is unlocked."""
    system: System = state.system
    try:
        cancel_withdrawal(system, caller, withdrawal_id, money_key(data.get("key", "")))
    except RefusalError as error:
        found = own_withdrawal(system, caller, withdrawal_id)
        return render(
            request,
            "withdrawal.html",
            422,
            withdrawal=found,
            timeline=_timeline(system, found.withdrawal_id),
            key=fresh_key(),
            error=refusal(request, error),
        )
    return redirect(request, f"/withdrawals/{withdrawal_id}")


ROUTES = [withdrawals, add_method, remove_method, withdraw, withdrawal, cancel]
