"""Time bounds of read-model queries: any datetime a client can send maps to a bound."""

from datetime import UTC, datetime, timedelta, timezone

from projections.reads.common import _at


def test_a_bound_at_the_edge_of_the_calendar_clamps_instead_of_overflowing():
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    late = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))

    assert _at(early) == "0001-01-01T00:00:00.000000+00:00"
    assert _at(late) == "9999-12-31T23:59:59.999999+00:00"


def test_an_ordinary_bound_is_its_utc_time():
    at = datetime(2026, 1, 1, 13, tzinfo=timezone(timedelta(hours=1)))

    assert _at(at) == _at(datetime(2026, 1, 1, 12, tzinfo=UTC))
