"""PlayerAccount: given earlier commands, when one command, then these events (or this error)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from domain import ids
from domain.account import (
    LOCK_DURATION,
    MAX_FAILED_LOGINS,
    RESET_TOKEN_TTL,
    VERIFICATION_TOKEN_TTL,
    AccountLocked,
    InvalidEmail,
    PlayerAccount,
    SessionNotFound,
    TokenInvalid,
    TotpAlreadyEnabled,
    TotpInvalid,
    TotpNotEnabled,
    WeakPassword,
    check_email,
    check_password,
    device_of,
)
from domain.cause import Cause
from domain.errors import InvalidArgument
from tests.unit.conftest import T0, names, payload, refused, state_of

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
SYSTEM = Cause("system:login", "req-1")
PLAYER = Cause("player:p1", "req-2")
FIREFOX = "Mozilla/5.0 Firefox/140.0"
CHROME = "Mozilla/5.0 Chrome/141.0"


def given_account(*logins: tuple[str, str]) -> PlayerAccount:
    """An account, with a session per (session id, user agent), all opened at T0."""
    account = PlayerAccount.register("ann@example.org", "p1", "hash-1", T0, SYSTEM)
    for session_id, agent in logins:
        account.log_in(session_id, "10.0.0.1", agent, T0 + WEEK, T0, SYSTEM)
    account.collect_events()
    return account


def fail(account: PlayerAccount, times: int, at=T0) -> None:
    for _ in range(times):
        account.fail_login("10.0.0.9", at, SYSTEM)


def given_totp(step: int = 100) -> PlayerAccount:
    account = given_account()
    account.start_totp("SECRET", T0, PLAYER)
    account.enable_totp(step, T0, PLAYER)
    account.collect_events()
    return account


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def replayed(account: PlayerAccount, events) -> PlayerAccount:
    """The account rebuilt from its events alone (the @event bodies must only assign state)."""
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None
    return rebuilt


# ---- register ------------------------------------------------------------------------------


def test_register_records_registered_at_a_stream_named_by_the_normalised_email():
    account = PlayerAccount.register("  Ann@Example.ORG ", "p1", "hash-1", T0, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["Registered"]
    assert payload(events[0]) == {
        "email": "ann@example.org",
        "player_id": "p1",
        "password_hash": "hash-1",
        "at": T0,
        "actor": "system:login",
        "request_id": "req-1",
        "ip": "",
        "referrer": None,
        "signup_bonus": 0,
        "referral_bonus": 0,
    }
    assert account.id == ids.account_id("ann@example.org") == ids.account_id(" ANN@example.org")
    assert account.id != ids.account_id("bob@example.org")
    assert (account.email_verified, account.totp_enabled, account.failed_logins) == (
        False,
        False,
        0,
    )
    assert account.sessions == {}
    assert account.created_at == T0


def test_register_keeps_the_clients_address_within_bounds():
    account = PlayerAccount.register("ann@example.org", "p1", "h", T0, SYSTEM, "203.0.113.9")
    assert payload(account.collect_events()[0])["ip"] == "203.0.113.9"
    assert account.registration_ip == "203.0.113.9"

    long = PlayerAccount.register("bob@example.org", "p2", "h", T0, SYSTEM, "x" * 500)
    assert payload(long.collect_events()[0])["ip"] == "x" * 64


def test_an_account_registered_before_addresses_were_kept_replays_without_one():
    account = PlayerAccount.register("ann@example.org", "p1", "h", T0, SYSTEM, "203.0.113.9")
    (registered,) = account.collect_events()
    del registered.__dict__["ip"]  # as stored by the earlier release
    replayed = registered.mutate(None)
    assert replayed is not None
    assert (replayed.email, replayed.registration_ip) == ("ann@example.org", "")


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ann",
        "ann@",
        "@example.org",
        "ann@example",
        "ann@@example.org",
        "ann@exa@mple.org",
        "ann smith@example.org",
        "ann@example.org.",
        "ann@.example.org",
        "ann\t@example.org",
        "ann\x00@example.org",
        "a" * 243 + "@example.org",  # 255 characters
    ],
)
def test_register_refuses_an_address_that_is_not_sane(email):
    with pytest.raises(InvalidEmail) as excinfo:
        PlayerAccount.register(email, "p1", "hash-1", T0, SYSTEM)
    assert excinfo.value.code == "invalid_email"
    assert excinfo.value.recorded is False


def test_an_address_of_254_characters_is_accepted():
    email = "a" * 242 + "@example.org"
    assert len(email) == 254
    assert check_email(email) == email


@pytest.mark.parametrize(("player_id", "password_hash"), [("", "h"), ("p" * 101, "h"), ("p1", "")])
def test_register_refuses_a_bad_player_id_or_an_empty_hash(player_id, password_hash):
    with pytest.raises(InvalidArgument):
        PlayerAccount.register("ann@example.org", player_id, password_hash, T0, SYSTEM)


@pytest.mark.parametrize(
    "password",
    [
        "short-pw1",  # 9 characters
        "x" * 129,
        "aaaaaaaaaaaa",
        "ann@example.org",
        " ANN@example.org ",
    ],
)
def test_a_weak_password_is_refused(password):
    with pytest.raises(WeakPassword) as excinfo:
        check_password(password, "ann@example.org")
    assert excinfo.value.code == "weak_password"
    assert excinfo.value.recorded is False


@pytest.mark.parametrize("password", ["ten-chars!", "y" * 127 + "z", "correct horse battery"])
def test_a_long_enough_password_is_accepted(password):
    check_password(password, "ann@example.org")


# ---- login ---------------------------------------------------------------------------------


def test_first_login_opens_a_session_and_is_not_a_new_device_alert():
    account = given_account()

    new_device = account.log_in("s1", "10.0.0.1", FIREFOX, T0 + WEEK, T0, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["LoggedIn"]
    assert payload(events[0]) == {
        "session_id": "s1",
        "ip": "10.0.0.1",
        "user_agent": FIREFOX,
        "device": device_of(FIREFOX),
        "new_device": False,
        "expires_at": T0 + WEEK,
        "pruned": [],
        "at": T0,
        "actor": "system:login",
        "request_id": "req-1",
    }
    assert new_device is False
    assert account.sessions["s1"] == {
        "opened_at": T0,
        "expires_at": T0 + WEEK,
        "ip": "10.0.0.1",
        "user_agent": FIREFOX,
        "device": device_of(FIREFOX),
        "revoked_at": None,
    }
    assert account.known_devices == [device_of(FIREFOX)]


def test_device_is_the_first_16_hex_of_the_user_agents_sha256():
    assert device_of(FIREFOX) == sha256(FIREFOX)[:16]
    assert device_of(FIREFOX) != device_of(CHROME)


def test_a_login_from_another_device_is_flagged_and_the_same_device_is_not():
    account = given_account(("s1", FIREFOX))

    assert account.log_in("s2", "10.0.0.2", CHROME, T0 + WEEK, T0, SYSTEM) is True
    assert account.log_in("s3", "10.0.0.3", FIREFOX, T0 + WEEK, T0, SYSTEM) is False

    events = account.collect_events()
    assert [payload(e)["new_device"] for e in events] == [True, False]
    assert account.known_devices == [device_of(FIREFOX), device_of(CHROME)]


def test_known_devices_keep_only_the_most_recent_32():
    account = given_account(*[(f"s{i}", f"agent-{i}") for i in range(40)])

    assert len(account.known_devices) == 32
    assert account.known_devices[-1] == device_of("agent-39")
    assert device_of("agent-0") not in account.known_devices


def test_a_login_stores_bounded_ip_and_user_agent():
    account = given_account()

    account.log_in("s1", "1" * 100, "U" * 2_000, T0 + WEEK, T0, SYSTEM)

    (event,) = account.collect_events()
    assert (len(payload(event)["ip"]), len(payload(event)["user_agent"])) == (64, 512)
    assert payload(event)["device"] == device_of("U" * 2_000)


@pytest.mark.parametrize(
    ("session_id", "expires_at"), [("", T0 + WEEK), ("s" * 101, T0 + WEEK), ("s9", T0)]
)
def test_login_refuses_a_bad_session_id_or_expiry(session_id, expires_at):
    account = given_account()
    with refused(account, InvalidArgument):
        account.log_in(session_id, "10.0.0.1", FIREFOX, expires_at, T0, SYSTEM)


def test_login_refuses_a_session_id_it_already_has():
    account = given_account(("s1", FIREFOX))
    with refused(account, InvalidArgument):
        account.log_in("s1", "10.0.0.1", FIREFOX, T0 + WEEK, T0, SYSTEM)


def test_a_login_prunes_expired_and_revoked_sessions():
    account = given_account(("old", FIREFOX), ("gone", FIREFOX), ("live", CHROME))
    account.log_in("short", "10.0.0.1", FIREFOX, T0 + DAY, T0, SYSTEM)
    account.revoke_session("gone", "logout", T0, PLAYER)
    account.collect_events()

    account.log_in("new", "10.0.0.1", FIREFOX, T0 + 2 * DAY + WEEK, T0 + 2 * DAY, SYSTEM)

    (event,) = account.collect_events()
    assert payload(event)["pruned"] == ["gone", "short"]
    assert set(account.sessions) == {"old", "live", "new"}


def test_a_wrong_password_is_counted():
    account = given_account()

    account.fail_login("10.0.0.9", T0, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["LoginFailed"]
    assert payload(events[0]) == {
        "ip": "10.0.0.9",
        "failures": 1,
        "at": T0,
        "actor": "system:login",
        "request_id": "req-1",
    }
    assert account.failed_logins == 1
    assert not account.is_locked(T0)


def test_the_fifth_wrong_password_in_a_row_locks_the_account_for_15_minutes():
    account = given_account()
    fail(account, MAX_FAILED_LOGINS - 1)
    account.collect_events()

    account.fail_login("10.0.0.9", T0 + MINUTE, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["LoginFailed", "Locked"]
    assert payload(events[0])["failures"] == 5
    assert payload(events[1]) == {
        "until": T0 + MINUTE + timedelta(minutes=15),
        "at": T0 + MINUTE,
        "actor": "system:login",
        "request_id": "req-1",
    }
    assert account.is_locked(T0 + MINUTE + LOCK_DURATION - timedelta(seconds=1))


def test_a_locked_account_refuses_login_and_counts_nothing():
    account = given_account()
    fail(account, MAX_FAILED_LOGINS)
    account.collect_events()

    for at in (T0, T0 + LOCK_DURATION - timedelta(seconds=1)):
        with refused(account, AccountLocked) as excinfo:
            account.log_in("s1", "10.0.0.1", FIREFOX, at + WEEK, at, SYSTEM)
        assert excinfo.value.code == "account_locked"
        with refused(account, AccountLocked):
            account.fail_login("10.0.0.9", at, SYSTEM)


def test_the_lock_ends_after_15_minutes():
    account = given_account()
    fail(account, MAX_FAILED_LOGINS)
    account.collect_events()

    account.log_in("s1", "10.0.0.1", FIREFOX, T0 + WEEK, T0 + LOCK_DURATION, SYSTEM)

    assert names(account.collect_events()) == ["LoggedIn"]


def test_after_a_lock_the_count_starts_again():
    account = given_account()
    fail(account, MAX_FAILED_LOGINS)
    after = T0 + LOCK_DURATION

    fail(account, MAX_FAILED_LOGINS - 1, at=after)

    assert not account.is_locked(after)
    account.fail_login("10.0.0.9", after, SYSTEM)
    assert account.is_locked(after)


def test_a_success_resets_the_count():
    account = given_account()
    fail(account, MAX_FAILED_LOGINS - 1)
    account.log_in("s1", "10.0.0.1", FIREFOX, T0 + WEEK, T0, SYSTEM)
    account.collect_events()

    account.fail_login("10.0.0.9", T0, SYSTEM)

    assert [payload(e)["failures"] for e in account.collect_events()] == [1]
    assert not account.is_locked(T0)


def test_rehash_replaces_the_hash():
    account = given_account()

    account.rehash_password("hash-2", T0, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["PasswordRehashed"]
    assert payload(events[0])["password_hash"] == "hash-2"
    assert account.password_hash == "hash-2"


# ---- sessions ------------------------------------------------------------------------------


def test_revoke_session_ends_an_open_session():
    account = given_account(("s1", FIREFOX), ("s2", CHROME))

    account.revoke_session("s1", "logout", T0 + MINUTE, PLAYER)

    events = account.collect_events()
    assert names(events) == ["SessionRevoked"]
    assert payload(events[0]) == {
        "session_id": "s1",
        "reason": "logout",
        "at": T0 + MINUTE,
        "actor": "player:p1",
        "request_id": "req-2",
    }
    assert set(account.open_sessions(T0 + MINUTE)) == {"s2"}
    assert account.sessions["s1"]["revoked_at"] == T0 + MINUTE


@pytest.mark.parametrize(("session_id", "at"), [("nope", T0), ("s1", T0 + WEEK), ("gone", T0)])
def test_revoke_session_refuses_an_unknown_expired_or_revoked_session(session_id, at):
    account = given_account(("s1", FIREFOX), ("gone", FIREFOX))
    account.revoke_session("gone", "logout", T0, PLAYER)
    account.collect_events()

    with refused(account, SessionNotFound) as excinfo:
        account.revoke_session(session_id, "logout", at, PLAYER)
    assert excinfo.value.code == "session_not_found"


# ---- passwords -----------------------------------------------------------------------------


def test_change_password_revokes_every_other_open_session():
    account = given_account(("s1", FIREFOX), ("s2", CHROME), ("s3", CHROME), ("done", CHROME))
    account.revoke_session("done", "logout", T0, PLAYER)
    account.collect_events()

    revoked = account.change_password("hash-2", "s2", T0 + MINUTE, PLAYER)

    events = account.collect_events()
    assert names(events) == ["PasswordChanged"]
    assert payload(events[0]) == {
        "password_hash": "hash-2",
        "revoked": ["s1", "s3"],
        "at": T0 + MINUTE,
        "actor": "player:p1",
        "request_id": "req-2",
    }
    assert revoked == ["s1", "s3"]
    assert account.password_hash == "hash-2"
    assert set(account.open_sessions(T0 + MINUTE)) == {"s2"}


def test_change_password_makes_an_earlier_reset_link_useless():
    account = given_account()
    account.request_password_reset("tok-1", T0, SYSTEM)
    account.change_password("hash-2", None, T0, PLAYER)
    account.collect_events()

    with refused(account, TokenInvalid):
        account.reset_password("tok-1", "hash-3", T0 + MINUTE, SYSTEM)


def test_request_password_reset_stores_only_the_tokens_hash_for_30_minutes():
    account = given_account()

    expires_at = account.request_password_reset("tok-1", T0, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["PasswordResetRequested"]
    assert payload(events[0]) == {
        "token_hash": sha256("tok-1"),
        "expires_at": T0 + timedelta(minutes=30),
        "at": T0,
        "actor": "system:login",
        "request_id": "req-1",
    }
    assert expires_at == T0 + RESET_TOKEN_TTL
    assert "tok-1" not in repr(vars(events[0]))


def test_reset_password_revokes_all_sessions_and_lifts_the_lock():
    account = given_account(("s1", FIREFOX), ("s2", CHROME))
    account.request_password_reset("tok-1", T0, SYSTEM)
    fail(account, MAX_FAILED_LOGINS)
    account.collect_events()

    account.reset_password("tok-1", "hash-2", T0 + 29 * MINUTE, SYSTEM)

    events = account.collect_events()
    assert names(events) == ["PasswordReset"]
    assert payload(events[0]) == {
        "password_hash": "hash-2",
        "revoked": ["s1", "s2"],
        "at": T0 + 29 * MINUTE,
        "actor": "system:login",
        "request_id": "req-1",
    }
    assert account.open_sessions(T0 + 29 * MINUTE) == {}
    assert not account.is_locked(T0 + 29 * MINUTE)
    assert account.failed_logins == 0
    assert account.password_hash == "hash-2"


def test_a_reset_token_works_once():
    account = given_account()
    account.request_password_reset("tok-1", T0, SYSTEM)
    account.reset_password("tok-1", "hash-2", T0, SYSTEM)
    account.collect_events()

    with refused(account, TokenInvalid) as excinfo:
        account.reset_password("tok-1", "hash-3", T0, SYSTEM)
    assert excinfo.value.code == "token_invalid"


@pytest.mark.parametrize(
    ("token", "at"), [("tok-2", T0), ("tok-1", T0 + RESET_TOKEN_TTL), ("", T0)]
)
def test_a_wrong_or_expired_reset_token_is_refused(token, at):
    account = given_account()
    account.request_password_reset("tok-1", T0, SYSTEM)
    account.collect_events()

    with refused(account, TokenInvalid):
        account.reset_password(token, "hash-2", at, SYSTEM)


def test_without_a_reset_request_no_token_works():
    account = given_account()
    with refused(account, TokenInvalid):
        account.reset_password("tok-1", "hash-2", T0, SYSTEM)


def test_a_newer_reset_request_replaces_the_older_token():
    account = given_account()
    account.request_password_reset("tok-1", T0, SYSTEM)
    account.request_password_reset("tok-2", T0 + MINUTE, SYSTEM)
    account.collect_events()

    with refused(account, TokenInvalid):
        account.reset_password("tok-1", "hash-2", T0 + MINUTE, SYSTEM)
    account.reset_password("tok-2", "hash-2", T0 + MINUTE, SYSTEM)
    assert names(account.collect_events()) == ["PasswordReset"]


# ---- e-mail verification -------------------------------------------------------------------


def test_email_verification_stores_the_hash_for_48_hours_and_verifies_once():
    account = given_account()

    expires_at = account.request_email_verification("vtok", T0, PLAYER)
    account.verify_email("vtok", T0 + 47 * timedelta(hours=1), SYSTEM)

    events = account.collect_events()
    assert names(events) == ["EmailVerificationRequested", "EmailVerified"]
    assert payload(events[0]) == {
        "token_hash": sha256("vtok"),
        "expires_at": T0 + timedelta(hours=48),
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-2",
    }
    assert expires_at == T0 + VERIFICATION_TOKEN_TTL
    assert payload(events[1]) == {
        "at": T0 + 47 * timedelta(hours=1),
        "actor": "system:login",
        "request_id": "req-1",
    }
    assert account.email_verified is True
    with refused(account, TokenInvalid):
        account.verify_email("vtok", T0 + timedelta(hours=1), SYSTEM)


@pytest.mark.parametrize(("token", "at"), [("other", T0), ("vtok", T0 + VERIFICATION_TOKEN_TTL)])
def test_a_wrong_or_expired_verification_token_is_refused(token, at):
    account = given_account()
    account.request_email_verification("vtok", T0, PLAYER)
    account.collect_events()

    with refused(account, TokenInvalid):
        account.verify_email(token, at, SYSTEM)
    assert account.email_verified is False


def test_a_reset_token_does_not_verify_the_email_nor_the_other_way_round():
    account = given_account()
    account.request_email_verification("vtok", T0, PLAYER)
    account.request_password_reset("rtok", T0, SYSTEM)
    account.collect_events()

    with refused(account, TokenInvalid):
        account.verify_email("rtok", T0, SYSTEM)
    with refused(account, TokenInvalid):
        account.reset_password("vtok", "hash-2", T0, SYSTEM)


# ---- TOTP ----------------------------------------------------------------------------------


def test_totp_enrolment_is_pending_until_a_first_good_code():
    account = given_account()

    account.start_totp("SECRET", T0, PLAYER)
    assert account.totp_enabled is False
    account.enable_totp(100, T0, PLAYER)

    events = account.collect_events()
    assert names(events) == ["TotpEnrolmentStarted", "TotpEnabled"]
    assert payload(events[0]) == {
        "secret": "SECRET",
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-2",
    }
    assert payload(events[1]) == {
        "step": 100,
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-2",
    }
    assert (account.totp_enabled, account.totp_secret, account.totp_last_step) == (
        True,
        "SECRET",
        100,
    )


def test_enable_totp_refuses_a_wrong_code_or_no_pending_enrolment():
    account = given_account()
    with refused(account, TotpNotEnabled):
        account.enable_totp(100, T0, PLAYER)

    account.start_totp("SECRET", T0, PLAYER)
    account.collect_events()
    with refused(account, TotpInvalid) as excinfo:
        account.enable_totp(None, T0, PLAYER)
    assert excinfo.value.code == "totp_invalid"


def test_totp_cannot_be_started_or_enabled_twice():
    account = given_totp()

    with refused(account, TotpAlreadyEnabled) as excinfo:
        account.start_totp("OTHER", T0, PLAYER)
    assert excinfo.value.code == "totp_already_enabled"
    with refused(account, TotpAlreadyEnabled):
        account.enable_totp(101, T0, PLAYER)


def test_a_good_code_is_used_once_and_never_again():
    account = given_totp(step=100)

    account.use_totp(101, T0, PLAYER)

    events = account.collect_events()
    assert names(events) == ["TotpUsed"]
    assert payload(events[0]) == {
        "step": 101,
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-2",
    }
    for step in (101, 100, 99):  # the same step replayed, or an older one
        with refused(account, TotpInvalid):
            account.use_totp(step, T0, PLAYER)
    with refused(account, TotpInvalid):
        account.use_totp(None, T0, PLAYER)


def test_the_code_that_enabled_totp_cannot_be_used_again():
    account = given_totp(step=100)
    with refused(account, TotpInvalid):
        account.use_totp(100, T0, PLAYER)


def test_totp_use_and_disable_need_it_enabled():
    account = given_account()
    with refused(account, TotpNotEnabled) as excinfo:
        account.use_totp(100, T0, PLAYER)
    assert excinfo.value.code == "totp_not_enabled"
    with refused(account, TotpNotEnabled):
        account.disable_totp(100, T0, PLAYER)


def test_disable_totp_takes_a_fresh_code_and_forgets_the_secret():
    account = given_totp(step=100)
    with refused(account, TotpInvalid):
        account.disable_totp(100, T0, PLAYER)

    account.disable_totp(102, T0, PLAYER)

    events = account.collect_events()
    assert names(events) == ["TotpDisabled"]
    assert payload(events[0])["step"] == 102
    assert (account.totp_enabled, account.totp_secret) == (False, None)
    with refused(account, TotpNotEnabled):
        account.use_totp(103, T0, PLAYER)


# ---- replay --------------------------------------------------------------------------------


def test_the_events_alone_rebuild_the_same_account():
    account = PlayerAccount.register("ann@example.org", "p1", "hash-1", T0, SYSTEM)
    account.log_in("s1", "10.0.0.1", FIREFOX, T0 + DAY, T0, SYSTEM)
    account.log_in("s2", "10.0.0.2", CHROME, T0 + WEEK, T0, SYSTEM)
    account.revoke_session("s2", "logout", T0, PLAYER)
    fail(account, MAX_FAILED_LOGINS, at=T0 + MINUTE)
    account.request_password_reset("tok-1", T0 + MINUTE, SYSTEM)
    account.reset_password("tok-1", "hash-2", T0 + 2 * MINUTE, SYSTEM)
    account.request_email_verification("vtok", T0, PLAYER)
    account.verify_email("vtok", T0, SYSTEM)
    account.start_totp("SECRET", T0, PLAYER)
    account.enable_totp(100, T0, PLAYER)
    account.use_totp(101, T0, PLAYER)
    account.log_in("s3", "10.0.0.3", CHROME, T0 + 3 * DAY, T0 + 2 * DAY, SYSTEM)
    account.change_password("hash-3", "s3", T0 + 2 * DAY, PLAYER)
    events = account.collect_events()

    assert state_of(replayed(account, events)) == state_of(account)
