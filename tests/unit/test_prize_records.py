"""Parsing prize and control records is memoised; the checks still run on every new record."""

from __future__ import annotations

import pytest

from domain.errors import InvalidArgument
from domain.prizes import PoolControls, Prize


def _prize_record(**changes: object) -> dict[str, object]:
    record = Prize("gold", "Gold", "cash", 500, 3, stock=10).to_record()
    record.update(changes)
    return record


def test_an_equal_record_is_parsed_once() -> None:
    assert Prize.from_record(_prize_record()) is Prize.from_record(_prize_record())
    controls = PoolControls(miss_weight=7).to_record()
    assert PoolControls.from_record(controls) is PoolControls.from_record(dict(controls))
    assert PoolControls.from_record(controls).miss_weight == 7


def test_a_value_equal_to_a_cached_one_but_of_another_type_is_still_refused() -> None:
    assert Prize.from_record(_prize_record(weight=1)).weight == 1
    with pytest.raises(InvalidArgument, match="weight"):
        Prize.from_record(_prize_record(weight=True))
    with pytest.raises(InvalidArgument, match="reward"):
        Prize.from_record(_prize_record(reward=500.0))
    PoolControls.from_record(PoolControls(pity_streak=1).to_record())
    with pytest.raises(InvalidArgument, match="pity streak"):
        PoolControls.from_record(PoolControls(pity_streak=1).to_record() | {"pity_streak": True})


def test_bad_records_are_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(InvalidArgument, match="unknown controls"):
            PoolControls.from_record({"rtp_target_bps": 9_000, "surprise": [1]})
        with pytest.raises(InvalidArgument, match="unknown controls"):
            PoolControls.from_record({"surprise": 1})
        with pytest.raises(InvalidArgument, match="prize kind"):
            Prize.from_record(_prize_record(kind="gems"))


def test_a_changed_record_gets_its_own_parse() -> None:
    assert Prize.from_record(_prize_record(stock=None)).stock is None
    assert Prize.from_record(_prize_record(stock=9)).stock == 9
    assert Prize.from_record(_prize_record(name="Gold bar")).name == "Gold bar"
