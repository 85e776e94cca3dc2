"""The benchmark suite in miniature (about a second per scenario, 2,000 events): every phase runs
on the real Postgres and Redis and the report has the promised shape and passing checks — so that
``make bench`` cannot rot unnoticed. The full run is not part of the test suite."""

from __future__ import annotations

import pytest

from ops.bench.baseline import Baseline, run_scenario
from ops.bench.suite import REPORT_KEYS, ROW_KEYS, SuiteSize, run_suite
from ops.bench.suite_store import StoreSize
from tests.conftest import ADMIN_URL, REDIS_URL

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

TINY = SuiteSize(
    engine_seconds=1.0,
    engine_scenarios=((1, 1), (8, 2)),
    http_players=4,
    http_seconds=1.0,
    http_warmup_s=0.5,
    wallet_seconds=0.5,
    store=StoreSize(events=2_000, live_seconds=1.0, live_threads=4, growth_seconds=0.5),
)


def test_a_tiny_suite_reports_every_section_and_passes_its_checks() -> None:
    report = run_suite(TINY, ADMIN_URL, REDIS_URL, log=lambda _: None)

    assert tuple(report) == REPORT_KEYS
    machine = report["machine"]
    assert machine["fsync"] == "on"
    assert 0 < machine["python_yardstick_ms"] < 60_000
    assert 0 < machine["thread_round_trip_us"] < 1_000_000
    assert 0 < machine["commit_ms"]["p50"] <= machine["commit_ms"]["p99"] < 60_000
    assert machine["synchronous_commit"] in {"on", "remote_apply", "remote_write", "local"}
    assert machine["checks"] == dict.fromkeys(machine["checks"], True)
    assert machine["checks"]["baseline_ledger_sums_to_zero"] is True
    assert machine["checks"]["baseline_wallets_equal_ledger"] is True
    assert report["ok"] is True
    *rows, ratios = report["engine"]
    assert [(r["scenario"], r["impl"]) for r in rows] == [
        ("1p_1pool", "prizeledger"),
        ("1p_1pool", "baseline"),
        ("8p_2pool", "prizeledger"),
        ("8p_2pool", "baseline"),
    ]
    assert all(set(ROW_KEYS) <= set(r) and r["draws_per_s"] > 0 for r in rows)
    assert set(ratios["ratios_prizeledger_to_baseline"]) == {"1p_1pool", "8p_2pool"}
    draws, reads = report["http"]
    assert draws["draws_per_s"] > 0
    assert draws["errors"] == 0
    assert reads["reads_per_s"] > 0
    assert report["projections"]["events"] >= 2_000
    assert report["projections"]["catchup_events_per_s"] > 0
    assert report["verify"]["events_per_s"] > 0
    assert report["verify"]["violations"] == 0
    assert all(v is not None and v > 0 for v in report["memory"].values())
    assert report["growth"]["long_pool_stream_events"] > 10
    assert report["growth"]["verify"]["events_small"] < report["growth"]["verify"]["events_large"]


def test_the_baseline_check_catches_an_unbalanced_ledger() -> None:
    baseline = Baseline(ADMIN_URL)
    try:
        baseline.open(["bench-0"], ["player-0", "player-1"])
        run_scenario(baseline, ["player-0", "player-1"], ["bench-0"], 0.3)
        assert baseline.check() == dict.fromkeys(baseline.check(), True)
        with baseline.connect() as conn:
            conn.execute(
                "INSERT INTO ledger_entry (txn_id, account, amount)"
                " VALUES (gen_random_uuid(), 'player:player-0:available', 1)"
            )
        broken = baseline.check()
    finally:
        baseline.close()

    assert broken["ledger_sums_to_zero"] is False
    assert broken["every_transaction_balanced"] is False
    assert broken["wallets_equal_ledger"] is False
    assert broken["funds_equal_ledger"] is True
