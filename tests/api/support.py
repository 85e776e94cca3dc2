"""What the API tests share: the problem+json assertion, "changed nothing" snapshots, a funded
pool, and the codes mailed through the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from application.results import WalletBalances
from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from interfaces.problems import PROBLEM_JSON
from tests.api.conftest import Api, Player

__all__ = [
    "OP",
    "IBAN",
    "Snapshot",
    "add_bank_account",
    "assert_problem",
    "assert_unchanged",
    "given_pool",
    "mailed_code",
    "snapshot",
]

OP = "operator:admin"
IBAN = "DE89370400440532013000"
RECEIPT = "domain.receipt:Receipt.Recorded"
# The mailed one-time codes: the account id (hex) up front, a dot, then the random part.
_CODE = re.compile(r"^([0-9a-f]{32}\.[A-Za-z0-9_-]+)$", re.MULTILINE)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 error with this status and stable code, carrying the request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"urn:prizeledger:problem:{code}"
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


@dataclass(frozen=True)
class Snapshot:
    """The event log's head and the players' balances (write side) at one moment."""

    head: int
    balances: tuple[WalletBalances, ...]


def snapshot(api: Api, *players: Player) -> Snapshot:
    head = api.system.ledger.recorder.max_notification_id() or 0
    return Snapshot(head, tuple(api.system.wallets.balances(p.player_id) for p in players))


def assert_unchanged(api: Api, before: Snapshot, *players: Player) -> None:
    """Nothing happened since ``before`` but, at most, receipts: a refusal that depends on the
    state keeps a receipt (so that a retry gets the same answer) and records nothing else."""
    recorder = api.system.ledger.recorder
    since = recorder.select_notifications(start=before.head + 1, limit=1_000)
    assert [n.topic for n in since if n.topic != RECEIPT] == []
    assert snapshot(api, *players).balances == before.balances


def given_pool(api: Api, key: str = "wheel", cost: int = 100) -> None:
    """An open pool with a cash and a bonus prize and a large budget."""
    pools = api.system.pools
    pools.create(key, "The wheel", cost, PoolControls(), Cause(OP, f"create-{key}"))
    pools.add_prize(key, Prize("gem", "Gem", "cash", 150, 30), Cause(OP, f"gem-{key}"))
    pools.add_prize(key, Prize("coin", "Coin", "bonus", 20, 30), Cause(OP, f"coin-{key}"))
    pools.fund(key, 1_000_000, Cause(OP, f"fund-{key}"))


def add_bank_account(
    api: Api, player: Player, details: dict[str, str] | None = None, label: str = ""
) -> httpx.Response:
    """POST a bank account as the player's payout method (a valid IBAN unless ``details``)."""
    return api.client.post(
        "/api/v1/payout-methods",
        json={
            "kind": "bank_account",
            "details": {"iban": IBAN, "holder_name": "Ann Example"} if details is None else details,
            "label": label,
        },
        headers=player.auth,
    )


def mailed_code(api: Api, to: str, subject: str) -> str:
    """The one-time code in the newest queued mail to ``to`` whose subject starts so."""
    for row in api.system.outbox().rows("pending", limit=500):
        if row.to == to and row.subject.startswith(subject):
            found = _CODE.search(row.body)
            assert found, row.body
            return found[1]
    raise AssertionError(f"no mail {subject!r} to {to}")
