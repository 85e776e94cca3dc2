"""Adjustment: a manual correction of a player's balance under maker-checker.

requested → posted (a different operator approved; the Wallet's ``Adjusted`` event is saved
with the approval) | rejected (by any operator, the maker included: withdrawing their own).
The amount moves only when approved, so one operator alone can never change a balance.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.cause import Cause
from domain.errors import IllegalTransition, InvalidAmount, InvalidArgument, SelfApprovalRefused
from domain.ids import LEDGER_NAMESPACE
from domain.money import MAX_AMOUNT_MINOR
from domain.wallet import Balance, Wallet

__all__ = ["Adjustment", "AdjustmentState", "adjustment_id"]


class AdjustmentState(StrEnum):
    REQUESTED = "requested"
    POSTED = "posted"
    REJECTED = "rejected"


def adjustment_id(maker: str, request_id: str) -> UUID:
    """One adjustment per maker request: a retried request finds the same stream."""
    return uuid5(LEDGER_NAMESPACE, f"adjustment|{maker}|{request_id}")


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidArgument("an adjustment needs a reason")
    return reason.strip()


class Adjustment(Aggregate):
    @staticmethod
    def create_id(actor: str, request_id: str, **_: Any) -> UUID:
        return adjustment_id(actor, request_id)

    @classmethod
    def request(
        cls,
        player_id: str,
        balance: Balance,
        delta_minor: int,
        reason: str,
        at: datetime,
        cause: Cause,
    ) -> Adjustment:
        """An operator asks for ``delta_minor`` (signed) on the player's available or bonus
        balance; nothing moves until another operator approves."""
        if not cause.is_operator:
            raise InvalidArgument("only an operator can ask for an adjustment")
        if type(delta_minor) is not int or delta_minor == 0 or abs(delta_minor) > MAX_AMOUNT_MINOR:
            raise InvalidAmount(f"adjustment must be a non-zero integer, got {delta_minor!r}")
        return cls(
            player_id=player_id,
            balance=balance.value,
            delta_minor=delta_minor,
            reason=_reason(reason),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Requested")
    def __init__(
        self,
        player_id: str,
        balance: str,
        delta_minor: int,
        reason: str,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        self.player_id = player_id
        self.balance = balance
        self.delta_minor = delta_minor
        self.reason = reason
        self.requested_by = actor
        self.state = AdjustmentState.REQUESTED.value
        self.decided_by: str | None = None

    def _check_open(self) -> None:
        if self.state != AdjustmentState.REQUESTED.value:
            raise IllegalTransition(f"adjustment is already {self.state}")

    def approve(self, wallet: Wallet, reason: str, at: datetime, cause: Cause) -> None:
        """A second operator agrees: the wallet is adjusted in the same save (it refuses an
        adjustment its balance cannot absorb)."""
        why = _reason(reason)
        self._check_open()
        if not cause.is_operator:
            raise InvalidArgument("only an operator can approve an adjustment")
        if cause.actor == self.requested_by:
            raise SelfApprovalRefused("a different operator must approve this adjustment")
        if wallet.player_id != self.player_id:
            raise InvalidArgument("the adjustment belongs to another wallet")
        wallet.adjust(Balance(self.balance), self.delta_minor, self.reason, cause)
        self._approved(reason=why, at=at, actor=cause.actor, request_id=cause.request_id)

    @event("Approved")
    def _approved(self, reason: str, at: datetime, actor: str, request_id: str) -> None:
        self.state = AdjustmentState.POSTED.value
        self.decided_by = actor

    def reject(self, reason: str, at: datetime, cause: Cause) -> None:
        why = _reason(reason)
        self._check_open()
        if not cause.is_operator:
            raise InvalidArgument("only an operator can reject an adjustment")
        self._rejected(reason=why, at=at, actor=cause.actor, request_id=cause.request_id)

    @event("Rejected")
    def _rejected(self, reason: str, at: datetime, actor: str, request_id: str) -> None:
        self.state = AdjustmentState.REJECTED.value
        self.decided_by = actor
