"""Pool invariants, checked win by win before the pool's batch of draws is applied: no prize won
out of stock or over its rolling budget, and no win past the reserve, the single-payout share,
the hourly payout cap, the big-prize caps or the pool threshold in force at that moment.

The rules are the engine's own (``domain.draws.weigh``, through the audit's equivalent
``ops.audit.fast.pool_exclusion``) evaluated on the independently folded pool; only the player's
own threshold is not the pool's to check here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.pool import PrizePool
from ops.audit.draw_checks import Ref
from ops.audit.fast import pool_exclusion

__all__ = ["check_wins"]

_CHECK_OF = {"out_of_stock": "stock", "over_budget": "budgets"}
_NOT_THE_POOLS = {"below_player_threshold"}


def check_wins(
    pool: PrizePool, event: Any, ref: Ref, offend: Callable[[str, str, Ref], None]
) -> None:
    """``event`` is the pool's DrawsSettled, not yet applied to ``pool``."""
    working = pool.working()
    by_id, controls = working.prizes_by_id, working.controls
    for prize_id in event.wins:
        prize = by_id.get(prize_id)
        if prize is None:
            offend("stock", f"won {prize_id}, which is not in the pool's prize table", ref)
            continue
        reason = pool_exclusion(prize, controls, working, event.at)
        if reason is not None and reason not in _NOT_THE_POOLS:
            offend(
                _CHECK_OF.get(reason, "payout_caps"),
                f"won {prize_id} ({prize.reward}) while it was excluded: {reason}"
                f" (fund {working.fund}, stock {working.stock.get(prize_id)},"
                f" budget used {working.budget_used(prize, event.at)} of {prize.budget})",
                ref,
            )
        working.apply_win(prize, event.at)
