"""The runtime switches' check on async routes: requests that find the cached values too old
together read the store once (in one worker thread) and all get that read's answer."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from domain.config import ConfigValues
from domain.policy import MoneyPolicy
from interfaces.player.switches import require_open_async
from interfaces.problems import ApiError


class SlowConfig:
    """A Config whose cache is always too old and whose store read takes a while."""

    def __init__(self, values: ConfigValues) -> None:
        self.values = values
        self.reads = 0
        self._lock = threading.Lock()

    def fresh(self) -> ConfigValues | None:
        return None

    def cached(self) -> ConfigValues:
        with self._lock:
            self.reads += 1
        time.sleep(0.05)
        return self.values


class FakeSystem:
    def __init__(self, config: SlowConfig) -> None:
        self.config = config


def test_requests_that_find_the_values_old_together_read_them_once() -> None:
    config = SlowConfig(ConfigValues.of(MoneyPolicy(), 1_200, 600))
    system: Any = FakeSystem(config)

    async def together() -> None:
        await asyncio.gather(*(require_open_async(system, "draws") for _ in range(50)))

    asyncio.run(together())
    assert config.reads == 1

    asyncio.run(together())  # too old again (another loop, too): one more read
    assert config.reads == 2


def test_every_waiting_request_gets_the_reads_answer() -> None:
    config = SlowConfig(replace(ConfigValues.of(MoneyPolicy(), 1_200, 600), draws_enabled=False))
    system: Any = FakeSystem(config)

    async def together() -> list[BaseException | None]:
        return await asyncio.gather(
            *(require_open_async(system, "draws") for _ in range(10)), return_exceptions=True
        )

    outcomes = asyncio.run(together())

    assert config.reads == 1
    assert all(isinstance(o, ApiError) and o.code == "feature_disabled" for o in outcomes)
    with pytest.raises(ApiError, match="draws are switched off"):
        asyncio.run(require_open_async(system, "draws"))
