"""Who is calling, how much they may call, and whether their request is already running.

- ``authenticate``: the Bearer token must verify (pinned HS256, not expired) and its session must
  still be open. Session checks are cached for ``SESSION_CACHE_S`` per process, so a revocation
  made in another API process takes effect within that time (in this process at once).
- Budgets: per client IP on every request (``before_request``), per player once authenticated;
  the RateLimit-* headers show the tighter one; over budget → 429 with Retry-After.
- ``idempotency``: money-moving POSTs require an Idempotency-Key. While one request with a key
  runs, another with the same key gets 409 (an in-flight lock in Redis). The durable record is
  the command's receipt in the event store, so a lost lock can never charge twice.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import anyio
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from infrastructure.throttle import Budget, Throttle
from infrastructure.tokens import AccessTokens, TokenRejected
from interfaces.http import client_ip
from interfaces.problems import ApiError

__all__ = [
    "Authenticator",
    "Caller",
    "IdempotencyKey",
    "Limits",
    "provide_caller",
    "provide_idempotency",
]

SESSION_CACHE_S = 2.0
IN_FLIGHT_TTL_S = 30.0
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in player of this request."""

    player_id: str
    account_id: str
    session_id: str

    @property
    def actor(self) -> str:
        return f"player:{self.player_id}"


SessionOpen = Callable[[str, str], bool]


class Authenticator:
    def __init__(self, tokens: AccessTokens, session_open: SessionOpen) -> None:
        self.tokens = tokens
        self._session_open = session_open
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    async def caller(self, request: Request[Any, Any, Any]) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "unauthenticated",
                "sign in: send 'Authorization: Bearer <access token>'",
                {"WWW-Authenticate": "Bearer"},
            )
        try:
            claims = self.tokens.verify(token.strip())
        except TokenRejected as error:
            raise ApiError(
                401, error.code, str(error), {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None
        caller = Caller(claims.player_id, claims.account_id, claims.session_id)
        if not await self._open(caller):
            raise ApiError(
                401,
                "session_revoked",
                "this session has ended; sign in again",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return caller

    async def is_open(self, caller: Caller) -> bool:
        """Whether the caller's session is still open (the same cached check a Bearer request
        gets; the web pages' cookie sessions use it too)."""
        return await self._open(caller)

    async def _open(self, caller: Caller) -> bool:
        now = time.monotonic()
        with self._lock:
            checked = self._checked.get(caller.session_id)
        if checked is not None and now - checked < SESSION_CACHE_S:
            return True
        is_open = await anyio.to_thread.run_sync(
            self._session_open, caller.account_id, caller.session_id
        )
        with self._lock:
            if is_open:
                if len(self._checked) > 100_000:
                    self._checked.clear()
                self._checked[caller.session_id] = now
            else:
                self._checked.pop(caller.session_id, None)
        return is_open

    def forget(self, session_id: str) -> None:
        """This process revoked the session: stop trusting the cached check at once."""
        with self._lock:
            self._checked.pop(session_id, None)


class Limits:
    """Request budgets per client IP and per player."""

    def __init__(self, throttle: Throttle, per_ip: int, per_player: int) -> None:
        self.throttle = throttle
        self.per_ip = per_ip
        self.per_player = per_player

    async def spend_ip(self, request: Request[Any, Any, Any]) -> None:
        await self._spend(request, f"ip:{client_ip(dict(request.scope))}", self.per_ip)

    async def spend_player(self, request: Request[Any, Any, Any], caller: Caller) -> None:
        await self._spend(request, f"player:{caller.player_id}", self.per_player)

    async def _spend(self, request: Request[Any, Any, Any], key: str, limit: int) -> None:
        budget = await self.throttle.spend(key, limit)
        tightest: Budget | None = request.state.get("budget")
        if tightest is None or budget.remaining < tightest.remaining:
            request.state["budget"] = budget
            # interfaces.http.RequestContext puts these on the response, errors included.
            request.state["extra_headers"] = headers_of(budget)
        if budget.exceeded:
            # The RateLimit-* headers are already in request.state (set just above): repeating
            # them here would send each one twice.
            raise ApiError(
                429,
                "rate_limited",
                f"more than {limit} requests a minute; slow down",
                {"Retry-After": str(budget.reset_s)},
            )


def headers_of(budget: Budget) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(budget.limit),
        "RateLimit-Remaining": str(max(budget.remaining, 0)),
        "RateLimit-Reset": str(budget.reset_s),
    }


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    value: str


async def provide_caller(request: Request[Any, Any, Any], state: State) -> Caller:
    authenticator: Authenticator = state.authenticator
    caller = await authenticator.caller(request)
    await state.limits.spend_player(request, caller)
    return caller


async def provide_idempotency(
    request: Request[Any, Any, Any], state: State, caller: SignedIn
) -> AsyncIterator[IdempotencyKey]:
    key = request.headers.get("idempotency-key")
    if key is None:
        raise ApiError(
            400,
            "idempotency_key_required",
            "this request moves money: send an Idempotency-Key header (a unique id per request)",
        )
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "idempotency_key_invalid",
            "Idempotency-Key must be 1..100 characters of A-Z a-z 0-9 . _ : -",
        )
    throttle: Throttle = state.limits.throttle
    lock = f"{caller.player_id}:{key}"
    token = await throttle.acquire(lock, IN_FLIGHT_TTL_S)
    if token is None:
        raise ApiError(
            409,
            "idempotency_key_in_flight",
            "a request with this Idempotency-Key is still running; retry when it has finished",
            {"Retry-After": "1"},
        )
    try:
        yield IdempotencyKey(key)
    finally:
        await throttle.release(lock, token)


# What a route declares to get the signed-in player, and the request's Idempotency-Key.
SignedIn: TypeAlias = NamedDependency[Caller]
MoneyKey: TypeAlias = NamedDependency[IdempotencyKey]
