"""Operator: given earlier commands, when one command, then these events (or this error)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import ids
from domain.account import (
    InvalidEmail,
    SessionNotFound,
    TotpAlreadyEnabled,
    TotpInvalid,
    TotpNotEnabled,
    TotpRequired,
    token_digest,
)
from domain.cause import Cause
from domain.errors import InvalidArgument
from domain.staff import (
    LOCK_DURATION,
    MAX_FAILED_LOGINS,
    PERMISSIONS,
    ROLE_PERMISSIONS,
    Operator,
    OperatorDisabled,
    OperatorLocked,
    OperatorRoster,
    SecondFactor,
    SelfManagementRefused,
    StepUpInvalid,
    StepUpRequired,
    TotpEnrolmentRequired,
    UnknownRole,
    permissions_of,
)
from tests.unit.conftest import T0, names, payload, refused

HOUR = timedelta(hours=1)
SHIFT = timedelta(hours=8)
CLI = Cause("system:cli", "req-1")
LOGIN = Cause("system:operator-login", "req-2")
CODES = [f"abcde-{i:05d}" for i in range(10)]


def given_operator(*roles: str) -> Operator:
    op = Operator.create("Eve@Example.org", roles or ["support"], "hash-1", T0, CLI)
    op.collect_events()
    return op


def cause_of(op: Operator, request_id: str = "req-3") -> Cause:
    return Cause(op.actor, request_id)


def given_enrolled(step: int = 100, *roles: str) -> Operator:
    op = given_operator(*roles)
    op.start_totp("SECRET", T0, cause_of(op))
    op.enable_totp(step, CODES, T0, cause_of(op))
    op.collect_events()
    return op


def given_session(op: Operator, session_id: str = "s1", step: int | None = None) -> None:
    factor = SecondFactor(step=step) if op.totp_enabled else None
    op.log_in(session_id, "10.0.0.1", "Firefox", T0 + SHIFT, factor, T0, LOGIN)
    op.collect_events()


def replayed(events) -> Operator:
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert isinstance(rebuilt, Operator)
    return rebuilt


# ---- roles and permissions -------------------------------------------------------------------


def test_roles_grant_the_documented_permissions():
    reads = {p for p in PERMISSIONS if p.endswith(".read")}
    assert ROLE_PERMISSIONS["admin"] == PERMISSIONS
    assert reads - {"finance.read", "risk.read", "mail.read"} == ROLE_PERMISSIONS["viewer"]
    assert ROLE_PERMISSIONS["support"] == ROLE_PERMISSIONS["viewer"] | {
        "players.freeze",
        "mail.read",
    }
    assert ROLE_PERMISSIONS["risk"] == ROLE_PERMISSIONS["support"] | {"risk.read"}
    assert ROLE_PERMISSIONS["finance"] - ROLE_PERMISSIONS["viewer"] == {
        "deposits.review",
        "withdrawals.review",
        "withdrawals.pay",
        "players.adjust",
        "finance.read",
        "audit.export",
    }
    assert "audit.export" not in ROLE_PERMISSIONS["viewer"]
    assert "operators.manage" not in permissions_of(["viewer", "support", "risk", "finance"])


# ---- create ------------------------------------------------------------------------------------


def test_create_records_created_at_a_stream_named_by_the_normalised_email():
    op = Operator.create(" Eve@Example.ORG ", ["risk", "finance", "risk"], "hash-1", T0, CLI)

    events = op.collect_events()
    assert names(events) == ["Created"]
    assert payload(events[0]) == {
        "email": "eve@example.org",
        "roles": ["finance", "risk"],
        "password_hash": "hash-1",
        "at": T0,
        "actor": "system:cli",
        "request_id": "req-1",
    }
    assert op.id == ids.operator_id("eve@example.org")
    assert op.id != ids.account_id("eve@example.org")
    assert op.actor == f"operator:{op.id}"
    assert op.permissions == ROLE_PERMISSIONS["finance"] | ROLE_PERMISSIONS["risk"]


@pytest.mark.parametrize(
    ("email", "roles", "password_hash", "error"),
    [
        ("not-an-email", ["admin"], "h", InvalidEmail),
        ("eve@example.org", [], "h", UnknownRole),
        ("eve@example.org", ["root"], "h", UnknownRole),
        ("eve@example.org", ["admin"], "", InvalidArgument),
    ],
)
def test_create_refuses_a_bad_email_unknown_or_no_roles_and_a_missing_hash(
    email, roles, password_hash, error
):
    with pytest.raises(error):
        Operator.create(email, roles, password_hash, T0, CLI)


# ---- logins ------------------------------------------------------------------------------------


def test_before_totp_enrolment_a_login_opens_an_enrolment_only_session():
    op = given_operator()

    enrolment_only = op.log_in("s1", "10.0.0.1", "Firefox", T0 + SHIFT, None, T0, LOGIN)

    assert enrolment_only is True
    events = op.collect_events()
    assert names(events) == ["LoggedIn"]
    assert payload(events[0])["enrolment_only"] is True
    assert op.open_sessions(T0)["s1"]["enrolment_only"] is True


def test_once_totp_is_enabled_a_login_without_a_code_is_refused():
    op = given_enrolled()

    with refused(op, TotpRequired):
        op.log_in("s1", "10.0.0.1", "Firefox", T0 + SHIFT, None, T0, LOGIN)


def test_a_login_with_a_fresh_code_uses_its_step_and_opens_a_full_session():
    op = given_enrolled(step=100)

    enrolment_only = op.log_in(
        "s1", "10.0.0.1", "Firefox", T0 + SHIFT, SecondFactor(step=101), T0, LOGIN
    )

    assert enrolment_only is False
    events = op.collect_events()
    assert names(events) == ["TotpUsed", "LoggedIn"]
    assert payload(events[0])["step"] == 101
    assert payload(events[1])["enrolment_only"] is False
    assert op.totp_last_step == 101


@pytest.mark.parametrize("step", [None, 99, 100])
def test_a_wrong_or_already_used_code_is_refused(step):
    op = given_enrolled(step=100)

    with refused(op, TotpInvalid):
        op.log_in("s1", "10.0.0.1", "Firefox", T0 + SHIFT, SecondFactor(step=step), T0, LOGIN)


def test_a_recovery_code_signs_in_once():
    op = given_enrolled()
    factor = SecondFactor(recovery_code="ABCDE 00003")  # typed loosely

    op.log_in("s1", "10.0.0.1", "Firefox", T0 + SHIFT, factor, T0, LOGIN)

    events = op.collect_events()
    assert names(events) == ["RecoveryCodeUsed", "LoggedIn"]
    assert payload(events[0])["hash"] == token_digest("abcde00003")
    assert len(op.recovery_hashes) == 9
    with refused(op, TotpInvalid):
        op.log_in("s2", "10.0.0.1", "Firefox", T0 + SHIFT, factor, T0, LOGIN)


def test_the_fifth_failure_in_a_row_locks_the_operator_for_fifteen_minutes():
    op = given_enrolled()
    for _ in range(MAX_FAILED_LOGINS - 1):
        op.fail_login("10.0.0.9", T0, LOGIN)
    op.collect_events()

    op.fail_login("10.0.0.9", T0, LOGIN)

    events = op.collect_events()
    assert names(events) == ["LoginFailed", "Locked"]
    assert payload(events[0])["failures"] == MAX_FAILED_LOGINS
    assert payload(events[1])["until"] == T0 + LOCK_DURATION
    with refused(op, OperatorLocked):
        op.log_in("s1", "ip", "ua", T0 + SHIFT, SecondFactor(step=101), T0, LOGIN)
    later = T0 + LOCK_DURATION
    op.log_in("s1", "ip", "ua", later + SHIFT, SecondFactor(step=101), later, LOGIN)


def test_a_success_resets_the_failure_count():
    op = given_enrolled()
    op.fail_login("10.0.0.9", T0, LOGIN)

    given_session(op, step=101)

    assert op.failed_logins == 0


def test_a_disabled_operator_cannot_sign_in():
    op = given_enrolled()
    op.disable(T0, CLI)
    op.collect_events()

    with refused(op, OperatorDisabled):
        op.log_in("s1", "ip", "ua", T0 + SHIFT, SecondFactor(step=101), T0, LOGIN)


# ---- sessions ----------------------------------------------------------------------------------


def test_sessions_expire_and_can_be_revoked_once():
    op = given_enrolled()
    given_session(op, "s1", step=101)
    given_session(op, "s2", step=102)

    op.revoke_session("s1", "logout", T0, cause_of(op))

    assert names(op.collect_events()) == ["SessionRevoked"]
    assert set(op.open_sessions(T0)) == {"s2"}
    assert op.open_sessions(T0 + SHIFT) == {}
    with refused(op, SessionNotFound):
        op.revoke_session("s1", "logout", T0, cause_of(op))


def test_force_logout_ends_every_open_session():
    op = given_enrolled()
    given_session(op, "s1", step=101)
    given_session(op, "s2", step=102)

    revoked = op.revoke_all_sessions("forced", T0, CLI)

    assert sorted(revoked) == ["s1", "s2"]
    assert names(op.collect_events()) == ["SessionRevoked", "SessionRevoked"]
    assert op.open_sessions(T0) == {}


def test_a_login_prunes_ended_sessions():
    op = given_enrolled()
    given_session(op, "s1", step=101)
    op.revoke_session("s1", "logout", T0, cause_of(op))

    op.log_in("s2", "ip", "ua", T0 + SHIFT, SecondFactor(step=102), T0, LOGIN)

    assert set(op.sessions) == {"s2"}


# ---- administration ----------------------------------------------------------------------------


def test_roles_change_but_never_by_the_operator_themselves():
    op = given_operator("support")

    with refused(op, SelfManagementRefused):
        op.change_roles(["admin"], T0, cause_of(op))

    op.change_roles(["finance"], T0, Cause("operator:someone-else", "req-9"))

    events = op.collect_events()
    assert names(events) == ["RolesChanged"]
    assert payload(events[0])["roles"] == ["finance"]
    assert payload(events[0])["previous"] == ["support"]
    assert op.permissions == ROLE_PERMISSIONS["finance"]


def test_disable_ends_every_session_and_enable_lifts_a_lock():
    op = given_enrolled()
    given_session(op, "s1", step=101)
    for _ in range(MAX_FAILED_LOGINS):
        op.fail_login("ip", T0, LOGIN)
    op.collect_events()

    with refused(op, SelfManagementRefused):
        op.disable(T0, cause_of(op))
    op.disable(T0, CLI)
    op.enable(T0, CLI)

    events = op.collect_events()
    assert names(events) == ["Disabled", "Enabled"]
    assert payload(events[0])["revoked"] == ["s1"]
    assert op.open_sessions(T0) == {}
    assert not op.is_locked(T0)
    given_session(op, "s2", step=102)


def test_a_password_change_ends_every_other_session():
    op = given_enrolled()
    given_session(op, "s1", step=101)
    given_session(op, "s2", step=102)

    revoked = op.change_password("hash-2", "s2", T0, cause_of(op))

    assert revoked == ["s1"]
    assert names(op.collect_events()) == ["PasswordChanged"]
    assert op.password_hash == "hash-2"
    assert set(op.open_sessions(T0)) == {"s2"}


# ---- TOTP, recovery codes and step-up ----------------------------------------------------------


def test_enabling_totp_issues_the_recovery_codes_as_digests_only():
    op = given_operator()
    op.start_totp("SECRET", T0, cause_of(op))

    op.enable_totp(100, CODES, T0, cause_of(op))

    events = op.collect_events()
    assert names(events) == ["TotpEnrolmentStarted", "TotpEnabled", "RecoveryCodesIssued"]
    hashes = payload(events[2])["hashes"]
    assert len(hashes) == 10
    assert not any(code in str(payload(e)) for e in events for code in CODES)
    assert token_digest("abcde00000") in hashes


def test_totp_enrolment_needs_a_pending_secret_a_good_code_and_happens_once():
    op = given_operator()
    with refused(op, TotpNotEnabled):
        op.enable_totp(100, CODES, T0, cause_of(op))
    op.start_totp("SECRET", T0, cause_of(op))
    op.collect_events()
    with refused(op, TotpInvalid):
        op.enable_totp(None, CODES, T0, cause_of(op))
    with refused(op, InvalidArgument):
        op.enable_totp(100, CODES[:9], T0, cause_of(op))
    op.enable_totp(100, CODES, T0, cause_of(op))
    op.collect_events()
    with refused(op, TotpAlreadyEnabled):
        op.start_totp("OTHER", T0, cause_of(op))


def test_enabling_totp_ends_the_enrolment_only_sessions():
    op = given_operator()
    given_session(op, "s1")
    op.start_totp("SECRET", T0, cause_of(op))

    op.enable_totp(100, CODES, T0, cause_of(op))

    events = op.collect_events()
    assert payload(events[1])["ended"] == ["s1"]
    assert op.open_sessions(T0) == {}


def test_new_recovery_codes_replace_the_old_ones():
    op = given_enrolled()
    fresh = [f"zzzzz-{i:05d}" for i in range(10)]

    op.issue_recovery_codes(fresh, T0, cause_of(op))

    assert names(op.collect_events()) == ["RecoveryCodesIssued"]
    with refused(op, TotpInvalid):
        op.log_in("s1", "ip", "ua", T0 + SHIFT, SecondFactor(recovery_code=CODES[0]), T0, LOGIN)
    op.log_in("s1", "ip", "ua", T0 + SHIFT, SecondFactor(recovery_code=fresh[0]), T0, LOGIN)


def test_a_step_up_uses_a_fresh_code_once():
    op = given_enrolled(step=100)

    op.step_up(SecondFactor(step=101), T0, cause_of(op))

    events = op.collect_events()
    assert names(events) == ["TotpUsed"]
    assert payload(events[0])["step"] == 101
    with refused(op, StepUpInvalid):
        op.step_up(SecondFactor(step=101), T0, cause_of(op))


@pytest.mark.parametrize(
    ("factor", "error"),
    [
        (None, StepUpRequired),
        (SecondFactor(recovery_code=CODES[0]), StepUpRequired),
        (SecondFactor(step=None), StepUpInvalid),
        (SecondFactor(step=50), StepUpInvalid),
    ],
)
def test_a_step_up_without_a_fresh_totp_code_is_refused(factor, error):
    op = given_enrolled(step=100)

    with refused(op, error):
        op.step_up(factor, T0, cause_of(op))


def test_a_step_up_needs_totp_enrolled_and_the_operator_not_locked():
    op = given_operator()
    with refused(op, TotpEnrolmentRequired):
        op.step_up(SecondFactor(step=1), T0, cause_of(op))
    op = given_enrolled()
    for _ in range(MAX_FAILED_LOGINS):
        op.fail_login("ip", T0, LOGIN)
    op.collect_events()
    with refused(op, OperatorLocked):
        op.step_up(SecondFactor(step=101), T0, cause_of(op))


# ---- replay and the roster ---------------------------------------------------------------------


def test_replaying_the_events_rebuilds_the_same_operator():
    op = Operator.create("eve@example.org", ["admin"], "hash-1", T0, CLI)
    op.start_totp("SECRET", T0, cause_of(op))
    op.enable_totp(100, CODES, T0, cause_of(op))
    op.log_in("s1", "ip", "ua", T0 + SHIFT, SecondFactor(recovery_code=CODES[1]), T0, LOGIN)
    op.fail_login("ip", T0 + HOUR, LOGIN)
    op.change_roles(["viewer"], T0, CLI)
    events = op.collect_events()

    rebuilt = replayed(events)

    assert vars(rebuilt) == vars(op)


def test_the_roster_lists_each_operator_once():
    op = given_operator()
    roster = OperatorRoster.start(CLI)

    roster.add(op, CLI)

    assert roster.operator_ids == [str(op.id)]
    assert roster.id == ids.operator_roster_id()
    roster.collect_events()
    with refused(roster, InvalidArgument):
        roster.add(op, CLI)
