"""Drill 5: a concurrency soak. Two API processes draw from one pool whose grand prize is
scarce, with mixed traffic (draws, wallet and history reads, deposits, withdrawals) from many
players, for 60 s (5 minutes with ``--soak``). Throughout: the ledger's invariants hold; zero 5xx;
afterwards the grand prize was won exactly its stock, every answered draw is stored once and
``prizeledger verify`` passes."""

from __future__ import annotations

import json
import random
import time
from collections import Counter

import pytest

from infrastructure.bootstrap import System
from infrastructure.settings import Settings
from ops.bench.ledger_audit import audit
from tests.drills.conftest import open_pool
from tests.drills.deployment import Load, Sent, failures, players, run_verify, stack
from tests.ledger_checks import assert_ledger_invariants

pytestmark = [pytest.mark.drills, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

POOL = "soak"
GRAND_STOCK = 5
PLAYERS_PER_API = 6
CHECK_EVERY_S = 15.0


def _step(sent: Sent) -> None:
    """One request, picked by the player's own seeded random generator."""
    roll = _rolls.setdefault(sent.client.player_id, random.Random(sent.client.player_id)).random()
    if roll < 0.70:
        sent.draw(POOL)
    elif roll < 0.80:
        assert sent.client.call("GET", "/api/v1/wallet").status == 200
    elif roll < 0.88:
        assert sent.client.call("GET", "/api/v1/draws?limit=20").status == 200
    elif roll < 0.94:
        sent.deposit(5_000)
    else:
        sent.withdraw(1_000)


_rolls: dict[str, random.Random] = {}


def test_two_api_processes_on_one_scarce_pool(
    pg_settings: Settings,
    drill_system: System,
    redis_prefix: tuple[str, str],
    soak_seconds: float,
) -> None:
    redis_url, prefix = redis_prefix
    open_pool(drill_system, POOL, grand_stock=GRAND_STOCK)
    with stack(pg_settings, drill_system, redis_url, f"{prefix}soak:") as drill:
        apis = [drill.api(), drill.api()]
        sents = [s for api in apis for s in players(api.base_url, PLAYERS_PER_API, "soak")]
        for sent in sents:
            assert sent.deposit(200_000).status == 201
        checks = 0
        started = time.monotonic()
        with Load(sents, _step):
            while (left := soak_seconds - (time.monotonic() - started)) > 0:
                time.sleep(min(CHECK_EVERY_S, left))
                # Invariants throughout, on the raw events so far.
                midway = audit(drill_system, [])
                assert midway["ok"], midway
                checks += 1
        elapsed = time.monotonic() - started

        assert failures(sents) == []  # zero 5xx
        assert sum(s.client.transport_errors for s in sents) == 0
        answered = [
            (a.body["draw_id"], s.client.player_id) for s in sents for a in s.answered("draw")
        ]
        report = audit(drill_system, answered)
        assert report["ok"], report
        assert report["settled_not_answered"] == 0, report
        assert_ledger_invariants(drill_system.ledger)
        prizes = Counter(
            r["prize_id"]
            for s in sents
            for a in s.answered("draw")
            for r in a.body["results"]
            if r["outcome"] == "won"
        )
        assert prizes["grand"] == GRAND_STOCK, prizes  # scarce: won out, never over
        verified = run_verify(drill.direct_env)
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]

        statuses: Counter[int] = Counter()
        codes: Counter[str] = Counter()
        for sent in sents:
            statuses.update(sent.client.statuses)
            codes.update(sent.client.codes)
        print(
            "soak drill:",
            json.dumps(
                {
                    "seconds": round(elapsed, 1),
                    "players": len(sents),
                    "api_processes": len(apis),
                    "requests": sum(statuses.values()),
                    "draws_answered": len(answered),
                    "draws_per_s": round(len(answered) / elapsed, 1),
                    "statuses": dict(statuses),
                    "refusal_codes": dict(codes),
                    "retried_409s": dict(sum((s.client.retried for s in sents), Counter())),
                    "prizes_won": dict(prizes),
                    "invariant_checks_midway": checks,
                    "events": report["events"],
                }
            ),
        )
