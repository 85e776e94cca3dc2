"""What a player sees, built once for both faces of the player app: the REST API returns these
structs as JSON and the web pages render them, so the two can never show different numbers.
Reads only; lookups of another player's deposit, withdrawal or draw answer "not found"."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from application.draws import DrawOutcome
from application.errors import NotFound
from application.results import DepositStatus, WithdrawalStatus
from domain.cause import Cause
from domain.errors import DomainError
from infrastructure.bootstrap import System
from interfaces.player.security import Caller
from interfaces.problems import ApiError

__all__ = [
    "DrawRefused",
    "DrawView",
    "OddsView",
    "PoolView",
    "WalletView",
    "command_cause",
    "draw_view",
    "own_deposit",
    "own_draw",
    "own_withdrawal",
    "parse_uuid",
    "pool_view",
    "wallet_view",
    "written_wallet_view",
]


class WalletView(msgspec.Struct, frozen=True):
    player_id: str
    currency: str
    available: int
    locked: int
    bonus: int
    version: int


class OddsView(msgspec.Struct, frozen=True):
    arm: str  # a prize id, or "miss"
    name: str
    kind: str | None
    reward: int
    weight: int
    numerator: int
    denominator: int
    probability: float


class PoolView(msgspec.Struct, frozen=True):
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    epoch: int
    commitment: str  # SHA-256 of this epoch's server seed, published before any draw uses it
    odds: list[OddsView]  # for the calling player, as the engine will weigh their next draw
    excluded: dict[str, str]  # prize id -> why it cannot be won right now
    expected_payout_per_draw: float


class DrawView(msgspec.Struct, frozen=True):
    draw_id: str
    pool_key: str
    status: str  # settled | refused
    reason: str | None
    requested: int
    cost_total: int
    available_after: int
    bonus_after: int
    results: list[dict[str, Any]]  # per draw: outcome, prize, and the proof to verify it


class DrawRefused(DomainError):
    """A draw the rules refused; charges nothing. ``code`` is the refusal reason."""

    def __init__(self, outcome: DrawOutcome) -> None:
        super().__init__(f"draw refused: {outcome.reason} (draw {outcome.draw_id})")
        self.code = outcome.reason or "draw_refused"


def command_cause(caller: Caller) -> Cause:
    """A non-replayable command (settings, not money): a fresh request id each time."""
    return Cause(caller.actor, f"req-{uuid.uuid4().hex}")


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, "not_found", f"{what} {value} not found") from None


def wallet_view(system: System, player_id: str) -> WalletView:
    """Balances from the read model; the write side answers for a wallet not projected yet."""
    row = system.read_models.balance(player_id)
    if row is not None:
        return WalletView(
            row.player_id, row.currency, row.available, row.locked, row.bonus, row.version
        )
    return written_wallet_view(system, player_id)


def written_wallet_view(system: System, player_id: str) -> WalletView:
    """Balances as the ledger has them now (after a command: read-your-writes)."""
    try:
        b = system.wallets.balances(player_id)
    except NotFound:
        raise ApiError(404, "not_found", "no wallet") from None
    return WalletView(b.player_id, b.currency, b.available, b.locked, b.bonus, b.version)


def pool_view(system: System, pool_key: str, player_id: str) -> PoolView:
    """The pool with each arm's exact current probability for the player (the miss arm
    included), computed by the same code the engine draws with."""
    summary = system.pools.summary(pool_key)
    odds = system.pools.odds(pool_key, player_id)
    prizes = {p["prize_id"]: p for p in summary.prizes}
    rows = [
        OddsView(
            arm=row.arm,
            name=str(prizes.get(row.arm, {}).get("name", "no prize")),
            kind=prizes[row.arm]["kind"] if row.arm in prizes else None,
            reward=int(prizes.get(row.arm, {}).get("reward", 0)),
            weight=row.weight,
            numerator=row.numerator,
            denominator=row.denominator,
            probability=row.probability,
        )
        for row in odds.rows
    ]
    return PoolView(
        pool_key=summary.pool_key,
        name=summary.name,
        currency=summary.currency,
        status=summary.status,
        draw_cost=summary.draw_cost,
        epoch=odds.epoch,
        commitment=odds.commitment,
        odds=rows,
        excluded=odds.excluded,
        expected_payout_per_draw=odds.expected_payout_per_draw,
    )


def draw_view(outcome: DrawOutcome) -> DrawView:
    return DrawView(
        draw_id=outcome.draw_id,
        pool_key=outcome.pool_key,
        status=outcome.status,
        reason=outcome.reason,
        requested=outcome.requested,
        cost_total=outcome.cost_total,
        available_after=outcome.available_after,
        bonus_after=outcome.bonus_after,
        results=outcome.results,
    )


def own_draw(system: System, caller: Caller, draw_id: str) -> DrawOutcome:
    try:
        outcome: DrawOutcome | None = system.draws.get(uuid.UUID(draw_id))
    except (ValueError, NotFound):
        outcome = None
    # Someone else's draw is "not found" too: ids must not reveal what exists.
    if outcome is None or outcome.player_id != caller.player_id:
        raise ApiError(404, "not_found", f"draw {draw_id} not found")
    return outcome


def own_deposit(system: System, caller: Caller, deposit_id: str) -> DepositStatus:
    try:
        deposit: DepositStatus | None = system.deposits.status(parse_uuid(deposit_id, "deposit"))
    except NotFound:
        deposit = None
    if deposit is None or deposit.player_id != caller.player_id:
        raise ApiError(404, "not_found", f"deposit {deposit_id} not found")
    return deposit


def own_withdrawal(system: System, caller: Caller, withdrawal_id: str) -> WithdrawalStatus:
    try:
        found: WithdrawalStatus | None = system.withdrawals.status(
            parse_uuid(withdrawal_id, "withdrawal")
        )
    except NotFound:
        found = None
    if found is None or found.player_id != caller.player_id:
        raise ApiError(404, "not_found", f"withdrawal {withdrawal_id} not found")
    return found
