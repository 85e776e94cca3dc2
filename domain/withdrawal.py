"""Withdrawal: a payout to the player's bank or wallet address, with its own stream.

requested → approved → submitted → processing → paid → reversed
requested | approved → rejected;  requested → cancelled (by the player);
submitted | processing → failed.
Funds are locked in the Wallet when requested, released on rejected/cancelled/failed, consumed
on paid and credited back on reversed. Large amounts need two approvals by different operators.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import ApproverNotDistinct, IllegalTransition, InvalidArgument
from domain.money import check_currency_code, check_positive_amount

__all__ = ["Withdrawal", "WithdrawalState"]


class WithdrawalState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    PAID = "paid"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REVERSED = "reversed"

    @property
    def holds_funds(self) -> bool:
        """While open, the amount sits in the wallet's locked balance."""
        return self in _OPEN


_OPEN = {
    WithdrawalState.REQUESTED,
    WithdrawalState.APPROVED,
    WithdrawalState.SUBMITTED,
    WithdrawalState.PROCESSING,
}

_ALLOWED: dict[str, set[WithdrawalState]] = {
    WithdrawalState.APPROVED: {WithdrawalState.REQUESTED},
    WithdrawalState.SUBMITTED: {WithdrawalState.APPROVED},
    WithdrawalState.PROCESSING: {WithdrawalState.SUBMITTED},
    WithdrawalState.PAID: {WithdrawalState.SUBMITTED, WithdrawalState.PROCESSING},
    WithdrawalState.REJECTED: {WithdrawalState.REQUESTED, WithdrawalState.APPROVED},
    WithdrawalState.CANCELLED: {WithdrawalState.REQUESTED},
    WithdrawalState.FAILED: {WithdrawalState.SUBMITTED, WithdrawalState.PROCESSING},
    WithdrawalState.REVERSED: {WithdrawalState.PAID},
}


class Withdrawal(Aggregate):
    @staticmethod
    def create_id(player_id: str, request_id: str, **_: Any) -> UUID:
        return ids.withdrawal_id(player_id, request_id)

    @classmethod
    def request(
        cls,
        player_id: str,
        amount_minor: int,
        currency: str,
        destination: str,
        approvals_required: int,
        cause: Cause,
    ) -> Withdrawal:
        check_positive_amount(amount_minor)
        check_currency_code(currency)
        if not destination:
            raise InvalidArgument("a withdrawal needs a destination")
        if approvals_required not in (1, 2):
            raise InvalidArgument("approvals required must be 1 or 2")
        return cls(
            player_id=player_id,
            amount_minor=amount_minor,
            currency=currency,
            destination=destination,
            approvals_required=approvals_required,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Requested")
    def __init__(
        self,
        player_id: str,
        amount_minor: int,
        currency: str,
        destination: str,
        approvals_required: int,
        actor: str,
        request_id: str,
    ) -> None:
        self.player_id = player_id
        self.amount_minor = amount_minor
        self.currency = currency
        self.destination = destination
        self.approvals_required = approvals_required
        self.approvers: list[str] = []
        self.state = WithdrawalState.REQUESTED.value
        self.reason: str | None = None
        self.provider_ref: str | None = None

    @property
    def holds_funds(self) -> bool:
        return WithdrawalState(self.state).holds_funds

    def _move(self, to: WithdrawalState) -> None:
        if WithdrawalState(self.state) not in _ALLOWED[to]:
            raise IllegalTransition(f"withdrawal cannot go from {self.state} to {to.value}")

    @staticmethod
    def _reason(reason: str) -> str:
        if not reason.strip():
            raise InvalidArgument("a reason is required")
        return reason.strip()

    def approve(self, cause: Cause) -> None:
        """Record one approval; the withdrawal is approved when enough different operators agree."""
        self._move(WithdrawalState.APPROVED)
        if not cause.is_operator:
            raise InvalidArgument("only an operator can approve a withdrawal")
        if cause.actor in self.approvers:
            raise ApproverNotDistinct("this operator has already approved; a different one must")
        self._approval_given(actor=cause.actor, request_id=cause.request_id)

    @event("ApprovalGiven")
    def _approval_given(self, actor: str, request_id: str) -> None:
        self.approvers = [*self.approvers, actor]
        if len(self.approvers) >= self.approvals_required:
            self.state = WithdrawalState.APPROVED.value

    @staticmethod
    def _staff_only(cause: Cause) -> None:
        """Review and payout steps belong to operators and the payment system, never the player."""
        if cause.actor.startswith("player:"):
            raise InvalidArgument("only an operator or the payment system can do this")

    def reject(self, reason: str, cause: Cause) -> None:
        self._move(WithdrawalState.REJECTED)
        self._staff_only(cause)
        self._rejected(reason=self._reason(reason), actor=cause.actor, request_id=cause.request_id)

    @event("Rejected")
    def _rejected(self, reason: str, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.REJECTED.value
        self.reason = reason

    def cancel(self, cause: Cause) -> None:
        """The player withdraws the request while nobody has acted on it yet."""
        self._move(WithdrawalState.CANCELLED)
        if cause.actor != f"player:{self.player_id}":
            raise InvalidArgument("only the requesting player can cancel")
        if self.approvers:
            raise IllegalTransition("an operator has already approved this withdrawal")
        self._cancelled(actor=cause.actor, request_id=cause.request_id)

    @event("Cancelled")
    def _cancelled(self, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.CANCELLED.value

    def submit(self, provider_ref: str, cause: Cause) -> None:
        self._move(WithdrawalState.SUBMITTED)
        self._staff_only(cause)
        if not provider_ref:
            raise InvalidArgument("a provider reference is required")
        self._submitted(provider_ref=provider_ref, actor=cause.actor, request_id=cause.request_id)

    @event("Submitted")
    def _submitted(self, provider_ref: str, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.SUBMITTED.value
        self.provider_ref = provider_ref

    def mark_processing(self, cause: Cause) -> None:
        self._move(WithdrawalState.PROCESSING)
        self._staff_only(cause)
        self._processing(actor=cause.actor, request_id=cause.request_id)

    @event("Processing")
    def _processing(self, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.PROCESSING.value

    def mark_paid(self, cause: Cause) -> None:
        self._move(WithdrawalState.PAID)
        self._staff_only(cause)
        self._paid(actor=cause.actor, request_id=cause.request_id)

    @event("Paid")
    def _paid(self, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.PAID.value

    def fail(self, reason: str, cause: Cause) -> None:
        self._move(WithdrawalState.FAILED)
        self._staff_only(cause)
        self._failed(reason=self._reason(reason), actor=cause.actor, request_id=cause.request_id)

    @event("Failed")
    def _failed(self, reason: str, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.FAILED.value
        self.reason = reason

    def reverse(self, reason: str, cause: Cause) -> None:
        self._move(WithdrawalState.REVERSED)
        self._staff_only(cause)
        self._reversed(reason=self._reason(reason), actor=cause.actor, request_id=cause.request_id)

    @event("Reversed")
    def _reversed(self, reason: str, actor: str, request_id: str) -> None:
        self.state = WithdrawalState.REVERSED.value
        self.reason = reason
