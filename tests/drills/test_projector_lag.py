"""Drill 4, the part tests/integration/test_projector.py does not cover (it kills a projector
mid-batch, feeds poison events and checks that ``projections status`` exits 1 on a failed
projection): the lag alarm. ``prizeledger projections status`` exits 1 while a read model is
further behind than ``--max-lag`` and 0 once the projector has caught up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure.bootstrap import System
from infrastructure.settings import Settings
from tests.drills.conftest import open_pool
from tests.drills.deployment import drill_env

pytestmark = [pytest.mark.drills, pytest.mark.postgres]


def _status(env: dict[str, str], max_lag: int) -> tuple[int, list[dict[str, object]]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.cli",
            "projections",
            "status",
            "--json",
            "--max-lag",
            f"{max_lag}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_projections_status_alarms_on_lag_and_clears_after_catch_up(
    pg_settings: Settings, drill_system: System, tmp_path: Path
) -> None:
    open_pool(drill_system, "lag")
    env = drill_env(pg_settings, "", "unused:", tmp_path)
    head = drill_system.ledger.recorder.max_notification_id() or 0
    assert head > 0

    lagging, rows = _status(env, max_lag=0)
    assert lagging == 1
    assert any(r["lag"] == head for r in rows), rows
    tolerated, _ = _status(env, max_lag=head)
    assert tolerated == 0  # lag up to the threshold is no alarm

    projector = drill_system.projector()
    try:
        projector.catch_up()
    finally:
        projector.close()
    caught_up, rows = _status(env, max_lag=0)
    assert caught_up == 0, rows
    assert all(r["lag"] == 0 and r["state"] != "failed" for r in rows), rows
