"""Deployment-wide money limits, passed into the domain by the application (pure values)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import AmountOutOfRange, InvalidArgument
from domain.money import check_currency_code

__all__ = ["MoneyPolicy"]


@dataclass(frozen=True, slots=True)
class MoneyPolicy:
    """Per-transaction bounds, the daily withdrawal cap and the second-approver threshold."""

    currency: str = "EUR"
    deposit_min: int = 100
    deposit_max: int = 1_000_000
    withdrawal_min: int = 100
    withdrawal_max: int = 1_000_000
    withdrawal_daily_cap: int = 2_000_000
    large_withdrawal_threshold: int = 100_000

    def __post_init__(self) -> None:
        check_currency_code(self.currency)
        if not 0 < self.deposit_min <= self.deposit_max:
            raise InvalidArgument("deposit_min must be positive and at most deposit_max")
        if not 0 < self.withdrawal_min <= self.withdrawal_max:
            raise InvalidArgument("withdrawal_min must be positive and at most withdrawal_max")
        if self.withdrawal_daily_cap < self.withdrawal_min or self.large_withdrawal_threshold <= 0:
            raise InvalidArgument("withdrawal cap and large-amount threshold must be positive")

    def check_deposit_amount(self, amount_minor: int) -> None:
        if not self.deposit_min <= amount_minor <= self.deposit_max:
            raise AmountOutOfRange(
                f"deposit must be between {self.deposit_min} and {self.deposit_max} minor units"
            )

    def check_withdrawal_amount(self, amount_minor: int) -> None:
        if not self.withdrawal_min <= amount_minor <= self.withdrawal_max:
            raise AmountOutOfRange(
                f"withdrawal must be between {self.withdrawal_min} and "
                f"{self.withdrawal_max} minor units"
            )

    def approvals_required(self, amount_minor: int) -> int:
        """Large withdrawals need two different approvers (maker-checker)."""
        return 2 if amount_minor >= self.large_withdrawal_threshold else 1
