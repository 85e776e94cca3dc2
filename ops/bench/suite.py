"""``prizeledger bench``: every benchmark side by side in one run, one JSON report.

On the real Postgres (as configured: its fsync and synchronous_commit are reported) and Redis:

- engine: 1, 8 and 64 players on one hot pool and 64 over 8 pools, prizeledger (the group-commit
  desk, ``draw_engine.run_scenario``) vs the row-lock ``baseline``, and their ratio;
- http: the player API process, its projector process and a load-generator process, 64 players
  drawing one pool, then ``GET /wallet`` (``http_draws``), with the API's and projector's peak RSS;
- projections, verify, growth: over one generated store (``suite_store``).

``ok`` is true only when every check after the runs passed: the engine's raw ledger (trial balance
0, no negative balance), the baseline's ledger (sums to 0 and equals its balances), every 2xx HTTP
draw stored once, verify without violation, the projector at the head. Figures of a run whose
``ok`` is false are not to be quoted.

    .venv/bin/python -m ops.bench.suite [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import psycopg

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from ops.bench import draw_engine, http_draws
from ops.bench.baseline import CONNECTIONS, Baseline
from ops.bench.baseline import run_scenario as run_baseline
from ops.bench.fixtures import DEFAULT_URL, open_bench_pool, percentile
from ops.bench.http_deployment import deploy
from ops.bench.ledger_audit import audit
from ops.bench.suite_store import StoreSize, peak_rss_mb, run_store_phase

__all__ = ["FULL", "QUICK", "SuiteSize", "main", "run", "run_suite", "summary"]

REPORT_KEYS = ("machine", "engine", "http", "projections", "verify", "memory", "growth", "ok")
ROW_KEYS = ("scenario", "impl", "players", "pools", "draws_per_s", "p50_ms", "p99_ms", "errors")


@dataclass(frozen=True)
class SuiteSize:
    engine_seconds: float  # per scenario and implementation
    engine_scenarios: tuple[tuple[int, int], ...]  # (players, pools)
    http_players: int
    http_seconds: float
    http_warmup_s: float
    wallet_seconds: float
    store: StoreSize


_SCENARIOS = ((1, 1), (8, 1), (64, 1), (64, 8))
FULL = SuiteSize(10.0, _SCENARIOS, 64, 20.0, 3.0, 5.0, StoreSize(1_000_000, 10.0, 32, 5.0))
QUICK = SuiteSize(2.0, _SCENARIOS, 64, 5.0, 2.0, 2.0, StoreSize(100_000, 4.0, 32, 2.0))


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def machine(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        settings = {
            name: str(row[0]) if (row := conn.execute(f"SHOW {name}").fetchone()) else None
            for name in ("server_version", "fsync", "synchronous_commit")
        }
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "postgres_version": settings["server_version"],
        "fsync": settings["fsync"],
        "synchronous_commit": settings["synchronous_commit"],
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "python_yardstick_ms": python_yardstick_ms(),
        "thread_round_trip_us": thread_round_trip_us(),
        "commit_ms": commit_ms(url),
        "note": "a shared machine: other jobs may run meanwhile (see the load averages)",
    }


def python_yardstick_ms(rounds: int = 5) -> float:
    """Milliseconds this interpreter takes for a fixed pure-Python loop (``s += i * i`` 10**6
    times), best of ``rounds``: hosts of the same 2-core kind differ in speed by 2x and more,
    and every figure of the report scales with it, so reports compare only beside it."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def thread_round_trip_us(rounds: int = 20_000) -> float:
    """Microseconds for one thread to wake another through a lock and be woken back, the mean
    of ``rounds``: what every draw pays twice between its caller and the draw desk. The Python
    yardstick does not see it (it is the kernel's scheduler), and on hosts of this kind it
    varies as much as the yardstick does."""
    ping, pong = threading.Lock(), threading.Lock()
    ping.acquire()
    pong.acquire()

    def echo() -> None:
        for _ in range(rounds):
            ping.acquire()
            pong.release()

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    started = time.perf_counter()
    for _ in range(rounds):
        ping.release()
        pong.acquire()
    elapsed = time.perf_counter() - started
    thread.join()
    return round(elapsed / rounds * 1e6, 2)


