"""The player web app: server-rendered pages (Jinja + vendored htmx) mounted at ``/`` in the
player app, beside the REST API under ``/api/v1``. The pages call the same use cases and
queries as the API (``interfaces.player.views`` and ``.actions``); they only parse forms,
render, and turn refusals into inline messages from the catalogues (en, zh-Hans).

Every unsafe request here needs the CSRF token (``pages.common.check_csrf``); the API's routes
are outside this router and authenticate with Bearer tokens instead. HTML responses get a
Content-Security-Policy from ``interfaces.http`` (no inline script anywhere)."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from domain.errors import DomainError
from infrastructure.settings import Settings
from interfaces.player.pages import account, live, money, play, rewards, wallet
from interfaces.player.pages.common import (
    CsrfRefused,
    Req,
    SignInRequired,
    WebKit,
    check_csrf,
    is_htmx,
    refusal,
    render,
    web_caller,
)
from interfaces.problems import ApiError, status_of

__all__ = ["web_kit", "web_router"]


def web_kit(settings: Settings) -> WebKit:
    """The templates, catalogues and cookie signer of one app (``state.web``)."""
    return WebKit.build(
        settings.require_jwt_secret(),
        int(settings.session_ttl.total_seconds()),
        settings.policy.currency,
    )


def _sign_in_first(request: Req, _: SignInRequired) -> Response[Any]:
    if is_htmx(request):
        return Response("", status_code=401, headers={"HX-Redirect": "/login"})
    return Response("", status_code=303, headers={"Location": "/login"})


def _csrf(request: Req, _: CsrfRefused) -> Response[str]:
    return render(request, "error.html", 403, message=refusal(request, _Code("csrf_failed")))


def _refused(request: Req, error: Exception) -> Response[str]:
    if isinstance(error, ApiError):
        status = error.status
    elif isinstance(error, DomainError):
        status = status_of(error)
    elif isinstance(error, HTTPException):
        status = error.status_code
        error = _Code("not_found" if status == 404 else "bad_request")
    else:
        status = 500
        error = _Code("internal_error")
    return render(request, "error.html", status, message=refusal(request, error))


class _Code(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_handlers: ExceptionHandlersMap = {
    SignInRequired: _sign_in_first,
    CsrfRefused: _csrf,
    DomainError: _refused,
    ApiError: _refused,
    HTTPException: _refused,
}


def web_router() -> Router:
    """Every page; the signed-in player comes from the session cookie."""
    return Router(
        "/",
        route_handlers=[
            *account.ROUTES,
            *wallet.ROUTES,
            *play.ROUTES,
            *money.ROUTES,
            *rewards.ROUTES,
            *live.ROUTES,
        ],
        dependencies={"caller": Provide(web_caller)},
        before_request=check_csrf,
        exception_handlers=_handlers,
        include_in_schema=False,
    )
