"""The async entry of the draw desk returns the same outcome as the blocking one, and retries of
the same request id never re-roll, whichever entry is used."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from application import draw_desk
from application.draw_desk import Pending
from application.errors import ConcurrencyConflict
from domain.cause import Cause
from domain.draws import DrawRequest
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System


def _funded_player(system: System) -> None:
    op = Cause("operator:admin", "setup")
    system.pools.create("wheel", "Wheel", 100, PoolControls(), op)
    system.pools.add_prize(
        "wheel", Prize("gem", "Gem", "cash", 150, 30), Cause("operator:admin", "p")
    )
    system.pools.fund("wheel", 100_000, Cause("operator:admin", "f"))
    system.wallets.open("ann", Cause("player:ann", "open"))
    d = system.deposits.request("ann", 5_000, "EUR", "sandbox", Cause("player:ann", "dep"))
    system.deposits.confirm(UUID(d.deposit_id), "ref", Cause("system:sandbox", "wh"))


def test_concurrent_async_draws_settle_and_retries_return_the_first_outcome(
    embedded: System,
) -> None:
    _funded_player(embedded)

    async def play() -> list[object]:
        causes = [Cause("player:ann", f"d{i}") for i in range(20)]
        first = await asyncio.gather(
            *(embedded.draws.draw_async("ann", "wheel", 1, c) for c in causes)
        )
        again = await asyncio.gather(
            *(embedded.draws.draw_async("ann", "wheel", 1, c) for c in causes)
        )
        assert again == first
        return list(first)

    outcomes = asyncio.run(play())
    assert {o.status for o in outcomes} == {"settled"}  # type: ignore[attr-defined]
    assert embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", "d0")) == outcomes[0]
    won = sum(o.results[0]["reward"] for o in outcomes)  # type: ignore[attr-defined]
    balances = embedded.wallets.balances("ann")
    assert (balances.available, balances.bonus) == (5_000 - 20 * 100 + won, 0)


def test_an_async_caller_that_timed_out_leaves_the_desk_serving(embedded: System) -> None:
    """A timeout cancels the caller's wait, not the request: the desk still settles it (a retry
    of the same id gets that outcome) and keeps serving later draws."""
    _funded_player(embedded)
    desk = embedded.draws.desk
    release = threading.Event()
    original = desk._ledger.save

    def slow_save(*aggregates: object) -> object:
        release.wait(5)
        return original(*aggregates)

    desk._ledger.save = slow_save  # type: ignore[method-assign,assignment]
    try:

        async def impatient() -> None:
            with pytest.raises(TimeoutError):
                await embedded.draws.draw_async("ann", "wheel", 1, Cause("player:ann", "t1"), 0.05)

        asyncio.run(impatient())
    finally:
        release.set()
    first = embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", "t1"))
    assert first.status == "settled"
    later = embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", "t2"))
    assert later.status == "settled"
    assert embedded.wallets.balances("ann").available == 5_000 - 200 + sum(
        o.results[0]["reward"] for o in (first, later)
    )


def test_a_pending_request_is_answered_exactly_once() -> None:
    answers: list[str] = []
    pending = Pending(
        DrawRequest("ann", "wheel", 1, "fp"), Cause("player:ann", "x"), lambda: answers.append("!")
    )
    assert not pending.done()
    with pytest.raises(TimeoutError):
        pending.result(timeout=0.01)
    with pytest.raises(RuntimeError):
        pending.exception()
    error = ConcurrencyConflict("busy")
    pending.set_exception(error)
    assert answers == ["!"]
    assert pending.done()
    assert pending.exception() is error
    for _ in range(2):  # every later read gets the same answer at once
        with pytest.raises(ConcurrencyConflict):
            pending.result(timeout=0)
    with pytest.raises(RuntimeError, match="exactly once"):
        pending.set_exception(error)
    assert answers == ["!"]


def test_a_failure_while_answering_fails_the_open_requests_and_the_desk_goes_on(
    embedded: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _funded_player(embedded)

    def broken(ledger: object, batch: object, held: object = None) -> None:
        raise RuntimeError("answering failed")

    monkeypatch.setattr(draw_desk, "_deliver", broken)
    with pytest.raises(RuntimeError, match="answering failed"):
        embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", "b1"), timeout_s=5)
    monkeypatch.undo()
    # The batch was saved before answering failed: the retry gets the stored outcome.
    retried = embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", "b1"), timeout_s=5)
    assert retried.status == "settled"
    assert embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", "b2")).status == "settled"
    assert embedded.wallets.balances("ann").available == 5_000 - 200 + sum(
        embedded.draws.draw("ann", "wheel", 1, Cause("player:ann", c)).results[0]["reward"]
        for c in ("b1", "b2")
    )


def test_an_answer_the_desk_holds_back_is_there_once_woken_or_when_asked() -> None:
    woken: list[str] = []
    pending = Pending(
        DrawRequest("ann", "wheel", 1, "fp"), Cause("player:ann", "y"), lambda: woken.append("!")
    )
    error = ConcurrencyConflict("held")
    pending._answer(None, error, wake=False)  # what the desk does for a saved batch
    assert pending.done()
    assert woken == []
    with pytest.raises(ConcurrencyConflict):  # a caller whose wait ran out still gets it
        pending.result(timeout=0.01)
    pending.wake()
    pending.wake()
    assert woken == ["!"]
    with pytest.raises(ConcurrencyConflict):
        pending.result(timeout=0)


def test_many_players_at_once_all_get_their_draws(embedded: System) -> None:
    _funded_player(embedded)
    players = [f"p{i}" for i in range(12)]
    for name in players:
        embedded.wallets.open(name, Cause(f"player:{name}", "open"))
        d = embedded.deposits.request(name, 1_000, "EUR", "sandbox", Cause(f"player:{name}", "d"))
        embedded.deposits.confirm(UUID(d.deposit_id), "ref", Cause("system:sandbox", f"wh-{name}"))

    def play(name: str) -> list[str]:
        return [
            embedded.draws.draw(name, "wheel", 1, Cause(f"player:{name}", f"r{n}"), 10).status
            for n in range(5)
        ]

    with ThreadPoolExecutor(len(players)) as pool:
        statuses = list(pool.map(play, players))
    assert statuses == [["settled"] * 5] * len(players)
