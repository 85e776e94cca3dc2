"""Draw: the record of one draw request (1..N draws), at a stream named by (player, request id).

It holds the whole trace — inputs, weights after every adjustment, the random proof, the
outcome and the balances after — so any draw can be re-verified once its epoch's seed is
revealed. A refused request is recorded too (status ``refused``, nothing charged), so that the
same request id always answers the same, success or refusal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import IdempotencyKeyReused
from domain.hot_events import create

__all__ = ["Draw", "DrawStatus", "RefusalReason"]


class DrawStatus(StrEnum):
    SETTLED = "settled"  # at least one draw was charged and decided
    REFUSED = "refused"  # nothing was charged


class RefusalReason(StrEnum):
    """Stable codes for a draw that is not (or no longer) played. None charges anything."""

    POOL_PAUSED = "pool_paused"
    POOL_CLOSED = "pool_closed"
    PLAYER_FROZEN = "player_frozen"
    CURRENCY_MISMATCH = "currency_mismatch"
    COST_OUT_OF_RANGE = "cost_out_of_range"
    DAILY_LIMIT = "daily_limit_reached"
    DRAW_COOLDOWN = "draw_cooldown"
    PAYOUT_COOLDOWN = "payout_cooldown"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NO_PRIZE_AVAILABLE = "no_prize_available"


class Draw(Aggregate):
    @staticmethod
    def create_id(player_id: str, request_id: str, **_: Any) -> UUID:
        return ids.draw_id(player_id, request_id)

    @classmethod
    def record(
        cls,
        player_id: str,
        pool_key: str,
        requested: int,
        fingerprint: str,
        results: list[dict[str, Any]],
        reason: str | None,
        cost_total: int,
        available_after: int,
        bonus_after: int,
        at: datetime,
        cause: Cause,
        draw_id: UUID | None = None,
    ) -> Draw:
        """``draw_id``: the caller's copy of ``ids.draw_id(player_id, cause.request_id)``, so
        that the desk does not hash it again (computed here when not given)."""
        status = DrawStatus.SETTLED if results else DrawStatus.REFUSED
        expected = ids.draw_id(player_id, cause.request_id) if draw_id is None else draw_id
        # The same event and aggregate as cls(...), without the library's per-call signature work.
        draw = create(
            cls,
            Draw.Executed,  # type: ignore[attr-defined]
            expected,
            {
                "player_id": player_id,
                "pool_key": pool_key,
                "requested": requested,
                "fingerprint": fingerprint,
                "status": status.value,
                "reason": reason,
                "results": results,
                "cost_total": cost_total,
                "available_after": available_after,
                "bonus_after": bonus_after,
                "at": at,
                "actor": cause.actor,
                "request_id": cause.request_id,
            },
        )
        return draw

    @event("Executed")
    def __init__(
        self,
        player_id: str,
        pool_key: str,
        requested: int,
        fingerprint: str,
        status: str,
        reason: str | None,
        results: list[dict[str, Any]],
        cost_total: int,
        available_after: int,
        bonus_after: int,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        self.player_id = player_id
        self.pool_key = pool_key
        self.requested = requested
        self.fingerprint = fingerprint
        self.status = status
        self.reason = reason
        self.results = results
        self.cost_total = cost_total
        self.available_after = available_after
        self.bonus_after = bonus_after
        self.at = at

    def check_same_request(self, fingerprint: str) -> None:
        """A retried request must be the same request."""
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused("this request id was already used for a different draw")

    @property
    def won(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["outcome"] == "won"]
