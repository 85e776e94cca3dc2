"""Runtime configuration: the settings' current values, their history, and the money policy the
deposit and withdrawal use cases apply.

Values change only by publishing a ``config.set`` change request (application.changes), which
calls ``change_in`` inside its own save. Readers on hot paths (every deposit, every gated player
request) use ``cached()``: at most ``max_age_s`` old, refreshed in this process at once after a
publish here, within ``max_age_s`` after one in another process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime

from application.commands import Commands, Unit
from application.errors import NotFound
from domain.cause import Cause
from domain.config import (
    CONFIG_ID,
    SETTINGS,
    ConfigInvalid,
    ConfigValues,
    RuntimeConfig,
)
from domain.errors import InvalidArgument
from domain.policy import MoneyPolicy

__all__ = ["Config", "PolicySource", "SettingChange", "SettingView", "policy_source"]

DEFAULT_MAX_AGE_S = 2.0
# Where a use case reads the money limits in force when it decides.
PolicySource = Callable[[], MoneyPolicy]


def policy_source(policy: MoneyPolicy | PolicySource) -> PolicySource:
    """Fixed limits as a source, or the source itself."""
    if isinstance(policy, MoneyPolicy):
        return lambda: policy
    return policy


@dataclass(frozen=True, slots=True)
class SettingView:
    key: str
    type: str
    description: str
    value: bool | int
    default: bool | int
    version: int  # how many times operators changed it

    @property
    def revision(self) -> str:
        """The key's ETag: a change request drafted against it names this."""
        return revision_of(self.version)


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: str
    value: bool | int
    previous: bool | int
    version: int
    change_id: str
    reason: str
    actor: str
    request_id: str
    at: datetime


def revision_of(version: int) -> str:
    return f"v{version}"


class Config:
    def __init__(
        self,
        commands: Commands,
        defaults: ConfigValues,
        currency: str,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._commands = commands
        self.defaults = defaults
        self._currency = currency
        self._max_age_s = max_age_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, ConfigValues] | None = None

    # ---- reads ---------------------------------------------------------------------------------

    def _stream(self, unit: Unit | None = None) -> RuntimeConfig | None:
        return (unit or Unit(self._commands.ledger)).find(RuntimeConfig, CONFIG_ID)

    def values(self) -> ConfigValues:
        """Every setting's value now (the defaults overlaid with what operators changed)."""
        stream = self._stream()
        values = self.defaults if stream is None else stream.values(self.defaults)
        with self._lock:
            self._cached = (self._monotonic(), values)
        return values

    def cached(self) -> ConfigValues:
        """The values, at most ``max_age_s`` old: for checks on every request."""
        return self.fresh() or self.values()

    def fresh(self) -> ConfigValues | None:
        """The cached values if at most ``max_age_s`` old, else None — never reads the store
        (an event loop asks this first and reads in a worker thread only when it must)."""
        with self._lock:
            cached = self._cached
        if cached is not None and self._monotonic() - cached[0] < self._max_age_s:
            return cached[1]
        return None

    def forget(self) -> None:
        """A change was published here: read it on the next check."""
        with self._lock:
            self._cached = None

    def money_policy(self) -> MoneyPolicy:
        """The money limits in force. Changes are checked against each other when published;
        should a changed default in the environment now contradict an operator's value, the
        environment's policy applies as a whole rather than a policy no rule ever accepted."""
        try:
            return self.cached().money_policy(self._currency)
        except InvalidArgument:
            return self.defaults.money_policy(self._currency)

    def settings(self) -> list[SettingView]:
        stream = self._stream()
        values = self.defaults if stream is None else stream.values(self.defaults)
        return [self._view(key, values, stream) for key in SETTINGS]

    def setting(self, key: str) -> SettingView:
        if key not in SETTINGS:
            raise NotFound(f"no setting {key!r}")
        stream = self._stream()
        values = self.defaults if stream is None else stream.values(self.defaults)
        return self._view(key, values, stream)

    def _view(self, key: str, values: ConfigValues, stream: RuntimeConfig | None) -> SettingView:
        setting = SETTINGS[key]
        return SettingView(
            key=key,
            type=setting.type.value,
            description=setting.description,
            value=values.value(key),
            default=self.defaults.value(key),
            version=0 if stream is None else stream.version_of(key),
        )

    def history(self, key: str) -> list[SettingChange]:
        """Every change of ``key``, newest first (from the stream's events: changes are few)."""
        if key not in SETTINGS:
            raise NotFound(f"no setting {key!r}")
        changes: list[SettingChange] = []
        version = 0
        for e in self._commands.ledger.events.get(CONFIG_ID):
            a = vars(e)
            if type(e).__name__ != "SettingChanged" or a.get("key") != key:
                continue
            version += 1
            changes.append(
                SettingChange(
                    key=key,
                    value=a["value"],
                    previous=a["previous"],
                    version=version,
                    change_id=a["change_id"],
                    reason=a["reason"],
                    actor=a["actor"],
                    request_id=a["request_id"],
                    at=a["timestamp"],
                )
            )
        return changes[::-1]

    # ---- inside a change request's save --------------------------------------------------------

    def revision_in(self, unit: Unit, key: str) -> str:
        check_key(key)
        stream = self._stream(unit)
        return revision_of(0 if stream is None else stream.version_of(key))

    def value_in(self, unit: Unit, key: str) -> bool | int:
        check_key(key)
        stream = self._stream(unit)
        return (self.defaults if stream is None else stream.values(self.defaults)).value(key)

    def simulate_in(
        self, unit: Unit, key: str, value: object, cause: Cause
    ) -> tuple[bool | int, bool | int]:
        """(value now, value after) if ``key`` were set to ``value``: the change is applied to a
        copy of the stream, never saved, so every rule checks it."""
        stream = self._stream(unit)
        copy = RuntimeConfig.open(cause) if stream is None else deepcopy(stream)
        before = copy.values(self.defaults).value(check_key(key))
        copy.change(key, value, self.defaults, "preview", cause)
        return before, copy.values(self.defaults).value(key)

    def change_in(
        self, unit: Unit, key: str, value: object, change_id: str, cause: Cause
    ) -> RuntimeConfig:
        """Record the change on the stream (opened by its first change) inside ``unit``."""
        stream = self._stream(unit)
        if stream is None:
            stream = RuntimeConfig.open(cause)
            unit.add(stream)
        stream.change(key, value, self.defaults, change_id, cause)
        return stream


def check_key(key: str) -> str:
    if key not in SETTINGS:
        raise ConfigInvalid(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    return key
