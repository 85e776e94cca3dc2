"""Property test of the draw engine on the pure domain objects (no database).

Random prize tables (finite and unlimited stock), random controls (reserve, max single payout,
hourly cap, big-prize caps, cooldowns, pity) and random batches of draw requests by 1..4 players
over time. After every batch: stock never negative, the fund never below the reserve, wins of a
prize never more than the stock ever supplied, the hourly cap never exceeded, every posting of
every event sums to zero and mirrors the balances, every request gives exactly one Draw with one
result per nonce used, and no balance is negative. At the end the events replay to the same state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally

from domain.cause import Cause
from domain.draw import Draw, RefusalReason
from domain.draws import DrawRequest, execute_draw
from domain.fairness import MISS, verify_draw
from domain.pool import PrizePool
from domain.postings import postings_for
from domain.prizes import PoolControls, Prize
from domain.wallet import Wallet
from tests.unit.conftest import T0

SEED = "property-server-seed-" + "x" * 43
OP = Cause("operator:prop", "setup")
HOUR_S = 3_600


@dataclass(frozen=True)
class Request:
    player: int
    count: int


@dataclass(frozen=True)
class Batch:
    wait_s: int
    requests: list[Request]
    restock: tuple[int, int] | None  # (prize index, units) before the batch


@dataclass(frozen=True)
class Scenario:
    prizes: list[Prize]
    cost: int
    controls: PoolControls
    fund: int
    deposits: list[tuple[int, int]]  # (available, bonus) per player
    batches: list[Batch]


@st.composite
def prizes(draw: st.DrawFn) -> list[Prize]:
    count = draw(st.integers(1, 6))
    return [
        Prize(
            prize_id=f"p{i}",
            name=f"Prize {i}",
            kind=draw(st.sampled_from(["cash", "bonus"])),
            reward=draw(
                st.one_of(st.integers(1, 150), st.integers(1, 150), st.integers(150, 20_000))
            ),
            weight=draw(st.integers(1, 1_000)),
            stock=draw(st.one_of(st.none(), st.integers(0, 4), st.integers(5, 50))),
            budget=draw(st.sampled_from([None] * 6 + [1, 2_000, 30_000])),
            budget_window_s=draw(st.sampled_from([60, 3_600, 86_400])),
            pool_threshold=draw(st.sampled_from([0] * 8 + [5_000, 500_000])),
            player_threshold=draw(st.sampled_from([0] * 8 + [200, 1_000])),
        )
        for i in range(count)
    ]


@st.composite
def controls(draw: st.DrawFn) -> PoolControls:
    pity = draw(st.one_of(st.none(), st.integers(1, 6)))
    return PoolControls(
        rtp_target_bps=draw(st.integers(1_000, 10_000)),
        miss_weight=draw(st.one_of(st.just(0), st.integers(0, 5_000))),
        min_reserve=draw(st.one_of(st.just(0), st.integers(0, 30_000))),
        max_single_payout_bps=draw(
            st.one_of(st.just(10_000), st.integers(1, 10_000), st.integers(100, 2_000))
        ),
        max_payout_per_hour=draw(st.one_of(st.none(), st.integers(1, 30_000))),
        big_prize_min=draw(st.one_of(st.none(), st.integers(100, 10_000))),
        big_prize_cap_hour=draw(st.one_of(st.none(), st.integers(0, 3))),
        big_prize_cap_day=draw(st.one_of(st.none(), st.integers(0, 5))),
        player_win_cooldown_s=draw(st.sampled_from([0, 0, 30, 600])),
        player_daily_draw_limit=draw(st.one_of(st.none(), st.integers(1, 40))),
        player_draw_cooldown_s=draw(st.sampled_from([0, 0, 0, 10, 120])),
        pity_streak=pity,
        pity_boost_bps=draw(st.integers(0, 10_000)) if pity else 0,
        pity_max_boost_bps=draw(st.integers(0, 10_000)) if pity else 0,
        max_multi_draw=10,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    table = draw(prizes())
    rules = draw(controls())
    players = draw(st.integers(1, 4))
    batches = draw(
        st.lists(
            st.builds(
                Batch,
                wait_s=st.one_of(st.just(0), st.integers(0, 120), st.integers(0, 7_200)),
                requests=st.lists(
                    st.builds(Request, st.integers(0, players - 1), st.integers(1, 10)),
                    min_size=1,
                    max_size=4,
                ),
                restock=st.one_of(
                    st.none(), st.none(), st.tuples(st.integers(0, 5), st.integers(1, 3))
                ),
            ),
            min_size=1,
            max_size=25,
        )
    )
    return Scenario(
        prizes=table,
        cost=draw(st.integers(1, 200)),
        controls=rules,
        fund=rules.min_reserve + draw(st.sampled_from([1, 500, 5_000, 50_000, 500_000])),
        deposits=[
            (draw(st.integers(0, 20_000)), draw(st.integers(0, 2_000))) for _ in range(players)
        ],
        batches=batches,
    )


class Ledger:
    """Every event recorded so far, and the account balances their postings give."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.accounts: Counter[str] = Counter()

    def collect(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                postings = postings_for(event)
                assert sum(p.amount_minor for p in postings) == 0, event
                assert {p.currency for p in postings} <= {"EUR"}
                for p in postings:
                    self.accounts[p.account] += p.amount_minor
                self.events.append(event)


def _check_hourly_cap(payouts: list[tuple[datetime, int]], cap: int | None) -> None:
    """Whatever was paid within any hour up to a payout stays within the cap."""
    if cap is None:
        return
    for at, _ in payouts:
        paid = sum(r for t, r in payouts if at - timedelta(seconds=HOUR_S) <= t <= at)
        assert paid <= cap, (at, paid, cap)


def _replayed(events: list[Any]) -> dict[UUID, Any]:
    aggregates: dict[UUID, Any] = {}
    for event in events:
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
    return aggregates


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios())
def test_draws_keep_every_invariant(scenario: Scenario) -> None:
    ledger = Ledger()
    pool = PrizePool.create("wheel", "Wheel", "EUR", scenario.cost, scenario.controls, SEED, OP)
    for p in scenario.prizes:
        pool.add_prize(p, OP)
    pool.fund_from_marketing(scenario.fund, OP)
    wallets: list[Wallet] = []
    for n, (available, bonus) in enumerate(scenario.deposits):
        wallet = Wallet.open(f"p{n}", "EUR", Cause(f"player:p{n}", "open"))
        if available:
            wallet.credit_deposit("dep", available, Cause("system:psp", f"dep-{n}"))
        if bonus:
            wallet.credit_bonus(bonus, "welcome", Cause("system:promo", f"bonus-{n}"))
        wallets.append(wallet)
    ledger.collect(pool, *wallets)

    reserve = scenario.controls.min_reserve
    supplied = Counter({p.prize_id: p.stock for p in scenario.prizes if p.stock is not None})
    won: Counter[str] = Counter()
    payouts: list[tuple[datetime, int]] = []
    reward = {p.prize_id: p.reward for p in scenario.prizes}
    draws: dict[UUID, Draw] = {}
    at = T0
    for b, batch in enumerate(scenario.batches):
        at += timedelta(seconds=batch.wait_s)
        if batch.restock is not None:
            index, units = batch.restock
            restocked = scenario.prizes[index % len(scenario.prizes)]
            if restocked.stock is not None:
                pool.restock(restocked.prize_id, units, OP)
                supplied[restocked.prize_id] += units
        fund_before = pool.fund
        working = pool.working()
        batch_wins: list[str] = []
        draw_ids: list[str] = []
        settled = 0
        for r, request in enumerate(batch.requests):
            wallet = wallets[request.player]
            nonce_before = wallet.nonce
            cost_before = wallet.available + wallet.bonus
            cause = Cause(f"player:{wallet.player_id}", f"req-{b}-{r}")
            draw, wins = execute_draw(
                pool,
                working,
                wallet,
                DrawRequest(wallet.player_id, "wheel", request.count, "fp"),
                at,
                cause,
            )
            # Exactly one Draw per request, with one result per nonce the wallet used.
            assert draw.id not in draws
            draws[draw.id] = draw
            results = draw.results
            assert len(results) == wallet.nonce - nonce_before <= request.count
            assert [x["nonce"] for x in results] == list(range(nonce_before, wallet.nonce))
            assert [x["prize_id"] for x in results if x["outcome"] == "won"] == wins
            assert draw.cost_total == scenario.cost * len(results)
            assert (draw.status == "settled") == bool(results)
            if len(results) < request.count:
                assert draw.reason in {r.value for r in RefusalReason}
                tally(f"stopped: {draw.reason}")
            else:
                assert draw.reason is None
            assert wallet.available >= 0
            assert wallet.bonus >= 0
            gained = sum(x["reward"] for x in results)
            assert wallet.available + wallet.bonus == cost_before - draw.cost_total + gained
            for x in results:
                assert x["arm"] == MISS or x["arm"] not in x["excluded"]
                for why in set(x["excluded"].values()):
                    tally(f"excluded: {why}")
                assert verify_draw(x, SEED) == x["arm"]
                if x["outcome"] == "won":
                    payouts.append((at, x["reward"]))
            batch_wins += wins
            draw_ids.append(str(draw.id))
            settled += len(results)
            ledger.collect(wallet, draw)
        pool.record_draws(draw_ids, batch_wins, settled, at, OP)
        ledger.collect(pool)
        won.update(batch_wins)
        if batch_wins:
            tally("a batch paid out")

        # The pool recorded exactly what the batch decided.
        assert (pool.fund, pool.stock, pool.windows) == (
            working.fund,
            working.stock,
            working.windows,
        )
        assert pool.fund == fund_before - sum(reward[p] for p in batch_wins)
        assert pool.fund >= reserve
        for prize_id, stock in pool.stock.items():
            if stock is None:
                continue
            assert stock >= 0
            assert won[prize_id] <= supplied[prize_id]
            assert stock == supplied[prize_id] - won[prize_id]
        _check_hourly_cap(payouts, scenario.controls.max_payout_per_hour)
        # Postings sum to zero and mirror every balance.
        assert sum(ledger.accounts.values()) == 0
        assert ledger.accounts["pool:wheel:prize_fund"] == pool.fund
        for wallet in wallets:
            assert ledger.accounts[f"player:{wallet.player_id}:available"] == wallet.available
            assert ledger.accounts[f"player:{wallet.player_id}:bonus"] == wallet.bonus

    replayed = _replayed(ledger.events)
    for aggregate in [pool, *wallets, *draws.values()]:
        assert _state(replayed[aggregate.id]) == _state(aggregate)
