"""The reward centre through the operator app (real Postgres and Redis): missions made and
changed by change requests, the marketing budget funded with a step-up, and the grants and
refusals reports — with players earning rewards through the player app on the same System."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import V1, AdminApi, StaffLogin
from tests.admin.test_changes import act, draft, etag, problem, through
from tests.integration.test_rewards import project

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CHECK_IN = {
    "title": "Daily check-in",
    "kind": "daily_check_in",
    "target": 1,
    "cadence": "daily",
    "award": "auto",
    "reward_kind": "bonus",
    "reward_minor": 25,
}


def fund(admin: AdminApi, op: StaffLogin, amount: int, step_up: bool = True) -> Any:
    headers = admin.step_up(op) if step_up else op.auth
    body = {"amount_minor": amount, "reason": "monthly marketing budget"}
    return admin.client.post(f"{V1}/rewards/budget/fund", json=body, headers=headers)


def settle(admin: AdminApi) -> None:
    """What the projector process does: project, grant what is due, project the grants (the
    rewards read model until it is at the head: a busy Postgres may refuse a connection)."""
    project(admin.system)
    admin.system.reward_granter().issue_due()
    project(admin.system)


def test_a_mission_is_made_and_changed_through_change_requests(admin_api: AdminApi) -> None:
    maker, checker = admin_api.operator("admin"), admin_api.operator("admin")

    made = draft(admin_api, maker, "mission.create", "check-in", CHECK_IN)
    assert made.status_code == 201, made.text
    detail = admin_api.client.get(f"{V1}/changes/{made.json()['change_id']}", headers=maker.auth)
    assert {row["field"] for row in detail.json()["diff"]} >= {"kind", "reward_minor"}
    self_approved = act(admin_api, maker, made.json()["change_id"], "submit")
    assert self_approved.status_code == 200
    problem(
        act(admin_api, maker, made.json()["change_id"], "approve"), 403, "self_approval_refused"
    )
    for op, action in ((checker, "approve"), (checker, "publish")):
        got = act(admin_api, op, made.json()["change_id"], action)
        assert got.status_code == 200, got.text

    one = admin_api.client.get(f"{V1}/missions/check-in", headers=maker.auth)
    assert one.status_code == 200, one.text
    assert (one.json()["reward_minor"], one.json()["retired"]) == (25, False)
    assert one.headers["etag"] == f'"{one.json()["revision"]}"'

    bigger = {**CHECK_IN, "reward_minor": 40}
    problem(
        draft(admin_api, maker, "mission.change", "check-in", bigger), 428, "precondition_required"
    )
    changed = draft(
        admin_api,
        maker,
        "mission.change",
        "check-in",
        bigger,
        etag(admin_api, maker, "/missions/check-in"),
    )
    assert changed.status_code == 201, changed.text
    through(admin_api, maker, checker, changed.json()["change_id"])

    project(admin_api.system)
    listed = admin_api.client.get(f"{V1}/missions", headers=maker.auth).json()
    assert [(m["mission_key"], m["reward_minor"]) for m in listed] == [("check-in", 40)]
    bad = draft(admin_api, maker, "mission.create", "other", {**CHECK_IN, "cadence": "one_time"})
    problem(bad, 400, "mission_invalid")


def test_the_budget_is_funded_with_a_step_up_and_its_usage_reported(admin_api: AdminApi) -> None:
    admin, finance = admin_api.operator("admin"), admin_api.operator("finance")
    problem(fund(admin_api, admin, 100, step_up=False), 403, "step_up_required")
    problem(fund(admin_api, finance, 100), 403, "permission_denied")
    funded = fund(admin_api, admin, 100)
    assert funded.status_code == 200, funded.text
    assert (funded.json()["funded"], funded.json()["remaining"]) == (100, 100)
    maker, checker = admin, admin_api.operator("admin")
    made = draft(admin_api, maker, "mission.create", "check-in", {**CHECK_IN, "reward_minor": 60})
    through(admin_api, maker, checker, made.json()["change_id"])

    players = [admin_api.players.register() for _ in range(2)]
    for player in players:
        checked = admin_api.players.client.post("/api/v1/rewards/check-in", headers=player.money())
        assert checked.status_code == 201, checked.text
    settle(admin_api)

    usage = admin_api.client.get(f"{V1}/rewards/budget", headers=finance.auth)
    assert usage.status_code == 200, usage.text
    assert usage.json()["budget"] | {"currency": ""} == {
        "account": "house:marketing",
        "currency": "",
        "funded": 100,
        "spent": 60,
        "remaining": 40,
        "grants": 1,
        "refusals": 1,
    }
    assert usage.json()["by_source"] == [
        {"source": "check-in", "grants": 1, "amount": 60, "refusals": 1}
    ]
    grants = admin_api.client.get(f"{V1}/rewards/grants", headers=finance.auth).json()
    refusals = admin_api.client.get(f"{V1}/rewards/refusals", headers=finance.auth).json()
    paid_to = {row["player_id"] for row in grants["rows"]}
    refused_to = {row["player_id"] for row in refusals["rows"]}
    assert paid_to | refused_to == {p.player_id for p in players}
    assert [row["reason"] for row in refusals["rows"]] == ["budget_exhausted"]
    viewer = admin_api.operator("viewer")
    problem(
        admin_api.client.get(f"{V1}/rewards/grants", headers=viewer.auth), 403, "permission_denied"
    )

    taken = admin_api.client.post(
        f"{V1}/rewards/budget/defund",
        json={"amount_minor": 41, "reason": "end of campaign"},
        headers=admin_api.step_up(admin),
    )
    problem(taken, 422, "budget_exhausted")
