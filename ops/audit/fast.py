"""The audit's own fast paths for domain functions it calls once per event or per win.

Each computes exactly what its domain function computes (tests/unit/test_audit_fast.py compares
them on generated inputs) and hands anything unusual to the domain function itself, so the
findings, down to the wording of an error, are the domain's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.draws import PlayerPlay
from domain.pool import DAY_S, HOUR_S, WindowKey, WorkingPool
from domain.postings import Posting, postings_for
from domain.prizes import BPS, PoolControls, Prize

__all__ = ["ANY_PLAYER", "Move", "moves", "pool_exclusion", "settle_postings"]

# A player who passes every player threshold: those depend on the player, not on the pool.
ANY_PLAYER = PlayerPlay(spend_since_win=2**62)
_PAYOUT_HOUR = WindowKey.PAYOUT_HOUR.value
_BIG_HOUR = WindowKey.BIG_HOUR.value
_BIG_DAY = WindowKey.BIG_DAY.value

Move = tuple[str, int, str]  # (account, amount_minor, currency): one posting


def moves(postings: Sequence[Posting]) -> list[Move]:
    return [(p.account, p.amount_minor, p.currency) for p in postings]


def settle_postings(event: Any) -> list[Move]:
    """``moves(postings_for(event))`` for a Wallet.DrawsSettled, in the domain's order.

    Attributes of an unexpected type (or missing) are left to ``postings_for``, which names
    the first such attribute in its TypeError (or AttributeError)."""
    state = event.__dict__
    pid = state.get("player_id")
    currency = state.get("currency")
    key = state.get("pool_key")
    from_bonus = state.get("from_bonus")
    from_available = state.get("from_available")
    cost = state.get("cost_total")
    cash = state.get("cash_won")
    bonus = state.get("bonus_won")
    if not (
        type(pid) is str
        and type(currency) is str
        and type(key) is str
        and type(from_bonus) is int
        and type(from_available) is int
        and type(cost) is int
        and type(cash) is int
        and type(bonus) is int
    ):
        return moves(postings_for(event))
    available = f"player:{pid}:available"
    bonus_account = f"player:{pid}:bonus"
    candidates = (
        (bonus_account, -from_bonus, currency),
        (available, -from_available, currency),
        ("house:revenue", cost, currency),
        (f"pool:{key}:prize_fund", -(cash + bonus), currency),
        (available, cash, currency),
        (bonus_account, bonus, currency),
    )
    return [m for m in candidates if m[1]]


def pool_exclusion(
    prize: Prize, controls: PoolControls, working: WorkingPool, at: datetime
) -> str | None:
    """``weigh([prize], controls, cost, working, ANY_PLAYER, at).excluded.get(prize.prize_id)``
    for a player past every player threshold (``ANY_PLAYER``): why the pool could not have paid
    ``prize`` at ``at``, the checks taken in the engine's order and stopped at the first."""
    return _supply_exclusion(prize, working, at) or _payout_exclusion(prize, controls, working, at)


def _supply_exclusion(prize: Prize, working: WorkingPool, at: datetime) -> str | None:
    stock = working.stock.get(prize.prize_id)
    if stock is not None and stock <= 0:
        return "out_of_stock"
    budget = prize.budget
    if budget is not None and working.budget_used(prize, at) + prize.reward > budget:
        return "over_budget"
    if working.fund < prize.pool_threshold:
        return "below_pool_threshold"
    if ANY_PLAYER.spend_since_win < prize.player_threshold:
        return "below_player_threshold"
    return None


def _payout_exclusion(
    prize: Prize, controls: PoolControls, working: WorkingPool, at: datetime
) -> str | None:
    reward, fund = prize.reward, working.fund
    if fund - reward < controls.min_reserve:
        return "reserve"
    if reward * BPS > fund * controls.max_single_payout_bps:
        return "max_single_payout"
    cap = controls.max_payout_per_hour
    if cap is not None and working.window(_PAYOUT_HOUR, at, HOUR_S) + reward > cap:
        return "hourly_payout_cap"
    if controls.is_big(reward):
        cap_hour, cap_day = controls.big_prize_cap_hour, controls.big_prize_cap_day
        if cap_hour is not None and working.window(_BIG_HOUR, at, HOUR_S) >= cap_hour:
            return "big_prize_cap_hour"
        if cap_day is not None and working.window(_BIG_DAY, at, DAY_S) >= cap_day:
            return "big_prize_cap_day"
    return None
