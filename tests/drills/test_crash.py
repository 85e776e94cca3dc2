"""Drill 1: the API process is killed with SIGKILL several times during a load of deposits,
draws and withdrawals. Every request the client was answered 2xx for is in the store exactly
once, a retry with the same Idempotency-Key returns the original outcome, and
``prizeledger verify`` passes."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from infrastructure.bootstrap import System
from infrastructure.settings import Settings
from ops.bench.ledger_audit import audit
from tests.drills.conftest import open_pool
from tests.drills.deployment import (
    Answer,
    Load,
    Sent,
    assert_503s_only,
    count_events,
    players,
    run_verify,
    stack,
)
from tests.ledger_checks import assert_ledger_invariants

pytestmark = [pytest.mark.drills, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PLAYERS = 4
KILLS = 4
UP_S = 2.5  # how long the API serves between two kills
POOL = "crash"


def _cycle(sent: Sent) -> None:
    """Deposit, draw, withdraw, each request retried until answered."""
    sent.deposit(500)
    sent.draw(POOL)
    sent.withdraw(100)


def _answered(sents: list[Sent], kind: str, status: int = 201) -> list[tuple[Sent, str, Answer]]:
    return [
        (s, key, answer)
        for s in sents
        for key, (k, _, _, answer) in s.answers.items()
        if k == kind and answer.status == status
    ]


def test_sigkill_during_writes_loses_and_duplicates_nothing(
    pg_settings: Settings, drill_system: System, redis_prefix: tuple[str, str]
) -> None:
    redis_url, prefix = redis_prefix
    open_pool(drill_system, POOL)
    with stack(pg_settings, drill_system, redis_url, f"{prefix}crash:") as drill:
        api = drill.api()
        sents = players(api.base_url, PLAYERS, "crash")
        with Load(sents, _cycle):
            for _ in range(KILLS):
                time.sleep(UP_S)
                api.kill()
                api.start()
            time.sleep(UP_S)

        # The kills really interrupted requests: some were retried after a transport error.
        assert sum(s.client.transport_errors for s in sents) >= KILLS
        assert_503s_only(sents)

        # A retry with the same key, after everything, answers the original outcome.
        for sent in sents:
            for key, (kind, path, body, answer) in sent.answers.items():
                again = sent.client.call("POST", path, body, key)
                assert again.status == answer.status, (kind, answer, again)
                assert _identity(kind, again.body) == _identity(kind, answer.body), (kind, key)

        _assert_exactly_once(drill_system, sents)
        assert_ledger_invariants(drill_system.ledger)
        verified = run_verify(drill.direct_env)
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
        _report(sents, api.starts, json.loads(verified.stdout))


def _identity(kind: str, body: dict[str, object]) -> object:
    """What must not change between the first answer and a replay."""
    if kind == "deposit" and "deposit" in body:
        deposit = body["deposit"]
        assert isinstance(deposit, dict)
        return deposit["deposit_id"], deposit["amount_minor"]
    if kind == "withdrawal" and "withdrawal_id" in body:
        return body["withdrawal_id"], body["amount_minor"]
    return body  # a draw (its whole trace), or a refusal's problem without its request id


def _assert_exactly_once(system: System, sents: list[Sent]) -> None:
    draws = [(a.body["draw_id"], s.client.player_id) for s, _, a in _answered(sents, "draw")]
    report = audit(system, draws)
    assert report["ok"], report
    assert report["settled_not_answered"] == 0, report  # no draw nobody was answered for
    events = count_events(system, "Deposit.Requested", "Deposit.Credited", "Withdrawal.Requested")
    deposits = [a.body["deposit"]["deposit_id"] for _, _, a in _answered(sents, "deposit")]
    for deposit_id in deposits:
        assert events[("Deposit.Requested", deposit_id)] == 1
        assert events[("Deposit.Credited", deposit_id)] == 1
    kinds = Counter(kind for kind, _ in events)
    assert kinds["Deposit.Requested"] == len(set(deposits)) == len(deposits)
    withdrawals = [a.body["withdrawal_id"] for _, _, a in _answered(sents, "withdrawal")]
    assert all(events[("Withdrawal.Requested", w)] == 1 for w in withdrawals)
    assert kinds["Withdrawal.Requested"] == len(set(withdrawals)) == len(withdrawals)


def _report(sents: list[Sent], starts: int, verified: dict[str, object]) -> None:
    statuses: Counter[int] = Counter()
    for sent in sents:
        statuses.update(sent.client.statuses)
    print(
        "crash drill:",
        json.dumps(
            {
                "api_starts": starts,
                "requests": sum(len(s.answers) for s in sents),
                "retried_after_transport_error": sum(
                    a.attempts > 1 for s in sents for *_, a in s.answers.values()
                ),
                "transport_errors": sum(s.client.transport_errors for s in sents),
                "retried_409s": dict(sum((s.client.retried for s in sents), Counter())),
                "statuses": dict(statuses),
                "verify_ok": verified.get("ok"),
            }
        ),
    )
