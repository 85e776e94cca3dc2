"""RFC 9457 problem+json for every error, with a stable machine ``code`` and the request id.

Shared by the player and operator apps. Domain refusals keep their own code; framework errors
(validation, unknown route, wrong method, oversized body) get codes of their own; anything
unexpected is a 500 ``internal_error`` whose detail never carries a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from psycopg import OperationalError as PostgresDown
from psycopg_pool import PoolTimeout

from application.errors import ConcurrencyConflict, NotFound
from domain.errors import DomainError

__all__ = ["PROBLEM_JSON", "ApiError", "Problem", "exception_handlers", "problem"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("prizeledger.http")


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    code: str
    detail: str = ""
    request_id: str = ""
    errors: list[FieldError] = []
    retry_after_s: int | None = None


class ApiError(Exception):
    """An error the interface layer itself raises (authentication, headers, rate limits)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


# Domain codes whose HTTP status is not the default 422 ("understood, but the rules refuse").
_STATUS_BY_CODE: dict[str, int] = {
    "invalid_amount": 400,
    "invalid_argument": 400,
    "config_invalid": 400,
    "currency_mismatch": 400,
    "invalid_email": 400,
    "weak_password": 400,
    "invalid_payout_method": 400,
    "webhook_malformed": 400,
    "webhook_timestamp_out_of_tolerance": 400,
    "invalid_credentials": 401,
    "webhook_signature_invalid": 401,
    "token_invalid": 400,
    "account_frozen": 403,
    "account_locked": 403,
    "totp_required": 403,
    "totp_invalid": 403,
    "player_frozen": 403,
    "permission_denied": 403,
    "operator_locked": 403,
    "operator_disabled": 403,
    "totp_enrolment_required": 403,
    "step_up_required": 403,
    "step_up_invalid": 403,
    "self_management_refused": 403,
    "unknown_role": 400,
    "self_approval_refused": 403,
    "too_many_accounts": 403,
    "not_change_maker": 403,
    "not_found": 404,
    "session_not_found": 404,
    "payout_method_not_found": 404,
    "unknown_provider": 404,
    "unknown_pool": 404,
    "illegal_transition": 409,
    "change_request_stale": 409,
    "pool_exists": 409,
    "precondition_failed": 412,
    "precondition_required": 428,
    "email_taken": 409,
    "wallet_exists": 409,
    "totp_already_enabled": 409,
    "totp_not_enabled": 409,
    # The reward centre (budget_exhausted stays 422: the rules refuse it now).
    "mission_invalid": 400,
    "mission_exists": 409,
    "mission_retired": 409,
    "nothing_to_claim": 409,
    "already_checked_in": 409,
}

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Refused",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def status_of(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    return _STATUS_BY_CODE.get(error.code, 422)


def problem(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    retry_after_s: int | None = None,
) -> Response[Problem]:
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    body = Problem(
        type=f"urn:prizeledger:problem:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        code=code,
        detail=detail,
        request_id=request_id,
        errors=errors or [],
        retry_after_s=retry_after_s,
    )
    out = dict(headers or {})
    if retry_after_s is not None:
        out["Retry-After"] = str(retry_after_s)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=out)


def _domain(request: Request[Any, Any, Any], error: DomainError) -> Response[Problem]:
    return problem(request, status_of(error), error.code, error.message)


def _api(request: Request[Any, Any, Any], error: ApiError) -> Response[Problem]:
    retry = error.headers.get("Retry-After")
    return problem(
        request,
        error.status,
        error.code,
        error.detail,
        headers={k: v for k, v in error.headers.items() if k != "Retry-After"},
        retry_after_s=int(retry) if retry else None,
    )


def _conflict(request: Request[Any, Any, Any], error: ConcurrencyConflict) -> Response[Problem]:
    return problem(request, 409, error.code, str(error), retry_after_s=1)


def _validation(request: Request[Any, Any, Any], error: ValidationException) -> Response[Problem]:
    errors = [
        FieldError(
            field=str(item.get("key") or item.get("source") or "body"),
            message=str(item.get("message", "")),
        )
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or error.detail
    return problem(request, 400, "validation_failed", detail, errors=errors)


_HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Problem]:
    status = error.status_code
    if status >= 500:
        return _internal(request, error)
    code = _HTTP_CODES.get(status, "bad_request")
    detail = error.detail if status != 404 else f"no route for {request.method} {request.url.path}"
    return problem(request, status, code, detail, headers=dict(error.headers or {}))


def _undecodable(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    """msgspec raises these, not a DecodeError, for a body that is not UTF-8 or nests too deeply
    to decode: bad input, not our failure. Any other recursion is a bug of ours."""
    if isinstance(error, RecursionError) and "deserializ" not in str(error):
        return _internal(request, error)
    return problem(request, 400, "bad_request", "the body is not valid JSON")


def _store_down(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    log.warning("event store unavailable: %s", error)
    return problem(
        request, 503, "store_unavailable", "the ledger is unavailable; retry", retry_after_s=2
    )


def _timeout(request: Request[Any, Any, Any], error: TimeoutError) -> Response[Problem]:
    # The outcome is not lost: the same Idempotency-Key returns it once it is decided.
    return problem(
        request, 503, "busy", "the request is still being decided; retry it", retry_after_s=1
    )


def _internal(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    log.exception("unhandled error", exc_info=error)
    return problem(request, 500, "internal_error", "an unexpected error occurred")


exception_handlers: ExceptionHandlersMap = {
    DomainError: _domain,
    ApiError: _api,
    ConcurrencyConflict: _conflict,
    ValidationException: _validation,
    HTTPException: _http,
    PostgresDown: _store_down,
    PoolTimeout: _store_down,
    StoreOperationalError: _store_down,
    StoreInterfaceError: _store_down,
    TimeoutError: _timeout,
    UnicodeDecodeError: _undecodable,
    RecursionError: _undecodable,
    Exception: _internal,
}
