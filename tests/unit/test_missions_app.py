"""Mission use cases on the embedded system: directly (receipts, retries) and through change
requests (draft → submit → another operator approves → publish in one save)."""

from __future__ import annotations

import uuid

import pytest

from application.errors import NotFound
from application.missions import describe_mission, mission_revision, mission_terms
from domain import ids
from domain.cause import Cause
from domain.changes import ChangeKind, ChangeRequestStale, PreconditionRequired
from domain.errors import IdempotencyKeyReused, SelfApprovalRefused
from domain.missions import Mission, MissionExists, MissionInvalid, MissionRetired
from infrastructure.bootstrap import System

TERMS = {
    "title": "Check in",
    "kind": "daily_check_in",
    "target": 1,
    "cadence": "daily",
    "award": "auto",
    "reward_kind": "bonus",
    "reward_minor": 25,
    "starts_at": None,
    "ends_at": None,
}
_requests = iter(range(1_000_000))


def op(name: str = "alice", reason: str = "promo") -> Cause:
    return Cause(f"operator:{name}", f"req-{next(_requests)}", reason)


def stored(system: System, key: str) -> Mission:
    mission: object = system.ledger.repository.get(ids.mission_id(key))
    assert isinstance(mission, Mission)
    return mission


def test_create_change_and_retire_directly(embedded: System) -> None:
    created = embedded.missions.create("check-in", mission_terms(TERMS), op())
    assert (created.kind, created.reward_minor, created.retired) == ("daily_check_in", 25, False)

    changed = embedded.missions.change(
        "check-in", mission_terms({**TERMS, "reward_minor": 30}), op()
    )
    assert changed.reward_minor == 30
    retired = embedded.missions.retire("check-in", op())
    assert retired.retired
    assert embedded.missions.get("check-in") == retired
    assert stored(embedded, "check-in").version == 3


def test_a_retried_create_replays_and_a_second_create_is_refused(embedded: System) -> None:
    cause = op()
    first = embedded.missions.create("check-in", mission_terms(TERMS), cause)

    assert embedded.missions.create("check-in", mission_terms(TERMS), cause) == first
    with pytest.raises(IdempotencyKeyReused):
        embedded.missions.create("check-in", mission_terms({**TERMS, "title": "Other"}), cause)
    with pytest.raises(MissionExists):
        embedded.missions.create("check-in", mission_terms(TERMS), op())


def test_changes_of_a_missing_or_retired_mission_are_refused(embedded: System) -> None:
    with pytest.raises(NotFound):
        embedded.missions.retire("nope", op())
    embedded.missions.create("check-in", mission_terms(TERMS), op())
    embedded.missions.retire("check-in", op())
    with pytest.raises(MissionRetired):
        embedded.missions.change(
            "check-in", mission_terms({**TERMS, "target": 1, "title": "X"}), op()
        )


def test_terms_from_json_parse_the_window_and_refuse_bad_times() -> None:
    parsed = mission_terms({**TERMS, "starts_at": "2026-01-01T00:00:00+00:00"})
    assert parsed.starts_at is not None
    assert parsed.starts_at.isoformat() == "2026-01-01T00:00:00+00:00"
    with pytest.raises(MissionInvalid):
        mission_terms({**TERMS, "starts_at": "tomorrow"})
    with pytest.raises(MissionInvalid):
        mission_terms({**TERMS, "starts_at": "2026-01-01T00:00:00"})  # no timezone


def test_a_mission_is_created_through_a_change_request(embedded: System) -> None:
    changes = embedded.changes
    draft = changes.draft("mission.create", "check-in", dict(TERMS), None, op("alice"))
    preview = changes.preview(uuid.UUID(draft.change_id))
    assert {row["field"] for row in preview.diff} >= {"title", "kind", "reward_minor"}
    assert preview.problem is None
    with pytest.raises(NotFound):
        embedded.missions.get("check-in")  # a draft changes nothing

    changes.submit(uuid.UUID(draft.change_id), op("alice"))
    with pytest.raises(SelfApprovalRefused):
        changes.approve(uuid.UUID(draft.change_id), op("alice"))
    changes.approve(uuid.UUID(draft.change_id), op("bob"))
    published = changes.publish(uuid.UUID(draft.change_id), op("bob"))

    assert published.state == "published"
    assert embedded.missions.get("check-in").reward_minor == 25


def test_a_mission_change_needs_the_etag_and_goes_stale(embedded: System) -> None:
    embedded.missions.create("check-in", mission_terms(TERMS), op())
    etag = embedded.changes.revision(ChangeKind.MISSION_CHANGE, "check-in")
    assert etag == mission_revision(stored(embedded, "check-in"))
    bigger = {**TERMS, "reward_minor": 40}
    with pytest.raises(PreconditionRequired):
        embedded.changes.draft("mission.change", "check-in", bigger, None, op("alice"))
    draft = embedded.changes.draft("mission.change", "check-in", bigger, etag, op("alice"))
    preview = embedded.changes.preview(uuid.UUID(draft.change_id))
    assert preview.diff == [{"field": "reward_minor", "before": 25, "after": 40}]
    embedded.changes.submit(uuid.UUID(draft.change_id), op("alice"))

    embedded.missions.change("check-in", mission_terms({**TERMS, "reward_minor": 30}), op())

    with pytest.raises(ChangeRequestStale):
        embedded.changes.approve(uuid.UUID(draft.change_id), op("bob"))
    assert embedded.missions.get("check-in").reward_minor == 30


def test_a_mission_is_retired_through_a_change_request(embedded: System) -> None:
    embedded.missions.create("check-in", mission_terms(TERMS), op())
    etag = embedded.changes.revision(ChangeKind.MISSION_RETIRE, "check-in")
    draft = embedded.changes.draft("mission.retire", "check-in", {}, etag, op("alice"))
    change_id = uuid.UUID(draft.change_id)
    preview = embedded.changes.preview(change_id)
    assert preview.diff == [{"field": "retired", "before": False, "after": True}]
    embedded.changes.submit(change_id, op("alice"))
    embedded.changes.approve(change_id, op("bob"))
    embedded.changes.publish(change_id, op("bob"))

    assert describe_mission(stored(embedded, "check-in"))["retired"] is True
