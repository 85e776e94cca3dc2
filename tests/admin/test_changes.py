"""Change requests, pools and runtime config through the operator app (real Postgres and Redis),
with the player app on the same System to see the changes take effect."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.admin.conftest import V1, AdminApi, StaffLogin
from tests.api.conftest import Player

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

GOLD = {"prize_id": "gold", "name": "Gold", "kind": "cash", "reward": 500, "weight": 10}
TIN = {"prize_id": "tin", "name": "Tin", "kind": "bonus", "reward": 50, "weight": 40}


def problem(got: Any, status: int, code: str) -> None:
    assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["code"] == code, got.text


def etag(admin: AdminApi, op: StaffLogin, path: str) -> str:
    got = admin.client.get(f"{V1}{path}", headers=op.auth)
    assert got.status_code == 200, got.text
    return str(got.headers["etag"])


def draft(
    admin: AdminApi,
    maker: StaffLogin,
    kind: str,
    target: str,
    payload: dict[str, Any],
    if_match: str | None = None,
) -> Any:
    headers = {**maker.auth, **({"If-Match": if_match} if if_match else {})}
    body = {"kind": kind, "target": target, "payload": payload, "reason": "planned change"}
    return admin.client.post(f"{V1}/changes", json=body, headers=headers)


def act(admin: AdminApi, op: StaffLogin, change_id: str, action: str, **headers: str) -> Any:
    step_up = action in {"approve", "publish"}
    auth = admin.step_up(op) if step_up else op.auth
    return admin.client.post(
        f"{V1}/changes/{change_id}/{action}",
        json={"reason": f"{action} it"},
        headers={**auth, **headers},
    )


def through(admin: AdminApi, maker: StaffLogin, checker: StaffLogin, change_id: str) -> None:
    for op, action in ((maker, "submit"), (checker, "approve"), (checker, "publish")):
        got = act(admin, op, change_id, action)
        assert got.status_code == 200, got.text


def publish(
    admin: AdminApi,
    maker: StaffLogin,
    checker: StaffLogin,
    kind: str,
    target: str,
    payload: dict[str, Any],
    etag_path: str | None = None,
) -> str:
    if_match = etag(admin, maker, etag_path) if etag_path else None
    made = draft(admin, maker, kind, target, payload, if_match)
    assert made.status_code == 201, made.text
    change_id: str = made.json()["change_id"]
    through(admin, maker, checker, change_id)
    return change_id


def project(admin: AdminApi, *names: str) -> None:
    """Catch the named read models up to the head. A projector skips a projection whose lease
    it could not take (a busy server refusing connections), so try again until they are."""
    for _ in range(20):
        admin.project()
        status = [s for s in admin.system.projection_status() if s.name in names]
        if len(status) == len(names) and all(s.lag == 0 for s in status):
            return
        time.sleep(0.25)
    raise AssertionError(f"{names} did not catch up: {status}")


@pytest.fixture
def staff(admin_api: AdminApi) -> tuple[StaffLogin, StaffLogin]:
    """Two admins: a maker and a checker."""
    return admin_api.operator("admin"), admin_api.operator("admin")


def make_wheel(admin: AdminApi, maker: StaffLogin, checker: StaffLogin) -> None:
    body = {"name": "Wheel", "draw_cost": 100, "controls": {"rtp_target_bps": 9_000}}
    publish(admin, maker, checker, "pool.create", "wheel", body)
    publish(admin, maker, checker, "prize.add", "wheel", GOLD, "/pools/wheel")


def fund(admin: AdminApi, op: StaffLogin, amount: int) -> None:
    funded = admin.client.post(
        f"{V1}/pools/wheel/fund",
        json={"amount_minor": amount, "reason": "prize budget"},
        headers=admin.step_up(op),
    )
    assert funded.status_code == 200, funded.text


# ---- maker-checker -------------------------------------------------------------------------


def test_self_approval_is_refused_and_another_operator_approves(admin_api, staff):
    maker, checker = staff
    made = draft(admin_api, maker, "pool.create", "wheel", {"name": "Wheel", "draw_cost": 100})
    assert made.status_code == 201, made.text
    change_id = made.json()["change_id"]
    assert made.json()["state"] == "draft"
    assert act(admin_api, maker, change_id, "submit").status_code == 200

    problem(act(admin_api, maker, change_id, "approve"), 403, "self_approval_refused")
    detail = admin_api.client.get(f"{V1}/changes/{change_id}", headers=checker.auth).json()
    assert detail["change"]["state"] == "submitted"

    approved = act(admin_api, checker, change_id, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approver"] == f"operator:{checker.operator_id}"
    published = act(admin_api, checker, change_id, "publish")
    assert published.json()["state"] == "published"
    pool = admin_api.client.get(f"{V1}/pools/wheel", headers=maker.auth)
    assert pool.status_code == 200, pool.text
    assert (pool.json()["name"], pool.json()["draw_cost"]) == ("Wheel", 100)


def test_approve_and_publish_need_a_fresh_totp_code_and_change_nothing_without(admin_api, staff):
    maker, checker = staff
    made = draft(admin_api, maker, "pool.create", "wheel", {"name": "Wheel", "draw_cost": 100})
    change_id = made.json()["change_id"]
    assert act(admin_api, maker, change_id, "submit").status_code == 200

    url = f"{V1}/changes/{change_id}/approve"
    missing = admin_api.client.post(url, json={"reason": "ok"}, headers=checker.auth)
    problem(missing, 403, "step_up_required")
    wrong = admin_api.client.post(
        url, json={"reason": "ok"}, headers={**checker.auth, "X-TOTP-Code": "000000"}
    )
    problem(wrong, 403, "step_up_invalid")

    detail = admin_api.client.get(f"{V1}/changes/{change_id}", headers=checker.auth).json()
    assert detail["change"]["state"] == "submitted"


def test_only_allowed_roles_draft_and_approve(admin_api, staff):
    maker, _ = staff
    viewer, finance = admin_api.operator("viewer"), admin_api.operator("finance")

    problem(
        draft(admin_api, viewer, "pool.create", "wheel", {"name": "W", "draw_cost": 100}),
        403,
        "permission_denied",
    )
    made = draft(admin_api, maker, "pool.create", "wheel", {"name": "W", "draw_cost": 100})
    change_id = made.json()["change_id"]
    assert act(admin_api, maker, change_id, "submit").status_code == 200
    problem(act(admin_api, finance, change_id, "approve"), 403, "permission_denied")
    listed = admin_api.client.get(f"{V1}/changes/{change_id}", headers=viewer.auth)
    assert listed.status_code == 200, listed.text


def test_a_reason_is_required(admin_api, staff):
    maker, _ = staff
    body = {"kind": "pool.create", "target": "wheel", "payload": {"name": "W", "draw_cost": 1}}
    got = admin_api.client.post(f"{V1}/changes", json={**body, "reason": "  "}, headers=maker.auth)
    problem(got, 400, "reason_required")


# ---- ETags and staleness -------------------------------------------------------------------


def test_drafting_an_edit_needs_if_match_and_a_stale_one_is_refused(admin_api, staff):
    maker, checker = staff
    make_wheel(admin_api, maker, checker)
    tag = etag(admin_api, maker, "/pools/wheel")

    problem(
        draft(admin_api, maker, "pool.update", "wheel", {"draw_cost": 150}),
        428,
        "precondition_required",
    )
    publish(
        admin_api, maker, checker, "pool.update", "wheel", {"name": "Big wheel"}, "/pools/wheel"
    )
    problem(
        draft(admin_api, maker, "pool.update", "wheel", {"draw_cost": 150}, tag),
        412,
        "precondition_failed",
    )
    fresh = etag(admin_api, maker, "/pools/wheel")
    assert fresh != tag
    made = draft(admin_api, maker, "pool.update", "wheel", {"draw_cost": 150}, fresh)
    assert made.status_code == 201, made.text
    assert made.json()["base_version"] == fresh.strip('"')


def test_a_request_whose_target_changed_since_the_draft_is_stale(admin_api, staff):
    maker, checker = staff
    make_wheel(admin_api, maker, checker)
    tag = etag(admin_api, maker, "/pools/wheel")
    first = draft(
        admin_api, maker, "prize.change", "wheel", {"prize_id": "gold", "weight": 20}, tag
    ).json()["change_id"]
    second = draft(
        admin_api, maker, "prize.change", "wheel", {"prize_id": "gold", "weight": 30}, tag
    ).json()["change_id"]
    act(admin_api, maker, second, "submit")
    assert act(admin_api, checker, second, "approve").status_code == 200

    through(admin_api, maker, checker, first)

    problem(act(admin_api, checker, second, "publish"), 409, "change_request_stale")
    detail = admin_api.client.get(f"{V1}/changes/{second}", headers=checker.auth).json()
    assert (detail["change"]["state"], detail["stale"]) == ("approved", True)
    pool = admin_api.client.get(f"{V1}/pools/wheel", headers=maker.auth).json()
    assert pool["prizes"][0]["weight"] == 20


# ---- preview and publish -------------------------------------------------------------------


def test_publish_changes_the_pools_odds_exactly_as_previewed(admin_api, staff):
    maker, checker = staff
    make_wheel(admin_api, maker, checker)
    fund(admin_api, maker, 100_000)
    before = admin_api.client.get(f"{V1}/pools/wheel", headers=maker.auth).json()
    made = draft(
        admin_api, maker, "prize.add", "wheel", TIN, etag(admin_api, maker, "/pools/wheel")
    )
    change_id = made.json()["change_id"]

    detail = admin_api.client.get(f"{V1}/changes/{change_id}", headers=checker.auth)
    assert detail.status_code == 200, detail.text
    preview = detail.json()
    assert preview["stale"] is False
    assert preview["problem"] is None
    assert {"field": "prizes.tin.weight", "before": None, "after": 40} in preview["diff"]
    assert preview["odds_before"] == before["odds"]
    assert preview["odds_after"] != before["odds"]

    through(admin_api, maker, checker, change_id)

    after = admin_api.client.get(f"{V1}/pools/wheel", headers=maker.auth).json()
    assert after["odds"] == preview["odds_after"]
    assert [p["prize_id"] for p in after["prizes"]] == ["gold", "tin"]


def test_the_approval_queue_lists_submitted_requests(admin_api, staff):
    maker, checker = staff
    make_wheel(admin_api, maker, checker)
    made = draft(
        admin_api,
        maker,
        "pool.update",
        "wheel",
        {"name": "W2"},
        etag(admin_api, maker, "/pools/wheel"),
    )
    change_id = made.json()["change_id"]
    assert act(admin_api, maker, change_id, "submit").status_code == 200
    project(admin_api, "change_requests")

    queue = admin_api.client.get(
        f"{V1}/changes", params={"state": "submitted"}, headers=checker.auth
    )
    assert queue.status_code == 200, queue.text
    assert [r["change_id"] for r in queue.json()["rows"]] == [change_id]
    done = admin_api.client.get(
        f"{V1}/changes", params={"state": "published", "target": "wheel"}, headers=checker.auth
    )
    assert [r["kind"] for r in done.json()["rows"]] == ["pool.create", "prize.add"]


def test_the_maker_withdraws_and_a_checker_rejects(admin_api, staff):
    maker, checker = staff
    one = draft(admin_api, maker, "pool.create", "one", {"name": "One", "draw_cost": 100})
    two = draft(admin_api, maker, "pool.create", "two", {"name": "Two", "draw_cost": 100})
    problem(act(admin_api, checker, one.json()["change_id"], "withdraw"), 403, "not_change_maker")
    withdrawn = act(admin_api, maker, one.json()["change_id"], "withdraw")
    assert withdrawn.json()["state"] == "withdrawn"
    act(admin_api, maker, two.json()["change_id"], "submit")
    rejected = act(admin_api, checker, two.json()["change_id"], "reject")
    assert (rejected.json()["state"], rejected.json()["closing_reason"]) == (
        "rejected",
        "reject it",
    )
    problem(act(admin_api, checker, two.json()["change_id"], "publish"), 409, "illegal_transition")


# ---- direct pool actions -------------------------------------------------------------------


def test_pause_resume_rotate_and_fund_with_step_up(admin_api, staff):
    maker, checker = staff
    make_wheel(admin_api, maker, checker)
    url = f"{V1}/pools/wheel"

    no_code = admin_api.client.post(
        f"{url}/fund", json={"amount_minor": 500, "reason": "r"}, headers=maker.auth
    )
    problem(no_code, 403, "step_up_required")
    paused = admin_api.client.post(f"{url}/pause", json={"reason": "audit"}, headers=maker.auth)
    assert paused.json()["status"] == "paused"
    resumed = admin_api.client.post(f"{url}/resume", json={"reason": "done"}, headers=maker.auth)
    assert resumed.json()["status"] == "open"
    rotated = admin_api.client.post(
        f"{url}/rotate-epoch", json={"reason": "weekly"}, headers=maker.auth
    )
    assert rotated.json()["epoch"] == 2
    defund = admin_api.client.post(
        f"{url}/defund", json={"amount_minor": 1, "reason": "r"}, headers=admin_api.step_up(maker)
    )
    problem(defund, 422, "insufficient_funds")
    pool = admin_api.client.get(url, headers=maker.auth).json()
    assert (pool["fund"], pool["status"]) == (0, "open")
    missing = admin_api.client.get(f"{V1}/pools/nope", headers=maker.auth)
    problem(missing, 404, "not_found")


# ---- runtime config ------------------------------------------------------------------------


def test_a_config_change_is_visible_with_its_history(admin_api, staff):
    maker, checker = staff
    listed = admin_api.client.get(f"{V1}/config", headers=maker.auth).json()
    assert {s["key"]: s["value"] for s in listed}["deposit_max"] == 1_000_000

    problem(
        draft(
            admin_api,
            maker,
            "config.set",
            "deposit_min",
            {"value": 2_000_000},
            etag(admin_api, maker, "/config/deposit_min"),
        ),
        400,
        "config_invalid",
    )
    change_id = publish(
        admin_api,
        maker,
        checker,
        "config.set",
        "deposit_max",
        {"value": 5_000},
        "/config/deposit_max",
    )

    got = admin_api.client.get(f"{V1}/config/deposit_max", headers=maker.auth)
    assert (got.json()["value"], got.json()["version"]) == (5_000, 1)
    assert got.headers["etag"] == '"v1"'
    history = admin_api.client.get(f"{V1}/config/deposit_max/history", headers=maker.auth).json()
    assert len(history) == 1
    assert history[0]["value"] == 5_000
    assert history[0]["previous"] == 1_000_000
    assert history[0]["change_id"] == change_id
    assert history[0]["actor"] == f"operator:{checker.operator_id}"
    problem(admin_api.client.get(f"{V1}/config/nope", headers=maker.auth), 404, "not_found")


def deposit_status(admin: AdminApi, player: Player, amount: int) -> Any:
    return admin.players.client.post(
        "/api/v1/deposits", json={"amount_minor": amount}, headers=player.money()
    )


def test_config_changes_are_enforced_in_the_player_app(admin_api, staff):
    maker, checker = staff
    player = admin_api.players.register()
    assert deposit_status(admin_api, player, 6_000).status_code == 201

    publish(
        admin_api,
        maker,
        checker,
        "config.set",
        "deposit_max",
        {"value": 5_000},
        "/config/deposit_max",
    )
    problem(deposit_status(admin_api, player, 6_000), 422, "amount_out_of_range")
    assert deposit_status(admin_api, player, 5_000).status_code == 201

    publish(
        admin_api,
        maker,
        checker,
        "config.set",
        "deposits_enabled",
        {"value": False},
        "/config/deposits_enabled",
    )
    problem(deposit_status(admin_api, player, 500), 403, "feature_disabled")

    publish(
        admin_api,
        maker,
        checker,
        "config.set",
        "maintenance_mode",
        {"value": True},
        "/config/maintenance_mode",
    )
    login = admin_api.players.client.post(
        "/api/v1/auth/login", json={"email": player.email, "password": "whatever it is"}
    )
    problem(login, 503, "maintenance")
    assert login.headers["retry-after"] == "60"
    register = admin_api.players.client.post(
        "/api/v1/auth/register", json={"email": "new@example.com", "password": "long enough pw"}
    )
    problem(register, 503, "maintenance")
    # Reads keep working in maintenance.
    assert admin_api.players.client.get("/api/v1/wallet", headers=player.auth).status_code == 200


def test_draws_can_be_switched_off(admin_api, staff):
    maker, checker = staff
    make_wheel(admin_api, maker, checker)
    fund(admin_api, maker, 10_000)
    player = admin_api.players.register()
    admin_api.players.deposit(player, 1_000)
    url = "/api/v1/pools/wheel/draws"

    drew = admin_api.players.client.post(url, json={"count": 1}, headers=player.money())
    assert drew.status_code == 201, drew.text
    publish(
        admin_api,
        maker,
        checker,
        "config.set",
        "draws_enabled",
        {"value": False},
        "/config/draws_enabled",
    )
    problem(
        admin_api.players.client.post(url, json={"count": 1}, headers=player.money()),
        403,
        "feature_disabled",
    )


def test_every_step_of_a_change_lands_in_the_audit_log_with_actor_and_reason(admin_api, staff):
    maker, checker = staff
    change_id = publish(
        admin_api,
        maker,
        checker,
        "config.set",
        "withdrawal_max",
        {"value": 50_000},
        "/config/withdrawal_max",
    )
    project(admin_api, "audit")

    rows = admin_api.system.read_models.audit(kind="ChangeRequest", limit=20).rows
    steps = {r.action.split(".")[1]: r for r in rows if r.target_id == change_id}
    assert set(steps) == {"Drafted", "Submitted", "Approved", "Published"}
    assert (steps["Drafted"].actor, steps["Drafted"].reason) == (
        f"operator:{maker.operator_id}",
        "planned change",
    )
    assert (steps["Approved"].actor, steps["Approved"].reason) == (
        f"operator:{checker.operator_id}",
        "approve it",
    )
    (changed,) = admin_api.system.read_models.audit(action="RuntimeConfig.SettingChanged").rows
    assert changed.actor == f"operator:{checker.operator_id}"
    assert changed.reason == "publish it"
    assert changed.details["key"] == "withdrawal_max"
