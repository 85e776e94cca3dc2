"""Drill fixtures: a schema of the test's own on the shared Postgres (``pg_settings``), a pool
made through the use cases, and the API stack behind the proxies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings

OP = "operator:drill"
SOAK_S, CI_SOAK_S = 300.0, 60.0


@pytest.fixture
def soak_seconds(request: pytest.FixtureRequest) -> float:
    """How long the concurrency soak runs: 5 minutes with ``--soak``, 60 s otherwise."""
    return SOAK_S if request.config.getoption("--soak") else CI_SOAK_S


@pytest.fixture
def drill_system(pg_settings: Settings) -> Iterator[System]:
    """The test's own System, straight to Postgres (never through a proxy)."""
    system = bootstrap(pg_settings)
    system.projection_status()  # the read-model tables exist before any API process starts
    yield system
    system.close()


def open_pool(system: System, key: str, grand_stock: int = 1_000) -> None:
    """An open pool (cost 100) with a cash prize, a bonus prize and a scarce grand prize."""
    pools = system.pools
    pools.create(key, "Drill wheel", 100, PoolControls(), Cause(OP, f"create-{key}"))
    pools.add_prize(key, Prize("gem", "Gem", "cash", 150, 30), Cause(OP, f"gem-{key}"))
    pools.add_prize(key, Prize("coin", "Coin", "bonus", 20, 30), Cause(OP, f"coin-{key}"))
    grand = Prize("grand", "Grand", "cash", 500, 20, stock=grand_stock)
    pools.add_prize(key, grand, Cause(OP, f"grand-{key}"))
    pools.fund(key, 100_000_000, Cause(OP, f"fund-{key}"))
