"""domain.hot_events records exactly what the library's @event call records.

For each event the draw path records through the fast helpers, the same command is also run
through the library's own path (calling the @event method or the aggregate class); the events
must be of the same class with the same attributes in the same order (so they are stored alike),
the aggregates must end in the same state, and replaying the stored events must rebuild it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper

from domain import ids
from domain.cause import Cause
from domain.draw import Draw
from domain.wallet import Wallet
from infrastructure.transcoder import MsgspecTranscoder

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CAUSE = Cause("player:p1", "req-1")
PLAY = {
    "day": "2026-11-25",
    "draws_today": 1,
    "last_draw_at": AT,
    "last_win_at": None,
    "spend_since_win": 100,
    "streak": 1,
}


def _state(aggregate: Aggregate) -> dict[str, Any]:
    state = {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
    state.pop("_modified_on")
    state.pop("_created_on", None)
    return state


def _event_state(event: object) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in vars(event).items() if k != "timestamp"]


def _replayed(events: list[Any]) -> Aggregate:
    mapper: Mapper[Any] = Mapper(transcoder=MsgspecTranscoder())
    aggregate = None
    for event in events:
        stored: Any = mapper.to_domain_event(mapper.to_stored_event(event))
        aggregate = stored.mutate(aggregate)
    assert isinstance(aggregate, Aggregate)
    return aggregate


def _funded_wallet() -> Wallet:
    wallet = Wallet.open("p1", "EUR", CAUSE)
    wallet.available, wallet.bonus = 1_000, 50  # only the draw events are compared
    return wallet


def test_wallet_draw_events_match_the_library_path() -> None:
    fast, slow = _funded_wallet(), _funded_wallet()
    for w in (fast, slow):
        w.collect_events()
    fast.settle_draws("d-1", "pool", 200, 40, 10, 2, PLAY, CAUSE)
    slow._draws_settled(  # the library's own path: calling the @event method
        draw_id="d-1",
        pool_key="pool",
        player_id="p1",
        currency="EUR",
        cost_total=200,
        from_bonus=50,
        from_available=150,
        cash_won=40,
        bonus_won=10,
        nonce=2,
        play=PLAY,
        actor=CAUSE.actor,
        request_id=CAUSE.request_id,
    )
    fast.note_refused_draw("d-2", "pool", "draw_cooldown", CAUSE)
    slow._draw_refused(
        draw_id="d-2",
        pool_key="pool",
        reason="draw_cooldown",
        actor=CAUSE.actor,
        request_id=CAUSE.request_id,
    )
    fast_events, slow_events = fast.collect_events(), slow.collect_events()
    assert [type(e) for e in fast_events] == [Wallet.DrawsSettled, Wallet.DrawRefused]  # type: ignore[attr-defined]
    assert [type(e) for e in fast_events] == [type(e) for e in slow_events]
    assert [_event_state(e) for e in fast_events] == [_event_state(e) for e in slow_events]
    assert _state(fast) == _state(slow)
    assert (fast.available, fast.bonus, fast.nonce, fast.version) == (890, 10, 2, slow.version)
    assert fast.modified_on == fast_events[-1].timestamp


def test_wallet_events_replay_to_the_same_state() -> None:
    wallet = Wallet.open("p1", "EUR", CAUSE)
    history = list(wallet.collect_events())
    wallet.note_refused_draw("d-1", "pool", "insufficient_funds", CAUSE)
    history.extend(wallet.collect_events())
    assert _state(_replayed(history)) == _state(wallet)
    wallet.available = 1_000  # as if deposited; the replay below starts from zero instead
    wallet.settle_draws("d-2", "pool", 100, 0, 0, 1, PLAY, CAUSE)
    history.extend(wallet.collect_events())
    replayed = _replayed(history)
    assert isinstance(replayed, Wallet)
    assert (replayed.nonce, replayed.plays, replayed.version) == (1, {"pool": PLAY}, 3)
    assert replayed.available == -100  # the same delta as the live wallet's 1,000 -> 900
    assert wallet.available == 900


def test_draw_record_matches_the_library_path() -> None:
    results = [{"index": 0, "nonce": 0, "outcome": "miss", "reward": 0}]
    args: dict[str, Any] = {
        "player_id": "p1",
        "pool_key": "pool",
        "requested": 1,
        "fingerprint": "fp",
        "results": results,
        "reason": None,
        "cost_total": 100,
        "available_after": 900,
        "bonus_after": 0,
        "at": AT,
        "cause": CAUSE,
    }
    fast = Draw.record(**args)
    given = Draw.record(**args, draw_id=ids.draw_id("p1", CAUSE.request_id))
    slow = Draw(  # the library's own path: calling the class
        player_id="p1",
        pool_key="pool",
        requested=1,
        fingerprint="fp",
        status="settled",
        reason=None,
        results=results,
        cost_total=100,
        available_after=900,
        bonus_after=0,
        at=AT,
        actor=CAUSE.actor,
        request_id=CAUSE.request_id,
    )
    for draw in (fast, given):
        assert draw.id == slow.id == ids.draw_id("p1", "req-1")
        assert _state(draw) == _state(slow)
        assert draw.created_on == draw.modified_on
        events, expected = draw.collect_events(), list(slow.pending_events)
        assert [type(e) for e in events] == [type(e) for e in expected]
        assert [_event_state(e) for e in events] == [_event_state(e) for e in expected]
        assert _state(_replayed(list(events))) == _state(slow)
