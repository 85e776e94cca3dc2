"""Console pages: sign in with password and TOTP, sign out, and the language switch."""

from __future__ import annotations

import re
import uuid
from typing import Any

import anyio
import msgspec
from litestar import Response, get, post
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from domain.cause import Cause
from domain.errors import DomainError
from interfaces.admin.auth import MAX_LOGIN_ATTEMPTS_PER_MINUTE, LoginBody
from interfaces.admin.console.kit import Form, Req, redirect, refusal, render, sign_in, sign_out
from interfaces.admin.security import Staff
from interfaces.http import client_ip
from interfaces.i18n import LANG_COOKIE
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

PUBLIC = {"public": True}
ONE_YEAR_S = 365 * 24 * 3600
LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\\]*$")  # never "//host" nor "/\host"


@get("/", opt=PUBLIC)
async def home(request: Req) -> Response[Any]:
    """Signed in: the dashboard; else the sign-in page."""
    signed_in = request.app.state.cookie_auth.session_of(request) is not None
    return Redirect("/dashboard" if signed_in else "/login", status_code=303)


@get("/login", opt=PUBLIC)
async def login_page(request: Req) -> Response[str]:
    return render(request, "login.html", email="", error=None)


@post("/login", opt=PUBLIC)
async def login(request: Req, state: State, data: Form) -> Response[Any]:
    """Sign in with password and a TOTP code: the cookie holds the same revocable session an
    API token would. An operator without TOTP enrols it first (API or CLI)."""
    email = data.get("email", "")
    try:
        body = msgspec.convert(
            {
                "email": email,
                "password": data.get("password", ""),
                "totp_code": data.get("totp") or None,
            },
            LoginBody,
        )
        budget = await state.throttle.spend(
            f"operator-login:{body.email.strip().lower()}", MAX_LOGIN_ATTEMPTS_PER_MINUTE
        )
        if budget.exceeded:
            raise ApiError(429, "rate_limited", "too many sign-in attempts; wait a minute")
        ip = client_ip(dict(request.scope))
        agent = request.headers.get("user-agent", "")[:300]
        cause = Cause("system:operator-login", f"req-{uuid.uuid4().hex}")
        operators = state.system.operators
        result = await anyio.to_thread.run_sync(
            lambda: operators.login(
                body.email, body.password, ip, agent, cause, totp_code=body.totp_code
            )
        )
        if result.enrolment_only:  # a session that could only enrol TOTP: no use here
            end = Cause(f"operator:{result.operator_id}", cause.request_id)
            await anyio.to_thread.run_sync(
                lambda: operators.revoke_session(result.operator_id, result.session_id, end)
            )
            raise ApiError(403, "totp_enrolment_required", "enrol TOTP first")
    except (DomainError, ApiError, msgspec.ValidationError) as error:
        return render(request, "login.html", 422, email=email, error=refusal(request, error))
    response = redirect(request, "/dashboard")
    sign_in(request, response, result.operator_id, result.session_id)
    return response


@post("/logout", sync_to_thread=True, opt={"signed_in": True})
def logout(request: Req, state: State, caller: Staff) -> Response[Any]:
    """End this session (its cookie stops working at once)."""
    state.system.operators.revoke_session(
        caller.operator_id, caller.session_id, caller.plain_cause()
    )
    response = redirect(request, "/login")
    sign_out(response)
    return response


@post("/lang", opt=PUBLIC)
async def switch_language(request: Req, state: State, data: Form) -> Response[Any]:
    """Remember the chosen language in the ``lang`` cookie and go back to the page."""
    lang = data.get("lang", "")
    back = data.get("back", "/")
    response = Redirect(back if LOCAL_PATH.match(back) else "/", status_code=303)
    if lang in state.cookie_auth.translations.locales:
        response.set_cookie(
            Cookie(key=LANG_COOKIE, value=lang, max_age=ONE_YEAR_S, path="/", samesite="lax")
        )
    return response


ROUTES = [home, login_page, login, logout, switch_language]
