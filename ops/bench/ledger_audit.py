"""Correctness after a benchmark, read from the raw event store (not from any read model).

- the trial balance: every event's postings sum to zero per currency, and so does the ledger;
- no player balance (available, bonus, locked) and no prize fund is ever negative, after any
  event, not only at the end;
- every draw a client was answered 2xx for exists exactly once: one ``Draw.Executed``, one
  ``Wallet.DrawsSettled`` and one entry in a ``PrizePool.DrawsSettled`` batch, and
  ``Draws.get`` loads it as settled for the player it answered;
- settled draws nobody was answered for (a response lost on the way) are counted, not failed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from application.errors import NotFound
from domain.postings import postings_for
from infrastructure.bootstrap import System

__all__ = ["audit"]

PAGE = 1_000
NEVER_NEGATIVE = (":available", ":bonus", ":locked", ":prize_fund")


def _events(system: System) -> Iterator[Any]:
    recorder, mapper = system.ledger.recorder, system.ledger.mapper
    start = 1
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE)
        yield from (mapper.to_domain_event(n) for n in page)
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


class _Fold:
    def __init__(self) -> None:
        self.events = 0
        self.unbalanced = 0
        self.totals: dict[str, int] = defaultdict(int)
        self.balances: dict[str, int] = defaultdict(int)
        self.negative: dict[str, int] = {}
        self.executed: Counter[str] = Counter()
        self.charged: Counter[str] = Counter()
        self.batched: Counter[str] = Counter()

    def add(self, event: Any) -> None:
        self.events += 1
        per_currency: dict[str, int] = defaultdict(int)
        touched = []
        for p in postings_for(event):
            per_currency[p.currency] += p.amount_minor
            self.totals[p.currency] += p.amount_minor
            self.balances[p.account] += p.amount_minor
            touched.append(p.account)
        self.unbalanced += any(per_currency.values())
        for account in touched:
            if account.endswith(NEVER_NEGATIVE) and self.balances[account] < 0:
                self.negative[account] = min(self.negative.get(account, 0), self.balances[account])
        kind = type(event).__qualname__
        if kind == "Draw.Executed":
            self.executed[str(event.originator_id)] += 1
        elif kind == "Wallet.DrawsSettled":
            self.charged[event.draw_id] += 1
        elif kind == "PrizePool.DrawsSettled":
            self.batched.update(event.draw_ids)


def _loads_settled(system: System, answered: dict[str, str]) -> int:
    """How many answered draws ``Draws.get`` does not load as settled for their player."""

    def wrong(item: tuple[str, str]) -> bool:
        try:
            outcome = system.draws.get(UUID(item[0]))
        except (NotFound, ValueError):  # no such draw, or not even a draw id
            return True
        return outcome.status != "settled" or outcome.player_id != item[1]

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(wrong, answered.items(), chunksize=256))


def audit(system: System, answered: list[tuple[str, str]]) -> dict[str, Any]:
    """``answered``: (draw id, player id) for every 2xx draw response the clients received."""
    fold = _Fold()
    for event in _events(system):
        fold.add(event)
    ids = [draw_id for draw_id, _ in answered]
    not_once = [i for i in ids if (fold.executed[i], fold.charged[i], fold.batched[i]) != (1, 1, 1)]
    unique = dict(answered)
    checks = {
        "trial_balance_zero": fold.unbalanced == 0 and not any(fold.totals.values()),
        "no_negative_balance": not fold.negative,
        "answered_draw_ids_unique": len(unique) == len(ids),
        "every_2xx_draw_stored_once": not not_once,
        "every_2xx_draw_loads_settled": _loads_settled(system, unique) == 0,
    }
    return {
        "checks": checks,
        "ok": all(checks.values()),
        "events": fold.events,
        "unbalanced_events": fold.unbalanced,
        "ledger_totals": dict(fold.totals),
        "negative_balances": fold.negative,
        "answered_draws": len(ids),
        "answered_not_stored_once": not_once[:10],
        "settled_not_answered": len(set(fold.charged) - set(unique)),
    }
