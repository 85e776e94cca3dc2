"""PayoutMethods: the bank accounts and crypto addresses a player may withdraw to (one stream
per player).

The full details are kept in the events because payout needs them; everything shown to the
player or in lists is the masked form. A removed method stays in the history (a withdrawal
requested to it must still be payable) but can no longer be chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, InvalidArgument
from domain.payout_details import InvalidPayoutMethod, identity, mask, normalise

__all__ = [
    "MAX_ACTIVE_METHODS",
    "MAX_LABEL",
    "InvalidPayoutMethod",
    "PayoutMethod",
    "PayoutMethodExists",
    "PayoutMethodNotFound",
    "PayoutMethods",
    "TooManyPayoutMethods",
]

MAX_ACTIVE_METHODS = 10
MAX_LABEL = 60


class PayoutMethodNotFound(DomainError):
    """No active method with this id among the player's own (also what another player's id
    looks like: the answer does not tell whether it exists elsewhere)."""

    recorded = False
    code = "payout_method_not_found"


class TooManyPayoutMethods(DomainError):
    code = "too_many_payout_methods"


class PayoutMethodExists(DomainError):
    code = "payout_method_exists"


@dataclass(frozen=True, slots=True)
class PayoutMethod:
    method_id: str
    kind: str
    details: dict[str, str]
    masked: str
    label: str
    created_at: datetime
    removed: bool


class PayoutMethods(Aggregate):
    @staticmethod
    def create_id(player_id: str, **_: Any) -> UUID:
        return ids.payout_methods_id(player_id)

    @classmethod
    def open(cls, player_id: str, cause: Cause) -> PayoutMethods:
        if not player_id or len(player_id) > 100:
            raise InvalidArgument("player id must be 1..100 characters")
        return cls(player_id=player_id, actor=cause.actor, request_id=cause.request_id)

    @event("Opened")
    def __init__(self, player_id: str, actor: str, request_id: str) -> None:
        self.player_id = player_id
        # method id -> {kind, details, masked, label, created_at, removed}
        self.methods: dict[str, dict[str, Any]] = {}

    # ---- queries -------------------------------------------------------------------------------

    def method(self, method_id: str, *, include_removed: bool = False) -> PayoutMethod:
        found = self.methods.get(method_id)
        if found is None or (found["removed"] and not include_removed):
            raise PayoutMethodNotFound(f"payout method {method_id} not found")
        return PayoutMethod(method_id=method_id, **found)

    def active(self) -> list[PayoutMethod]:
        """The methods a withdrawal may go to, oldest first."""
        return [self.method(m) for m, v in self.methods.items() if not v["removed"]]

    # ---- commands ------------------------------------------------------------------------------

    def add_method(
        self,
        method_id: str,
        kind: str,
        details: dict[str, str],
        label: str,
        at: datetime,
        cause: Cause,
    ) -> PayoutMethod:
        """Check and keep a new destination; refuses the 11th active one and duplicates."""
        self._check_owner(cause)
        canonical = normalise(kind, details)
        label = " ".join(label.split())
        if len(label) > MAX_LABEL or not label.isprintable():
            raise InvalidPayoutMethod(f"label must be at most {MAX_LABEL} printable characters")
        if not method_id or method_id in self.methods:
            raise InvalidArgument("a new payout method needs a new id")
        active = self.active()
        if len(active) >= MAX_ACTIVE_METHODS:
            raise TooManyPayoutMethods(
                f"at most {MAX_ACTIVE_METHODS} payout methods; remove one first"
            )
        same = identity(kind, canonical)
        if any(identity(m.kind, m.details) == same for m in active):
            raise PayoutMethodExists("this destination is already one of your payout methods")
        self._method_added(
            method_id=method_id,
            kind=kind,
            details=canonical,
            masked=mask(kind, canonical),
            label=label,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        return self.method(method_id)

    @event("MethodAdded")
    def _method_added(
        self,
        method_id: str,
        kind: str,
        details: dict[str, str],
        masked: str,
        label: str,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        entry = {
            "kind": kind,
            "details": dict(details),
            "masked": masked,
            "label": label,
            "created_at": at,
            "removed": False,
        }
        self.methods = {**self.methods, method_id: entry}

    def remove_method(self, method_id: str, cause: Cause) -> PayoutMethod:
        self._check_owner(cause)
        self.method(method_id)
        self._method_removed(method_id=method_id, actor=cause.actor, request_id=cause.request_id)
        return self.method(method_id, include_removed=True)

    @event("MethodRemoved")
    def _method_removed(self, method_id: str, actor: str, request_id: str) -> None:
        self.methods = {**self.methods, method_id: {**self.methods[method_id], "removed": True}}

    def _check_owner(self, cause: Cause) -> None:
        # Operators and the system may act for a player; another player never.
        if cause.actor.startswith("player:") and cause.actor != f"player:{self.player_id}":
            raise PayoutMethodNotFound("payout methods of another player cannot be changed")
