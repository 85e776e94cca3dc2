"""What several benchmarks set up and measure alike: the bench pool and latency percentiles."""

from __future__ import annotations

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System

__all__ = ["BENCH_PRIZES", "DEFAULT_URL", "DRAW_COST", "OP", "open_bench_pool", "percentile"]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
OP = "operator:bench"
DRAW_COST = 100
# A rare stocked cash prize and a common bonus prize (the row-lock baseline uses the same table).
BENCH_PRIZES = (
    Prize("big", "Big", "cash", 5_000, 1, stock=1_000),
    Prize("small", "Small", "bonus", 100, 40),
)


def open_bench_pool(system: System, key: str) -> None:
    """An open pool (draw cost 100) with a rare stocked cash prize and a common bonus prize,
    funded far beyond what a benchmark can pay out."""
    system.pools.create(key, key, DRAW_COST, PoolControls(), Cause(OP, f"create-{key}"))
    for n, prize in enumerate(BENCH_PRIZES, start=1):
        system.pools.add_prize(key, prize, Cause(OP, f"p{n}-{key}"))
    system.pools.fund(key, 10**12, Cause(OP, f"fund-{key}"))


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
