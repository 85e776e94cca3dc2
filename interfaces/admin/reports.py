"""Finance reports (``finance.read``): money in and out per UTC day, currency and pool; each
pool's declared RTP against what its odds promise and what it actually paid; the trial balance
of the whole ledger. The day and pool reports also come as CSV."""

from __future__ import annotations

from dataclasses import asdict, astuple, fields
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Router, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Response

from domain.errors import DomainError
from infrastructure.bootstrap import System
from interfaces.admin.schemas import csv_download, csv_text
from interfaces.problems import ApiError
from projections.queries import FinanceReport, FinanceRow

__all__ = ["PoolRtp", "pool_rtp", "router"]

From = Annotated[date, QueryParameter(name="from", description="first UTC day, inclusive")]
To = Annotated[date, QueryParameter(name="to", description="last UTC day, inclusive")]
READ = {"permission": "finance.read"}
MAX_DAYS = 366


class PoolRtp(msgspec.Struct, frozen=True):
    pool_key: str
    name: str
    currency: str
    status: str
    draws: int
    cost_total: int  # staked
    payout_total: int  # paid out in prizes
    declared_rtp_bps: int  # the pool's RTP target
    expected_rtp_bps: int | None  # what the next draw's exact odds pay per amount staked
    observed_rtp_bps: int | None  # paid out per amount staked so far (None before a draw)
    observed_minus_declared_bps: int | None


class TrialBalanceOut(msgspec.Struct, frozen=True):
    accounts: list[dict[str, Any]]  # account, currency, balance
    totals: dict[str, int]  # per currency: zero when the books balance
    balanced: bool


def _report(system: System, first: date, last: date) -> FinanceReport:
    if last < first or (last - first).days >= MAX_DAYS:
        raise ApiError(400, "invalid_range", f"'to' is on or after 'from', {MAX_DAYS} days at most")
    return system.read_models.finance(first, last)


@get("/finance/daily", sync_to_thread=True, opt=READ)
def daily(state: State, first: From, last: To) -> dict[str, list[dict[str, Any]]]:
    """Per day, currency and pool (``rows``; '' is money of no pool), per day (``days``) and
    over the range (``totals``): deposits, withdrawals, draw revenue, prize payouts, bonuses,
    adjustments and the house result."""
    report = _report(state.system, first, last)
    return {
        "rows": [asdict(r) for r in report.rows],
        "days": [asdict(r) for r in report.days],
        "totals": [asdict(r) for r in report.totals],
    }


@get("/finance/daily.csv", sync_to_thread=True, opt=READ)
def daily_csv(state: State, first: From, last: To) -> Response[str]:
    """The per day, currency and pool rows of ``/finance/daily`` as CSV."""
    report = _report(state.system, first, last)
    header = [f.name for f in fields(FinanceRow)]
    return csv_download(csv_text(header, [astuple(r) for r in report.rows]), "finance-daily.csv")


def pool_rtp(system: System) -> list[PoolRtp]:
    """Each pool's declared, expected and observed RTP (also the console's finance page)."""
    rows = []
    for p in system.read_models.pools():
        try:
            odds = system.pools.odds(p.pool_key)
            expected = round(odds.expected_payout_per_draw * 10_000 / odds.draw_cost)
        except DomainError:  # a pool that cannot draw now promises nothing
            expected = None
        observed = p.observed_rtp_bps
        rows.append(
            PoolRtp(
                pool_key=p.pool_key,
                name=p.name,
                currency=p.currency,
                status=p.status,
                draws=p.draws,
                cost_total=p.cost_total,
                payout_total=p.payout_total,
                declared_rtp_bps=p.rtp_target_bps,
                expected_rtp_bps=expected,
                observed_rtp_bps=observed,
                observed_minus_declared_bps=None
                if observed is None
                else observed - p.rtp_target_bps,
            )
        )
    return rows


@get("/finance/pools", sync_to_thread=True, opt=READ)
def pools_rtp(state: State) -> list[PoolRtp]:
    """Each pool's RTP: declared (its target), expected (its exact odds now) and observed
    (prizes paid per amount staked), in basis points."""
    return pool_rtp(state.system)


@get("/finance/pools.csv", sync_to_thread=True, opt=READ)
def pools_rtp_csv(state: State) -> Response[str]:
    """``/finance/pools`` as CSV."""
    rows = pool_rtp(state.system)
    header = list(PoolRtp.__struct_fields__)
    values = [[getattr(r, f) for f in header] for r in rows]
    return csv_download(csv_text(header, values), "pools-rtp.csv")


@get("/finance/trial-balance", sync_to_thread=True, opt=READ)
def trial_balance(state: State) -> TrialBalanceOut:
    """Every ledger account's balance per currency; the totals are zero when the books balance."""
    tb = state.system.read_models.trial_balance()
    accounts = [{"account": a, "currency": c, "balance": b} for a, c, b in tb.accounts]
    return TrialBalanceOut(accounts, dict(tb.totals), tb.balanced)


router = Router(
    "/",
    route_handlers=[daily, daily_csv, pools_rtp, pools_rtp_csv, trial_balance],
    tags=["finance reports"],
)
