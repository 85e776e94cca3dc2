"""Application errors: failures that are not a domain rule (missing things, lost races)."""

from __future__ import annotations

from domain.errors import DomainError

__all__ = ["ConcurrencyConflict", "NotFound"]


class NotFound(DomainError):
    code = "not_found"
    recorded = False


class ConcurrencyConflict(Exception):
    """Optimistic-concurrency retries ran out of time. Nothing was recorded; safe to retry.

    Deliberately not a DomainError: it is never stored in a receipt, because a later retry of the
    same request may well succeed.
    """

    code = "concurrency_conflict"
