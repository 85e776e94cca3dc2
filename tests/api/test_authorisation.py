"""Ownership (IDOR): a player can never read or act on another player's objects, and the answer
is the same 404 as for an id that does not exist — never a 200, never a 403 that would reveal
that the object is there. And every route but the public ones needs a token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.api.conftest import Api, Player
from tests.api.support import (
    add_bank_account,
    assert_problem,
    assert_unchanged,
    given_pool,
    snapshot,
)

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
# What anyone may call without signing in.
PUBLIC = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/webhooks/payments/{provider}"),
    ("GET", "/api/v1/pools"),
    ("GET", "/api/v1/fairness/{pool_key}/epochs"),
    ("GET", "/api/v1/stats"),
}


@dataclass
class Owned:
    """What player A owns: one of each kind of object."""

    deposit_id: str
    checkout_ref: str
    withdrawal_id: str
    draw_id: str
    method_id: str
    session_id: str


def given_alices_things(api: Api, alice: Player) -> Owned:
    given_pool(api)
    api.deposit(alice, 10_000)
    pending = api.client.post(
        "/api/v1/deposits", json={"amount_minor": 700}, headers=alice.money()
    ).json()
    method = add_bank_account(api, alice).json()
    withdrawal = api.client.post(
        "/api/v1/withdrawals",
        json={"amount_minor": 1_000, "payout_method_id": method["method_id"]},
        headers=alice.money(),
    ).json()
    drawn = api.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 1}, headers=alice.money()
    ).json()
    return Owned(
        deposit_id=pending["deposit"]["deposit_id"],
        checkout_ref=pending["checkout"]["provider_ref"],
        withdrawal_id=withdrawal["withdrawal_id"],
        draw_id=drawn["draw_id"],
        method_id=method["method_id"],
        session_id=alice.session_id,
    )


# (method, path template, body, idempotent POST, the code of "not found")
ATTEMPTS = [
    ("GET", "/api/v1/deposits/{deposit_id}", None, False, "not_found"),
    ("GET", "/api/v1/withdrawals/{withdrawal_id}", None, False, "not_found"),
    ("POST", "/api/v1/withdrawals/{withdrawal_id}/cancel", None, True, "not_found"),
    ("GET", "/api/v1/draws/{draw_id}", None, False, "not_found"),
    ("DELETE", "/api/v1/auth/sessions/{session_id}", None, False, "session_not_found"),
    ("DELETE", "/api/v1/payout-methods/{method_id}", None, False, "payout_method_not_found"),
    ("POST", "/api/v1/sandbox/checkout/{checkout_ref}", {"outcome": "pay"}, False, "not_found"),
]


def attempt(api: Api, who: Player, method: str, path: str, body: Any, money: bool) -> Any:
    headers = who.money() if money else who.auth
    return api.client.request(method, path, json=body, headers=headers)


def test_player_b_gets_404_for_everything_player_a_owns(api: Api) -> None:
    alice, bob = api.register(), api.register()
    api.deposit(bob, 5_000)
    owned = given_alices_things(api, alice)
    before = snapshot(api, alice, bob)

    for method, template, body, money, code in ATTEMPTS:
        path = template.format(**vars(owned))
        refused = attempt(api, bob, method, path, body, money)
        assert refused.status_code == 404, (method, path, refused.text)
        theirs = assert_problem(refused, 404, code)
        # Exactly what an id that exists nowhere gets.
        missing = re.sub(r"\{[a-z_]+\}", UNKNOWN_UUID, template)
        if "checkout" in template:
            ref = owned.checkout_ref
            missing = template.format(checkout_ref=ref[:-1] + ("1" if ref.endswith("0") else "0"))
        nowhere = attempt(api, bob, method, missing, body, money)
        assert_problem(nowhere, 404, code)
        assert theirs["title"] == nowhere.json()["title"]

    assert_unchanged(api, before, alice, bob)
    # Alice's things are untouched and still hers.
    assert api.client.get("/api/v1/wallet", headers=alice.auth).status_code == 200
    assert (
        api.client.get(f"/api/v1/withdrawals/{owned.withdrawal_id}", headers=alice.auth).json()[
            "state"
        ]
        == "requested"
    )
    assert (
        api.client.get(f"/api/v1/deposits/{owned.deposit_id}", headers=alice.auth).json()["state"]
        == "provider_pending"
    )
    assert [
        m["method_id"] for m in api.client.get("/api/v1/payout-methods", headers=alice.auth).json()
    ] == [owned.method_id]


def test_lists_show_only_the_callers_own_objects(api: Api) -> None:
    alice, bob = api.register(), api.register()
    given_alices_things(api, alice)
    api.project()

    for path in (
        "/api/v1/deposits",
        "/api/v1/withdrawals",
        "/api/v1/draws",
        "/api/v1/wallet/history",
    ):
        mine = api.client.get(path, headers=alice.auth).json()
        theirs = api.client.get(path, headers=bob.auth).json()
        assert mine["rows"], path
        assert theirs == {"rows": [], "next_cursor": None}, path
    assert api.client.get("/api/v1/payout-methods", headers=bob.auth).json() == []
    sessions = api.client.get("/api/v1/auth/sessions", headers=bob.auth).json()
    assert [s["session_id"] for s in sessions] == [bob.session_id]
    wallet = api.client.get("/api/v1/wallet", headers=bob.auth).json()
    assert (wallet["player_id"], wallet["available"]) == (bob.player_id, 0)


def operations(api: Api) -> list[tuple[str, str]]:
    schema = api.client.get("/schema/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


def test_every_route_but_the_public_ones_needs_a_token(api: Api) -> None:
    listed = operations(api)
    assert set(listed) >= PUBLIC
    guarded = [op for op in listed if op not in PUBLIC]
    assert len(guarded) >= 25

    for method, template in guarded:
        path = re.sub(r"\{[a-z_]+\}", "x1", template)
        refused = api.client.request(method, path, json={}, headers={"Idempotency-Key": "k1"})
        assert refused.status_code == 401, (method, template, refused.text)
        assert_problem(refused, 401, "unauthenticated")


def test_the_public_routes_answer_without_a_token(api: Api) -> None:
    given_pool(api, "wheel")
    for method, template in sorted(PUBLIC):
        path = template.replace("{pool_key}", "wheel").replace("{provider}", "sandbox")
        answered = api.client.request(method, path, json={})
        assert answered.status_code < 500, answered.text
        if answered.status_code == 401:  # a refused webhook signature, not a missing token
            assert answered.json()["code"] == "webhook_signature_invalid", (method, path)
