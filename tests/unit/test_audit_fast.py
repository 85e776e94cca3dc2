"""The audit's fast paths (``ops.audit.fast``, the fold's own decoding) agree with the domain
functions and the mapper they stand in for, on generated inputs, tampered ones included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import hypothesis.strategies as st
from eventsourcing.persistence import Mapper, StoredEvent
from hypothesis import given, settings

from domain.draw import Draw
from domain.draws import weigh
from domain.pool import WorkingPool
from domain.postings import moves_for, postings_for
from domain.prizes import PoolControls, Prize
from domain.wallet import Wallet
from infrastructure.transcoder import MsgspecTranscoder
from ops.audit.fast import ANY_PLAYER, pool_exclusion
from ops.audit.fold import _Topic
from tests.property.test_draw_properties import controls, prizes

_DRAWS_SETTLED: type = Wallet.DrawsSettled  # type: ignore[attr-defined]
_EXECUTED_CLASS: type = Draw.Executed  # type: ignore[attr-defined]


def _mapper() -> Mapper[Any]:
    return Mapper(MsgspecTranscoder())


def _stored(event_class: type, state: dict[str, Any], version: int = 1) -> StoredEvent:
    mapper = _mapper()
    return StoredEvent(
        uuid4(),
        version,
        f"{event_class.__module__}:{event_class.__qualname__}",
        mapper.transcoder.encode(state),
    )


_T = datetime(2026, 1, 1, 12, tzinfo=UTC)
_SETTLED = {
    "timestamp": _T,
    "draw_id": "d1",
    "pool_key": "p",
    "player_id": "ann",
    "currency": "EUR",
    "cost_total": 300,
    "from_bonus": 100,
    "from_available": 200,
    "cash_won": 0,
    "bonus_won": 100,
    "nonce": 3,
    "play": {"day": "2026-01-01", "last_draw_at": _T},
    "actor": "player:ann",
    "request_id": "r",
}
_EXECUTED = {
    "timestamp": _T,
    "originator_topic": "domain.draw:Draw",
    "player_id": "ann",
    "pool_key": "p",
    "requested": 1,
    "status": "settled",
    "reason": None,
    "results": [{"index": 0, "nonce": 0, "weights": [["a", 1], ["miss", 2]], "reward": 0}],
    "cost_total": 100,
    "at": _T,
}


def test_the_fold_decodes_as_the_mapper_does() -> None:
    mapper = _mapper()
    for cls, state in ((_DRAWS_SETTLED, _SETTLED), (_EXECUTED_CLASS, _EXECUTED)):
        for extra in ({}, {"class_version": 1}, {"originator_id": "forged"}):
            stored = _stored(cls, {**state, **extra}, version=4)
            topic = _Topic(stored.topic, mapper, {})
            assert topic.fast
            fast = topic.decode(stored.state, stored.originator_version)
            slow = mapper.to_domain_event(stored)
            assert type(fast) is type(slow)
            assert vars(fast) == {k: v for k, v in vars(slow).items() if k != "originator_id"}


def test_what_the_fold_cannot_decode_goes_to_the_mapper() -> None:
    mapper = _mapper()
    topic = _Topic(_stored(_EXECUTED_CLASS, _EXECUTED).topic, mapper, {})
    assert topic.decode(b"\xc1 not msgpack", 1) is None
    assert topic.decode(mapper.transcoder.encode([1, 2]), 1) is None
    assert not _Topic("domain.nowhere:Gone.Event", mapper, {}).fast
    assert not _Topic("domain.pool:PrizePool.Funded", mapper, {}).fast  # folded: the mapper's


@settings(max_examples=400, deadline=None)
@given(
    table=prizes(),
    rules=controls(),
    fund=st.integers(0, 600_000),
    cost=st.integers(1, 200),
    spent=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9_000)), max_size=12),
    drawn=st.integers(0, 20_000),
)
def test_pool_exclusion_is_weighs(
    table: list[Prize],
    rules: PoolControls,
    fund: int,
    cost: int,
    spent: list[tuple[int, int]],
    drawn: int,
) -> None:
    """After wins of the table's prizes at earlier times (stock, budgets and windows used), each
    prize's exclusion at ``drawn`` seconds is the one ``weigh`` gives for a player past every
    player threshold."""
    working = WorkingPool(
        fund=fund,
        stock={p.prize_id: p.stock for p in table},
        windows={},
        controls=rules,
        prizes=table,
    )
    for index, second in sorted(spent, key=lambda s: s[1]):
        working.apply_win(table[index % len(table)], _T + timedelta(seconds=second))
    at = _T + timedelta(seconds=drawn)
    for prize in table:
        weights = weigh([prize], rules, cost, working, ANY_PLAYER, at)
        assert pool_exclusion(prize, rules, working, at) == weights.excluded.get(prize.prize_id)


def test_the_fold_skips_postings_only_for_events_that_have_none() -> None:
    mapper = _mapper()
    assert _Topic(_stored(_DRAWS_SETTLED, _SETTLED).topic, mapper, {}).money
    assert not _Topic(_stored(_EXECUTED_CLASS, _EXECUTED).topic, mapper, {}).money
    credited = "domain.wallet:Wallet.DepositCredited"
    assert _Topic(credited, mapper, {}).money
    assert _Topic("domain.pool:PrizePool.Funded", mapper, {}).money  # the mapper's: asked


def _outcome(make: Any, event: Any) -> Any:
    try:
        return make(event)
    except Exception as error:
        return type(error), str(error)


def _domain_moves(event: Any) -> list[tuple[str, int, str]]:
    return [(p.account, p.amount_minor, p.currency) for p in postings_for(event)]


def test_other_events_moves_are_the_domains() -> None:
    mapper = _mapper()
    for topic, state in (
        ("domain.wallet:Wallet.DepositCredited", {"amount_minor": 5, "currency": "EUR"}),
        ("domain.draw:Draw.Executed", _EXECUTED),
    ):
        stored = StoredEvent(uuid4(), 1, topic, mapper.transcoder.encode(state))
        event = _Topic(topic, mapper, {}).decode(stored.state, 1)
        assert event is not None
        assert _outcome(moves_for, event) == _outcome(_domain_moves, event)
