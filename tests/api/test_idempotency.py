"""Idempotency under concurrency: eight threads send the same money-moving request with the same
Idempotency-Key at once. Exactly one charge, whatever happens: each answer is the first one
replayed, or 409 while the first is still running. Without Redis (no in-flight lock at all) the
durable receipts alone still make it exactly one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, Player
from tests.api.support import add_bank_account, assert_problem, given_pool
from tests.ledger_checks import assert_ledger_invariants

THREADS = 8
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def at_once(send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """``send`` from THREADS threads released together."""
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> httpx.Response:
        barrier.wait(timeout=10)
        return send()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def one_answer(responses: list[httpx.Response], status: int, locked: bool = True) -> dict[str, Any]:
    """Every response is the same success, or 409 in flight (only while the lock works);
    returns the success's body."""
    succeeded = [r for r in responses if r.status_code == status]
    assert succeeded, [r.text for r in responses]
    if not locked:  # no in-flight lock: every request ran, and the receipt replayed the first
        assert len(succeeded) == len(responses), [r.text for r in responses]
    body: dict[str, Any] = succeeded[0].json()
    for response in responses:
        if response.status_code == status:
            assert response.json() == body
        else:
            assert_problem(response, 409, "idempotency_key_in_flight")
            assert response.headers["retry-after"] == "1"
    return body


def count_events(api: Api, topic: str) -> int:
    recorder = api.system.ledger.recorder
    return sum(1 for n in recorder.select_notifications(start=1, limit=10_000) if n.topic == topic)


def deposit_at_once(api: Api, player: Player, locked: bool) -> dict[str, Any]:
    headers = player.money("same-deposit")
    responses = at_once(
        lambda: api.client.post("/api/v1/deposits", json={"amount_minor": 4_000}, headers=headers)
    )
    body = one_answer(responses, 201, locked)
    assert count_events(api, "domain.deposit:Deposit.Requested") == 1
    # Paying it credits it once.
    ref = body["checkout"]["provider_ref"]
    paid = api.client.post(
        f"/api/v1/sandbox/checkout/{ref}", json={"outcome": "pay"}, headers=player.auth
    )
    assert paid.status_code == 200, paid.text
    balances = api.system.wallets.balances(player.player_id)
    assert (balances.available, balances.locked) == (4_000, 0)
    api.project()
    listed = api.client.get("/api/v1/deposits", headers=player.auth).json()
    assert [r["deposit_id"] for r in listed["rows"]] == [body["deposit"]["deposit_id"]]
    return body


def draw_at_once(api: Api, player: Player, locked: bool) -> dict[str, Any]:
    given_pool(api, cost=100)
    api.deposit(player, 1_000)
    headers = player.money("same-draw")
    responses = at_once(
        lambda: api.client.post("/api/v1/pools/wheel/draws", json={"count": 2}, headers=headers)
    )
    body = one_answer(responses, 201, locked)
    assert count_events(api, "domain.draw:Draw.Executed") == 1
    won = sum(r["reward"] for r in body["results"] if r["kind"] == "cash")
    balances = api.system.wallets.balances(player.player_id)
    assert balances.available == 1_000 - 200 + won == body["available_after"]
    return body


@pytest.mark.parametrize("scenario", [deposit_at_once, draw_at_once], ids=["deposit", "draw"])
def test_eight_threads_with_one_key_charge_once(
    api: Api, scenario: Callable[[Api, Player, bool], dict[str, Any]]
) -> None:
    player = api.register()

    scenario(api, player, True)

    assert_ledger_invariants(api.system.ledger)


@pytest.mark.parametrize("scenario", [deposit_at_once, draw_at_once], ids=["deposit", "draw"])
def test_without_redis_the_receipts_alone_charge_once(
    api_factory: Callable[..., Api], scenario: Callable[[Api, Player, bool], dict[str, Any]]
) -> None:
    api = api_factory(redis_url=UNREACHABLE_REDIS)
    player = api.register()

    scenario(api, player, False)

    assert_ledger_invariants(api.system.ledger)


def test_a_withdrawal_retried_at_once_locks_the_amount_once(api: Api) -> None:
    player = api.register()
    api.deposit(player, 5_000)
    method = add_bank_account(api, player).json()
    headers = player.money("same-withdrawal")
    body = {"amount_minor": 1_500, "payout_method_id": method["method_id"]}

    responses = at_once(lambda: api.client.post("/api/v1/withdrawals", json=body, headers=headers))

    one_answer(responses, 201)
    balances = api.system.wallets.balances(player.player_id)
    assert (balances.available, balances.locked) == (3_500, 1_500)
    assert count_events(api, "domain.withdrawal:Withdrawal.Requested") == 1


def test_a_key_is_per_player(api: Api) -> None:
    """Two players may pick the same key: each gets their own deposit."""
    alice, bob = api.register(), api.register()
    made = [
        api.client.post(
            "/api/v1/deposits", json={"amount_minor": 500}, headers=p.money("shared-key")
        )
        for p in (alice, bob)
    ]
    assert [m.status_code for m in made] == [201, 201]
    assert made[0].json()["deposit"]["deposit_id"] != made[1].json()["deposit"]["deposit_id"]


def test_a_malformed_key_is_refused(api: Api) -> None:
    player = api.register()
    for key in ("", "has space", "x" * 101, "a/b", "k;1"):
        refused = api.client.post(
            "/api/v1/deposits",
            json={"amount_minor": 500},
            headers={**player.auth, "Idempotency-Key": key},
        )
        assert_problem(refused, 400, "idempotency_key_invalid")


def test_a_request_refused_before_its_route_runs_frees_its_key(api: Api) -> None:
    """The in-flight lock is taken before the body is read: a body over the limit (refused
    before the route runs) must still release it, so the corrected retry is not a 409."""
    player = api.register()
    big = b'{"amount_minor": 500, "pad": "' + b"x" * (64 * 1024) + b'"}'
    headers = player.money("fixed-and-retried")

    refused = api.client.post(
        "/api/v1/deposits", content=big, headers={**headers, "Content-Type": "application/json"}
    )
    retried = api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=headers)

    assert_problem(refused, 413, "body_too_large")
    assert retried.status_code == 201, retried.text


def test_a_finished_request_has_freed_its_key_before_it_answers(api: Api) -> None:
    player = api.register()
    headers = player.money("sequential")

    answers = [
        api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=headers)
        for _ in range(5)
    ]

    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["deposit"]["deposit_id"] for a in answers}) == 1
