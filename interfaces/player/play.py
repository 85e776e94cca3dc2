"""Pools, draws and fairness: what a player can draw, the exact odds, the draw itself, its full
trace, and every epoch's commitment and revealed seed."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from application.draws import DrawOutcome
from application.errors import NotFound
from domain.cause import Cause
from domain.errors import DomainError
from infrastructure.bootstrap import System
from interfaces.player.security import MoneyKey, SignedIn
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


class OddsView(msgspec.Struct, frozen=True):
    arm: str  # a prize id, or "miss"
    name: str
    kind: str | None
    reward: int
    weight: int
    numerator: int
    denominator: int
    probability: float


class PoolView(msgspec.Struct, frozen=True):
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    epoch: int
    commitment: str  # SHA-256 of this epoch's server seed, published before any draw uses it
    odds: list[OddsView]  # for the calling player, as the engine will weigh their next draw
    excluded: dict[str, str]  # prize id -> why it cannot be won right now
    expected_payout_per_draw: float


class DrawBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1


class DrawView(msgspec.Struct, frozen=True):
    draw_id: str
    pool_key: str
    status: str  # settled | refused
    reason: str | None
    requested: int
    cost_total: int
    available_after: int
    bonus_after: int
    results: list[dict[str, Any]]  # per draw: outcome, prize, and the proof to verify it


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
    system: System = state.system
    summary = system.pools.summary(pool_key)
    odds = system.pools.odds(pool_key, caller.player_id)
    prizes = {p["prize_id"]: p for p in summary.prizes}
    rows = [
        OddsView(
            arm=row.arm,
            name=str(prizes.get(row.arm, {}).get("name", "no prize")),
            kind=prizes[row.arm]["kind"] if row.arm in prizes else None,
            reward=int(prizes.get(row.arm, {}).get("reward", 0)),
            weight=row.weight,
            numerator=row.numerator,
            denominator=row.denominator,
            probability=row.probability,
        )
        for row in odds.rows
    ]
    return PoolView(
        pool_key=summary.pool_key,
        name=summary.name,
        currency=summary.currency,
        status=summary.status,
        draw_cost=summary.draw_cost,
        epoch=odds.epoch,
        commitment=odds.commitment,
        odds=rows,
        excluded=odds.excluded,
        expected_payout_per_draw=odds.expected_payout_per_draw,
    )


def _draw_view(outcome: DrawOutcome) -> DrawView:
    return DrawView(
        draw_id=outcome.draw_id,
        pool_key=outcome.pool_key,
        status=outcome.status,
        reason=outcome.reason,
        requested=outcome.requested,
        cost_total=outcome.cost_total,
        available_after=outcome.available_after,
        bonus_after=outcome.bonus_after,
        results=outcome.results,
    )


class DrawRefused(DomainError):
    """A draw the rules refused; charges nothing. ``code`` is the refusal reason."""

    def __init__(self, outcome: DrawOutcome) -> None:
        super().__init__(f"draw refused: {outcome.reason} (draw {outcome.draw_id})")
        self.code = outcome.reason or "draw_refused"


@post("/pools/{pool_key:str}/draws", status_code=201)
async def draw(
    state: State,
    caller: SignedIn,
    idempotency: MoneyKey,
    pool_key: Annotated[str, POOL_KEY],
    data: JSONBody[DrawBody],
) -> DrawView:
    """Draw ``count`` times: the cost is debited, each prize decided and credited, the pool
    updated and the trace kept — in one atomic save. Retrying with the same Idempotency-Key
    returns the same outcome; it never draws again. A refusal (pool paused, insufficient funds,
    limits…) is a 422 with the reason as ``code`` and charges nothing."""
    cause = Cause(caller.actor, idempotency.value)
    outcome = await state.system.draws.draw_async(caller.player_id, pool_key, data.count, cause)
    if outcome.status == "refused":
        raise DrawRefused(outcome)
    return _draw_view(outcome)


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
    try:
        outcome = state.system.draws.get(uuid.UUID(draw_id))
    except (ValueError, NotFound):
        outcome = None
    # Someone else's draw is "not found" too: ids must not reveal what exists.
    if outcome is None or outcome.player_id != caller.player_id:
        raise ApiError(404, "not_found", f"draw {draw_id} not found")
    return _draw_view(outcome)


@get("/fairness/{pool_key:str}/epochs", sync_to_thread=True)
def epochs(state: State, pool_key: Annotated[str, POOL_KEY]) -> list[EpochItem]:
    """Every epoch of the pool: the commitment published before its first draw and, once the
    epoch has ended, the server seed (check SHA-256(seed) == commitment, then verify draws)."""
    return [
        EpochItem(e.epoch, e.commitment, e.revealed_seed)
        for e in state.system.pools.epochs(pool_key)
    ]


_stats_cache: dict[int, tuple[float, StatsView]] = {}


@get("/stats", sync_to_thread=True)
def stats(state: State) -> StatsView:
    """Public draw statistics per pool, covering draws older than the configured delay."""
    system: System = state.system
    now = time.monotonic()
    cached = _stats_cache.get(id(system))
    if cached is not None and now - cached[0] < 30:
        return cached[1]
    until = datetime.now(UTC) - timedelta(seconds=system.settings.stats_delay_s)
    rows = [PublicStats(**asdict(s)) for s in system.read_models.public_stats(until)]
    view = StatsView(until, rows)
    _stats_cache[id(system)] = (now, view)
    return view


router = Router(
    "/",
    route_handlers=[pools, pool, draw, draws, draw_trace, epochs, stats],
    tags=["pools and draws"],
)
