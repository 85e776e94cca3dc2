"""Running a command: load, decide, save everything in one transaction, retry on conflict.

Every command stores a Receipt (at a stream named by actor + request id) in the same save as its
events. A retried request collides with that receipt and gets the first outcome back — success
or refusal — and a request id reused with other parameters is refused. Conflicts with other
writers (a stale wallet or pool) are retried with jittered backoff until a deadline.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.errors import ConcurrencyConflict, NotFound
from application.ledger import Ledger
from domain import ids
from domain.cause import Cause
from domain.errors import DomainError
from domain.receipt import Receipt

__all__ = ["Commands", "RetryPolicy", "Unit", "fingerprint_of"]

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")


def fingerprint_of(command: str, params: Mapping[str, object]) -> str:
    canonical = json.dumps({"command": command, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Unit:
    """The aggregates one attempt of a command loaded or created; all saved together."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._aggregates: dict[UUID, Aggregate] = {}

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if aggregate_id in self._aggregates:
            found = self._aggregates[aggregate_id]
        else:
            try:
                found = self._ledger.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        if not isinstance(found, cls):
            return None
        self._aggregates[aggregate_id] = found
        return found

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise NotFound(f"{cls.__name__.lower()} {aggregate_id} not found")
        return found

    def add(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self._aggregates[aggregate.id] = aggregate

    @property
    def aggregates(self) -> list[Aggregate]:
        return list(self._aggregates.values())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    deadline_s: float = 3.0
    first_delay_s: float = 0.002
    max_delay_s: float = 0.1


class Commands:
    """Executes decisions idempotently against one Ledger (the Ledger is a parameter, never a
    global, so that shards can be added in the composition root later)."""

    def __init__(self, ledger: Ledger, retry: RetryPolicy | None = None) -> None:
        self.ledger = ledger
        self.retry = retry or RetryPolicy()

    def already_ran(self, cause: Cause) -> bool:
        """Whether this request (actor + request id) has a stored outcome: a retry then gets
        that outcome, and checks that only guard a first run (a one-time code) are skipped."""
        receipt_id = ids.receipt_id(cause.actor, cause.request_id)
        return Unit(self.ledger).find(Receipt, receipt_id) is not None

    def execute(
        self,
        command: str,
        cause: Cause,
        params: Mapping[str, object],
        decide: Callable[[Unit], R],
        result_type: type[R],
    ) -> R:
        """Run ``decide`` and save its aggregates with a receipt, or replay the first outcome.

        ``result_type`` is the dataclass ``decide`` returns; a replayed outcome is rebuilt as one,
        and a replayed refusal is raised again as the same error.
        """
        fingerprint = fingerprint_of(command, params)
        deadline = time.monotonic() + self.retry.deadline_s
        delay = self.retry.first_delay_s
        while True:
            unit = Unit(self.ledger)
            refusal: DomainError | None = None
            result: R | None = None
            try:
                result = decide(unit)
                receipt = Receipt.accepted(command, fingerprint, _record_of(result), cause)
                aggregates = unit.aggregates
            except DomainError as error:
                if not error.recorded:
                    return self._replay_or_raise(command, fingerprint, cause, result_type, error)
                refusal = error
                receipt = Receipt.refused(command, fingerprint, error, cause)
                aggregates = []
            try:
                self.ledger.save(receipt, *aggregates)
            except IntegrityError:
                stored = Unit(self.ledger).find(Receipt, receipt.id)
                if stored is not None:
                    return result_type(**stored.replay(command, fingerprint))
                if time.monotonic() + delay > deadline:
                    raise ConcurrencyConflict(
                        f"{command}: too much contention, retry later"
                    ) from None
                time.sleep(random.uniform(0, delay))
                delay = min(delay * 2, self.retry.max_delay_s)
                continue
            if refusal is not None:
                raise refusal
            return cast(R, result)

    def _replay_or_raise(
        self,
        command: str,
        fingerprint: str,
        cause: Cause,
        result_type: type[R],
        error: DomainError,
    ) -> R:
        """Bad input is not stored — unless this is a retry of a request that already ran."""
        stored = Unit(self.ledger).find(Receipt, ids.receipt_id(cause.actor, cause.request_id))
        if stored is None:
            raise error
        return result_type(**stored.replay(command, fingerprint))


def _record_of(result: object) -> dict[str, Any]:
    return asdict(result)  # type: ignore[call-overload,no-any-return]
