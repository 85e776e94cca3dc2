"""The async entry of the draw desk returns the same outcome as the blocking one, and retries of
the same request id never re-roll, whichever entry is used."""

from __future__ import annotations

import asyncio
from uuid import UUID

from domain.cause import Cause
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
