"""The auditor's pool checks (``ops.audit.pool_checks``): a batch's wins checked on a working
copy of the pool, then that copy kept as the pool (``apply_checked``), give the findings, the
pool and the failures that checking and then applying the event (``event.apply``) give, on
generated pools and batches, tampered ones included."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from domain.cause import Cause
from domain.errors import DomainError
from domain.pool import PrizePool
from domain.prizes import PoolControls, Prize
from ops.audit.pool_checks import apply_checked, check_wins
from tests.property.test_draw_properties import controls, prizes

_T = datetime(2026, 1, 1, 12, tzinfo=UTC)
_OP = Cause("operator:alice", "given")
_DRAWS_SETTLED: type = PrizePool.DrawsSettled  # type: ignore[attr-defined]
_REF = (7, "pool", "PrizePool.DrawsSettled")


def _pool(table: list[Prize], rules: PoolControls, fund: int) -> PrizePool | None:
    try:
        pool = PrizePool.create("wheel", "Wheel", "EUR", rules.cost_min, rules, "s" * 64, _OP)
        for prize in table:
            pool.add_prize(prize, _OP)
    except DomainError:  # a table the pool refuses: nothing to check
        return None
    if fund:
        pool.fund_from_marketing(fund, _OP)
    return pool


def _batch(pool: PrizePool, wins: list[str], at: datetime, changes: dict[str, Any]) -> Any:
    """The pool's next DrawsSettled for ``wins``, its attributes changed by ``changes``
    (``None``: left out)."""
    state: dict[str, Any] = {
        "originator_id": pool.id,
        "originator_version": pool.version + 1,
        "timestamp": at,
        "draw_ids": [f"d{i}" for i in range(max(1, len(wins)))],
        "wins": wins,
        "draws": len(wins),
        "at": at,
        "actor": "system:draw-desk",
        "request_id": "r",
    }
    state.update(changes)
    event: Any = object.__new__(_DRAWS_SETTLED)
    object.__setattr__(event, "__dict__", {k: v for k, v in state.items() if v is not None})
    return event


def _outcome(pool: PrizePool, event: Any, once: bool) -> tuple[Any, ...]:
    """What the fold records and keeps: offences, the apply's failure, the pool's state."""
    offences: list[tuple[str, str, Any]] = []
    try:
        working = check_wins(pool, event, _REF, lambda *offence: offences.append(offence))
    except Exception as error:  # the audit stops (a batch without ``at``, say)
        return offences, repr(error), (pool.fund, pool.stock, pool.windows)
    failure = None
    if not (once and working is not None and apply_checked(pool, event, working)):
        try:
            event.apply(pool)
        except Exception as error:
            failure = repr(error)
    return offences, failure, (pool.fund, pool.stock, pool.windows)


_TAMPERED = st.sampled_from(
    [{}, {}, {}, {"actor": None}, {"at": None}, {"draws": None}, {"self": 1}, {"extra": 1}]
)


@settings(max_examples=300, deadline=None)
@given(
    table=prizes(),
    rules=controls(),
    fund=st.integers(0, 600_000),
    batches=st.lists(
        st.tuples(
            st.lists(st.one_of(st.integers(0, 5), st.just(-1)), max_size=8),
            st.integers(0, 9_000),
            _TAMPERED,
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_wins_applied_once_are_wins_applied_twice(
    table: list[Prize],
    rules: PoolControls,
    fund: int,
    batches: list[tuple[list[int], int, dict[str, Any]]],
) -> None:
    """Batch after batch (each on the pool as the last one left it): the same findings, the
    same failure to apply, the same fund, stock and windows."""
    pool = _pool(table, rules, fund)
    if pool is None:
        return
    twice, once = pool, copy.deepcopy(pool)
    for indices, second, changes in sorted(batches, key=lambda b: b[1]):
        wins = [table[i % len(table)].prize_id if i >= 0 else "ghost" for i in indices]
        at = _T + timedelta(seconds=second)
        expected = _outcome(twice, _batch(twice, wins, at, changes), once=False)
        assert _outcome(once, _batch(once, wins, at, changes), once=True) == expected
