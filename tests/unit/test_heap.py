"""The API and projector processes settle their heaps once start-up is done
(``infrastructure.heap``)."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from infrastructure.bootstrap import bootstrap
from infrastructure.heap import PROJECTOR_YOUNG_THRESHOLD, YOUNG_THRESHOLD, settle_heap
from infrastructure.settings import Settings
from interfaces.player.app import create_app
from ops import cli


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


@pytest.mark.usefixtures("gc_restored")
def test_the_projector_command_settles_its_heap_for_catching_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    monkeypatch.setenv("DATABASE_URL", "sqlite::memory:")
    monkeypatch.setenv("PRIZELEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PRIZELEDGER_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("REDIS_URL", raising=False)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    seen: list[tuple[int, int]] = []

    def stop_once_settled() -> None:  # the command runs until SIGTERM
        deadline = time.monotonic() + 30
        while gc.get_threshold()[0] != PROJECTOR_YOUNG_THRESHOLD and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_settled)
    stopper.start()
    try:
        argv = ["projector", "balances", "--no-mail", "--no-live", "--no-sweep"]
        assert cli.main([*argv, "--report-every", "0.05"]) == 0
    finally:
        stopper.join()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    threshold, frozen = seen[0]
    assert threshold == PROJECTOR_YOUNG_THRESHOLD
    assert frozen > 0
