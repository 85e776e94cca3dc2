"""The audit trail: who did what to which account, pool or payment, from where, and why.

One row per audited event, keyed by its notification position:

* every event whose actor is an operator (``operator:…``) or one of the system's own
  decision-makers (``AUTONOMOUS``: expiry of stale requests, risk auto-freeze);
* every operator ``Receipt.Recorded`` — the request itself: its command, and its outcome when
  refused (``error_code``: what an operator tried and was not allowed to do) — and a system
  actor's receipt that carries a reason;
* security-relevant events by anyone: wallet freezes, adjustments, client seed and deposit limit
  changes, every withdrawal, adjustment and payout-method event, deposit charge-backs, pool
  configuration and money events, and the player and operator accounts' security events
  (registration, logins and failed logins, locks, sessions ended, password changes and resets,
  TOTP and recovery codes, operator roles, disabling).

``reason`` is the event's own reason, else the reason its request's receipt kept (the receipt is
saved first, in the same transaction as its events: ``requests`` remembers it by actor and
request id, so a handler never reads). ``ip`` is the client address the event recorded (logins,
registrations). ``details`` is the event's own attributes without the envelope and without any
secret: no password hash, TOTP secret, token or recovery-code hash, full payout destination,
receipt outcome, nor a pool's unrevealed server seed. ``subjects`` maps aggregate ids to a
readable key (player id, pool key, operator e-mail) from the events that create them, so that
queries can show and filter by it.

Version 2 added the accounts, operators, payout methods, adjustments, change requests, runtime
config, missions and the reward budget, every operator receipt, the reasons of receipts and the
IP column: rebuild it (``prizeledger projections rebuild audit``)
or let a new deployment project it from the start.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.account import PlayerAccount
from domain.adjustment import Adjustment
from domain.changes import ChangeRequest
from domain.config import RuntimeConfig
from domain.deposit import Deposit
from domain.draw import Draw
from domain.missions import Mission
from domain.payout import PayoutMethods
from domain.pool import PrizePool
from domain.receipt import Receipt
from domain.rewards import RewardBudget
from domain.staff import Operator
from domain.wallet import Wallet
from domain.withdrawal import Withdrawal
from projections.base import Handler, LedgerProjection, Writes, iso

__all__ = ["AUTONOMOUS", "AuditProjection", "audited", "details_of"]

AGGREGATES: list[type[Aggregate]] = [
    Wallet,
    Deposit,
    Withdrawal,
    PrizePool,
    Draw,
    Receipt,
    PlayerAccount,
    PayoutMethods,
    Adjustment,
    Operator,
    # Operators change these (their operator-made events are audited by actor).
    ChangeRequest,
    RuntimeConfig,
    Mission,
    RewardBudget,
]
ENVELOPE = {"originator_id", "originator_topic", "originator_version", "timestamp"}
ENVELOPE |= {"actor", "request_id"}
SECRETS = {
    "server_seed",  # the current epoch's seed: revealed only by the next rotation
    "password_hash",
    "secret",  # a TOTP secret
    "token_hash",
    "hashes",  # an operator's recovery codes, hashed
    "hash",  # the recovery code an operator used, hashed
    "details",  # a payout method's full destination (its masked form stays)
    "outcome",  # a receipt's stored result: the events say what changed
    "fingerprint",
}
SECURITY = {
    "Wallet.Frozen",
    "Wallet.Unfrozen",
    "Wallet.Adjusted",
    "Wallet.ClientSeedChanged",
    "Wallet.DepositLimitChanged",
    "Deposit.Reversed",
}
SECURITY_PREFIXES = ("Withdrawal.", "PlayerAccount.", "PayoutMethods.", "Adjustment.", "Operator.")
NOT_AUDITED = {
    "PrizePool.DrawsSettled",  # plays, not configuration
    "PlayerAccount.PasswordRehashed",  # the same password under new hashing parameters
}
# System actors that decide on their own (not on a player's or provider's behalf).
AUTONOMOUS = {"system:expiry", "system:risk"}
SUBJECT_KINDS = {
    "Wallet",
    "Deposit",
    "Withdrawal",
    "PrizePool",
    "PlayerAccount",
    "PayoutMethods",
    "Adjustment",
    "Operator",
    "ChangeRequest",
}  # not draws: too many, unaudited


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


def _decides(actor: str) -> bool:
    return actor.startswith("operator:") or actor in AUTONOMOUS


def audited(event: Any) -> bool:
    action = type(event).__qualname__
    actor = getattr(event, "actor", "")
    if action == "Receipt.Recorded":
        reason = getattr(event, "reason", "")  # absent from receipts recorded before reasons
        return _decides(actor) or (actor.startswith("system:") and bool(reason))
    if action in NOT_AUDITED:
        return False
    if _decides(actor):
        return True
    if action in SECURITY or action.startswith(SECURITY_PREFIXES):
        return True
    return action.startswith("PrizePool.")


def details_of(event: Any) -> str:
    details = {k: v for k, v in vars(event).items() if k not in ENVELOPE and k not in SECRETS}
    return json.dumps(details, sort_keys=True, default=str)


def subject_of(event: Any) -> str | None:
    """The readable key an aggregate is known by, from the event that creates it: a player id,
    a pool key, an operator's e-mail, or what a change request changes."""
    return (
        getattr(event, "player_id", None)
        or getattr(event, "pool_key", None)
        or getattr(event, "email", None)
        or getattr(event, "target", None)
    )


