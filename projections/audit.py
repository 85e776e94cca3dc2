"""The audit trail: who did what to which account, pool or payment, and why.

One row per audited event, keyed by its notification position:

* every event whose actor is an operator (``operator:…``), except an operator's *successful*
  ``Receipt.Recorded``, which only repeats the events it accompanies — a refused one (with an
  ``error_code``) is kept: it shows what an operator tried and was not allowed to do;
* security-relevant events by anyone: wallet freezes, adjustments, client seed and deposit limit
  changes, every withdrawal event, deposit charge-backs, and pool configuration and money events.

``details`` is the event's own attributes without the envelope, and never a pool's unrevealed
server seed. ``subjects`` maps aggregate ids to a readable key (player id or pool key) from the
events that create them, so that queries can show and filter by it without a handler reading.
Events carry no client IP yet: ``ip`` stays NULL until they do.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.deposit import Deposit
from domain.draw import Draw
from domain.pool import PrizePool
from domain.receipt import Receipt
from domain.wallet import Wallet
from domain.withdrawal import Withdrawal
from projections.base import Handler, LedgerProjection, Writes, iso

__all__ = ["AuditProjection", "audited", "details_of"]

AGGREGATES: list[type[Aggregate]] = [Wallet, Deposit, Withdrawal, PrizePool, Draw, Receipt]
ENVELOPE = {"originator_id", "originator_topic", "originator_version", "timestamp"}
ENVELOPE |= {"actor", "request_id"}
SECRETS = {"server_seed"}  # the current epoch's seed: revealed only by the next rotation
SECURITY = {
    "Wallet.Frozen",
    "Wallet.Unfrozen",
    "Wallet.Adjusted",
    "Wallet.ClientSeedChanged",
    "Wallet.DepositLimitChanged",
    "Deposit.Reversed",
}
SECURITY_PREFIXES = ("Withdrawal.",)
POOL_EXCLUDED = {"PrizePool.DrawsSettled"}  # plays, not configuration
SUBJECT_KINDS = {"Wallet", "Deposit", "Withdrawal", "PrizePool"}  # not draws: too many, unaudited


def event_names() -> list[str]:
    """Every event class of every aggregate, by qualname."""
    names = []
    for aggregate in AGGREGATES:
        for attr in vars(aggregate).values():
            if (
                isinstance(attr, type)
                and issubclass(attr, Aggregate.Event)
                and attr.__qualname__.startswith(f"{aggregate.__name__}.")
            ):
                names.append(attr.__qualname__)
    return sorted(set(names))


def audited(event: Any) -> bool:
    action = type(event).__qualname__
    if action == "Receipt.Recorded":
        return event.actor.startswith("operator:") and event.error_code is not None
    if getattr(event, "actor", "").startswith("operator:"):
        return True
    if action in SECURITY or action.startswith(SECURITY_PREFIXES):
        return True
    return action.startswith("PrizePool.") and action not in POOL_EXCLUDED


def details_of(event: Any) -> str:
    details = {k: v for k, v in vars(event).items() if k not in ENVELOPE and k not in SECRETS}
    return json.dumps(details, sort_keys=True, default=str)


def subject_of(event: Any) -> str | None:
    """The readable key an aggregate is known by, from the event that creates it."""
    return getattr(event, "player_id", None) or getattr(event, "pool_key", None)


class AuditProjection(LedgerProjection):
    name = "audit"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {audit} (position BIGINT PRIMARY KEY, at TEXT NOT NULL,"
        " actor TEXT NOT NULL, action TEXT NOT NULL, target_id TEXT NOT NULL, reason TEXT,"
        " request_id TEXT, ip TEXT, details TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_actor ON {audit} (actor, position)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_target ON {audit} (target_id, position)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_at ON {audit} (at)",
        "CREATE TABLE IF NOT EXISTS {subjects} (aggregate_id TEXT PRIMARY KEY,"
        " kind TEXT NOT NULL, subject TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {subjects}_by_subject ON {subjects} (subject)",
    ]

    def handlers(self) -> dict[str, Handler]:
        insert = (
            f"INSERT INTO {self.t('audit')} (position, at, actor, action, target_id, reason,"
            " request_id, ip, details) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s)"
        )
        subject = (
            f"INSERT INTO {self.t('subjects')} (aggregate_id, kind, subject) VALUES (%s, %s, %s)"
            " ON CONFLICT (aggregate_id) DO NOTHING"
        )

        def on_event(w: Writes, e: Any, position: int) -> None:
            kind = type(e).__qualname__.split(".", 1)[0]
            if e.originator_version == 1 and kind in SUBJECT_KINDS and subject_of(e):
                w.add(subject, str(e.originator_id), kind, subject_of(e))
            if audited(e):
                w.add(
                    insert,
                    position,
                    iso(e.timestamp),
                    getattr(e, "actor", ""),
                    type(e).__qualname__,
                    str(e.originator_id),
                    getattr(e, "reason", None) or None,
                    getattr(e, "request_id", None),
                    details_of(e),
                )

        return dict.fromkeys(event_names(), on_event)
