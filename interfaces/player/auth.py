"""Account routes: register, log in/out, sessions, password change and reset, e-mail
verification and TOTP enrolment. Mail (reset and verification links) goes through the durable
outbox; the raw tokens exist only in those mails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Router, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from domain.cause import Cause
from infrastructure.bootstrap import System
from interfaces.http import client_ip
from interfaces.player.actions import register_player
from interfaces.player.security import Authenticator, SignedIn
from interfaces.player.switches import require_open_async
from interfaces.problems import ApiError

__all__ = ["router"]

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
TotpCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
Token = Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
Referrer = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
MAX_LOGIN_ATTEMPTS_PER_MINUTE = 10


class RegisterBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    referrer: Referrer | None = None  # who referred you: their player id or referral code


class AccountOut(msgspec.Struct, frozen=True):
    account_id: str
    player_id: str
    email: str
    email_verified: bool
    totp_enabled: bool
    created_at: datetime


class LoginBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class LoginOut(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str
    expires_in: int  # seconds until this access token expires; log in again after
    session_id: str
    session_expires_at: datetime
    player_id: str


class SessionOut(msgspec.Struct, frozen=True):
    session_id: str
    opened_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    current: bool


class PasswordChangeBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class ResetRequestBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email


class ResetConfirmBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Token
    new_password: Password


class VerifyEmailBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Token


class TotpEnrolmentOut(msgspec.Struct, frozen=True):
    secret: str
    provisioning_uri: str


class TotpBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: TotpCode


class Accepted(msgspec.Struct, frozen=True):
    status: str


def _cause(actor: str) -> Cause:
    return Cause(actor, f"req-{uuid.uuid4().hex}")


def _account_out(view: Any) -> AccountOut:
    return AccountOut(
        view.account_id,
        view.player_id,
        view.email,
        view.email_verified,
        view.totp_enabled,
        view.created_at,
    )


@post("/auth/register", sync_to_thread=True, security=[])
def register(
    request: Request[Any, Any, Any], state: State, data: JSONBody[RegisterBody]
) -> AccountOut:
    """Create an account and its wallet. A verification mail is sent to the address. An
    address that already registered the allowed number of accounts is refused (403
    ``too_many_accounts``)."""
    ip = client_ip(dict(request.scope))
    view = register_player(state.system, state.outbox, data.email, data.password, ip, data.referrer)
    return _account_out(view)


@post("/auth/login", status_code=200, security=[])
async def login(
    request: Request[Any, Any, Any], state: State, data: JSONBody[LoginBody]
) -> LoginOut:
    """Sign in: an access token (Bearer) for a revocable session. Five wrong passwords in a
    row lock the account for 15 minutes (403 ``account_locked``)."""
    await require_open_async(state.system, "login")
    budget = await state.limits.throttle.spend(
        f"login:{data.email.strip().lower()}", MAX_LOGIN_ATTEMPTS_PER_MINUTE
    )
    if budget.exceeded:
        raise ApiError(
            429,
            "rate_limited",
            "too many sign-in attempts; wait a minute",
            {"Retry-After": str(budget.reset_s)},
        )
    system: System = state.system
    ip = client_ip(dict(request.scope))
    agent = request.headers.get("user-agent", "")[:300]
    result = await anyio.to_thread.run_sync(
        lambda: system.accounts.login(data.email, data.password, ip, agent, _cause("system:login"))
    )
    authenticator: Authenticator = state.authenticator
    # Wall-clock time: the token's expiry is checked against it.
    token = authenticator.tokens.issue(
        result.player_id, result.account_id, result.session_id, datetime.now(UTC)
    )
    return LoginOut(
        access_token=token,
        token_type="Bearer",  # noqa: S106 (the OAuth token type, not a secret)
        expires_in=authenticator.tokens.ttl_s,
        session_id=result.session_id,
        session_expires_at=result.expires_at,
        player_id=result.player_id,
    )


@post("/auth/logout", sync_to_thread=True, status_code=200)
def logout(state: State, caller: SignedIn) -> Accepted:
    """End this session: its access tokens stop working at once."""
    state.system.accounts.revoke_session(caller.account_id, caller.session_id, _cause(caller.actor))
    state.authenticator.forget(caller.session_id)
    return Accepted("signed_out")


@get("/auth/me", sync_to_thread=True)
def me(state: State, caller: SignedIn) -> AccountOut:
    """Your account."""
    return _account_out(state.system.accounts.account(caller.account_id))


@get("/auth/sessions", sync_to_thread=True)
def sessions(state: State, caller: SignedIn) -> list[SessionOut]:
    """Your open sessions, newest first."""
    return [
        SessionOut(
            s.session_id,
            s.opened_at,
            s.expires_at,
            s.ip,
            s.user_agent,
            s.session_id == caller.session_id,
        )
        for s in state.system.accounts.sessions(caller.account_id)
    ]


@delete("/auth/sessions/{session_id:str}", sync_to_thread=True, status_code=200)
def revoke(state: State, caller: SignedIn, session_id: FromPath[str]) -> Accepted:
    """End one of your sessions (another device, say)."""
    state.system.accounts.revoke_session(caller.account_id, session_id, _cause(caller.actor))
    state.authenticator.forget(session_id)
    return Accepted("revoked")


@post("/auth/password", sync_to_thread=True, status_code=200)
def change_password(state: State, caller: SignedIn, data: JSONBody[PasswordChangeBody]) -> Accepted:
    """Change your password; every other session is signed out."""
    revoked = state.system.accounts.change_password(
        caller.account_id,
        data.current_password,
        data.new_password,
        caller.session_id,
        _cause(caller.actor),
    )
    for session_id in revoked:
        state.authenticator.forget(session_id)
    return Accepted("password_changed")


@post("/auth/password-reset", sync_to_thread=True, status_code=202, security=[])
def password_reset(state: State, data: JSONBody[ResetRequestBody]) -> Accepted:
    """Mail a single-use reset code (valid 30 minutes). The answer is the same whether or not
    the address has an account."""
    token = state.system.accounts.request_password_reset(data.email, _cause("system:reset"))
    if token is not None:
        state.outbox.enqueue(
            f"reset:{token.account_id}:{token.expires_at.isoformat()}",
            token.email,
            "Reset your password",
            "Someone asked to reset your prizeledger password. If it was you, use this code"
            f" within 30 minutes:\n\n{token.token}\n\nIf it was not you, ignore this mail.",
        )
    return Accepted("if_the_account_exists_a_mail_was_sent")


@post("/auth/password-reset/confirm", sync_to_thread=True, status_code=200, security=[])
def password_reset_confirm(state: State, data: JSONBody[ResetConfirmBody]) -> Accepted:
    """Set a new password with a reset code; every session is signed out."""
    state.system.accounts.confirm_password_reset(
        data.token, data.new_password, _cause("system:reset")
    )
    return Accepted("password_reset")


@post("/auth/verify-email", sync_to_thread=True, status_code=200, security=[])
def verify_email(state: State, data: JSONBody[VerifyEmailBody]) -> Accepted:
    """Confirm your e-mail address with the code from the verification mail."""
    state.system.accounts.verify_email(data.token, _cause("system:verify-email"))
    return Accepted("email_verified")


@post("/auth/totp", sync_to_thread=True, status_code=201)
def start_totp(state: State, caller: SignedIn) -> TotpEnrolmentOut:
    """Start TOTP enrolment: add the secret to an authenticator app, then confirm a code."""
    enrolment = state.system.accounts.start_totp(caller.account_id, _cause(caller.actor))
    return TotpEnrolmentOut(enrolment.secret, enrolment.provisioning_uri)


@post("/auth/totp/confirm", sync_to_thread=True, status_code=200)
def confirm_totp(state: State, caller: SignedIn, data: JSONBody[TotpBody]) -> Accepted:
    """Turn TOTP on with a current code from the authenticator app."""
    state.system.accounts.enable_totp(caller.account_id, data.code, _cause(caller.actor))
    return Accepted("totp_enabled")


@post("/auth/totp/disable", sync_to_thread=True, status_code=200)
def disable_totp(state: State, caller: SignedIn, data: JSONBody[TotpBody]) -> Accepted:
    """Turn TOTP off (needs a current code)."""
    state.system.accounts.disable_totp(caller.account_id, data.code, _cause(caller.actor))
    return Accepted("totp_disabled")


router = Router(
    "/",
    route_handlers=[
        register,
        login,
        logout,
        me,
        sessions,
        revoke,
        change_password,
        password_reset,
        password_reset_confirm,
        verify_email,
        start_totp,
        confirm_totp,
        disable_totp,
    ],
    tags=["account"],
)
