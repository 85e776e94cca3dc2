"""The audit's own fast paths for domain functions it calls once per event or per win.

Each computes exactly what its domain function computes (tests/unit/test_audit_fast.py compares
them on generated inputs) and hands anything unusual to the domain function itself, so the
findings, down to the wording of an error, are the domain's.
"""

from __future__ import annotations

from datetime import datetime

from domain.draws import PlayerPlay, exclusion
from domain.pool import DAY_S, HOUR_S, WindowKey, WorkingPool
from domain.prizes import BUCKETS, PoolControls, Prize, bucket_of

__all__ = ["ANY_PLAYER", "apply_win", "pool_exclusion"]

# A player who passes every player threshold: those depend on the player, not on the pool.
ANY_PLAYER = PlayerPlay(spend_since_win=2**62)

_PAYOUT_HOUR = WindowKey.PAYOUT_HOUR.value
_BIG_HOUR = WindowKey.BIG_HOUR.value
_BIG_DAY = WindowKey.BIG_DAY.value


def pool_exclusion(
    prize: Prize, controls: PoolControls, working: WorkingPool, at: datetime
) -> str | None:
    """``weigh([prize], controls, cost, working, ANY_PLAYER, at).excluded.get(prize.prize_id)``
    for a player past every player threshold (``ANY_PLAYER``): why the pool could not have paid
    ``prize`` at ``at`` — the engine's own ``exclusion`` for this one prize, without weighing
    the whole table for every win."""
    return exclusion(prize, controls, working, ANY_PLAYER, at)


def apply_win(working: WorkingPool, prize: Prize, at: datetime, trimmed: dict[str, int]) -> None:
    """``working.apply_win(prize, at)``, for the wins of one batch (all at one ``at``).

    The domain rebuilds a window's bucket dict for every win (``window_add``: the buckets still
    in the window, then the amount added to the current one). Here the first win of the batch
    to touch a window does just that and notes the window's current bucket in ``trimmed`` (one
    dict per batch); the batch's later wins add to that bucket of the rebuilt dict, which at
    the same ``at`` is what rebuilding it again would give."""
    reward = prize.reward
    working.fund -= reward
    stock = working.stock.get(prize.prize_id)
    if stock is not None:
        working.stock[prize.prize_id] = stock - 1
    _add(working, _PAYOUT_HOUR, at, HOUR_S, reward, trimmed)
    if prize.budget is not None:
        _add(working, f"budget:{prize.prize_id}", at, prize.budget_window_s, reward, trimmed)
    if working.controls.is_big(reward):
        _add(working, _BIG_HOUR, at, HOUR_S, 1, trimmed)
        _add(working, _BIG_DAY, at, DAY_S, 1, trimmed)


def _add(
    working: WorkingPool,
    key: str,
    at: datetime,
    window_s: int,
    amount: int,
    trimmed: dict[str, int],
) -> None:
    windows = working.windows
    current = trimmed.get(key)
    buckets = windows.get(key)
    if current is None or buckets is None:  # domain.prizes.window_add
        current = trimmed[key] = bucket_of(at, window_s)
        old = buckets if buckets is not None else {}
        buckets = windows[key] = {k: v for k, v in old.items() if k >= current - BUCKETS}
    buckets[current] = buckets.get(current, 0) + amount
