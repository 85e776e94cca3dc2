"""Payment providers: start a checkout for a deposit, and apply the provider's signed webhooks.

A webhook is applied as one command whose request id is the provider's event id, so a
redelivered event finds the first delivery's receipt and changes nothing, even when the two
deliveries race (the receipt's stream id is the concurrency check). Whether *this* delivery
applied the event is told by a token the first delivery stores in its receipt.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from application.clock import Clock
from application.commands import Commands, Unit
from application.deposits import Deposits
from application.errors import NotFound
from application.results import DepositStatus
from domain import ids
from domain.cause import Cause
from domain.deposit import Deposit, DepositState
from domain.errors import DomainError
from domain.wallet import Wallet

__all__ = [
    "Checkout",
    "PaymentKind",
    "PaymentMismatch",
    "PaymentProvider",
    "Payments",
    "ProviderEvent",
    "UnknownProvider",
    "WebhookOutcome",
    "WebhookRejected",
]

PaymentKind = Literal["payment.succeeded", "payment.failed"]
SUCCEEDED: PaymentKind = "payment.succeeded"
FAILED: PaymentKind = "payment.failed"
MISMATCH_REASON = "payment_mismatch"


class UnknownProvider(DomainError):
    recorded = False
    code = "unknown_provider"


class WebhookRejected(DomainError):
    """The request is not an authentic, fresh, well-formed event of the provider. ``code`` is
    ``webhook_signature_invalid``, ``webhook_timestamp_out_of_tolerance`` or
    ``webhook_malformed``."""

    recorded = False
    code = "webhook_rejected"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PaymentMismatch(DomainError):
    """The provider reports a payment that is not the deposit's (amount, currency, reference
    or provider differ). The deposit is failed, if still open, and never credited."""

    recorded = False
    code = "payment_mismatch"


@dataclass(frozen=True, slots=True)
class Checkout:
    provider: str
    provider_ref: str
    pay_url: str


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    event_id: str
    kind: PaymentKind
    deposit_id: str
    provider_ref: str
    amount_minor: int
    currency: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    deposit_id: str
    state: str
    duplicate: bool


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, deposit_id: str, amount_minor: int, currency: str) -> Checkout:
        """Where the player pays this deposit. The same deposit gets the same checkout."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ProviderEvent:
        """The event in an authentic webhook request, or WebhookRejected."""
        ...


@dataclass(frozen=True, slots=True)
class _Applied:
    """What a webhook's receipt stores: the outcome, plus whether the event did not match the
    deposit and which delivery applied it (``attempt``)."""

    deposit_id: str
    state: str
    duplicate: bool
    mismatch: str | None
    attempt: str


class Payments:
    def __init__(
        self,
        deposits: Deposits,
        providers: Mapping[str, PaymentProvider],
        clock: Clock,
        commands: Commands,
    ) -> None:
        self._deposits = deposits
        self._providers = dict(providers)
        self._clock = clock
        self._commands = commands

    def provider(self, name: str) -> PaymentProvider:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProvider(f"no payment provider {name!r}") from None

    def start(self, deposit: DepositStatus, cause: Cause) -> Checkout:
        """Ask the deposit's provider for a checkout and record the deposit as pending there.
        Starting again returns the same checkout.

        ``cause`` (the player's request) must own the deposit. The pending step is recorded
        under the provider's own cause, one per deposit: the player's request id already names
        the deposit's request receipt, and a second start must replay, not fork.
        """
        current = self._deposit(UUID(deposit.deposit_id), cause)
        checkout = self.provider(current.provider).create_checkout(
            str(current.id), current.amount_minor, current.currency
        )
        already = current.state == DepositState.PROVIDER_PENDING
        if not (already and current.provider_ref == checkout.provider_ref):
            pending = Cause(f"system:payments-{current.provider}", f"checkout:{current.id}")
            self._deposits.mark_provider_pending(current.id, checkout.provider_ref, pending)
        return checkout

    def receive(self, provider: str, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        """Verify a webhook and apply its event exactly once: credit or fail the deposit."""
        event = self.provider(provider).verify(headers, body, self._clock())
        cause = Cause(f"system:payments-{provider}", f"webhook:{event.event_id}")
        attempt = secrets.token_hex(8)

        def decide(unit: Unit) -> _Applied:
            return _apply(unit, provider, event, attempt, cause)

        params = {"provider": provider, **_params_of(event)}
        applied = self._commands.execute("payment_webhook", cause, params, decide, _Applied)
        if applied.mismatch is not None:
            raise PaymentMismatch(applied.mismatch)
        return WebhookOutcome(
            event_id=event.event_id,
            deposit_id=applied.deposit_id,
            state=applied.state,
            duplicate=applied.duplicate or applied.attempt != attempt,
        )

    def _deposit(self, deposit_id: UUID, cause: Cause) -> Deposit:
        deposit = Unit(self._commands.ledger).find(Deposit, deposit_id)
        if deposit is None or (
            cause.actor.startswith("player:") and cause.actor != f"player:{deposit.player_id}"
        ):
            raise NotFound(f"deposit {deposit_id} not found")
        return deposit


def _params_of(event: ProviderEvent) -> dict[str, object]:
    return {
        "event": event.event_id,
        "kind": event.kind,
        "deposit": event.deposit_id,
        "ref": event.provider_ref,
        "amount": event.amount_minor,
        "currency": event.currency,
        "reason": event.reason,
    }


def _apply(unit: Unit, provider: str, event: ProviderEvent, attempt: str, cause: Cause) -> _Applied:
    deposit = unit.get(Deposit, _deposit_uuid(event.deposit_id))
    wallet = unit.get(Wallet, ids.wallet_id(deposit.player_id))
    if deposit.provider != provider:
        raise PaymentMismatch(f"deposit {deposit.id} is not paid through {provider}")
    mismatch = _mismatch(deposit, event)
    state = DepositState(deposit.state)
    duplicate = False
    if mismatch is not None:
        if state not in {DepositState.REQUESTED, DepositState.PROVIDER_PENDING}:
            raise PaymentMismatch(mismatch)
        deposit.fail(MISMATCH_REASON, cause)
        wallet.abandon_deposit(str(deposit.id), cause)
    elif event.kind == SUCCEEDED and state in {DepositState.CREDITED, DepositState.REVERSED}:
        duplicate = True  # another event for the same payment: it was credited once already
    elif event.kind == SUCCEEDED:
        # A failed deposit refuses this (IllegalTransition, kept in the receipt for operators).
        deposit.mark_provider_succeeded(event.provider_ref, cause)
        wallet.credit_deposit(str(deposit.id), deposit.amount_minor, cause)
        deposit.mark_credited(cause)
    elif state == DepositState.FAILED:
        duplicate = True
    else:
        deposit.fail(event.reason or "payment failed at the provider", cause)
        wallet.abandon_deposit(str(deposit.id), cause)
    return _Applied(str(deposit.id), deposit.state, duplicate, mismatch, attempt)


def _deposit_uuid(deposit_id: str) -> UUID:
    try:
        return UUID(deposit_id)
    except ValueError:
        raise NotFound(f"deposit {deposit_id!r} not found") from None


def _mismatch(deposit: Deposit, event: ProviderEvent) -> str | None:
    if event.amount_minor != deposit.amount_minor or event.currency != deposit.currency:
        return (
            f"provider reports {event.amount_minor} {event.currency}, deposit {deposit.id} is "
            f"{deposit.amount_minor} {deposit.currency}"
        )
    if deposit.provider_ref is not None and event.provider_ref != deposit.provider_ref:
        return f"provider reference {event.provider_ref!r} is not the deposit's"
    return None
