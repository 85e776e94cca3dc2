"""Money in and out: deposits through a payment provider (with its signed webhook), the
sandbox provider's checkout, payout methods and withdrawals."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from application.results import DepositStatus, WithdrawalStatus
from domain.cause import Cause
from interfaces.player.actions import cancel_withdrawal as cancel_withdrawal_of
from interfaces.player.actions import pay_sandbox_checkout, start_deposit
from interfaces.player.actions import request_withdrawal as request_withdrawal_of
from interfaces.player.security import MoneyKey, SignedIn
from interfaces.player.views import own_deposit, own_withdrawal
from interfaces.problems import ApiError

__all__ = ["router"]

Amount = Annotated[int, msgspec.Meta(ge=1, le=10**15)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Cursor = Annotated[str | None, QueryParameter(max_length=32)]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]


class DepositBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount_minor: Amount
    currency: Currency | None = None  # the deployment currency when omitted
    provider: Literal["sandbox"] = "sandbox"


class DepositOut(msgspec.Struct, frozen=True):
    deposit_id: str
    amount_minor: int
    currency: str
    state: str


class CheckoutOut(msgspec.Struct, frozen=True):
    provider: str
    provider_ref: str
    pay_url: str


class DepositCreated(msgspec.Struct, frozen=True):
    deposit: DepositOut
    checkout: CheckoutOut


class DepositRowOut(msgspec.Struct, frozen=True):
    deposit_id: str
    amount_minor: int
    currency: str
    provider: str
    state: str
    failure_reason: str | None
    requested_at: str
    updated_at: str


class Listing(msgspec.Struct, frozen=True):
    rows: list[Any]
    next_cursor: str | None


class SandboxPayBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    outcome: Literal["pay", "decline"]


class WebhookOut(msgspec.Struct, frozen=True):
    event_id: str
    deposit_id: str
    state: str
    duplicate: bool


class PayoutMethodBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: Literal["bank_account", "crypto_address"]
    details: dict[
        Annotated[str, msgspec.Meta(max_length=40)], Annotated[str, msgspec.Meta(max_length=200)]
    ]
    label: Annotated[str, msgspec.Meta(max_length=80)] = ""


class PayoutMethodOut(msgspec.Struct, frozen=True):
    method_id: str
    kind: str
    label: str
    masked: str
    created_at: Any


class WithdrawalBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount_minor: Amount
    payout_method_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    currency: Currency | None = None
    totp_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")] | None = None


class WithdrawalOut(msgspec.Struct, frozen=True):
    withdrawal_id: str
    amount_minor: int
    currency: str
    state: str
    approvals_required: int
    approvals: int


def _deposit_out(d: DepositStatus) -> DepositOut:
    return DepositOut(d.deposit_id, d.amount_minor, d.currency, d.state)


def _withdrawal_out(w: WithdrawalStatus) -> WithdrawalOut:
    return WithdrawalOut(
        w.withdrawal_id, w.amount_minor, w.currency, w.state, w.approvals_required, w.approvals
    )


# ---- deposits ----------------------------------------------------------------------------------


@post("/deposits", sync_to_thread=True, status_code=201)
def create_deposit(
    state: State,
    caller: SignedIn,
    idempotency: MoneyKey,
    data: JSONBody[DepositBody],
) -> DepositCreated:
    """Start a deposit: it counts against your deposit limits at once and is credited when
    the payment provider confirms it (its signed webhook). Pay at ``checkout.pay_url``."""
    started = start_deposit(
        state.system,
        caller,
        data.amount_minor,
        data.currency,
        data.provider,
        idempotency.value,
    )
    checkout = started.checkout
    return DepositCreated(
        _deposit_out(started.deposit),
        CheckoutOut(checkout.provider, checkout.provider_ref, checkout.pay_url),
    )


@get("/deposits", sync_to_thread=True)
def list_deposits(
    state: State, caller: SignedIn, cursor: Cursor = None, limit: Limit = 50
) -> Listing:
    """Your deposits, oldest first (the payments read model)."""
    try:
        page = state.system.read_models.deposits(None, caller.player_id, cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    rows = [
        DepositRowOut(
            r.deposit_id,
            r.amount,
            r.currency,
            r.provider,
            r.state,
            r.failure_reason,
            r.requested_at,
            r.updated_at,
        )
        for r in page.rows
    ]
    return Listing(rows, page.next_cursor)


@get("/deposits/{deposit_id:str}", sync_to_thread=True)
def get_deposit(state: State, caller: SignedIn, deposit_id: FromPath[str]) -> DepositOut:
    """One of your deposits, as the ledger has it now."""
    return _deposit_out(own_deposit(state.system, caller, deposit_id))


@post("/webhooks/payments/{provider:str}", status_code=200, security=[])
async def payment_webhook(
    request: Request[Any, Any, Any], state: State, provider: FromPath[str]
) -> WebhookOut:
    """A payment provider reports a payment. The signature (HMAC-SHA256 over timestamp and
    body) and the timestamp's tolerance are checked; a repeated delivery changes nothing."""
    import anyio

    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    outcome = await anyio.to_thread.run_sync(
        lambda: state.system.payments.receive(provider, headers, body)
    )
    return WebhookOut(outcome.event_id, outcome.deposit_id, outcome.state, outcome.duplicate)


