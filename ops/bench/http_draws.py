"""End-to-end HTTP draws: the player API in its own uvicorn process(es) on Postgres and Redis,
the projector running beside it, and a load-generator process with 64 players drawing one pool.

Per server worker count (``--workers 1,2``), in a fresh database: players register, log in and
deposit through the sandbox checkout over HTTP; then each player draws in a closed loop with a
fresh Idempotency-Key per request (warm-up, then the measured window), then reads ``GET /wallet``
in a closed loop. Reports draws/s, latency, the status and error-code mix, CPU seconds of
server, client, projector and Postgres, projection lag, and the checks on the raw events
afterwards (``ledger_audit``): trial balance 0, no negative balance, every 2xx draw stored once.
JSON on stdout, progress on stderr; the exit code is 1 when a check failed.

    .venv/bin/python -m ops.bench.http_draws [--seconds 20] [--workers 1,2] [--quick] [--floor]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ops.bench.fixtures import DEFAULT_URL, open_bench_pool, percentile
from ops.bench.http_deployment import (
    SERVER_HTTP,
    SERVER_LOOP,
    UNLIMITED_PER_MIN,
    Deployment,
    deploy,
)
from ops.bench.http_load import LoadPlan, LoadProcess, LoadResult
from ops.bench.ledger_audit import audit
from ops.bench.proc_cpu import busy_seconds, cpu_seconds, machine_ticks, spent

__all__ = ["enrol", "run_draws", "run_reads"]

POOL = "bench-0"
WALLET = "/api/v1/wallet"
DEPOSIT = 1_000_000  # the policy's largest single deposit: 10,000 draws at cost 100
PASSWORD = "bench correct horse battery staple"
START_DELAY_S = 2.0  # the load process is spawned and imports before this


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- setup over HTTP -----------------------------------------------------------------------------


async def _enrol_one(client: httpx.AsyncClient, email: str, deposit: int) -> tuple[str, str]:
    credentials = {"email": email, "password": PASSWORD}
    made = await client.post("/api/v1/auth/register", json=credentials)
    made.raise_for_status()
    login = await client.post("/api/v1/auth/login", json=credentials)
    login.raise_for_status()
    player_id, token = login.json()["player_id"], login.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    money = {**auth, "Idempotency-Key": secrets.token_hex(8)}
    started = await client.post("/api/v1/deposits", json={"amount_minor": deposit}, headers=money)
    started.raise_for_status()
    ref = started.json()["checkout"]["provider_ref"]
    paid = await client.post(
        f"/api/v1/sandbox/checkout/{ref}", json={"outcome": "pay"}, headers=auth
    )
    paid.raise_for_status()
    return player_id, token


def enrol(base_url: str, players: int, deposit: int = DEPOSIT) -> list[tuple[str, str]]:
    """``players`` accounts registered, logged in and funded over HTTP: (player id, token)."""
    run = secrets.token_hex(3)

    async def all_of_them() -> list[tuple[str, str]]:
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

            async def one(i: int) -> tuple[str, str]:
                async with gate:
                    return await _enrol_one(client, f"bench-{run}-{i}@example.com", deposit)

            return list(await asyncio.gather(*(one(i) for i in range(players))))

    return asyncio.run(all_of_them())


# ---- measuring -----------------------------------------------------------------------------------


def _cpu_snapshot(d: Deployment) -> dict[str, Any]:
    backends, background = d.postgres_pids()
    return {
        "server": cpu_seconds(d.server_pids()),
        "projector": cpu_seconds(d.projector_pids()),
        "postgres_backends": cpu_seconds(backends),
        "postgres_background": cpu_seconds(background),
        "machine": machine_ticks(),
        "bench": time.process_time(),  # this process: sampling, the lag queries
    }


def _max_lag(d: Deployment) -> int:
    # deploy() built the status projector before the projector process started: built now,
    # its DDL (CREATE INDEX IF NOT EXISTS locks the tables) can deadlock with the projector.
    return max((s.lag for s in d.system.projection_status()), default=0)


def _measure(d: Deployment, plan: LoadPlan) -> tuple[LoadResult, dict[str, Any], list[int]]:
    """Run the load; sample CPU at the window's edges and the projections' lag inside it."""
    with LoadProcess(plan) as load:
        time.sleep(max(0.0, plan.measure_from - time.time()))
        before = _cpu_snapshot(d)
        lags = []
        while time.time() < plan.stop_at - 0.5:
            lags.append(_max_lag(d))
            time.sleep(min(1.0, max(0.0, plan.stop_at - time.time() - 0.5)))
        time.sleep(max(0.0, plan.stop_at - time.time()))
        after = _cpu_snapshot(d)
        result = load.result()
    cpu = {
        name: round(spent(before[name], after[name]), 2)
        for name in ("server", "projector", "postgres_backends", "postgres_background")
    }
    cpu["client"] = round(result.client_cpu_s, 2)
    cpu["bench"] = round(after["bench"] - before["bench"], 2)
    busy = busy_seconds(before["machine"], after["machine"])
    # What else ran on the machine meanwhile (other jobs on a shared box, the kernel's share).
    cpu["unattributed"] = round(busy - sum(cpu.values()), 2)
    cpu["machine_busy_pct"] = round(100 * busy / (plan.seconds * (os.cpu_count() or 1)), 1)
    return result, cpu, lags


def _latency(result: LoadResult) -> dict[str, float | None]:
    samples = result.latencies_ms
    return {
        "p50_ms": round(statistics.median(samples), 2) if samples else None,
        "p99_ms": round(percentile(samples, 0.99), 2),
        "max_ms": round(max(samples), 2) if samples else None,
    }


def _mix(result: LoadResult) -> dict[str, Any]:
    ok = sum(n for status, n in result.statuses.items() if status.startswith("2"))
    return {
        "ok_responses": ok,
        "errors": sum(result.statuses.values()) - ok,
        "statuses": dict(sorted(result.statuses.items())),
        "error_codes": dict(result.codes.most_common()),
    }


def _closed_loop(
    d: Deployment,
    players: list[tuple[str, str]],
    seconds: float,
    warmup_s: float,
    client: str,
    **request: Any,
) -> tuple[LoadResult, dict[str, Any], list[int]]:
    """Run one closed-loop phase; the result, the row's measured details, and lag samples."""
    plan = LoadPlan(
        base_url=d.base_url,
        players=players,
        start_at=time.time() + START_DELAY_S,
        warmup_s=warmup_s,
        seconds=seconds,
        client=client,
        **request,
    )
    result, cpu, lags = _measure(d, plan)
    mix = _mix(result)
    ok = mix["ok_responses"]
    details = {
        **_latency(result),
        **mix,
        "workers": d.workers,
        "client": client,
        "seconds": seconds,
        "warmup_s": warmup_s,
        "requests_incl_warmup": result.requests,
        "cpu_s": cpu,
        "server_cpu_ms_per_ok_response": round(1000 * cpu["server"] / ok, 3) if ok else None,
    }
    return result, details, lags


