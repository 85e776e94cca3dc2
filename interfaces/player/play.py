"""Pools, draws and fairness: what a player can draw, the exact odds, the draw itself, its full
trace, and every epoch's commitment and revealed seed."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.cause import Cause
from infrastructure.bootstrap import System
from interfaces.player.security import SIGNED_IN_MONEY, SignedIn, admitted
from interfaces.player.switches import require_open_async
from interfaces.player.views import DrawRefused, DrawView, PoolView, draw_view, own_draw, pool_view
from interfaces.problems import ApiError

__all__ = ["router"]

POOL_KEY = PathParameter(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="the pool's key")


class PoolListItem(msgspec.Struct, frozen=True):
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    epoch: int


class DrawBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1


class DrawPage(msgspec.Struct, frozen=True):
    rows: list[dict[str, Any]]
    next_cursor: str | None


class EpochItem(msgspec.Struct, frozen=True):
    epoch: int
    commitment: str
    revealed_seed: str | None


class PublicStats(msgspec.Struct, frozen=True):
    pool_key: str
    requests: int
    draws: int
    winning_requests: int
    cost_total: int
    won_total: int


class StatsView(msgspec.Struct, frozen=True):
    until: datetime
    pools: list[PublicStats]


@get("/pools", sync_to_thread=True)
def pools(state: State) -> list[PoolListItem]:
    """Every pool with its draw cost and status."""
    return [
        PoolListItem(p.pool_key, p.name, p.currency, p.status, p.draw_cost, p.epoch)
        for p in state.system.read_models.pools()
    ]


@get("/pools/{pool_key:str}", sync_to_thread=True)
def pool(state: State, caller: SignedIn, pool_key: Annotated[str, POOL_KEY]) -> PoolView:
    """The pool with each prize's exact current probability for you (the miss arm included),
    computed by the same code the engine draws with, and the epoch's fairness commitment."""
    return pool_view(state.system, pool_key, caller.player_id)


@post("/pools/{pool_key:str}/draws", status_code=201, opt=SIGNED_IN_MONEY)
async def draw(
    state: State,
    request: Request[Any, Any, Any],
    pool_key: Annotated[str, POOL_KEY],
    data: JSONBody[DrawBody],
) -> DrawView:
    """Draw ``count`` times: the cost is debited, each prize decided and credited, the pool
    updated and the trace kept — in one atomic save. Retrying with the same Idempotency-Key
    returns the same outcome; it never draws again. A refusal (pool paused, insufficient funds,
    limits…) is a 422 with the reason as ``code`` and charges nothing."""
    # The signed-in caller and the Idempotency-Key from the admission (SIGNED_IN_MONEY).
    caller, idempotency = await admitted(request, state)
    await require_open_async(state.system, "draws")
    cause = Cause(caller.actor, idempotency.value)
    outcome = await state.system.draws.draw_async(caller.player_id, pool_key, data.count, cause)
    if outcome.status == "refused":
        raise DrawRefused(outcome)
    return draw_view(outcome)


@get("/draws", sync_to_thread=True)
def draws(
    state: State,
    caller: SignedIn,
    cursor: Annotated[str | None, QueryParameter(max_length=32)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> DrawPage:
    """Your draw requests, newest first (the draws read model)."""
    try:
        page = state.system.read_models.draws(caller.player_id, cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    return DrawPage([asdict(row) for row in page.rows], page.next_cursor)


@get("/draws/{draw_id:str}", sync_to_thread=True)
def draw_trace(
    state: State,
    caller: SignedIn,
    draw_id: Annotated[str, PathParameter(max_length=64)],
) -> DrawView:
    """One of your draws with its full trace (inputs, weights, proof, outcome, balances after)."""
    return draw_view(own_draw(state.system, caller, draw_id))


@get("/fairness/{pool_key:str}/epochs", sync_to_thread=True)
def epochs(state: State, pool_key: Annotated[str, POOL_KEY]) -> list[EpochItem]:
    """Every epoch of the pool: the commitment published before its first draw and, once the
    epoch has ended, the server seed (check SHA-256(seed) == commitment, then verify draws)."""
    return [
        EpochItem(e.epoch, e.commitment, e.revealed_seed)
        for e in state.system.pools.epochs(pool_key)
    ]


STATS_CACHE = timedelta(seconds=30)


@get("/stats", sync_to_thread=True)
def stats(state: State) -> StatsView:
    """Public draw statistics per pool, covering draws older than the configured delay."""
    system: System = state.system
    # The system's clock: draws are stamped with it, so the delay is measured on the same time.
    until = system.clock() - timedelta(seconds=system.settings.stats_delay_s)
    # Cached per app (a module-level cache keyed by id(system) could serve another app's view).
    cached: StatsView | None = state.get("public_stats")
    if cached is not None and timedelta(0) <= until - cached.until < STATS_CACHE:
        return cached
    rows = [PublicStats(**asdict(s)) for s in system.read_models.public_stats(until)]
    view = StatsView(until, rows)
    state["public_stats"] = view
    return view


router = Router(
    "/",
    route_handlers=[pools, pool, draw, draws, draw_trace, epochs, stats],
    tags=["pools and draws"],
)
