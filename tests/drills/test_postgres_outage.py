"""Drill 2: Postgres becomes unreachable for the API (its connections cut, new ones refused)
in the middle of a draw load, then comes back. Meanwhile the API answers 503 problem+json with
a Retry-After; afterwards it serves again without a restart of its own and no acknowledged
write is lost or doubled. The shared server itself is never touched: the outage is the proxy's."""

from __future__ import annotations

import json
import time

import pytest

from infrastructure.bootstrap import System
from infrastructure.settings import Settings
from ops.bench.ledger_audit import audit
from tests.drills.conftest import open_pool
from tests.drills.deployment import Load, Sent, assert_503s_only, failures, players, stack
from tests.ledger_checks import assert_ledger_invariants

pytestmark = [pytest.mark.drills, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PLAYERS = 4
POOL = "outage"
BEFORE_S, DOWN_S, AFTER_S = 2.0, 6.0, 4.0


def _cycle(sent: Sent) -> None:
    sent.draw(POOL)
    wallet = sent.client.call("GET", "/api/v1/wallet")
    assert wallet.status == 200, wallet


def test_postgres_outage_is_503_then_recovers_without_losing_a_write(
    pg_settings: Settings, drill_system: System, redis_prefix: tuple[str, str]
) -> None:
    redis_url, prefix = redis_prefix
    open_pool(drill_system, POOL)
    with stack(pg_settings, drill_system, redis_url, f"{prefix}pg:") as drill:
        api = drill.api()
        sents = players(api.base_url, PLAYERS, "pg")
        for sent in sents:
            assert sent.deposit(100_000).status == 201
        with Load(sents, _cycle):
            time.sleep(BEFORE_S)
            drill.postgres.cut()
            cut_at = time.monotonic()
            time.sleep(DOWN_S)
            drill.postgres.restore()
            restored_at = time.monotonic()
            time.sleep(AFTER_S)
        seen = failures(sents)
        assert seen, "the outage was not visible to the players"
        assert_503s_only(sents)
        assert {f.code for f in seen} <= {"store_unavailable", "busy"}, seen
        # Recovered by itself: the same process, serving again.
        assert api.starts == 1
        assert api.process is not None
        assert api.process.poll() is None
        answered = [
            (a.body["draw_id"], s.client.player_id) for s in sents for a in s.answered("draw")
        ]
        report = audit(drill_system, answered)
        assert report["ok"], report
        assert report["settled_not_answered"] == 0, report
        assert_ledger_invariants(drill_system.ledger)
        print(
            "postgres outage drill:",
            json.dumps(
                {
                    "down_s": round(restored_at - cut_at, 1),
                    "draws_answered": len(answered),
                    "503s": len(seen),
                    "client_timeouts_or_resets": sum(s.client.transport_errors for s in sents),
                    "first_draw_after_restore_s": round(
                        min(a.at for s in sents for a in s.answered("draw") if a.at > restored_at)
                        - restored_at,
                        2,
                    ),
                    "codes": sorted({str(f.code) for f in seen}),
                    "connections_refused_by_proxy": drill.postgres.refused,
                }
            ),
        )
