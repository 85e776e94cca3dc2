"""RuntimeConfig: the settings operators change at run time, one stream for the deployment.

The stream holds only what operators changed (``SettingChanged``); a setting never changed has
the deployment's default (environment settings, passed in by the application), so a default
changed in the environment applies until an operator overrides it. Each change records the
value it replaced, so a key's history reads straight off the events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, InvalidArgument
from domain.money import MAX_AMOUNT_MINOR
from domain.policy import MoneyPolicy

__all__ = [
    "CONFIG_ID",
    "SETTINGS",
    "ConfigInvalid",
    "ConfigValues",
    "RuntimeConfig",
    "Setting",
    "SettingType",
    "check_setting",
]

CONFIG_ID = uuid5(ids.LEDGER_NAMESPACE, "runtime_config")
MAX_RATE_PER_MINUTE = 1_000_000


class ConfigInvalid(DomainError):
    """A setting's value has the wrong type, is out of range, or breaks a rule between
    settings (a minimum above its maximum)."""

    recorded = False
    code = "config_invalid"


class SettingType(StrEnum):
    FLAG = "bool"
    AMOUNT = "amount_minor"  # money in minor units of the deployment currency
    RATE = "per_minute"


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    type: SettingType
    description: str


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        Setting("maintenance_mode", SettingType.FLAG, "refuse every gated player action (503)"),
        Setting("registration_enabled", SettingType.FLAG, "players may register"),
        Setting("login_enabled", SettingType.FLAG, "players may sign in"),
        Setting("draws_enabled", SettingType.FLAG, "players may draw"),
        Setting("deposits_enabled", SettingType.FLAG, "players may start deposits"),
        Setting("withdrawals_enabled", SettingType.FLAG, "players may request withdrawals"),
        Setting("deposit_min", SettingType.AMOUNT, "smallest deposit"),
        Setting("deposit_max", SettingType.AMOUNT, "largest deposit"),
        Setting("withdrawal_min", SettingType.AMOUNT, "smallest withdrawal"),
        Setting("withdrawal_max", SettingType.AMOUNT, "largest withdrawal"),
        Setting("withdrawal_daily_cap", SettingType.AMOUNT, "withdrawals per player per day"),
        Setting(
            "large_withdrawal_threshold",
            SettingType.AMOUNT,
            "from this amount a withdrawal needs two approvers and the player's TOTP",
        ),
        Setting("rate_ip_per_minute", SettingType.RATE, "player API requests per IP a minute"),
        Setting(
            "rate_player_per_minute", SettingType.RATE, "player API requests per player a minute"
        ),
    ]
}


def check_setting(key: str, value: object) -> bool | int:
    """The value, if ``key`` is a setting and ``value`` has its type and range."""
    setting = SETTINGS.get(key)
    if setting is None:
        raise ConfigInvalid(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    if setting.type is SettingType.FLAG:
        if type(value) is not bool:
            raise ConfigInvalid(f"{key} must be true or false, got {value!r}")
        return value
    # bool is an int subclass: True is not one unit of money.
    if type(value) is not int:
        raise ConfigInvalid(f"{key} must be an integer, got {value!r}")
    high = MAX_AMOUNT_MINOR if setting.type is SettingType.AMOUNT else MAX_RATE_PER_MINUTE
    if not 1 <= value <= high:
        raise ConfigInvalid(f"{key} must be in [1, {high}], got {value}")
    return value


@dataclass(frozen=True, slots=True)
class ConfigValues:
    """Every setting's value. The limits have no defaults of their own: the deployment's come
    from its money policy and rate budgets (``of``)."""

    deposit_min: int
    deposit_max: int
    withdrawal_min: int
    withdrawal_max: int
    withdrawal_daily_cap: int
    large_withdrawal_threshold: int
    rate_ip_per_minute: int
    rate_player_per_minute: int
    maintenance_mode: bool = False
    registration_enabled: bool = True
    login_enabled: bool = True
    draws_enabled: bool = True
    deposits_enabled: bool = True
    withdrawals_enabled: bool = True

    @classmethod
    def of(cls, policy: MoneyPolicy, rate_ip: int, rate_player: int) -> ConfigValues:
        return cls(
            deposit_min=policy.deposit_min,
            deposit_max=policy.deposit_max,
            withdrawal_min=policy.withdrawal_min,
            withdrawal_max=policy.withdrawal_max,
            withdrawal_daily_cap=policy.withdrawal_daily_cap,
            large_withdrawal_threshold=policy.large_withdrawal_threshold,
            rate_ip_per_minute=rate_ip,
            rate_player_per_minute=rate_player,
        )

    def as_dict(self) -> dict[str, bool | int]:
        return asdict(self)

    def value(self, key: str) -> bool | int:
        if key not in SETTINGS:
            raise ConfigInvalid(f"unknown setting {key!r}")
        value: bool | int = getattr(self, key)
        return value

    def overlaid(self, overrides: Mapping[str, Any]) -> ConfigValues:
        """These values with ``overrides`` (known keys only) on top."""
        return replace(self, **{k: v for k, v in overrides.items() if k in SETTINGS})

    def money_policy(self, currency: str) -> MoneyPolicy:
        """The money limits as the domain's policy (raises InvalidArgument if inconsistent)."""
        return MoneyPolicy(
            currency=currency,
            deposit_min=self.deposit_min,
            deposit_max=self.deposit_max,
            withdrawal_min=self.withdrawal_min,
            withdrawal_max=self.withdrawal_max,
            withdrawal_daily_cap=self.withdrawal_daily_cap,
            large_withdrawal_threshold=self.large_withdrawal_threshold,
        )

    def check(self) -> None:
        """The rules between settings: each minimum at most its maximum, the daily cap at least
        the smallest withdrawal — MoneyPolicy's own rules, so the two can never disagree."""
        try:
            self.money_policy("EUR")
        except InvalidArgument as error:
            raise ConfigInvalid(error.message) from None


class RuntimeConfig(Aggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return CONFIG_ID

    @classmethod
    def open(cls, cause: Cause) -> RuntimeConfig:
        return cls(actor=cause.actor, request_id=cause.request_id)

    @event("Opened")
    def __init__(self, actor: str, request_id: str) -> None:
        # key -> value, for the settings operators changed
        self.overrides: dict[str, bool | int] = {}
        # key -> how many times it changed: the key's version (its ETag)
        self.versions: dict[str, int] = {}

    def values(self, defaults: ConfigValues) -> ConfigValues:
        return defaults.overlaid(self.overrides)

    def version_of(self, key: str) -> int:
        return self.versions.get(key, 0)

    def change(
        self, key: str, value: object, defaults: ConfigValues, change_id: str, cause: Cause
    ) -> None:
        """Set ``key`` to ``value``; the result must satisfy every rule between settings."""
        checked = check_setting(key, value)
        current = self.values(defaults)
        previous = current.value(key)
        if previous == checked:
            raise ConfigInvalid(f"{key} is already {checked!r}")
        current.overlaid({key: checked}).check()
        self._changed(
            key=key,
            value=checked,
            previous=previous,
            change_id=change_id,
            reason=cause.reason,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("SettingChanged")
    def _changed(
        self,
        key: str,
        value: bool | int,
        previous: bool | int,
        change_id: str,
        reason: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.overrides[key] = value
        self.versions[key] = self.versions.get(key, 0) + 1
