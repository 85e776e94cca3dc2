"""Mission use cases: create, change and retire missions (operators, through change requests).

``apply_mission_change`` is the entry point a change request's publish calls with its own Unit,
so the mission's event and the change request's ``Published`` event save together; the
``Missions`` methods run the same change as a command of its own (receipts, retries).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.commands import Commands, Unit
from application.errors import NotFound
from domain import ids
from domain.cause import Cause
from domain.errors import InvalidArgument
from domain.missions import Mission, MissionExists, MissionInvalid, MissionTerms

__all__ = [
    "MISSION_CHANGE_KINDS",
    "MissionView",
    "Missions",
    "apply_mission_change",
    "describe_mission",
    "mission_revision",
    "mission_terms",
    "simulate_mission_change",
]

MISSION_CHANGE_KINDS = ("mission.create", "mission.change", "mission.retire")
ABSENT = "absent"  # the revision of a mission that does not exist (yet)


@dataclass(frozen=True, slots=True)
class MissionView:
    mission_key: str
    title: str
    kind: str
    target: int
    cadence: str
    award: str
    reward_kind: str
    reward_minor: int
    starts_at: datetime | None
    ends_at: datetime | None
    retired: bool
    version: int

    @classmethod
    def of(cls, mission: Mission) -> MissionView:
        return cls(
            mission_key=mission.mission_key,
            **mission.terms.to_record(),
            retired=mission.retired,
            version=mission.version,
        )


def mission_terms(payload: Mapping[str, Any]) -> MissionTerms:
    """The terms a change request proposes (its payload, from JSON: the window's times may be
    ISO-8601 text), validated."""
    record = dict(payload)
    for name in ("starts_at", "ends_at"):
        if isinstance(record.get(name), str):
            try:
                record[name] = datetime.fromisoformat(record[name])
            except ValueError:
                raise MissionInvalid(f"{name} must be an ISO-8601 time") from None
    return MissionTerms.from_record(record)


def describe_mission(mission: Mission | None) -> dict[str, Any]:
    """The mission as flat fields, what a change request's diff compares."""
    if mission is None:
        return {}
    return {**mission.terms.to_record(), "retired": mission.retired}


def mission_revision(mission: Mission | None) -> str:
    """A digest of the mission's terms and state (its ETag for change requests)."""
    if mission is None:
        return ABSENT
    canonical = json.dumps(describe_mission(mission), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def simulate_mission_change(
    scratch: Unit, kind: str, mission_key: str, payload: Mapping[str, Any], cause: Cause
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of a mission change, applied inside ``scratch``: a unit the caller
    never saves."""
    before = describe_mission(scratch.find(Mission, ids.mission_id(mission_key)))
    after = apply_mission_change(scratch, kind, mission_key, payload, cause)
    return before, describe_mission(after)


def apply_mission_change(
    unit: Unit, kind: str, mission_key: str, payload: Mapping[str, Any], cause: Cause
) -> Mission:
    """Apply ``mission.create|change|retire`` inside the caller's unit (nothing is saved here).
    ``payload`` is the mission's terms (``MissionTerms`` fields; empty to retire)."""
    mission_id = ids.mission_id(mission_key)
    if kind == "mission.create":
        if unit.find(Mission, mission_id) is not None:
            raise MissionExists(f"mission {mission_key} already exists")
        mission = Mission.create(mission_key, mission_terms(payload), cause)
        unit.add(mission)
        return mission
    if kind not in MISSION_CHANGE_KINDS:
        raise InvalidArgument(f"{kind!r} is not a mission change; known: {MISSION_CHANGE_KINDS}")
    found = unit.find(Mission, mission_id)
    if found is None:
        raise NotFound(f"mission {mission_key} not found")
    mission = found
    if kind == "mission.change":
        mission.change(mission_terms(payload), cause)
    else:
        if payload:
            raise MissionInvalid("retiring a mission takes no terms")
        mission.retire(cause)
    return mission


class Missions:
    def __init__(self, commands: Commands) -> None:
        self._commands = commands

    def create(self, mission_key: str, terms: MissionTerms, cause: Cause) -> MissionView:
        """A new mission, counted from now on (from its window's start)."""
        return self._run("mission.create", mission_key, terms.to_record(), cause)

    def change(self, mission_key: str, terms: MissionTerms, cause: Cause) -> MissionView:
        """New terms (same kind); periods already started keep their target."""
        return self._run("mission.change", mission_key, terms.to_record(), cause)

    def retire(self, mission_key: str, cause: Cause) -> MissionView:
        """Stop counting; rewards already earned stay payable."""
        return self._run("mission.retire", mission_key, {}, cause)

    def get(self, mission_key: str) -> MissionView:
        mission = Unit(self._commands.ledger).find(Mission, ids.mission_id(mission_key))
        if mission is None:
            raise NotFound(f"mission {mission_key} not found")
        return MissionView.of(mission)

    def _run(
        self, kind: str, mission_key: str, payload: dict[str, Any], cause: Cause
    ) -> MissionView:
        def decide(unit: Unit) -> MissionView:
            return MissionView.of(apply_mission_change(unit, kind, mission_key, payload, cause))

        params = {"mission": mission_key, "terms": payload}
        return self._commands.execute(kind, cause, params, decide, MissionView)
