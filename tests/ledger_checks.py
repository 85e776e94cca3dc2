"""Ledger invariants checked straight from the raw event store (shared by several test suites)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from application.ledger import Ledger
from domain.draw import Draw
from domain.pool import PrizePool
from domain.postings import postings_for
from domain.wallet import Wallet
from domain.withdrawal import Withdrawal

PAGE = 500


def stored_events(ledger: Ledger) -> list[Any]:
    events: list[Any] = []
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE)
        events.extend(ledger.mapper.to_domain_event(n) for n in page)
        if len(page) < PAGE:
            return events
        start = page[-1].id + 1


def fold(events: list[Any]) -> dict[UUID, Any]:
    """Every aggregate rebuilt from its events alone (no cache, no snapshot)."""
    aggregates: dict[UUID, Any] = {}
    for event in events:
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
    return aggregates


def account_balances(events: list[Any]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for event in events:
        postings = postings_for(event)
        per_currency: dict[str, int] = defaultdict(int)
        for p in postings:
            totals[(p.account, p.currency)] += p.amount_minor
            per_currency[p.currency] += p.amount_minor
        assert all(v == 0 for v in per_currency.values()), f"unbalanced event {event!r}"
    return totals


def state_of(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def assert_ledger_invariants(ledger: Ledger) -> dict[UUID, Any]:
    """Σ postings = 0; balances = postings; none negative; locked = Σ open withdrawals;
    the repository's aggregates equal a fresh fold of the stored events."""
    events = stored_events(ledger)
    balances = account_balances(events)
    by_currency: dict[str, int] = defaultdict(int)
    for (_, currency), amount in balances.items():
        by_currency[currency] += amount
    assert all(v == 0 for v in by_currency.values()), by_currency
    folded = fold(events)
    open_locks: dict[str, int] = defaultdict(int)
    for aggregate in folded.values():
        if isinstance(aggregate, Withdrawal) and aggregate.holds_funds:
            open_locks[aggregate.player_id] += aggregate.amount_minor
    for aggregate_id, aggregate in folded.items():
        assert state_of(ledger.repository.get(aggregate_id)) == state_of(aggregate)
        if isinstance(aggregate, PrizePool):
            _assert_pool(aggregate, events, balances)
        if isinstance(aggregate, Wallet):
            pid, cur = aggregate.player_id, aggregate.currency
            assert aggregate.available >= 0
            assert aggregate.bonus >= 0
            assert aggregate.available == balances.get((f"player:{pid}:available", cur), 0)
            assert aggregate.locked == balances.get((f"player:{pid}:locked", cur), 0)
            assert aggregate.bonus == balances.get((f"player:{pid}:bonus", cur), 0)
            assert aggregate.locked == open_locks[pid] == sum(aggregate.locks.values())
    _assert_draws(events, folded)
    return folded


def _assert_pool(pool: PrizePool, events: list[Any], balances: dict[tuple[str, str], int]) -> None:
    """The fund mirrors its ledger account; stock never negative; wins <= stock supplied."""
    assert pool.fund == balances.get((f"pool:{pool.pool_key}:prize_fund", pool.currency), 0)
    assert pool.fund >= 0
    supplied: dict[str, int] = defaultdict(int)
    won: dict[str, int] = defaultdict(int)
    for event in events:
        if event.originator_id != pool.id:
            continue
        name = type(event).__name__
        if name in {"PrizeAdded"} and event.prize["stock"] is not None:
            supplied[event.prize["prize_id"]] += event.prize["stock"]
        elif name == "Restocked":
            supplied[event.prize_id] += event.added
        elif name == "DrawsSettled":
            for prize_id in event.wins:
                won[prize_id] += 1
    for prize_id, stock in pool.stock.items():
        assert stock is None or stock >= 0, (prize_id, stock)
        if stock is not None:
            assert won[prize_id] <= supplied[prize_id]
            assert stock == supplied[prize_id] - won[prize_id]


def _assert_draws(events: list[Any], folded: dict[UUID, Any]) -> None:
    """Every charged draw has exactly one Draw with exactly one outcome per charged draw."""
    charged = [e for e in events if type(e).__qualname__ == "Wallet.DrawsSettled"]
    draws = {str(k): v for k, v in folded.items() if isinstance(v, Draw)}
    assert len({e.draw_id for e in charged}) == len(charged)
    for event in charged:
        draw = draws[event.draw_id]
        assert draw.status == "settled"
        assert draw.cost_total == event.cost_total
        assert sum(r["cost"] for r in draw.results) == event.cost_total
        assert all(r["outcome"] in {"won", "miss"} for r in draw.results)
        assert sum(r["reward"] for r in draw.results) == event.cash_won + event.bonus_won
    assert sum(1 for d in draws.values() if d.status == "settled") == len(charged)
