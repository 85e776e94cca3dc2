"""The suite's store phase: one big event store, then projections, verify and growth over it.

In a throw-away schema (``prizeledger migrate`` first, as production does): ``events`` real domain
events generated on one pool ``gen-0`` (``projections.generate``), so that pool's history is the
whole store; a ``prizeledger projector`` process catches balances, history and trial_balance up
from 0 (events/s from its first tracked batch to the head, its peak RSS from /proc); then
``projections.live`` (lag while 32 threads draw); ``prizeledger verify`` (its own process, as an
auditor runs it) over everything and over a
second store a tenth the size, same generator and mix (linear?); draw latency on a fresh pool vs
``gen-0`` (flat?).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from domain.ids import pool_id
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from ops.bench import draw_engine, projections
from ops.bench.baseline import CONNECTIONS

__all__ = ["StoreSize", "peak_rss_mb", "run_store_phase"]

CATCH_UP_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class StoreSize:
    events: int  # generated before the catch-up
    live_seconds: float  # drawing while the projector follows
    live_threads: int
    growth_seconds: float  # per pool, 8 players drawing


def peak_rss_mb(pids: list[int]) -> float | None:
    """The largest VmHWM (peak resident set) among ``pids``, in MiB; None if none is alive."""
    peaks = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peaks += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")]
    return round(max(peaks) / 1024, 1) if peaks else None


@contextmanager
def _schema(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated throw-away schema and the environment a ``prizeledger`` process needs for it."""
    schema = f"bench_store_{secrets.token_hex(4)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRIZELEDGER_", "POSTGRES_"))}
    env.pop("REDIS_URL", None)
    env.update(DATABASE_URL=url, PRIZELEDGER_SCHEMA=schema, PRIZELEDGER_LOG_LEVEL="WARNING")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        cli = [sys.executable, "-m", "ops.cli", "migrate"]
        subprocess.run(cli, env=env, check=True, capture_output=True)
        yield schema, env
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _projector_catch_up(
    env: dict[str, str], probe: projections.Probe, head: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """A ``prizeledger projector`` process for the three projections, from 0 to ``head``.
    Events/s from its first tracked page to the head (its start-up left out); a store the
    process takes in one page (a few thousand events) is timed from the process's start."""
    command = [sys.executable, "-m", "ops.cli", "projector", *projections.NAMES]
    command += ["--no-mail", "--no-live"]
    spawned = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        first: tuple[int, float] | None = None
        position = 0
        while position < head and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
            position = probe.tracked()
            if first is None and position > 0:
                first = (position, time.perf_counter()) if position < head else (0, spawned)
        finished = time.perf_counter()
        peak = peak_rss_mb([process.pid])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    caught_up = position >= head and first is not None
    rate = (head - first[0]) / (finished - first[1]) if caught_up and first else 0.0
    log(f"catch-up: {head:,} events at {rate:,.0f}/s, projector peak RSS {peak} MiB")
    return {"caught_up": caught_up, "events_per_s": round(rate), "peak_rss_mb": peak}


def _growth_draws(system: System, seconds: float) -> dict[str, Any]:
    """Draw latency (8 players) on a fresh pool of a few events vs ``gen-0``, which holds the
    whole generated store's draws in its history."""
    pools, players = draw_engine.prepare(system, 1, 8)
    last = system.ledger.recorder.select_events(pool_id("gen-0"), desc=True, limit=1)
    fresh = draw_engine.run_scenario(system, "group_commit", players, pools, seconds)
    long = draw_engine.run_scenario(system, "group_commit", players, ["gen-0"], seconds)
    p50_long, p50_fresh = long["p50_ms"], fresh["p50_ms"]
    ratio = (
        p50_long / p50_fresh
        if isinstance(p50_long, float) and isinstance(p50_fresh, float) and p50_fresh
        else None
    )
    return {
        "fresh_pool": {k: fresh[k] for k in ("draws_per_s", "p50_ms", "p99_ms", "errors")},
        "long_pool": {k: long[k] for k in ("draws_per_s", "p50_ms", "p99_ms", "errors")},
        "long_pool_stream_events": last[0].originator_version if last else 0,
        "p50_ratio_long_to_fresh": round(ratio, 2) if ratio is not None else None,
    }


def _verify(env: dict[str, str]) -> dict[str, Any]:
    """``prizeledger verify --json`` over the schema of ``env``, the command an auditor runs, in
    a process of its own: its events, seconds and events/s (as the command reports them: from its
    first read of the log to its verdict) and its verdict."""
    command = [sys.executable, "-m", "ops.cli", "verify", "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"prizeledger verify exited {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return {
        "events": report["events"],
        "events_per_s": report["events_per_s"],
        "seconds": report["elapsed_s"],
        "violations": report["violations"],
        "ok": report["ok"] and done.returncode == 0,
    }


def _growth_verify(url: str, full: dict[str, Any], events: int) -> dict[str, Any]:
    """Verify over a second store of ``events`` (a tenth of the big one) made by the same
    generator, beside the big store's figure: linear means the time ratio is close to the event
    ratio. The generator opens one player per 100 events, so both stores hold the same mix
    (a prefix of the big store would not: its first tenth is mostly wallets and deposits)."""
    with _schema(url) as (schema, env):
        settings = Settings(database_url=url, schema=schema, pool_size=4)
        system = bootstrap(settings)
        try:
            projections.generate(system, events, pools=1)
        finally:
            system.close()
        small = _verify(env)
    return {
        "events_small": small["events"],
        "seconds_small": round(small["seconds"], 2),
        "events_large": full["events"],
        "seconds_large": round(full["seconds"], 2),
        "event_ratio": round(full["events"] / small["events"], 2) if small["events"] else None,
        "time_ratio": round(full["seconds"] / small["seconds"], 2) if small["seconds"] else None,
        "ok": small["ok"],
    }


def run_store_phase(url: str, size: StoreSize, log: Callable[[str], None]) -> dict[str, Any]:
    """projections, verify, the projector's memory and growth, with the checks they passed."""
    with _schema(url) as (schema, env):
        settings = Settings(database_url=url, schema=schema, pool_size=CONNECTIONS)
        system = bootstrap(settings)
        table = system.ledger.recorder.events_table_name  # type: ignore[attr-defined]
        probe = projections.Probe(url, schema, table)
        try:
            written, generate_s = projections.generate(system, size.events, pools=1)
            head = system.ledger.recorder.max_notification_id() or 0
            log(f"store: {written:,} events generated in {generate_s:.1f}s")
            catch_up = _projector_catch_up(env, probe, head, log)
            live = projections.live(system, url, schema, size.live_seconds, size.live_threads)
            growth = _growth_draws(system, size.growth_seconds)
        finally:
            probe.close()
            system.close()
        report = _verify(env)
        rate, ok = report["events_per_s"], report["ok"]
        log(f"verify: {report['events']:,} events at {rate:,}/s, ok={ok}")
    growth["verify"] = _growth_verify(url, report, size.events // 10)
    small = growth["verify"]
    log(
        f"verify growth: {small['events_small']:,} events in {small['seconds_small']} s"
        f" vs {report['events']:,} in {report['seconds']:.1f} s"
    )
    checks = {
        "projector_caught_up": catch_up["caught_up"],
        "verify_ok": report["ok"],
        "verify_part_ok": growth["verify"]["ok"],
        "growth_draws_no_errors": not growth["fresh_pool"]["errors"]
        and not growth["long_pool"]["errors"],
    }
    return {
        "projections": {
            "events": written,
            "catchup_events_per_s": catch_up["events_per_s"],
            "lag_p50_ms": live["lag_ms_p50"],
            "lag_p99_ms": live["lag_ms_p99"],
            "live": live,
        },
        "verify": {
            "events": report["events"],
            "events_per_s": report["events_per_s"],
            "seconds": round(report["seconds"], 2),
            "violations": report["violations"],
        },
        "projector_peak_rss_mb": catch_up["peak_rss_mb"],
        "growth": growth,
        "checks": checks,
    }
