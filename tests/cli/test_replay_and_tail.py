"""``prizeledger replay`` and ``prizeledger events tail`` on the raw events."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from domain import ids
from domain.cause import Cause
from ops.audit import cli, replay
from tests.cli.conftest import OPERATOR, ROOT, Store

pytestmark = pytest.mark.postgres


def replayed(store: Store, *args: str) -> dict[str, Any]:
    done = store.cli("replay", *args, "--json")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_replay_a_wallet_at_a_version_and_at_a_time(store: Store) -> None:
    wallet_id = ids.wallet_id("p1")
    latest: Any = store.system.ledger.repository.get(wallet_id)
    now = replayed(store, "wallet", "p1")
    assert now["version"] == now["latest_version"] == latest.version
    assert (now["state"]["available"], now["state"]["locked"]) == (latest.available, 0)
    for version in (1, 3, latest.version - 2):
        then: Any = store.system.ledger.repository.get(wallet_id, version=version)
        state = replayed(store, "wallet", str(wallet_id), "--to-version", str(version))["state"]
        assert (state["version"], state["available"], state["bonus"]) == (
            version,
            then.available,
            then.bonus,
        )
    # Before the withdrawals (16 minutes in) p1 had its credits, draws and the adjustment.
    before = replayed(store, "wallet", "p1", "--as-of", "2026-01-01T12:15:30")["state"]
    withdrawal = store.withdrawals["p1-paid"]
    assert withdrawal not in before["withdrawals_in_window"]
    assert before["available"] == latest.available + 1_000  # the paid-out withdrawal


def test_replay_hides_secrets_and_refuses_wrong_ids(store: Store) -> None:
    pool = replayed(store, "pool", "gold")["state"]
    assert pool["server_seed"] == "<secret>"
    assert pool["commitment"]
    draw = replayed(store, "draw", store.draws["gold-2"])["state"]
    assert [r["prize_id"] for r in draw["results"]] == ["nugget", "nugget"]
    assert store.cli("replay", "draw", "not-a-uuid").returncode == 2
    assert store.cli("replay", "wallet", "nobody").returncode == 1
    wrong = store.cli("replay", "pool", str(ids.wallet_id("p1")))
    assert wrong.returncode == 1
    assert "is a Wallet, not a pool" in wrong.stderr
    early = store.cli("replay", "wallet", "p1", "--as-of", "2025-12-31T00:00:00Z")
    assert early.returncode == 1
    assert "did not exist yet" in early.stderr


def test_tail_prints_decoded_notifications_without_secrets(store: Store) -> None:
    done = store.cli("events", "tail", "--from", "1", "--limit", "3", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["id"] for line in lines] == [1, 2, 3]
    [created] = [line for line in lines if line["topic"] == "PrizePool.Created"]
    assert created["attributes"]["server_seed"] == "<secret>"
    assert created["attributes"]["pool_key"] == "gold"
    assert "server-seed-" not in done.stdout
    last = store.cli("events", "tail", "--limit", "2")
    head = store.system.ledger.recorder.max_notification_id() or 0
    assert [line.split()[0] for line in last.stdout.splitlines()] == [f"#{head - 1}", f"#{head}"]


def test_tail_follows_new_notifications(store: Store) -> None:
    head = store.system.ledger.recorder.max_notification_id() or 0
    args = ["events", "tail", "--from", str(head + 1), "--follow", "--limit", "2", "--json"]
    with subprocess.Popen(
        [sys.executable, "-m", "ops.cli", *args],
        cwd=ROOT,
        env=store.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as follower:
        store.system.wallets.credit_bonus("p1", 10, "loyalty", Cause(OPERATOR, "late-bonus"))
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    topics = [json.loads(line)["topic"] for line in out.splitlines()]
    assert sorted(topics) == ["Receipt.Recorded", "Wallet.BonusCredited"]


def test_the_cli_offers_the_kinds_replay_knows() -> None:
    assert sorted(replay.KINDS) == cli.REPLAY_KINDS
