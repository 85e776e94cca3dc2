"""Property: for random histories driven through the real use cases (SQLite in memory), every
read model, after catch-up, equals what a fresh fold of the raw events says — and a rebuild of
each projection from position 0 writes exactly the same table contents as incremental catch-up.

The expectations are computed here, independently of the projections: from the folded
aggregates (``tests.ledger_checks.fold``), from the postings, or by brute force over the events.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, timedelta
from typing import Any
from unittest import mock
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from domain.cause import Cause
from domain.deposit import Deposit
from domain.draw import Draw
from domain.errors import DomainError
from domain.pool import PrizePool
from domain.postings import postings_for
from domain.prizes import PoolControls, Prize
from domain.wallet import Balance, FreezeScope, LimitPeriod, Wallet
from domain.withdrawal import Withdrawal
from infrastructure.bootstrap import System, bootstrap
from infrastructure.rebuild import rebuild
from infrastructure.settings import Settings
from projections.base import LedgerView, iso
from projections.catalog import ALL, active_version
from projections.queries import (
    AuditRow,
    DepositRow,
    DrawRow,
    FinanceRow,
    PoolStats,
    PrizeStats,
    RapidWithdrawal,
    VelocityRow,
    WithdrawalRow,
)
from tests.conftest import SteppingClock
from tests.ledger_checks import account_balances, fold

PLAYERS = ["p1", "p2", "p3"]
OPERATORS = ["operator:alice", "operator:bob"]
POOL_OPS = ["fund", "defund", "pause", "resume", "restock", "retire", "readd", "change"]
POOL_OPS += ["rtp", "cost", "rotate", "close"]
REVIEWS = ["approve", "reject", "cancel", "submit", "processing", "pay", "fail", "reverse"]
SMALL = Prize("small", "Small", "bonus", 50, 10)

deposit = st.tuples(
    st.just("deposit"),
    st.sampled_from(PLAYERS),
    st.integers(100, 200_000),
    st.sampled_from(["confirm", "confirm", "fail", "pending", "none", "pending-confirm"]),
)
draw = st.tuples(
    st.just("draw"), st.sampled_from(PLAYERS), st.sampled_from(["a", "b"]), st.integers(1, 4)
)
withdraw = st.tuples(
    st.just("withdraw"),
    st.sampled_from(PLAYERS),
    st.integers(100, 150_000),
    st.lists(st.tuples(st.sampled_from(REVIEWS), st.sampled_from(OPERATORS)), max_size=5),
)
steps = st.one_of(
    # Money in, draws and withdrawals are what most histories are made of.
    *[deposit, draw, withdraw] * 2,
    st.tuples(st.just("reverse"), st.integers(0, 30)),
    st.tuples(st.just("bonus"), st.sampled_from(PLAYERS), st.integers(1, 500)),
    st.tuples(
        st.just("adjust"),
        st.sampled_from(PLAYERS),
        st.sampled_from(list(Balance)),
        st.integers(-300, 300),
    ),
    st.tuples(
        st.just("freeze"),
        st.sampled_from(PLAYERS),
        st.sampled_from(list(FreezeScope)),
        st.booleans(),
    ),
    st.tuples(
        st.just("review"),
        st.integers(0, 30),
        st.sampled_from(REVIEWS),
        st.sampled_from(OPERATORS),
    ),
    st.tuples(st.just("pool"), st.sampled_from(["a", "b"]), st.sampled_from(POOL_OPS)),
    st.tuples(st.just("wait"), st.integers(1, 30 * 60)),  # minutes
    st.tuples(st.just("seed"), st.sampled_from(PLAYERS), st.integers(1, 99)),
    st.tuples(st.just("limit"), st.sampled_from(PLAYERS), st.integers(100, 100_000)),
    st.tuples(st.just("project"), st.integers(1, 50)),
)


@contextmanager
def running(clock: SteppingClock, salt: int = 0) -> Iterator[System]:
    """A system whose server seeds (and so draw outcomes) depend on ``salt``."""
    seeds = iter(range(1, 10_000))
    with mock.patch("eventsourcing.domain.datetime_now_with_tzinfo", clock):
        system = bootstrap(
            Settings(database_url="sqlite::memory:"),
            clock=clock,
            seeds=lambda: f"seed-{salt}-{next(seeds):040d}",
        )
        try:
            yield system
        finally:
            system.close()


class History:
    """Plays the steps; refusals are part of the history (some are recorded)."""

    def __init__(self, system: System, clock: SteppingClock) -> None:
        self.system, self.clock = system, clock
        self.counter = 0
        self.deposits: list[UUID] = []
        self.withdrawals: list[tuple[UUID, str]] = []

    def cause(self, actor: str) -> Cause:
        self.counter += 1
        # Operators say why (the audit shows it on every event of the request); players don't.
        why = f"why {self.counter}" if actor.startswith("operator:") else ""
        return Cause(actor, f"r{self.counter}", why)

    def setup(self) -> None:
        op, pools = "operator:alice", self.system.pools
        pools.create("a", "Pool A", 100, PoolControls(rtp_target_bps=9_000), self.cause(op))
        big = Prize("big", "Big", "cash", 500, 3, stock=2, budget=1_000, budget_window_s=3_600)
        pools.add_prize("a", big, self.cause(op))
        pools.add_prize("a", SMALL, self.cause(op))
        pools.fund("a", 5_000, self.cause(op))
        pools.create("b", "Pool B", 50, PoolControls(rtp_target_bps=5_000), self.cause(op))
        coin = Prize("coin", "Coin", "cash", 40, 3, budget=200, budget_window_s=600)
        pools.add_prize("b", coin, self.cause(op))
        pools.fund("b", 2_000, self.cause(op))
        for pid in PLAYERS:
            self.system.wallets.open(pid, self.cause(f"player:{pid}"))
            self._deposit(pid, 20_000, "confirm")

    def play(self, step: tuple[Any, ...]) -> None:
        with suppress(DomainError):
            getattr(self, f"_{step[0]}")(*step[1:])

    def _deposit(self, pid: str, amount: int, then: str) -> None:
        d, psp = self.system.deposits, "system:psp"
        deposit = UUID(
            d.request(pid, amount, "EUR", "sandbox", self.cause(f"player:{pid}")).deposit_id
        )
        self.deposits.append(deposit)
        if then.startswith("pending"):
            d.mark_provider_pending(deposit, f"ref-{deposit}", self.cause(psp))
        if then.endswith("confirm"):
            d.confirm(deposit, f"ref-{deposit}", self.cause(psp))
        if then == "fail":
            d.fail(deposit, "declined", self.cause(psp))

    def _reverse(self, index: int) -> None:
        if self.deposits:
            deposit = self.deposits[index % len(self.deposits)]
            self.system.deposits.reverse(deposit, "charge-back", self.cause("system:psp"))

    def _draw(self, pid: str, pool: str, count: int) -> None:
        self.system.draws.draw(pid, pool, count, self.cause(f"player:{pid}"))

    def _bonus(self, pid: str, amount: int) -> None:
        self.system.wallets.credit_bonus(pid, amount, "promo", self.cause("operator:alice"))

    def _adjust(self, pid: str, balance: Balance, delta: int) -> None:
        self.system.wallets.adjust(pid, balance, delta, "fix", self.cause("operator:bob"))

    def _freeze(self, pid: str, scope: FreezeScope, on: bool) -> None:
        w = self.system.wallets
        (w.freeze if on else w.unfreeze)(pid, scope, "risk", self.cause("operator:alice"))

    def _withdraw(self, pid: str, amount: int, reviews: list[tuple[str, str]]) -> None:
        cause = self.cause(f"player:{pid}")
        status = self.system.withdrawals.request(pid, amount, "EUR", "iban:X", cause)
        self.withdrawals.append((UUID(status.withdrawal_id), pid))
        for action, operator in reviews:
            self.play(("review", len(self.withdrawals) - 1, action, operator))

    def _project(self, batch: int) -> None:
        """Catch up part-way: the rest of the history lands on rows already written."""
        self.system.projector(batch_size=batch).catch_up()

    def _review(self, index: int, action: str, operator: str) -> None:
        if not self.withdrawals:
            return
        wid, pid = self.withdrawals[index % len(self.withdrawals)]
        w, cause = self.system.withdrawals, self.cause(operator)
        calls = {
            "approve": lambda: w.approve(wid, cause),
            "reject": lambda: w.reject(wid, "no", cause),
            "cancel": lambda: w.cancel(wid, self.cause(f"player:{pid}")),
            "submit": lambda: w.submit(wid, "bank", cause),
            "processing": lambda: w.mark_processing(wid, cause),
            "pay": lambda: w.mark_paid(wid, cause),
            "fail": lambda: w.fail(wid, "bounced", cause),
            "reverse": lambda: w.reverse(wid, "returned", cause),
        }
        calls[action]()

    def _pool(self, key: str, action: str) -> None:
        pools, c = self.system.pools, self.cause("operator:alice")
        prize = "big" if key == "a" else "coin"
        calls = {
            "fund": lambda: pools.fund(key, 1_000, c),
            "defund": lambda: pools.defund(key, 300, c),
            "pause": lambda: pools.pause(key, "hold", c),
            "resume": lambda: pools.resume(key, "go", c),
            "restock": lambda: pools.restock(key, prize, 1, c),
            "retire": lambda: pools.retire_prize(key, "small" if key == "a" else prize, c),
            "readd": lambda: pools.add_prize(key, SMALL, c),
            # Budgets keep their window (see the report on re-bucketing); amounts may change.
            "change": lambda: pools.change_prize(
                key,
                Prize("small", "Small+", "bonus", 60, 8)
                if key == "a"
                else Prize("coin", "Coin", "cash", 40, 3, budget=300, budget_window_s=600),
                c,
            ),
            "rtp": lambda: pools.set_controls(key, PoolControls(rtp_target_bps=8_000), c),
            "cost": lambda: pools.set_draw_cost(key, 80, c),
            "rotate": lambda: pools.rotate_epoch(key, c),
            "close": lambda: pools.close(key, "done", c),
        }
        calls[action]()

    def _wait(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    def _seed(self, pid: str, n: int) -> None:
        self.system.wallets.set_client_seed(pid, f"seed{n}", self.cause(f"player:{pid}"))

    def _limit(self, pid: str, limit: int) -> None:
        cause = self.cause(f"player:{pid}")
        self.system.wallets.set_deposit_limit(pid, LimitPeriod.DAY, limit, cause)


# ---- expectations, from the raw events ---------------------------------------------------------


def numbered(system: System) -> list[tuple[int, Any]]:
    page = system.ledger.recorder.select_notifications(start=1, limit=100_000)
    return [(n.id, system.ledger.mapper.to_domain_event(n)) for n in page]


def _jsonish(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def expected_draws(folded: dict[UUID, Any], first: dict[UUID, int]) -> dict[str, list[DrawRow]]:
    rows: dict[str, list[DrawRow]] = defaultdict(list)
    for d in (a for a in folded.values() if isinstance(a, Draw)):
        won = sum(r["reward"] for r in d.results)
        rows[d.player_id].append(
            DrawRow(
                str(d.id), first[d.id], d.player_id, d.pool_key, d.status, d.reason,
                d.requested, len(d.results), d.cost_total, won, iso(d.at), _jsonish(d.results),
            )
        )  # fmt: skip
    return {pid: sorted(r, key=lambda x: -x.position) for pid, r in rows.items()}


def expected_pools(
    events: list[tuple[int, Any]], folded: dict[UUID, Any], now: Any
) -> list[PoolStats]:
    draws = [a for a in folded.values() if isinstance(a, Draw)]
    result = []
    for pool in sorted(
        (a for a in folded.values() if isinstance(a, PrizePool)), key=lambda p: p.pool_key
    ):
        mine = [d for d in draws if d.pool_key == pool.pool_key]
        results = [r for d in mine for r in d.results]
        won = [r for r in results if r["outcome"] == "won"]
        funded = defunded = 0
        records: dict[str, dict[str, Any]] = {}
        for _, e in events:
            name = type(e).__qualname__
            if e.originator_id == pool.id:
                funded += e.amount_minor if name == "PrizePool.Funded" else 0
                if name in {"PrizePool.Defunded", "PrizePool.Closed"}:
                    defunded += e.amount_minor
                if name in {"PrizePool.PrizeAdded", "PrizePool.PrizeChanged"}:
                    records[e.prize["prize_id"]] = e.prize
        working = pool.working()
        prizes = []
        for prize_id, last in sorted(records.items()):
            active = prize_id in pool.prizes
            prize = Prize.from_record(pool.prizes.get(prize_id, last))
            mine_won = [r for r in won if r["prize_id"] == prize_id]
            used = working.budget_used(prize, now) if active and prize.budget else None
            prizes.append(
                PrizeStats(
                    prize_id, prize.name, prize.kind, prize.reward, prize.weight,
                    pool.stock.get(prize_id), prize.budget, prize.budget_window_s, active,
                    len(mine_won), sum(r["reward"] for r in mine_won), used,
                )
            )  # fmt: skip
        result.append(
            PoolStats(
                pool.pool_key, pool.name, pool.currency, pool.status, pool.draw_cost,
                pool.controls_record["rtp_target_bps"], pool.epoch, pool.fund, funded, defunded,
                len(mine), sum(d.status == "refused" for d in mine), len(results), len(won),
                sum(d.cost_total for d in mine), sum(r["reward"] for r in won),
                iso(pool.modified_on), prizes,
            )
        )  # fmt: skip
    return result


def expected_payments(
    folded: dict[UUID, Any], first: dict[UUID, int]
) -> tuple[list[DepositRow], list[WithdrawalRow]]:
    deposits = [
        DepositRow(
            str(d.id), first[d.id], d.player_id, d.amount_minor, d.currency, d.provider, d.state,
            d.provider_ref, d.failure_reason, iso(d.created_on), iso(d.modified_on),
        )
        for d in folded.values()
        if isinstance(d, Deposit)
    ]  # fmt: skip
    withdrawals = [
        WithdrawalRow(
            str(w.id), first[w.id], w.player_id, w.amount_minor, w.currency, w.destination,
            w.state, w.approvals_required, len(w.approvers), w.approvers, w.provider_ref,
            w.reason, iso(w.created_on), iso(w.modified_on),
        )
        for w in folded.values()
        if isinstance(w, Withdrawal)
    ]  # fmt: skip
    return sorted(deposits, key=lambda r: r.position), sorted(withdrawals, key=lambda r: r.position)


SECURITY = {
    "Wallet.Frozen",
    "Wallet.Unfrozen",
    "Wallet.Adjusted",
    "Wallet.ClientSeedChanged",
    "Wallet.DepositLimitChanged",
    "Deposit.Reversed",
}
ENVELOPE = {"originator_id", "originator_topic", "originator_version", "timestamp", "actor"}
ENVELOPE |= {"request_id", "server_seed", "outcome", "fingerprint"}


def expected_audit(events: list[tuple[int, Any]], folded: dict[UUID, Any]) -> list[AuditRow]:
    rows = []
    reasons: dict[tuple[str, str], str] = {}  # (actor, request id) -> the receipt's reason
    for position, e in events:
        name, actor = type(e).__qualname__, e.actor
        operator = actor.startswith("operator:")
        if name == "Receipt.Recorded":
            keep = operator or (actor.startswith("system:") and bool(e.reason))
            if e.reason:
                reasons[actor, e.request_id] = e.reason
        else:
            keep = operator or name in SECURITY or name.startswith("Withdrawal.")
            keep |= name.startswith("PrizePool.") and name != "PrizePool.DrawsSettled"
        if not keep:
            continue
        target = folded[e.originator_id]
        subject = None
        if isinstance(target, Wallet | Deposit | Withdrawal):
            subject = target.player_id
        elif isinstance(target, PrizePool):
            subject = target.pool_key
        details = {k: v for k, v in vars(e).items() if k not in ENVELOPE}
        rows.append(
            AuditRow(
                position, iso(e.timestamp), actor, name, str(e.originator_id), subject,
                getattr(e, "reason", None) or reasons.get((actor, e.request_id)), e.request_id,
                None, _jsonish(details),
            )
        )  # fmt: skip
    return rows[::-1]


def expected_finance(events: list[tuple[int, Any]]) -> list[FinanceRow]:
    """From the postings: what left or entered each account, per day and pool."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    for _, e in events:
        name = type(e).__qualname__
        moved: dict[str, int] = defaultdict(int)
        for p in postings_for(e):
            moved[p.account] += p.amount_minor
        pool = e.pool_key if name == "Wallet.DrawsSettled" else ""
        line = {
            "Wallet.DepositCredited": [-moved["external:deposits"], 0, 0, 0, 0, 0],
            "Wallet.DepositReversed": [-moved["external:deposits"], 0, 0, 0, 0, 0],
            "Wallet.WithdrawalPaidOut": [0, moved["external:withdrawals"], 0, 0, 0, 0],
            "Wallet.PayoutReturned": [0, moved["external:withdrawals"], 0, 0, 0, 0],
            "Wallet.BonusCredited": [0, 0, 0, 0, -moved["house:marketing"], 0],
            "Wallet.Adjusted": [0, 0, 0, 0, 0, -moved["house:adjustments"]],
            "Wallet.DrawsSettled": [
                0, 0, moved["house:revenue"], -moved[f"pool:{pool}:prize_fund"], 0, 0
            ],
        }.get(name)  # fmt: skip
        if line is None:
            continue
        key = (e.timestamp.astimezone(UTC).date().isoformat(), e.currency, pool)
        sums[key] = [a + b for a, b in zip(sums.get(key, [0] * 6), line, strict=True)]
    return [
        FinanceRow(day, cur, pool, v[0], v[1], v[2], v[3], v[4], v[5], v[2] - v[3] - v[4])
        for (day, cur, pool), v in sorted(sums.items())
    ]


