"""Pages: the wallet (balances and the keyset-paginated history), topping up through the
sandbox checkout, and the player's own settings (deposit limits, client seed)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from domain.wallet import LimitPeriod
from infrastructure.bootstrap import System
from interfaces.player.actions import pay_sandbox_checkout, sandbox_provider, start_deposit
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
from interfaces.player.views import command_cause, own_deposit, wallet_view
from interfaces.player.wallet import ClientSeedBody, DepositLimitBody
from interfaces.problems import ApiError
from interfaces.web.formatting import parse_amount

__all__ = ["ROUTES"]

Cursor = Annotated[str | None, QueryParameter(max_length=64)]
PAGE = 20


def _history(system: System, caller: SignedIn, cursor: str | None) -> dict[str, Any]:
    try:
        page = system.read_models.history(caller.player_id, cursor, PAGE)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    return {"rows": page.rows, "next_cursor": page.next_cursor}


@get("/wallet", include_in_schema=False, sync_to_thread=True)
def wallet(request: Req, state: State, caller: SignedIn) -> Response[str]:
    """Balances and the newest postings; "load more" continues with the keyset cursor."""
    system: System = state.system
    return render(
        request,
        "wallet.html",
        wallet=wallet_view(system, caller.player_id),
        history=_history(system, caller, None),
    )


@get("/wallet/history", include_in_schema=False, sync_to_thread=True)
def history(request: Req, state: State, caller: SignedIn, cursor: Cursor = None) -> Response[str]:
    """The next page of postings: a fragment of rows for htmx, else the wallet page."""
    page = _history(state.system, caller, cursor)
    if is_htmx(request):
        return render(request, "_history_rows.html", history=page)
    return render(
        request, "wallet.html", wallet=wallet_view(state.system, caller.player_id), history=page
    )


@get("/deposit", include_in_schema=False, sync_to_thread=True)
def deposit_page(request: Req, state: State, caller: SignedIn) -> Response[str]:
    return render(request, "deposit.html", key=fresh_key(), amount="", error=None)


@post("/deposit", include_in_schema=False, sync_to_thread=True)
def deposit(request: Req, state: State, caller: SignedIn, data: Form) -> Response[Any]:
    """Record the deposit and go to the provider's checkout."""
    system: System = state.system
    amount = parse_amount(data.get("amount", ""), system.settings.policy.currency)
    key = data.get("key", "")
    try:
        if amount is None:
            raise ApiError(400, "invalid_amount", "not an amount")
        started = start_deposit(system, caller, amount, None, "sandbox", money_key(key))
    except RefusalError as error:
        return render(
            request,
            "deposit.html",
            422,
            key=fresh_key(),  # the refused request is recorded under the old key
            amount=data.get("amount", ""),
            error=refusal(request, error),
        )
    return redirect(request, f"/checkout/{started.checkout.provider_ref}")


@get("/checkout/{provider_ref:str}", include_in_schema=False, sync_to_thread=True)
def checkout_page(
    request: Req, state: State, caller: SignedIn, provider_ref: FromPath[str]
) -> Response[str]:
    """The sandbox provider's checkout: pay or decline."""
    system: System = state.system
    provider = sandbox_provider(system)
    if provider is None:
        raise ApiError(404, "not_found", "the sandbox payment provider is not enabled")
    found = provider.checkout(provider_ref)
    deposit = own_deposit(system, caller, found.deposit_id)
    return render(request, "checkout.html", ref=provider_ref, deposit=deposit, outcome=None)


@post("/checkout/{provider_ref:str}", include_in_schema=False, sync_to_thread=True)
def checkout(
    request: Req, state: State, caller: SignedIn, provider_ref: FromPath[str], data: Form
) -> Response[str]:
    """Pay or decline: the same code path as ``POST /api/v1/sandbox/checkout/{ref}``."""
    system: System = state.system
    outcome = pay_sandbox_checkout(system, caller, provider_ref, data.get("outcome") == "pay")
    if outcome is None:
        raise ApiError(404, "not_found", "the sandbox payment provider is not enabled")
    deposit = own_deposit(system, caller, outcome.deposit_id)
    return render(request, "checkout.html", ref=provider_ref, deposit=deposit, outcome=outcome)


def _settings(request: Req, state: State, caller: SignedIn, **extra: Any) -> dict[str, Any]:
    return {
        "play": state.system.wallets.play_settings(caller.player_id),
        "periods": [p.value for p in LimitPeriod],
        "notice": None,
        "error": None,
        **extra,
    }


@get("/settings", include_in_schema=False, sync_to_thread=True)
def settings_page(request: Req, state: State, caller: SignedIn) -> Response[str]:
    """Responsible-play deposit limits and the draw client seed."""
    return render(request, "settings.html", **_settings(request, state, caller))


@post("/settings/limit", include_in_schema=False, sync_to_thread=True)
def set_limit(request: Req, state: State, caller: SignedIn, data: Form) -> Response[Any]:
    """Lowering applies at once; raising or removing after 24 hours (the domain decides)."""
    system: System = state.system
    text = data.get("limit", "").strip()
    try:
        limit = None if not text else parse_amount(text, system.settings.policy.currency)
        if text and limit is None:
            raise ApiError(400, "invalid_amount", "not an amount")
        body = as_struct({"period": data.get("period", ""), "limit_minor": limit}, DepositLimitBody)
        system.wallets.set_deposit_limit(
            caller.player_id, LimitPeriod(body.period), body.limit_minor, command_cause(caller)
        )
    except RefusalError as error:
        context = _settings(request, state, caller, error=refusal(request, error))
        return render(request, "settings.html", 422, **context)
    return redirect(request, "/settings")


@post("/settings/client-seed", include_in_schema=False, sync_to_thread=True)
def set_client_seed(request: Req, state: State, caller: SignedIn, data: Form) -> Response[Any]:
    """The client seed goes into every later draw's randomness."""
    try:
        body = as_struct({"client_seed": data.get("client_seed", "")}, ClientSeedBody)
        state.system.wallets.set_client_seed(
            caller.player_id, body.client_seed, command_cause(caller)
        )
    except RefusalError as error:
        context = _settings(request, state, caller, error=refusal(request, error))
        return render(request, "settings.html", 422, **context)
    return redirect(request, "/settings")


ROUTES = [
    wallet,
    history,
    deposit_page,
    deposit,
    checkout_page,
    checkout,
    settings_page,
    set_limit,
    set_client_seed,
]
