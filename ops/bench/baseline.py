"""The row-lock baseline: the same draw the way classic relational systems do it.

Tables ``wallet``, ``pool``, ``prize`` and ``ledger_entry`` in a throw-away schema; one
transaction per draw: ``SELECT … FOR UPDATE`` on the wallet, the pool and its prize rows (always
in that order, so no deadlock), check funds and stock, pick with ``domain.fairness.pick`` (the same
HMAC randomness cost as the engine) over the eligible prizes plus the same RTP miss arm, UPDATE
balances, stock and fund, INSERT the double-entry rows, COMMIT. Player threads take a connection
from a pool (``CONNECTIONS``, as such systems run behind one; the Postgres server is shared with
prizeledger's own pool and allows 100 clients) for each draw. It exists only to be measured
against; the product never uses it.

``lock_waits`` counts draws whose pool ``FOR UPDATE`` took more than 1 ms (on this local server
an uncontended one takes a fraction of that). ``check`` afterwards proves the ledger
sums to zero and that every wallet, the fund and the stock equal what the ledger rows say.

    .venv/bin/python -m ops.bench.baseline [--seconds 5] [--players 1,8,64] [--spread]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import psycopg
from psycopg_pool import ConnectionPool

from domain.fairness import MISS, pick
from domain.prizes import BPS, PoolControls
from ops.bench.fixtures import BENCH_PRIZES, DEFAULT_URL, DRAW_COST, percentile

__all__ = ["Baseline", "run_scenario"]

CONNECTIONS = 16
LOCK_WAIT_MS = 1.0
DEPOSIT = 1_000_000
POOL_FUND = 10**12
DDL = """
CREATE TABLE wallet (player_id text PRIMARY KEY, client_seed text NOT NULL,
    nonce bigint NOT NULL, available bigint NOT NULL CHECK (available >= 0),
    bonus bigint NOT NULL CHECK (bonus >= 0));
CREATE TABLE pool (pool_id text PRIMARY KEY, draw_cost bigint NOT NULL, server_seed text NOT NULL,
    fund bigint NOT NULL CHECK (fund >= 0), miss_weight bigint NOT NULL,
    rtp_target_bps bigint NOT NULL);
CREATE TABLE prize (pool_id text REFERENCES pool, prize_id text, kind text NOT NULL,
    reward bigint NOT NULL, weight bigint NOT NULL, stock bigint CHECK (stock >= 0),
    PRIMARY KEY (pool_id, prize_id));