def expected_risk(
    events: list[tuple[int, Any]],
) -> tuple[list[VelocityRow], list[RapidWithdrawal]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 5)
    credits: list[tuple[int, Any]] = []
    rapid = []
    for position, e in events:
        name = type(e).__qualname__
        if name in {"Draw.Executed", "Deposit.Requested", "Wallet.DepositCredited"}:
            row = counts[(e.player_id, e.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H"))]
            if name == "Draw.Executed":
                row[0] += 1
                row[1] += len(e.results)
            elif name == "Deposit.Requested":
                row[2] += 1
            else:
                row[3] += 1
                row[4] += e.amount_minor
                credits.append((position, e))
        if name == "Wallet.FundsLocked":
            recent = [
                c
                for _, c in credits
                if c.player_id == e.player_id and c.timestamp >= e.timestamp - timedelta(hours=1)
            ]
            if recent:
                c = recent[-1]
                rapid.append(
                    RapidWithdrawal(
                        e.player_id, e.withdrawal_id, e.amount_minor, iso(e.timestamp),
                        c.deposit_id, c.amount_minor, iso(c.timestamp),
                        (e.timestamp - c.timestamp).total_seconds(),
                    )
                )  # fmt: skip
    velocity = [VelocityRow(p, h, *v) for (p, h), v in counts.items()]
    velocity.sort(key=lambda r: r.player_id)
    velocity.sort(key=lambda r: r.hour, reverse=True)
    return velocity, rapid[::-1]


# ---- the property ------------------------------------------------------------------------------


def _all_pages(fetch: Any) -> list[Any]:
    rows, cursor = [], None
    while True:
        page = fetch(cursor)
        rows += page.rows
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def assert_views_match(system: System, clock: SteppingClock) -> None:
    events = numbered(system)
    folded = fold([e for _, e in events])
    first = {e.originator_id: p for p, e in events if e.originator_version == 1}
    rm = system.read_models

    draws = expected_draws(folded, first)
    for pid in PLAYERS:
        got = _all_pages(lambda c, pid=pid: rm.draws(pid, cursor=c, limit=3))
        assert got == draws.get(pid, [])
    assert rm.pools(at=clock.now) == expected_pools(events, folded, clock.now)

    deposits, withdrawals = expected_payments(folded, first)
    assert _all_pages(lambda c: rm.deposits(cursor=c, limit=4)) == deposits
    assert _all_pages(lambda c: rm.withdrawals(cursor=c, limit=4)) == withdrawals
    for state in ("requested", "approved", "paid"):
        queue = [w for w in withdrawals if w.state == state]
        assert rm.withdrawals(state=state, limit=500).rows == queue

    audit = expected_audit(events, folded)
    assert _all_pages(lambda c: rm.audit(cursor=c, limit=9)) == audit
    assert rm.audit(actor="operator:bob", limit=500).rows == [
        r for r in audit if r.actor == "operator:bob"
    ]

    finance = expected_finance(events)
    days = [r.day for r in finance if r.day]
    report = rm.finance(min(days, default="2000-01-01"), max(days, default="2000-01-01"))
    assert report.rows == finance

    velocity, rapid = expected_risk(events)
    assert rm.velocity(limit=500) == velocity
    assert rm.rapid_withdrawals() == rapid

    accounts = account_balances([e for _, e in events])
    trial = rm.trial_balance()
    assert sorted(trial.accounts) == sorted((a, c, b) for (a, c), b in accounts.items())
    assert trial.balanced


def _table_contents(system: System, view: LedgerView, ddl: list[str]) -> dict[str, list[Any]]:
    """Every table of one version, ``SELECT *`` in primary-key order."""
    contents = {}
    with system.read_store.transaction() as tx:
        for statement in (s for s in ddl if s.startswith("CREATE TABLE")):
            short = statement.split("{", 1)[1].split("}", 1)[0]
            composite = re.search(r"PRIMARY KEY \(([^)]*)\)", statement)
            single = re.search(r"\((\w+) \w+ PRIMARY KEY", statement)
            key = composite.group(1) if composite else single.group(1) if single else None
            assert key, statement
            contents[short] = tx.fetchall(f"SELECT * FROM {view.table(short)} ORDER BY {key}")
    return contents


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=st.lists(steps, min_size=20, max_size=70), salt=st.integers(0, 2**32))
def test_views_equal_a_fold_of_the_events_and_a_rebuild(
    history: list[tuple[Any, ...]], salt: int
) -> None:
    clock = SteppingClock()
    with running(clock, salt) as system:
        player = History(system, clock)
        player.setup()
        for step in history:
            player.play(step)
        system.projector(batch_size=7).catch_up()  # several pages: batches split anywhere
        assert_views_match(system, clock)

        store = system.read_store
        for cls in ALL:
            old = LedgerView(store, cls.name, active_version(store, cls))
            before = _table_contents(system, old, cls.ddl)
            new = rebuild(system.ledger, store, cls.name, batch_size=11)
            assert new == old.version + 1
            assert _table_contents(system, LedgerView(store, cls.name, new), cls.ddl) == before
        assert_views_match(system, clock)  # the queries now read the rebuilt versions
