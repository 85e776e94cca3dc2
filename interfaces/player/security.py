"""Who is calling, how much they may call, and whether their request is already running.

- ``authenticate``: the Bearer token must verify (pinned HS256, not expired) and its session must
  still be open: checked in the store once, then trusted as ``interfaces.player.sessions`` says
  (a revocation made in another process takes effect here within about a second; in this
  process at once).
- Budgets: per client IP on every request (``before_request``), per player once authenticated;
  the RateLimit-* headers show the tighter one; over budget → 429 with Retry-After.
- ``idempotency``: money-moving POSTs require an Idempotency-Key. While one request with a key
  runs, another with the same key gets 409 (an in-flight lock in Redis). The durable record is
  the command's receipt in the event store, so a lost lock can never charge twice.
- ``Limits.admit`` (the app's ``before_request``) does all of it for an API route up front, so
  that the budgets and the lock take one throttle call (one Redis round trip) instead of three;
  the dependencies then hand on what it found. Its order of refusals is the one above: over the
  IP budget wins over any other refusal, and no session is looked up in the store before the IP
  budget is spent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias
from weakref import WeakKeyDictionary

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from infrastructure.throttle import Admission, Budget, Throttle
from infrastructure.tokens import AccessTokens, TokenRejected
from interfaces.http import before_response, client_ip
from interfaces.player.sessions import SessionChecks
from interfaces.problems import ApiError

__all__ = [
    "SIGNED_IN_MONEY",
    "Authenticator",
    "Caller",
    "IdempotencyKey",
    "Limits",
    "admitted",
    "provide_caller",
    "provide_idempotency",
]

# request.state keys: what Limits.admit found, for provide_caller and provide_idempotency.
ADMITTED_CALLER = "admitted_caller"
HELD_KEY = "held_idempotency_key"
VERIFIED_TOKENS = 50_000  # tokens whose signature and claims checked out, kept per process
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


class Authenticator:
    def __init__(self, tokens: AccessTokens, sessions: SessionChecks) -> None:
        self.tokens = tokens
        self.sessions = sessions
        # token -> (its caller, its exp): a token verifies once; until it expires only the
        # session check (below) can end it, so its HMAC and claims need no second look.
        self._verified: dict[str, tuple[Caller, int]] = {}

    async def caller(self, request: Request[Any, Any, Any]) -> Caller:
        caller = self.verified(request)
        if not await self.is_open(caller):
            raise session_revoked()
        return caller

    def verified(self, request: Request[Any, Any, Any]) -> Caller:
        """The caller its Bearer token names, once the token verifies (no session check)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "unauthenticated",
                "sign in: send 'Authorization: Bearer <access token>'",
                {"WWW-Authenticate": "Bearer"},
            )
        token = token.strip()
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:  # PyJWT's own test of "exp"
            return known[0]
        try:
            claims = self.tokens.verify(token)
        except TokenRejected as error:
            raise ApiError(
                401, error.code, str(error), {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None
        caller = Caller(claims.player_id, claims.account_id, claims.session_id)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (caller, claims.expires_at)
        return caller

    def known_open(self, caller: Caller) -> bool:
        """Whether the session's trusted check says it is open (no store lookup)."""
        return self.sessions.trusted(caller.session_id)

    async def is_open(self, caller: Caller) -> bool:
        """Whether the caller's session is still open (the same check a Bearer request gets;
        the web pages' cookie sessions use it too)."""
        if self.sessions.trusted(caller.session_id):
            return True
        return await self.sessions.check(caller.account_id, caller.session_id)

    def forget(self, session_id: str) -> None:
        """This process revoked the session: stop trusting its check at once."""
        self.sessions.forget(session_id)


def session_revoked() -> ApiError:
    return ApiError(
        401,
        "session_revoked",
        "this session has ended; sign in again",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


@dataclass(frozen=True, slots=True)
class Needs:
    """What a route's dependencies take from its request: a signed-in caller (``caller``), an
    Idempotency-Key with its in-flight lock (``idempotency``)."""

    caller: bool
    money: bool


class Limits:
    """Request budgets per client IP and per player."""

    def __init__(self, throttle: Throttle, per_ip: int, per_player: int) -> None:
        self.throttle = throttle
        self.per_ip = per_ip
        self.per_player = per_player
        self._needs: WeakKeyDictionary[Any, Needs] = WeakKeyDictionary()

    async def spend_ip(self, request: Request[Any, Any, Any]) -> None:
        await self._spend(request, self._ip_budget(request))

    async def spend_player(self, request: Request[Any, Any, Any], caller: Caller) -> None:
        await self._spend(request, self._player_budget(caller))

    def _ip_budget(self, request: Request[Any, Any, Any]) -> tuple[str, int]:
        return f"ip:{client_ip(request.scope)}", self.per_ip

    def _player_budget(self, caller: Caller) -> tuple[str, int]:
        return f"player:{caller.player_id}", self.per_player

    async def _spend(self, request: Request[Any, Any, Any], budget: tuple[str, int]) -> None:
        self._record(request, await self.throttle.admit([budget]))

    async def admit(
        self,
        request: Request[Any, Any, Any],
        authenticator: Authenticator,
        first: Callable[[Request[Any, Any, Any]], None] | None = None,
    ) -> None:
        """Spend the IP budget, then run ``first`` (checks that refuse before authentication);
        for a route that takes the caller (and an Idempotency-Key) also authenticate, spend the
        player's budget and take the in-flight lock — one throttle call in all when the
        session's check is cached. The lock is released before the response starts."""
        needs = self.needs(request)
        budgets = [self._ip_budget(request)]
        if not needs.caller:
            await self._spend(request, budgets[0])
            if first is not None:
                first(request)
            return
        try:
            if first is not None:
                first(request)
            caller = authenticator.verified(request)
        except ApiError:
            await self._spend(request, budgets[0])  # over the IP budget: a 429 instead
            raise
        if not authenticator.known_open(caller):
            await self._spend(request, budgets.pop())  # before the store is asked
            if not await authenticator.is_open(caller):
                raise session_revoked()
        budgets.append(self._player_budget(caller))
        try:
            key = idempotency_key(request) if needs.money else None
        except ApiError:
            self._record(request, await self.throttle.admit(budgets))  # a 429 comes first
            raise
        lock = f"{caller.player_id}:{key}"
        admission = await self.throttle.admit(
            budgets, (lock, IN_FLIGHT_TTL_S) if key is not None else None
        )
        self._record(request, admission)
        state = _scope_state(request)
        state[ADMITTED_CALLER] = caller
        if key is None:
            return
        token = admission.token
        if token is None:
            raise in_flight()
        state[HELD_KEY] = key
        self.hold_until_response(request, lock, token)

    def hold_until_response(self, request: Request[Any, Any, Any], lock: str, token: str) -> None:
        """Release the in-flight lock however the request ends (a body over the limit never
        reaches the route), and before the client can see the response and retry."""
        before_response(request.scope, lambda: self.throttle.release(lock, token))

    def needs(self, request: Request[Any, Any, Any]) -> Needs:
        """What the request's route takes: worked out once per route from its dependencies."""
        handler = request.route_handler
        needs = self._needs.get(handler)
        if needs is None:
            needs = self._needs[handler] = _needs_of(handler)
        return needs

    def _record(self, request: Request[Any, Any, Any], admission: Admission) -> None:
        state = _scope_state(request)
        tightest: Budget | None = state.get("budget")
        for budget in admission.budgets:
            if tightest is None or budget.remaining < tightest.remaining:
                tightest = budget
        if tightest is not None and tightest is not state.get("budget"):
            state["budget"] = tightest
            # interfaces.http.RequestContext puts these on the response, errors included.
            state["extra_headers"] = headers_of(tightest)
        exceeded = admission.exceeded
        if exceeded is not None:
            # The RateLimit-* headers are already in request.state (set just above): repeating
            # them here would send each one twice.
            raise ApiError(
                429,
                "rate_limited",
                f"more than {exceeded.limit} requests a minute; slow down",
                {"Retry-After": str(exceeded.reset_s)},
            )


def _needs_of(handler: Any) -> Needs:
    declared = handler.opt.get(ADMISSION)
    if isinstance(declared, Needs):
        return declared
    providers = handler.resolve_dependencies()
    taken: set[str] = set()
    names = list(handler.parsed_fn_signature.parameters)
    while names:
        name = names.pop()
        if name in providers and name not in taken:
            taken.add(name)
            names.extend(providers[name].parsed_fn_signature.parameters)

    def ours(name: str, provider: Callable[..., Any]) -> bool:
        return name in taken and providers[name].dependency is provider

    return Needs(ours("caller", provide_caller), ours("idempotency", provide_idempotency))


def headers_of(budget: Budget) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(budget.limit),
        "RateLimit-Remaining": str(max(budget.remaining, 0)),
        "RateLimit-Reset": str(budget.reset_s),
    }


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    value: str


def _scope_state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    # The scope's own dict: ``request.state`` builds a new State (with its lock) on each use.
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


async def provide_caller(request: Request[Any, Any, Any], state: State) -> Caller:
    admitted: Caller | None = _scope_state(request).get(ADMITTED_CALLER)
    if admitted is not None:
        return admitted  # Limits.admit authenticated it and spent its budgets
    authenticator: Authenticator = state.authenticator
    caller = await authenticator.caller(request)
    await state.limits.spend_player(request, caller)
    return caller


def idempotency_key(request: Request[Any, Any, Any]) -> str:
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
    return key


def in_flight() -> ApiError:
    return ApiError(
        409,
        "idempotency_key_in_flight",
        "a request with this Idempotency-Key is still running; retry when it has finished",
        {"Retry-After": "1"},
    )


async def provide_idempotency(
    request: Request[Any, Any, Any], state: State, caller: SignedIn
) -> IdempotencyKey:
    held: str | None = _scope_state(request).get(HELD_KEY)
    if held is not None:  # Limits.admit took the lock and releases it
        return IdempotencyKey(held)
    limits: Limits = state.limits
    key = idempotency_key(request)
    lock = f"{caller.player_id}:{key}"
    token = await limits.throttle.acquire(lock, IN_FLIGHT_TTL_S)
    if token is None:
        raise in_flight()
    # A plain dependency, not a generator one (no cleanup group to enter on every request):
    # the lock is released as Limits.admit's is, before the response starts.
    limits.hold_until_response(request, lock, token)
    return IdempotencyKey(key)


# What a route declares to get the signed-in player, and the request's Idempotency-Key.
SignedIn: TypeAlias = NamedDependency[Caller]
MoneyKey: TypeAlias = NamedDependency[IdempotencyKey]

# A hot route can take both from ``admitted`` instead, declaring this in its ``opt``: the same
# admission, without Litestar resolving two dependencies (and parsing their signatures) for
# every request.
ADMISSION = "admission"
SIGNED_IN_MONEY: dict[str, Any] = {ADMISSION: Needs(caller=True, money=True)}


async def admitted(request: Request[Any, Any, Any], state: State) -> tuple[Caller, IdempotencyKey]:
    """The caller and the held Idempotency-Key of a route whose ``opt`` is ``SIGNED_IN_MONEY``:
    what ``Limits.admit`` found, else (it did not run) what the two dependencies would give."""
    found = _scope_state(request)
    caller: Caller | None = found.get(ADMITTED_CALLER)
    held: str | None = found.get(HELD_KEY)
    if caller is not None and held is not None:
        return caller, IdempotencyKey(held)
    caller = await provide_caller(request, state)
    return caller, await provide_idempotency(request, state, caller)
