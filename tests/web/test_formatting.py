"""Amounts as typed and shown on the pages: parsed digit by digit into minor units (never a
float), refused when they are not a plain positive amount of the currency."""

from __future__ import annotations

import pytest

from interfaces.web.formatting import money, parse_amount, when


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12", "EUR", 1200),
        ("12.5", "EUR", 1250),
        ("12,05", "EUR", 1205),
        (" 0.01 ", "EUR", 1),
        ("0.29", "EUR", 29),  # 0.29 * 100 is 28.999999999999996 as a float
        ("1234567890123.99", "EUR", 123456789012399),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
    ],
)
def test_a_typed_amount_becomes_exact_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    "text", ["", "abc", "-5", "+5", "1.234", "1e3", "1.", "12 34", "\u0661\u0662"]
)
def test_anything_else_is_not_an_amount(text: str) -> None:
    assert parse_amount(text, "EUR") is None


def test_amounts_are_shown_in_major_units_with_their_currency() -> None:
    assert money(123456, "EUR") == "1,234.56 EUR"
    assert money(-5, "EUR") == "-0.05 EUR"
    assert money(0, "EUR") == "0.00 EUR"
    assert money(500, "JPY") == "500 JPY"


def test_times_are_shown_in_utc() -> None:
    assert when("2026-11-25T08:15:04+02:00") == "2026-11-25 06:15:04 UTC"
    assert when(None) == ""
