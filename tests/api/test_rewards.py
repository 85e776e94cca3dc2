"""The reward centre over HTTP on real Postgres and Redis: missions with progress, check-ins,
claims with an Idempotency-Key, budget exhaustion, and a referral registered through the API."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from application.missions import mission_terms
from domain.cause import Cause
from domain.rewards import referral_code
from tests.api.conftest import PASSWORD, Api, Player
from tests.integration.test_rewards import project
from tests.ledger_checks import assert_ledger_invariants

OP = "operator:admin"


def given_mission(api: Api, key: str, kind: str, **terms: Any) -> None:
    record = {
        "title": key.replace("-", " "),
        "kind": kind,
        "target": 1,
        "cadence": "daily" if kind == "daily_check_in" else "one_time",
        "award": "auto",
        "reward_kind": "bonus",
        "reward_minor": 25,
        **terms,
    }
    api.system.missions.create(key, mission_terms(record), Cause(OP, f"mission-{key}"))


def fund(api: Api, amount: int) -> None:
    api.system.rewards.fund_budget(amount, Cause(OP, secrets.token_hex(6)))


def settle(api: Api) -> None:
    """What the projector process does: project, grant what is due, project the grants (the
    rewards read model until it is at the head: a busy Postgres may refuse a connection)."""
    project(api.system)
    api.system.reward_granter().issue_due()
    project(api.system)


def rewards_of(api: Api, player: Player) -> dict[str, Any]:
    got = api.client.get("/api/v1/rewards", headers=player.auth)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def mission(body: dict[str, Any], key: str) -> dict[str, Any]:
    (found,) = [m for m in body["missions"] if m["mission_key"] == key]
    return found


def test_check_in_mission_progress_and_auto_grant(api: Api) -> None:
    given_mission(api, "check-in", "daily_check_in")
    fund(api, 1_000)
    ann = api.register()
    project(api.system)

    before = rewards_of(api, ann)
    assert before["referral_code"] == referral_code(ann.player_id)
    assert mission(before, "check-in") | {"title": ""} == {
        "mission_key": "check-in",
        "title": "",
        "kind": "daily_check_in",
        "cadence": "daily",
        "award": "auto",
        "reward_kind": "bonus",
        "reward_minor": 25,
        "target": 1,
        "period": "2026-01-01",
        "progress": 0,
        "state": "open",
        "ends_at": None,
    }

    key = "check-in-1"
    first = api.client.post("/api/v1/rewards/check-in", headers=ann.money(key))
    assert first.status_code == 201, first.text
    assert first.json() == {"day": "2026-01-01"}
    replayed = api.client.post("/api/v1/rewards/check-in", headers=ann.money(key))
    assert (replayed.status_code, replayed.json()) == (201, first.json())
    twice = api.client.post("/api/v1/rewards/check-in", headers=ann.money())
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_checked_in"

    settle(api)
    after = mission(rewards_of(api, ann), "check-in")
    assert (after["progress"], after["state"]) == (1, "granted")
    assert api.client.get("/api/v1/wallet", headers=ann.auth).json()["bonus"] == 25
    assert_ledger_invariants(api.system.ledger)


def test_a_claim_pays_once_and_is_replayed_with_its_key(api: Api) -> None:
    given_mission(api, "first-deposit", "first_deposit", award="claim", reward_kind="cash")
    fund(api, 1_000)
    ann = api.register()
    project(api.system)
    early = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money())
    assert early.status_code == 409
    assert early.json()["code"] == "nothing_to_claim"

    api.deposit(ann, 1_000)
    settle(api)
    assert mission(rewards_of(api, ann), "first-deposit")["state"] == "claimable"
    keyless = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.auth)
    assert keyless.status_code == 400
    assert keyless.json()["code"] == "idempotency_key_required"

    claimed = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money("c1"))
    assert claimed.status_code == 201, claimed.text
    body = claimed.json()
    assert (body["state"], body["reward_kind"], body["amount_minor"]) == ("granted", "cash", 25)
    again = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money("c1"))
    assert (again.status_code, again.json()) == (201, body)
    # Another key before the read model saw the grant: the same grant, never a second one.
    other = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money("c2"))
    assert (other.status_code, other.json()["grant_id"]) == (201, body["grant_id"])

    project(api.system)
    late = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money("c3"))
    assert late.status_code == 409
    assert api.client.get("/api/v1/wallet", headers=ann.auth).json()["available"] == 1_025
    rows = rewards_of(api, ann)["rewards"]
    assert [(r["source"], r["state"]) for r in rows] == [("first-deposit", "granted")]
    assert_ledger_invariants(api.system.ledger)


def test_an_exhausted_budget_refuses_the_claim_with_its_code(api: Api) -> None:
    given_mission(api, "first-deposit", "first_deposit", award="claim", reward_minor=500)
    fund(api, 100)
    ann = api.register()
    api.deposit(ann, 1_000)
    settle(api)

    refused = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money())
    assert refused.status_code == 422
    assert refused.json()["code"] == "budget_exhausted"
    project(api.system)
    (row,) = rewards_of(api, ann)["rewards"]
    assert (row["state"], row["refusal"]) == ("claimable", "budget_exhausted")

    fund(api, 1_000)
    paid = api.client.post("/api/v1/rewards/first-deposit/claim", headers=ann.money())
    assert paid.status_code == 201, paid.text
    assert api.system.rewards.budget().remaining == 600


def test_a_referral_registered_through_the_api(api_factory: Callable[..., Api]) -> None:
    api = api_factory(referral_bonus_minor=40)
    fund(api, 1_000)
    ann = api.register()
    made = api.client.post(
        "/api/v1/auth/register",
        json={"email": "bob@example.org", "password": PASSWORD, "referrer": "no such code!"},
    )
    assert made.status_code == 400  # not a code's shape
    made = api.client.post(
        "/api/v1/auth/register",
        json={
            "email": "bob@example.org",
            "password": PASSWORD,
            "referrer": referral_code(ann.player_id),
        },
    )
    assert made.status_code == 201, made.text
    bob = api.login("bob@example.org")
    api.deposit(bob, 1_000)

    settle(api)

    rows = rewards_of(api, ann)["rewards"]
    # The test client is one device at one address: the referral is refused as shared.
    assert [(r["source"], r["period"], r["state"], r["refusal"]) for r in rows] == [
        ("referral", bob.player_id, "refused", "shared_device_or_ip")
    ]
    assert api.client.get("/api/v1/wallet", headers=ann.auth).json()["bonus"] == 0


def test_rewards_need_a_signed_in_player(api: Api) -> None:
    assert api.client.get("/api/v1/rewards").status_code == 401
    assert api.client.post("/api/v1/rewards/check-in").status_code == 401
    ann = api.register()
    bad = api.client.post("/api/v1/rewards/Not_A_Key!/claim", headers=ann.money())
    assert bad.status_code in {400, 404}
