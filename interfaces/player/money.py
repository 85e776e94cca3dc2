"""Money in and out: deposits through a payment provider (with its signed webhook), the
sandbox provider's checkout, payout methods and withdrawals."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from application.errors import NotFound
from application.results import DepositStatus, WithdrawalStatus
from domain.cause import Cause
from infrastructure.bootstrap import System
from infrastructure.sandbox_payments import SandboxProvider
from interfaces.player.security import Caller, MoneyKey, SignedIn
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


def _currency(system: System, given: str | None) -> str:
    return given or system.settings.policy.currency


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, "not_found", f"{what} {value} not found") from None


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
    system: System = state.system
    cause = Cause(caller.actor, idempotency.value)
    deposit = system.deposits.request(
        caller.player_id, data.amount_minor, _currency(system, data.currency), data.provider, cause
    )
    checkout = system.payments.start(deposit, cause)
    current = system.deposits.status(uuid.UUID(deposit.deposit_id))
    return DepositCreated(
        _deposit_out(current),
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


def _own_deposit(system: System, caller: Caller, deposit_id: str) -> DepositStatus:
    try:
        deposit = system.deposits.status(_uuid(deposit_id, "deposit"))
    except NotFound:
        deposit = None
    if deposit is None or deposit.player_id != caller.player_id:
        raise ApiError(404, "not_found", f"deposit {deposit_id} not found")
    return deposit


@get("/deposits/{deposit_id:str}", sync_to_thread=True)
def get_deposit(state: State, caller: SignedIn, deposit_id: FromPath[str]) -> DepositOut:
    """One of your deposits, as the ledger has it now."""
    return _deposit_out(_own_deposit(state.system, caller, deposit_id))


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
    system: System = state.system
    try:
        provider = system.payments.provider("sandbox")
    except Exception:
        raise ApiError(404, "not_found", "the sandbox payment provider is not enabled") from None
    if not isinstance(provider, SandboxProvider):
        raise ApiError(404, "not_found", "the sandbox payment provider is not enabled")
    checkout = provider.checkout(provider_ref)
    _own_deposit(system, caller, checkout.deposit_id)
    # One event per checkout and outcome: paying twice is a duplicate delivery, not a 2nd credit.
    headers, body = provider.complete(
        provider_ref,
        succeeded=data.outcome == "pay",
        event_id=f"evt_{data.outcome}_{uuid.UUID(checkout.deposit_id).hex}",
    )
    outcome = system.payments.receive("sandbox", headers, body)
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
    system: System = state.system
    cause = Cause(caller.actor, idempotency.value)
    large = data.amount_minor >= system.settings.policy.large_withdrawal_threshold
    # A retry of a request that already ran replays its outcome; its one-time code was spent.
    if large and not system.commands.already_ran(cause):
        system.accounts.check_totp(
            caller.account_id, data.totp_code, Cause(caller.actor, f"totp-{idempotency.value}")
        )
    destination = system.payout_methods.destination(caller.player_id, data.payout_method_id)
    status = system.withdrawals.request(
        caller.player_id,
        data.amount_minor,
        _currency(system, data.currency),
        destination,
        cause,
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


def _own_withdrawal(system: System, caller: Caller, withdrawal_id: str) -> WithdrawalStatus:
    try:
        found = system.withdrawals.status(_uuid(withdrawal_id, "withdrawal"))
    except NotFound:
        found = None
    if found is None or found.player_id != caller.player_id:
        raise ApiError(404, "not_found", f"withdrawal {withdrawal_id} not found")
    return found


@get("/withdrawals/{withdrawal_id:str}", sync_to_thread=True)
def get_withdrawal(state: State, caller: SignedIn, withdrawal_id: FromPath[str]) -> WithdrawalOut:
    """One of your withdrawals, as the ledger has it now."""
    return _withdrawal_out(_own_withdrawal(state.system, caller, withdrawal_id))


@post("/withdrawals/{withdrawal_id:str}/cancel", sync_to_thread=True, status_code=200)
def cancel_withdrawal(
    state: State,
    caller: SignedIn,
    idempotency: MoneyKey,
    withdrawal_id: FromPath[str],
) -> WithdrawalOut:
    """Cancel your withdrawal while it is still requested: the amount is unlocked."""
    system: System = state.system
    found = _own_withdrawal(system, caller, withdrawal_id)
    status = system.withdrawals.cancel(
        uuid.UUID(found.withdrawal_id), Cause(caller.actor, idempotency.value)
    )
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
