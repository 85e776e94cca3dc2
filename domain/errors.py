"""Domain errors: one class per rule, each with a stable machine-readable ``code``.

The interface layer maps ``code`` to problem+json; the receipt of a rejected command stores it,
so that a retried request is refused with the same code and message.
"""

from __future__ import annotations

__all__ = [
    "AccountFrozen",
    "AmountOutOfRange",
    "ApproverNotDistinct",
    "CurrencyMismatch",
    "DepositLimitExceeded",
    "DomainError",
    "FreezeUnchanged",
    "IdempotencyKeyReused",
    "IllegalTransition",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidArgument",
    "SelfApprovalRefused",
    "UnknownLock",
    "WithdrawalDailyCapExceeded",
]


class DomainError(Exception):
    """A rule refused a command; nothing was recorded."""

    code: str = "domain_error"
    # A refusal that depends on the state is stored in the request's receipt, so a retry gets
    # the same answer. One that depends only on the input (validation) is not stored: bad input
    # changes nothing, and the same input is refused the same way anyway.
    recorded: bool = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(DomainError):
    recorded = False
    code = "invalid_amount"


class InvalidArgument(DomainError):
    recorded = False
    code = "invalid_argument"


class CurrencyMismatch(DomainError):
    recorded = False
    code = "currency_mismatch"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


class AccountFrozen(DomainError):
    code = "account_frozen"


class FreezeUnchanged(DomainError):
    code = "freeze_unchanged"


class AmountOutOfRange(DomainError):
    code = "amount_out_of_range"


class DepositLimitExceeded(DomainError):
    code = "deposit_limit_exceeded"


class WithdrawalDailyCapExceeded(DomainError):
    code = "withdrawal_daily_cap_exceeded"


class IllegalTransition(DomainError):
    code = "illegal_transition"


class ApproverNotDistinct(DomainError):
    code = "approver_not_distinct"


class SelfApprovalRefused(DomainError):
    """Maker-checker: the operator who asked for a change may not approve it."""

    code = "self_approval_refused"


class UnknownLock(DomainError):
    code = "unknown_lock"


class IdempotencyKeyReused(DomainError):
    recorded = False
    """The same request id was used before with different parameters."""

    code = "idempotency_key_reused"
