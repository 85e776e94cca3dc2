"""Money: integer minor units with an ISO 4217 currency code. Never a float, never a Decimal."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import CurrencyMismatch, InvalidAmount

__all__ = ["Money", "check_currency_code", "check_positive_amount"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Largest amount accepted anywhere: keeps every sum far inside a Postgres BIGINT and a msgpack
# int64, even after adding up a whole ledger's worth of events.
MAX_AMOUNT_MINOR = 10**15


def check_currency_code(code: str) -> str:
    if not isinstance(code, str) or not _CURRENCY.match(code):
        raise InvalidAmount(f"currency must be a three-letter ISO 4217 code, got {code!r}")
    return code


def check_positive_amount(amount_minor: int) -> int:
    # bool is an int subclass; a True amount is a bug upstream, not one unit of money.
    if type(amount_minor) is not int:
        raise InvalidAmount(f"amount must be an integer in minor units, got {amount_minor!r}")
    if amount_minor <= 0:
        raise InvalidAmount(f"amount must be positive, got {amount_minor}")
    if amount_minor > MAX_AMOUNT_MINOR:
        raise InvalidAmount(f"amount must be at most {MAX_AMOUNT_MINOR}, got {amount_minor}")
    return amount_minor


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents, fen) of one currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise InvalidAmount(f"amount must be an integer, got {self.amount_minor!r}")
        check_currency_code(self.currency)

    def same_currency(self, currency: str) -> None:
        if currency != self.currency:
            raise CurrencyMismatch(f"expected {self.currency}, got {currency}")

    def __str__(self) -> str:
        return f"{self.amount_minor} {self.currency} (minor units)"
