"""Daily finance: money in and out per UTC day (of the event's timestamp), currency and pool.

Lines that belong to no pool (deposits, withdrawals, bonuses, adjustments) have ``pool_key`` ''.
Every handler adds signed deltas through one upsert, so a charge-back lowers the day's deposits
and a returned payout lowers its withdrawals.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

from projections.base import Handler, LedgerProjection, Merge, Writes

__all__ = ["COLUMNS", "FinanceDailyProjection", "finance_deltas"]

COLUMNS = (
    "deposits",
    "withdrawals",
    "draw_revenue",
    "prize_payouts",
    "bonus_granted",
    "adjustments",
)


def finance_deltas(event: Any) -> tuple[str, dict[str, int]]:
    """(pool_key, column -> delta) for one event; an empty dict for events without money."""
    kind = type(event).__qualname__
    pool, deltas = "", dict.fromkeys(COLUMNS, 0)
    amount = getattr(event, "amount_minor", 0)
    if kind == "Wallet.DepositCredited":
        deltas["deposits"] = amount
    elif kind == "Wallet.DepositReversed":
        deltas["deposits"] = -amount
    elif kind == "Wallet.WithdrawalPaidOut":
        deltas["withdrawals"] = amount
    elif kind == "Wallet.PayoutReturned":
        deltas["withdrawals"] = -amount
    elif kind in ("Wallet.BonusCredited", "Wallet.CashRewardCredited"):
        deltas["bonus_granted"] = amount  # marketing spend: bonuses and cash rewards
    elif kind == "Wallet.Adjusted":
        deltas["adjustments"] = event.delta_minor
    elif kind == "Wallet.DrawsSettled":
        pool = event.pool_key
        deltas["draw_revenue"] = event.cost_total
        deltas["prize_payouts"] = event.cash_won + event.bonus_won
    else:
        return pool, {}
    return pool, deltas


def day_of(event: Any) -> str:
    return str(event.timestamp.astimezone(UTC).date().isoformat())


class FinanceDailyProjection(LedgerProjection):
    name = "finance_daily"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {daily} (day TEXT NOT NULL, currency TEXT NOT NULL,"
        " pool_key TEXT NOT NULL, "
        + ", ".join(f"{c} BIGINT NOT NULL" for c in COLUMNS)
        + ", PRIMARY KEY (day, currency, pool_key))"
    ]

    def handlers(self) -> dict[str, Handler]:
        # Signed deltas only: a commutative merge, one statement per batch.
        upsert = Merge(self.t("daily"), ("day", "currency", "pool_key"), COLUMNS, insert=True)

        def on_money(w: Writes, e: Any, _: int) -> None:
            pool, deltas = finance_deltas(e)
            w.merge(upsert, (day_of(e), e.currency, pool), [deltas[c] for c in COLUMNS], ())

        names = [
            "DepositCredited",
            "DepositReversed",
            "WithdrawalPaidOut",
            "PayoutReturned",
            "BonusCredited",
            "CashRewardCredited",
            "Adjusted",
            "DrawsSettled",
        ]
        return {f"Wallet.{n}": on_money for n in names}
