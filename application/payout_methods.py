"""Payout method use cases: add, list (masked), remove, and resolve one for a withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from application.clock import Clock
from application.commands import Commands, Unit
from domain import ids
from domain.cause import Cause
from domain.payout import PayoutMethod, PayoutMethodNotFound, PayoutMethods

__all__ = ["PayoutMethodView", "PayoutMethodsService"]


@dataclass(frozen=True, slots=True)
class PayoutMethodView:
    """What the player and lists see: never the full account number or address."""

    method_id: str
    kind: str
    label: str
    masked: str
    created_at: datetime

    @classmethod
    def of(cls, method: PayoutMethod) -> PayoutMethodView:
        return cls(
            method_id=method.method_id,
            kind=method.kind,
            label=method.label,
            masked=method.masked,
            created_at=method.created_at,
        )


class PayoutMethodsService:
    def __init__(self, commands: Commands, clock: Clock) -> None:
        self._commands = commands
        self._clock = clock

    def add(
        self, player_id: str, kind: str, details: dict[str, str], label: str, cause: Cause
    ) -> PayoutMethodView:
        """Check and keep a bank account or crypto address the player may withdraw to."""

        def decide(unit: Unit) -> PayoutMethodView:
            methods = unit.find(PayoutMethods, ids.payout_methods_id(player_id))
            if methods is None:
                methods = PayoutMethods.open(player_id, cause)
                unit.add(methods)
            added = methods.add_method(uuid4().hex, kind, details, label, self._clock(), cause)
            return PayoutMethodView.of(added)

        params = {"player": player_id, "kind": kind, "details": details, "label": label}
        return self._commands.execute("add_payout_method", cause, params, decide, PayoutMethodView)

    def list(self, player_id: str) -> list[PayoutMethodView]:
        """The player's active methods, masked, oldest first."""
        methods = self._methods(player_id)
        return [] if methods is None else [PayoutMethodView.of(m) for m in methods.active()]

    def remove(self, player_id: str, method_id: str, cause: Cause) -> PayoutMethodView:
        """Stop offering this destination (withdrawals already requested to it still pay)."""

        def decide(unit: Unit) -> PayoutMethodView:
            methods = unit.find(PayoutMethods, ids.payout_methods_id(player_id))
            if methods is None:
                raise PayoutMethodNotFound(f"payout method {method_id} not found")
            return PayoutMethodView.of(methods.remove_method(method_id, cause))

        params = {"player": player_id, "method": method_id}
        return self._commands.execute(
            "remove_payout_method", cause, params, decide, PayoutMethodView
        )

    def destination(self, player_id: str, method_id: str) -> str:
        """What a withdrawal records as its destination. Only the player's own active method
        resolves: an id of someone else's is PayoutMethodNotFound (the guard against IDOR)."""
        method = self._method(player_id, method_id, include_removed=False)
        return f"{method.kind}:{method.method_id}"

    def details_for_payout(self, player_id: str, method_id: str) -> dict[str, str]:
        """The full details, for the operator or job that pays a withdrawal out. A method the
        player removed after requesting still resolves: the withdrawal must remain payable."""
        method = self._method(player_id, method_id, include_removed=True)
        return {"kind": method.kind, **method.details}

    def _methods(self, player_id: str) -> PayoutMethods | None:
        return Unit(self._commands.ledger).find(PayoutMethods, ids.payout_methods_id(player_id))

    def _method(self, player_id: str, method_id: str, *, include_removed: bool) -> PayoutMethod:
        methods = self._methods(player_id)
        if methods is None:
            raise PayoutMethodNotFound(f"payout method {method_id} not found")
        return methods.method(method_id, include_removed=include_removed)
