"""Projection throughput and live lag on the real Postgres (JSON on stdout, progress on stderr).

1. Generate a store of N events (default 1,000,000; ``--quick`` = 100,000): real domain events
   from the domain classes — wallets opened and funded by deposits, then batches of 64 draw
   requests decided by ``domain.draws.execute_draw`` on in-memory pools and wallets (each
   request a Wallet.DrawsSettled and a Draw.Executed, each batch a PrizePool.DrawsSettled) —
   mapped to stored events and inserted with the event store's COPY recorder in big batches.
   ``generate_s`` is the time that took.
2. Catch-up: balances, history and trial_balance each alone, from position 0 to the head,
   in batches of 1,000: ``events_per_s`` = notifications read / seconds.
3. Live: a ``Projector.run`` thread (all three) follows while 32 threads draw through the
   group-commit desk for ``--seconds``. ``lag_ms``: take the head notification id at a moment,
   then time until every projection has tracked it (what a client that has just been answered
   waits to see its draw in the read models); ``lag_events``: head - slowest position, sampled.

Runs in a throw-away schema that is dropped afterwards.

    .venv/bin/python -m ops.bench.projections [--events N | --quick] [--seconds S]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.cause import Cause
from domain.deposit import Deposit
from domain.draws import DrawRequest, execute_draw
from domain.policy import MoneyPolicy
from domain.pool import PrizePool
from domain.prizes import PoolControls, Prize
from domain.wallet import Wallet
from infrastructure.bootstrap import System, bootstrap
from infrastructure.projector import Projector
from infrastructure.settings import Settings
from projections.catalog import build

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NAMES = ["balances", "history", "trial_balance"]
OP = "operator:bench"
DESK = "system:draw-desk"
BATCH = 64  # draw requests per pool batch, as the group-commit desk makes them
INSERT_EVERY = 25_000  # stored events per COPY
CATCH_UP_BATCH = 1_000
DEPOSIT = 1_000_000
PRIZES = [
    Prize("big", "Big", "cash", 5_000, 1),
    Prize("coins", "Coins", "cash", 50, 30),
    Prize("small", "Small", "bonus", 100, 40),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- 1. generation -------------------------------------------------------------------------------


class Generator:
    """Domain aggregates in memory; their events go to the store in big COPY batches."""

    def __init__(self, system: System, players: int, pools: int, seed: int = 7) -> None:
        self._mapper = system.ledger.mapper
        self._recorder = system.ledger.recorder
        self._rng = random.Random(seed)
        self._policy = MoneyPolicy()
        self._buffer: list[StoredEvent] = []
        self._n = 0
        self.written = 0
        self.pools = [self._pool(f"gen-{i}") for i in range(pools)]
        self.wallets = [self._wallet(f"gen-{i}") for i in range(players)]

    @property
    def total(self) -> int:
        return self.written + len(self._buffer)

    def _keep(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self._buffer.extend(map(self._mapper.to_stored_event, aggregate.collect_events()))
        if len(self._buffer) >= INSERT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._recorder.insert_events(self._buffer)
            self.written += len(self._buffer)
            self._buffer = []

    def _cause(self, actor: str, kind: str) -> Cause:
        self._n += 1
        return Cause(actor, f"{kind}-{self._n}")

    def _pool(self, key: str) -> PrizePool:
        pool = PrizePool.create(
            key, key, "EUR", 100, PoolControls(), secrets.token_hex(32), self._cause(OP, "create")
        )
        for prize in PRIZES:
            pool.add_prize(prize, self._cause(OP, "prize"))
        pool.fund_from_marketing(10**12, self._cause(OP, "fund"))
        self._keep(pool)
        return pool

    def _wallet(self, player: str) -> Wallet:
        wallet = Wallet.open(player, "EUR", self._cause(f"player:{player}", "open"))
        self._deposit(wallet)
        return wallet

    def _deposit(self, wallet: Wallet) -> None:
        cause = self._cause(f"player:{wallet.player_id}", "deposit")
        deposit = Deposit.request(wallet.player_id, DEPOSIT, "EUR", "sandbox", cause)
        at = datetime.now(UTC)
        wallet.start_deposit(str(deposit.id), DEPOSIT, "EUR", at, self._policy, cause)
        psp = self._cause("system:sandbox", "webhook")
        deposit.mark_provider_succeeded(f"ref-{self._n}", psp)
        wallet.credit_deposit(str(deposit.id), DEPOSIT, psp)
        deposit.mark_credited(psp)
        self._keep(deposit, wallet)

    def batch(self) -> None:
        """One desk batch on one pool: up to 64 requests decided and recorded together."""
        pool = self._rng.choice(self.pools)
        working = pool.working()
        at = datetime.now(UTC)
        draw_ids: list[str] = []
        wins: list[str] = []
        settled = 0
        for _ in range(BATCH):
            wallet = self._rng.choice(self.wallets)
            count = self._rng.randint(1, 3)
            if wallet.available + wallet.bonus < pool.draw_cost * count:
                self._deposit(wallet)
            canonical = json.dumps({"draw": [wallet.player_id, pool.pool_key, count]})
            request = DrawRequest(
                wallet.player_id,
                pool.pool_key,
                count,
                hashlib.sha256(canonical.encode()).hexdigest(),
            )
            cause = self._cause(f"player:{wallet.player_id}", "draw")
            draw, won = execute_draw(pool, working, wallet, request, at, cause)
            draw_ids.append(str(draw.id))
            wins.extend(won)
            settled += len(draw.results)
            self._keep(wallet, draw)
        pool.record_draws(draw_ids, wins, settled, at, self._cause(DESK, "batch"))
        self._keep(pool)


def generate(system: System, events: int, pools: int = 4) -> tuple[int, float]:
    """``events`` stored events (at least) on ``pools`` pools ``gen-0``...: (written, seconds)."""
    started = time.perf_counter()
    generator = Generator(system, players=max(100, events // 100), pools=pools)
    step = max(events // 10, 1)
    shown = 0
    while generator.total < events:
        generator.batch()
        if generator.written >= shown + step:
            shown = generator.written
            rate = shown / (time.perf_counter() - started)
            log(f"generate: {shown:,} events ({rate:,.0f}/s)")
    generator.flush()
    return generator.written, time.perf_counter() - started


# ---- 2. catch-up ---------------------------------------------------------------------------------


def catch_up(system: System, name: str, head: int) -> dict[str, object]:
    projector = Projector(
        system.ledger, build(system.read_store, [name]), batch_size=CATCH_UP_BATCH
    )
    projector.prepare()
    started = time.perf_counter()
    while projector.step():
        pass
    seconds = time.perf_counter() - started
    (status,) = projector.status()
    if status.position != head or status.state != "running":
        raise RuntimeError(f"{name} did not catch up: {status}")
    row = {"projection": name, "events_per_s": round(head / seconds), "seconds": round(seconds, 2)}
    log(f"catch-up: {json.dumps(row)}")
    return row


# ---- 3. live lag ---------------------------------------------------------------------------------


def prepare_live(system: System, players: int) -> list[str]:
    system.pools.create("live", "Live", 100, PoolControls(), Cause(OP, "live-create"))
    for prize in PRIZES:
        system.pools.add_prize("live", prize, Cause(OP, f"live-{prize.prize_id}"))
    system.pools.fund("live", 10**12, Cause(OP, "live-fund"))
    names = [f"live-{i}" for i in range(players)]

    def open_one(name: str) -> None:
        system.wallets.open(name, Cause(f"player:{name}", "open"))
        d = system.deposits.request(name, DEPOSIT, "EUR", "sandbox", Cause(f"player:{name}", "d"))
        system.deposits.confirm(UUID(d.deposit_id), "ref", Cause("system:sandbox", f"w-{name}"))

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(open_one, n) for n in names]:
            future.result()
    return names


class Probe:
    """Head and the slowest tracked position, on a connection of its own."""

    def __init__(self, url: str, schema: str, events_table: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}")
        self._head = f"SELECT max(notification_id) FROM {events_table}"

    def head(self) -> int:
        row = self._conn.execute(self._head).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def tracked(self) -> int:
        row = self._conn.execute(
            "SELECT min(position) FROM rm_tracking WHERE version = 1 AND projection = ANY(%s)",
            (NAMES,),
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        self._conn.close()


def live(system: System, url: str, schema: str, seconds: float, threads: int) -> dict[str, Any]:
    players = prepare_live(system, threads)
    probe = Probe(url, schema, system.ledger.recorder.events_table_name)  # type: ignore[attr-defined]
    projector = system.projector(NAMES)
    stop_projector = threading.Event()
    follower = threading.Thread(target=projector.run, args=(stop_projector,), name="projector")
    follower.start()
    try:
        deadline = time.monotonic() + 60
        while probe.tracked() < probe.head():
            if time.monotonic() > deadline:
                raise RuntimeError("the live projector did not catch up")
            time.sleep(0.01)
        lag_ms: list[float] = []
        lag_events: list[int] = []
        writing = threading.Event()
        writing.set()

        def sample() -> None:
            while writing.is_set():
                head = probe.head()
                t0 = time.perf_counter()
                position = probe.tracked()
                lag_events.append(max(0, head - position))
                while position < head and time.perf_counter() - t0 < 30:
                    time.sleep(0.001)
                    position = probe.tracked()
                lag_ms.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, name="lag-sampler")
        counts = [0] * threads
        stop_at = time.monotonic() + seconds

        def player_loop(index: int) -> None:
            name = players[index]
            n = 0
            while time.monotonic() < stop_at:
                n += 1
                system.draws.draw(name, "live", 1, Cause(f"player:{name}", f"live-{n}"))
                counts[index] += 1

        log(f"live: {threads} threads drawing for {seconds:.0f}s while the projector follows")
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(player_loop, i) for i in range(threads)]:
                future.result()
        elapsed = time.perf_counter() - started
        writing.clear()
        sampler.join()
        states = {s.name: s.state for s in projector.status()}
        if set(states.values()) != {"running"}:
            raise RuntimeError(f"projections not running: {states}")
    finally:
        stop_projector.set()
        follower.join()
        probe.close()
    result = {
        "lag_ms_p50": round(statistics.median(lag_ms), 1) if lag_ms else None,
        "lag_ms_p99": round(percentile(lag_ms, 0.99), 1),
        "draws_per_s": round(sum(counts) / elapsed, 1),
        "lag_events_p50": statistics.median(lag_events) if lag_events else None,
        "lag_events_p99": percentile([float(v) for v in lag_events], 0.99),
        "samples": len(lag_ms),
        "threads": threads,
        "seconds": round(elapsed, 1),
    }
    log(f"live: {json.dumps(result)}")
    return result


# ---- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--seconds", type=float, default=10.0, help="live phase duration")
    parser.add_argument("--threads", type=int, default=32, help="live drawing threads")
    args = parser.parse_args(argv)
    events = 100_000 if args.quick else args.events
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        fsync = conn.execute("SHOW fsync").fetchone()
    try:
        system = bootstrap(Settings(database_url=url, schema=schema, pool_size=args.threads + 8))
        try:
            written, generate_s = generate(system, events)
            head = system.ledger.recorder.max_notification_id() or 0
            log(f"generate: {written:,} events in {generate_s:.1f}s (head {head})")
            rows = [catch_up(system, name, head) for name in NAMES]
            live_row = live(system, url, schema, args.seconds, args.threads)
        finally:
            system.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    report = {
        "events": written,
        "generate_s": round(generate_s, 1),
        "catch_up": rows,
        "live": live_row,
        "batch_size": CATCH_UP_BATCH,
        "fsync": fsync[0] if fsync else None,
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
