"""Console pages: player search, one player's picture (balances, freezes, recent deposits and
withdrawals, the risk score for ``risk.read``) with freeze and unfreeze by scope
(``players.freeze``, with a reason), and the suspicious players (``risk.read``, highest risk
score first). The same read models and use cases as the operator API's players routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from domain.errors import DomainError
from domain.wallet import FreezeScope
from infrastructure.bootstrap import System
from interfaces.admin.console.kit import Form, Req, is_htmx, redirect, refusal, render
from interfaces.admin.security import Staff, StaffCaller
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

READ = {"permission": "players.read"}
RISK = {"permission": "risk.read"}
FREEZE = {"permission": "players.freeze"}
SCOPES = [scope.value for scope in FreezeScope]
Query = Annotated[str | None, QueryParameter(max_length=200)]
Cursor = Annotated[str | None, QueryParameter(max_length=64)]
Done = Annotated[Literal["freeze", "unfreeze"] | None, QueryParameter()]
RECENT = 10
SUSPICIOUS_FROM = 20  # the risk score from which a player is listed


@get("/players", sync_to_thread=True, opt=READ)
def search(request: Req, state: State, q: Query = None, cursor: Cursor = None) -> Response[str]:
    """Players by e-mail prefix or id (htmx: the rows only, as the operator types)."""
    try:
        page = state.system.read_models.players(q or None, cursor, 50)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    template = "_player_rows.html" if is_htmx(request) else "players.html"
    return render(request, template, rows=page.rows, next_cursor=page.next_cursor, q=q or "")


def _picture(system: System, caller: StaffCaller, player_id: str) -> dict[str, Any]:
    rm = system.read_models
    row = rm.player(player_id)
    if row is None:
        raise ApiError(404, "not_found", f"player {player_id} not found")
    risk = rm.risk_scores(0, player_id) if "risk.read" in caller.permissions else None
    return {
        "p": row,
        "balance": rm.balance(player_id),
        "freezes": rm.freezes(player_id),
        "deposits": rm.deposits(None, player_id, None, RECENT).rows,
        "withdrawals": rm.withdrawals(None, player_id, None, RECENT).rows,
        "risk": risk[0] if risk else None,
        "scopes": SCOPES,
        "error": None,
        "done": None,
    }


@get("/players/{player_id:str}", sync_to_thread=True, opt=READ)
def detail(
    request: Req, state: State, caller: Staff, player_id: FromPath[str], done: Done = None
) -> Response[str]:
    """One player, from the read models."""
    return render(
        request, "player.html", **_picture(state.system, caller, player_id) | {"done": done}
    )


def _freeze(
    request: Req,
    system: System,
    caller: StaffCaller,
    player_id: str,
    data: dict[str, str],
    on: bool,
) -> Response[Any]:
    try:
        cause = caller.cause(data.get("reason", ""))
        if data.get("scope") not in SCOPES:
            raise ApiError(400, "scope_required", "choose what to freeze")
        act = system.wallets.freeze if on else system.wallets.unfreeze
        act(player_id, FreezeScope(data["scope"]), cause.reason, cause)
    except (DomainError, ApiError) as error:
        context = _picture(system, caller, player_id) | {"error": refusal(request, error)}
        return render(request, "player.html", 422, **context)
    return redirect(request, f"/players/{player_id}?done={'freeze' if on else 'unfreeze'}")


@post("/players/{player_id:str}/freeze", sync_to_thread=True, opt=FREEZE)
def freeze(
    request: Req, state: State, caller: Staff, player_id: FromPath[str], data: Form
) -> Response[Any]:
    """Block one scope of the player's activity until unfrozen."""
    return _freeze(request, state.system, caller, player_id, data, True)


@post("/players/{player_id:str}/unfreeze", sync_to_thread=True, opt=FREEZE)
def unfreeze(
    request: Req, state: State, caller: Staff, player_id: FromPath[str], data: Form
) -> Response[Any]:
    """Lift the freeze of one scope."""
    return _freeze(request, state.system, caller, player_id, data, False)


@get("/risk", sync_to_thread=True, opt=RISK)
def suspicious(request: Req, state: State) -> Response[str]:
    """Players by risk score, highest first, with the signals behind each score."""
    rows = state.system.read_models.risk_scores(SUSPICIOUS_FROM, None, 100)
    return render(request, "risk.html", rows=rows, threshold=SUSPICIOUS_FROM)


ROUTES = [search, detail, freeze, unfreeze, suspicious]
