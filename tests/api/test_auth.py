"""Accounts over HTTP: registration, sign-in and its lock, sessions, passwords, e-mail
verification, TOTP — and every way an access token can be refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pyotp
import pytest

from domain.cause import Cause
from infrastructure.tokens import ISSUER, OPERATOR_AUDIENCE, PLAYER_AUDIENCE
from interfaces.player.sessions import CHECK_TTL_S
from tests.api.conftest import PASSWORD, Api, Player
from tests.api.support import OP, assert_problem, assert_unchanged, mailed_code, snapshot

NEW_PASSWORD = "another long passphrase"


def login(api: Api, email: str, password: str = PASSWORD) -> httpx.Response:
    return api.client.post("/api/v1/auth/login", json={"email": email, "password": password})


def me(api: Api, player: Player) -> dict[str, object]:
    got = api.client.get("/api/v1/auth/me", headers=player.auth)
    assert got.status_code == 200, got.text
    body: dict[str, object] = got.json()
    return body


# ---- registration --------------------------------------------------------------------------


def test_register_creates_an_account_and_an_empty_wallet(api: Api) -> None:
    made = api.client.post(
        "/api/v1/auth/register", json={"email": " Ann@Example.COM ", "password": PASSWORD}
    )

    assert made.status_code == 201, made.text
    body = made.json()
    assert body["email"] == "ann@example.com"
    assert body["email_verified"] is False
    assert body["totp_enabled"] is False
    assert api.system.wallets.balances(body["player_id"]).available == 0


def test_an_address_registers_once_whatever_its_case(api: Api) -> None:
    api.register("bob@example.com")
    before = snapshot(api)

    again = api.client.post(
        "/api/v1/auth/register", json={"email": "BOB@example.com", "password": PASSWORD}
    )

    assert_problem(again, 409, "email_taken")
    assert_unchanged(api, before)


def test_a_weak_password_or_a_bad_address_is_refused_and_changes_nothing(api: Api) -> None:
    before = snapshot(api)
    cases = [
        ({"email": "carl@example.com", "password": "short"}, "weak_password"),
        ({"email": "not-an-address", "password": PASSWORD}, "invalid_email"),
        ({"email": "carl@example.com", "password": PASSWORD, "admin": True}, "validation_failed"),
        ({"email": "carl@example.com"}, "validation_failed"),
    ]
    for body, code in cases:
        refused = api.client.post("/api/v1/auth/register", json=body)
        assert_problem(refused, 400, code)
    assert_unchanged(api, before)


# ---- sign-in -------------------------------------------------------------------------------


def test_login_returns_a_bearer_token_for_a_new_session(api: Api) -> None:
    player = api.register()

    got = login(api, player.email.upper())

    assert got.status_code == 200, got.text
    body = got.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["player_id"] == player.player_id
    assert body["session_id"] != player.session_id
    assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200


def test_a_wrong_password_and_an_unknown_address_are_the_same_401(api: Api) -> None:
    player = api.register()

    wrong = login(api, player.email, "wrong password!")
    unknown = login(api, "nobody@example.com")

    assert_problem(wrong, 401, "invalid_credentials")
    assert_problem(unknown, 401, "invalid_credentials")
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(api: Api) -> None:
    player = api.register()
    for _ in range(5):
        assert_problem(login(api, player.email, "wrong password!"), 401, "invalid_credentials")

    locked = login(api, player.email)  # even the right password
    assert_problem(locked, 403, "account_locked")

    api.clock.advance(minutes=14)
    assert_problem(login(api, player.email), 403, "account_locked")
    api.clock.advance(minutes=2)
    assert login(api, player.email).status_code == 200


# ---- sessions ------------------------------------------------------------------------------


def test_logout_revokes_the_session_behind_the_token(api: Api) -> None:
    player = api.register()

    out = api.client.post("/api/v1/auth/logout", headers=player.auth)

    assert out.status_code == 200, out.text
    assert_problem(api.client.get("/api/v1/wallet", headers=player.auth), 401, "session_revoked")
    assert_problem(
        api.client.post("/api/v1/auth/logout", headers=player.auth), 401, "session_revoked"
    )


def test_sessions_are_listed_and_another_one_can_be_revoked(api: Api) -> None:
    phone = api.register()
    laptop = api.login(phone.email)

    listed = api.client.get("/api/v1/auth/sessions", headers=laptop.auth)

    assert listed.status_code == 200, listed.text
    current = {s["session_id"]: s["current"] for s in listed.json()}
    assert current == {phone.session_id: False, laptop.session_id: True}

    revoked = api.client.delete(f"/api/v1/auth/sessions/{phone.session_id}", headers=laptop.auth)
    assert revoked.status_code == 200, revoked.text
    assert_problem(api.client.get("/api/v1/wallet", headers=phone.auth), 401, "session_revoked")
    assert api.client.get("/api/v1/wallet", headers=laptop.auth).status_code == 200
    remaining = api.client.get("/api/v1/auth/sessions", headers=laptop.auth).json()
    assert [s["session_id"] for s in remaining] == [laptop.session_id]

    before = snapshot(api)
    again = api.client.delete(f"/api/v1/auth/sessions/{phone.session_id}", headers=laptop.auth)
    assert_problem(again, 404, "session_not_found")
    assert_unchanged(api, before)


# ---- passwords -----------------------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_ends_the_others(api: Api) -> None:
    here = api.register()
    elsewhere = api.login(here.email)

    changed = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=here.auth,
    )

    assert changed.status_code == 200, changed.text
    assert api.client.get("/api/v1/wallet", headers=here.auth).status_code == 200
    assert_problem(api.client.get("/api/v1/wallet", headers=elsewhere.auth), 401, "session_revoked")
    assert_problem(login(api, here.email), 401, "invalid_credentials")
    assert login(api, here.email, NEW_PASSWORD).status_code == 200


def test_a_password_change_needs_the_current_password_and_a_strong_new_one(api: Api) -> None:
    player = api.register()
    before = snapshot(api)

    wrong = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=player.auth,
    )
    weak = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=player.auth,
    )

    assert_problem(wrong, 401, "invalid_credentials")
    assert_problem(weak, 400, "weak_password")
    assert_unchanged(api, before)


def request_reset(api: Api, email: str) -> dict[str, object]:
    asked = api.client.post("/api/v1/auth/password-reset", json={"email": email})
    assert asked.status_code == 202, asked.text
    body: dict[str, object] = asked.json()
    return body


def confirm_reset(api: Api, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return api.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )


def test_a_reset_request_answers_the_same_for_an_unknown_address(api: Api) -> None:
    player = api.register()
    mails = len(api.system.outbox().rows("pending", limit=500))

    known = request_reset(api, player.email)
    unknown = request_reset(api, "nobody@example.com")

    assert known == unknown
    queued = api.system.outbox().rows("pending", limit=500)
    assert len(queued) == mails + 1
    assert queued[0].to == player.email


def test_a_reset_code_sets_a_new_password_once_and_ends_every_session(api: Api) -> None:
    player = api.register()
    other = api.login(player.email)
    request_reset(api, player.email)
    token = mailed_code(api, player.email, "Reset your password")

    done = confirm_reset(api, token)

    assert done.status_code == 200, done.text
    for session in (player, other):
        assert_problem(
            api.client.get("/api/v1/wallet", headers=session.auth), 401, "session_revoked"
        )
    assert_problem(login(api, player.email), 401, "invalid_credentials")
    assert login(api, player.email, NEW_PASSWORD).status_code == 200
    before = snapshot(api)
    assert_problem(confirm_reset(api, token, "yet another passphrase"), 400, "token_invalid")
    assert_unchanged(api, before)
    assert login(api, player.email, NEW_PASSWORD).status_code == 200


def test_a_reset_code_expires_after_thirty_minutes(api: Api) -> None:
    player = api.register()
    request_reset(api, player.email)
    token = mailed_code(api, player.email, "Reset your password")

    api.clock.advance(minutes=31)

    assert_problem(confirm_reset(api, token), 400, "token_invalid")
    assert login(api, player.email).status_code == 200


def test_a_made_up_reset_code_is_refused(api: Api) -> None:
    player = api.register()
    request_reset(api, player.email)
    token = mailed_code(api, player.email, "Reset your password")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    assert_problem(confirm_reset(api, forged), 400, "token_invalid")
    assert_problem(confirm_reset(api, "x" * 40), 400, "token_invalid")
    assert_problem(confirm_reset(api, "short"), 400, "validation_failed")
    assert login(api, player.email).status_code == 200


def test_the_mailed_code_verifies_the_address_once(api: Api) -> None:
    player = api.register()
    token = mailed_code(api, player.email, "Confirm your e-mail address")
    assert me(api, player)["email_verified"] is False

    verified = api.client.post("/api/v1/auth/verify-email", json={"token": token})

    assert verified.status_code == 200, verified.text
    assert me(api, player)["email_verified"] is True
    again = api.client.post("/api/v1/auth/verify-email", json={"token": token})
    assert_problem(again, 400, "token_invalid")


# ---- TOTP ----------------------------------------------------------------------------------


def test_totp_is_enrolled_with_a_first_code_and_disabled_with_a_later_one(api: Api) -> None:
    player = api.register()
    assert_problem(
        api.client.post("/api/v1/auth/totp/disable", json={"code": "123456"}, headers=player.auth),
        409,
        "totp_not_enabled",
    )

    started = api.client.post("/api/v1/auth/totp", headers=player.auth)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    assert started.json()["provisioning_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(secret)
    wrong = f"{(int(totp.at(api.clock())) + 1) % 1_000_000:06d}"
    assert_problem(
        api.client.post("/api/v1/auth/totp/confirm", json={"code": wrong}, headers=player.auth),
        403,
        "totp_invalid",
    )
    assert me(api, player)["totp_enabled"] is False

    code = totp.at(api.clock())
    confirmed = api.client.post(
        "/api/v1/auth/totp/confirm", json={"code": code}, headers=player.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    assert me(api, player)["totp_enabled"] is True
    assert_problem(
        api.client.post("/api/v1/auth/totp/confirm", json={"code": code}, headers=player.auth),
        409,
        "totp_already_enabled",
    )

    replayed = api.client.post(
        "/api/v1/auth/totp/disable", json={"code": code}, headers=player.auth
    )
    assert_problem(replayed, 403, "totp_invalid")  # a code works once
    api.clock.advance(seconds=30)
    disabled = api.client.post(
        "/api/v1/auth/totp/disable", json={"code": totp.at(api.clock())}, headers=player.auth
    )
    assert disabled.status_code == 200, disabled.text
    assert me(api, player)["totp_enabled"] is False


def test_a_totp_code_must_be_six_digits(api: Api) -> None:
    player = api.register()
    for code in ("12345", "1234567", "abcdef", 123456):
        refused = api.client.post(
            "/api/v1/auth/totp/confirm", json={"code": code}, headers=player.auth
        )
        assert_problem(refused, 400, "validation_failed")


# ---- access tokens -------------------------------------------------------------------------


def claims_of(player: Player, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": player.player_id,
        "acc": jwt.decode(player.token, options={"verify_signature": False})["acc"],
        "sid": player.session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "aud": PLAYER_AUDIENCE,
        "iss": ISSUER,
    }
    claims.update(overrides)
    return claims


def wallet_with(api: Api, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return api.client.get("/api/v1/wallet", headers=headers)


def test_a_missing_or_malformed_authorization_is_401_unauthenticated(api: Api) -> None:
    player = api.register()
    for header in (None, "", player.token, f"Basic {player.token}", "Bearer", "Bearer "):
        refused = wallet_with(api, header)
        assert_problem(refused, 401, "unauthenticated")
        assert refused.headers["www-authenticate"].startswith("Bearer")


def test_a_token_that_does_not_verify_is_401_token_invalid(api: Api) -> None:
    player = api.register()
    secret = api.system.settings.require_jwt_secret()
    past = datetime.now(UTC) - timedelta(hours=1)
    forged = {
        "garbage": "Bearer not.a.jwt",
        "truncated": f"Bearer {player.token[:-5]}",
        "wrong key": "Bearer " + jwt.encode(claims_of(player), "k" * 48, algorithm="HS256"),
        "alg none": "Bearer " + jwt.encode(claims_of(player), None, algorithm="none"),
        "HS512": "Bearer " + jwt.encode(claims_of(player), secret, algorithm="HS512"),
        "expired": "Bearer "
        + jwt.encode(
            claims_of(
                player,
                iat=int(past.timestamp()),
                exp=int((past + timedelta(minutes=15)).timestamp()),
            ),
            secret,
            algorithm="HS256",
        ),
        "other audience": "Bearer "
        + jwt.encode(claims_of(player, aud=OPERATOR_AUDIENCE), secret, algorithm="HS256"),
        "no session": "Bearer "
        + jwt.encode(
            {k: v for k, v in claims_of(player).items() if k != "sid"}, secret, algorithm="HS256"
        ),
    }
    for name, header in forged.items():
        refused = wallet_with(api, header)
        assert refused.status_code == 401, name
        assert_problem(refused, 401, "token_invalid")
    # The same claims, properly signed, are accepted: the refusals above are about the token.
    good = "Bearer " + jwt.encode(claims_of(player), secret, algorithm="HS256")
    assert wallet_with(api, good).status_code == 200


def test_a_token_of_a_revoked_or_made_up_session_is_401_session_revoked(api: Api) -> None:
    player = api.register()
    secret = api.system.settings.require_jwt_secret()
    made_up = jwt.encode(claims_of(player, sid="f" * 32), secret, algorithm="HS256")
    assert_problem(wallet_with(api, f"Bearer {made_up}"), 401, "session_revoked")

    api.client.post("/api/v1/auth/logout", headers=player.auth)
    # A fresh token for the revoked session (as if it had been issued before the logout).
    reissued = jwt.encode(claims_of(player), secret, algorithm="HS256")
    assert_problem(wallet_with(api, f"Bearer {reissued}"), 401, "session_revoked")


def test_a_token_accepted_before_is_refused_once_it_expires(api: Api) -> None:
    """Verified tokens are remembered per process, with their expiry."""
    player = api.register()
    secret = api.system.settings.require_jwt_secret()
    expires = int(time.time()) + 2
    short = "Bearer " + jwt.encode(claims_of(player, exp=expires), secret, algorithm="HS256")

    accepted = wallet_with(api, short)
    time.sleep(max(expires - time.time(), 0) + 0.1)
    refused = wallet_with(api, short)

    assert accepted.status_code == 200, accepted.text
    assert_problem(refused, 401, "token_invalid")


def test_a_session_revoked_elsewhere_stops_working_here_and_is_not_rechecked_meanwhile(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the app's session watcher reads the store's account changes, a checked session
    is not looked up again on the request path (it was, every 2 s); a revocation made in
    another process (through the application, not this app) ends it within the watcher's
    staleness bound, and in any case within the check's own TTL."""
    player = api.register()
    sessions = api.client.app.state.authenticator.sessions
    deadline = time.monotonic() + 5
    while sessions._position is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the watcher's first read
    assert sessions._position is not None
    warm_up = time.monotonic() + CHECK_TTL_S + 0.5  # a check made before that read is redone
    while time.monotonic() < warm_up:
        assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200
        time.sleep(0.05)
    asked: list[str] = []
    look_up = sessions._session_expiry

    def counted(account_id: str, session_id: str) -> datetime | None:
        asked.append(session_id)
        return look_up(account_id, session_id)

    monkeypatch.setattr(sessions, "_session_expiry", counted)
    until = time.monotonic() + 2 * CHECK_TTL_S + 0.5
    while time.monotonic() < until:
        assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200
        time.sleep(0.05)
    assert asked == []  # was once every CHECK_TTL_S

    account_id = api.client.app.state.authenticator.tokens.verify(player.token).account_id
    api.system.accounts.revoke_session(account_id, player.session_id, Cause(OP, "elsewhere"))
    revoked_at = time.monotonic()
    wallet = api.client.get("/api/v1/wallet", headers=player.auth)
    while wallet.status_code == 200 and time.monotonic() - revoked_at < 5:
        time.sleep(0.02)
        wallet = api.client.get("/api/v1/wallet", headers=player.auth)
    took = time.monotonic() - revoked_at

    assert_problem(wallet, 401, "session_revoked")
    assert took < CHECK_TTL_S
