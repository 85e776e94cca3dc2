"""The console's router: every page at ``/`` of the operator app, marked ``"console": True`` so
the app's guard also takes the browser's session cookie (and checks CSRF) on them. Refusals are
pages for browsers (a sign-in redirect for 401) and problem+json for API clients."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from domain.errors import DomainError
from interfaces.admin.console import (
    account,
    changes,
    dashboard,
    deposits,
    players,
    reports,
    rewards,
    withdrawals,
)
from interfaces.admin.console.kit import Req, is_htmx, refusal, render
from interfaces.admin.security import provide_staff
from interfaces.problems import ApiError, exception_handlers, status_of

__all__ = ["console_router"]


def _wants_html(request: Req) -> bool:
    return is_htmx(request) or "text/html" in request.headers.get("accept", "")


def _status(error: Exception) -> int:
    if isinstance(error, ApiError):
        return error.status
    if isinstance(error, DomainError):
        return status_of(error)
    if isinstance(error, HTTPException):
        return error.status_code
    return 500


class _Code(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _refused(request: Req, error: Exception) -> Response[Any]:
    if not _wants_html(request):
        for kind in type(error).__mro__:
            handler = exception_handlers.get(kind)
            if handler is not None:
                response: Response[Any] = handler(request, error)
                return response
    status = _status(error)
    if status == 401:
        if is_htmx(request):
            return Response("", status_code=401, headers={"HX-Redirect": "/login"})
        return Response("", status_code=303, headers={"Location": "/login"})
    if isinstance(error, HTTPException) and not isinstance(error, ApiError):
        error = _Code("not_found" if status == 404 else "bad_request")
    elif status == 500:
        error = _Code("internal_error")
    return render(request, "error.html", status, message=refusal(request, error))


def console_router() -> Router:
    """Every console page (sign-in, dashboard, reviews)."""
    return Router(
        "/",
        route_handlers=[
            *account.ROUTES,
            *dashboard.ROUTES,
            *withdrawals.ROUTES,
            *players.ROUTES,
            *deposits.ROUTES,
            *reports.ROUTES,
            *changes.ROUTES,
            *rewards.ROUTES,
        ],
        opt={"console": True},
        dependencies={"caller": Provide(provide_staff)},
        exception_handlers=_handlers(),
        include_in_schema=False,
    )


def _handlers() -> ExceptionHandlersMap:
    return {DomainError: _refused, ApiError: _refused, HTTPException: _refused}
