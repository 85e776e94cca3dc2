"""Many threads and a second process drawing one hot pool on the real Postgres: the scarce top
prize is won exactly as often as it is stocked, nothing is lost or doubled, the pool's stream has
no gaps."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from application.errors import ConcurrencyConflict
from domain import ids
from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from tests.ledger_checks import assert_ledger_invariants, stored_events

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PLAYERS = 24
THREADS = 16
SECONDS = 6.0
POOL = "hot"
OPERATOR = "operator:admin"


def _prepare(system: System) -> None:
    op = iter(range(1000))
    system.pools.create(
        POOL, "Hot wheel", 100, PoolControls(rtp_target_bps=9_000), Cause(OPERATOR, f"s{next(op)}")
    )
    for prize in [
        Prize("jackpot", "Jackpot", "cash", 2_000, 1, stock=3),
        Prize("bonus", "Bonus", "bonus", 150, 10),
        Prize("coins", "Coins", "cash", 50, 30),
    ]:
        system.pools.add_prize(POOL, prize, Cause(OPERATOR, f"s{next(op)}"))
    system.pools.fund(POOL, 1_000_000, Cause(OPERATOR, f"s{next(op)}"))
    for i in range(PLAYERS):
        player = f"player-{i}"
        system.wallets.open(player, Cause(f"player:{player}", "open"))
        deposit = system.deposits.request(
            player, 900_000, "EUR", "sandbox", Cause(f"player:{player}", "dep")
        )
        system.deposits.confirm(UUID(deposit.deposit_id), "ref", Cause("system:sandbox", f"wh-{i}"))


def test_hot_pool_from_threads_and_a_second_process(
    pg_settings: Settings, postgres_url: str
) -> None:
    system = bootstrap(pg_settings)
    try:
        _prepare(system)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.draw_worker",
                "--url",
                postgres_url,
                "--schema",
                pg_settings.schema,
                "--pool",
                POOL,
                "--players",
                str(PLAYERS),
                "--seconds",
                str(SECONDS),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        acknowledged: list[str] = []
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        stop_at = time.monotonic() + SECONDS

        def client(seed: int) -> None:
            rng = random.Random(seed)
            n = 0
            while time.monotonic() < stop_at:
                n += 1
                player = f"player-{rng.randrange(PLAYERS)}"
                cause = Cause(f"player:{player}", f"t{seed}-{n}")
                count = rng.randint(1, 3)
                try:
                    outcome = system.draws.draw(player, POOL, count, cause)
                except ConcurrencyConflict:
                    with lock:
                        outcomes["conflict"] += 1
                    continue
                with lock:
                    acknowledged.append(outcome.draw_id)
                    outcomes[outcome.status] += 1
                # A client retry of the same request returns the same outcome, never a re-roll.
                if n % 50 == 0:
                    assert system.draws.draw(player, POOL, count, cause) == outcome

        with ThreadPoolExecutor(THREADS) as pool:
            for future in [pool.submit(client, i) for i in range(THREADS)]:
                future.result()
        out, _ = worker.communicate(timeout=120)
        other = json.loads(out.strip().splitlines()[-1])
        assert worker.returncode == 0
        assert other["errors"] == 0

        events = stored_events(system.ledger)
        folded = assert_ledger_invariants(system.ledger)
        pool_id = ids.pool_id(POOL)
        versions = [e.originator_version for e in events if e.originator_id == pool_id]
        assert versions == list(range(1, len(versions) + 1))  # no gaps, no forks
        wins = Counter(
            w
            for e in events
            if e.originator_id == pool_id and type(e).__name__ == "DrawsSettled"
            for w in e.wins
        )
        assert wins["jackpot"] == 3
        stored_draws = {str(k) for k, v in folded.items() if type(v).__name__ == "Draw"}
        all_acknowledged = acknowledged + other["acknowledged"]
        assert len(all_acknowledged) == len(set(all_acknowledged))
        assert set(all_acknowledged) <= stored_draws
        assert len(other["acknowledged"]) > 20, other
        assert outcomes["settled"] > 500, outcomes
    finally:
        system.close()
