"""The end-to-end HTTP benchmark in miniature (4 players, about a second of draws): the real
server and projector processes come up, the players draw, and the report says what happened
and that the ledger checks passed — so that ``make bench`` cannot rot unnoticed."""

from __future__ import annotations

import json

import pytest

from ops.bench.http_draws import main

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_a_tiny_run_reports_draws_wallet_reads_and_passing_checks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "--players",
            "4",
            "--seconds",
            "1",
            "--warmup",
            "0.5",
            "--wallet-seconds",
            "0.5",
            "--workers",
            "1",
            "--floor",
        ]
    )

    report = json.loads(capsys.readouterr().out)
    (run,) = report["runs"]
    draws, reads = run["draws"], run["wallet_reads"]
    assert code == 0
    assert report["ok"] is True
    assert run["postgres"] == {"fsync": "on", "synchronous_commit": "on"}
    assert draws["checks"] == dict.fromkeys(draws["checks"], True)
    assert draws["statuses"] == {"201": draws["ok_responses"]}
    assert draws["draws_per_s"] > 0
    assert draws["answered_draws"] == draws["requests_incl_warmup"] >= draws["ok_responses"]
    assert draws["cpu_s"]["server"] > 0
    assert reads["statuses"] == {"200": reads["ok_responses"]}
    assert reads["reads_per_s"] > 0
    assert run["health_live"]["statuses"] == {"200": run["health_live"]["ok_responses"]}
