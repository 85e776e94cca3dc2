"""Pages: pools with their prize table and exact odds, the draw (htmx fragment with an animated
reveal, multi-draw), the draw history, and "verify this draw" — recomputed in the browser and
by the server's ``domain.fairness.verify_draw``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from domain.cause import Cause
from domain.fairness import verify_draw
from infrastructure.bootstrap import System
from interfaces.player.pages.common import (
    Form,
    RefusalError,
    Req,
    as_struct,
    fresh_key,
    is_htmx,
    money_key,
    refusal,
    render,
)
from interfaces.player.play import POOL_KEY, DrawBody
from interfaces.player.security import SignedIn
from interfaces.player.switches import require_open_async
from interfaces.player.views import DrawRefused, DrawView, draw_view, own_draw, pool_view
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

PoolKey = Annotated[str, POOL_KEY]
Cursor = Annotated[str | None, QueryParameter(max_length=32)]
PAGE = 20
MULTI = (1, 5, 10, 25, 50, 100)


@get("/pools", include_in_schema=False, sync_to_thread=True)
def pools(request: Req, state: State, caller: SignedIn) -> Response[str]:
    """Every pool with its draw cost and status."""
    return render(request, "pools.html", pools=state.system.read_models.pools())


def _panel(
    system: System, pool_key: str, player_id: str, outcome: DrawView | None, error: str | None
) -> dict[str, Any]:
    """What the pool page and its draw panel show; a fresh idempotency key for the next draw."""
    summary = system.pools.summary(pool_key)
    most = int(summary.controls.get("max_multi_draw", 1))
    return {
        "names": {str(p["prize_id"]): str(p["name"]) for p in summary.prizes},
        "pool": pool_view(system, pool_key, player_id),
        "counts": [n for n in MULTI if n <= most],
        "key": fresh_key(),
        "outcome": outcome,
        "error": error,
    }


@get("/pools/{pool_key:str}", include_in_schema=False, sync_to_thread=True)
def pool(request: Req, state: State, caller: SignedIn, pool_key: PoolKey) -> Response[str]:
    """The prize table with each arm's exact odds for you, the commitment, the draw button."""
    return render(
        request, "pool.html", **_panel(state.system, pool_key, caller.player_id, None, None)
    )


@post("/pools/{pool_key:str}/draw", include_in_schema=False)
async def draw(
    request: Req, state: State, caller: SignedIn, pool_key: PoolKey, data: Form
) -> Response[str]:
    """Draw: htmx gets the panel fragment (results to reveal, a new key), a plain form post
    the whole page. The form's key makes a double submit return the first outcome."""
    system: System = state.system
    outcome: DrawView | None = None
    error: str | None = None
    try:
        count = as_struct({"count": data.get("count", "1")}, DrawBody).count
        await require_open_async(system, "draws")
        cause = Cause(caller.actor, money_key(data.get("key", "")))
        done = await system.draws.draw_async(caller.player_id, pool_key, count, cause)
        if done.status == "refused":
            raise DrawRefused(done)
        outcome = draw_view(done)
    except RefusalError as refused:
        error = refusal(request, refused)
    context = await anyio.to_thread.run_sync(
        lambda: _panel(system, pool_key, caller.player_id, outcome, error)
    )
    status = 422 if error else 200
    return render(
        request, "_draw_panel.html" if is_htmx(request) else "pool.html", status, **context
    )


@get("/draws", include_in_schema=False, sync_to_thread=True)
def draws(request: Req, state: State, caller: SignedIn, cursor: Cursor = None) -> Response[str]:
    """Your draws, newest first; "load more" continues with the keyset cursor."""
    try:
        page = state.system.read_models.draws(caller.player_id, cursor, PAGE)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    template = "_draw_rows.html" if is_htmx(request) and cursor else "draws.html"
    return render(request, template, rows=page.rows, next_cursor=page.next_cursor)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The server's check of one draw: ``verified`` (with the arm recomputed), ``mismatch``
    (with why) or ``pending`` (the epoch's seed is still secret)."""

    state: str
    arm: str | None = None
    detail: str | None = None


def _verdict(result: dict[str, Any], seed: str | None) -> Verdict:
    if seed is None:
        return Verdict("pending")
    try:
        return Verdict("verified", arm=verify_draw(result, seed))
    except ValueError as error:
        return Verdict("mismatch", detail=str(error))


@get("/draws/{draw_id:str}", include_in_schema=False, sync_to_thread=True)
def verify(request: Req, state: State, caller: SignedIn, draw_id: FromPath[str]) -> Response[str]:
    """Verify this draw: commitment, revealed seed (once the epoch rotated), client seed and
    nonce; the browser recomputes the pick and the server says what ``verify_draw`` finds."""
    system: System = state.system
    outcome = draw_view(own_draw(system, caller, draw_id))
    seeds = {e.epoch: e.revealed_seed for e in system.pools.epochs(outcome.pool_key)}
    checks = [
        (r, seeds.get(int(r["epoch"])), _verdict(r, seeds.get(int(r["epoch"]))))
        for r in outcome.results
    ]
    return render(request, "verify.html", outcome=outcome, checks=checks)


ROUTES = [pools, pool, draw, draws, verify]
