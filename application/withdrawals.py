"""Withdrawal use cases: request (locks funds), approvals, cancel, reject, submit, pay, fail."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from application.clock import Clock
from application.commands import Commands, Unit
from application.config import PolicySource, policy_source
from application.errors import NotFound
from application.results import WithdrawalStatus
from domain import ids
from domain.cause import Cause
from domain.policy import MoneyPolicy
from domain.wallet import Wallet
from domain.withdrawal import Withdrawal

__all__ = ["Withdrawals"]


class Withdrawals:
    def __init__(
        self, commands: Commands, clock: Clock, policy: MoneyPolicy | PolicySource
    ) -> None:
        """``policy``: fixed limits, or where to read the limits in force (runtime config)."""
        self._commands = commands
        self._clock = clock
        self._policy = policy_source(policy)

    def request(
        self, player_id: str, amount_minor: int, currency: str, destination: str, cause: Cause
    ) -> WithdrawalStatus:
        """Lock the amount (available → locked) and open a withdrawal for review."""

        def decide(unit: Unit) -> WithdrawalStatus:
            policy = self._policy()  # once: both rules read the same limits
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            withdrawal = Withdrawal.request(
                player_id,
                amount_minor,
                currency,
                destination,
                policy.approvals_required(amount_minor),
                cause,
            )
            wallet.lock_for_withdrawal(
                str(withdrawal.id), amount_minor, currency, self._clock(), policy, cause
            )
            unit.add(withdrawal)
            return WithdrawalStatus.of(withdrawal)

        params = {
            "player": player_id,
            "amount": amount_minor,
            "currency": currency,
            "to": destination,
        }
        return self._commands.execute("request_withdrawal", cause, params, decide, WithdrawalStatus)

    def status(self, withdrawal_id: UUID) -> WithdrawalStatus:
        withdrawal = Unit(self._commands.ledger).find(Withdrawal, withdrawal_id)
        if withdrawal is None:
            raise NotFound(f"withdrawal {withdrawal_id} not found")
        return WithdrawalStatus.of(withdrawal)

    def _on_withdrawal(
        self,
        name: str,
        withdrawal_id: UUID,
        cause: Cause,
        extra: dict[str, object],
        act: Callable[[Withdrawal, Wallet], None],
    ) -> WithdrawalStatus:
        def decide(unit: Unit) -> WithdrawalStatus:
            withdrawal = unit.get(Withdrawal, withdrawal_id)
            wallet = unit.get(Wallet, ids.wallet_id(withdrawal.player_id))
            act(withdrawal, wallet)
            return WithdrawalStatus.of(withdrawal)

        params = {"withdrawal": str(withdrawal_id), **extra}
        return self._commands.execute(name, cause, params, decide, WithdrawalStatus)

    def approve(self, withdrawal_id: UUID, cause: Cause) -> WithdrawalStatus:
        """One operator's approval; large amounts need a second, different operator."""
        return self._on_withdrawal(
            "approve_withdrawal", withdrawal_id, cause, {}, lambda w, _: w.approve(cause)
        )

    def reject(self, withdrawal_id: UUID, reason: str, cause: Cause) -> WithdrawalStatus:
        """Refuse the payout and return the locked funds."""

        def act(withdrawal: Withdrawal, wallet: Wallet) -> None:
            withdrawal.reject(reason, cause)
            wallet.release_lock(str(withdrawal.id), cause)

        return self._on_withdrawal(
            "reject_withdrawal", withdrawal_id, cause, {"reason": reason}, act
        )

    def cancel(self, withdrawal_id: UUID, cause: Cause) -> WithdrawalStatus:
        """The player takes back a request nobody has acted on yet."""

        def act(withdrawal: Withdrawal, wallet: Wallet) -> None:
            withdrawal.cancel(cause)
            wallet.release_lock(str(withdrawal.id), cause)

        return self._on_withdrawal("cancel_withdrawal", withdrawal_id, cause, {}, act)

    def submit(self, withdrawal_id: UUID, provider_ref: str, cause: Cause) -> WithdrawalStatus:
        """Hand the approved payout to the payment provider."""
        return self._on_withdrawal(
            "submit_withdrawal",
            withdrawal_id,
            cause,
            {"ref": provider_ref},
            lambda w, _: w.submit(provider_ref, cause),
        )

    def mark_processing(self, withdrawal_id: UUID, cause: Cause) -> WithdrawalStatus:
        return self._on_withdrawal(
            "withdrawal_processing", withdrawal_id, cause, {}, lambda w, _: w.mark_processing(cause)
        )

    def mark_paid(self, withdrawal_id: UUID, cause: Cause) -> WithdrawalStatus:
        """The provider paid out: the locked amount leaves the platform."""

        def act(withdrawal: Withdrawal, wallet: Wallet) -> None:
            withdrawal.mark_paid(cause)
            wallet.consume_lock(str(withdrawal.id), cause)

        return self._on_withdrawal("pay_withdrawal", withdrawal_id, cause, {}, act)

    def fail(self, withdrawal_id: UUID, reason: str, cause: Cause) -> WithdrawalStatus:
        """The provider could not pay: return the locked funds."""

        def act(withdrawal: Withdrawal, wallet: Wallet) -> None:
            withdrawal.fail(reason, cause)
            wallet.release_lock(str(withdrawal.id), cause)

        return self._on_withdrawal("fail_withdrawal", withdrawal_id, cause, {"reason": reason}, act)

    def reverse(self, withdrawal_id: UUID, reason: str, cause: Cause) -> WithdrawalStatus:
        """A paid withdrawal came back: credit the amount to available again."""

        def act(withdrawal: Withdrawal, wallet: Wallet) -> None:
            withdrawal.reverse(reason, cause)
            wallet.refund_reversed_payout(str(withdrawal.id), withdrawal.amount_minor, cause)

        return self._on_withdrawal(
            "reverse_withdrawal", withdrawal_id, cause, {"reason": reason}, act
        )
