"""Deposit-credit commands per second on one thread against the real Postgres (JSON on stdout).

Each credit is a full command: load deposit + wallet (cache fast-forward), decide, and one
transaction writing Deposit.ProviderSucceeded, Deposit.Credited, Wallet.DepositCredited and the
Receipt. Runs in a throw-away schema that is dropped afterwards.

    .venv/bin/python -m ops.bench.deposit_credit [--credits N] [--players N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from uuid import UUID

import psycopg

from domain.cause import Cause
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str, credits: int, players: int) -> dict[str, object]:
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        fsync = conn.execute("SHOW fsync").fetchone()
        sync_commit = conn.execute("SHOW synchronous_commit").fetchone()
    system = bootstrap(Settings(database_url=url, schema=schema, pool_size=4))
    try:
        names = [f"bench-{i}" for i in range(players)]
        for name in names:
            system.wallets.open(name, Cause(f"player:{name}", "open"))
        pending = []
        for i in range(credits):
            name = names[i % players]
            d = system.deposits.request(
                name, 1_000, "EUR", "sandbox", Cause(f"player:{name}", f"d{i}")
            )
            pending.append(UUID(d.deposit_id))
        latencies: list[float] = []
        started = time.perf_counter()
        for i, deposit_id in enumerate(pending):
            t0 = time.perf_counter()
            system.deposits.confirm(deposit_id, "ref", Cause("system:sandbox", f"wh{i}"))
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        system.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return {
        "benchmark": "deposit_credit_single_thread",
        "credits": credits,
        "players": players,
        "commands_per_s": round(credits / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(_percentile(latencies, 0.99), 3),
        "postgres": {
            "fsync": fsync[0] if fsync else None,
            "synchronous_commit": sync_commit[0] if sync_commit else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--credits", type=int, default=2_000)
    parser.add_argument("--players", type=int, default=100)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    json.dump(run(url, args.credits, args.players), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
