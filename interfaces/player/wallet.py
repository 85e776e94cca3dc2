"""Wallet routes: balances (with ETag), posting history (keyset cursor), deposit limits and the
client seed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, put
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from domain.wallet import LimitPeriod
from interfaces.player.security import SignedIn
from interfaces.player.views import (
    WalletView,
    command_cause,
    wallet_view,
    written_wallet_view,
)
from interfaces.problems import ApiError

__all__ = ["router"]


class PostingView(msgspec.Struct, frozen=True):
    position: int
    line: int
    balance: str
    amount_minor: int
    currency: str
    kind: str
    reference: str | None
    at: str


class HistoryView(msgspec.Struct, frozen=True):
    rows: list[PostingView]
    next_cursor: str | None


class DepositLimitBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    period: Literal["day", "week", "month"]
    # None removes the limit (after the 24 h cooling-off, like any raise).
    limit_minor: Annotated[int, msgspec.Meta(ge=0, le=10**15)] | None


class ClientSeedBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    client_seed: Annotated[
        str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    ]


@get("/wallet", sync_to_thread=True)
def wallet(request: Request[Any, Any, Any], state: State, caller: SignedIn) -> Response[WalletView]:
    """The player's balances in minor units. ``ETag`` is the wallet's version: send it back
    in ``If-None-Match`` to get 304 when nothing changed."""
    view = wallet_view(state.system, caller.player_id)
    etag = f'W/"{view.version}"'
    if request.headers.get("if-none-match") == etag:
        return Response(None, status_code=304, headers={"ETag": etag})  # type: ignore[arg-type]
    return Response(view, headers={"ETag": etag})


@get("/wallet/history", sync_to_thread=True)
def history(
    state: State,
    caller: SignedIn,
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> HistoryView:
    """Postings on the player's balances, newest first. ``next_cursor`` continues the list."""
    try:
        page = state.system.read_models.history(caller.player_id, cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    rows = [
        PostingView(**{f: getattr(r, f) for f in PostingView.__struct_fields__}) for r in page.rows
    ]
    return HistoryView(rows, page.next_cursor)


@put("/wallet/limits", sync_to_thread=True)
def set_limit(state: State, caller: SignedIn, data: JSONBody[DepositLimitBody]) -> WalletView:
    """Responsible play: a deposit limit per rolling day, week or month. Lowering applies at
    once; raising or removing applies after 24 hours."""
    state.system.wallets.set_deposit_limit(
        caller.player_id, LimitPeriod(data.period), data.limit_minor, command_cause(caller)
    )
    return written_wallet_view(state.system, caller.player_id)


@put("/wallet/client-seed", sync_to_thread=True)
def set_client_seed(state: State, caller: SignedIn, data: JSONBody[ClientSeedBody]) -> WalletView:
    """Set the client seed that goes into every later draw's randomness (printable ASCII)."""
    state.system.wallets.set_client_seed(caller.player_id, data.client_seed, command_cause(caller))
    return written_wallet_view(state.system, caller.player_id)


router = Router("/", route_handlers=[wallet, history, set_limit, set_client_seed], tags=["wallet"])
