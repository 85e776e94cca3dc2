"""Pages: register, sign in and out, and the language switch."""

from __future__ import annotations

import re
import uuid
from typing import Any

import anyio
from litestar import Response, get, post
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from domain.account import MIN_PASSWORD_LENGTH
from domain.cause import Cause
from infrastructure.bootstrap import System
from interfaces.http import client_ip
from interfaces.i18n import LANG_COOKIE
from interfaces.player.actions import register_player
from interfaces.player.auth import MAX_LOGIN_ATTEMPTS_PER_MINUTE, LoginBody, RegisterBody
from interfaces.player.pages.common import (
    Form,
    RefusalError,
    Req,
    as_struct,
    redirect,
    refusal,
    render,
    session_of,
    sign_in,
    sign_out,
)
from interfaces.player.security import Caller
from interfaces.player.switches import require_open_async
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

ONE_YEAR_S = 365 * 24 * 3600
# A path on this site: not "//host" nor "/\\host" (browsers read both as another host).
LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\\]*$")


def _cause(actor: str) -> Cause:
    return Cause(actor, f"req-{uuid.uuid4().hex}")


@get("/", include_in_schema=False)
async def home(request: Req) -> Response[Any]:
    """Signed in: the wallet; else the sign-in page."""
    return Redirect("/wallet" if session_of(request) else "/login", status_code=303)


@get("/register", include_in_schema=False)
async def register_page(request: Req) -> Response[str]:
    return render(request, "register.html", email="", error=None, min_password=MIN_PASSWORD_LENGTH)


@post("/register", include_in_schema=False, sync_to_thread=True)
def register(request: Req, state: State, data: Form) -> Response[Any]:
    """Create the account (and its wallet), then sign in with it."""
    email = data.get("email", "")
    try:
        body = as_struct({"email": email, "password": data.get("password", "")}, RegisterBody)
        ip = client_ip(dict(request.scope))
        register_player(state.system, state.outbox, body.email, body.password, ip)
        return _signed_in(request, state.system, body.email, body.password)
    except RefusalError as error:
        return render(request, "register.html", 422, email=email, error=refusal(request, error))


@get("/login", include_in_schema=False)
async def login_page(request: Req) -> Response[str]:
    return render(request, "login.html", email="", error=None)


@post("/login", include_in_schema=False)
async def login(request: Req, state: State, data: Form) -> Response[Any]:
    """Sign in: the cookie holds the same revocable session an API token would."""
    email = data.get("email", "")
    try:
        body = as_struct({"email": email, "password": data.get("password", "")}, LoginBody)
        await require_open_async(state.system, "login")
        budget = await state.limits.throttle.spend(
            f"login:{body.email.strip().lower()}", MAX_LOGIN_ATTEMPTS_PER_MINUTE
        )
        if budget.exceeded:
            raise ApiError(429, "rate_limited", "too many sign-in attempts; wait a minute")
        system: System = state.system
        return await anyio.to_thread.run_sync(
            lambda: _signed_in(request, system, body.email, body.password)
        )
    except RefusalError as error:
        return render(request, "login.html", 422, email=email, error=refusal(request, error))


def _signed_in(request: Req, system: System, email: str, password: str) -> Response[Any]:
    ip = client_ip(dict(request.scope))
    agent = request.headers.get("user-agent", "")[:300]
    result = system.accounts.login(email, password, ip, agent, _cause("system:login"))
    response = redirect(request, "/wallet")
    sign_in(request, response, Caller(result.player_id, result.account_id, result.session_id))
    return response


@post("/logout", include_in_schema=False, sync_to_thread=True)
def logout(request: Req, state: State) -> Response[Any]:
    """End this session (its cookie and any token of it stop working at once)."""
    caller = session_of(request)
    if caller is not None:
        state.system.accounts.revoke_session(
            caller.account_id, caller.session_id, _cause(caller.actor)
        )
        state.authenticator.forget(caller.session_id)
    response = redirect(request, "/login")
    sign_out(request, response)
    return response


@post("/lang", include_in_schema=False)
async def switch_language(request: Req, state: State, data: Form) -> Response[Any]:
    """Remember the chosen language in the ``lang`` cookie and go back to the page."""
    lang = data.get("lang", "")
    back = data.get("back", "/")
    if not LOCAL_PATH.match(back):
        back = "/"  # never an open redirect
    response = Redirect(back, status_code=303)
    if lang in state.web.translations.locales:
        response.set_cookie(
            Cookie(key=LANG_COOKIE, value=lang, max_age=ONE_YEAR_S, path="/", samesite="lax")
        )
    return response


ROUTES = [home, register_page, register, login_page, login, logout, switch_language]
