"""The API process settles its heap once start-up is done (``infrastructure.heap``)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from infrastructure.bootstrap import bootstrap
from infrastructure.heap import YOUNG_THRESHOLD, settle_heap
from infrastructure.settings import Settings
from interfaces.player.app import create_app


@pytest.fixture
def gc_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("gc_restored")
def test_settle_heap_freezes_what_exists_and_collects_the_young_less_often() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    survivor = [object()]  # a container alive before the call
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())  # frozen: no generation holds it
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    made_after = [object()]
    assert any(o is made_after for o in gc.get_objects())  # new objects are collected as ever


@pytest.mark.usefixtures("gc_restored")
def test_the_player_app_settles_its_heap_when_it_starts() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    system = bootstrap(Settings(database_url="sqlite::memory:"))
    logging.getLogger("prizeledger.access").disabled = True
    try:
        with TestClient(create_app(system, run_workers=False)) as client:
            assert client.get("/health/live").status_code == 200
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
            assert gc.get_freeze_count() > 0
    finally:
        logging.getLogger("prizeledger.access").disabled = False


@pytest.mark.usefixtures("gc_restored")
def test_a_process_settles_once() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    settle_heap()
    frozen = gc.get_freeze_count()
    later = [object()]
    settle_heap()
    assert gc.get_freeze_count() == frozen
    assert any(o is later for o in gc.get_objects())
