"""The runtime switches players meet: maintenance mode and the per-feature flags operators set
through ``config.set`` change requests.

Read from ``Config.cached()`` (at most two seconds old in another process; at once after a
publish in this one), so a check costs nothing on the hot path. Maintenance wins over a feature
flag: 503 ``maintenance`` (with Retry-After), else 403 ``feature_disabled``.
"""

from __future__ import annotations

import asyncio
from typing import Literal
from weakref import WeakKeyDictionary

import anyio

from application.config import Config
from domain.config import ConfigValues
from infrastructure.bootstrap import System
from interfaces.problems import ApiError

__all__ = ["MAINTENANCE_RETRY_S", "Feature", "require_open", "require_open_async"]

Feature = Literal["registration", "login", "draws", "deposits", "withdrawals"]
MAINTENANCE_RETRY_S = 60
_OFF: dict[str, str] = {
    "registration": "registration is",
    "login": "signing in is",
    "draws": "draws are",
    "deposits": "deposits are",
    "withdrawals": "withdrawals are",
}


def require_open(system: System, feature: Feature) -> None:
    """Refuse ``feature`` while the platform is in maintenance or the feature is off."""
    _check(system.config.cached(), feature)


async def require_open_async(system: System, feature: Feature) -> None:
    """``require_open`` for async routes: the store is read in a worker thread, and only when
    the cached values are too old — once for all the requests that find them too old together
    (without that, each of them read the store in a thread of its own every two seconds)."""
    values = system.config.fresh()
    if values is None:
        values = await _read_once(system.config)
    _check(values, feature)


# Per Config: the read in flight, and the loop it runs on (the test client's apps run on loops
# of their own).
_reads: WeakKeyDictionary[Config, asyncio.Future[ConfigValues]] = WeakKeyDictionary()


async def _read_once(config: Config) -> ConfigValues:
    loop = asyncio.get_running_loop()
    reading = _reads.get(config)
    if reading is None or reading.done() or reading.get_loop() is not loop:
        reading = _reads[config] = loop.create_task(_read(config))
    # Shielded: a caller that gives up does not cancel the read the others wait for.
    return await asyncio.shield(reading)


async def _read(config: Config) -> ConfigValues:
    return await anyio.to_thread.run_sync(config.cached)


def _check(values: ConfigValues, feature: Feature) -> None:
    if values.maintenance_mode:
        raise ApiError(
            503,
            "maintenance",
            "prizeledger is down for maintenance; try again later",
            {"Retry-After": str(MAINTENANCE_RETRY_S)},
        )
    enabled: bool = getattr(values, f"{feature}_enabled")
    if not enabled:
        raise ApiError(403, "feature_disabled", f"{_OFF[feature]} switched off for now")
