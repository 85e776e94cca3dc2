"""Deposit use cases: request, provider pending/succeeded/failed, charge-back."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from application.clock import Clock
from application.commands import Commands, Unit
from application.config import PolicySource, policy_source
from application.errors import NotFound
from application.results import DepositStatus
from domain import ids
from domain.cause import Cause
from domain.deposit import Deposit
from domain.policy import MoneyPolicy
from domain.wallet import Wallet

__all__ = ["Deposits"]


class Deposits:
    def __init__(
        self, commands: Commands, clock: Clock, policy: MoneyPolicy | PolicySource
    ) -> None:
        """``policy``: fixed limits, or where to read the limits in force (runtime config)."""
        self._commands = commands
        self._clock = clock
        self._policy = policy_source(policy)

    def request(
        self, player_id: str, amount_minor: int, currency: str, provider: str, cause: Cause
    ) -> DepositStatus:
        """Create a deposit and reserve room for it under the player's deposit limits."""

        def decide(unit: Unit) -> DepositStatus:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            deposit = Deposit.request(player_id, amount_minor, currency, provider, cause)
            wallet.start_deposit(
                str(deposit.id), amount_minor, currency, self._clock(), self._policy(), cause
            )
            unit.add(deposit)
            return DepositStatus.of(deposit)

        params = {
            "player": player_id,
            "amount": amount_minor,
            "currency": currency,
            "provider": provider,
        }
        return self._commands.execute("request_deposit", cause, params, decide, DepositStatus)

    def status(self, deposit_id: UUID) -> DepositStatus:
        deposit = Unit(self._commands.ledger).find(Deposit, deposit_id)
        if deposit is None:
            raise NotFound(f"deposit {deposit_id} not found")
        return DepositStatus.of(deposit)

    def _on_deposit(
        self,
        name: str,
        deposit_id: UUID,
        cause: Cause,
        extra: dict[str, object],
        act: Callable[[Deposit, Wallet], None],
    ) -> DepositStatus:
        def decide(unit: Unit) -> DepositStatus:
            deposit = unit.get(Deposit, deposit_id)
            wallet = unit.get(Wallet, ids.wallet_id(deposit.player_id))
            act(deposit, wallet)
            return DepositStatus.of(deposit)

        params = {"deposit": str(deposit_id), **extra}
        return self._commands.execute(name, cause, params, decide, DepositStatus)

    def mark_provider_pending(
        self, deposit_id: UUID, provider_ref: str, cause: Cause
    ) -> DepositStatus:
        """The provider accepted the payment for processing."""
        return self._on_deposit(
            "deposit_provider_pending",
            deposit_id,
            cause,
            {"ref": provider_ref},
            lambda d, _w: d.mark_provider_pending(provider_ref, cause),
        )

    def confirm(self, deposit_id: UUID, provider_ref: str, cause: Cause) -> DepositStatus:
        """The provider confirmed the money: credit the wallet, exactly once."""

        def act(deposit: Deposit, wallet: Wallet) -> None:
            deposit.mark_provider_succeeded(provider_ref, cause)
            wallet.credit_deposit(str(deposit.id), deposit.amount_minor, cause)
            deposit.mark_credited(cause)

        return self._on_deposit("confirm_deposit", deposit_id, cause, {"ref": provider_ref}, act)

    def fail(self, deposit_id: UUID, reason: str, cause: Cause) -> DepositStatus:
        """The provider failed the payment: the deposit no longer counts against limits."""

        def act(deposit: Deposit, wallet: Wallet) -> None:
            deposit.fail(reason, cause)
            wallet.abandon_deposit(str(deposit.id), cause)

        return self._on_deposit("fail_deposit", deposit_id, cause, {"reason": reason}, act)

    def reverse(self, deposit_id: UUID, reason: str, cause: Cause) -> DepositStatus:
        """A charge-back: take the credited amount back from the available balance."""

        def act(deposit: Deposit, wallet: Wallet) -> None:
            deposit.reverse(reason, cause)
            wallet.reverse_deposit(str(deposit.id), deposit.amount_minor, cause)

        return self._on_deposit("reverse_deposit", deposit_id, cause, {"reason": reason}, act)
