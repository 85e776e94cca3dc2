"""The draw use case writes its request fingerprint directly; it must equal the general
fingerprint_of, or a retried request would be refused as a reused idempotency key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from application.commands import fingerprint_of
from application.draws import _fingerprint


def _general(player: object, pool: object, count: object) -> str:
    return fingerprint_of("draw", {"player": player, "pool": pool, "count": count})


@given(st.text(), st.text(), st.integers())
def test_equals_fingerprint_of_for_any_strings_and_integers(
    player: str, pool: str, count: int
) -> None:
    assert _fingerprint(player, pool, count) == _general(player, pool, count)


@given(st.one_of(st.booleans(), st.floats(allow_nan=False), st.text(), st.none()))
def test_other_counts_go_the_general_way(count: object) -> None:
    assert _fingerprint("p1", "wheel", count) == _general("p1", "wheel", count)  # type: ignore[arg-type]


def test_known_cases() -> None:
    for player, pool, count in [
        ("p1", "bench-0", 1),
        ('a"b\\c\u00e9\U0001f600\n\x00', "x", 10**30),
    ]:
        assert _fingerprint(player, pool, count) == _general(player, pool, count)
    assert _fingerprint("p1", "wheel", True) != _fingerprint("p1", "wheel", 1)
