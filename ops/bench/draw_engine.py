"""Engine-level draw throughput on the real Postgres: naive save-and-retry vs group commit.

N concurrent players (threads) draw one pool (or spread over several pools) for a fixed time;
prints JSON rows {scenario, impl, players, pools, draws_per_s, cpu_us_per_draw, p50_ms, p99_ms,
conflicts, conflict_rate, mean_batch, gave_up, errors}: ``cpu_us_per_draw`` is this process's
CPU time (every thread: players and desk) per draw, steadier than draws/s on a busy machine;
``conflicts`` counts optimistic-concurrency failures of a save (each retried), ``conflict_rate``
is per save attempt, ``mean_batch`` is requests per committed save (1 for the naive path),
``gave_up`` counts requests that ran out of retry time.
Runs in a throw-away schema that is dropped afterwards.

    .venv/bin/python -m ops.bench.draw_engine [--seconds S] [--players 1,8,64] [--impl all]
        [--spread] [--desk-alone] [--cpus 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import psycopg

from application.draw_desk import DeskStats, _Cache, settle
from application.draws import _request
from application.errors import ConcurrencyConflict
from domain.cause import Cause
from infrastructure.bootstrap import System, bootstrap
from infrastructure.cpus import parse_cpus, pin_process
from infrastructure.settings import Settings
from ops.bench.fixtures import DEFAULT_URL, open_bench_pool, percentile


def prepare(system: System, pools: int, players: int) -> tuple[list[str], list[str]]:
    pool_keys = [f"bench-{i}" for i in range(pools)]
    for key in pool_keys:
        open_bench_pool(system, key)
    names = [f"player-{i}" for i in range(players)]
    for name in names:
        system.wallets.open(name, Cause(f"player:{name}", "open"))
        d = system.deposits.request(
            name, 1_000_000, "EUR", "sandbox", Cause(f"player:{name}", "dep")
        )
        system.deposits.confirm(UUID(d.deposit_id), "ref", Cause("system:sandbox", f"wh-{name}"))
    return pool_keys, names


def run_scenario(
    system: System, impl: str, players: list[str], pool_keys: list[str], seconds: float
) -> dict[str, object]:
    draw: Callable[..., object] = (
        system.draws.draw if impl == "group_commit" else system.draws.draw_direct
    )
    latencies: list[float] = []
    counts = {"draws": 0, "conflicts": 0, "errors": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    run = secrets.token_hex(3)

    def player_loop(index: int) -> None:
        name = players[index]
        pool = pool_keys[index % len(pool_keys)]
        mine: list[float] = []
        n = conflicts = errors = 0
        while time.monotonic() < stop_at:
            n += 1
            t0 = time.perf_counter()
            try:
                draw(name, pool, 1, Cause(f"player:{name}", f"{run}-{n}"))
            except ConcurrencyConflict:
                conflicts += 1
                continue
            except Exception:
                errors += 1
                continue
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(mine)
            counts["draws"] += len(mine)
            counts["conflicts"] += conflicts
            counts["errors"] += errors

    async def player_task(index: int) -> None:
        name = players[index]
        pool = pool_keys[index % len(pool_keys)]
        mine: list[float] = []
        n = conflicts = errors = 0
        while time.monotonic() < stop_at:
            n += 1
            t0 = time.perf_counter()
            try:
                await system.draws.draw_async(name, pool, 1, Cause(f"player:{name}", f"{run}-{n}"))
            except ConcurrencyConflict:
                conflicts += 1
                continue
            except Exception:
                errors += 1
                continue
            mine.append((time.perf_counter() - t0) * 1000)
        latencies.extend(mine)
        counts["draws"] += len(mine)
        counts["conflicts"] += conflicts
        counts["errors"] += errors

    async def all_players() -> None:
        await asyncio.gather(*(player_task(i) for i in range(len(players))))

    stats = system.draws.direct_stats if impl == "naive" else system.draws.desk.stats
    before = (stats.batches, stats.conflicts, stats.requests)
    started, cpu_started = time.perf_counter(), time.process_time()
    if impl == "group_commit_async":
        asyncio.run(all_players())
    else:
        with ThreadPoolExecutor(len(players)) as pool:
            for f in [pool.submit(player_loop, i) for i in range(len(players))]:
                f.result()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    attempts, conflicts = stats.batches - before[0], stats.conflicts - before[1]
    settled = stats.requests - before[2]
    return {
        "scenario": f"{len(players)}p_{len(pool_keys)}pool",
        "impl": impl,
        "players": len(players),
        "pools": len(pool_keys),
        "draws_per_s": round(counts["draws"] / elapsed, 1),
        "cpu_us_per_draw": round(1e6 * cpu / counts["draws"], 1) if counts["draws"] else None,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "conflicts": conflicts,
        "conflict_rate": round(conflicts / attempts, 3) if attempts else 0.0,
        "mean_batch": round(settled / (attempts - conflicts), 1) if attempts > conflicts else None,
        "gave_up": counts["conflicts"],
        "errors": counts["errors"],
    }


def desk_alone(
    system: System, players: list[str], pool_key: str, seconds: float
) -> dict[str, object]:
    """The desk's own cost without callers: this thread builds batches of one request per
    player and settles them as the desk does (its cache kept between batches), timing CPU."""
    cache, stats = _Cache(), DeskStats()
    ledger, draws = system.ledger, system.draws
    run = secrets.token_hex(3)
    n = 0
    build = settle_cpu = 0.0
    for _ in range(5):  # warm up: the first batches load the pool and wallets into the cache
        n += 1
        batch = [_request(p, pool_key, 1, Cause(f"player:{p}", f"{run}-{n}")) for p in players]
        settle(ledger, draws._clock, draws._retry, batch, cache, stats)
    stop_at = time.monotonic() + seconds
    started = time.perf_counter()
    while time.monotonic() < stop_at:
        n += 1
        c0 = time.process_time()
        items = [_request(p, pool_key, 1, Cause(f"player:{p}", f"{run}-{n}")) for p in players]
        c1 = time.process_time()
        settle(ledger, draws._clock, draws._retry, items, cache, stats)
        for item in items:
            item.result(timeout=0)
        c2 = time.process_time()
        build, settle_cpu = build + c1 - c0, settle_cpu + c2 - c1
    elapsed = time.perf_counter() - started
    settled = (n - 5) * len(players)
    return {
        "scenario": f"desk_alone_{len(players)}_per_batch",
        "draws_per_s": round(settled / elapsed, 1),
        "settle_cpu_us_per_draw": round(1e6 * settle_cpu / settled, 1),
        "request_cpu_us_per_draw": round(1e6 * build / settled, 1),
        "conflicts": stats.conflicts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--players", default="1,8,64")
    parser.add_argument(
        "--impl", choices=["all", "naive", "group_commit", "group_commit_async"], default="all"
    )
    parser.add_argument("--spread", action="store_true", help="also 64 players over 8 pools")
    parser.add_argument(
        "--desk-alone",
        action="store_true",
        help="also the desk without callers: one thread settling a batch per round",
    )
    parser.add_argument(
        "--cpus",
        type=parse_cpus,
        help="keep this process on these CPUs (e.g. 0 or 0-1), as PRIZELEDGER_CPUS would",
    )
    args = parser.parse_args(argv)
    if args.cpus:
        pin_process(args.cpus)
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    impls = ["naive", "group_commit", "group_commit_async"] if args.impl == "all" else [args.impl]
    scenarios = [(int(p), 1) for p in args.players.split(",")]
    if args.spread:
        scenarios.append((64, 8))
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        fsync = conn.execute("SHOW fsync").fetchone()
    rows = []
    try:
        max_players = max(p for p, _ in scenarios)
        # The naive path saves from every player thread; the desk saves from one (the server's
        # connections are shared with whatever else runs on the machine).
        connections = max_players + 4 if "naive" in impls else 8
        system = bootstrap(Settings(database_url=url, schema=schema, pool_size=connections))
        pool_keys, names = prepare(system, max(n for _, n in scenarios), max_players)
        for players, pools in scenarios:
            for impl in impls:
                rows.append(
                    run_scenario(system, impl, names[:players], pool_keys[:pools], args.seconds)
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
        if args.desk_alone:
            rows.append(desk_alone(system, names[:max_players], pool_keys[0], args.seconds))
            print(json.dumps(rows[-1]), file=sys.stderr)
        system.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    json.dump({"fsync": fsync[0] if fsync else None, "engine": rows}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
