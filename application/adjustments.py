"""Manual balance adjustments under maker-checker: one operator asks, a different one approves
(and only then does the wallet change, in the same save), or anyone rejects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import NotFound
from domain import ids
from domain.adjustment import Adjustment
from domain.cause import Cause
from domain.wallet import Balance, Wallet

__all__ = ["AdjustmentStatus", "Adjustments"]


@dataclass(frozen=True, slots=True)
class AdjustmentStatus:
    adjustment_id: str
    player_id: str
    balance: str
    delta_minor: int
    reason: str
    state: str
    requested_by: str
    decided_by: str | None

    @classmethod
    def of(cls, adjustment: Adjustment) -> AdjustmentStatus:
        return cls(
            adjustment_id=str(adjustment.id),
            player_id=adjustment.player_id,
            balance=adjustment.balance,
            delta_minor=adjustment.delta_minor,
            reason=adjustment.reason,
            state=adjustment.state,
            requested_by=adjustment.requested_by,
            decided_by=adjustment.decided_by,
        )


class Adjustments:
    def __init__(self, commands: Commands, clock: Clock) -> None:
        self._commands = commands
        self._clock = clock

    def request(
        self, player_id: str, balance: Balance, delta_minor: int, reason: str, cause: Cause
    ) -> AdjustmentStatus:
        """Ask for a signed correction of the player's balance; it waits for a second
        operator."""

        def decide(unit: Unit) -> AdjustmentStatus:
            unit.get(Wallet, ids.wallet_id(player_id))  # the player must exist
            adjustment = Adjustment.request(
                player_id, balance, delta_minor, reason, self._clock(), cause
            )
            unit.add(adjustment)
            return AdjustmentStatus.of(adjustment)

        params = {
            "player": player_id,
            "balance": balance.value,
            "delta": delta_minor,
            "reason": reason,
        }
        return self._commands.execute("request_adjustment", cause, params, decide, AdjustmentStatus)

    def status(self, adjustment_id: UUID) -> AdjustmentStatus:
        adjustment = Unit(self._commands.ledger).find(Adjustment, adjustment_id)
        if adjustment is None:
            raise NotFound(f"adjustment {adjustment_id} not found")
        return AdjustmentStatus.of(adjustment)

    def _decide(
        self,
        name: str,
        adjustment_id: UUID,
        reason: str,
        cause: Cause,
        act: Callable[[Adjustment, Unit, datetime], None],
    ) -> AdjustmentStatus:
        def decide(unit: Unit) -> AdjustmentStatus:
            adjustment = unit.get(Adjustment, adjustment_id)
            act(adjustment, unit, self._clock())
            return AdjustmentStatus.of(adjustment)

        params = {"adjustment": str(adjustment_id), "reason": reason}
        return self._commands.execute(name, cause, params, decide, AdjustmentStatus)

    def approve(self, adjustment_id: UUID, reason: str, cause: Cause) -> AdjustmentStatus:
        """A different operator agrees: the wallet is adjusted with the approval, atomically."""

        def act(adjustment: Adjustment, unit: Unit, at: datetime) -> None:
            wallet = unit.get(Wallet, ids.wallet_id(adjustment.player_id))
            adjustment.approve(wallet, reason, at, cause)

        return self._decide("approve_adjustment", adjustment_id, reason, cause, act)

    def reject(self, adjustment_id: UUID, reason: str, cause: Cause) -> AdjustmentStatus:
        """Drop the request; the balance never changed."""
        return self._decide(
            "reject_adjustment",
            adjustment_id,
            reason,
            cause,
            lambda adjustment, _, at: adjustment.reject(reason, at, cause),
        )
