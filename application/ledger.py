"""The one eventsourcing Application holding every money-moving aggregate.

Keeping them in one Application is what lets ``save(wallet, deposit, receipt)`` write all their
events in one transaction; the (originator_id, originator_version) key is the concurrency check.
Infrastructure chooses the recorder and transcoder through the ``env`` it passes in.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording

from domain.account import PlayerAccount
from domain.pool import PrizePool
from domain.rewards import RewardBudget
from domain.wallet import Wallet

__all__ = ["Ledger"]


class Ledger(Application[UUID]):
    name = "prizeledger"
    # A snapshot every N events keeps loading a long-lived aggregate O(1) after a cache miss.
    # Every login adds an event to the account: snapshot it like the other busy streams.
    snapshotting_intervals: ClassVar[dict[type, int]] = {
        Wallet: 200,
        PrizePool: 100,
        PlayerAccount: 200,
        RewardBudget: 200,  # every grant spends from it
    }

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, minus its runtime Protocol checks (a measurable cost per
        aggregate in a 64-draw group commit): we only ever save Aggregate instances."""
        if kwargs or not all(isinstance(o, Aggregate) for o in objs):
            return super().save(*objs, **kwargs)
        processing = ProcessingEvent[UUID]()
        for aggregate in objs:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings
