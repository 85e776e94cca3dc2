"""Signing in and an operator's own identity: password + TOTP (or a recovery code), access
tokens, sessions, password, TOTP enrolment and recovery codes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Router, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from application.operators import OperatorSession, OperatorView
from domain.cause import Cause
from interfaces.admin.security import ENROLMENT_SCOPE, Staff, StaffGate
from interfaces.http import client_ip
from interfaces.problems import ApiError

__all__ = ["Email", "OperatorOut", "Password", "operator_out", "router"]

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
TotpCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
RecoveryCode = Annotated[str, msgspec.Meta(min_length=10, max_length=40)]
MAX_LOGIN_ATTEMPTS_PER_MINUTE = 10
SELF = {"signed_in": True}
# A session made before TOTP was enrolled may use these (and nothing else).
ENROLMENT = {"signed_in": True, "enrolment": True}


class LoginBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None


class LoginOut(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str
    expires_in: int  # seconds; POST /auth/refresh for another while the session is open
    session_id: str
    session_expires_at: datetime
    operator_id: str
    roles: list[str]
    enrolment_only: bool  # true: enrol TOTP (POST /auth/totp), then sign in again


class OperatorOut(msgspec.Struct, frozen=True):
    operator_id: str
    email: str
    roles: list[str]
    disabled: bool
    totp_enabled: bool
    recovery_codes_left: int
    created_at: datetime


class MeOut(msgspec.Struct, frozen=True):
    operator: OperatorOut
    permissions: list[str]
    session_id: str
    enrolment_only: bool


class SessionOut(msgspec.Struct, frozen=True):
    session_id: str
    opened_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    enrolment_only: bool
    current: bool


class PasswordChangeBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class TotpEnrolmentOut(msgspec.Struct, frozen=True):
    secret: str
    provisioning_uri: str


class TotpBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: TotpCode


class RecoveryCodesOut(msgspec.Struct, frozen=True):
    recovery_codes: list[str]  # shown this once; each works once in place of a TOTP code


class Accepted(msgspec.Struct, frozen=True):
    status: str


def operator_out(view: OperatorView) -> OperatorOut:
    return OperatorOut(
        view.operator_id,
        view.email,
        view.roles,
        view.disabled,
        view.totp_enabled,
        view.recovery_codes_left,
        view.created_at,
    )


def _gate(state: State) -> StaffGate:
    gate: StaffGate = state.staff_gate
    return gate


# ---- signing in ------------------------------------------------------------------------------


@post("/auth/login", status_code=200, security=[], opt={"public": True})
async def login(
    request: Request[Any, Any, Any], state: State, data: JSONBody[LoginBody]
) -> LoginOut:
    """Sign in with password and a TOTP code (or a recovery code). Before TOTP is enrolled the
    session may only enrol it (``enrolment_only``). Five wrong passwords or codes in a row lock
    the operator for 15 minutes (403 ``operator_locked``)."""
    budget = await state.throttle.spend(
        f"operator-login:{data.email.strip().lower()}", MAX_LOGIN_ATTEMPTS_PER_MINUTE
    )
    if budget.exceeded:
        raise ApiError(
            429,
            "rate_limited",
            "too many sign-in attempts; wait a minute",
            {"Retry-After": str(budget.reset_s)},
        )
    ip = client_ip(dict(request.scope))
    agent = request.headers.get("user-agent", "")[:300]
    cause = Cause("system:operator-login", f"req-{uuid.uuid4().hex}")
    result = await anyio.to_thread.run_sync(
        lambda: state.system.operators.login(
            data.email,
            data.password,
            ip,
            agent,
            cause,
            totp_code=data.totp_code,
            recovery_code=data.recovery_code,
        )
    )
    return _signed_in(state, result)


@post("/auth/refresh", status_code=200, sync_to_thread=True, opt=ENROLMENT)
def refresh(state: State, caller: Staff) -> LoginOut:
    """A new access token for this session (which still ends 8 hours after sign-in)."""
    session = state.system.operators.session(caller.operator_id, caller.session_id)
    if session is None:  # ended since the guard looked
        raise ApiError(401, "session_revoked", "this session has ended; sign in again")
    return _signed_in(state, session)


def _signed_in(state: State, session: OperatorSession) -> LoginOut:
    tokens = _gate(state).tokens
    scope = ENROLMENT_SCOPE if session.enrolment_only else ""
    # Wall-clock time: the token's expiry is checked against it.
    now = datetime.now(UTC)
    token = tokens.issue(session.operator_id, session.operator_id, session.session_id, now, scope)
    return LoginOut(
        access_token=token,
        token_type="Bearer",  # noqa: S106 (the OAuth token type, not a secret)
        expires_in=tokens.ttl_s,
        session_id=session.session_id,
        session_expires_at=session.expires_at,
        operator_id=session.operator_id,
        roles=session.roles,
        enrolment_only=session.enrolment_only,
    )


@post("/auth/logout", sync_to_thread=True, status_code=200, opt=ENROLMENT)
def logout(state: State, caller: Staff) -> Accepted:
    """End this session: its access tokens stop working at once."""
    state.system.operators.revoke_session(
        caller.operator_id, caller.session_id, caller.plain_cause(), "logout"
    )
    return Accepted("signed_out")


@get("/auth/me", sync_to_thread=True, opt=ENROLMENT)
def me(state: State, caller: Staff) -> MeOut:
    """Who you are, what you may do, and whether this session may only enrol TOTP."""
    view = state.system.operators.operator(caller.operator_id)
    return MeOut(
        operator_out(view),
        sorted(caller.permissions),
        caller.session_id,
        caller.enrolment_only,
    )


@get("/auth/sessions", sync_to_thread=True, opt=SELF)
def sessions(state: State, caller: Staff) -> list[SessionOut]:
    """Your open sessions, newest first."""
    return [
        SessionOut(
            s.session_id, s.opened_at, s.expires_at, s.ip, s.user_agent, s.enrolment_only, s.current
        )
        for s in state.system.operators.sessions(caller.operator_id, caller.session_id)
    ]


@delete("/auth/sessions/{session_id:str}", sync_to_thread=True, status_code=200, opt=SELF)
def revoke_session(state: State, caller: Staff, session_id: FromPath[str]) -> Accepted:
    """End one of your sessions (another browser, say)."""
    state.system.operators.revoke_session(caller.operator_id, session_id, caller.plain_cause())
    return Accepted("revoked")


@post("/auth/password", sync_to_thread=True, status_code=200, opt=SELF)
def change_password(state: State, caller: Staff, data: JSONBody[PasswordChangeBody]) -> Accepted:
    """Change your password; every other session is signed out."""
    state.system.operators.change_password(
        caller.operator_id,
        data.current_password,
        data.new_password,
        caller.session_id,
        caller.plain_cause(),
    )
    return Accepted("password_changed")


# ---- TOTP and recovery codes -----------------------------------------------------------------


@post("/auth/totp", sync_to_thread=True, status_code=201, opt=ENROLMENT)
def start_totp(state: State, caller: Staff) -> TotpEnrolmentOut:
    """Start TOTP enrolment: add the secret to an authenticator app, then confirm a code."""
    enrolment = state.system.operators.start_totp(caller.operator_id, caller.plain_cause())
    return TotpEnrolmentOut(enrolment.secret, enrolment.provisioning_uri)


@post("/auth/totp/confirm", sync_to_thread=True, status_code=200, opt=ENROLMENT)
def confirm_totp(state: State, caller: Staff, data: JSONBody[TotpBody]) -> RecoveryCodesOut:
    """Turn TOTP on with a current code. The answer holds your recovery codes, shown this
    once. This session (and any other enrolment-only one) ends: sign in again with a code."""
    issued = state.system.operators.enable_totp(caller.operator_id, data.code, caller.plain_cause())
    return RecoveryCodesOut(issued.codes)


@post(
    "/auth/recovery-codes",
    sync_to_thread=True,
    status_code=201,
    opt={"signed_in": True, "step_up": True},
)
def new_recovery_codes(state: State, caller: Staff) -> RecoveryCodesOut:
    """New recovery codes (needs X-TOTP-Code); every earlier code stops working."""
    issued = state.system.operators.issue_recovery_codes(caller.operator_id, caller.plain_cause())
    return RecoveryCodesOut(issued.codes)


router = Router(
    "/",
    route_handlers=[
        login,
        refresh,
        logout,
        me,
        sessions,
        revoke_session,
        change_password,
        start_totp,
        confirm_totp,
        new_recovery_codes,
    ],
    tags=["sign-in"],
)
