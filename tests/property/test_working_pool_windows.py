"""Property: ``WorkingPool.apply_win`` drops a window's old buckets once per bucket of time and
then adds to the current one in place; batch after batch (seconds apart, each of wins at one
time), win after win, it leaves the fund, stock and windows — bucket order included — that
applying the pure rule ``domain.prizes.window_add`` at every win leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
from hypothesis import given, settings

from domain.pool import DAY_S, HOUR_S, WindowKey, WorkingPool
from domain.prizes import PoolControls, Prize, window_add
from tests.property.test_draw_properties import controls, prizes

_T = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _reference_win(working: WorkingPool, prize: Prize, at: datetime) -> None:
    """What ``apply_win`` did before: a new bucket dict from ``window_add`` at every win."""

    def add(key: str, window_s: int, amount: int) -> None:
        working.windows[key] = window_add(working.windows.get(key, {}), at, window_s, amount)

    working.fund -= prize.reward
    stock = working.stock.get(prize.prize_id)
    if stock is not None:
        working.stock[prize.prize_id] = stock - 1
    add(WindowKey.PAYOUT_HOUR.value, HOUR_S, prize.reward)
    if prize.budget is not None:
        add(f"budget:{prize.prize_id}", prize.budget_window_s, prize.reward)
    if working.controls.is_big(prize.reward):
        add(WindowKey.BIG_HOUR.value, HOUR_S, 1)
        add(WindowKey.BIG_DAY.value, DAY_S, 1)


@settings(max_examples=400, deadline=None)
@given(
    table=prizes(),
    rules=controls(),
    fund=st.integers(0, 600_000),
    batches=st.lists(
        st.tuples(st.integers(0, 200_000), st.lists(st.integers(0, 5), max_size=10)),
        max_size=8,
    ),
)
def test_apply_win_is_the_pure_window_rule(
    table: list[Prize], rules: PoolControls, fund: int, batches: list[tuple[int, list[int]]]
) -> None:
    def working() -> WorkingPool:
        stock = {p.prize_id: p.stock for p in table}
        return WorkingPool(fund=fund, stock=stock, windows={}, controls=rules, prizes=table)

    reference, fast = working(), working()
    for second, indices in sorted(batches, key=lambda b: b[0]):
        at = _T + timedelta(seconds=second)
        for index in indices:
            prize = table[index % len(table)]
            _reference_win(reference, prize, at)
            fast.apply_win(prize, at)
            assert (fast.fund, fast.stock, fast.windows) == (
                reference.fund,
                reference.stock,
                reference.windows,
            )
            assert [list(w) for w in fast.windows.values()] == [
                list(w) for w in reference.windows.values()
            ]
