"""Players and risk: search, one player's whole picture (wallet, recent draws, deposits,
withdrawals, freezes, devices and addresses, risk signals), players associated with one
(sharing a device, an address or a payout destination), freeze and unfreeze by scope, force
logout, manual adjustments under maker-checker, and the suspicious-players list (the risk
score, highest first).

Adjustments: one operator asks (``players.adjust``), a different one approves with a fresh TOTP
code — only then does the balance change (``self_approval_refused`` for the maker) — or anyone
rejects. This is the small ``Adjustment`` aggregate of its own, not a change request: it moves
money in the ledger's own transaction, which change requests (configuration) never do.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from application.adjustments import AdjustmentStatus
from domain.wallet import Balance, FreezeScope
from infrastructure.bootstrap import System
from interfaces.admin.schemas import Cursor, Limit, Listing, ReasonBody, uuid_of
from interfaces.admin.security import Staff
from interfaces.problems import ApiError
from projections.queries import PlayerRow

__all__ = ["router"]

Scope = Literal["account", "gameplay", "deposit", "withdrawal"]
Delta = Annotated[int, msgspec.Meta(ge=-(10**15), le=10**15)]
READ = {"permission": "players.read"}
RISK = {"permission": "risk.read"}
FREEZE = {"permission": "players.freeze"}
ADJUST = {"permission": "players.adjust"}
ADJUST_STEP_UP = {"permission": "players.adjust", "step_up": True}
RECENT = 20  # draws, deposits and withdrawals shown in a player's detail


class FreezeBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scope: Scope  # account blocks everything; the others one kind of activity
    reason: str = ""


class AdjustmentBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    balance: Literal["available", "bonus"]
    delta_minor: Delta  # signed; never zero
    reason: str = ""


class FreezeOut(msgspec.Struct, frozen=True):
    player_id: str
    scope: str
    frozen: bool


class LogoutOut(msgspec.Struct, frozen=True):
    player_id: str
    revoked_sessions: list[str]


class PlayerDetail(msgspec.Struct, frozen=True):
    player: dict[str, Any]
    balance: dict[str, Any] | None  # None until the wallet is projected
    freezes: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    ips: list[dict[str, Any]]
    recent_draws: list[dict[str, Any]]  # newest first
    deposits: Listing  # oldest first; GET /deposits?player= for more
    withdrawals: Listing
    risk: dict[str, Any] | None  # the score and its signals (only with risk.read)


def _player(system: System, player_id: str) -> PlayerRow:
    found = system.read_models.player(player_id)
    if found is None:
        raise ApiError(404, "not_found", f"player {player_id} not found")
    return found


def _draw(row: Any) -> dict[str, Any]:
    out = asdict(row)
    out.pop("results")  # the whole trace is GET /api/v1/draws/{id} territory
    return out


def _payment(row: Any) -> dict[str, Any]:
    out = asdict(row)
    out["amount_minor"] = out.pop("amount")
    return out


@get("/players", sync_to_thread=True, opt=READ)
def search_players(
    state: State,
    q: Annotated[str, QueryParameter(max_length=254, description="e-mail prefix or id")] = "",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Listing:
    """Players whose e-mail starts with ``q`` (case-insensitive) or whose id is ``q``."""
    page = state.system.read_models.players(q, cursor, limit)
    return Listing([asdict(r) for r in page.rows], page.next_cursor)


@get("/players/{player_id:str}", sync_to_thread=True, opt=READ)
def player_detail(state: State, caller: Staff, player_id: FromPath[str]) -> PlayerDetail:
    """Everything an operator needs about one player, from the read models."""
    system: System = state.system
    rm = system.read_models
    row = _player(system, player_id)
    balance = rm.balance(player_id)
    deposits = rm.deposits(None, player_id, None, RECENT)
    withdrawals = rm.withdrawals(None, player_id, None, RECENT)
    scores = rm.risk_scores(0, player_id) if "risk.read" in caller.permissions else None
    return PlayerDetail(
        player=asdict(row),
        balance=asdict(balance) if balance else None,
        freezes=[asdict(f) for f in rm.freezes(player_id)],
        devices=[asdict(d) for d in rm.devices(player_id)],
        ips=[asdict(i) for i in rm.ips(player_id)],
        recent_draws=[_draw(d) for d in rm.draws(player_id, limit=RECENT).rows],
        deposits=Listing([_payment(d) for d in deposits.rows], deposits.next_cursor),
        withdrawals=Listing([_payment(w) for w in withdrawals.rows], withdrawals.next_cursor),
        risk=None if scores is None else (asdict(scores[0]) if scores else _no_risk(player_id)),
    )


def _no_risk(player_id: str) -> dict[str, Any]:
    return {"player_id": player_id, "score": 0, "signals": {}}


@get("/players/{player_id:str}/associations", sync_to_thread=True, opt=RISK)
def associations(state: State, player_id: FromPath[str]) -> list[dict[str, Any]]:
    """Other players on one of this player's devices or addresses, or paying out to one of
    their destinations (``via`` says which; values shared by very many players are left out)."""
    system: System = state.system
    _player(system, player_id)
    return [asdict(a) for a in system.read_models.associations(player_id)]


def _freeze(state: State, caller: Staff, player_id: str, data: FreezeBody, on: bool) -> FreezeOut:
    cause = caller.cause(data.reason)
    wallets = state.system.wallets
    act = wallets.freeze if on else wallets.unfreeze
    act(player_id, FreezeScope(data.scope), cause.reason, cause)
    return FreezeOut(player_id, data.scope, on)


@post("/players/{player_id:str}/freeze", sync_to_thread=True, status_code=200, opt=FREEZE)
def freeze(
    state: State, caller: Staff, player_id: FromPath[str], data: JSONBody[FreezeBody]
) -> FreezeOut:
    """Block a scope of the player's activity until unfrozen (``freeze_unchanged`` if it is
    already)."""
    return _freeze(state, caller, player_id, data, True)


@post("/players/{player_id:str}/unfreeze", sync_to_thread=True, status_code=200, opt=FREEZE)
def unfreeze(
    state: State, caller: Staff, player_id: FromPath[str], data: JSONBody[FreezeBody]
) -> FreezeOut:
    """Lift a freeze of one scope."""
    return _freeze(state, caller, player_id, data, False)


@post("/players/{player_id:str}/force-logout", sync_to_thread=True, status_code=200, opt=FREEZE)
def force_logout(
    state: State, caller: Staff, player_id: FromPath[str], data: JSONBody[ReasonBody]
) -> LogoutOut:
    """End every session of the player (their access tokens stop working within seconds)."""
    cause = caller.cause(data.reason)
    system: System = state.system
    account_id = _player(system, player_id).account_id
    if account_id is None:
        raise ApiError(404, "not_found", f"player {player_id} has no account to sign out")
    revoked = system.accounts.revoke_all_sessions(account_id, cause.reason, cause)
    return LogoutOut(player_id, revoked)


# ---- adjustments -------------------------------------------------------------------------------


@post("/players/{player_id:str}/adjustments", sync_to_thread=True, status_code=201, opt=ADJUST)
def request_adjustment(
    state: State, caller: Staff, player_id: FromPath[str], data: JSONBody[AdjustmentBody]
) -> AdjustmentStatus:
    """Ask for a signed correction of the available or bonus balance; it waits for a different
    operator's approval (POST /adjustments/{id}/approve)."""
    cause = caller.cause(data.reason)
    system: System = state.system
    return system.adjustments.request(
        player_id, Balance(data.balance), data.delta_minor, cause.reason, cause
    )


