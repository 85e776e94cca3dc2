"""The one eventsourcing Application holding every money-moving aggregate.

Keeping them in one Application is what lets ``save(wallet, deposit, receipt)`` write all their
events in one transaction; the (originator_id, originator_version) key is the concurrency check.
Infrastructure chooses the recorder and transcoder through the ``env`` it passes in.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.application import Application

from domain.pool import PrizePool
from domain.wallet import Wallet

__all__ = ["Ledger"]


class Ledger(Application[UUID]):
    name = "prizeledger"
    # A snapshot every N events keeps loading a long-lived wallet O(1) after a cache miss.
    snapshotting_intervals: ClassVar[dict[type, int]] = {Wallet: 200, PrizePool: 100}
