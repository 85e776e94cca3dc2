"""The audit's own fast paths for domain functions it calls once per event or per win.

Each computes exactly what its domain function computes (tests/unit/test_audit_fast.py compares
them on generated inputs) and hands anything unusual to the domain function itself, so the
findings, down to the wording of an error, are the domain's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.draws import PlayerPlay, exclusion
from domain.pool import WorkingPool
from domain.postings import Posting, postings_for
from domain.prizes import PoolControls, Prize

__all__ = ["ANY_PLAYER", "Move", "moves", "pool_exclusion", "settle_postings"]

# A player who passes every player threshold: those depend on the player, not on the pool.
ANY_PLAYER = PlayerPlay(spend_since_win=2**62)

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
    ``prize`` at ``at`` — the engine's own ``exclusion`` for this one prize, without weighing
    the whole table for every win."""
    return exclusion(prize, controls, working, ANY_PLAYER, at)
