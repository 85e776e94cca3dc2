"""Pool invariants, checked win by win before the pool's batch of draws is applied: no prize won
out of stock or over its rolling budget, and no win past the reserve, the single-payout share,
the hourly payout cap, the big-prize caps or the pool threshold in force at that moment.

The rules are the engine's own (``domain.draws.weigh``, through the audit's equivalent
``ops.audit.fast.pool_exclusion``) evaluated on the independently folded pool; only the player's
own threshold is not the pool's to check here.

The wins are checked on a working copy of the pool (``PrizePool.working``), each applied to it
in turn — what applying the batch's event does to the pool. ``apply_checked`` lets the fold
take that copy's fund, stock and windows instead of applying every win a second time, whenever
``event.apply(pool)`` would have done exactly that.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from domain.hot_events import body_of
from domain.pool import PrizePool, WorkingPool
from ops.audit.draw_checks import Ref
from ops.audit.fast import pool_exclusion

__all__ = ["apply_checked", "check_wins"]

_CHECK_OF = {"out_of_stock": "stock", "over_budget": "budgets"}
_NOT_THE_POOLS = {"below_player_threshold"}
_POOL_DRAWS_SETTLED: type = PrizePool.DrawsSettled  # type: ignore[attr-defined]
# The @event method the event's apply calls with the event's attributes of these names.
_PARAMETERS = frozenset(inspect.signature(body_of(PrizePool, "_draws_settled")).parameters)
_ARGUMENTS = _PARAMETERS - {"self"}


def check_wins(
    pool: PrizePool, event: Any, ref: Ref, offend: Callable[[str, str, Ref], None]
) -> WorkingPool | None:
    """``event`` is the pool's DrawsSettled, not yet applied to ``pool``. The working copy with
    every win applied, as ``event.apply(pool)`` applies them; None if a win is of a prize not
    in the table (the event's apply then fails on it)."""
    working = pool.working()
    by_id, controls = working.prizes_by_id, working.controls
    known = True
    for prize_id in event.wins:
        prize = by_id.get(prize_id)
        if prize is None:
            offend("stock", f"won {prize_id}, which is not in the pool's prize table", ref)
            known = False
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
    return working if known else None


def apply_checked(pool: PrizePool, event: Any, working: WorkingPool) -> bool:
    """Apply ``event`` to ``pool`` from ``working``, what ``check_wins`` returned for them
    (the pool unchanged since), as ``event.apply(pool)`` would: PrizePool._draws_settled applies
    the same wins to the same working copy (``WorkingPool.apply_win``) and keeps its fund,
    stock and windows. False, and
    ``pool`` unchanged, unless ``event`` is a PrizePool.DrawsSettled whose apply calls that
    method without a TypeError (every argument among its attributes, no ``self``): the caller
    then applies it, to fail or not as it does."""
    if type(event) is not _POOL_DRAWS_SETTLED or vars(event).keys() & _PARAMETERS != _ARGUMENTS:
        return False
    pool.fund, pool.stock, pool.windows = working.fund, working.stock, working.windows
    return True
