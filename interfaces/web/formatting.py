"""Amounts and times as people read and type them. Money stays an integer in minor units: a
typed amount is parsed digit by digit (never through a float), and shown the same way."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

__all__ = ["FILTERS", "minor_digits", "money", "parse_amount"]

# ISO 4217 currencies without a minor unit (or with three digits); the rest have two.
_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3}
_AMOUNT = re.compile(r"^\s*(\d{1,13})(?:[.,](\d+))?\s*$", re.ASCII)


def minor_digits(currency: str) -> int:
    return _DIGITS.get(currency, 2)


def money(amount_minor: int, currency: str) -> str:
    """12345, "EUR" → "123.45 EUR"."""
    digits = minor_digits(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**digits)
    text = f"{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    return f"{sign}{text} {currency}"


def parse_amount(text: str, currency: str) -> int | None:
    """ "12.5" in EUR → 1250 minor units; None if it is not a positive amount of this
    currency (more decimals than it has, letters, a sign)."""
    match = _AMOUNT.match(text or "")
    if match is None:
        return None
    digits = minor_digits(currency)
    whole, part = str(match.group(1)), str(match.group(2) or "")
    if len(part) > digits:
        return None
    scale: int = 10**digits
    return int(whole) * scale + int(part.ljust(digits, "0") or "0")


def percent(probability: Fraction | float, places: int = 4) -> str:
    return f"{float(probability) * 100:.{places}f} %"


def when(value: str | datetime | None) -> str:
    """An ISO timestamp as "2026-11-25 06:15:04 UTC"."""
    if value is None:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


FILTERS: dict[str, Callable[..., Any]] = {"money": money, "percent": percent, "when": when}
