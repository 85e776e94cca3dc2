"""Money read models built from the postings: balances, wallet history, trial balance."""

from __future__ import annotations

from typing import Any, ClassVar

from domain.postings import Move, moves_for
from projections.base import Handler, LedgerProjection, Merge, Writes, iso

__all__ = ["BalancesProjection", "HistoryProjection", "TrialBalanceProjection"]

_BALANCES = ("available", "locked", "bonus")
WALLET_EVENTS = [
    "DepositStarted",
    "DepositAbandoned",
    "DepositCredited",
    "DepositReversed",
    "FundsLocked",
    "FundsReleased",
    "WithdrawalPaidOut",
    "PayoutReturned",
    "BonusCredited",
    "CashRewardCredited",
    "Adjusted",
    "Frozen",
    "Unfrozen",
    "DepositLimitChanged",
    "ClientSeedChanged",
    "DrawsSettled",
    "DrawRefused",
]


# The projector hands the same decoded event to each of these projections in turn: work out
# its moves and its time once. Keyed by id(); the entry keeps the event alive, so an id is
# not reused while its entry exists, and a hit is checked to be that very event.
_FACTS: dict[int, tuple[object, list[Move], str]] = {}
_FACTS_KEPT = 4_096
# account -> (player, balance) for a player's account, None for any other: a few accounts per
# player, looked up several times per event.
_ACCOUNTS: dict[str, tuple[str, str] | None] = {}
_ACCOUNTS_KEPT = 100_000


def _facts(event: Any) -> tuple[list[Move], str]:
    """``moves_for(event)`` and ``iso(event.timestamp)``, once per event object."""
    hit = _FACTS.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1], hit[2]
    if len(_FACTS) >= _FACTS_KEPT:
        _FACTS.clear()
    moves, at = moves_for(event), iso(event.timestamp)
    _FACTS[id(event)] = (event, moves, at)
    return moves, at


def shared_moves(event: object) -> list[Move]:
    """``moves_for(event)``, computed once per event object (do not mutate the list)."""
    return _facts(event)[0]


def player_account(account: str) -> tuple[str, str] | None:
    """(player, balance) of a player's account (``player:{id}:{balance}``), else None."""
    try:
        return _ACCOUNTS[account]
    except KeyError:
        pass
    if len(_ACCOUNTS) >= _ACCOUNTS_KEPT:
        _ACCOUNTS.clear()
    split = None
    if account.startswith("player:"):
        owner, _, balance = account.removeprefix("player:").rpartition(":")
        split = (owner, balance)
    _ACCOUNTS[account] = split
    return split


def player_deltas(event: Any) -> dict[str, int]:
    """balance -> change, for the player named in the event's postings."""
    deltas = dict.fromkeys(_BALANCES, 0)
    for account, amount, _ in shared_moves(event):
        split = player_account(account)
        if split is not None and split[1] in deltas:
            deltas[split[1]] += amount
    return deltas


class BalancesProjection(LedgerProjection):
    """Per wallet (one per player): available, locked, bonus, version, last change."""

    name = "balances"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {balances} (wallet_id TEXT PRIMARY KEY,"
        " player_id TEXT NOT NULL UNIQUE, currency TEXT NOT NULL, available BIGINT NOT NULL,"
        " locked BIGINT NOT NULL, bonus BIGINT NOT NULL, version BIGINT NOT NULL,"
        " updated_at TEXT NOT NULL)"
    ]

    def handlers(self) -> dict[str, Handler]:
        table = self.t("balances")
        opened = ("wallet_id", "player_id", "currency", *_BALANCES, "version", "updated_at")
        changed = Merge(table, ("wallet_id",), _BALANCES, ("version", "updated_at"))

        def on_opened(w: Writes, e: Any, _: int) -> None:
            w.insert(
                table,
                opened,
                str(e.originator_id),
                e.player_id,
                e.currency,
                0,
                0,
                0,
                e.originator_version,
                iso(e.timestamp),
            )

        def on_changed(w: Writes, e: Any, _: int) -> None:
            d, at = player_deltas(e), _facts(e)[1]
            sums = (d["available"], d["locked"], d["bonus"])
            w.merge(changed, (str(e.originator_id),), sums, (e.originator_version, at))

        handlers: dict[str, Handler] = {f"Wallet.{n}": on_changed for n in WALLET_EVENTS}
        handlers["Wallet.Opened"] = on_opened
        return handlers


_REFERENCES = ("deposit_id", "withdrawal_id", "draw_id", "source")
_DECLARED: dict[type, frozenset[str]] = {}  # event class -> its reference fields


def _reference(event: Any) -> str | None:
    """The first of the event's deposit, withdrawal or draw id, or source, that is set.

    ``getattr(event, name, None)`` for a name the class does not declare raises (and catches)
    an AttributeError: those names are looked up in the event's own attributes instead."""
    cls = type(event)
    declared = _DECLARED.get(cls)
    if declared is None:
        fields = getattr(cls, "__dataclass_fields__", None)
        declared = _DECLARED[cls] = frozenset(
            _REFERENCES if fields is None else [f for f in _REFERENCES if f in fields]
        )
    own = getattr(event, "__dict__", {})
    for name in _REFERENCES:
        value = getattr(event, name, None) if name in declared else own.get(name)
        if value is not None:
            return str(value)
    return None


class HistoryProjection(LedgerProjection):
    """The player's postings, newest first by (position, line): keyset-paginated history."""

    name = "history"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {postings} (position BIGINT NOT NULL, line INTEGER NOT NULL,"
        " player_id TEXT NOT NULL, balance TEXT NOT NULL, amount_minor BIGINT NOT NULL,"
        " currency TEXT NOT NULL, kind TEXT NOT NULL, reference TEXT, at TEXT NOT NULL,"
        " PRIMARY KEY (position, line))",
        "CREATE INDEX IF NOT EXISTS {postings}_by_player ON {postings} (player_id, position, line)",
    ]

    def handlers(self) -> dict[str, Handler]:
        table = self.t("postings")
        columns: tuple[str, ...] = ("position", "line", "player_id", "balance", "amount_minor")
        columns += ("currency", "kind", "reference", "at")

        def on_money(w: Writes, e: Any, position: int) -> None:
            moves, at = _facts(e)
            if not moves:
                return
            kind = type(e).__name__
            reference = _reference(e)
            for line, (account, amount, currency) in enumerate(moves):
                split = player_account(account)
                if split is not None:
                    owner, balance = split
                    w.insert(
                        table,
                        columns,
                        position,
                        line,
                        owner,
                        balance,
                        amount,
                        currency,
                        kind,
                        reference,
                        at,
                    )

        return {f"Wallet.{n}": on_money for n in WALLET_EVENTS}


class TrialBalanceProjection(LedgerProjection):
    """Σ postings per ledger account and currency; over all accounts it must be zero."""

    name = "trial_balance"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {accounts} (account TEXT NOT NULL, currency TEXT NOT NULL,"
        " balance BIGINT NOT NULL, postings BIGINT NOT NULL, PRIMARY KEY (account, currency))"
    ]

    def handlers(self) -> dict[str, Handler]:
        upsert = Merge(
            self.t("accounts"), ("account", "currency"), ("balance", "postings"), insert=True
        )

        def on_any(w: Writes, e: Any, _: int) -> None:
            for account, amount, currency in shared_moves(e):
                w.merge(upsert, (account, currency), (amount, 1), ())

        money_events = [f"Wallet.{n}" for n in WALLET_EVENTS]
        money_events += ["PrizePool.Funded", "PrizePool.Defunded", "PrizePool.Closed"]
        return dict.fromkeys(money_events, on_any)
