"""Contract of every read model, on SQLite and on the real Postgres: one history driven through
the real use cases (pools, prizes, deposits, draws, bonus, adjustments, freezes, withdrawals with
one and two approvals, a charge-back, an epoch rotation), projected, then every query's rows.

Event timestamps follow the test's clock (the library's timestamp source is patched), so days,
hours and audit times are exact. Positions are notification ids: they are checked against the
event store, never hard-coded (Postgres may leave gaps after a retried save)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from domain import ids
from domain.cause import Cause
from domain.errors import InsufficientFunds
from domain.prizes import PoolControls, Prize
from domain.wallet import Balance, FreezeScope
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from projections.queries import (
    DepositRow,
    FinanceRow,
    PoolStats,
    PrizeStats,
    RapidWithdrawal,
    VelocityRow,
    WithdrawalRow,
)
from tests.conftest import SteppingClock

ALICE, BOB = "operator:alice", "operator:bob"
PSP = "system:psp"
T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 1) -> str:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC).isoformat(timespec="microseconds")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def system(
    request: pytest.FixtureRequest, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[System]:
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    if request.param == "sqlite":
        settings = Settings(database_url="sqlite::memory:")
    else:
        settings = request.getfixturevalue("pg_settings")
    counter = itertools.count(1)
    built = bootstrap(settings, clock=clock, seeds=lambda: f"server-seed-{next(counter):032d}")
    yield built
    built.close()


def catch_up(system: System) -> None:
    """Project everything recorded, then release the projector's lease and listen connections
    (``run`` does so on its way out; ``catch_up`` alone keeps them open)."""
    projector = system.projector()
    projector.catch_up()
    stopped = threading.Event()
    stopped.set()
    projector.run(stopped)


@dataclass
class World:
    system: System
    deposits: dict[str, str]  # name -> deposit id
    withdrawals: dict[str, str]
    draws: dict[str, Any]  # name -> DrawOutcome
    topics: dict[int, tuple[str, str]]  # notification id -> (originator id, event topic)


def _history(system: System, clock: SteppingClock) -> World:
    def op(actor: str, request: str) -> Cause:
        return Cause(actor, request)

    def player(pid: str, request: str) -> Cause:
        return Cause(f"player:{pid}", request)

    pools, wallets, dep, wd = system.pools, system.wallets, system.deposits, system.withdrawals
    pools.create("gold", "Gold wheel", 100, PoolControls(rtp_target_bps=10_000), op(ALICE, "c1"))
    nugget = Prize("nugget", "Nugget", "cash", 100, 1, stock=3, budget=250, budget_window_s=3600)
    pools.add_prize("gold", nugget, op(ALICE, "c2"))
    pools.fund("gold", 10_000, op(ALICE, "c3"))
    pools.create("chips", "Chip wheel", 100, PoolControls(rtp_target_bps=5_000), op(ALICE, "c4"))
    pools.add_prize("chips", Prize("chip", "Chip", "bonus", 50, 1), op(ALICE, "c5"))
    pools.fund("chips", 1_000, op(ALICE, "c6"))

    clock.advance(minutes=1)  # 12:01
    wallets.open("p1", player("p1", "open"))
    wallets.open("p2", player("p2", "open"))
    d: dict[str, str] = {}
    d["p1-a"] = dep.request("p1", 5_000, "EUR", "sandbox", player("p1", "d1")).deposit_id
    dep.confirm(UUID(d["p1-a"]), "psp-1", op(PSP, "wh1"))
    clock.advance(minutes=1)  # 12:02
    d["p2-failed"] = dep.request("p2", 2_000, "EUR", "sandbox", player("p2", "d1")).deposit_id
    dep.fail(UUID(d["p2-failed"]), "card declined", op(PSP, "wh2"))
    d["p2-a"] = dep.request("p2", 3_000, "EUR", "sandbox", player("p2", "d2")).deposit_id
    dep.mark_provider_pending(UUID(d["p2-a"]), "psp-2", op(PSP, "wh3"))
    dep.confirm(UUID(d["p2-a"]), "psp-2", op(PSP, "wh4"))

    clock.advance(minutes=8)  # 12:10
    draws = {
        "gold-2": system.draws.draw("p1", "gold", 2, player("p1", "draw1")),
        "chips-3": system.draws.draw("p1", "chips", 3, player("p1", "draw2")),
        "gold-over-budget": system.draws.draw("p1", "gold", 1, player("p1", "draw3")),
    }
    clock.advance(minutes=5)  # 12:15
    wallets.credit_bonus("p2", 500, "welcome", op(ALICE, "b1"))
    wallets.adjust("p1", Balance.AVAILABLE, -100, "duplicate credit", op(ALICE, "a1"))
    with pytest.raises(InsufficientFunds):
        wallets.adjust("p1", Balance.BONUS, -1_000_000, "oops", op(ALICE, "a2"))
    wallets.freeze("p2", FreezeScope.GAMEPLAY, "kyc review", op(BOB, "f1"))
    draws["p2-frozen"] = system.draws.draw("p2", "chips", 1, player("p2", "draw1"))

    clock.advance(minutes=15)  # 12:30
    w: dict[str, str] = {}
    w["p1"] = wd.request("p1", 1_000, "EUR", "iban:p1", player("p1", "w1")).withdrawal_id
    wd.approve(UUID(w["p1"]), op(ALICE, "ap1"))
    wd.submit(UUID(w["p1"]), "bank-1", op(ALICE, "s1"))
    wd.mark_paid(UUID(w["p1"]), op(ALICE, "pd1"))

    clock.advance(hours=2)  # 14:30
    d["p2-big"] = dep.request("p2", 150_000, "EUR", "sandbox", player("p2", "d3")).deposit_id
    dep.confirm(UUID(d["p2-big"]), "psp-3", op(PSP, "wh5"))
    clock.advance(minutes=10)  # 14:40
    w["p2-big"] = wd.request("p2", 120_000, "EUR", "iban:p2", player("p2", "w1")).withdrawal_id
    wd.approve(UUID(w["p2-big"]), op(ALICE, "ap2"))
    wd.approve(UUID(w["p2-big"]), op(BOB, "ap3"))

    clock.advance(hours=2)  # 16:40
    w["p2-small"] = wd.request("p2", 500, "EUR", "iban:p2", player("p2", "w2")).withdrawal_id
    wd.cancel(UUID(w["p2-small"]), player("p2", "cw2"))
    wallets.unfreeze("p2", FreezeScope.GAMEPLAY, "cleared", op(BOB, "uf1"))

    clock.now = datetime(2026, 1, 2, 1, tzinfo=UTC)
    d["p1-chargeback"] = dep.request("p1", 1_000, "EUR", "sandbox", player("p1", "d2")).deposit_id
    dep.confirm(UUID(d["p1-chargeback"]), "psp-4", op(PSP, "wh6"))
    dep.reverse(UUID(d["p1-chargeback"]), "chargeback", op(PSP, "cb1"))
    pools.rotate_epoch("gold", op(ALICE, "r1"))
    pools.pause("chips", "maintenance", op(ALICE, "pa1"))
    draws["chips-paused"] = system.draws.draw("p1", "chips", 1, player("p1", "draw4"))
    pools.resume("chips", "done", op(ALICE, "re1"))

    catch_up(system)
    notifications = system.ledger.recorder.select_notifications(start=1, limit=10_000)
    topics = {n.id: (str(n.originator_id), n.topic.rpartition(":")[2]) for n in notifications}
    return World(system, d, w, draws, topics)


@pytest.fixture
def world(system: System, clock: SteppingClock) -> World:
    return _history(system, clock)


def _position(world: World, originator: str, topic: str) -> int:
    found = [i for i, (o, t) in world.topics.items() if o == originator and t == topic]
    assert len(found) == 1, (originator, topic, found)
    return found[0]


def test_draws_newest_first_with_cursor_and_by_id(world: World) -> None:
    rm = world.system.read_models
    first = rm.draws("p1", limit=3)
    assert first.next_cursor is not None
    rest = rm.draws("p1", cursor=first.next_cursor, limit=3)
    assert rest.next_cursor is None
    rows = first.rows + rest.rows
    expected = ["chips-paused", "gold-over-budget", "chips-3", "gold-2"]
    assert [r.draw_id for r in rows] == [world.draws[n].draw_id for n in expected]
    assert [(r.pool_key, r.status, r.reason, r.requested, r.settled) for r in rows] == [
        ("chips", "refused", "pool_paused", 1, 0),
        ("gold", "refused", "no_prize_available", 1, 0),
        ("chips", "settled", None, 3, 3),
        ("gold", "settled", None, 2, 2),
    ]
    assert [(r.cost_total, r.won_total, r.at) for r in rows] == [
        (0, 0, at(1, day=2)),
        (0, 0, at(12, 10)),
        (300, 150, at(12, 10)),
        (200, 200, at(12, 10)),
    ]
    assert [r.position for r in rows] == [
        _position(world, r.draw_id, "Draw.Executed") for r in rows
    ]
    one = rm.draw(world.draws["gold-2"].draw_id)
    assert one == rows[-1]
    assert one is not None
    assert one.results == json.loads(json.dumps(world.draws["gold-2"].results, default=str))
    assert [r["prize_id"] for r in one.results] == ["nugget", "nugget"]
    assert rm.draws("p2").rows[0].reason == "player_frozen"
    assert rm.draw(str(ids.draw_id("p1", "nope"))) is None


def test_pool_stats(world: World) -> None:
    rm = world.system.read_models
    nugget = PrizeStats("nugget", "Nugget", "cash", 100, 1, 1, 250, 3600, True, 2, 200, 200)
    gold = PoolStats(
        "gold", "Gold wheel", "EUR", "open", 100, 10_000, 2, 9_800, 10_000, 0,
        2, 1, 2, 2, 200, 200, at(1, day=2), [nugget],
    )  # fmt: skip
    assert rm.pool_stats("gold", at=datetime(2026, 1, 1, 12, 10, tzinfo=UTC)) == gold
    assert gold.observed_rtp_bps == 10_000
    # The budget window has passed a day later; the stock and totals stay.
    later = rm.pool_stats("gold", at=datetime(2026, 1, 2, 1, tzinfo=UTC))
    assert later == replace(gold, prizes=[replace(nugget, budget_used=0)])
    chip = PrizeStats("chip", "Chip", "bonus", 50, 1, None, None, 86_400, True, 3, 150, None)
    chips = PoolStats(
        "chips", "Chip wheel", "EUR", "open", 100, 5_000, 1, 850, 1_000, 0,
        3, 2, 3, 3, 300, 150, at(1, day=2), [chip],
    )  # fmt: skip
    assert rm.pools(at=datetime(2026, 1, 2, 1, tzinfo=UTC)) == [chips, later]
    assert chips.observed_rtp_bps == 5_000
    assert rm.pool_stats("nope") is None


def test_deposit_queues(world: World) -> None:
    rm, d = world.system.read_models, world.deposits

    def row(name: str, player: str, amount: int, state: str, ref: str | None, **kw: Any) -> Any:
        return DepositRow(
            d[name],
            _position(world, d[name], "Deposit.Requested"),
            player,
            amount,
            "EUR",
            "sandbox",
            state,
            ref,
            kw.get("reason"),
            kw["requested"],
            kw.get("updated", kw["requested"]),
        )

    p1a = row("p1-a", "p1", 5_000, "credited", "psp-1", requested=at(12, 1))
    p2a = row("p2-a", "p2", 3_000, "credited", "psp-2", requested=at(12, 2))
    p2big = row("p2-big", "p2", 150_000, "credited", "psp-3", requested=at(14, 30))
    failed = row(
        "p2-failed", "p2", 2_000, "failed", None, reason="card declined", requested=at(12, 2)
    )
    back = row(
        "p1-chargeback",
        "p1",
        1_000,
        "reversed",
        "psp-4",
        reason="chargeback",
        requested=at(1, 0, 2),
    )
    page = rm.deposits(state="credited", limit=2)
    assert page.rows == [p1a, p2a]
    assert page.next_cursor == str(p2a.position)
    last = rm.deposits(state="credited", cursor=page.next_cursor, limit=2)
    assert (last.rows, last.next_cursor) == ([p2big], None)
    assert rm.deposits(state="failed").rows == [failed]
    assert rm.deposits(state="requested").rows == []
    assert rm.deposits(player_id="p2").rows == [failed, p2a, p2big]
    assert rm.deposits(player_id="p1", state="reversed").rows == [back]
    assert rm.deposit(d["p2-failed"]) == failed
    assert rm.deposit(str(ids.deposit_id("p9", "x"))) is None


def test_withdrawal_queues(world: World) -> None:
    rm, w = world.system.read_models, world.withdrawals

    def pos(name: str) -> int:
        return _position(world, w[name], "Withdrawal.Requested")

    paid = WithdrawalRow(
        w["p1"], pos("p1"), "p1", 1_000, "EUR", "iban:p1", "paid", 1, 1, [ALICE], "bank-1",
        None, at(12, 30), at(12, 30),
    )  # fmt: skip
    approved = WithdrawalRow(
        w["p2-big"], pos("p2-big"), "p2", 120_000, "EUR", "iban:p2", "approved", 2, 2,
        [ALICE, BOB], None, None, at(14, 40), at(14, 40),
    )  # fmt: skip
    cancelled = WithdrawalRow(
        w["p2-small"], pos("p2-small"), "p2", 500, "EUR", "iban:p2", "cancelled", 1, 0, [],
        None, None, at(16, 40), at(16, 40),
    )  # fmt: skip
    assert rm.withdrawals(state="approved").rows == [approved]
    assert rm.withdrawals(state="requested").rows == []
    page = rm.withdrawals(limit=2)
    assert (page.rows, page.next_cursor) == ([paid, approved], str(approved.position))
    assert rm.withdrawals(cursor=page.next_cursor).rows == [cancelled]
    assert rm.withdrawals(player_id="p2").rows == [approved, cancelled]
    assert rm.withdrawal(w["p1"]) == paid
    assert rm.withdrawal(str(ids.withdrawal_id("p1", "nope"))) is None


def test_withdrawal_half_approved_is_still_requested(system: System, clock: SteppingClock) -> None:
    system.wallets.open("p1", Cause("player:p1", "open"))
    deposit = system.deposits.request("p1", 200_000, "EUR", "sandbox", Cause("player:p1", "d"))
    system.deposits.confirm(UUID(deposit.deposit_id), "r", Cause(PSP, "wh"))
    wid = system.withdrawals.request("p1", 150_000, "EUR", "x", Cause("player:p1", "w"))
    system.withdrawals.approve(UUID(wid.withdrawal_id), Cause(ALICE, "ap"))
    catch_up(system)
    row = system.read_models.withdrawal(wid.withdrawal_id)
    assert row is not None
    assert (row.state, row.approvals, row.approvers) == ("requested", 1, [ALICE])
    system.withdrawals.reject(UUID(wid.withdrawal_id), "suspicious", Cause(BOB, "rj"))
    catch_up(system)
    row = system.read_models.withdrawal(wid.withdrawal_id)
    assert row is not None
    assert (row.state, row.approvals, row.reason) == ("rejected", 1, "suspicious")
    assert system.read_models.withdrawals(state="rejected").rows == [row]


R = "Receipt.Recorded"  # every operator request's receipt, just before (older than) its events
AUDIT_TRAIL = [  # newest first: (action, actor, subject, reason, request id, at)
    ("PrizePool.Resumed", ALICE, "chips", "done", "re1", at(1, day=2)),
    (R, ALICE, None, None, "re1", at(1, day=2)),
    ("PrizePool.Paused", ALICE, "chips", "maintenance", "pa1", at(1, day=2)),
    (R, ALICE, None, None, "pa1", at(1, day=2)),
    ("PrizePool.EpochRotated", ALICE, "gold", None, "r1", at(1, day=2)),
    (R, ALICE, None, None, "r1", at(1, day=2)),
    ("Deposit.Reversed", PSP, "p1", "chargeback", "cb1", at(1, day=2)),
    ("Wallet.Unfrozen", BOB, "p2", "cleared", "uf1", at(16, 40)),
    (R, BOB, None, None, "uf1", at(16, 40)),
    ("Withdrawal.Cancelled", "player:p2", "p2", None, "cw2", at(16, 40)),
    ("Withdrawal.Requested", "player:p2", "p2", None, "w2", at(16, 40)),
    ("Withdrawal.ApprovalGiven", BOB, "p2", None, "ap3", at(14, 40)),
    (R, BOB, None, None, "ap3", at(14, 40)),
    ("Withdrawal.ApprovalGiven", ALICE, "p2", None, "ap2", at(14, 40)),
    (R, ALICE, None, None, "ap2", at(14, 40)),
    ("Withdrawal.Requested", "player:p2", "p2", None, "w1", at(14, 40)),
    ("Wallet.WithdrawalPaidOut", ALICE, "p1", None, "pd1", at(12, 30)),
    ("Withdrawal.Paid", ALICE, "p1", None, "pd1", at(12, 30)),
    (R, ALICE, None, None, "pd1", at(12, 30)),
    ("Withdrawal.Submitted", ALICE, "p1", None, "s1", at(12, 30)),
    (R, ALICE, None, None, "s1", at(12, 30)),
    ("Withdrawal.ApprovalGiven", ALICE, "p1", None, "ap1", at(12, 30)),
    (R, ALICE, None, None, "ap1", at(12, 30)),
    ("Withdrawal.Requested", "player:p1", "p1", None, "w1", at(12, 30)),
    ("Wallet.Frozen", BOB, "p2", "kyc review", "f1", at(12, 15)),
    (R, BOB, None, None, "f1", at(12, 15)),
    (R, ALICE, None, None, "a2", at(12, 15)),  # refused: no events
    ("Wallet.Adjusted", ALICE, "p1", "duplicate credit", "a1", at(12, 15)),
    (R, ALICE, None, None, "a1", at(12, 15)),
    ("Wallet.BonusCredited", ALICE, "p2", None, "b1", at(12, 15)),
    (R, ALICE, None, None, "b1", at(12, 15)),
    ("PrizePool.Funded", ALICE, "chips", None, "c6", at(12)),
    (R, ALICE, None, None, "c6", at(12)),
    ("PrizePool.PrizeAdded", ALICE, "chips", None, "c5", at(12)),
    (R, ALICE, None, None, "c5", at(12)),
    ("PrizePool.Created", ALICE, "chips", None, "c4", at(12)),
    (R, ALICE, None, None, "c4", at(12)),
    ("PrizePool.Funded", ALICE, "gold", None, "c3", at(12)),
    (R, ALICE, None, None, "c3", at(12)),
    ("PrizePool.PrizeAdded", ALICE, "gold", None, "c2", at(12)),
    (R, ALICE, None, None, "c2", at(12)),
    ("PrizePool.Created", ALICE, "gold", None, "c1", at(12)),
    (R, ALICE, None, None, "c1", at(12)),
]


def _trail(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.action, r.actor, r.subject, r.reason, r.request_id, r.at) for r in rows]


def test_audit_trail_filters_and_cursor(world: World) -> None:
    rm = world.system.read_models
    rows, cursor = [], None
    while True:
        page = rm.audit(cursor=cursor, limit=7)
        rows += page.rows
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert _trail(rows) == AUDIT_TRAIL
    for row in rows:  # the row is the event at that position
        assert world.topics[row.position] == (row.target_id, row.action)
        assert row.ip is None
    by_action = {r.action: r for r in rows}
    by_request = {(r.action, r.request_id): r for r in rows}
    refused = by_request[R, "a2"].details
    assert (refused["command"], refused["error_code"]) == ("adjust_wallet", "insufficient_funds")
    accepted = by_request[R, "a1"].details
    assert (accepted["command"], accepted["error_code"]) == ("adjust_wallet", None)
    assert "outcome" not in accepted
    rotated = by_action["PrizePool.EpochRotated"].details
    assert rotated["revealed_seed"] == "server-seed-" + "1".zfill(32)
    assert "server_seed" not in rotated
    assert "server_seed" not in by_action["PrizePool.Created"].details
    assert by_action["Wallet.Adjusted"].details == {
        "balance": "available",
        "currency": "EUR",
        "delta_minor": -100,
        "player_id": "p1",
        "reason": "duplicate credit",
    }

    assert _trail(rm.audit(actor=BOB).rows) == [t for t in AUDIT_TRAIL if t[1] == BOB]
    assert _trail(rm.audit(target="p2").rows) == [t for t in AUDIT_TRAIL if t[2] == "p2"]
    pool_id = str(ids.pool_id("gold"))
    assert _trail(rm.audit(target=pool_id).rows) == [t for t in AUDIT_TRAIL if t[2] == "gold"]
    approvals = rm.audit(action="Withdrawal.ApprovalGiven", target="p2").rows
    assert [r.actor for r in approvals] == [BOB, ALICE]
    window = rm.audit(
        since=datetime(2026, 1, 1, 12, 15, tzinfo=UTC),
        until=datetime(2026, 1, 1, 14, 40, tzinfo=UTC),
    )
    assert _trail(window.rows) == [t for t in AUDIT_TRAIL if at(12, 15) <= t[5] < at(14, 40)]
    assert rm.audit(actor="operator:nobody").rows == []


def test_audit_csv_export(world: World) -> None:
    text = world.system.read_models.audit_csv(actor=BOB)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "position", "at", "actor", "action", "target_id", "subject", "reason", "request_id",
        "ip", "details",
    ]  # fmt: skip
    assert [(r[3], r[6]) for r in table[1:]] == [
        ("Wallet.Unfrozen", "cleared"),
        (R, ""),
        ("Withdrawal.ApprovalGiven", ""),
        (R, ""),
        ("Wallet.Frozen", "kyc review"),
        (R, ""),
    ]
    assert json.loads(table[1][9]) == {"reason": "cleared", "scope": "gameplay"}
    everything = world.system.read_models.audit_csv()
    assert len(list(csv.reader(io.StringIO(everything)))) == len(AUDIT_TRAIL) + 1


def test_finance_daily(world: World) -> None:
    report = world.system.read_models.finance("2026-01-01", "2026-01-02")
    day1, day2 = "2026-01-01", "2026-01-02"
    assert report.rows == [
        FinanceRow(day1, "EUR", "", 158_000, 1_000, 0, 0, 500, -100, -500),
        FinanceRow(day1, "EUR", "chips", 0, 0, 300, 150, 0, 0, 150),
        FinanceRow(day1, "EUR", "gold", 0, 0, 200, 200, 0, 0, 0),
        FinanceRow(day2, "EUR", "", 0, 0, 0, 0, 0, 0, 0),
    ]
    assert report.days == [
        FinanceRow(day1, "EUR", None, 158_000, 1_000, 500, 350, 500, -100, -350),
        FinanceRow(day2, "EUR", None, 0, 0, 0, 0, 0, 0, 0),
    ]
    assert report.totals == [
        FinanceRow(None, "EUR", None, 158_000, 1_000, 500, 350, 500, -100, -350)
    ]
    only2 = world.system.read_models.finance("2026-01-02", "2026-01-02")
    assert (only2.rows, only2.days) == ([report.rows[-1]], [report.days[-1]])
    assert only2.totals == [replace(report.days[-1], day=None)]


def test_risk_velocity_and_rapid_withdrawals(world: World) -> None:
    rm = world.system.read_models
    assert rm.velocity() == [
        VelocityRow("p1", "2026-01-02T01", 1, 0, 1, 1, 1_000),
        VelocityRow("p2", "2026-01-01T14", 0, 0, 1, 1, 150_000),
        VelocityRow("p1", "2026-01-01T12", 3, 5, 1, 1, 5_000),
        VelocityRow("p2", "2026-01-01T12", 1, 0, 2, 1, 3_000),
    ]
    assert rm.velocity(player_id="p2", first_hour="2026-01-01T13") == [
        VelocityRow("p2", "2026-01-01T14", 0, 0, 1, 1, 150_000)
    ]
    d, w = world.deposits, world.withdrawals
    p2 = RapidWithdrawal(
        "p2", w["p2-big"], 120_000, at(14, 40), d["p2-big"], 150_000, at(14, 30), 600.0
    )
    p1 = RapidWithdrawal("p1", w["p1"], 1_000, at(12, 30), d["p1-a"], 5_000, at(12, 1), 1740.0)
    assert rm.rapid_withdrawals() == [p2, p1]
    assert rm.rapid_withdrawals(player_id="p1") == [p1]
    assert rm.rapid_withdrawals(within_s=1_000) == [p2]
    # The small withdrawal at 16:40 came 2 h 10 min after p2's last credit: flagged only with a
    # three-hour window, and then against that latest credit.
    wide = rm.rapid_withdrawals(within_s=3 * 3600)
    assert [(r.withdrawal_id, r.deposit_id, r.gap_s) for r in wide] == [
        (w["p2-small"], d["p2-big"], 7800.0),
        (w["p2-big"], d["p2-big"], 600.0),
        (w["p1"], d["p1-a"], 1740.0),
    ]
