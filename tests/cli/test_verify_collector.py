"""``verify_ledger`` folds with the cyclic collector paused and gives the caller's collector state
back afterwards, whether it was on or off and when the fold fails."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from ops.audit.fold import LedgerFold
from ops.audit.verify import verify_ledger
from tests.cli.conftest import Store

pytestmark = pytest.mark.postgres


@pytest.fixture
def collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_off_while_folding_and_as_it_was_afterwards(
    store: Store, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    seen: set[bool] = set()
    add_row = LedgerFold.add_row

    def spy(fold: LedgerFold, *row: Any) -> None:
        seen.add(gc.isenabled())
        add_row(fold, *row)

    monkeypatch.setattr(LedgerFold, "add_row", spy)
    (gc.enable if enabled else gc.disable)()
    assert verify_ledger(store.system).ok
    assert seen == {False}
    assert gc.isenabled() is enabled


@pytest.mark.usefixtures("collector")
def test_a_failing_fold_turns_the_collector_back_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(fold: LedgerFold, *row: Any) -> None:
        raise RuntimeError("the fold failed")

    monkeypatch.setattr(LedgerFold, "add_row", fail)
    gc.enable()
    with pytest.raises(RuntimeError, match="the fold failed"):
        verify_ledger(store.system)
    assert gc.isenabled()
