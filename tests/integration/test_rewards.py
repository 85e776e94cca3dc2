"""The reward centre end to end on SQLite and the real Postgres: missions of every kind counted by
the rewards projection (the process manager), granted by the RewardGranter from the marketing
budget, claims, budget exhaustion, signup and referral bonuses with the shared device/IP rule,
and a replay of the projection from the start that pays nothing twice.

Given/when/then: *given* missions and players (use cases), *when* they play (draws, deposits,
check-ins, TOTP) and the process runs (``settle``), *then* these grants and balances. Event
timestamps follow the test's clock (the library's timestamp source is patched), so days are
exact."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pyotp
import pytest

from application.missions import mission_terms
from application.rewards import NothingToClaim
from domain import ids
from domain.cause import Cause
from domain.missions import ONCE
from domain.prizes import PoolControls, Prize
from domain.rewards import AlreadyCheckedIn, RewardGrant, referral_code
from domain.wallet import FreezeScope
from infrastructure.bootstrap import System, bootstrap
from infrastructure.projector import Projector
from infrastructure.rebuild import rebuild
from infrastructure.settings import Settings
from projections.base import LedgerView
from projections.reads.rewards import RewardRow
from projections.rewards import RewardsProjection
from tests.conftest import FAST_ARGON2, SteppingClock
from tests.ledger_checks import assert_ledger_invariants, stored_events

OP = "operator:alice"
DAY = "2026-01-01"  # the clock's first day
PASSWORD = "correct horse battery"
FIREFOX, CHROME = "Mozilla/5.0 Firefox/140.0", "Mozilla/5.0 Chrome/141.0"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "sqlite":
        return Settings(database_url="sqlite::memory:", **FAST_ARGON2)
    pg: Settings = request.getfixturevalue("pg_settings")
    return pg


@dataclass
class World:
    system: System
    clock: SteppingClock
    requests: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def cause(self, actor: str = OP) -> Cause:
        return Cause(actor, f"req-{next(self.requests)}", "test")

    def mission(self, key: str, kind: str, target: int = 1, **terms: Any) -> None:
        record = {
            "title": key,
            "kind": kind,
            "target": target,
            "cadence": "daily" if kind in ("daily_check_in", "draws_today") else "one_time",
            "award": "auto",
            "reward_kind": "bonus",
            "reward_minor": 10,
            **terms,
        }
        self.system.missions.create(key, mission_terms(record), self.cause())

    def fund(self, amount: int) -> None:
        self.system.rewards.fund_budget(amount, self.cause())

    def player(self, pid: str) -> str:
        self.system.wallets.open(pid, self.cause(f"player:{pid}"))
        return pid

    def deposit(self, pid: str, amount: int) -> None:
        made = self.system.deposits.request(
            pid, amount, "EUR", "sandbox", self.cause(f"player:{pid}")
        )
        self.system.deposits.confirm(UUID(made.deposit_id), "ref", self.cause("system:psp"))

    def draw(self, pid: str, count: int = 1) -> None:
        outcome = self.system.draws.draw(pid, "wheel", count, self.cause(f"player:{pid}"))
        assert outcome.status == "settled", outcome.reason

    def settle(self) -> int:
        """Project, grant what is due, project the grants: what the projector process does."""
        project(self.system)
        issued = self.system.reward_granter().issue_due()
        project(self.system)
        return issued

    def rows(self, pid: str) -> dict[tuple[str, str], RewardRow]:
        return {(r.source, r.period): r for r in self.system.read_models.reward_rows(pid)}

    def state(self, pid: str, source: str, period: str = ONCE) -> str | None:
        row = self.rows(pid).get((source, period))
        return None if row is None else row.state

    def bonus(self, pid: str) -> int:
        return self.system.wallets.balances(pid).bonus

    def available(self, pid: str) -> int:
        return self.system.wallets.balances(pid).available


def project(system: System) -> None:
    """Catch the rewards read model up. On a busy Postgres the projector may fail to take its
    lease (no connection to spare) and stand by: try again until the model is at the head."""
    deadline = time.monotonic() + 30
    while True:
        projector = system.projector(["rewards"])
        projector.catch_up()
        stopped = threading.Event()
        stopped.set()
        projector.run(stopped)
        (status,) = projector.status()
        if status.lag == 0 or time.monotonic() > deadline:
            assert (status.state, status.lag) == ("running", 0), status
            return
        time.sleep(0.2)


def build(settings: Settings, clock: SteppingClock) -> System:
    counter = itertools.count(1)
    return bootstrap(settings, clock=clock, seeds=lambda: f"server-seed-{next(counter):032d}")


@pytest.fixture
def world(
    settings: Settings, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    system = build(settings, clock)
    made = World(system, clock)
    pools = system.pools
    pools.create("wheel", "Wheel", 100, PoolControls(rtp_target_bps=5_000), made.cause())
    pools.add_prize("wheel", Prize("coin", "Coin", "bonus", 20, 1), made.cause())
    pools.fund("wheel", 1_000_000, made.cause())
    system.projector()  # every read model's tables exist before the first read, as in the apps
    yield made
    assert_ledger_invariants(system.ledger)
    system.close()


def grants_of(system: System) -> list[Any]:
    return [
        e for e in stored_events(system.ledger) if type(e).__qualname__ == "RewardGrant.Granted"
    ]


# ---- every mission kind --------------------------------------------------------------------


def test_daily_check_in_pays_once_a_day(world: World) -> None:
    world.mission("check-in", "daily_check_in", reward_minor=25)
    world.fund(1_000)
    pid = world.player("p1")

    world.system.rewards.check_in(pid, world.cause(f"player:{pid}"))
    with pytest.raises(AlreadyCheckedIn):
        world.system.rewards.check_in(pid, world.cause(f"player:{pid}"))
    world.settle()

    assert world.state(pid, "check-in", DAY) == "granted"
    assert world.bonus(pid) == 25
    world.clock.advance(days=1)
    world.system.rewards.check_in(pid, world.cause(f"player:{pid}"))
    world.settle()
    assert world.state(pid, "check-in", "2026-01-02") == "granted"
    assert world.bonus(pid) == 50


def test_first_deposit_counts_only_the_very_first_and_is_claimed(world: World) -> None:
    pid = world.player("p1")
    world.mission("first", "first_deposit", award="claim", reward_kind="cash", reward_minor=70)
    world.fund(1_000)
    with pytest.raises(NothingToClaim):
        world.system.rewards.claim(pid, "first", world.cause(f"player:{pid}"))

    world.deposit(pid, 500)
    world.deposit(pid, 500)
    assert world.settle() == 0  # claim mode: nothing is granted by itself
    assert world.state(pid, "first") == "claimable"

    claimed = world.system.rewards.claim(pid, "first", world.cause(f"player:{pid}"))
    world.settle()
    assert (claimed.state, claimed.amount_minor, claimed.reward_kind) == ("granted", 70, "cash")
    assert world.available(pid) == 1_070
    assert world.state(pid, "first") == "granted"
    with pytest.raises(NothingToClaim):
        world.system.rewards.claim(pid, "first", world.cause(f"player:{pid}"))


def test_first_deposit_is_not_earned_by_a_player_who_deposited_before(world: World) -> None:
    pid = world.player("p1")
    world.deposit(pid, 500)
    world.mission("first", "first_deposit")
    world.fund(1_000)

    world.deposit(pid, 500)
    world.settle()

    assert world.state(pid, "first") is None
    assert world.bonus(pid) == 0


def test_draws_today_counts_the_days_draws(world: World) -> None:
    world.mission("three-draws", "draws_today", target=3, reward_minor=40)
    world.fund(1_000)
    pid = world.player("p1")
    world.deposit(pid, 10_000)

    world.draw(pid, 2)
    world.settle()
    row = world.rows(pid)[("three-draws", DAY)]
    assert (row.progress, row.target, row.state) == (2, 3, "open")

    world.draw(pid)
    world.settle()
    assert world.state(pid, "three-draws", DAY) == "granted"
    world.clock.advance(days=1)
    world.draw(pid, 2)
    world.settle()
    assert world.rows(pid)[("three-draws", "2026-01-02")].progress == 2
    assert len(grants_of(world.system)) == 1


def test_draw_streak_needs_consecutive_days(world: World) -> None:
    world.mission("streak", "draw_streak", target=3, reward_minor=90)
    world.fund(1_000)
    pid = world.player("p1")
    world.deposit(pid, 10_000)

    for gap in (0, 1, 2):  # days 1, 2, then 4: the streak breaks
        world.clock.advance(days=gap)
        world.draw(pid)
        world.draw(pid)  # a second draw the same day adds no day
        world.settle()
    assert world.rows(pid)[("streak", ONCE)].progress == 2
    assert world.state(pid, "streak") == "open"

    for _ in range(2):  # days 5 and 6: 4-5-6
        world.clock.advance(days=1)
        world.draw(pid)
    world.settle()
    assert world.state(pid, "streak") == "granted"
    paid = world.system.read_models.reward_grants(player_id=pid).rows
    assert [(g.source, g.period, g.amount) for g in paid] == [("streak", ONCE, 90)]


def test_deposit_total_sums_credited_deposits(world: World) -> None:
    world.mission("big-spender", "deposit_total", target=1_500, reward_minor=60)
    world.fund(1_000)
    pid = world.player("p1")

    world.deposit(pid, 1_000)
    world.settle()
    assert world.rows(pid)[("big-spender", ONCE)].progress == 1_000
    world.deposit(pid, 500)
    world.settle()

    assert world.state(pid, "big-spender") == "granted"
    assert world.bonus(pid) == 60


def test_security_totp_pays_when_totp_is_enabled(world: World) -> None:
    world.mission("secure", "security_totp", reward_kind="cash", reward_minor=30)
    world.fund(1_000)
    accounts = world.system.accounts
    view = accounts.register("ann@example.org", PASSWORD, world.cause("system:signup"))
    enrolment = accounts.start_totp(view.account_id, world.cause())
    code = pyotp.TOTP(enrolment.secret).at(world.clock())
    accounts.enable_totp(view.account_id, code, world.cause())

    world.settle()

    assert world.state(view.player_id, "secure") == "granted"
    assert world.available(view.player_id) == 30


def test_a_mission_counts_only_inside_its_window_and_until_retired(world: World) -> None:
    tomorrow = world.clock().replace(hour=0) + timedelta(days=1)
    world.mission("later", "deposit_total", target=100, starts_at=tomorrow.isoformat())
    world.mission("retiring", "deposit_total", target=200)
    world.fund(1_000)
    pid = world.player("p1")

    world.deposit(pid, 150)
    world.system.missions.retire("retiring", world.cause())
    world.deposit(pid, 150)
    world.settle()
    assert world.state(pid, "later") is None
    assert world.rows(pid)[("retiring", ONCE)].progress == 150

    world.clock.advance(days=1)
    world.deposit(pid, 150)
    world.settle()
    assert world.state(pid, "later") == "granted"


# ---- the budget ----------------------------------------------------------------------------


def test_a_grant_the_budget_cannot_cover_is_refused_shown_and_claimable_later(world: World) -> None:
    world.mission("deposit", "deposit_total", target=100, reward_minor=40)
    world.fund(50)
    first, second = world.player("p1"), world.player("p2")

    world.deposit(first, 100)
    world.deposit(second, 100)
    world.settle()

    assert world.state(first, "deposit") == "granted"
    refused = world.rows(second)[("deposit", ONCE)]
    assert (refused.state, refused.refusal) == ("claimable", "budget_exhausted")
    assert world.bonus(second) == 0
    budget = world.system.read_models.reward_budget()
    assert budget is not None
    assert (budget.funded, budget.spent, budget.remaining, budget.refusals) == (50, 40, 10, 1)
    report = world.system.read_models.reward_refusals().rows
    assert [(r.player_id, r.source, r.reason, r.amount) for r in report] == [
        (second, "deposit", "budget_exhausted", 40)
    ]
    assert world.settle() == 0  # refused: no longer due, nothing is retried behind its back

    again = world.system.rewards.claim(second, "deposit", world.cause(f"player:{second}"))
    assert (again.state, again.reason) == ("refused", "budget_exhausted")
    world.fund(100)
    claimed = world.system.rewards.claim(second, "deposit", world.cause(f"player:{second}"))
    world.settle()
    assert claimed.state == "granted"
    assert world.bonus(second) == 40
    assert world.system.rewards.budget().remaining == 70


def test_a_frozen_wallet_gets_no_reward_until_it_claims_unfrozen(world: World) -> None:
    world.mission("deposit", "deposit_total", target=100)
    world.fund(100)
    pid = world.player("p1")
    world.system.wallets.freeze(pid, FreezeScope.GAMEPLAY, "review", world.cause())

    world.deposit(pid, 100)
    world.settle()
    assert world.rows(pid)[("deposit", ONCE)].refusal == "account_frozen"

    world.system.wallets.unfreeze(pid, FreezeScope.GAMEPLAY, "cleared", world.cause())
    world.system.rewards.claim(pid, "deposit", world.cause(f"player:{pid}"))
    assert world.bonus(pid) == 10


def test_the_budget_is_funded_and_taken_back_by_operators_only(world: World) -> None:
    world.fund(500)
    world.system.rewards.defund_budget(200, world.cause())

    assert world.system.rewards.budget().remaining == 300
    project(world.system)
    budget = world.system.read_models.reward_budget()
    assert budget is not None
    assert (budget.funded, budget.remaining) == (300, 300)


# ---- replay --------------------------------------------------------------------------------


def test_replaying_the_projection_from_the_start_grants_nothing_twice(world: World) -> None:
    world.mission("deposit", "deposit_total", target=100, reward_minor=40)
    world.mission("check-in", "daily_check_in", award="claim")
    world.fund(1_000)
    players = [world.player(f"p{i}") for i in range(3)]
    for pid in players:
        world.deposit(pid, 100)
        world.system.rewards.check_in(pid, world.cause(f"player:{pid}"))
    world.settle()
    world.system.rewards.claim(players[0], "check-in", world.cause(f"player:{players[0]}"))
    world.settle()
    events_before = len(stored_events(world.system.ledger))
    balances_before = [world.system.wallets.balances(p) for p in players]
    assert len(grants_of(world.system)) == 4

    granter = world.system.reward_granter()

    def grant_while_replaying(position: int, head: int) -> None:
        granter.issue_due()  # the granter runs beside the rebuild, as in the projector process

    version = rebuild(
        world.system.ledger, world.system.read_store, "rewards", grant_while_replaying
    )
    assert version == 2
    granter.issue_due()
    project(world.system)

    assert len(grants_of(world.system)) == 4
    assert [world.system.wallets.balances(p) for p in players] == balances_before
    new_events = stored_events(world.system.ledger)[events_before:]
    assert {type(e).__qualname__ for e in new_events} <= {"Receipt.Recorded"}
    assert world.state(players[0], "check-in", DAY) == "granted"
    assert world.state(players[1], "check-in", DAY) == "claimable"


def test_a_grant_asked_for_again_replays_its_first_outcome(world: World) -> None:
    world.mission("deposit", "deposit_total", target=100)
    world.fund(1_000)
    pid = world.player("p1")
    world.deposit(pid, 100)
    project(world.system)
    due = world.system.read_models.due_rewards()
    assert len(due) == 1

    first = world.system.rewards.grant(due[0], world.cause("system:rewards"))
    again = world.system.rewards.grant(due[0], world.cause("system:rewards"))

    assert first == again
    assert world.bonus(pid) == 10
    grant: object = world.system.ledger.repository.get(ids.grant_id(pid, "deposit", ONCE))
    assert isinstance(grant, RewardGrant)


# ---- signup and referral -------------------------------------------------------------------


@pytest.fixture
def offers(
    settings: Settings, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    system = build(replace(settings, signup_bonus_minor=15, referral_bonus_minor=35), clock)
    made = World(system, clock)
    made.fund(1_000)
    system.projector()
    yield made
    assert_ledger_invariants(system.ledger)
    system.close()


def register(world: World, email: str, ip: str, agent: str, referrer: str | None = None) -> str:
    accounts = world.system.accounts
    view = accounts.register(email, PASSWORD, world.cause("system:signup"), ip, referrer)
    accounts.login(email, PASSWORD, ip, agent, world.cause("system:api"))
    return view.player_id


def test_the_signup_bonus_is_paid_once_to_every_new_player(offers: World) -> None:
    pid = register(offers, "ann@example.org", "10.0.0.1", FIREFOX)

    offers.settle()
    offers.settle()

    assert offers.state(pid, "signup") == "granted"
    assert offers.bonus(pid) == 15
    assert len(grants_of(offers.system)) == 1


def test_no_signup_bonus_when_it_is_off(world: World) -> None:
    world.fund(1_000)
    pid = register(world, "ann@example.org", "10.0.0.1", FIREFOX)

    world.settle()

    assert world.state(pid, "signup") is None
    assert world.bonus(pid) == 0


def test_a_referral_pays_the_referrer_once_the_referred_player_deposits(offers: World) -> None:
    ann = register(offers, "ann@example.org", "10.0.0.1", FIREFOX)
    bob = register(offers, "bob@example.org", "10.0.0.2", CHROME, referral_code(ann))
    offers.settle()
    assert offers.state(ann, "referral", bob) == "waiting"

    offers.deposit(bob, 500)
    offers.deposit(bob, 500)
    offers.settle()

    assert offers.state(ann, "referral", bob) == "granted"
    assert offers.bonus(ann) == 15 + 35
    assert offers.bonus(bob) == 15


def test_a_referral_by_player_id_counts_too_but_not_oneself(offers: World) -> None:
    ann = register(offers, "ann@example.org", "10.0.0.1", FIREFOX)
    bob = register(offers, "bob@example.org", "10.0.0.2", CHROME, ann)
    offers.deposit(bob, 500)
    offers.settle()

    assert offers.state(ann, "referral", bob) == "granted"


@pytest.mark.parametrize(
    ("ip", "agent"), [("10.0.0.1", CHROME), ("10.0.0.9", FIREFOX)], ids=["same-ip", "same-device"]
)
def test_no_referral_bonus_when_the_players_share_a_device_or_ip(
    offers: World, ip: str, agent: str
) -> None:
    ann = register(offers, "ann@example.org", "10.0.0.1", FIREFOX)
    bob = register(offers, "bob@example.org", "10.0.0.2", CHROME, referral_code(ann))
    offers.system.accounts.login("bob@example.org", PASSWORD, ip, agent, offers.cause("system:api"))

    offers.deposit(bob, 500)
    offers.settle()

    row = offers.rows(ann)[("referral", bob)]
    assert (row.state, row.refusal) == ("refused", "shared_device_or_ip")
    assert offers.bonus(ann) == 15  # the signup bonus only
    with pytest.raises(NothingToClaim):
        offers.system.rewards.claim(ann, "referral", offers.cause(f"player:{ann}"))


def test_an_unknown_referrer_refers_nobody(offers: World) -> None:
    bob = register(offers, "bob@example.org", "10.0.0.2", CHROME, "nobody-at-all")
    offers.deposit(bob, 500)
    offers.settle()

    assert [r.source for r in offers.system.read_models.reward_rows(bob)] == ["signup"]


def test_the_granter_runs_until_stopped_and_grants_what_becomes_due(world: World) -> None:
    world.mission("deposit", "deposit_total", target=100)
    world.fund(1_000)
    pid = world.player("p1")
    stop = threading.Event()
    runner = threading.Thread(target=world.system.reward_granter(poll_s=0.05).run, args=(stop,))
    runner.start()
    try:
        world.deposit(pid, 100)
        project(world.system)
        deadline = time.monotonic() + 10
        while not grants_of(world.system) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert world.bonus(pid) == 10


def test_a_page_of_many_players_draws_writes_what_one_event_a_page_writes(world: World) -> None:
    """A page's draws go in rounds of one draw per player, each round one statement over all of
    them where the store can (Postgres): the same rows as one event per page."""
    world.mission("three-draws", "draws_today", target=3, reward_minor=40)
    world.mission("streak", "draw_streak", target=2, reward_minor=90)
    world.fund(10_000)
    players = [world.player(f"p{i}") for i in range(4)]
    for pid in players:
        world.deposit(pid, 10_000)
    for gap in (0, 1, 2, 1):  # days 1, 2, 4, 5: streaks grow, break and grow again
        world.clock.advance(days=gap)
        for turn in range(3):
            for i, pid in enumerate(players):
                if turn <= i % 3:  # different counts per player and day
                    world.draw(pid)
    tables = [
        ddl.split("EXISTS {", 1)[1].split("}", 1)[0]
        for ddl in RewardsProjection.ddl
        if ddl.startswith("CREATE TABLE")
    ]
    written = []
    for version, batch in ((91, 1), (92, 1_000)):
        view = LedgerView(world.system.read_store, "rewards", version)
        Projector(world.system.ledger, [RewardsProjection(view)], batch_size=batch).catch_up()
        with world.system.read_store.transaction() as tx:
            written.append(
                {t: sorted(tx.fetchall(f"SELECT * FROM {view.table(t)}"), key=repr) for t in tables}
            )
    assert written[0]["progress"], "the missions counted nothing"
    assert written[0] == written[1]