def run_draws(
    d: Deployment,
    players: list[tuple[str, str]],
    seconds: float,
    warmup_s: float,
    client: str = "raw",
) -> dict[str, Any]:
    """Every player draws once per request on ``POOL`` in a closed loop; then the ledger is
    audited from the raw events. A row like the engine bench's, plus the details."""
    result, details, lags = _closed_loop(
        d,
        players,
        seconds,
        warmup_s,
        client,
        method="POST",
        path=f"/api/v1/pools/{POOL}/draws",
        body=b'{"count":1}',
        money=True,
    )
    lag_at_end, caught_up_at = _max_lag(d), time.monotonic()
    while _max_lag(d) > 0 and time.monotonic() - caught_up_at < 60:
        time.sleep(0.05)
    caught_up_s = time.monotonic() - caught_up_at
    draws_per_s = round(details["ok_responses"] / seconds, 1)
    log(f"draws: {draws_per_s:,}/s; auditing the raw events")
    return {
        "scenario": f"{len(players)}p_1pool",
        "impl": "prizeledger",
        "players": len(players),
        "pools": 1,
        "draws_per_s": draws_per_s,
        **details,
        "projection_lag_events": {
            "p50": statistics.median(lags) if lags else None,
            "max": max(lags, default=None),
            "at_end": lag_at_end,
            "caught_up_s": round(caught_up_s, 2),
        },
        **audit(d.system, result.answered),
    }


