"""Contract of the read models operators work with, on SQLite and on the real Postgres: players
(search, logins, devices, addresses, freezes, associations, adjustments), the risk score, the
open-requests model behind expiry, and the audit trail of accounts, payout methods and operator
requests (with the reasons their receipts keep).

One history through the real use cases, projected, then every query. Event timestamps follow the
test's clock (the library's timestamp source is patched), so times are exact."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from domain.account import device_of
from domain.cause import Cause
from domain.errors import InvalidArgument
from domain.wallet import Balance, FreezeScope
from infrastructure.bootstrap import System, bootstrap
from infrastructure.rebuild import rebuild
from infrastructure.settings import Settings
from projections.queries import (
    AdjustmentRow,
    Association,
    DeviceRow,
    FreezeRow,
    IpRow,
    PlayerRow,
    ReadModels,
)
from tests.conftest import FAST_ARGON2, SteppingClock

ALICE, BOB = "operator:alice", "operator:bob"
PSP = "system:psp"
PASSWORD = "correct horse battery staple"
IBAN = "GB73WEST12345698765400"
OTHER_IBAN = "GB67WEST12345698765411"
FIREFOX, SAFARI = "Mozilla/5.0 Firefox/140", "Mozilla/5.0 Safari/18"


def at(hour: int, minute: int = 0) -> str:
    return datetime(2026, 1, 1, hour, minute, tzinfo=UTC).isoformat(timespec="microseconds")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def system(
    request: pytest.FixtureRequest, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[System]:
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    if request.param == "sqlite":
        settings = Settings(database_url="sqlite::memory:", **FAST_ARGON2)
    else:
        settings = request.getfixturevalue("pg_settings")
    counter = itertools.count(1)
    built = bootstrap(settings, clock=clock, seeds=lambda: f"server-seed-{next(counter):032d}")
    built.projection_status()  # the read models' tables, as the apps make them at start-up
    yield built
    built.close()


def catch_up(system: System) -> None:
    projector = system.projector()
    projector.catch_up()
    stopped = threading.Event()
    stopped.set()
    projector.run(stopped)  # releases the lease and the LISTEN connection


def signup() -> Cause:
    return Cause("system:signup", uuid4().hex)


@dataclass
class World:
    system: System
    players: dict[str, str]  # name -> player id
    accounts: dict[str, str]  # name -> account id
    deposits: dict[str, str]
    withdrawals: dict[str, str]
    adjustments: dict[str, str]


def _history(system: System, clock: SteppingClock) -> World:
    acc, pm = system.accounts, system.payout_methods
    players, accounts = {}, {}
    for name, ip in (("ann", "10.0.0.1"), ("bob", "10.0.0.1"), ("cara", "10.0.0.2")):
        view = acc.register(f"{name}@example.org", PASSWORD, signup(), ip=ip)
        players[name], accounts[name] = view.player_id, view.account_id
    ann, bob, cara = players["ann"], players["bob"], players["cara"]

    def player(name: str) -> Cause:
        return Cause(f"player:{players[name]}", uuid4().hex)

    clock.advance(minutes=1)  # 12:01
    acc.login("ann@example.org", PASSWORD, "10.0.0.1", FIREFOX, player("ann"))
    with pytest.raises(Exception, match="wrong e-mail or password"):
        acc.login("ANN@example.org", "not the password", "10.0.0.9", SAFARI, player("ann"))
    acc.login("bob@example.org", PASSWORD, "10.0.0.3", FIREFOX, player("bob"))
    clock.advance(minutes=1)  # 12:02
    acc.login("cara@example.org", PASSWORD, "10.0.0.2", SAFARI, player("cara"))
    acc.login("cara@example.org", PASSWORD, "10.0.0.2", SAFARI, player("cara"))

    bank = {"iban": IBAN, "holder_name": "Ann"}
    pm.add(ann, "bank_account", bank, "main", player("ann"))
    pm.add(cara, "bank_account", {"iban": IBAN, "holder_name": "Cara"}, "", player("cara"))
    removed = pm.add(
        bob, "bank_account", {"iban": OTHER_IBAN, "holder_name": "Bob"}, "", player("bob")
    )
    pm.remove(bob, removed.method_id, player("bob"))
    system.wallets.freeze(bob, FreezeScope.GAMEPLAY, "kyc review", Cause(ALICE, "f1"))
    system.wallets.freeze(bob, FreezeScope.DEPOSIT, "chargebacks", Cause(ALICE, "f2"))
    system.wallets.unfreeze(bob, FreezeScope.DEPOSIT, "settled", Cause(BOB, "uf1", "call"))

    clock.advance(minutes=3)  # 12:05
    dep, wd = system.deposits, system.withdrawals
    d = {"ann": dep.request(ann, 200_000, "EUR", "sandbox", player("ann")).deposit_id}
    dep.confirm(UUID(d["ann"]), "psp-1", Cause(PSP, "wh1"))
    clock.advance(minutes=5)  # 12:10
    w = {"ann-small": wd.request(ann, 1_000, "EUR", "bank:1", player("ann")).withdrawal_id}
    w["ann-big"] = wd.request(ann, 150_000, "EUR", "bank:1", player("ann")).withdrawal_id
    wd.approve(UUID(w["ann-big"]), Cause(ALICE, "ap1", "statement checked"))
    clock.advance(minutes=10)  # 12:20
    d["cara-open"] = dep.request(cara, 500, "EUR", "sandbox", player("cara")).deposit_id
    w["ann-approved"] = wd.request(ann, 2_000, "EUR", "bank:1", player("ann")).withdrawal_id
    wd.approve(UUID(w["ann-approved"]), Cause(BOB, "ap2", "fine"))

    clock.advance(minutes=10)  # 12:30
    adj = system.adjustments
    a = {"posted": adj.request(ann, Balance.BONUS, 100, "goodwill", Cause(ALICE, "a1", "ticket 7"))}
    adj.approve(UUID(a["posted"].adjustment_id), "agreed", Cause(BOB, "a2", "agreed"))
    a["rejected"] = adj.request(cara, Balance.AVAILABLE, -50, "fee", Cause(BOB, "a3", "fee"))
    adj.reject(UUID(a["rejected"].adjustment_id), "no fee", Cause(ALICE, "a4", "no fee"))
    a["open"] = adj.request(bob, Balance.BONUS, 5, "sorry", Cause(ALICE, "a5", "sorry"))

    catch_up(system)
    ids = {k: v.adjustment_id for k, v in a.items()}
    return World(system, players, accounts, d, w, ids)


@pytest.fixture
def world(system: System, clock: SteppingClock) -> World:
    return _history(system, clock)


def test_search_players_by_email_prefix_or_id(world: World) -> None:
    rm, p = world.system.read_models, world.players
    ann = PlayerRow(
        p["ann"], world.accounts["ann"], "ann@example.org", "EUR", at(12), "10.0.0.1",
        at(12, 1), "10.0.0.1", 1, 1, None, 1, [],
    )  # fmt: skip
    assert rm.players("ANN@ex").rows == [ann]
    assert rm.players(p["ann"]).rows == [ann]
    assert rm.player(p["ann"]) == ann
    assert rm.players("nobody").rows == []
    assert rm.players("%").rows == []  # LIKE wildcards are literal
    bob = rm.player(p["bob"])
    assert bob is not None
    assert (bob.frozen, bob.last_ip, bob.devices) == (["gameplay"], "10.0.0.3", 1)
    cara = rm.player(p["cara"])
    assert cara is not None
    assert (cara.logins, cara.last_login_at, cara.failed_logins) == (2, at(12, 2), 0)

    first = rm.players(limit=2)
    rest = rm.players(cursor=first.next_cursor, limit=2)
    assert rest.next_cursor is None
    assert [r.player_id for r in first.rows + rest.rows] == sorted(p.values())
    assert rm.player("nope") is None


def test_devices_addresses_and_freezes(world: World) -> None:
    rm, p = world.system.read_models, world.players
    assert rm.devices(p["ann"]) == [DeviceRow(device_of(FIREFOX), FIREFOX, at(12, 1), at(12, 1), 1)]
    assert rm.devices(p["cara"]) == [DeviceRow(device_of(SAFARI), SAFARI, at(12, 2), at(12, 2), 2)]
    # The registration address counts, with no login; a failed login's address does not.
    assert rm.ips(p["ann"]) == [IpRow("10.0.0.1", at(12), at(12, 1), 1)]
    assert rm.ips(p["bob"]) == [
        IpRow("10.0.0.3", at(12, 1), at(12, 1), 1),
        IpRow("10.0.0.1", at(12), at(12), 0),
    ]
    assert rm.freezes(p["bob"]) == [FreezeRow("gameplay", "kyc review", ALICE, at(12, 2))]
    assert rm.freezes(p["ann"]) == []
    assert rm.accounts_registered_from("10.0.0.1") == 2
    assert rm.accounts_registered_from("10.0.0.3") == 0


def test_associations_by_device_address_and_payout_destination(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rm, p = world.system.read_models, world.players
    masked = "GB73 **** **** **** 5400"
    assert rm.associations(p["ann"]) == sorted(
        [
            Association(p["bob"], "bob@example.org", "device", device_of(FIREFOX)),
            Association(p["bob"], "bob@example.org", "ip", "10.0.0.1"),
            Association(p["cara"], "cara@example.org", "payout_destination", masked),
        ],
        key=lambda a: ["device", "ip", "payout_destination"].index(a.via),
    )
    assert rm.associations(p["cara"]) == [
        Association(p["ann"], "ann@example.org", "payout_destination", masked)
    ]
    # A value shared by more players than MAX_SHARED (a common browser, a carrier's NAT) links
    # nobody.
    monkeypatch.setattr("projections.reads.players.MAX_SHARED", 1)
    assert rm.associations(p["ann"]) == []


def test_risk_scores_add_up_the_signals(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    rm, p = world.system.read_models, world.players
    scores = rm.risk_scores()
    # ann: a withdrawal 5 minutes after a credit (twice: both requests at 12:10; the one at
    # 12:20 too), a failed login, bob on her device and address, cara on her destination.
    ann_signals = {
        "rapid_withdrawal": 3,
        "failed_login": 1,
        "shared_device": 1,
        "shared_ip": 1,
        "shared_destination": 1,
    }
    assert [(s.player_id, s.score, s.signals) for s in scores] == [
        (p["ann"], 3 * 20 + 1 + 15 + 5 + 30, ann_signals),
        (p["cara"], 30, {"shared_destination": 1}),
        (p["bob"], 20, {"shared_device": 1, "shared_ip": 1}),
    ]
    assert scores[0].email == "ann@example.org"
    assert scores[2].frozen == ["gameplay"]
    assert scores[1].describe() == "shared_destination: 1"
    assert [s.player_id for s in rm.risk_scores(min_score=25)] == [p["ann"], p["cara"]]
    assert rm.risk_scores(player_id=p["bob"]) == [scores[2]]
    assert rm.risk_scores(player_id="nobody") == []
    monkeypatch.setattr("projections.reads.risk.VELOCITY_DEPOSITS_PER_HOUR", 0)
    assert rm.risk_scores(player_id=p["cara"])[0].signals == {
        "shared_destination": 1,
        "velocity_hour": 1,
    }


def test_open_requests_for_expiry(world: World) -> None:
    rm, d, w = world.system.read_models, world.deposits, world.withdrawals
    assert rm.stale_deposits(datetime(2026, 1, 1, 12, 21, tzinfo=UTC)) == [d["cara-open"]]
    assert rm.stale_deposits(datetime(2026, 1, 1, 12, 20, tzinfo=UTC)) == []  # not before
    # Half-approved (one of two) is still waiting; fully approved is not.
    stale = rm.stale_withdrawals(datetime(2026, 1, 1, 13, tzinfo=UTC))
    assert stale == sorted([w["ann-small"], w["ann-big"]])
    assert rm.stale_withdrawals(datetime(2026, 1, 1, 12, 10, tzinfo=UTC)) == []


def test_adjustments_queue(world: World) -> None:
    rm, p, a = world.system.read_models, world.players, world.adjustments
    rows = rm.adjustments().rows
    assert [(r.adjustment_id, r.state) for r in rows] == [
        (a["posted"], "posted"),
        (a["rejected"], "rejected"),
        (a["open"], "requested"),
    ]
    assert rows[0] == AdjustmentRow(
        a["posted"], rows[0].position, p["ann"], "bonus", 100, "goodwill", "posted", ALICE,
        BOB, "agreed", at(12, 30), at(12, 30),
    )  # fmt: skip
    assert rm.adjustments(state="requested").rows == [rows[2]]
    assert rm.adjustments(player_id=p["cara"]).rows == [rows[1]]
    balance = rm.balance(p["ann"])
    assert balance is not None
    assert balance.bonus == 100


def test_audit_of_accounts_payout_methods_and_operator_reasons(world: World) -> None:
    rm, p = world.system.read_models, world.players
    accounts = rm.audit(kind="PlayerAccount", target=p["ann"], limit=500).rows
    assert [(r.action, r.ip) for r in accounts] == [
        ("PlayerAccount.LoginFailed", "10.0.0.9"),
        ("PlayerAccount.LoggedIn", "10.0.0.1"),
        ("PlayerAccount.Registered", "10.0.0.1"),
    ]
    registered = accounts[-1].details
    assert registered["email"] == "ann@example.org"
    assert "password_hash" not in registered
    assert rm.audit(kind="PlayerAccount", actor=f"player:{p['ann']}").rows == accounts[:2]

    methods = rm.audit(kind="PayoutMethods", target=p["ann"]).rows
    assert [r.action for r in methods] == ["PayoutMethods.MethodAdded", "PayoutMethods.Opened"]
    assert methods[0].details["masked"] == "GB73 **** **** **** 5400"
    assert IBAN not in str(methods[0].details)

    # The receipt's reason reaches the events of its request that carry none of their own.
    approval = rm.audit(action="Withdrawal.ApprovalGiven", actor=ALICE).rows
    assert [(r.reason, r.request_id) for r in approval] == [("statement checked", "ap1")]
    receipt = rm.audit(action="Receipt.Recorded", actor=ALICE).rows
    assert ("approve_withdrawal", "statement checked") in [
        (r.details["command"], r.reason) for r in receipt
    ]
    # An event's own reason wins (the wallet's unfreeze says "settled", its request "call").
    unfrozen = rm.audit(action="Wallet.Unfrozen").rows
    assert [(r.actor, r.reason) for r in unfrozen] == [(BOB, "settled")]

    adjustment = rm.audit(kind="Adjustment", target=p["ann"]).rows
    assert [(r.action, r.actor, r.reason) for r in adjustment] == [
        ("Adjustment.Approved", BOB, "agreed"),
        ("Adjustment.Requested", ALICE, "goodwill"),
    ]
    posted = rm.audit(action="Wallet.Adjusted", target=p["ann"]).rows
    assert [(r.actor, r.reason, r.request_id) for r in posted] == [(BOB, "goodwill", "a2")]


def test_an_adjustment_needs_a_known_player(system: System) -> None:
    with pytest.raises(Exception, match="not found"):
        system.adjustments.request("ghost", Balance.BONUS, 1, "why", Cause(ALICE, "x"))
    system.wallets.open("p1", Cause("player:p1", "o"))
    with pytest.raises(InvalidArgument):
        system.adjustments.request("p1", Balance.BONUS, 1, " ", Cause(ALICE, "y"))


def test_projection_replays_identically_from_the_start(world: World) -> None:
    """A rebuild of the players, expiry and audit models from position 0 writes the same."""
    rm = world.system.read_models
    before = (
        rm.players(limit=500).rows,
        rm.associations(world.players["ann"]),
        rm.risk_scores(),
        rm.stale_withdrawals(datetime(2026, 1, 2, tzinfo=UTC)),
        rm.audit(limit=500).rows,
    )
    for name in ("players", "expiry", "audit"):
        rebuild(world.system.ledger, world.system.read_store, name, batch_size=3)
    rm = ReadModels(world.system.read_store)  # looks the (new) active versions up afresh
    after = (
        rm.players(limit=500).rows,
        rm.associations(world.players["ann"]),
        rm.risk_scores(),
        rm.stale_withdrawals(datetime(2026, 1, 2, tzinfo=UTC)),
        rm.audit(limit=500).rows,
    )
    assert after == before
