"""Snapshots taken of the aggregates a save has just written (kept in memory) hold exactly
the state that replaying their recorded events gives."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from application.ledger import Ledger
from domain import ids
from domain.cause import Cause
from domain.pool import PrizePool
from domain.prizes import PoolControls, Prize
from domain.wallet import Wallet
from infrastructure.bootstrap import System


def _replayed_state(ledger: Ledger, aggregate_id: UUID, version: int) -> dict[str, Any]:
    aggregate: Any = None
    for event in ledger.events.get(aggregate_id, lte=version):
        aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
    assert aggregate is not None
    assert aggregate.version == version
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def _snapshot_states(ledger: Ledger, aggregate_id: UUID) -> list[tuple[int, dict[str, Any]]]:
    assert ledger.snapshots is not None
    states = []
    for snapshot in ledger.snapshots.get(aggregate_id):
        restored = snapshot.mutate(None)  # type: ignore[attr-defined]
        state = {k: v for k, v in vars(restored).items() if k != "_pending_events"}
        states.append((snapshot.originator_version, state))
    return states


def test_snapshots_of_draw_batches_equal_the_replayed_state(
    embedded: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(Ledger.snapshotting_intervals, Wallet, 4)
    monkeypatch.setitem(Ledger.snapshotting_intervals, PrizePool, 3)
    op = Cause("operator:admin", "setup")
    embedded.pools.create("wheel", "Wheel", 100, PoolControls(), op)
    embedded.pools.add_prize(
        "wheel", Prize("gem", "Gem", "cash", 150, 30, stock=5), Cause("operator:admin", "p")
    )
    embedded.pools.fund("wheel", 100_000, Cause("operator:admin", "f"))
    embedded.wallets.open("ann", Cause("player:ann", "open"))
    deposit = embedded.deposits.request("ann", 5_000, "EUR", "sandbox", Cause("player:ann", "d"))
    embedded.deposits.confirm(UUID(deposit.deposit_id), "ref", Cause("system:sandbox", "wh"))
    for n in range(13):
        embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", f"r{n}"))
    ledger = embedded.ledger
    for aggregate_id in (ids.wallet_id("ann"), ids.pool_id("wheel")):
        snapshots = _snapshot_states(ledger, aggregate_id)
        assert len(snapshots) >= 3
        for version, state in snapshots:
            assert state == _replayed_state(ledger, aggregate_id, version)