CREATE TABLE ledger_entry (entry_id bigserial PRIMARY KEY, txn_id uuid NOT NULL,
    account text NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ledger_entry_txn ON ledger_entry (txn_id);
"""


class Baseline:
    """The relational draw in its own schema (``open`` creates it, ``close`` drops it)."""

    def __init__(self, url: str = DEFAULT_URL, connections: int = CONNECTIONS) -> None:
        self.url = url
        self.schema = f"bench_rowlock_{secrets.token_hex(4)}"
        self.pool = ConnectionPool(
            url,
            min_size=connections,
            max_size=connections,
            kwargs={"options": f"-c search_path={self.schema}"},
            open=False,
        )

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.url, options=f"-c search_path={self.schema}")

    def open(self, pools: Sequence[str], players: Sequence[str]) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {self.schema}")
        controls = PoolControls()
        with self.connect() as conn, conn.transaction():
            conn.execute(DDL)
            for pool in pools:
                conn.execute(
                    "INSERT INTO pool VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        pool,
                        DRAW_COST,
                        secrets.token_hex(32),
                        POOL_FUND,
                        controls.miss_weight,
                        controls.rtp_target_bps,
                    ),
                )
                for p in BENCH_PRIZES:
                    conn.execute(
                        "INSERT INTO prize VALUES (%s, %s, %s, %s, %s, %s)",
                        (pool, p.prize_id, p.kind, p.reward, p.weight, p.stock),
                    )
                self._post(
                    conn, [("house:marketing", -POOL_FUND), (f"pool:{pool}:fund", POOL_FUND)]
                )
            for player in players:
                conn.execute(
                    "INSERT INTO wallet VALUES (%s, %s, 0, %s, 0)",
                    (player, secrets.token_hex(8), DEPOSIT),
                )
                deposit = [("external:deposits", -DEPOSIT), (f"player:{player}:available", DEPOSIT)]
                self._post(conn, deposit)
        self.pool.open(wait=True)

    def close(self) -> None:
        self.pool.close()
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    @staticmethod
    def _post(conn: psycopg.Connection[tuple[Any, ...]], rows: list[tuple[str, int]]) -> None:
        txn = uuid4()
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ledger_entry (txn_id, account, amount) VALUES (%s, %s, %s)",
                [(txn, account, amount) for account, amount in rows],
            )

    def draw(self, conn: psycopg.Connection[tuple[Any, ...]], player: str, pool: str) -> float:
        """One draw in one transaction; returns the ms the pool's ``FOR UPDATE`` took (the only
        lock players contend for: a wallet has one player, the prize rows are locked after
        their pool). Raises ``InsufficientFunds`` (rolled back) when the wallet cannot pay."""
        with conn.transaction():
            wallet = conn.execute(
                "SELECT client_seed, nonce, available FROM wallet WHERE player_id = %s FOR UPDATE",
                (player,),
            ).fetchone()
            t0 = time.perf_counter()
            row = conn.execute(
                "SELECT draw_cost, server_seed, fund, miss_weight, rtp_target_bps FROM pool"
                " WHERE pool_id = %s FOR UPDATE",
                (pool,),
            ).fetchone()
            locked_ms = (time.perf_counter() - t0) * 1000
            prizes = conn.execute(
                "SELECT prize_id, kind, reward, weight, stock FROM prize WHERE pool_id = %s"
                " ORDER BY prize_id FOR UPDATE",
                (pool,),
            ).fetchall()
            assert wallet is not None
            assert row is not None
            client_seed, nonce, available = wallet
            cost, server_seed, fund, miss_weight, rtp = row
            if available < cost:
                raise InsufficientFunds(player)
            won = _pick(
                prizes, fund + cost, cost, miss_weight, rtp, server_seed, client_seed, nonce
            )
            self._settle(conn, player, pool, cost, won)
        return locked_ms

    def _settle(
        self,
        conn: psycopg.Connection[tuple[Any, ...]],
        player: str,
        pool: str,
        cost: int,
        won: tuple[str, str, int] | None,
    ) -> None:
        cash = bonus = 0
        postings = [(f"player:{player}:available", -cost), (f"pool:{pool}:fund", cost)]
        if won is not None:
            prize_id, kind, reward = won
            cash, bonus = (reward, 0) if kind == "cash" else (0, reward)
            account = "available" if kind == "cash" else "bonus"
            postings += [(f"pool:{pool}:fund", -reward), (f"player:{player}:{account}", reward)]
            conn.execute(
                "UPDATE prize SET stock = stock - 1 WHERE pool_id = %s AND prize_id = %s"
                " AND stock IS NOT NULL",
                (pool, prize_id),
            )
        conn.execute(
            "UPDATE wallet SET nonce = nonce + 1, available = available - %s + %s,"
            " bonus = bonus + %s WHERE player_id = %s",
            (cost, cash, bonus, player),
        )
        conn.execute(
            "UPDATE pool SET fund = fund + %s - %s WHERE pool_id = %s",
            (cost, cash + bonus, pool),
        )
        self._post(conn, postings)

    def check(self) -> dict[str, bool]:
        """Correctness of everything the runs did, from the tables themselves."""
        with self.connect() as conn:
            total = conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entry").fetchone()
            unbalanced = conn.execute(
                "SELECT count(*) FROM (SELECT txn_id FROM ledger_entry GROUP BY txn_id"
                " HAVING sum(amount) <> 0) t"
            ).fetchone()
            wallets_off = conn.execute(
                "SELECT count(*) FROM wallet w WHERE w.available <> (SELECT coalesce(sum(amount),"
                " 0) FROM ledger_entry WHERE account = 'player:' || w.player_id || ':available')"
                " OR w.bonus <> (SELECT coalesce(sum(amount), 0) FROM ledger_entry"
                " WHERE account = 'player:' || w.player_id || ':bonus')"
            ).fetchone()
            funds_off = conn.execute(
                "SELECT count(*) FROM pool p WHERE p.fund <> (SELECT sum(amount) FROM"
                " ledger_entry WHERE account = 'pool:' || p.pool_id || ':fund')"
            ).fetchone()
            stock_off = conn.execute(
                "SELECT count(*) FROM prize WHERE stock < 0 OR stock > %s",
                (max(p.stock or 0 for p in BENCH_PRIZES),),
            ).fetchone()
        return {
            "ledger_sums_to_zero": total is not None and total[0] == 0,
            "every_transaction_balanced": unbalanced is not None and unbalanced[0] == 0,
            "wallets_equal_ledger": wallets_off is not None and wallets_off[0] == 0,
            "funds_equal_ledger": funds_off is not None and funds_off[0] == 0,
            "stock_within_supply": stock_off is not None and stock_off[0] == 0,
        }


class InsufficientFunds(Exception):
    """The wallet cannot pay the draw cost (the transaction rolled back)."""


def _pick(
    prizes: list[tuple[Any, ...]],
    fund: int,
    cost: int,
    miss_weight: int,
    rtp_bps: int,
    server_seed: str,
    client_seed: str,
    nonce: int,
) -> tuple[str, str, int] | None:
    """The engine's weighing without its extra controls: prizes out of stock or beyond the fund
    removed, the miss arm raised until expected payout <= cost * RTP target; then the fair pick."""
    eligible = [p for p in prizes if (p[4] is None or p[4] > 0) and p[2] <= fund]
    weight = sum(p[3] for p in eligible)
    payout = sum(p[3] * p[2] for p in eligible)
    miss = max(miss_weight, 0, -(-payout * BPS // (cost * rtp_bps)) - weight)
    arms = [(str(p[0]), int(p[3])) for p in eligible] + ([(MISS, miss)] if miss else [])
    if not arms:
        return None
    arm = pick(arms, server_seed, client_seed, nonce).arm
    return next(((p[0], p[1], p[2]) for p in eligible if p[0] == arm), None)


def run_scenario(
    baseline: Baseline, players: Sequence[str], pools: Sequence[str], seconds: float
) -> dict[str, object]:
    """Each player (a thread) draws in a closed loop for ``seconds``; latency includes the wait
    for a pooled connection, as a client of such a system sees it."""
    latencies: list[float] = []
    counts = {"draws": 0, "lock_waits": 0, "errors": 0}
    guard = threading.Lock()
    stop_at = time.monotonic() + seconds

    def player_loop(index: int) -> None:
        player, pool = players[index], pools[index % len(pools)]
        mine: list[float] = []
        waits = errors = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                with baseline.pool.connection() as conn:
                    waits += baseline.draw(conn, player, pool) > LOCK_WAIT_MS
            except (psycopg.Error, InsufficientFunds):
                errors += 1
                continue
            mine.append((time.perf_counter() - t0) * 1000)
        with guard:
            latencies.extend(mine)
            counts["draws"] += len(mine)
            counts["lock_waits"] += waits
            counts["errors"] += errors

    started = time.perf_counter()
    with ThreadPoolExecutor(len(players)) as executor:
        for future in [executor.submit(player_loop, i) for i in range(len(players))]:
            future.result()
    elapsed = time.perf_counter() - started
    return {
        "scenario": f"{len(players)}p_{len(pools)}pool",
        "impl": "baseline",
        "players": len(players),
        "pools": len(pools),
        "draws_per_s": round(counts["draws"] / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "lock_waits": counts["lock_waits"],
        "errors": counts["errors"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--players", default="1,8,64")
    parser.add_argument("--spread", action="store_true", help="also 64 players over 8 pools")
    args = parser.parse_args(argv)
    scenarios = [(int(p), 1) for p in args.players.split(",")] + ([(64, 8)] if args.spread else [])
    players = [f"player-{i}" for i in range(max(p for p, _ in scenarios))]
    pools = [f"bench-{i}" for i in range(max(n for _, n in scenarios))]
    baseline = Baseline(os.environ.get("DATABASE_URL", DEFAULT_URL))
    try:
        baseline.open(pools, players)
        rows = []
        for n_players, n_pools in scenarios:
            rows.append(run_scenario(baseline, players[:n_players], pools[:n_pools], args.seconds))
            print(json.dumps(rows[-1]), file=sys.stderr)
        checks = baseline.check()
    finally:
        baseline.close()
    json.dump(
        {"baseline": rows, "checks": checks, "ok": all(checks.values())}, sys.stdout, indent=2
    )
    print()
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
