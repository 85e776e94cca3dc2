"""Operator sign-in, sessions, TOTP, step-up and operator management through the real operator
app on real Postgres and Redis."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from domain import ids
from domain.receipt import Receipt
from domain.staff import MAX_FAILED_LOGINS, Operator
from tests.admin.conftest import PASSWORD, V1, AdminApi, StaffLogin

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def login(admin: AdminApi, email: str, password: str = PASSWORD, **factor: str) -> Any:
    return admin.client.post(
        f"{V1}/auth/login", json={"email": email, "password": password, **factor}
    )


def problem(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def version_of(admin: AdminApi, op: StaffLogin) -> int:
    stored: object = admin.system.ledger.repository.get(ids.operator_id(op.email))
    assert isinstance(stored, Operator)
    return stored.version


# ---- signing in --------------------------------------------------------------------------------


def test_once_totp_is_enrolled_a_login_needs_a_fresh_code(admin_api: AdminApi) -> None:
    op = admin_api.enrol(admin_api.create_operator("viewer"))

    assert problem(login(admin_api, op.email)) == (403, "totp_required")
    assert problem(login(admin_api, op.email, totp_code="000000")) == (403, "totp_invalid")
    code = admin_api.totp(op)
    assert login(admin_api, op.email, totp_code=code).status_code == 200
    # The same code (a replay, even within its 30 seconds) never works twice.
    assert problem(login(admin_api, op.email, totp_code=code)) == (403, "totp_invalid")
    assert problem(login(admin_api, op.email, "wrong password!", totp_code=admin_api.totp(op))) == (
        401,
        "invalid_credentials",
    )


def test_a_recovery_code_signs_in_once(admin_api: AdminApi) -> None:
    op = admin_api.enrol(admin_api.create_operator("viewer"))
    code = op.recovery_codes[3]

    first = login(admin_api, op.email, recovery_code=code.upper())
    again = login(admin_api, op.email, recovery_code=code)

    assert first.status_code == 200
    assert first.json()["enrolment_only"] is False
    assert problem(again) == (403, "totp_invalid")
    me = admin_api.client.get(
        f"{V1}/auth/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert me.json()["operator"]["recovery_codes_left"] == 9


def test_five_failures_in_a_row_lock_the_operator_for_fifteen_minutes(
    admin_api: AdminApi,
) -> None:
    op = admin_api.enrol(admin_api.create_operator("viewer"))
    for attempt in range(MAX_FAILED_LOGINS):
        # Wrong passwords and wrong codes count together.
        wrong = {"totp_code": "000000"} if attempt % 2 else {"password": "not the password"}
        assert login(admin_api, op.email, **wrong).status_code in {401, 403}

    locked = login(admin_api, op.email, totp_code=admin_api.totp(op))

    assert problem(locked) == (403, "operator_locked")
    admin_api.clock.advance(minutes=15)
    assert login(admin_api, op.email, totp_code=admin_api.totp(op)).status_code == 200


def test_an_unknown_email_is_the_same_error_as_a_wrong_password(admin_api: AdminApi) -> None:
    assert problem(login(admin_api, "nobody@example.com")) == (401, "invalid_credentials")


def test_before_enrolment_a_session_may_only_enrol_totp(admin_api: AdminApi) -> None:
    email = admin_api.create_operator("admin")
    body = admin_api.login(email)
    auth = {"Authorization": f"Bearer {body['access_token']}"}

    assert body["enrolment_only"] is True
    assert problem(admin_api.client.get(f"{V1}/operators", headers=auth)) == (
        403,
        "totp_enrolment_required",
    )
    assert admin_api.client.get(f"{V1}/auth/me", headers=auth).json()["enrolment_only"] is True
    secret = admin_api.client.post(f"{V1}/auth/totp", headers=auth).json()["secret"]
    admin_api.clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(admin_api.clock.now)
    confirmed = admin_api.client.post(f"{V1}/auth/totp/confirm", json={"code": code}, headers=auth)
    assert confirmed.status_code == 200
    assert len(confirmed.json()["recovery_codes"]) == 10
    # Enabling TOTP ends this session rather than promoting it: sign in again, with a code.
    assert problem(admin_api.client.get(f"{V1}/auth/me", headers=auth)) == (
        401,
        "session_revoked",
    )
    assert problem(login(admin_api, email)) == (403, "totp_required")


def test_a_players_token_is_refused_and_an_operators_token_is_refused_by_the_player_app(
    admin_api: AdminApi,
) -> None:
    player = admin_api.players.register()
    op = admin_api.operator("admin")

    assert problem(admin_api.client.get(f"{V1}/auth/me", headers=player.auth)) == (
        401,
        "token_invalid",
    )
    player_app = admin_api.players.client
    assert player_app.get("/api/v1/wallet", headers=op.auth).status_code == 401
    assert admin_api.client.get(f"{V1}/auth/me", headers=op.auth).status_code == 200


# ---- sessions ----------------------------------------------------------------------------------


def test_sessions_are_listed_and_revoked(admin_api: AdminApi) -> None:
    op = admin_api.operator("viewer")
    other = admin_api.login(op.email, totp_code=admin_api.totp(op))
    other_auth = {"Authorization": f"Bearer {other['access_token']}"}

    listed = admin_api.client.get(f"{V1}/auth/sessions", headers=op.auth).json()
    assert {s["session_id"] for s in listed} == {op.session_id, other["session_id"]}
    assert [s["current"] for s in listed if s["session_id"] == op.session_id] == [True]

    revoked = admin_api.client.delete(f"{V1}/auth/sessions/{other['session_id']}", headers=op.auth)
    assert revoked.status_code == 200
    assert problem(admin_api.client.get(f"{V1}/auth/me", headers=other_auth)) == (
        401,
        "session_revoked",
    )
    assert admin_api.client.post(f"{V1}/auth/logout", headers=op.auth).status_code == 200
    assert problem(admin_api.client.get(f"{V1}/auth/me", headers=op.auth)) == (
        401,
        "session_revoked",
    )


def test_a_session_ends_eight_hours_after_sign_in_and_a_token_can_be_renewed_until_then(
    admin_api: AdminApi,
) -> None:
    op = admin_api.operator("viewer")
    renewed = admin_api.client.post(f"{V1}/auth/refresh", headers=op.auth)
    assert renewed.status_code == 200
    fresh = {"Authorization": f"Bearer {renewed.json()['access_token']}"}
    assert admin_api.client.get(f"{V1}/auth/me", headers=fresh).status_code == 200

    admin_api.clock.advance(hours=8)

    assert problem(admin_api.client.get(f"{V1}/auth/me", headers=fresh)) == (
        401,
        "session_revoked",
    )


# ---- step-up and managing operators ------------------------------------------------------------


def change_roles(
    admin: AdminApi, headers: dict[str, str], target: StaffLogin, roles: list[str]
) -> Any:
    return admin.client.put(
        f"{V1}/operators/{target.operator_id}/roles",
        json={"roles": roles, "reason": "moved to the finance desk"},
        headers=headers,
    )


def test_a_step_up_missing_or_wrong_is_refused_and_nothing_changes(admin_api: AdminApi) -> None:
    admin = admin_api.operator("admin")
    target = admin_api.operator("viewer")
    before = version_of(admin_api, target)

    missing = change_roles(admin_api, admin.auth, target, ["finance"])
    wrong = change_roles(admin_api, {**admin.auth, "X-TOTP-Code": "000000"}, target, ["finance"])
    used = admin_api.step_up(admin)
    assert change_roles(admin_api, used, target, ["support"]).status_code == 200
    replayed = change_roles(admin_api, used, target, ["finance"])

    assert problem(missing) == (403, "step_up_required")
    assert problem(wrong) == (403, "step_up_invalid")
    assert problem(replayed) == (403, "step_up_invalid")
    assert version_of(admin_api, target) == before + 1  # only the one good change
    assert admin_api.system.operators.operator(target.operator_id).roles == ["support"]


def test_a_change_records_who_and_why_and_a_retry_replays_it(admin_api: AdminApi) -> None:
    admin = admin_api.operator("admin")
    target = admin_api.operator("viewer")
    headers = admin_api.change(admin_api.step_up(admin), "promote-1")

    first = change_roles(admin_api, headers, target, ["finance"])
    # A client's retry (same Idempotency-Key, same code) replays the outcome; another code
    # that is wrong does not get through.
    retried = change_roles(admin_api, headers, target, ["finance"])
    wrong = change_roles(admin_api, {**headers, "X-TOTP-Code": "000000"}, target, ["finance"])

    assert first.status_code == 200
    assert retried.json() == first.json()
    assert problem(wrong) == (403, "step_up_invalid")
    receipt: object = admin_api.system.ledger.repository.get(
        ids.receipt_id(f"operator:{admin.operator_id}", "promote-1")
    )
    assert isinstance(receipt, Receipt)
    assert receipt.reason == "moved to the finance desk"
    assert receipt.command == "change_operator_roles"


def test_a_state_change_without_a_reason_is_refused(admin_api: AdminApi) -> None:
    admin = admin_api.operator("admin")
    target = admin_api.operator("viewer")

    for body in ({}, {"reason": "   "}, {"reason": "x" * 1001}):
        got = admin_api.client.post(
            f"{V1}/operators/{target.operator_id}/force-logout", json=body, headers=admin.auth
        )
        assert problem(got) == (400, "reason_required")
    assert admin_api.client.get(f"{V1}/auth/me", headers=target.auth).status_code == 200


def test_an_admin_creates_operators_but_never_changes_their_own_roles(
    admin_api: AdminApi,
) -> None:
    admin = admin_api.operator("admin")
    made = admin_api.client.post(
        f"{V1}/operators",
        json={
            "email": "New.Hire@example.com",
            "password": "a long enough password",
            "roles": ["support"],
            "reason": "new support hire",
        },
        headers=admin_api.step_up(admin),
    )
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "new.hire@example.com"
    assert made.json()["totp_enabled"] is False
    listed = admin_api.client.get(f"{V1}/operators", headers=admin.auth).json()
    assert [o["email"] for o in listed][-1] == "new.hire@example.com"

    own = change_roles(admin_api, admin_api.step_up(admin), admin, ["viewer"])
    assert problem(own) == (403, "self_management_refused")
    taken = admin_api.client.post(
        f"{V1}/operators",
        json={
            "email": "new.hire@example.com",
            "password": "a long enough password",
            "roles": ["viewer"],
            "reason": "again",
        },
        headers=admin_api.step_up(admin),
    )
    assert problem(taken) == (409, "email_taken")


def test_force_logout_and_disable_end_sessions_and_disable_stops_sign_in(
    admin_api: AdminApi,
) -> None:
    admin = admin_api.operator("admin")
    target = admin_api.operator("support")
    reason = {"reason": "laptop stolen"}

    ended = admin_api.client.post(
        f"{V1}/operators/{target.operator_id}/force-logout", json=reason, headers=admin.auth
    )
    assert ended.json()["sessions_ended"] == [target.session_id]
    assert problem(admin_api.client.get(f"{V1}/auth/me", headers=target.auth)) == (
        401,
        "session_revoked",
    )

    admin_api.sign_in(target)
    disabled = admin_api.client.post(
        f"{V1}/operators/{target.operator_id}/disable",
        json=reason,
        headers=admin_api.step_up(admin),
    )
    assert disabled.json()["disabled"] is True
    assert admin_api.client.get(f"{V1}/auth/me", headers=target.auth).status_code == 401
    refused = login(admin_api, target.email, totp_code=admin_api.totp(target))
    assert problem(refused) == (403, "operator_disabled")

    enabled = admin_api.client.post(
        f"{V1}/operators/{target.operator_id}/enable",
        json={"reason": "laptop found"},
        headers=admin_api.step_up(admin),
    )
    assert enabled.json()["disabled"] is False
    assert login(admin_api, target.email, totp_code=admin_api.totp(target)).status_code == 200


def test_a_role_change_takes_effect_at_the_next_request(admin_api: AdminApi) -> None:
    admin = admin_api.operator("admin")
    target = admin_api.operator("finance")
    assert admin_api.client.get(f"{V1}/auth/me", headers=target.auth).json()["permissions"]

    change_roles(admin_api, admin_api.step_up(admin), target, ["viewer"])

    permissions = admin_api.client.get(f"{V1}/auth/me", headers=target.auth).json()["permissions"]
    assert "withdrawals.pay" not in permissions
    assert "players.read" in permissions


def test_new_recovery_codes_need_a_step_up_and_replace_the_old(admin_api: AdminApi) -> None:
    op = admin_api.operator("viewer")

    without = admin_api.client.post(f"{V1}/auth/recovery-codes", headers=op.auth)
    fresh = admin_api.client.post(f"{V1}/auth/recovery-codes", headers=admin_api.step_up(op))

    assert problem(without) == (403, "step_up_required")
    assert fresh.status_code == 201
    assert problem(login(admin_api, op.email, recovery_code=op.recovery_codes[0])) == (
        403,
        "totp_invalid",
    )
    new_code = fresh.json()["recovery_codes"][0]
    assert login(admin_api, op.email, recovery_code=new_code).status_code == 200
