"""Mission: given earlier commands, when one command, then these new events (or this error)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain import ids
from domain.cause import Cause
from domain.missions import (
    AwardMode,
    Cadence,
    Mission,
    MissionInvalid,
    MissionKind,
    MissionRetired,
    MissionTerms,
    RewardKind,
    check_mission_key,
    period_of,
)
from tests.unit.conftest import T0, names, payload, refused

OP = Cause("operator:alice", "r1")
DAY = timedelta(days=1)


def terms(**changes: object) -> MissionTerms:
    base = MissionTerms(
        title="Five draws a day",
        kind=MissionKind.DRAWS_TODAY,
        target=5,
        cadence=Cadence.DAILY,
        award=AwardMode.AUTO,
        reward_kind=RewardKind.BONUS,
        reward_minor=50,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def given_mission(**changes: object) -> Mission:
    mission = Mission.create("five-a-day", terms(**changes), Cause("operator:alice", "given"))
    mission.collect_events()
    return mission


# ---- terms: every kind, and what each may mean ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "cadence"),
    [
        ("daily_check_in", 1, "daily"),
        ("first_deposit", 1, "one_time"),
        ("draws_today", 10, "daily"),
        ("draw_streak", 7, "one_time"),
        ("draw_streak", 3, "daily"),
        ("deposit_total", 50_000, "one_time"),
        ("deposit_total", 5_000, "daily"),
        ("security_totp", 1, "one_time"),
    ],
)
def test_every_kind_accepts_its_cadences_and_targets(kind, target, cadence):
    record = terms(kind=kind, target=target, cadence=cadence).to_record()

    parsed = MissionTerms.from_record(record)

    assert parsed.kind == MissionKind(kind)
    assert parsed.cadence == Cadence(cadence)
    assert parsed.to_record() == record


@pytest.mark.parametrize(
    ("kind", "target", "cadence"),
    [
        ("daily_check_in", 1, "one_time"),  # a check-in is daily by nature
        ("daily_check_in", 2, "daily"),
        ("first_deposit", 1, "daily"),  # there is one first deposit
        ("first_deposit", 2, "one_time"),
        ("draws_today", 1, "one_time"),
        ("draws_today", 0, "daily"),
        ("draws_today", 10_001, "daily"),
        ("draw_streak", 366, "one_time"),
        ("deposit_total", 0, "one_time"),
        ("security_totp", 1, "daily"),
        ("security_totp", 2, "one_time"),
        ("lucky_dip", 1, "daily"),
    ],
)
def test_a_kind_refuses_cadences_and_targets_it_cannot_mean(kind, target, cadence):
    with pytest.raises(MissionInvalid):
        terms(kind=kind, target=target, cadence=cadence)


@pytest.mark.parametrize(
    "changes",
    [
        {"title": " "},
        {"title": "x" * 201},
        {"reward_minor": 0},
        {"reward_minor": 10**15 + 1},
        {"reward_minor": True},
        {"reward_kind": "points"},
        {"award": "maybe"},
        {"starts_at": T0.replace(tzinfo=None)},
        {"starts_at": T0, "ends_at": T0},
    ],
)
def test_bad_terms_are_refused(changes):
    with pytest.raises(MissionInvalid):
        terms(**changes)


def test_a_record_with_unknown_or_missing_fields_is_refused():
    with pytest.raises(MissionInvalid):
        MissionTerms.from_record({**terms().to_record(), "bonus": 1})
    record = terms().to_record()
    del record["target"]
    with pytest.raises(MissionInvalid):
        MissionTerms.from_record(record)


def test_the_window_is_open_from_its_start_until_before_its_end():
    windowed = terms(starts_at=T0, ends_at=T0 + DAY)

    assert not windowed.is_open_at(T0 - timedelta(microseconds=1))
    assert windowed.is_open_at(T0)
    assert not windowed.is_open_at(T0 + DAY)
    assert terms().is_open_at(T0)


def test_a_period_is_once_or_the_utc_day():
    late = T0.replace(hour=23, minute=30)

    assert period_of(Cadence.ONE_TIME, late) == "once"
    assert period_of(Cadence.DAILY, late) == "2026-01-01"
    assert period_of(Cadence.DAILY, late.astimezone(T0.tzinfo) + timedelta(hours=1)) == (
        "2026-01-02"
    )


@pytest.mark.parametrize("key", ["signup", "referral", "Upper", "", "-x", "a" * 65, "a b"])
def test_a_mission_key_is_a_slug_that_is_not_a_reserved_source(key):
    with pytest.raises(MissionInvalid):
        check_mission_key(key)


# ---- the aggregate -------------------------------------------------------------------------


def test_create_records_the_key_and_the_terms():
    mission = Mission.create("five-a-day", terms(), OP)

    events = mission.collect_events()
    assert names(events) == ["Created"]
    assert payload(events[0]) == {
        "mission_key": "five-a-day",
        "terms": terms().to_record(),
        "actor": "operator:alice",
        "request_id": "r1",
    }
    assert mission.id == ids.mission_id("five-a-day")
    assert mission.terms == terms()
    assert mission.is_active(T0)


def test_create_refuses_a_reserved_key():
    with pytest.raises(MissionInvalid):
        Mission.create("signup", terms(), OP)


def test_change_records_the_new_terms():
    mission = given_mission()

    mission.change(terms(target=8, reward_minor=80), OP)

    events = mission.collect_events()
    assert names(events) == ["Changed"]
    assert payload(events[0])["terms"] == terms(target=8, reward_minor=80).to_record()
    assert mission.terms.target == 8


def test_change_refuses_another_kind_and_unchanged_terms():
    mission = given_mission()

    with refused(mission, MissionInvalid):
        mission.change(terms(kind="draw_streak", target=3), OP)
    with refused(mission, MissionInvalid):
        mission.change(terms(), OP)


def test_retire_ends_the_mission_for_good():
    mission = given_mission()

    mission.retire(OP)

    assert names(mission.collect_events()) == ["Retired"]
    assert not mission.is_active(T0)
    with refused(mission, MissionRetired):
        mission.retire(OP)
    with refused(mission, MissionRetired):
        mission.change(terms(target=9), OP)


def test_a_mission_outside_its_window_is_not_active():
    mission = given_mission(starts_at=T0 + DAY)

    assert not mission.is_active(T0)
    assert mission.is_active(T0 + DAY)
