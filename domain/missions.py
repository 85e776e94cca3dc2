"""Missions: what a player does to earn a reward from the marketing budget.

A mission's terms say what counts (``kind`` and ``target``), how often it can be earned
(``cadence``: once, or once per UTC day), how the reward arrives (``award``: granted
automatically when complete, or claimed by the player), what it pays (``reward_kind`` bonus or
cash, ``reward_minor``) and when it is open (``starts_at``/``ends_at``). Operators create,
change and retire missions through change requests; progress is counted by a projection over the
event log (``projections.rewards``), never by the aggregate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError
from domain.money import MAX_AMOUNT_MINOR

__all__ = [
    "ONCE",
    "RESERVED_SOURCES",
    "AwardMode",
    "Cadence",
    "Mission",
    "MissionExists",
    "MissionInvalid",
    "MissionKind",
    "MissionRetired",
    "MissionTerms",
    "RewardKind",
    "check_mission_key",
    "day_of",
    "period_of",
]

ONCE = "once"  # the period of a one-time mission
# Grant sources that are not missions: a mission may not take their names.
RESERVED_SOURCES = frozenset({"signup", "referral"})
MAX_TITLE = 200
MAX_DRAWS = 10_000
MAX_STREAK_DAYS = 365
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class MissionInvalid(DomainError):
    recorded = False
    code = "mission_invalid"


class MissionExists(DomainError):
    code = "mission_exists"


class MissionRetired(DomainError):
    code = "mission_retired"


class MissionKind(StrEnum):
    DAILY_CHECK_IN = "daily_check_in"  # check in (target 1)
    FIRST_DEPOSIT = "first_deposit"  # the player's very first credited deposit (target 1)
    DRAWS_TODAY = "draws_today"  # target = draws in the day
    DRAW_STREAK = "draw_streak"  # target = consecutive UTC days with at least one draw
    DEPOSIT_TOTAL = "deposit_total"  # target = credited deposits in the period, minor units
    SECURITY_TOTP = "security_totp"  # TOTP enabled on the account (target 1)


class Cadence(StrEnum):
    ONE_TIME = "one_time"
    DAILY = "daily"  # once per UTC day


class AwardMode(StrEnum):
    AUTO = "auto"  # granted as soon as the mission completes
    CLAIM = "claim"  # the player claims it


class RewardKind(StrEnum):
    BONUS = "bonus"  # playable, not withdrawable
    CASH = "cash"  # credited to available


# What each kind can mean: a first deposit or enabling TOTP happens once; a check-in and "draws
# today" are daily by nature.
_CADENCES: dict[MissionKind, frozenset[Cadence]] = {
    MissionKind.DAILY_CHECK_IN: frozenset({Cadence.DAILY}),
    MissionKind.FIRST_DEPOSIT: frozenset({Cadence.ONE_TIME}),
    MissionKind.DRAWS_TODAY: frozenset({Cadence.DAILY}),
    MissionKind.DRAW_STREAK: frozenset({Cadence.ONE_TIME, Cadence.DAILY}),
    MissionKind.DEPOSIT_TOTAL: frozenset({Cadence.ONE_TIME, Cadence.DAILY}),
    MissionKind.SECURITY_TOTP: frozenset({Cadence.ONE_TIME}),
}
_TARGETS: dict[MissionKind, tuple[int, int]] = {
    MissionKind.DAILY_CHECK_IN: (1, 1),
    MissionKind.FIRST_DEPOSIT: (1, 1),
    MissionKind.DRAWS_TODAY: (1, MAX_DRAWS),
    MissionKind.DRAW_STREAK: (1, MAX_STREAK_DAYS),
    MissionKind.DEPOSIT_TOTAL: (1, MAX_AMOUNT_MINOR),
    MissionKind.SECURITY_TOTP: (1, 1),
}


def check_mission_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key) or key in RESERVED_SOURCES:
        raise MissionInvalid(
            f"a mission key is 1..64 of a-z, 0-9, '-', '_' and not one of "
            f"{sorted(RESERVED_SOURCES)}, got {key!r}"
        )
    return key


def day_of(at: datetime) -> str:
    """The UTC day of a moment, e.g. ``2026-01-31``."""
    return at.astimezone(UTC).date().isoformat()


def period_of(cadence: Cadence, at: datetime) -> str:
    """The period a moment belongs to: ``once``, or its UTC day."""
    return ONCE if cadence == Cadence.ONE_TIME else day_of(at)


def _enum(cls: type[StrEnum], name: str, value: object) -> Any:
    try:
        return cls(str(value)) if isinstance(value, str) else cls(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise MissionInvalid(f"{name} must be one of {allowed}, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class MissionTerms:
    """A mission's terms, validated. Stored in events as a plain dict (``to_record``)."""

    title: str
    kind: MissionKind
    target: int
    cadence: Cadence
    award: AwardMode
    reward_kind: RewardKind
    reward_minor: int
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        # Records (and the API) give strings: hold enum members, so comparisons are exact.
        for name, cls in (
            ("kind", MissionKind),
            ("cadence", Cadence),
            ("award", AwardMode),
            ("reward_kind", RewardKind),
        ):
            object.__setattr__(self, name, _enum(cls, name.replace("_", " "), getattr(self, name)))
        if not isinstance(self.title, str) or not self.title.strip() or len(self.title) > MAX_TITLE:
            raise MissionInvalid(f"a mission title is 1..{MAX_TITLE} characters")
        object.__setattr__(self, "title", self.title.strip())
        low, high = _TARGETS[self.kind]
        if type(self.target) is not int or not low <= self.target <= high:
            raise MissionInvalid(f"a {self.kind.value} target is an integer in [{low}, {high}]")
        if self.cadence not in _CADENCES[self.kind]:
            allowed = ", ".join(sorted(c.value for c in _CADENCES[self.kind]))
            raise MissionInvalid(f"a {self.kind.value} mission's cadence is {allowed}")
        if type(self.reward_minor) is not int or not 0 < self.reward_minor <= MAX_AMOUNT_MINOR:
            raise MissionInvalid(f"a reward is an integer in [1, {MAX_AMOUNT_MINOR}] minor units")
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
                raise MissionInvalid("a mission's window is given in timezone-aware times")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise MissionInvalid("a mission must end after it starts")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MissionTerms:
        unknown = set(record) - {f.name for f in fields(cls)}
        if unknown:
            raise MissionInvalid(f"unknown mission fields: {', '.join(sorted(unknown))}")
        try:
            return cls(**record)
        except TypeError as error:  # a required field is missing
            raise MissionInvalid(str(error)) from None

    def to_record(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "kind": str(self.kind),
            "target": self.target,
            "cadence": str(self.cadence),
            "award": str(self.award),
            "reward_kind": str(self.reward_kind),
            "reward_minor": self.reward_minor,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
        }

    def is_open_at(self, at: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at
        )


