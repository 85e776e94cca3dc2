"""The whole player journey over HTTP: register, top up through the sandbox provider's signed
webhook, draw, verify, withdraw — with the ledger's invariants checked on the raw events."""

from __future__ import annotations

import re

from domain.cause import Cause
from domain.fairness import commitment_of
from tests.api.conftest import Api
from tests.api.support import OP, given_pool
from tests.ledger_checks import assert_ledger_invariants


def test_register_top_up_draw_and_withdraw(api: Api) -> None:
    given_pool(api)
    alice = api.register()

    api.deposit(alice, 5_000)
    wallet = api.client.get("/api/v1/wallet", headers=alice.auth)
    assert wallet.status_code == 200
    assert wallet.json()["available"] == 5_000
    assert wallet.headers["etag"] == f'W/"{wallet.json()["version"]}"'

    pool = api.client.get("/api/v1/pools/wheel", headers=alice.auth).json()
    assert pool["draw_cost"] == 100
    assert abs(sum(row["probability"] for row in pool["odds"]) - 1) < 1e-9

    key = "draw-1"
    drawn = api.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 3}, headers=alice.money(key)
    )
    assert drawn.status_code == 201, drawn.text
    body = drawn.json()
    assert body["status"] == "settled"
    assert len(body["results"]) == 3
    again = api.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 3}, headers=alice.money(key)
    )
    assert again.status_code == 201
    assert again.json() == body  # replayed, never re-rolled

    trace = api.client.get(f"/api/v1/draws/{body['draw_id']}", headers=alice.auth)
    assert trace.status_code == 200
    assert trace.json() == body

    epochs = api.client.get("/api/v1/fairness/wheel/epochs").json()
    assert epochs[0]["commitment"] == pool["commitment"]
    assert epochs[0]["revealed_seed"] is None
    api.system.pools.rotate_epoch("wheel", Cause(OP, "rotate"))
    revealed = api.client.get("/api/v1/fairness/wheel/epochs").json()[0]["revealed_seed"]
    assert commitment_of(revealed) == pool["commitment"]

    method = api.client.post(
        "/api/v1/payout-methods",
        json={
            "kind": "bank_account",
            "details": {"iban": "DE89370400440532013000", "holder_name": "Alice"},
        },
        headers=alice.auth,
    )
    assert method.status_code == 201, method.text
    assert "0532013000" not in method.text
    withdrawal = api.client.post(
        "/api/v1/withdrawals",
        json={"amount_minor": 1_000, "payout_method_id": method.json()["method_id"]},
        headers=alice.money(),
    )
    assert withdrawal.status_code == 201, withdrawal.text
    assert withdrawal.json()["state"] == "requested"

    api.project()
    history = api.client.get("/api/v1/wallet/history?limit=2", headers=alice.auth).json()
    assert len(history["rows"]) == 2
    assert history["next_cursor"]
    draws = api.client.get("/api/v1/draws", headers=alice.auth).json()
    assert [row["draw_id"] for row in draws["rows"]] == [body["draw_id"]]
    assert_ledger_invariants(api.system.ledger)


def test_errors_are_problem_json_with_a_code(api: Api) -> None:
    missing = api.client.get("/api/v1/wallet")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "unauthenticated"
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    # A request id of its own when the client sent none: 32 hex digits, one per request.
    again = api.client.get("/api/v1/wallet")
    ids = {r.headers["x-request-id"] for r in (missing, again)}
    assert len(ids) == 2
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)
    chosen = api.client.get("/api/v1/wallet", headers={"X-Request-ID": "client-chosen.1"})
    assert chosen.headers["x-request-id"] == "client-chosen.1"

    alice = api.register()
    bad = api.client.post(
        "/api/v1/deposits", json={"amount_minor": -5, "extra": 1}, headers=alice.money()
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "validation_failed"

    nokey = api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=alice.auth)
    assert nokey.status_code == 400
    assert nokey.json()["code"] == "idempotency_key_required"

    nowhere = api.client.get("/api/v1/nope")
    assert nowhere.status_code == 404
    assert nowhere.json()["code"] == "not_found"
