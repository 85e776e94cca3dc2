"""Who is calling the operator app, and whether they may call this route.

Every route declares what it needs in its ``opt``, and the app-level guard ``authorise``
enforces it (a route that declares nothing is refused, so none can be forgotten):

- ``{"public": True}``: anyone (login, health, the schema).
- ``{"permission": "<name>"}``: a signed-in operator whose roles grant that permission
  (``domain.staff.PERMISSIONS``); ``{"signed_in": True}``: any signed-in operator (their own
  identity, sessions and password).
- ``"step_up": True`` besides: the request carries ``X-TOTP-Code`` with a fresh code of that
  operator (403 ``step_up_required`` / ``step_up_invalid``); the code is used up.
- ``"enrolment": True`` besides: open to a session made before TOTP was enrolled; every other
  route answers such a session 403 ``totp_enrolment_required``.

Authentication: a Bearer token of the operator audience (a player's token never verifies here)
whose session is still open and whose operator is enabled, checked against the event store on
every request: a revocation, a disable or a role change takes effect at the next request.
The console's pages (``"console": True``) also take the signed session cookie of a browser
(``CookieAuth``, in ``state.cookie_auth``): the same session check, and a CSRF token and the
form's ``totp`` field where an API client sends headers.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeAlias

import anyio
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from application.operators import Operators
from domain.cause import Cause
from domain.staff import PERMISSIONS, permissions_of
from infrastructure.tokens import AccessTokens, TokenRejected
from interfaces.problems import ApiError

__all__ = [
    "ENROLMENT_SCOPE",
    "CookieAuth",
    "STEP_UP_HEADER",
    "Staff",
    "StaffCaller",
    "StaffGate",
    "authorise",
    "declared_access",
    "provide_staff",
]

STEP_UP_HEADER = "X-TOTP-Code"
ENROLMENT_SCOPE = "enrolment"
MAX_REASON_LENGTH = 1_000
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True, slots=True)
class StaffCaller:
    """The signed-in operator of this request. ``request_id`` is the request's Idempotency-Key
    when it sent one (a retry then replays the first outcome), else a fresh id."""

    operator_id: str
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    session_id: str
    request_id: str = ""
    enrolment_only: bool = False

    @property
    def actor(self) -> str:
        return f"operator:{self.operator_id}"

    def cause(self, reason: str) -> Cause:
        """The cause of a state change: who, through which request, and why. The reason is
        required (1..1000 characters, not blank): 400 ``reason_required`` otherwise."""
        text = reason.strip()
        if not text or len(text) > MAX_REASON_LENGTH:
            raise ApiError(
                400,
                "reason_required",
                f"say why in 'reason' (1..{MAX_REASON_LENGTH} characters): the audit log keeps it",
            )
        return Cause(self.actor, self.request_id, text)

    def plain_cause(self) -> Cause:
        """The cause of an operator's action on their own identity (logout, TOTP), which
        needs no reason."""
        return Cause(self.actor, self.request_id)


class CookieAuth(Protocol):
    """How the console's pages authenticate a browser (``interfaces.admin.console``)."""

    async def check_csrf(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        """Refuse an unsafe request without the CSRF token of its form."""

    def session_of(self, connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str] | None:
        """(operator id, session id) of the request's session cookie, if it is ours."""

    async def form_field(self, connection: ASGIConnection[Any, Any, Any, Any], name: str) -> str:
        """A field of the submitted form ("" when absent)."""


def declared_access(handler: BaseRouteHandler) -> str:
    """What a route asks for: ``public``, ``signed_in``, a permission, or ``""`` (nothing
    declared, or an unknown permission: the route is refused)."""
    opt = handler.opt
    if opt.get("public") is True:
        return "public"
    permission = opt.get("permission")
    if permission is not None:
        return permission if permission in PERMISSIONS else ""
    return "signed_in" if opt.get("signed_in") is True else ""


def _unauthenticated(code: str, detail: str) -> ApiError:
    challenge = "Bearer" if code == "unauthenticated" else 'Bearer error="invalid_token"'
    return ApiError(401, code, detail, {"WWW-Authenticate": challenge})


class StaffGate:
    """Turns a request's Bearer token into a StaffCaller (or a 401)."""

    def __init__(self, tokens: AccessTokens, operators: Operators) -> None:
        self.tokens = tokens
        self.operators = operators

    async def caller(self, connection: ASGIConnection[Any, Any, Any, Any]) -> StaffCaller:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated(
                "unauthenticated", "sign in: send 'Authorization: Bearer <operator token>'"
            )
        try:
            claims = self.tokens.verify(token.strip())
        except TokenRejected as error:
            raise _unauthenticated(error.code, str(error)) from None
        caller = await self.session_caller(claims.subject, claims.session_id, connection)
        if claims.scope == ENROLMENT_SCOPE and not caller.enrolment_only:
            return replace(caller, enrolment_only=True)
        return caller

    async def session_caller(
        self,
        operator_id: str,
        session_id: str,
        connection: ASGIConnection[Any, Any, Any, Any],
        request_id: str | None = None,
    ) -> StaffCaller:
        """The operator of an open session (of a token or of the console's cookie)."""
        session = await anyio.to_thread.run_sync(self.operators.session, operator_id, session_id)
        if session is None:
            raise _unauthenticated("session_revoked", "this session has ended; sign in again")
        roles = frozenset(session.roles)
        return StaffCaller(
            operator_id=session.operator_id,
            email=session.email,
            roles=roles,
            permissions=permissions_of(roles),
            session_id=session.session_id,
            request_id=request_id or _request_id(connection),
            enrolment_only=session.enrolment_only,
        )

    async def step_up(self, caller: StaffCaller, code: str | None, action: str) -> None:
        """A fresh TOTP code of the caller for ``action``, used up (a wrong one counts towards
        the lock)."""
        cause = caller.plain_cause()
        await anyio.to_thread.run_sync(
            lambda: self.operators.step_up(caller.operator_id, code or None, cause, action)
        )


def _request_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    key = connection.headers.get("idempotency-key")
    if key is None:
        return f"req-{uuid.uuid4().hex}"
    if not _KEY.match(key):
        raise ApiError(
            400,
            "idempotency_key_invalid",
            "Idempotency-Key must be 1..100 characters of A-Z a-z 0-9 . _ : -",
        )
    return key


async def authorise(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-level guard: authenticate, then check the route's declared access."""
    access = declared_access(handler)
    cookies: CookieAuth | None = None
    if handler.opt.get("console") is True and "authorization" not in connection.headers:
        cookies = connection.app.state.cookie_auth
        await cookies.check_csrf(connection)
    if access == "public":
        return
    if not access:
        raise ApiError(403, "permission_denied", "this route declares no known permission")
    gate: StaffGate = connection.app.state.staff_gate
    caller = await (
        gate.caller(connection) if cookies is None else _cookie_caller(gate, cookies, connection)
    )
    if caller.enrolment_only and handler.opt.get("enrolment") is not True:
        raise ApiError(
            403,
            "totp_enrolment_required",
            "enrol TOTP first (POST /auth/totp, then /auth/totp/confirm) and sign in again",
        )
    if access != "signed_in" and access not in caller.permissions:
        raise ApiError(403, "permission_denied", f"this needs the {access} permission")
    if handler.opt.get("step_up") is True:
        action = f"{connection.scope.get('method', '')} {connection.url.path}"
        code = connection.headers.get(STEP_UP_HEADER.lower())
        if cookies is not None:
            code = await cookies.form_field(connection, "totp")
        await gate.step_up(caller, code, action)
    connection.state["staff"] = caller


async def _cookie_caller(
    gate: StaffGate, cookies: CookieAuth, connection: ASGIConnection[Any, Any, Any, Any]
) -> StaffCaller:
    """The operator of the console's session cookie; a form's ``key`` is the request id (the
    same form sent twice is one request)."""
    session = cookies.session_of(connection)
    if session is None:
        raise _unauthenticated("unauthenticated", "sign in first")
    key = await cookies.form_field(connection, "key")
    return await gate.session_caller(*session, connection, key if _KEY.match(key) else None)


async def provide_staff(request: Request[Any, Any, Any]) -> StaffCaller:
    caller: StaffCaller | None = request.state.get("staff")
    if caller is None:  # a public route asked for the caller: it has none
        raise _unauthenticated("unauthenticated", "sign in first")
    return caller


# What a route declares, as the parameter ``caller: Staff``, to get the signed-in operator.
Staff: TypeAlias = NamedDependency[StaffCaller]
