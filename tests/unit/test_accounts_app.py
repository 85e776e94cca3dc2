"""Account use cases on the embedded system: registration, logins and locks, sessions, password
change and reset, e-mail verification and TOTP — through Commands, so retries replay."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from application.accounts import Accounts, TokenAlreadyIssued
from application.errors import NotFound
from domain import ids
from domain.account import (
    AccountLocked,
    EmailTaken,
    InvalidCredentials,
    InvalidEmail,
    PlayerAccount,
    SessionNotFound,
    TokenInvalid,
    TotpInvalid,
    TotpNotEnabled,
    TotpRequired,
    WeakPassword,
)
from domain.cause import Cause
from domain.errors import AccountFrozen, IdempotencyKeyReused
from domain.wallet import FreezeScope
from infrastructure.bootstrap import System
from infrastructure.passwords import Argon2Hasher
from infrastructure.totp import PyotpCodes
from tests.conftest import SteppingClock
from tests.ledger_checks import assert_ledger_invariants, stored_events

EMAIL = "ann@example.org"
PASSWORD = "correct horse battery"
FIREFOX = "Mozilla/5.0 Firefox/140.0"
CHROME = "Mozilla/5.0 Chrome/141.0"
_requests = iter(range(1_000_000))


def cause(actor: str = "system:api") -> Cause:
    return Cause(actor, f"req-{next(_requests)}")


def register(system: System, email: str = EMAIL, password: str = PASSWORD):
    return system.accounts.register(email, password, cause())


def login(system: System, email: str = EMAIL, password: str = PASSWORD, agent: str = FIREFOX):
    return system.accounts.login(email, password, "10.0.0.1", agent, cause())


def stored_account(system: System, email: str = EMAIL) -> PlayerAccount:
    account: object = system.ledger.repository.get(ids.account_id(email))
    assert isinstance(account, PlayerAccount)
    return account


def raw_events(system: System) -> bytes:
    notifications = system.ledger.recorder.select_notifications(start=1, limit=10_000)
    return b"".join(n.state for n in notifications)


class CountingHasher(Argon2Hasher):
    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_kib=1024, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str, password: str) -> bool:
        self.verified.append(hash)
        return super().verify(hash, password)


# ---- register ------------------------------------------------------------------------------


def test_register_creates_the_account_and_opens_the_wallet(embedded, clock):
    view = embedded.accounts.register(" Ann@Example.org", PASSWORD, cause())

    assert view.account_id == str(ids.account_id(EMAIL))
    assert (view.email, view.email_verified, view.totp_enabled) == (EMAIL, False, False)
    assert view.created_at == clock()
    assert len(view.player_id) == 32
    balances = embedded.wallets.balances(view.player_id)
    assert (balances.currency, balances.available, balances.bonus) == ("EUR", 0, 0)
    assert embedded.accounts.account(view.account_id) == view
    assert stored_account(embedded).password_hash.startswith("$argon2id$")
    assert PASSWORD.encode() not in raw_events(embedded)
    assert_ledger_invariants(embedded.ledger)


def test_an_email_registers_once_whatever_its_case(embedded):
    register(embedded)

    with pytest.raises(EmailTaken) as excinfo:
        register(embedded, email="ANN@example.ORG ", password="another long password")
    assert excinfo.value.code == "email_taken"
    players = {e.player_id for e in stored_events(embedded.ledger) if hasattr(e, "player_id")}
    assert len(players) == 1


def test_a_retried_register_returns_the_first_result(embedded):
    first_cause = cause()
    first = embedded.accounts.register(EMAIL, PASSWORD, first_cause)

    again = embedded.accounts.register(EMAIL, PASSWORD, first_cause)

    assert again == first
    with pytest.raises(IdempotencyKeyReused):
        embedded.accounts.register("bob@example.org", PASSWORD, first_cause)


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [("ann@", PASSWORD, InvalidEmail), (EMAIL, "too-short", WeakPassword)],
)
def test_register_refuses_bad_input_and_stores_nothing(embedded, email, password, error):
    with pytest.raises(error):
        embedded.accounts.register(email, password, cause())
    assert stored_events(embedded.ledger) == []


# ---- login ---------------------------------------------------------------------------------


def test_login_opens_a_session_for_the_session_ttl(embedded, clock):
    view = register(embedded)

    result = embedded.accounts.login(EMAIL.upper(), PASSWORD, "10.0.0.1", FIREFOX, cause())

    assert (result.account_id, result.player_id) == (view.account_id, view.player_id)
    assert result.expires_at == clock() + timedelta(days=7)
    assert result.new_device is False
    session = embedded.accounts.session(view.account_id, result.session_id)
    assert session is not None
    assert (session.ip, session.user_agent, session.opened_at) == ("10.0.0.1", FIREFOX, clock())
    assert stored_account(embedded).failed_logins == 0


def test_a_session_ends_when_it_expires(embedded, clock):
    view = register(embedded)
    result = login(embedded)

    clock.advance(days=7)

    assert embedded.accounts.session(view.account_id, result.session_id) is None
    assert embedded.accounts.sessions(view.account_id) == []


def test_sessions_lists_open_ones_newest_first_and_marks_the_current(embedded, clock):
    view = register(embedded)
    first = login(embedded)
    clock.advance(minutes=1)
    second = login(embedded, agent=CHROME)

    listed = embedded.accounts.sessions(view.account_id, current_session_id=first.session_id)

    assert [s.session_id for s in listed] == [second.session_id, first.session_id]
    assert [s.current for s in listed] == [False, True]
    assert second.new_device is True


def test_a_retried_login_returns_the_same_session(embedded):
    view = register(embedded)
    login_cause = cause()

    first = embedded.accounts.login(EMAIL, PASSWORD, "10.0.0.1", FIREFOX, login_cause)
    again = embedded.accounts.login(EMAIL, PASSWORD, "10.0.0.1", FIREFOX, login_cause)

    assert again == first
    assert len(embedded.accounts.sessions(view.account_id)) == 1


def test_a_retried_login_with_another_password_gets_no_session(embedded):
    register(embedded)
    login_cause = cause()
    embedded.accounts.login(EMAIL, PASSWORD, "10.0.0.1", FIREFOX, login_cause)

    with pytest.raises(IdempotencyKeyReused):
        embedded.accounts.login(EMAIL, "wrong password!", "10.0.0.1", FIREFOX, login_cause)


def test_an_unknown_email_is_invalid_credentials_after_a_real_hash_check(embedded, clock):
    hasher = CountingHasher()
    accounts = Accounts(embedded.commands, clock, hasher, PyotpCodes(), "EUR")

    with pytest.raises(InvalidCredentials) as excinfo:
        accounts.login("nobody@example.org", PASSWORD, "10.0.0.1", FIREFOX, cause())

    assert excinfo.value.code == "invalid_credentials"
    assert len(hasher.verified) == 1
    assert hasher.verified[0].startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert stored_events(embedded.ledger) == []


def test_a_wrong_password_is_saved_then_refused(embedded):
    register(embedded)

    with pytest.raises(InvalidCredentials):
        login(embedded, password="wrong password!")

    assert stored_account(embedded).failed_logins == 1


def test_a_retried_wrong_password_counts_once(embedded):
    register(embedded)
    failed = cause()
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            embedded.accounts.login(EMAIL, "wrong password!", "10.0.0.1", FIREFOX, failed)

    assert stored_account(embedded).failed_logins == 1


def test_five_wrong_passwords_lock_the_account_for_15_minutes(embedded, clock):
    register(embedded)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            login(embedded, password="wrong password!")

    with pytest.raises(AccountLocked) as excinfo:
        login(embedded)
    assert excinfo.value.code == "account_locked"

    clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked):
        login(embedded)
    clock.advance(seconds=1)
    assert login(embedded).session_id


def test_a_frozen_account_cannot_log_in_and_other_freezes_do_not_matter(embedded):
    view = register(embedded)
    operator = Cause("operator:risk", "freeze-1")
    embedded.wallets.freeze(view.player_id, FreezeScope.GAMEPLAY, "review", operator)
    assert login(embedded).session_id

    embedded.wallets.freeze(view.player_id, FreezeScope.ACCOUNT, "fraud", cause("operator:r"))

    with pytest.raises(AccountFrozen) as excinfo:
        login(embedded)
    assert excinfo.value.code == "account_frozen"
    assert len(embedded.accounts.sessions(view.account_id)) == 1


def test_a_login_rehashes_a_password_hashed_with_old_parameters(embedded, clock):
    register(embedded)
    old_hash = stored_account(embedded).password_hash
    stronger = Accounts(embedded.commands, clock, CountingHasher(time_cost=2), PyotpCodes(), "EUR")

    stronger.login(EMAIL, PASSWORD, "10.0.0.1", FIREFOX, cause())

    new_hash = stored_account(embedded).password_hash
    assert new_hash != old_hash
    assert ",t=2," in new_hash
    assert login(embedded).session_id  # the old parameters still verify the new hash


# ---- sessions ------------------------------------------------------------------------------


def test_revoke_session_ends_it_once(embedded):
    view = register(embedded)
    result = login(embedded)
    other = login(embedded)

    embedded.accounts.revoke_session(view.account_id, result.session_id, cause())

    assert embedded.accounts.session(view.account_id, result.session_id) is None
    assert embedded.accounts.session(view.account_id, other.session_id) is not None
    with pytest.raises(SessionNotFound):
        embedded.accounts.revoke_session(view.account_id, result.session_id, cause())


def test_one_account_cannot_revoke_or_see_anothers_session(embedded):
    ann = register(embedded)
    bob = register(embedded, email="bob@example.org")
    anns = login(embedded)

    with pytest.raises(SessionNotFound):
        embedded.accounts.revoke_session(bob.account_id, anns.session_id, cause())
    assert embedded.accounts.session(bob.account_id, anns.session_id) is None
    assert embedded.accounts.session(ann.account_id, anns.session_id) is not None


@pytest.mark.parametrize("account_id", ["not-a-uuid", str(ids.account_id("nobody@example.org"))])
def test_an_unknown_account_is_not_found(embedded, account_id):
    with pytest.raises(NotFound):
        embedded.accounts.account(account_id)
    with pytest.raises(NotFound):
        embedded.accounts.revoke_session(account_id, "s1", cause())
    assert embedded.accounts.session(account_id, "s1") is None


# ---- password change and reset -------------------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(embedded):
    view = register(embedded)
    here, there = login(embedded), login(embedded, agent=CHROME)

    revoked = embedded.accounts.change_password(
        view.account_id, PASSWORD, "a brand new password", here.session_id, cause()
    )

    assert revoked == [there.session_id]
    assert [s.session_id for s in embedded.accounts.sessions(view.account_id)] == [here.session_id]
    with pytest.raises(InvalidCredentials):
        login(embedded)
    assert login(embedded, password="a brand new password").session_id


@pytest.mark.parametrize(
    ("current", "new", "error"),
    [
        ("wrong password!", "a brand new password", InvalidCredentials),
        (PASSWORD, EMAIL, WeakPassword),
    ],
)
def test_change_password_refuses_a_wrong_current_or_weak_new_password(
    embedded, current, new, error
):
    view = register(embedded)
    with pytest.raises(error):
        embedded.accounts.change_password(view.account_id, current, new, None, cause())
    assert login(embedded).session_id


def test_password_reset_revokes_every_session_and_lifts_the_lock(embedded):
    view = register(embedded)
    login(embedded)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            login(embedded, password="wrong password!")

    token = embedded.accounts.request_password_reset(EMAIL, cause())
    assert token is not None
    assert token.token.startswith(ids.account_id(EMAIL).hex + ".")
    embedded.accounts.confirm_password_reset(token.token, "a brand new password", cause())

    assert embedded.accounts.sessions(view.account_id) == []
    assert login(embedded, password="a brand new password").session_id


def test_only_the_reset_tokens_hash_is_stored_even_in_receipts(embedded):
    register(embedded)

    token = embedded.accounts.request_password_reset(EMAIL, cause())

    assert token is not None
    assert token.token.encode() not in raw_events(embedded)
    assert token.token.split(".")[1].encode() not in raw_events(embedded)


def test_a_reset_token_is_single_use_and_expires_after_30_minutes(embedded, clock):
    register(embedded)
    used = embedded.accounts.request_password_reset(EMAIL, cause())
    assert used is not None
    confirm = cause()
    embedded.accounts.confirm_password_reset(used.token, "a brand new password", confirm)
    # The same request again is a retry (replayed); a new request with the token is refused.
    embedded.accounts.confirm_password_reset(used.token, "a brand new password", confirm)
    with pytest.raises(TokenInvalid):
        embedded.accounts.confirm_password_reset(used.token, "another new password", cause())

    late = embedded.accounts.request_password_reset(EMAIL, cause())
    assert late is not None
    clock.advance(minutes=30)
    with pytest.raises(TokenInvalid):
        embedded.accounts.confirm_password_reset(late.token, "another new password", cause())
    assert login(embedded, password="a brand new password").session_id


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "nothex.abc", f"{ids.account_id('x@example.org').hex}.abc", "x" * 300],
)
def test_a_malformed_or_foreign_reset_token_is_token_invalid(embedded, token):
    register(embedded)
    embedded.accounts.request_password_reset(EMAIL, cause())
    with pytest.raises(TokenInvalid) as excinfo:
        embedded.accounts.confirm_password_reset(token, "a brand new password", cause())
    assert excinfo.value.code == "token_invalid"


def test_a_weak_new_password_does_not_use_up_the_token(embedded):
    register(embedded)
    token = embedded.accounts.request_password_reset(EMAIL, cause())
    assert token is not None

    with pytest.raises(WeakPassword):
        embedded.accounts.confirm_password_reset(token.token, "short", cause())
    embedded.accounts.confirm_password_reset(token.token, "a brand new password", cause())


def test_a_reset_for_an_unknown_email_returns_nothing_and_stores_nothing(embedded):
    assert embedded.accounts.request_password_reset("nobody@example.org", cause()) is None
    assert stored_events(embedded.ledger) == []


def test_a_retried_reset_request_issues_no_second_token(embedded):
    register(embedded)
    reset_cause = cause()
    first = embedded.accounts.request_password_reset(EMAIL, reset_cause)
    assert first is not None

    assert embedded.accounts.request_password_reset(EMAIL, reset_cause) is None
    embedded.accounts.confirm_password_reset(first.token, "a brand new password", cause())


# ---- e-mail verification -------------------------------------------------------------------


def test_email_verification_marks_the_account_verified(embedded, clock):
    view = register(embedded)
    token = embedded.accounts.request_email_verification(view.account_id, cause())
    assert (token.account_id, token.email) == (view.account_id, EMAIL)
    assert token.expires_at == clock() + timedelta(hours=48)

    embedded.accounts.verify_email(token.token, cause())

    assert embedded.accounts.account(view.account_id).email_verified is True
    assert token.token.encode() not in raw_events(embedded)
    with pytest.raises(TokenInvalid):
        embedded.accounts.verify_email(token.token, cause())


def test_an_expired_verification_token_is_refused(embedded, clock):
    view = register(embedded)
    token = embedded.accounts.request_email_verification(view.account_id, cause())
    clock.advance(hours=48)

    with pytest.raises(TokenInvalid):
        embedded.accounts.verify_email(token.token, cause())
    assert embedded.accounts.account(view.account_id).email_verified is False


def test_a_retried_verification_request_cannot_give_the_token_again(embedded):
    view = register(embedded)
    request = cause()
    first = embedded.accounts.request_email_verification(view.account_id, request)

    with pytest.raises(TokenAlreadyIssued):
        embedded.accounts.request_email_verification(view.account_id, request)
    embedded.accounts.verify_email(first.token, cause())


# ---- TOTP ----------------------------------------------------------------------------------


def code_at(secret: str, clock: SteppingClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock() + timedelta(seconds=30 * steps))


def enabled_totp(system: System, clock: SteppingClock) -> tuple[str, str]:
    """An account with TOTP on, two steps after the step that enabled it."""
    view = register(system)
    enrolment = system.accounts.start_totp(view.account_id, cause())
    system.accounts.enable_totp(view.account_id, code_at(enrolment.secret, clock), cause())
    clock.advance(seconds=60)
    return view.account_id, enrolment.secret


def test_totp_is_enabled_by_a_code_of_the_pending_secret(embedded, clock):
    view = register(embedded)
    enrolment = embedded.accounts.start_totp(view.account_id, cause())
    assert enrolment.provisioning_uri.startswith("otpauth://totp/prizeledger:ann%40example.org?")
    assert f"secret={enrolment.secret}" in enrolment.provisioning_uri

    with pytest.raises(TotpInvalid):
        embedded.accounts.enable_totp(view.account_id, "000000", cause())
    assert embedded.accounts.account(view.account_id).totp_enabled is False

    embedded.accounts.enable_totp(view.account_id, code_at(enrolment.secret, clock), cause())
    assert embedded.accounts.account(view.account_id).totp_enabled is True


def test_check_totp_needs_totp_enabled_then_a_code(embedded, clock):
    bob = register(embedded, email="bob@example.org")
    with pytest.raises(TotpNotEnabled):
        embedded.accounts.check_totp(bob.account_id, "123456", cause())

    account_id, secret = enabled_totp(embedded, clock)
    with pytest.raises(TotpRequired):
        embedded.accounts.check_totp(account_id, None, cause())
    with pytest.raises(TotpInvalid):
        embedded.accounts.check_totp(account_id, code_at(secret, clock, steps=5), cause())


def test_a_totp_code_works_once_and_a_retry_of_the_same_request_replays(embedded, clock):
    account_id, secret = enabled_totp(embedded, clock)
    code = code_at(secret, clock, steps=-1)  # one step late is still in the window
    step_up = cause("player:p1")

    embedded.accounts.check_totp(account_id, code, step_up)
    embedded.accounts.check_totp(account_id, code, step_up)
    with pytest.raises(TotpInvalid):
        embedded.accounts.check_totp(account_id, code, cause("player:p1"))
    with pytest.raises(IdempotencyKeyReused):
        embedded.accounts.check_totp(account_id, "000000", step_up)


def test_a_step_up_leaves_the_request_id_free_for_the_action_it_guards(embedded, clock):
    account_id, secret = enabled_totp(embedded, clock)
    player_id = embedded.accounts.account(account_id).player_id
    action = Cause(f"player:{player_id}", "withdraw-1")

    embedded.accounts.check_totp(account_id, code_at(secret, clock), action)
    balances = embedded.wallets.set_client_seed(player_id, "my-seed", action)

    assert balances.player_id == player_id


def test_disable_totp_takes_a_fresh_code(embedded, clock):
    account_id, secret = enabled_totp(embedded, clock)
    embedded.accounts.check_totp(account_id, code_at(secret, clock), cause())
    with pytest.raises(TotpInvalid):
        embedded.accounts.disable_totp(account_id, code_at(secret, clock), cause())

    embedded.accounts.disable_totp(account_id, code_at(secret, clock, steps=1), cause())

    assert embedded.accounts.account(account_id).totp_enabled is False
    with pytest.raises(TotpNotEnabled):
        embedded.accounts.check_totp(account_id, code_at(secret, clock, steps=2), cause())


def test_session_open_answers_as_session_does_through_logins_revocations_and_expiry(
    embedded, clock
):
    view = register(embedded)
    first = login(embedded)

    def both(session_id: str) -> tuple[bool, bool]:
        found = embedded.accounts.session(view.account_id, session_id) is not None
        return found, embedded.accounts.session_open(view.account_id, session_id)

    assert both(first.session_id) == (True, True)
    assert both("no-such-session") == (False, False)
    second = login(embedded)  # a later event: what was known of the account is read again
    assert both(second.session_id) == (True, True)
    embedded.accounts.revoke_session(view.account_id, first.session_id, cause())
    assert both(first.session_id) == (False, False)
    assert both(second.session_id) == (True, True)
    clock.advance(days=7)  # no event: the known expiry ends it
    assert both(second.session_id) == (False, False)
    assert not embedded.accounts.session_open("not-an-account", second.session_id)


def test_account_changes_name_the_accounts_with_events_after_a_position(embedded, clock):
    start = embedded.accounts.account_changes(None)
    assert start.accounts == frozenset()  # only where the log ends now
    view = register(embedded)
    other = register(embedded, "other@example.com")
    first = login(embedded)

    changed = embedded.accounts.account_changes(start.position)

    assert changed.accounts == {view.account_id, other.account_id}
    assert changed.position > start.position
    quiet = embedded.accounts.account_changes(changed.position)
    assert quiet == type(quiet)(changed.position, frozenset())

    # The player's wallet's events name no account; a revocation names its account.
    embedded.wallets.credit_bonus(view.player_id, 100, "welcome", Cause("system:x", "bonus-1"))
    assert embedded.accounts.account_changes(changed.position).accounts == frozenset()
    embedded.accounts.revoke_session(view.account_id, first.session_id, cause())
    after = embedded.accounts.account_changes(changed.position)
    assert after.accounts == {view.account_id}


def test_account_changes_read_page_after_page(embedded, monkeypatch):
    monkeypatch.setattr("application.accounts.CHANGES_PAGE", 1)
    start = embedded.accounts.account_changes(None)
    made = {register(embedded, f"p{i}@example.com").account_id for i in range(3)}

    assert embedded.accounts.account_changes(start.position).accounts == made
