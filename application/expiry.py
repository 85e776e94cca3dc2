"""Expiry of stale requests, a process manager driven by the event log.

The open-requests read model (``projections.expiry``) says which deposits still wait for their
provider and which withdrawals still wait for review, since when; what is older than its timeout
is expired through the ordinary use cases — a deposit fails (its room under the deposit limits is
freed), a withdrawal is rejected (its funds are unlocked), both with reason ``expired``.

Each expiry runs under a deterministic request id (``expire:{id}``, actor ``system:expiry``):
however often the manager replays the log or runs again (a restart, a rebuilt read model, a
standby taking over), a request is expired at most once — a second attempt finds the receipt
and does nothing. The read model may lag or be stale; the aggregates decide (a deposit credited
meanwhile refuses to fail).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from application.clock import Clock
from application.commands import Commands
from application.deposits import Deposits
from application.withdrawals import Withdrawals
from domain.cause import Cause
from domain.errors import DomainError

__all__ = ["EXPIRED", "EXPIRY_ACTOR", "Expiry", "ExpiryRun", "OpenRequests", "expiry_cause"]

log = logging.getLogger(__name__)

EXPIRY_ACTOR = "system:expiry"
EXPIRED = "expired"


class OpenRequests(Protocol):
    def stale_deposits(self, opened_before: datetime, limit: int = 100) -> list[str]:
        """Deposits waiting for their provider since before ``opened_before``."""
        ...

    def stale_withdrawals(self, opened_before: datetime, limit: int = 100) -> list[str]:
        """Withdrawals not fully approved, requested before ``opened_before``."""
        ...


def expiry_cause(request_id: str) -> Cause:
    """The one request id under which a deposit or withdrawal is ever expired."""
    return Cause(EXPIRY_ACTOR, f"expire:{request_id}", EXPIRED)


@dataclass
class ExpiryRun:
    deposits: list[str] = field(default_factory=list)  # failed as expired by this run
    withdrawals: list[str] = field(default_factory=list)  # rejected as expired by this run


class Expiry:
    def __init__(
        self,
        commands: Commands,
        deposits: Deposits,
        withdrawals: Withdrawals,
        requests: OpenRequests,
        clock: Clock,
        deposit_after: timedelta,
        withdrawal_after: timedelta,
    ) -> None:
        self._commands = commands
        self._deposits = deposits
        self._withdrawals = withdrawals
        self._requests = requests
        self._clock = clock
        self._deposit_after = deposit_after
        self._withdrawal_after = withdrawal_after

    def run_once(self, limit: int = 100) -> ExpiryRun:
        """Expire what is due now (up to ``limit`` of each kind)."""
        now, run = self._clock(), ExpiryRun()
        for deposit_id in self._requests.stale_deposits(now - self._deposit_after, limit):
            if self._expire(deposit_id, self._fail_deposit):
                run.deposits.append(deposit_id)
        for withdrawal_id in self._requests.stale_withdrawals(now - self._withdrawal_after, limit):
            if self._expire(withdrawal_id, self._reject_withdrawal):
                run.withdrawals.append(withdrawal_id)
        return run

    def _fail_deposit(self, deposit_id: UUID, cause: Cause) -> None:
        self._deposits.fail(deposit_id, EXPIRED, cause)

    def _reject_withdrawal(self, withdrawal_id: UUID, cause: Cause) -> None:
        self._withdrawals.reject(withdrawal_id, EXPIRED, cause)

    def _expire(self, request_id: str, act: _Act) -> bool:
        cause = expiry_cause(request_id)
        if self._commands.already_ran(cause):
            return False  # expired (or found settled) before: a replay does nothing
        try:
            act(UUID(request_id), cause)
        except DomainError as error:  # it moved on since the read model saw it
            log.info("not expired %s: %s (%s)", request_id, error.code, error.message)
            return False
        return True


class _Act(Protocol):
    def __call__(self, request_id: UUID, cause: Cause, /) -> None: ...
