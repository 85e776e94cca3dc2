"""Receipt: the first outcome of a request, success or refusal, at a stream named by the request.

Saved in the same transaction as the command's events, so a retried request finds it and gets
the same answer (TigerBeetle-style: a retry never produces a different outcome).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, IdempotencyKeyReused

__all__ = ["Receipt", "error_for_code"]


def _error_classes(base: type[DomainError]) -> dict[str, type[DomainError]]:
    # Only classes that declare their own code: a subclass inheriting one (an interface-level
    # wrapper, say) must not take over the code of the rule that defined it.
    found = {base.code: base} if "code" in vars(base) else {}
    for sub in base.__subclasses__():
        found.update(_error_classes(sub))
    return found


def error_for_code(code: str, message: str) -> DomainError:
    """Rebuild a stored refusal as the error class that raised it the first time."""
    cls = _error_classes(DomainError).get(code, DomainError)
    error = cls(message)
    error.code = code
    return error


class Receipt(Aggregate):
    @staticmethod
    def create_id(actor: str, request_id: str, **_: Any) -> UUID:
        return ids.receipt_id(actor, request_id)

    @classmethod
    def accepted(
        cls, command: str, fingerprint: str, outcome: dict[str, Any], cause: Cause
    ) -> Receipt:
        return cls(
            command=command,
            fingerprint=fingerprint,
            outcome=outcome,
            error_code=None,
            error_message=None,
            actor=cause.actor,
            request_id=cause.request_id,
            reason=cause.reason,
        )

    @classmethod
    def refused(cls, command: str, fingerprint: str, error: DomainError, cause: Cause) -> Receipt:
        return cls(
            command=command,
            fingerprint=fingerprint,
            outcome=None,
            error_code=error.code,
            error_message=error.message,
            actor=cause.actor,
            request_id=cause.request_id,
            reason=cause.reason,
        )

    @event("Recorded")
    def __init__(
        self,
        command: str,
        fingerprint: str,
        outcome: dict[str, Any] | None,
        error_code: str | None,
        error_message: str | None,
        actor: str,
        request_id: str,
        reason: str = "",  # absent from receipts recorded before reasons were kept
    ) -> None:
        self.command = command
        self.fingerprint = fingerprint
        self.outcome = outcome
        self.error_code = error_code
        self.error_message = error_message
        self.reason = reason

    def replay(self, command: str, fingerprint: str) -> dict[str, Any]:
        """The stored outcome; the stored refusal is raised again."""
        if command != self.command or fingerprint != self.fingerprint:
            raise IdempotencyKeyReused("this request id was already used for a different request")
        if self.error_code is not None:
            raise error_for_code(self.error_code, self.error_message or "")
        assert self.outcome is not None
        return self.outcome
