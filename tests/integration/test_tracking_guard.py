"""Two projectors writing one view (e.g. after a lost lease) never apply an event twice."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from domain.cause import Cause
from infrastructure.bootstrap import System
from infrastructure.projector import Projector
from projections.catalog import build
from tests.ledger_checks import account_balances, stored_events

pytestmark = [pytest.mark.postgres]


def test_two_unleased_projectors_on_one_view_apply_each_event_once(pg_system: System) -> None:
    for i in range(40):
        player = f"p{i}"
        pg_system.wallets.open(player, Cause(f"player:{player}", "open"))
        for k in range(5):
            d = pg_system.deposits.request(
                player, 1_000, "EUR", "sandbox", Cause(f"player:{player}", f"d{k}")
            )
            pg_system.deposits.confirm(
                UUID(d.deposit_id), "ref", Cause("system:sandbox", f"w{i}-{k}")
            )
    # No conninfo: no advisory locks, so both run the same projections at once.
    projectors = [
        Projector(pg_system.ledger, build(pg_system.read_store), batch_size=7) for _ in range(2)
    ]
    threads = [threading.Thread(target=p.catch_up) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = account_balances(stored_events(pg_system.ledger))
    trial = pg_system.read_models.trial_balance()
    assert {(a, c): b for a, c, b in trial.accounts} == dict(expected)
    for i in range(40):
        row = pg_system.read_models.balance(f"p{i}")
        assert row is not None
        assert row.available == 5_000
