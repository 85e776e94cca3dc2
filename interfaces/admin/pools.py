"""Pools for operators: the list with its statistics, one pool with its configuration, exact
odds and ETag, and the direct actions that are not configuration (fund, defund, pause, resume,
rotate the fairness epoch). Configuration changes go through change requests (/changes)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter
from litestar.response import Response

from application.pools import PoolOdds, PoolSummary
from domain.changes import ChangeKind
from infrastructure.bootstrap import System
from interfaces.admin.security import Staff

__all__ = ["OddsOut", "etag_of", "odds_out", "router"]

POOL_KEY = PathParameter(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="the pool's key")
PoolKey = Annotated[str, POOL_KEY]
Amount = Annotated[int, msgspec.Meta(ge=1, le=10**15)]
READ = {"permission": "pools.read"}
WRITE = {"permission": "pools.write"}
# Money leaves or enters the prize fund: a fresh TOTP code as well.
MONEY = {"permission": "pools.write", "step_up": True}


class PoolListItem(msgspec.Struct, frozen=True):
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    rtp_target_bps: int
    observed_rtp_bps: int | None
    epoch: int
    fund: int
    funded: int
    defunded: int
    draws: int
    wins: int
    cost_total: int
    payout_total: int
    updated_at: str


class OddsRowOut(msgspec.Struct, frozen=True):
    arm: str  # a prize id, or "miss"
    weight: int
    numerator: int
    denominator: int
    probability: float


class OddsOut(msgspec.Struct, frozen=True):
    """The next draw's exact odds for a new player, as the engine weighs them now."""

    rows: list[OddsRowOut]
    excluded: dict[str, str]  # prize id -> why it cannot be won now
    miss_floor: int
    expected_payout_per_draw: float


class PoolOut(msgspec.Struct, frozen=True):
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    fund: int
    epoch: int
    commitment: str
    revision: str  # the ETag: send it as If-Match when drafting a change of this pool
    version: int  # the stream's version (every draw batch moves it)
    controls: dict[str, Any]
    prizes: list[dict[str, Any]]
    stock: dict[str, int | None]
    odds: OddsOut


class AmountBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount_minor: Amount
    reason: str = ""


class ReasonBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: str = ""


class PoolState(msgspec.Struct, frozen=True):
    pool_key: str
    status: str
    fund: int
    epoch: int
    commitment: str
    version: int


def etag_of(revision: str) -> str:
    return f'"{revision}"'


def odds_out(odds: PoolOdds) -> OddsOut:
    return OddsOut(
        rows=[OddsRowOut(**asdict(r)) for r in odds.rows],
        excluded=dict(odds.excluded),
        miss_floor=odds.miss_floor,
        expected_payout_per_draw=odds.expected_payout_per_draw,
    )


def _state(summary: PoolSummary) -> PoolState:
    return PoolState(
        summary.pool_key,
        summary.status,
        summary.fund,
        summary.epoch,
        summary.commitment,
        summary.version,
    )


@get("/pools", sync_to_thread=True, opt=READ)
def list_pools(state: State) -> list[PoolListItem]:
    """Every pool with its draws, payouts and observed RTP (the pool statistics read model)."""
    return [
        PoolListItem(
            pool_key=p.pool_key,
            name=p.name,
            currency=p.currency,
            status=p.status,
            draw_cost=p.draw_cost,
            rtp_target_bps=p.rtp_target_bps,
            observed_rtp_bps=p.observed_rtp_bps,
            epoch=p.epoch,
            fund=p.fund,
            funded=p.funded,
            defunded=p.defunded,
            draws=p.draws,
            wins=p.wins,
            cost_total=p.cost_total,
            payout_total=p.payout_total,
            updated_at=p.updated_at,
        )
        for p in state.system.read_models.pools()
    ]


@get("/pools/{pool_key:str}", sync_to_thread=True, opt=READ)
def get_pool(state: State, pool_key: PoolKey) -> Response[PoolOut]:
    """The pool as the ledger has it now, with the exact odds of the next draw for a new player.
    The ETag is the pool's configuration revision: draft changes with it as If-Match."""
    system: System = state.system
    summary = system.pools.summary(pool_key)
    revision = system.changes.revision(ChangeKind.POOL_UPDATE, pool_key)
    body = PoolOut(
        pool_key=summary.pool_key,
        name=summary.name,
        currency=summary.currency,
        status=summary.status,
        draw_cost=summary.draw_cost,
        fund=summary.fund,
        epoch=summary.epoch,
        commitment=summary.commitment,
        revision=revision,
        version=summary.version,
        controls=summary.controls,
        prizes=summary.prizes,
        stock=summary.stock,
        odds=odds_out(system.pools.odds(pool_key)),
    )
    return Response(body, headers={"ETag": etag_of(revision)})


@post("/pools/{pool_key:str}/fund", sync_to_thread=True, status_code=200, opt=MONEY)
def fund(state: State, caller: Staff, pool_key: PoolKey, data: JSONBody[AmountBody]) -> PoolState:
    """Move money from the house marketing budget into the prize fund (step-up)."""
    cause = caller.cause(data.reason)
    return _state(state.system.pools.fund(pool_key, data.amount_minor, cause))


@post("/pools/{pool_key:str}/defund", sync_to_thread=True, status_code=200, opt=MONEY)
def defund(state: State, caller: Staff, pool_key: PoolKey, data: JSONBody[AmountBody]) -> PoolState:
    """Return part of the prize fund to the marketing budget (step-up)."""
    cause = caller.cause(data.reason)
    return _state(state.system.pools.defund(pool_key, data.amount_minor, cause))


@post("/pools/{pool_key:str}/pause", sync_to_thread=True, status_code=200, opt=WRITE)
def pause(state: State, caller: Staff, pool_key: PoolKey, data: JSONBody[ReasonBody]) -> PoolState:
    """Stop draws on the pool (players get ``pool_paused``) until resumed."""
    cause = caller.cause(data.reason)
    return _state(state.system.pools.pause(pool_key, cause.reason, cause))


@post("/pools/{pool_key:str}/resume", sync_to_thread=True, status_code=200, opt=WRITE)
def resume(state: State, caller: Staff, pool_key: PoolKey, data: JSONBody[ReasonBody]) -> PoolState:
    """Open a paused pool to draws again."""
    cause = caller.cause(data.reason)
    return _state(state.system.pools.resume(pool_key, cause.reason, cause))


@post("/pools/{pool_key:str}/rotate-epoch", sync_to_thread=True, status_code=200, opt=WRITE)
def rotate_epoch(
    state: State, caller: Staff, pool_key: PoolKey, data: JSONBody[ReasonBody]
) -> PoolState:
    """Reveal this epoch's server seed (players can then verify its draws) and commit to a
    fresh one for the next draws."""
    cause = caller.cause(data.reason)
    return _state(state.system.pools.rotate_epoch(pool_key, cause))


router = Router(
    "/",
    route_handlers=[list_pools, get_pool, fund, defund, pause, resume, rotate_epoch],
    tags=["pools"],
)