class Mission(Aggregate):
    """One stream per mission key (``ids.mission_id``). Retiring ends it for good: rewards
    already earned stay payable, nothing new is counted."""

    @staticmethod
    def create_id(mission_key: str, **_: Any) -> UUID:
        return ids.mission_id(mission_key)

    @classmethod
    def create(cls, mission_key: str, terms: MissionTerms, cause: Cause) -> Mission:
        check_mission_key(mission_key)
        return cls(
            mission_key=mission_key,
            terms=terms.to_record(),
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Created")
    def __init__(
        self, mission_key: str, terms: dict[str, Any], actor: str, request_id: str
    ) -> None:
        self.mission_key = mission_key
        self.terms_record = terms
        self.retired = False

    @property
    def terms(self) -> MissionTerms:
        return MissionTerms.from_record(self.terms_record)

    def is_active(self, at: datetime) -> bool:
        return not self.retired and self.terms.is_open_at(at)

    def change(self, terms: MissionTerms, cause: Cause) -> None:
        """New terms from now on. The kind stays (progress already counted means that kind);
        for another kind, retire this mission and create a new one."""
        self._check_not_retired()
        current = self.terms
        if terms.kind != current.kind:
            raise MissionInvalid(
                f"a mission's kind cannot change ({current.kind.value}); create another mission"
            )
        if terms == current:
            raise MissionInvalid("the terms are unchanged")
        self._changed(terms=terms.to_record(), actor=cause.actor, request_id=cause.request_id)

    @event("Changed")
    def _changed(self, terms: dict[str, Any], actor: str, request_id: str) -> None:
        self.terms_record = terms

    def retire(self, cause: Cause) -> None:
        self._check_not_retired()
        self._retired(actor=cause.actor, request_id=cause.request_id)

    @event("Retired")
    def _retired(self, actor: str, request_id: str) -> None:
        self.retired = True

    def _check_not_retired(self) -> None:
        if self.retired:
            raise MissionRetired(f"mission {self.mission_key} is retired")