def commit_ms(url: str, commits: int = 200) -> dict[str, float]:
    """Milliseconds for one committed single-row insert (autocommit: the WAL flushed to disk
    with this server's fsync and synchronous_commit), median and p99 of ``commits``, in a
    throw-away schema: the floor of every save's last round trip."""
    schema = f"bench_commit_{secrets.token_hex(4)}"
    times: list[float] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            conn.execute(f"CREATE TABLE {schema}.rows (id bigserial PRIMARY KEY, state bytea)")
            insert = f"INSERT INTO {schema}.rows (state) VALUES (%s)"
            for _ in range(commits):
                started = time.perf_counter()
                conn.execute(insert, (b"x" * 300,))
                times.append((time.perf_counter() - started) * 1000)
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return {"p50": round(median(times), 3), "p99": round(percentile(times, 0.99), 3)}


def run_engine(url: str, size: SuiteSize, log: Callable[[str], None]) -> dict[str, Any]:
    """Both implementations on the same Postgres, scenario by scenario, each in its own schema."""
    players = max(p for p, _ in size.engine_scenarios)
    pools = max(n for _, n in size.engine_scenarios)
    schema = f"bench_engine_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    baseline = Baseline(url)
    rows: list[dict[str, Any]] = []
    try:
        # The server allows 100 clients and is shared: both sides get CONNECTIONS (the event
        # store's pool may overflow to twice that; its draws go through one desk writer anyway).
        settings = Settings(database_url=url, schema=schema, pool_size=CONNECTIONS)
        system = bootstrap(settings)
        try:
            pool_keys, names = draw_engine.prepare(system, pools, players)
            baseline.open(pool_keys, names)
            for n_players, n_pools in size.engine_scenarios:
                who, where = names[:n_players], pool_keys[:n_pools]
                ours = draw_engine.run_scenario(
                    system, "group_commit", who, where, size.engine_seconds
                )
                theirs = run_baseline(baseline, who, where, size.engine_seconds)
                rows += [{**ours, "impl": "prizeledger"}, theirs]
                log(
                    f"engine {theirs['scenario']}: prizeledger {ours['draws_per_s']}/s,"
                    f" baseline {theirs['draws_per_s']}/s"
                )
            ledger = audit(system, [])
        finally:
            system.close()
        baseline_checks = baseline.check()
    finally:
        baseline.close()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    checks = {
        "engine_trial_balance_zero": ledger["checks"]["trial_balance_zero"],
        "engine_no_negative_balance": ledger["checks"]["no_negative_balance"],
        **{f"baseline_{name}": passed for name, passed in baseline_checks.items()},
    }
    return {"rows": rows, "ratios": _ratios(rows), "checks": checks}


