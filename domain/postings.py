"""Double-entry postings: every event maps to account movements that sum to zero per currency.

The single source for balances in reports and for ``prizeledger verify``. A posting's amount is
the change of that account's balance; money entering the platform drives the external accounts
negative, so Σ over the whole ledger is always zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Move",
    "Posting",
    "account_of",
    "draws_settled_moves",
    "moves_for",
    "moves_money",
    "postings_for",
]

Move = tuple[str, int, str]  # (account, amount_minor, currency): a posting as a plain tuple


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount_minor: int
    currency: str


def account_of(player_id: str, balance: str) -> str:
    return f"player:{player_id}:{balance}"


def _int(event: object, name: str) -> int:
    value = getattr(event, name)
    if type(value) is not int:
        raise TypeError(f"{type(event).__qualname__}.{name} must be int, got {value!r}")
    return value


def _str(event: object, name: str) -> str:
    value = getattr(event, name)
    if not isinstance(value, str):
        raise TypeError(f"{type(event).__qualname__}.{name} must be str, got {value!r}")
    return value


def _move(
    source: str, target: str, amount_field: str = "amount_minor"
) -> Callable[[object], list[Posting]]:
    """From account ``source`` to ``target``; ``player:`` names a balance of the event's player."""

    def resolve(event: object, name: str) -> str:
        if name.startswith("player:"):
            return account_of(_str(event, "player_id"), name.removeprefix("player:"))
        return name

    def postings(event: object) -> list[Posting]:
        amount, currency = _int(event, amount_field), _str(event, "currency")
        return [
            Posting(resolve(event, source), -amount, currency),
            Posting(resolve(event, target), amount, currency),
        ]

    return postings


def _adjusted(event: object) -> list[Posting]:
    delta, currency = _int(event, "delta_minor"), _str(event, "currency")
    target = account_of(_str(event, "player_id"), _str(event, "balance"))
    return [Posting("house:adjustments", -delta, currency), Posting(target, delta, currency)]


def _draws_settled(event: object) -> list[Posting]:
    pid, currency = _str(event, "player_id"), _str(event, "currency")
    pool = _str(event, "pool_key")
    from_bonus, from_available = _int(event, "from_bonus"), _int(event, "from_available")
    cost, cash, bonus = _int(event, "cost_total"), _int(event, "cash_won"), _int(event, "bonus_won")
    moves = _settled_moves(pid, currency, pool, from_bonus, from_available, cost, cash, bonus)
    return [Posting(*move) for move in moves]


def _settled_moves(
    pid: str,
    currency: str,
    pool: str,
    from_bonus: int,
    from_available: int,
    cost: int,
    cash: int,
    bonus: int,
) -> list[Move]:
    """A draw settlement's moves, zero amounts left out: what it paid, then what it won (made
    move by move: ``moves_for`` calls this once per draw request)."""
    available, bonus_account = account_of(pid, "available"), account_of(pid, "bonus")
    moves: list[Move] = []
    if from_bonus:  # paid
        moves.append((bonus_account, -from_bonus, currency))
    if from_available:
        moves.append((available, -from_available, currency))
    if cost:
        moves.append(("house:revenue", cost, currency))
    if cash + bonus:  # won
        moves.append((f"pool:{pool}:prize_fund", -(cash + bonus), currency))
    if cash:
        moves.append((available, cash, currency))
    if bonus:
        moves.append((bonus_account, bonus, currency))
    return moves


def _pool_fund(source: str, target: str) -> Callable[[object], list[Posting]]:
    """Between the marketing budget and a pool's prize fund."""

    def postings(event: object) -> list[Posting]:
        fund = f"pool:{_str(event, 'pool_key')}:prize_fund"
        amount, currency = _int(event, "amount_minor"), _str(event, "currency")
        src, dst = (fund if source == "fund" else source), (fund if target == "fund" else target)
        return [Posting(src, -amount, currency), Posting(dst, amount, currency)] if amount else []

    return postings


_RULES: dict[str, Callable[[object], list[Posting]]] = {
    "Wallet.DepositCredited": _move("external:deposits", "player:available"),
    "Wallet.DepositReversed": _move("player:available", "external:deposits"),
    "Wallet.FundsLocked": _move("player:available", "player:locked"),
    "Wallet.FundsReleased": _move("player:locked", "player:available"),
    "Wallet.WithdrawalPaidOut": _move("player:locked", "external:withdrawals"),
    "Wallet.PayoutReturned": _move("external:withdrawals", "player:available"),
    "Wallet.BonusCredited": _move("house:marketing", "player:bonus"),
    "Wallet.CashRewardCredited": _move("house:marketing", "player:available"),
    "Wallet.Adjusted": _adjusted,
    "Wallet.DrawsSettled": _draws_settled,
    "PrizePool.Funded": _pool_fund("house:marketing", "fund"),
    "PrizePool.Defunded": _pool_fund("fund", "house:marketing"),
    "PrizePool.Closed": _pool_fund("fund", "house:marketing"),
}


def moves_money(event_class: type) -> bool:
    """Can events of this class have postings? (Else ``postings_for`` gives none, always.)"""
    return event_class.__qualname__ in _RULES


def postings_for(event: object) -> list[Posting]:
    """The postings an event causes (empty for events that move no money)."""
    rule = _RULES.get(type(event).__qualname__)
    return rule(event) if rule else []


def moves_for(event: object) -> list[Move]:
    """``postings_for(event)`` as plain ``Move`` tuples, for the folds that go through every
    event (the ledger projections, ``prizeledger verify``). A Wallet.DrawsSettled, the most
    common money event (one per draw request), is made directly unless it is unusual
    (``draws_settled_moves``): its rule above makes a Posting per move and checks each attribute
    through a call, at about three times the cost."""
    if type(event).__qualname__ == "Wallet.DrawsSettled":
        found = draws_settled_moves(event)
        if found is not None:
            return found
    return [(p.account, p.amount_minor, p.currency) for p in postings_for(event)]


def draws_settled_moves(event: Any) -> list[Move] | None:
    """The moves of ``_draws_settled`` (``_settled_moves``), without its Postings and its checks
    through calls; None when an attribute is missing or not exactly an int (the amounts) or a
    str (the names): the rule itself then makes them or names the problem."""
    try:
        player, currency, pool = event.player_id, event.currency, event.pool_key
        paid_bonus, paid_available = event.from_bonus, event.from_available
        cost, cash, bonus = event.cost_total, event.cash_won, event.bonus_won
    except AttributeError:
        return None
    if not (type(player) is str and type(currency) is str and type(pool) is str):
        return None
    if not (type(paid_bonus) is int and type(paid_available) is int and type(cost) is int):
        return None
    if not (type(cash) is int and type(bonus) is int):
        return None
    return _settled_moves(player, currency, pool, paid_bonus, paid_available, cost, cash, bonus)
