"""Small result structs the use cases return (and receipts store). Plain values only."""

from __future__ import annotations

from dataclasses import dataclass

from domain.deposit import Deposit
from domain.wallet import Wallet
from domain.withdrawal import Withdrawal

__all__ = ["DepositStatus", "WalletBalances", "WithdrawalStatus"]


@dataclass(frozen=True, slots=True)
class WalletBalances:
    player_id: str
    currency: str
    available: int
    locked: int
    bonus: int
    version: int

    @classmethod
    def of(cls, wallet: Wallet) -> WalletBalances:
        return cls(
            player_id=wallet.player_id,
            currency=wallet.currency,
            available=wallet.available,
            locked=wallet.locked,
            bonus=wallet.bonus,
            version=wallet.version,
        )


@dataclass(frozen=True, slots=True)
class DepositStatus:
    deposit_id: str
    player_id: str
    amount_minor: int
    currency: str
    state: str

    @classmethod
    def of(cls, deposit: Deposit) -> DepositStatus:
        return cls(
            deposit_id=str(deposit.id),
            player_id=deposit.player_id,
            amount_minor=deposit.amount_minor,
            currency=deposit.currency,
            state=deposit.state,
        )


@dataclass(frozen=True, slots=True)
class WithdrawalStatus:
    withdrawal_id: str
    player_id: str
    amount_minor: int
    currency: str
    state: str
    approvals_required: int
    approvals: int

    @classmethod
    def of(cls, withdrawal: Withdrawal) -> WithdrawalStatus:
        return cls(
            withdrawal_id=str(withdrawal.id),
            player_id=withdrawal.player_id,
            amount_minor=withdrawal.amount_minor,
            currency=withdrawal.currency,
            state=withdrawal.state,
            approvals_required=withdrawal.approvals_required,
            approvals=len(withdrawal.approvers),
        )
