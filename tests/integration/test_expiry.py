"""Expiry of stale requests (the process manager over the open-requests read model), on SQLite
and on the real Postgres: a deposit the provider never settled fails as ``expired`` (freeing its
room under the deposit limits), a withdrawal nobody finished reviewing is rejected as
``expired`` (unlocking its funds) — once, even when the manager reads a view that replays the
log from position 0 and still shows them open."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from application.expiry import EXPIRED, Expiry, ExpiryRun, expiry_cause
from domain.cause import Cause
from domain.deposit import Deposit
from domain.errors import DepositLimitExceeded
from domain.wallet import LimitPeriod
from domain.withdrawal import Withdrawal
from infrastructure.bootstrap import System, bootstrap
from infrastructure.projector import Projector
from infrastructure.settings import Settings
from projections.base import LedgerView
from projections.expiry import ExpiryProjection
from projections.queries import ReadModels
from tests.conftest import FAST_ARGON2, SteppingClock
from tests.ledger_checks import assert_ledger_invariants

HOUR = timedelta(hours=1)
PSP, ALICE = "system:psp", "operator:alice"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def system(
    request: pytest.FixtureRequest, clock: SteppingClock, tmp_path: Path
) -> Iterator[System]:
    if request.param == "sqlite":
        # A file, as the embedded mode uses: the sweeper's thread shares it (":memory:" is one
        # database per connection).
        settings = Settings(database_url=f"sqlite:{tmp_path}/ledger.sqlite", **FAST_ARGON2)
    else:
        settings = request.getfixturevalue("pg_settings")
    settings = dataclasses.replace(
        settings, deposit_expiry_s=3_600, withdrawal_review_expiry_s=7_200
    )
    built = bootstrap(settings, clock=clock)
    yield built
    built.close()


def catch_up(system: System) -> None:
    projector = system.projector()
    projector.catch_up()
    stopped = threading.Event()
    stopped.set()
    projector.run(stopped)


def player(request: str) -> Cause:
    return Cause("player:p1", request)


def events(system: System) -> list[str]:
    found = system.ledger.recorder.select_notifications(start=1, limit=100_000)
    return [n.topic.rpartition(":")[2] for n in found]


def deposit_state(system: System, deposit_id: str) -> tuple[str, str | None]:
    deposit: object = system.ledger.repository.get(UUID(deposit_id))
    assert isinstance(deposit, Deposit)
    return deposit.state, deposit.failure_reason


def withdrawal_state(system: System, withdrawal_id: str) -> tuple[str, str | None]:
    withdrawal: object = system.ledger.repository.get(UUID(withdrawal_id))
    assert isinstance(withdrawal, Withdrawal)
    return withdrawal.state, withdrawal.reason


@dataclasses.dataclass
class Open:
    pending_deposit: str
    credited_deposit: str
    waiting: str  # a withdrawal nobody reviewed
    half_approved: str  # a large one with one of its two approvals
    approved: str


def given_open_requests(system: System, clock: SteppingClock) -> Open:
    system.wallets.open("p1", player("open"))
    system.wallets.set_deposit_limit("p1", LimitPeriod.DAY, 300_000, player("limit"))
    credited = system.deposits.request("p1", 200_000, "EUR", "sandbox", player("d1")).deposit_id
    system.deposits.confirm(UUID(credited), "psp-1", Cause(PSP, "wh1"))
    pending = system.deposits.request("p1", 100_000, "EUR", "sandbox", player("d2")).deposit_id
    wd = system.withdrawals
    waiting = wd.request("p1", 1_000, "EUR", "bank:1", player("w1")).withdrawal_id
    half = wd.request("p1", 150_000, "EUR", "bank:1", player("w2")).withdrawal_id
    wd.approve(UUID(half), Cause(ALICE, "ap1", "checked"))
    approved = wd.request("p1", 2_000, "EUR", "bank:1", player("w3")).withdrawal_id
    wd.approve(UUID(approved), Cause(ALICE, "ap2", "checked"))
    catch_up(system)
    return Open(pending, credited, waiting, half, approved)


def test_stale_requests_expire_once_after_their_timeouts(
    system: System, clock: SteppingClock
) -> None:
    given = given_open_requests(system, clock)
    expiry = system.expiry()
    with pytest.raises(DepositLimitExceeded):  # the pending deposit holds its room
        system.deposits.request("p1", 1_000, "EUR", "sandbox", player("d3"))

    clock.advance(minutes=59)
    assert expiry.run_once().deposits == []

    clock.advance(minutes=2)  # 1 h 1 min: deposits are due, withdrawals not yet
    run = expiry.run_once()
    assert (run.deposits, run.withdrawals) == ([given.pending_deposit], [])
    assert deposit_state(system, given.pending_deposit) == ("failed", EXPIRED)
    assert deposit_state(system, given.credited_deposit)[0] == "credited"
    # Its room under the daily limit is free again.
    system.deposits.request("p1", 1_000, "EUR", "sandbox", player("d4"))

    clock.advance(hours=1)  # 2 h 1 min
    catch_up(system)
    run = expiry.run_once()
    assert run.deposits == []  # d4 is new
    assert run.withdrawals == sorted([given.waiting, given.half_approved])
    for withdrawal_id in run.withdrawals:
        assert withdrawal_state(system, withdrawal_id) == ("rejected", EXPIRED)
    assert withdrawal_state(system, given.approved)[0] == "approved"
    wallet = system.wallets.balances("p1")
    assert (wallet.available, wallet.locked) == (200_000 - 2_000, 2_000)

    before = events(system)
    assert expiry.run_once() == ExpiryRun()  # the read model still lags: nothing again
    catch_up(system)
    assert expiry.run_once() == ExpiryRun()
    assert events(system) == before
    assert_ledger_invariants(system.ledger)


def test_a_manager_replaying_from_position_zero_expires_nothing_twice(
    system: System, clock: SteppingClock
) -> None:
    given = given_open_requests(system, clock)
    clock.advance(hours=3)
    first = system.expiry().run_once()
    assert first.deposits == [given.pending_deposit]
    assert len(first.withdrawals) == 2
    head = system.ledger.recorder.max_notification_id()
    before = events(system)
    wallet_before = system.wallets.balances("p1")

    # A new version of the open-requests model, replaying from 0 and stopped before the
    # expiries: it shows the expired requests as open and due.
    store = system.read_store
    view = LedgerView(store, ExpiryProjection.name, 99)
    replay = Projector(system.ledger, [ExpiryProjection(view)], batch_size=1)
    replay.prepare()
    ids = [n.id for n in system.ledger.recorder.select_notifications(start=1, limit=100_000)]
    failed = min(i for i, topic in zip(ids, before, strict=True) if topic == "Deposit.Failed")
    while view.position() < max(i for i in ids if i < failed):
        replay.step()
    with store.transaction() as tx:  # readers now use the replaying version
        tx.execute(
            "INSERT INTO rm_active (projection, version) VALUES (%s, 99)"
            " ON CONFLICT (projection) DO UPDATE SET version = excluded.version",
            (ExpiryProjection.name,),
        )
    replayed = ReadModels(store)
    far = clock.now
    assert given.pending_deposit in replayed.stale_deposits(far)
    assert set(first.withdrawals) <= set(replayed.stale_withdrawals(far))

    again = Expiry(
        system.commands,
        system.deposits,
        system.withdrawals,
        replayed,
        system.clock,
        deposit_after=HOUR,
        withdrawal_after=2 * HOUR,
    ).run_once()
    assert (again.deposits, again.withdrawals) == ([], [])
    assert system.ledger.recorder.max_notification_id() == head
    assert events(system) == before
    assert system.wallets.balances("p1") == wallet_before
    replay.close()


def test_the_expiry_command_itself_replays_its_first_outcome(
    system: System, clock: SteppingClock
) -> None:
    given = given_open_requests(system, clock)
    cause = expiry_cause(given.pending_deposit)
    failed = system.deposits.fail(UUID(given.pending_deposit), EXPIRED, cause)
    head = system.ledger.recorder.max_notification_id()
    assert system.deposits.fail(UUID(given.pending_deposit), EXPIRED, cause) == failed
    assert system.ledger.recorder.max_notification_id() == head


def test_a_request_settled_meanwhile_is_not_expired(system: System, clock: SteppingClock) -> None:
    given = given_open_requests(system, clock)
    # The provider confirms after the read model last saw the deposit open.
    system.deposits.confirm(UUID(given.pending_deposit), "psp-2", Cause(PSP, "wh2"))
    system.withdrawals.cancel(UUID(given.waiting), player("cancel"))
    clock.advance(hours=3)
    run = system.expiry().run_once()
    assert run.deposits == []
    assert run.withdrawals == [given.half_approved]
    assert deposit_state(system, given.pending_deposit)[0] == "credited"
    assert withdrawal_state(system, given.waiting)[0] == "cancelled"
    assert_ledger_invariants(system.ledger)


def test_the_sweeper_runs_expiry_in_the_background(system: System, clock: SteppingClock) -> None:
    given = given_open_requests(system, clock)
    clock.advance(hours=3)
    sweeper = system.sweeper(poll_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=sweeper.run, args=(stop,))
    thread.start()
    try:
        for _ in range(200):
            if deposit_state(system, given.pending_deposit)[0] == "failed":
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert deposit_state(system, given.pending_deposit) == ("failed", EXPIRED)
    assert not thread.is_alive()
