"""Property: the fast moves of a Wallet.DrawsSettled (``domain.postings.moves_for``, which the
ledger projections and ``prizeledger verify`` fold every event with) are the domain's postings
(``postings_for``), in the same order, zero amounts left out as there; an event the domain
refuses is refused the same way."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import given

from domain.postings import draws_settled_moves, moves_for, postings_for
from domain.wallet import Wallet

DRAWS_SETTLED: type = Wallet.DrawsSettled  # type: ignore[attr-defined]
AMOUNTS = ("from_bonus", "from_available", "cost_total", "cash_won", "bonus_won")
NAMES = ("player_id", "currency", "pool_key")


class Text(str):
    """A str subclass: the domain takes it, the fast path leaves it to the domain."""


amounts = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 0, 0, 1]),  # zero amounts are common: a draw that won nothing
)
unusual = st.one_of(st.booleans(), st.floats(allow_nan=False), st.none(), st.text(max_size=3))
names = st.one_of(st.text(min_size=1, max_size=12), st.builds(Text, st.text(max_size=5)))


def as_stored(state: dict[str, Any]) -> Any:
    """An event made the way the mapper makes a stored one: its class and its state."""
    event: Any = object.__new__(DRAWS_SETTLED)
    object.__setattr__(event, "__dict__", state)
    return event


@st.composite
def draws_settled(draw: st.DrawFn) -> Any:
    state: dict[str, Any] = {name: draw(names) for name in NAMES}
    state.update({name: draw(amounts) for name in AMOUNTS})
    odd = draw(st.sampled_from([None, *AMOUNTS, *NAMES]))
    if odd is not None:
        if draw(st.booleans()):
            del state[odd]
        else:
            state[odd] = draw(unusual)
    return as_stored(state)


def outcome(make: Any, event: Any) -> Any:
    try:
        return ("moves", make(event))
    except Exception as error:  # the refusal itself is compared
        return ("refused", type(error), str(error))


def domain_moves(event: Any) -> list[tuple[str, int, str]]:
    return [(p.account, p.amount_minor, p.currency) for p in postings_for(event)]


@given(draws_settled())
def test_moves_are_the_domain_postings(event: Any) -> None:
    assert outcome(moves_for, event) == outcome(domain_moves, event)


@given(draws_settled())
def test_the_fast_path_leaves_only_the_unusual_to_the_domain(event: Any) -> None:
    state = event.__dict__
    usual = all(type(state.get(name)) is str for name in NAMES) and all(
        type(state.get(name)) is int for name in AMOUNTS
    )
    found = draws_settled_moves(event)
    assert (found is not None) == usual
    if found is not None:
        assert found == domain_moves(event)