def run_reads(
    d: Deployment,
    players: list[tuple[str, str]],
    seconds: float,
    warmup_s: float,
    client: str = "raw",
    path: str = WALLET,
) -> dict[str, Any]:
    """Every player GETs ``path`` in a closed loop: ``GET /wallet`` (signed in, rate-limited,
    the balances read model) by default; ``/health/live`` is the HTTP stack's floor (uvicorn,
    Litestar, the request middleware and access log — no auth, limits or store)."""
    _, details, _ = _closed_loop(
        d, players, seconds, warmup_s, client, method="GET", path=path, body=b"", money=False
    )
    return {
        "scenario": f"{len(players)}p_{'wallet_reads' if path == WALLET else 'health_live'}",
        "impl": "prizeledger",
        "players": len(players),
        "pools": 0,
        "reads_per_s": round(details["ok_responses"] / seconds, 1),
        **details,
    }


# ---- main ----------------------------------------------------------------------------------------


def _one_deployment(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with deploy(url, redis_url, workers, args.profile) as d:
        log(f"workers={workers}: server {d.base_url} up; database {d.database}")
        open_bench_pool(d.system, POOL)
        t0 = time.perf_counter()
        players = enrol(d.base_url, args.players)
        setup_s = round(time.perf_counter() - t0, 1)
        log(f"workers={workers}: {args.players} players registered and funded in {setup_s}s")
        draws = run_draws(d, players, args.seconds, args.warmup, args.client)
        log(f"workers={workers}: {json.dumps({k: draws[k] for k in list(draws)[:10]})}")
        reads = run_reads(d, players, args.wallet_seconds, 1.0, args.client)
        log(f"workers={workers}: wallet reads {reads['reads_per_s']:,}/s, p99 {reads['p99_ms']} ms")
        run = {
            "workers": workers,
            "server_command": " ".join(["python", *d.server_command[1:]]),
            "postgres": d.postgres,
            "setup_s": setup_s,
            "draws": draws,
            "wallet_reads": reads,
        }
        if args.floor:
            run["health_live"] = run_reads(
                d, players, args.wallet_seconds, 1.0, args.client, "/health/live"
            )
        return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured draw window")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured draws first")
    parser.add_argument("--wallet-seconds", type=float, default=5.0, help="GET /wallet window")
    parser.add_argument("--players", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to run, e.g. 1,2")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    parser.add_argument("--quick", action="store_true", help="5 s draws, 2 s wallet reads")
    parser.add_argument(
        "--floor", action="store_true", help="also GET /health/live: the HTTP stack alone"
    )
    parser.add_argument(
        "--profile", type=Path, help="run the server under cProfile into this file (1 worker)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.wallet_seconds = 5.0, 2.0
    worker_counts = [int(w) for w in args.workers.split(",")]
    if args.profile and worker_counts != [1]:
        parser.error("--profile needs --workers 1")
    runs = [_one_deployment(args, workers) for workers in worker_counts]
    report = {
        "benchmark": "http_draws",
        "cpus": os.cpu_count(),
        "server": {"http": SERVER_HTTP, "loop": SERVER_LOOP},
        "rate_limits": {
            "per_ip_per_min": UNLIMITED_PER_MIN,
            "per_player_per_min": UNLIMITED_PER_MIN,
            "note": "raised so that the limiter never refuses: this measures throughput, not the"
            " limiter (its Redis calls still run on every request)",
        },
        "cpu_s_note": "unattributed: CPU the machine spent on anything else in the window (other"
        " jobs on a shared box, the kernel); when large, the figures understate the system",
        "argon2": "production cost (PRIZELEDGER_ARGON2_* unset: t=3, m=64 MiB, p=4)",
        "runs": runs,
        "ok": all(run["draws"]["ok"] for run in runs),
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
