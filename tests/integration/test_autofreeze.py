"""Risk auto-freeze (the process manager over the risk score), on SQLite and the real Postgres:
a player whose score reaches PRIZELEDGER_RISK_AUTOFREEZE_SCORE gets their withdrawals frozen
once, by ``system:risk``, with a reason naming the signals; an operator's unfreeze stands."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from uuid import UUID, uuid4

import pytest

from application.risk import RISK_ACTOR
from domain.cause import Cause
from domain.errors import AccountFrozen
from domain.wallet import FreezeScope
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from tests.conftest import FAST_ARGON2, SteppingClock

PASSWORD = "correct horse battery staple"
BROWSER = "Mozilla/5.0 Firefox/140"
ALICE = "operator:alice"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_system(
    request: pytest.FixtureRequest, clock: SteppingClock
) -> Iterator[Callable[[int | None], System]]:
    made: list[System] = []

    def make(threshold: int | None) -> System:
        if request.param == "sqlite":
            settings = Settings(database_url="sqlite::memory:", **FAST_ARGON2)
        else:
            settings = request.getfixturevalue("pg_settings")
        settings = dataclasses.replace(settings, risk_autofreeze_score=threshold)
        system = bootstrap(settings, clock=clock)
        system.projection_status()  # the read models' tables
        made.append(system)
        return system

    yield make
    for system in made:
        system.close()


def catch_up(system: System) -> None:
    projector = system.projector()
    projector.catch_up()
    stopped = threading.Event()
    stopped.set()
    projector.run(stopped)


def given_players(system: System) -> dict[str, str]:
    """All registered from one address. ann: two withdrawals right after a deposit (2 x 20),
    bob on her device (15), bob and cara on her address (2 x 5): 65. bob: 25. cara: 10."""
    players = {}
    for name in ("ann", "bob", "cara"):
        view = system.accounts.register(
            f"{name}@example.org", PASSWORD, Cause("system:signup", uuid4().hex), ip="10.0.0.1"
        )
        players[name] = view.player_id
        system.accounts.login(
            f"{name}@example.org",
            PASSWORD,
            "10.0.0.1" if name != "cara" else "10.0.0.7",
            BROWSER if name != "cara" else "curl/8",
            Cause(f"player:{view.player_id}", uuid4().hex),
        )
    ann = players["ann"]

    def cause() -> Cause:
        return Cause(f"player:{ann}", uuid4().hex)

    deposit = system.deposits.request(ann, 10_000, "EUR", "sandbox", cause()).deposit_id
    system.deposits.confirm(UUID(deposit), "psp-1", Cause("system:psp", "wh1"))
    system.withdrawals.request(ann, 1_000, "EUR", "bank:1", cause())
    system.withdrawals.request(ann, 2_000, "EUR", "bank:1", cause())
    catch_up(system)
    return players


def test_a_player_reaching_the_threshold_is_frozen_once(
    make_system: Callable[[int | None], System],
) -> None:
    system = make_system(50)
    players = given_players(system)
    ann, bob = players["ann"], players["bob"]
    scores = {s.player_id: s.score for s in system.read_models.risk_scores()}
    assert scores == {ann: 65, bob: 25, players["cara"]: 10}

    assert system.autofreeze().run_once() == [ann]
    frozen = system.read_models.freezes(ann)
    assert frozen == []  # the read model has not seen it yet; the wallet has:
    with pytest.raises(AccountFrozen):
        system.withdrawals.request(ann, 100, "EUR", "bank:1", Cause(f"player:{ann}", "w9"))
    catch_up(system)
    (freeze,) = system.read_models.freezes(ann)
    assert (freeze.scope, freeze.actor) == ("withdrawal", RISK_ACTOR)
    assert freeze.reason == (
        "risk score 65 reached 50: rapid_withdrawal: 2, shared_device: 1, shared_ip: 2"
    )
    audit = system.read_models.audit(action="Wallet.Frozen", actor=RISK_ACTOR).rows
    assert [(r.reason, r.request_id) for r in audit] == [(freeze.reason, f"autofreeze:{ann}")]

    assert system.autofreeze().run_once() == []  # frozen already
    system.wallets.unfreeze(ann, FreezeScope.WITHDRAWAL, "reviewed: fine", Cause(ALICE, "uf"))
    catch_up(system)
    assert system.autofreeze().run_once() == []  # the operator's decision stands
    assert system.read_models.freezes(ann) == []
    assert system.wallets.balances(bob).locked == 0


def test_players_frozen_by_an_operator_are_left_alone(
    make_system: Callable[[int | None], System],
) -> None:
    system = make_system(20)
    players = given_players(system)
    system.wallets.freeze(players["ann"], FreezeScope.ACCOUNT, "fraud", Cause(ALICE, "f1"))
    catch_up(system)
    assert system.autofreeze().run_once() == [players["bob"]]


def test_no_threshold_no_freeze(make_system: Callable[[int | None], System]) -> None:
    system = make_system(None)
    given_players(system)
    head = system.ledger.recorder.max_notification_id()
    assert system.autofreeze().run_once() == []
    assert system.ledger.recorder.max_notification_id() == head
