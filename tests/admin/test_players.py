"""Players and risk through the operator app (real Postgres and Redis), with players acting
through the player app on the same System: search and detail, freezes by scope, force logout,
adjustments under maker-checker, associations, the suspicious list, and the limit of accounts
per registration address. Every action lands in the audit log with its operator and reason."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.admin.conftest import V1, AdminApi, StaffLogin
from tests.admin.test_finance import assert_unchanged, funded_player, problem, project
from tests.api.conftest import Player
from tests.api.support import IBAN, add_bank_account, given_pool, snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def post(admin: AdminApi, path: str, headers: dict[str, str], **body: Any) -> Any:
    return admin.client.post(f"{V1}{path}", json=body, headers=headers)


def get(admin: AdminApi, path: str, op: StaffLogin, **params: Any) -> Any:
    return admin.client.get(f"{V1}{path}", params=params, headers=op.auth)


def audited(admin: AdminApi, op: StaffLogin, **filters: Any) -> list[dict[str, Any]]:
    auditor = admin.operator("admin")
    got = get(admin, "/audit", auditor, limit=500, **filters)
    assert got.status_code == 200, got.text
    rows: list[dict[str, Any]] = got.json()["rows"]
    return [r for r in rows if r["actor"] == f"operator:{op.operator_id}"]


def test_search_and_the_whole_picture_of_a_player(admin_api: AdminApi) -> None:
    support, risk, viewer = (admin_api.operator(r) for r in ("support", "risk", "viewer"))
    given_pool(admin_api.players)
    player, _ = funded_player(admin_api, 5_000)
    drawn = admin_api.players.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 1}, headers=player.money()
    )
    assert drawn.status_code == 201, drawn.text
    project(admin_api)

    prefix = player.email[:6].upper()
    found = get(admin_api, "/players", viewer, q=prefix)
    assert found.status_code == 200, found.text
    assert [r["player_id"] for r in found.json()["rows"]] == [player.player_id]
    assert get(admin_api, "/players", viewer, q=player.player_id).json()["rows"][0]["email"] == (
        player.email
    )

    detail = get(admin_api, f"/players/{player.player_id}", support)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["player"]["registration_ip"] == "testclient"
    assert (body["player"]["logins"], body["player"]["devices"]) == (1, 1)
    assert (
        body["balance"]["available"]
        == admin_api.system.wallets.balances(player.player_id).available
    )
    assert [d["draw_id"] for d in body["recent_draws"]] == [drawn.json()["draw_id"]]
    assert "results" not in body["recent_draws"][0]
    assert [d["amount_minor"] for d in body["deposits"]["rows"]] == [5_000]
    assert [i["ip"] for i in body["ips"]] == ["testclient"]
    assert body["devices"][0]["user_agent"] == "testclient"
    assert (body["freezes"], body["risk"]) == ([], None)  # support may not read risk
    with_risk = get(admin_api, f"/players/{player.player_id}", risk).json()["risk"]
    assert with_risk["player_id"] == player.player_id
    problem(get(admin_api, "/players/nobody", support), 404, "not_found")


def test_freeze_unfreeze_and_force_logout(admin_api: AdminApi) -> None:
    support, viewer = admin_api.operator("support"), admin_api.operator("viewer")
    player, method = funded_player(admin_api, 10_000)
    path = f"/players/{player.player_id}"

    problem(
        post(admin_api, f"{path}/freeze", viewer.auth, scope="withdrawal", reason="r"),
        403,
        "permission_denied",
    )
    before = snapshot(admin_api.players, player)
    problem(
        post(admin_api, f"{path}/freeze", support.auth, scope="withdrawal", reason=" "),
        400,
        "reason_required",
    )
    assert_unchanged(admin_api, before, player)

    frozen = post(admin_api, f"{path}/freeze", support.auth, scope="withdrawal", reason="kyc docs")
    assert frozen.json() == {"player_id": player.player_id, "scope": "withdrawal", "frozen": True}
    refused = admin_api.players.client.post(
        "/api/v1/withdrawals",
        json={"amount_minor": 1_000, "payout_method_id": method},
        headers=player.money(),
    )
    problem(refused, 403, "account_frozen")
    again = post(admin_api, f"{path}/freeze", support.auth, scope="withdrawal", reason="twice")
    problem(again, 422, "freeze_unchanged")
    project(admin_api)
    shown = get(admin_api, path, support).json()
    assert [(f["scope"], f["reason"]) for f in shown["freezes"]] == [("withdrawal", "kyc docs")]
    assert shown["player"]["frozen"] == ["withdrawal"]

    thawed = post(admin_api, f"{path}/unfreeze", support.auth, scope="withdrawal", reason="docs ok")
    assert thawed.json()["frozen"] is False, thawed.text
    allowed = admin_api.players.client.post(
        "/api/v1/withdrawals",
        json={"amount_minor": 1_000, "payout_method_id": method},
        headers=player.money(),
    )
    assert allowed.status_code == 201, allowed.text

    second = admin_api.players.login(player.email)
    out = post(admin_api, f"{path}/force-logout", support.auth, reason="account takeover")
    assert out.status_code == 200, out.text
    assert sorted(out.json()["revoked_sessions"]) == sorted([player.session_id, second.session_id])
    deadline = time.monotonic() + 5  # the player app trusts a checked session for 2 s
    wallet = admin_api.players.client.get("/api/v1/wallet", headers=second.auth)
    while wallet.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        wallet = admin_api.players.client.get("/api/v1/wallet", headers=second.auth)
    problem(wallet, 401, "session_revoked")

    project(admin_api)
    trail = audited(admin_api, support, subject=player.player_id)
    actions = [(r["action"], r["reason"]) for r in trail if r["action"] != "Receipt.Recorded"]
    assert ("Wallet.Frozen", "kyc docs") in actions
    assert ("Wallet.Unfrozen", "docs ok") in actions
    assert ("PlayerAccount.SessionRevoked", "account takeover") in actions


def test_adjustments_need_a_second_operator(admin_api: AdminApi) -> None:
    maker, checker = admin_api.operator("finance"), admin_api.operator("finance")
    support = admin_api.operator("support")
    player, _ = funded_player(admin_api, 1_000)
    path = f"/players/{player.player_id}/adjustments"

    problem(
        post(admin_api, path, support.auth, balance="bonus", delta_minor=5, reason="r"),
        403,
        "permission_denied",
    )
    asked = post(admin_api, path, maker.auth, balance="bonus", delta_minor=500, reason="goodwill")
    assert asked.status_code == 201, asked.text
    assert (asked.json()["state"], asked.json()["requested_by"]) == (
        "requested",
        f"operator:{maker.operator_id}",
    )
    adjustment = asked.json()["adjustment_id"]
    project(admin_api)
    queue = get(admin_api, "/adjustments", support, state="requested").json()["rows"]
    assert [r["adjustment_id"] for r in queue] == [adjustment]

    before = snapshot(admin_api.players, player)
    approve = f"/adjustments/{adjustment}/approve"
    problem(
        post(admin_api, approve, admin_api.step_up(maker), reason="me"),
        403,
        "self_approval_refused",
    )
    problem(post(admin_api, approve, checker.auth, reason="ok"), 403, "step_up_required")
    problem(
        post(admin_api, approve, {**checker.auth, "X-TOTP-Code": "123456"}, reason="ok"),
        403,
        "step_up_invalid",
    )
    assert_unchanged(admin_api, before, player)

    posted = post(admin_api, approve, admin_api.step_up(checker), reason="ticket 42 checked")
    assert posted.json()["state"] == "posted", posted.text
    assert (
        admin_api.system.wallets.balances(player.player_id).bonus == before.balances[0].bonus + 500
    )
    problem(
        post(admin_api, approve, admin_api.step_up(checker), reason="again"),
        409,
        "illegal_transition",
    )

    too_much = post(
        admin_api, path, maker.auth, balance="available", delta_minor=-5_000, reason="fee"
    )
    refused = post(
        admin_api,
        f"/adjustments/{too_much.json()['adjustment_id']}/approve",
        admin_api.step_up(checker),
        reason="ok",
    )
    problem(refused, 422, "insufficient_funds")
    dropped = post(
        admin_api,
        f"/adjustments/{too_much.json()['adjustment_id']}/reject",
        maker.auth,
        reason="wrong amount",
    )
    assert dropped.json()["state"] == "rejected", dropped.text
    problem(post(admin_api, "/adjustments/nope/reject", maker.auth, reason="x"), 404, "not_found")

    project(admin_api)
    made = [(r["action"], r["reason"]) for r in audited(admin_api, maker, kind="Adjustment")]
    assert made == [
        ("Adjustment.Rejected", "wrong amount"),
        ("Adjustment.Requested", "fee"),
        ("Adjustment.Requested", "goodwill"),
    ]
    checked = audited(admin_api, checker, subject=player.player_id)
    assert ("Wallet.Adjusted", "goodwill") in [(r["action"], r["reason"]) for r in checked]
    assert ("Adjustment.Approved", "ticket 42 checked") in [
        (r["action"], r["reason"]) for r in audited(admin_api, checker, kind="Adjustment")
    ]


def test_associations_and_the_suspicious_list(admin_api: AdminApi) -> None:
    risk, support = admin_api.operator("risk"), admin_api.operator("support")
    ann = admin_api.players.register()
    bob = admin_api.players.register()
    for player in (ann, bob):  # one bank account, two players
        assert add_bank_account(admin_api.players, player).status_code == 201
    project(admin_api)

    links = get(admin_api, f"/players/{ann.player_id}/associations", risk)
    assert links.status_code == 200, links.text
    assert {(a["player_id"], a["via"]) for a in links.json()} == {
        (bob.player_id, "device"),
        (bob.player_id, "ip"),
        (bob.player_id, "payout_destination"),
    }
    assert IBAN not in links.text
    problem(
        get(admin_api, f"/players/{ann.player_id}/associations", support), 403, "permission_denied"
    )

    listed = get(admin_api, "/risk/suspicious", risk, min_score=1)
    assert listed.status_code == 200, listed.text
    scores = {s["player_id"]: s for s in listed.json()}
    assert scores[ann.player_id]["signals"] == {
        "shared_device": 1,
        "shared_ip": 1,
        "shared_destination": 1,
    }
    assert scores[ann.player_id]["score"] == 15 + 5 + 30
    assert get(admin_api, "/risk/suspicious", risk, min_score=51).json() == []
    problem(get(admin_api, "/risk/suspicious", support), 403, "permission_denied")


def test_an_address_registers_a_limited_number_of_accounts(admin_api_factory: Any) -> None:
    admin: AdminApi = admin_api_factory(max_accounts_per_ip=2)
    made: list[Player] = [admin.players.register(), admin.players.register()]
    project(admin)
    third = admin.players.client.post(
        "/api/v1/auth/register",
        json={"email": "third@example.com", "password": "correct horse battery staple"},
    )
    problem(third, 403, "too_many_accounts")
    assert admin.system.read_models.accounts_registered_from("testclient") == len(made)
