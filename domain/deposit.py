"""Deposit: a top-up through a payment provider, with its own stream.

requested → provider_pending → provider_succeeded → credited → reversed (charge-back)
requested | provider_pending → failed
The money itself moves in the Wallet's events; this stream records the provider's side.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import IllegalTransition, InvalidArgument
from domain.money import check_currency_code, check_positive_amount

__all__ = ["Deposit", "DepositState"]


class DepositState(StrEnum):
    REQUESTED = "requested"
    PROVIDER_PENDING = "provider_pending"
    PROVIDER_SUCCEEDED = "provider_succeeded"
    CREDITED = "credited"
    FAILED = "failed"
    REVERSED = "reversed"


_ALLOWED: dict[str, set[DepositState]] = {
    DepositState.PROVIDER_PENDING: {DepositState.REQUESTED},
    DepositState.PROVIDER_SUCCEEDED: {DepositState.REQUESTED, DepositState.PROVIDER_PENDING},
    DepositState.CREDITED: {DepositState.PROVIDER_SUCCEEDED},
    DepositState.FAILED: {DepositState.REQUESTED, DepositState.PROVIDER_PENDING},
    DepositState.REVERSED: {DepositState.CREDITED},
}


class Deposit(Aggregate):
    @staticmethod
    def create_id(player_id: str, request_id: str, **_: Any) -> UUID:
        return ids.deposit_id(player_id, request_id)

    @classmethod
    def request(
        cls, player_id: str, amount_minor: int, currency: str, provider: str, cause: Cause
    ) -> Deposit:
        check_positive_amount(amount_minor)
        check_currency_code(currency)
        if not provider:
            raise InvalidArgument("a deposit needs a payment provider")
        return cls(
            player_id=player_id,
            amount_minor=amount_minor,
            currency=currency,
            provider=provider,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Requested")
    def __init__(
        self,
        player_id: str,
        amount_minor: int,
        currency: str,
        provider: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.player_id = player_id
        self.amount_minor = amount_minor
        self.currency = currency
        self.provider = provider
        self.state = DepositState.REQUESTED.value
        self.provider_ref: str | None = None
        self.failure_reason: str | None = None

    def _move(self, to: DepositState) -> None:
        if DepositState(self.state) not in _ALLOWED[to]:
            raise IllegalTransition(f"deposit cannot go from {self.state} to {to.value}")

    def mark_provider_pending(self, provider_ref: str, cause: Cause) -> None:
        self._move(DepositState.PROVIDER_PENDING)
        if not provider_ref:
            raise InvalidArgument("a provider reference is required")
        self._provider_pending(
            provider_ref=provider_ref, actor=cause.actor, request_id=cause.request_id
        )

    @event("ProviderPending")
    def _provider_pending(self, provider_ref: str, actor: str, request_id: str) -> None:
        self.state = DepositState.PROVIDER_PENDING.value
        self.provider_ref = provider_ref

    def mark_provider_succeeded(self, provider_ref: str, cause: Cause) -> None:
        self._move(DepositState.PROVIDER_SUCCEEDED)
        if not provider_ref:
            raise InvalidArgument("a provider reference is required")
        if self.provider_ref is not None and provider_ref != self.provider_ref:
            raise InvalidArgument("provider reference does not match the pending payment")
        self._provider_succeeded(
            provider_ref=provider_ref, actor=cause.actor, request_id=cause.request_id
        )

    @event("ProviderSucceeded")
    def _provider_succeeded(self, provider_ref: str, actor: str, request_id: str) -> None:
        self.state = DepositState.PROVIDER_SUCCEEDED.value
        self.provider_ref = provider_ref

    def mark_credited(self, cause: Cause) -> None:
        self._move(DepositState.CREDITED)
        self._credited(actor=cause.actor, request_id=cause.request_id)

    @event("Credited")
    def _credited(self, actor: str, request_id: str) -> None:
        self.state = DepositState.CREDITED.value

    def fail(self, reason: str, cause: Cause) -> None:
        self._move(DepositState.FAILED)
        if not reason.strip():
            raise InvalidArgument("a failure needs a reason")
        self._failed(reason=reason.strip(), actor=cause.actor, request_id=cause.request_id)

    @event("Failed")
    def _failed(self, reason: str, actor: str, request_id: str) -> None:
        self.state = DepositState.FAILED.value
        self.failure_reason = reason

    def reverse(self, reason: str, cause: Cause) -> None:
        self._move(DepositState.REVERSED)
        if not reason.strip():
            raise InvalidArgument("a reversal needs a reason")
        self._reversed(reason=reason.strip(), actor=cause.actor, request_id=cause.request_id)

    @event("Reversed")
    def _reversed(self, reason: str, actor: str, request_id: str) -> None:
        self.state = DepositState.REVERSED.value
        self.failure_reason = reason
