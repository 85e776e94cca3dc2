"""The real pick over a million draws matches the declared odds, and the RTP stays on target.

Each table is weighed by ``domain.draws.weigh`` (unlimited stock, so the odds never change) and
then drawn N times by ``domain.fairness.pick`` with a fixed server seed and nonces 0..N-1.
Chi-square goodness of fit at 99 % (critical value by Wilson-Hilferty, no scipy) and the observed
RTP inside the 99 % confidence interval of the expected RTP.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from math import sqrt

import pytest

from domain.cause import Cause
from domain.draws import PlayerPlay, Weights, weigh
from domain.fairness import MISS, pick
from domain.pool import PrizePool
from domain.prizes import BPS, PoolControls, Prize
from tests.unit.conftest import T0

N = 1_000_000
SERVER_SEED = "statistics-server-seed-" + "0" * 41
CLIENT_SEED = "statistics-client"
Z_99_ONE_SIDED = 2.3263
Z_99_TWO_SIDED = 2.5758
OP = Cause("operator:stats", "setup")


def chi_square_critical_99(k: int) -> float:
    """Wilson-Hilferty approximation of the 99th percentile of chi-square with k d.o.f."""
    return k * (1 - 2 / (9 * k) + Z_99_ONE_SIDED * sqrt(2 / (9 * k))) ** 3


@dataclass(frozen=True)
class Table:
    name: str
    prizes: list[Prize]
    cost: int
    controls: PoolControls
    player: PlayerPlay


def _prize(prize_id: str, kind: str, reward: int, weight: int) -> Prize:
    return Prize(prize_id, prize_id, kind, reward, weight)


TABLES = [
    # The RTP target alone sizes the miss arm.
    Table(
        "rtp-sized",
        [
            _prize("cent", "cash", 20, 400),
            _prize("chip", "bonus", 150, 120),
            _prize("note", "cash", 1_000, 15),
            _prize("jackpot", "cash", 25_000, 1),
        ],
        cost=100,
        controls=PoolControls(rtp_target_bps=9_200),
        player=PlayerPlay(),
    ),
    # A declared miss weight, shrunk by pity for a player on a long losing streak down to (and
    # not below) the RTP floor.
    Table(
        "declared-miss-with-pity",
        [
            _prize("small", "bonus", 200, 3_000),
            _prize("medium", "cash", 1_500, 500),
            _prize("large", "cash", 20_000, 20),
        ],
        cost=250,
        controls=PoolControls(
            rtp_target_bps=8_800,
            miss_weight=6_000,
            pity_streak=5,
            pity_boost_bps=500,
            pity_max_boost_bps=3_000,
        ),
        player=PlayerPlay(streak=12, spend_since_win=3_000),
    ),
]


@dataclass(frozen=True)
class Simulation:
    table: Table
    weights: Weights
    counts: dict[str, int]


def _weights(table: Table) -> Weights:
    pool = PrizePool.create("stats", "Stats", "EUR", table.cost, table.controls, SERVER_SEED, OP)
    for p in table.prizes:
        pool.add_prize(p, OP)
    pool.fund_from_marketing(10**15, OP)
    return weigh(
        pool.prize_table(), pool.controls, pool.draw_cost, pool.working(), table.player, T0
    )


@pytest.fixture(scope="module", params=TABLES, ids=[t.name for t in TABLES])
def simulation(request: pytest.FixtureRequest) -> Simulation:
    table: Table = request.param
    weights = _weights(table)
    arms = weights.arms
    counts: Counter[str] = Counter()
    for nonce in range(N):
        counts[pick(arms, SERVER_SEED, CLIENT_SEED, nonce).arm] += 1
    return Simulation(table, weights, dict(counts))


def test_the_critical_value_approximation_matches_the_tables():
    # 99th percentiles of chi-square from printed tables.
    for k, exact in [(1, 6.635), (2, 9.210), (3, 11.345), (4, 13.277), (10, 23.209)]:
        assert chi_square_critical_99(k) == pytest.approx(exact, rel=0.01)


def test_the_tables_are_what_the_test_means(simulation):
    weights = simulation.weights
    assert weights.excluded == {}
    assert weights.arms[-1][0] == MISS
    assert len(weights.arms) == len(simulation.table.prizes) + 1
    if simulation.table.player.streak:
        # 6_000 less 30 % would be 4_200: below the floor, so the floor holds.
        assert weights.pity_boost_bps == 3_000
        assert weights.arms[-1] == (MISS, weights.miss_floor)
        assert weights.miss_floor == 4_435
    assert sum(simulation.counts.values()) == N


def test_outcomes_fit_the_declared_odds(simulation):
    arms = simulation.weights.arms
    total = simulation.weights.total
    statistic = 0.0
    for arm, weight in arms:
        expected = N * weight / total
        assert expected >= 5  # the chi-square approximation holds
        statistic += (simulation.counts.get(arm, 0) - expected) ** 2 / expected
    assert set(simulation.counts) <= {arm for arm, _ in arms}
    critical = chi_square_critical_99(len(arms) - 1)
    assert statistic < critical, (statistic, critical, simulation.counts)


def test_observed_rtp_is_within_the_confidence_interval_of_the_expected(simulation):
    table, weights = simulation.table, simulation.weights
    reward = {p.prize_id: p.reward for p in table.prizes} | {MISS: 0}
    total = weights.total
    mean = sum(Fraction(w, total) * reward[arm] for arm, w in weights.arms)
    second_moment = sum(Fraction(w, total) * reward[arm] ** 2 for arm, w in weights.arms)
    sigma = sqrt(second_moment - mean**2)
    expected_rtp = float(mean) / table.cost
    half_width = Z_99_TWO_SIDED * sigma / sqrt(N) / table.cost

    paid = sum(count * reward[arm] for arm, count in simulation.counts.items())
    observed_rtp = paid / (N * table.cost)

    assert abs(observed_rtp - expected_rtp) <= half_width, (observed_rtp, expected_rtp)
    assert mean <= Fraction(table.cost * table.controls.rtp_target_bps, BPS)
    # The miss arm is sized tightly: one unit of miss weight less would break the target.
    if weights.arms[-1][1] == weights.miss_floor:
        weighted = sum(w * reward[arm] for arm, w in weights.arms)
        assert Fraction(weighted, total - 1) > Fraction(
            table.cost * table.controls.rtp_target_bps, BPS
        )
