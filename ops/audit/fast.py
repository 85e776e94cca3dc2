"""The audit's own fast paths for domain functions it calls once per event or per win.

Each computes exactly what its domain function computes (tests/unit/test_audit_fast.py compares
them on generated inputs) and hands anything unusual to the domain function itself, so the
findings, down to the wording of an error, are the domain's.
"""

from __future__ import annotations

from datetime import datetime

from domain.draws import PlayerPlay, exclusion
from domain.pool import WorkingPool
from domain.prizes import PoolControls, Prize

__all__ = ["ANY_PLAYER", "pool_exclusion"]

# A player who passes every player threshold: those depend on the player, not on the pool.
ANY_PLAYER = PlayerPlay(spend_since_win=2**62)


def pool_exclusion(
    prize: Prize, controls: PoolControls, working: WorkingPool, at: datetime
) -> str | None:
    """``weigh([prize], controls, cost, working, ANY_PLAYER, at).excluded.get(prize.prize_id)``
    for a player past every player threshold (``ANY_PLAYER``): why the pool could not have paid
    ``prize`` at ``at`` — the engine's own ``exclusion`` for this one prize, without weighing
    the whole table for every win."""
    return exclusion(prize, controls, working, ANY_PLAYER, at)