class AuditProjection(LedgerProjection):
    name = "audit"
    version = 2
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {audit} (position BIGINT PRIMARY KEY, at TEXT NOT NULL,"
        " actor TEXT NOT NULL, action TEXT NOT NULL, target_id TEXT NOT NULL, reason TEXT,"
        " request_id TEXT, ip TEXT, details TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_actor ON {audit} (actor, position)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_target ON {audit} (target_id, position)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_action ON {audit} (action, position)",
        "CREATE INDEX IF NOT EXISTS {audit}_by_at ON {audit} (at)",
        "CREATE TABLE IF NOT EXISTS {subjects} (aggregate_id TEXT PRIMARY KEY,"
        " kind TEXT NOT NULL, subject TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {subjects}_by_subject ON {subjects} (subject)",
        "CREATE TABLE IF NOT EXISTS {requests} (actor TEXT NOT NULL, request_id TEXT NOT NULL,"
        " reason TEXT NOT NULL, PRIMARY KEY (actor, request_id))",
    ]

    def handlers(self) -> dict[str, Handler]:
        requests = self.t("requests")
        insert = (
            f"INSERT INTO {self.t('audit')} (position, at, actor, action, target_id, reason,"
            " request_id, ip, details) VALUES (%s, %s, %s, %s, %s, COALESCE(%s,"
            f" (SELECT r.reason FROM {requests} r WHERE r.actor = %s AND r.request_id = %s)),"
            " %s, %s, %s)"
        )
        subject = (
            f"INSERT INTO {self.t('subjects')} (aggregate_id, kind, subject) VALUES (%s, %s, %s)"
            " ON CONFLICT (aggregate_id) DO NOTHING"
        )
        request = (
            f"INSERT INTO {requests} (actor, request_id, reason) VALUES (%s, %s, %s)"
            " ON CONFLICT (actor, request_id) DO NOTHING"
        )

        def on_event(w: Writes, e: Any, position: int) -> None:
            kind = type(e).__qualname__.split(".", 1)[0]
            if e.originator_version == 1 and kind in SUBJECT_KINDS and subject_of(e):
                w.add(subject, str(e.originator_id), kind, subject_of(e))
            actor, request_id = getattr(e, "actor", ""), getattr(e, "request_id", None)
            reason: str | None = getattr(e, "reason", None) or None
            if kind == "Receipt" and reason:
                w.add(request, actor, request_id, reason)
            if audited(e):
                w.add(
                    insert,
                    position,
                    iso(e.timestamp),
                    actor,
                    type(e).__qualname__,
                    str(e.originator_id),
                    reason,
                    actor,
                    request_id,
                    request_id,
                    getattr(e, "ip", None) or None,
                    details_of(e),
                )

        return dict.fromkeys(event_names(), on_event)
