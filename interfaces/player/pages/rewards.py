"""Page: the reward centre — the missions open now with this period's progress, a claim button
for completed ones, today's check-in, what is waiting, paid or refused, and the referral code.
The same read model and use cases as ``GET /api/v1/rewards`` and its claim and check-in routes;
each form carries its own idempotency key, so a double submit claims (or checks in) once."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import State

from application.rewards import GrantOutcome
from domain.cause import Cause
from domain.rewards import referral_code
from infrastructure.bootstrap import System
from interfaces.player.pages.common import (
    Form,
    RefusalError,
    Req,
    fresh_key,
    is_htmx,
    money_key,
    refusal,
    render,
)
from interfaces.player.rewards import SHOWN, SOURCE, GrantRefused
from interfaces.player.security import SignedIn

__all__ = ["ROUTES"]

Source = Annotated[str, SOURCE]


def _panel(
    system: System,
    player_id: str,
    error: str | None = None,
    checked_in: str | None = None,
    claimed: GrantOutcome | None = None,
) -> dict[str, Any]:
    """What the page and its htmx panel show; a fresh idempotency key for every form on it."""
    reads = system.read_models
    missions = reads.player_rewards(player_id, system.clock())
    claimable = {r.mission.mission_key for r in missions if r.state == "claimable"}
    rows = reads.reward_rows(player_id, SHOWN)
    claimable |= {r.source for r in rows if r.state == "claimable"}
    return {
        "missions": missions,
        "rows": rows,
        "claimable": claimable,
        "keys": {source: fresh_key() for source in claimable},
        "check_in_key": fresh_key(),
        "referral_code": referral_code(player_id),
        "checked_in": checked_in,
        "claimed": claimed,
        "error": error,
    }


def _answer(request: Req, context: dict[str, Any]) -> Response[str]:
    """htmx gets the panel (the notice or the refusal, new keys), a plain form post the page."""
    template = "_rewards_panel.html" if is_htmx(request) else "rewards.html"
    return render(request, template, 422 if context["error"] else 200, **context)


@get("/rewards", include_in_schema=False, sync_to_thread=True)
def rewards(request: Req, state: State, caller: SignedIn) -> Response[str]:
    """Your missions with progress and state, claims, the daily check-in, your rewards."""
    return render(request, "rewards.html", **_panel(state.system, caller.player_id))


@post("/rewards/check-in", include_in_schema=False, sync_to_thread=True)
def check_in(request: Req, state: State, caller: SignedIn, data: Form) -> Response[str]:
    """Today's check-in; a second one the same day is refused inline."""
    system: System = state.system
    try:
        cause = Cause(caller.actor, money_key(data.get("key", "")))
        day = system.rewards.check_in(caller.player_id, cause).day
    except RefusalError as refused:
        return _answer(request, _panel(system, caller.player_id, refusal(request, refused)))
    return _answer(request, _panel(system, caller.player_id, checked_in=day))


@post("/rewards/{source:str}/claim", include_in_schema=False, sync_to_thread=True)
def claim(
    request: Req, state: State, caller: SignedIn, source: Source, data: Form
) -> Response[str]:
    """Claim a completed reward; the budget's refusal (or nothing to claim) shows inline."""
    system: System = state.system
    try:
        cause = Cause(caller.actor, money_key(data.get("key", "")))
        outcome = system.rewards.claim(caller.player_id, source, cause)
        if outcome.state != "granted":
            raise GrantRefused(outcome)
    except RefusalError as refused:
        return _answer(request, _panel(system, caller.player_id, refusal(request, refused)))
    return _answer(request, _panel(system, caller.player_id, claimed=outcome))


ROUTES = [rewards, check_in, claim]