def _ratios(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """prizeledger draws/s divided by the baseline's, per scenario."""
    by = {(r["scenario"], r["impl"]): r["draws_per_s"] for r in rows}
    return {
        scenario: round(by[(scenario, "prizeledger")] / base, 2) if base else None
        for (scenario, impl), base in by.items()
        if impl == "baseline"
    }


def run_http(
    url: str, redis_url: str, size: SuiteSize, log: Callable[[str], None]
) -> dict[str, Any]:
    """D's HTTP scenario (``http_draws``) with one API worker, plus the processes' peak RSS."""
    with deploy(url, redis_url, 1) as d:
        open_bench_pool(d.system, http_draws.POOL)
        players = http_draws.enrol(d.base_url, size.http_players)
        log(f"http: {len(players)} players enrolled; drawing")
        draws = http_draws.run_draws(d, players, size.http_seconds, size.http_warmup_s)
        reads = http_draws.run_reads(d, players, size.wallet_seconds, 1.0)
        memory = {
            "api_peak_rss_mb": peak_rss_mb(d.server_pids()),
            "projector_http_peak_rss_mb": peak_rss_mb(d.projector_pids()),
        }
    log(f"http: {draws['draws_per_s']:,} draws/s, {reads['reads_per_s']:,} wallet reads/s")
    draw_row = {k: draws[k] for k in ROW_KEYS}
    draw_row["projection_lag_events"] = draws["projection_lag_events"]
    read_row = {k: reads[k] for k in (*ROW_KEYS[:4], "reads_per_s", "p50_ms", "p99_ms", "errors")}
    checks = {f"http_{name}": passed for name, passed in draws["checks"].items()}
    return {"rows": [draw_row, read_row], "memory": memory, "checks": checks}


def run_suite(
    size: SuiteSize,
    url: str = DEFAULT_URL,
    redis_url: str = "redis://127.0.0.1:6379/0",
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Every phase in turn; the report (keys ``REPORT_KEYS``) with ``checks`` under machine."""
    started = time.perf_counter()
    report_machine = machine(url)
    log(f"machine: {json.dumps(report_machine)}")
    engine = run_engine(url, size, log)
    http = run_http(url, redis_url, size, log)
    store = run_store_phase(url, size.store, log)
    checks = {**engine["checks"], **http["checks"], **store["checks"]}
    report_machine["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    report_machine["suite_seconds"] = round(time.perf_counter() - started, 1)
    report_machine["checks"] = checks
    return {
        "machine": report_machine,
        "engine": engine["rows"] + [{"ratios_prizeledger_to_baseline": engine["ratios"]}],
        "http": http["rows"],
        "projections": store["projections"],
        "verify": store["verify"],
        "memory": {**http["memory"], "projector_peak_rss_mb": store["projector_peak_rss_mb"]},
        "growth": store["growth"],
        "ok": all(checks.values()),
    }


def summary(report: dict[str, Any]) -> str:
    """A few lines for a human; the JSON report has everything."""
    m, p, v, mem, g = (report[k] for k in ("machine", "projections", "verify", "memory", "growth"))
    lines = [
        f"machine: {m['cpu_count']} CPUs, PostgreSQL {m['postgres_version']}, fsync={m['fsync']},"
        f" synchronous_commit={m['synchronous_commit']}, load {' '.join(m['loadavg_at_start'])},"
        f" Python yardstick {m['python_yardstick_ms']} ms, thread round trip"
        f" {m['thread_round_trip_us']} µs, commit p50 {m['commit_ms']['p50']} ms",
    ]
    for row in report["engine"]:
        if "scenario" in row:
            lines.append(
                f"engine {row['scenario']:<10} {row['impl']:<11} {row['draws_per_s']:>9,.1f}/s"
                f"  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  errors {row['errors']}"
            )
        else:
            lines.append(
                f"engine ratios prizeledger/baseline: {row['ratios_prizeledger_to_baseline']}"
            )
    draws, reads = report["http"]
    lines += [
        f"http draws {draws['draws_per_s']:,}/s p99 {draws['p99_ms']} ms;"
        f" GET /wallet {reads['reads_per_s']:,}/s",
        f"projections: catch-up {p['catchup_events_per_s']:,} events/s over {p['events']:,};"
        f" live lag p50 {p['lag_p50_ms']} ms p99 {p['lag_p99_ms']} ms",
        f"verify: {v['events_per_s']:,} events/s over {v['events']:,}",
        f"memory: api {mem['api_peak_rss_mb']} MiB, projector {mem['projector_peak_rss_mb']} MiB",
        f"growth: draw p50 long/fresh pool {g['p50_ratio_long_to_fresh']},"
        f" verify time x{g['verify']['time_ratio']} for events x{g['verify']['event_ratio']}",
        f"ok: {report['ok']}" + ("" if report["ok"] else f"  {m['checks']}"),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the whole benchmark suite (full, or ``--quick``) on DATABASE_URL and REDIS_URL;
    the JSON report on stdout with ``--json``, else a summary; exit 1 unless every check passed."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per enrolment request
    report = run_suite(
        QUICK if args.quick else FULL,
        os.environ.get("DATABASE_URL", DEFAULT_URL),
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0 if report["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    """Also ``python -m ops.bench.suite`` (the same arguments as ``prizeledger bench``)."""
    from ops.cli import main as cli

    return cli(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
