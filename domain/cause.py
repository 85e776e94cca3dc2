"""Who caused a change, and through which request. Every event stores both."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidArgument

__all__ = ["Cause"]


@dataclass(frozen=True, slots=True)
class Cause:
    """``actor`` is ``player:{id}``, ``operator:{id}`` or ``system:{name}``. ``reason`` is
    why (required of operators; the request's receipt keeps it for the audit log)."""

    actor: str
    request_id: str
    reason: str = ""

    def __post_init__(self) -> None:
        kind, _, name = self.actor.partition(":")
        if kind not in {"player", "operator", "system"} or not name:
            raise InvalidArgument(
                f"actor must be player:, operator: or system:<id>, got {self.actor!r}"
            )
        if not self.request_id or len(self.request_id) > 200:
            raise InvalidArgument("request id must be 1..200 characters")
        if len(self.reason) > 1_000:
            raise InvalidArgument("a reason is at most 1000 characters")

    @property
    def is_operator(self) -> bool:
        return self.actor.startswith("operator:")