@post("/sandbox/checkout/{provider_ref:str}", sync_to_thread=True, status_code=200)
def sandbox_pay(
    state: State,
    caller: SignedIn,
    provider_ref: FromPath[str],
    data: JSONBody[SandboxPayBody],
) -> WebhookOut:
    """The sandbox provider's checkout (only when the sandbox provider is enabled): pay or
    decline, and the provider delivers its signed webhook — the same path a real provider's
    webhook takes."""
    outcome = pay_sandbox_checkout(state.system, caller, provider_ref, data.outcome == "pay")
    if outcome is None:
        raise ApiError(404, "not_found", "the sandbox payment provider is not enabled")
    return WebhookOut(outcome.event_id, outcome.deposit_id, outcome.state, outcome.duplicate)


# ---- payout methods ----------------------------------------------------------------------------


def _method_out(m: Any) -> PayoutMethodOut:
    return PayoutMethodOut(m.method_id, m.kind, m.label, m.masked, m.created_at)


@post("/payout-methods", sync_to_thread=True, status_code=201)
def add_payout_method(
    state: State, caller: SignedIn, data: JSONBody[PayoutMethodBody]
) -> PayoutMethodOut:
    """Add a bank account (``details``: iban, holder_name) or a crypto address (network, address).
    Only a masked form is ever shown again."""
    view = state.system.payout_methods.add(
        caller.player_id,
        data.kind,
        dict(data.details),
        data.label,
        Cause(caller.actor, f"req-{uuid.uuid4().hex}"),
    )
    return _method_out(view)


@get("/payout-methods", sync_to_thread=True)
def list_payout_methods(state: State, caller: SignedIn) -> list[PayoutMethodOut]:
    """Your payout methods (masked)."""
    return [_method_out(m) for m in state.system.payout_methods.list(caller.player_id)]


@delete("/payout-methods/{method_id:str}", sync_to_thread=True, status_code=200)
def remove_payout_method(
    state: State, caller: SignedIn, method_id: FromPath[str]
) -> PayoutMethodOut:
    """Remove one of your payout methods (withdrawals already requested keep theirs)."""
    view = state.system.payout_methods.remove(
        caller.player_id, method_id, Cause(caller.actor, f"req-{uuid.uuid4().hex}")
    )
    return _method_out(view)


# ---- withdrawals -------------------------------------------------------------------------------


@post("/withdrawals", sync_to_thread=True, status_code=201)
def request_withdrawal(
    state: State,
    caller: SignedIn,
    idempotency: MoneyKey,
    data: JSONBody[WithdrawalBody],
) -> WithdrawalOut:
    """Withdraw to one of your payout methods: the amount is locked until staff pay it out or
    it is rejected/cancelled. From the large-amount threshold a TOTP code is required."""
    status = request_withdrawal_of(
        state.system,
        caller,
        data.amount_minor,
        data.payout_method_id,
        data.currency,
        data.totp_code,
        idempotency.value,
    )
    return _withdrawal_out(status)


@get("/withdrawals", sync_to_thread=True)
def list_withdrawals(
    state: State, caller: SignedIn, cursor: Cursor = None, limit: Limit = 50
) -> Listing:
    """Your withdrawals, oldest first, with their review state."""
    try:
        page = state.system.read_models.withdrawals(None, caller.player_id, cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    rows = [
        {
            "withdrawal_id": r.withdrawal_id,
            "amount_minor": r.amount,
            "currency": r.currency,
            "state": r.state,
            "reason": r.reason,
            "requested_at": r.requested_at,
            "updated_at": r.updated_at,
        }
        for r in page.rows
    ]
    return Listing(rows, page.next_cursor)


@get("/withdrawals/{withdrawal_id:str}", sync_to_thread=True)
def get_withdrawal(state: State, caller: SignedIn, withdrawal_id: FromPath[str]) -> WithdrawalOut:
    """One of your withdrawals, as the ledger has it now."""
    return _withdrawal_out(own_withdrawal(state.system, caller, withdrawal_id))


@post("/withdrawals/{withdrawal_id:str}/cancel", sync_to_thread=True, status_code=200)
def cancel_withdrawal(
    state: State,
    caller: SignedIn,
    idempotency: MoneyKey,
    withdrawal_id: FromPath[str],
) -> WithdrawalOut:
    """Cancel your withdrawal while it is still requested: the amount is unlocked."""
    status = cancel_withdrawal_of(state.system, caller, withdrawal_id, idempotency.value)
    return _withdrawal_out(status)


router = Router(
    "/",
    route_handlers=[
        create_deposit,
        list_deposits,
        get_deposit,
        payment_webhook,
        sandbox_pay,
        add_payout_method,
        list_payout_methods,
        remove_payout_method,
        request_withdrawal,
        list_withdrawals,
        get_withdrawal,
        cancel_withdrawal,
    ],
    tags=["money"],
)
