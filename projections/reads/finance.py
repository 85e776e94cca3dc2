"""Reads over the daily finance read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from projections.finance import COLUMNS, FinanceDailyProjection
from projections.reads.common import ReadBase


@dataclass(frozen=True, slots=True)
class FinanceRow:
    day: str | None  # None in range totals
    currency: str
    pool_key: str | None  # '' for lines of no pool; None in per-day and range totals
    deposits: int
    withdrawals: int
    draw_revenue: int
    prize_payouts: int
    bonus_granted: int
    adjustments: int
    house_result: int  # draw_revenue - prize_payouts - bonus_granted


@dataclass(frozen=True, slots=True)
class FinanceReport:
    rows: list[FinanceRow]  # per day, currency and pool
    days: list[FinanceRow]  # per day and currency, all pools
    totals: list[FinanceRow]  # per currency over the range


class FinanceReads(ReadBase):
    def finance(self, first: date | str, last: date | str) -> FinanceReport:
        """UTC days ``first``..``last`` (inclusive): per pool, per day and over the range."""
        table = self._table(FinanceDailyProjection, "daily")
        rows = self._fetch(
            f"SELECT day, currency, pool_key, {', '.join(COLUMNS)} FROM {table}"
            " WHERE day >= %s AND day <= %s ORDER BY day, currency, pool_key",
            (str(first), str(last)),
        )
        days: dict[tuple[str | None, str], list[int]] = {}
        totals: dict[tuple[str | None, str], list[int]] = {}
        for day, currency, _, *amounts in rows:
            for key, into in (((day, currency), days), ((None, currency), totals)):
                into[key] = [a + b for a, b in zip(into.get(key, [0] * 6), amounts, strict=True)]
        return FinanceReport(
            rows=[_finance(day, cur, pool, amounts) for day, cur, pool, *amounts in rows],
            days=[_finance(d, c, None, a) for (d, c), a in days.items()],
            totals=[_finance(d, c, None, a) for (d, c), a in sorted(totals.items())],
        )


def _finance(day: str | None, currency: str, pool: str | None, amounts: list[int]) -> FinanceRow:
    by = dict(zip(COLUMNS, amounts, strict=True))
    house = by["draw_revenue"] - by["prize_payouts"] - by["bonus_granted"]
    d, w, r, p, b, a = amounts
    return FinanceRow(day, currency, pool, d, w, r, p, b, a, house)
