"""Wallet routes: balances (with ETag), posting history (keyset cursor), deposit limits and the
client seed."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, put
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from application.errors import NotFound
from domain.cause import Cause
from domain.wallet import LimitPeriod
from infrastructure.bootstrap import System
from interfaces.player.security import Caller, SignedIn
from interfaces.problems import ApiError

__all__ = ["router"]


class WalletView(msgspec.Struct, frozen=True):
    player_id: str
    currency: str
    available: int
    locked: int
    bonus: int
    version: int


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


def command_cause(caller: Caller) -> Cause:
    """A non-replayable command (settings, not money): a fresh request id each time."""
    return Cause(caller.actor, f"req-{uuid.uuid4().hex}")


def _view(system: System, player_id: str) -> WalletView:
    row = system.read_models.balance(player_id)
    if row is not None:
        return WalletView(
            row.player_id, row.currency, row.available, row.locked, row.bonus, row.version
        )
    # Not projected yet (a wallet opened a moment ago): the write side answers.
    b = system.wallets.balances(player_id)
    return WalletView(b.player_id, b.currency, b.available, b.locked, b.bonus, b.version)


@get("/wallet", sync_to_thread=True)
def wallet(request: Request[Any, Any, Any], state: State, caller: SignedIn) -> Response[WalletView]:
    """The player's balances in minor units. ``ETag`` is the wallet's version: send it back
    in ``If-None-Match`` to get 304 when nothing changed."""
    view = _view(state.system, caller.player_id)
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
    return _write_view(state.system, caller.player_id)


@put("/wallet/client-seed", sync_to_thread=True)
def set_client_seed(state: State, caller: SignedIn, data: JSONBody[ClientSeedBody]) -> WalletView:
    """Set the client seed that goes into every later draw's randomness (printable ASCII)."""
    state.system.wallets.set_client_seed(caller.player_id, data.client_seed, command_cause(caller))
    return _write_view(state.system, caller.player_id)


def _write_view(system: System, player_id: str) -> WalletView:
    try:
        b = system.wallets.balances(player_id)
    except NotFound:
        raise ApiError(404, "not_found", "no wallet") from None
    return WalletView(b.player_id, b.currency, b.available, b.locked, b.bonus, b.version)


router = Router("/", route_handlers=[wallet, history, set_limit, set_client_seed], tags=["wallet"])
