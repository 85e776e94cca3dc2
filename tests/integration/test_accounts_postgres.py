"""Accounts on the real Postgres event store: the round trip, and the e-mail's uniqueness under
concurrent registrations (the account stream's key is what refuses the second one)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from domain import ids
from domain.account import EmailTaken
from domain.cause import Cause
from infrastructure.bootstrap import System
from tests.ledger_checks import assert_ledger_invariants, stored_events

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery"
THREADS = 8


def test_register_login_and_revoke_round_trip(pg_system: System):
    view = pg_system.accounts.register("ann@example.org", PASSWORD, Cause("system:api", "r-1"))
    result = pg_system.accounts.login(
        "Ann@Example.org", PASSWORD, "10.0.0.1", "agent", Cause("system:api", "r-2")
    )

    session = pg_system.accounts.session(view.account_id, result.session_id)
    assert session is not None
    assert pg_system.accounts.session_open(view.account_id, result.session_id)
    assert session.player_id == view.player_id
    assert pg_system.wallets.balances(view.player_id).currency == "EUR"

    pg_system.accounts.revoke_session(
        view.account_id, result.session_id, Cause("system:api", "r-3")
    )

    assert pg_system.accounts.session(view.account_id, result.session_id) is None
    assert not pg_system.accounts.session_open(view.account_id, result.session_id)
    assert pg_system.accounts.sessions(view.account_id) == []
    assert_ledger_invariants(pg_system.ledger)


def test_eight_concurrent_registrations_of_one_email_make_one_account(pg_system: System):
    start = threading.Barrier(THREADS)

    def attempt(n: int) -> str:
        start.wait()
        email = "Ann@Example.org" if n % 2 else "ann@example.org"
        try:
            pg_system.accounts.register(email, PASSWORD, Cause("system:api", f"reg-{n}"))
        except EmailTaken:
            return "taken"
        return "registered"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))

    assert sorted(outcomes) == ["registered"] + ["taken"] * (THREADS - 1)
    events = stored_events(pg_system.ledger)
    accounts = [e for e in events if type(e).__qualname__ == "PlayerAccount.Registered"]
    wallets = [e for e in events if type(e).__qualname__ == "Wallet.Opened"]
    assert len(accounts) == 1
    # The losers' wallets were in the same save as their accounts: none of them exists.
    assert [w.player_id for w in wallets] == [accounts[0].player_id]
    assert accounts[0].originator_id == ids.account_id("ann@example.org")
