"""Money read models built from the postings: balances, wallet history, trial balance."""

from __future__ import annotations

from typing import Any, ClassVar

from domain.postings import Posting, postings_for
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
# its postings once. Keyed by id(); the entry keeps the event alive, so an id is not reused
# while its entry exists, and a hit is checked to be that very event.
_POSTINGS: dict[int, tuple[object, list[Posting]]] = {}
_POSTINGS_KEPT = 4_096


def shared_postings(event: object) -> list[Posting]:
    """``postings_for(event)``, computed once per event object (do not mutate the list)."""
    hit = _POSTINGS.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1]
    if len(_POSTINGS) >= _POSTINGS_KEPT:
        _POSTINGS.clear()
    postings = postings_for(event)
    _POSTINGS[id(event)] = (event, postings)
    return postings


def player_deltas(event: Any) -> dict[str, int]:
    """balance -> change, for the player named in the event's postings."""
    deltas = dict.fromkeys(_BALANCES, 0)
    for posting in shared_postings(event):
        if posting.account.startswith("player:"):
            balance = posting.account.rpartition(":")[2]
            if balance in deltas:
                deltas[balance] += posting.amount_minor
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
            d = player_deltas(e)
            sums = (d["available"], d["locked"], d["bonus"])
            w.merge(
                changed, (str(e.originator_id),), sums, (e.originator_version, iso(e.timestamp))
            )

        handlers: dict[str, Handler] = {f"Wallet.{n}": on_changed for n in WALLET_EVENTS}
        handlers["Wallet.Opened"] = on_opened
        return handlers


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
            postings = shared_postings(e)
            if not postings:
                return
            kind = type(e).__name__
            reference = next(
                (
                    str(getattr(e, f))
                    for f in ("deposit_id", "withdrawal_id", "draw_id", "source")
                    if getattr(e, f, None) is not None
                ),
                None,
            )
            at = iso(e.timestamp)
            for line, posting in enumerate(postings):
                if posting.account.startswith("player:"):
                    owner, _, balance = posting.account.removeprefix("player:").rpartition(":")
                    w.insert(
                        table,
                        columns,
                        position,
                        line,
                        owner,
                        balance,
                        posting.amount_minor,
                        posting.currency,
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
            for posting in shared_postings(e):
                w.merge(upsert, (posting.account, posting.currency), (posting.amount_minor, 1), ())

        money_events = [f"Wallet.{n}" for n in WALLET_EVENTS]
        money_events += ["PrizePool.Funded", "PrizePool.Defunded", "PrizePool.Closed"]
        return dict.fromkeys(money_events, on_any)