@get("/adjustments", sync_to_thread=True, opt=READ)
def adjustment_queue(
    state: State,
    adjustment_state: Annotated[
        Literal["requested", "posted", "rejected"] | None, QueryParameter(name="state")
    ] = None,
    player: Annotated[str | None, QueryParameter(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Listing:
    """Adjustments in a state and/or of a player, oldest first (``requested``: to approve)."""
    try:
        page = state.system.read_models.adjustments(adjustment_state, player, cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    return Listing([asdict(r) for r in page.rows], page.next_cursor)


@post(
    "/adjustments/{adjustment_id:str}/approve",
    sync_to_thread=True,
    status_code=200,
    opt=ADJUST_STEP_UP,
)
def approve_adjustment(
    state: State, caller: Staff, adjustment_id: FromPath[str], data: JSONBody[ReasonBody]
) -> AdjustmentStatus:
    """Approve another operator's adjustment: the balance changes now. Needs a fresh TOTP
    code; the maker's own approval is refused (``self_approval_refused``)."""
    cause = caller.cause(data.reason)
    system: System = state.system
    return system.adjustments.approve(uuid_of(adjustment_id, "adjustment"), cause.reason, cause)


@post("/adjustments/{adjustment_id:str}/reject", sync_to_thread=True, status_code=200, opt=ADJUST)
def reject_adjustment(
    state: State, caller: Staff, adjustment_id: FromPath[str], data: JSONBody[ReasonBody]
) -> AdjustmentStatus:
    """Drop an adjustment that was not approved (the maker may withdraw their own)."""
    cause = caller.cause(data.reason)
    system: System = state.system
    return system.adjustments.reject(uuid_of(adjustment_id, "adjustment"), cause.reason, cause)


# ---- risk --------------------------------------------------------------------------------------


@get("/risk/suspicious", sync_to_thread=True, opt=RISK)
def suspicious(
    state: State,
    min_score: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 20,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Players by risk score, highest first: what each signal (velocity hours, rapid
    withdrawals, shared devices, addresses and payout destinations, failed logins) adds."""
    return [asdict(s) for s in state.system.read_models.risk_scores(min_score, None, limit)]


router = Router(
    "/",
    route_handlers=[
        search_players,
        player_detail,
        associations,
        freeze,
        unfreeze,
        force_logout,
        request_adjustment,
        adjustment_queue,
        approve_adjustment,
        reject_adjustment,
        suspicious,
    ],
    tags=["players and risk"],
)
