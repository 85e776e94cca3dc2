"""Finance review: the deposit and withdrawal queues and the actions of their state machines.

Deposits (``deposits.review``): confirm with the provider's settlement reference (credits the
wallet once; step-up), fail, reverse a credited deposit (a charge-back; step-up). Withdrawals:
approve and reject (``withdrawals.review``; from the large-amount threshold two different
operators must approve: ``approver_not_distinct``), then submit to the provider, mark paid
(step-up), failed, or reverse a paid one (step-up) (``withdrawals.pay``). Each action takes a
``reason``; the queues are read models (oldest first, keyset cursors), the actions answer with
the ledger's state after them. A withdrawal's full payout details are shown only to operators
who may pay it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from application.results import DepositStatus, WithdrawalStatus
from domain.payout import PayoutMethodNotFound
from infrastructure.bootstrap import System
from interfaces.admin.schemas import Cursor, Limit, Listing, ReasonBody, uuid_of
from interfaces.admin.security import Staff
from interfaces.problems import ApiError
from projections.queries import DepositRow, WithdrawalRow

__all__ = ["router"]

DepositState = Literal[
    "requested", "provider_pending", "provider_succeeded", "credited", "failed", "reversed"
]
WithdrawalState = Literal[
    "requested",
    "approved",
    "submitted",
    "processing",
    "paid",
    "rejected",
    "cancelled",
    "failed",
    "reversed",
]
Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Player = Annotated[str | None, QueryParameter(max_length=100)]
READ = {"permission": "finance.read"}
REVIEW_DEPOSITS = {"permission": "deposits.review"}
REVIEW_DEPOSITS_STEP_UP = {"permission": "deposits.review", "step_up": True}
REVIEW_WITHDRAWALS = {"permission": "withdrawals.review"}
PAY = {"permission": "withdrawals.pay"}
PAY_STEP_UP = {"permission": "withdrawals.pay", "step_up": True}


class ConfirmBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    settlement_ref: Reference  # the provider's reference of the settled payment
    reason: str = ""


class SubmitBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    provider_ref: Reference  # the payout's reference at the payment provider
    reason: str = ""


class DepositOut(msgspec.Struct, frozen=True):
    deposit_id: str
    player_id: str
    amount_minor: int
    currency: str
    state: str


class WithdrawalOut(msgspec.Struct, frozen=True):
    withdrawal_id: str
    player_id: str
    amount_minor: int
    currency: str
    state: str
    approvals_required: int
    approvals: int


class WithdrawalDetail(msgspec.Struct, frozen=True):
    withdrawal: dict[str, Any]  # the review queue's row
    payout: dict[str, str] | None  # full destination details: only for withdrawals.pay


def _deposit_out(d: DepositStatus) -> DepositOut:
    return DepositOut(d.deposit_id, d.player_id, d.amount_minor, d.currency, d.state)


def _withdrawal_out(w: WithdrawalStatus) -> WithdrawalOut:
    return WithdrawalOut(
        w.withdrawal_id,
        w.player_id,
        w.amount_minor,
        w.currency,
        w.state,
        w.approvals_required,
        w.approvals,
    )


def _row(row: DepositRow | WithdrawalRow) -> dict[str, Any]:
    """A queue row as JSON (amounts named as everywhere else in the API)."""
    out = asdict(row)
    out["amount_minor"] = out.pop("amount")
    return out


def _page(fetch: Any) -> Any:
    try:
        return fetch()
    except ValueError as error:  # a malformed cursor
        raise ApiError(400, "invalid_cursor", str(error)) from None


# ---- deposits ----------------------------------------------------------------------------------


@get("/deposits", sync_to_thread=True, opt=READ)
def deposit_queue(
    state: State,
    deposit_state: Annotated[DepositState | None, QueryParameter(name="state")] = None,
    player: Player = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Listing:
    """Deposits in a state and/or of a player, oldest first (the review queue)."""
    page = _page(lambda: state.system.read_models.deposits(deposit_state, player, cursor, limit))
    return Listing([_row(r) for r in page.rows], page.next_cursor)


@get("/deposits/{deposit_id:str}", sync_to_thread=True, opt=READ)
def deposit_detail(state: State, deposit_id: FromPath[str]) -> dict[str, Any]:
    """One deposit as the review queue has it."""
    row = state.system.read_models.deposit(str(uuid_of(deposit_id, "deposit")))
    if row is None:
        raise ApiError(404, "not_found", f"deposit {deposit_id} not found")
    return _row(row)


@post(
    "/deposits/{deposit_id:str}/confirm",
    sync_to_thread=True,
    status_code=200,
    opt=REVIEW_DEPOSITS_STEP_UP,
)
def confirm_deposit(
    state: State, caller: Staff, deposit_id: FromPath[str], data: JSONBody[ConfirmBody]
) -> DepositOut:
    """The money arrived (checked against the provider's settlement): credit the wallet, once.
    Needs a fresh TOTP code (X-TOTP-Code)."""
    cause = caller.cause(data.reason)
    system: System = state.system
    uid = uuid_of(deposit_id, "deposit")
    return _deposit_out(system.deposits.confirm(uid, data.settlement_ref, cause))


@post(
    "/deposits/{deposit_id:str}/fail",
    sync_to_thread=True,
    status_code=200,
    opt=REVIEW_DEPOSITS,
)
def fail_deposit(
    state: State, caller: Staff, deposit_id: FromPath[str], data: JSONBody[ReasonBody]
) -> DepositOut:
    """The payment will not arrive: the deposit no longer counts against the player's limits."""
    cause = caller.cause(data.reason)
    uid = uuid_of(deposit_id, "deposit")
    return _deposit_out(state.system.deposits.fail(uid, cause.reason, cause))


@post(
    "/deposits/{deposit_id:str}/reverse",
    sync_to_thread=True,
    status_code=200,
    opt=REVIEW_DEPOSITS_STEP_UP,
)
def reverse_deposit(
    state: State, caller: Staff, deposit_id: FromPath[str], data: JSONBody[ReasonBody]
) -> DepositOut:
    """A charge-back: take the credited amount back (never more than the available balance).
    Needs a fresh TOTP code."""
    cause = caller.cause(data.reason)
    uid = uuid_of(deposit_id, "deposit")
    return _deposit_out(state.system.deposits.reverse(uid, cause.reason, cause))


# ---- withdrawals -------------------------------------------------------------------------------


@get("/withdrawals", sync_to_thread=True, opt=READ)
def withdrawal_queue(
    state: State,
    withdrawal_state: Annotated[WithdrawalState | None, QueryParameter(name="state")] = None,
    player: Player = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Listing:
    """Withdrawals in a state and/or of a player, oldest first, with their approvals."""
    rm = state.system.read_models
    page = _page(lambda: rm.withdrawals(withdrawal_state, player, cursor, limit))
    return Listing([_row(r) for r in page.rows], page.next_cursor)


@get("/withdrawals/{withdrawal_id:str}", sync_to_thread=True, opt=READ)
def withdrawal_detail(
    state: State, caller: Staff, withdrawal_id: FromPath[str]
) -> WithdrawalDetail:
    """One withdrawal; with ``withdrawals.pay`` also the full destination to pay it to."""
    system: System = state.system
    row = system.read_models.withdrawal(str(uuid_of(withdrawal_id, "withdrawal")))
    if row is None:
        raise ApiError(404, "not_found", f"withdrawal {withdrawal_id} not found")
    payout = None
    if "withdrawals.pay" in caller.permissions:
        _, _, method_id = row.destination.partition(":")
        try:
            payout = system.payout_methods.details_for_payout(row.player_id, method_id)
        except PayoutMethodNotFound:  # a destination that names no payout method
            payout = None
    return WithdrawalDetail(_row(row), payout)


@post(
    "/withdrawals/{withdrawal_id:str}/approve",
    sync_to_thread=True,
    status_code=200,
    opt=REVIEW_WITHDRAWALS,
)
def approve_withdrawal(
    state: State, caller: Staff, withdrawal_id: FromPath[str], data: JSONBody[ReasonBody]
) -> WithdrawalOut:
    """One approval. From the large-amount threshold a second, different operator must approve
    too (``approver_not_distinct`` for the same one twice)."""
    cause = caller.cause(data.reason)
    uid = uuid_of(withdrawal_id, "withdrawal")
    return _withdrawal_out(state.system.withdrawals.approve(uid, cause))


@post(
    "/withdrawals/{withdrawal_id:str}/reject",
    sync_to_thread=True,
    status_code=200,
    opt=REVIEW_WITHDRAWALS,
)
def reject_withdrawal(
    state: State, caller: Staff, withdrawal_id: FromPath[str], data: JSONBody[ReasonBody]
) -> WithdrawalOut:
    """Refuse the payout: the locked amount returns to the player's available balance."""
    cause = caller.cause(data.reason)
    uid = uuid_of(withdrawal_id, "withdrawal")
    return _withdrawal_out(state.system.withdrawals.reject(uid, cause.reason, cause))


@post("/withdrawals/{withdrawal_id:str}/submit", sync_to_thread=True, status_code=200, opt=PAY)
def submit_withdrawal(
    state: State, caller: Staff, withdrawal_id: FromPath[str], data: JSONBody[SubmitBody]
) -> WithdrawalOut:
    """The approved payout went to the payment provider under this reference."""
    cause = caller.cause(data.reason)
    uid = uuid_of(withdrawal_id, "withdrawal")
    return _withdrawal_out(state.system.withdrawals.submit(uid, data.provider_ref, cause))


@post(
    "/withdrawals/{withdrawal_id:str}/paid",
    sync_to_thread=True,
    status_code=200,
    opt=PAY_STEP_UP,
)
def pay_withdrawal(
    state: State, caller: Staff, withdrawal_id: FromPath[str], data: JSONBody[ReasonBody]
) -> WithdrawalOut:
    """The provider paid: the locked amount leaves the platform. Needs a fresh TOTP code."""
    cause = caller.cause(data.reason)
    uid = uuid_of(withdrawal_id, "withdrawal")
    return _withdrawal_out(state.system.withdrawals.mark_paid(uid, cause))


@post("/withdrawals/{withdrawal_id:str}/failed", sync_to_thread=True, status_code=200, opt=PAY)
def fail_withdrawal(
    state: State, caller: Staff, withdrawal_id: FromPath[str], data: JSONBody[ReasonBody]
) -> WithdrawalOut:
    """The provider could not pay: the locked amount returns to the player."""
    cause = caller.cause(data.reason)
    uid = uuid_of(withdrawal_id, "withdrawal")
    return _withdrawal_out(state.system.withdrawals.fail(uid, cause.reason, cause))


@post(
    "/withdrawals/{withdrawal_id:str}/reverse",
    sync_to_thread=True,
    status_code=200,
    opt=PAY_STEP_UP,
)
def reverse_withdrawal(
    state: State, caller: Staff, withdrawal_id: FromPath[str], data: JSONBody[ReasonBody]
) -> WithdrawalOut:
    """A paid withdrawal came back: credit it to the player's available balance again.
    Needs a fresh TOTP code."""
    cause = caller.cause(data.reason)
    uid = uuid_of(withdrawal_id, "withdrawal")
    return _withdrawal_out(state.system.withdrawals.reverse(uid, cause.reason, cause))


router = Router(
    "/",
    route_handlers=[
        deposit_queue,
        deposit_detail,
        confirm_deposit,
        fail_deposit,
        reverse_deposit,
        withdrawal_queue,
        withdrawal_detail,
        approve_withdrawal,
        reject_withdrawal,
        submit_withdrawal,
        pay_withdrawal,
        fail_withdrawal,
        reverse_withdrawal,
    ],
    tags=["finance review"],
)
