"""What every HTTP request gets, in both apps: a request id, an access log line, metrics, and
security headers. A plain ASGI middleware, because it wraps everything (errors included). It also
runs what a request registered with ``before_response`` (an in-flight lock's release) before the
response starts, however the request ended."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

from infrastructure.logs import request_id_var

__all__ = ["HttpMetrics", "RequestContext", "before_response", "client_ip"]

log = logging.getLogger("prizeledger.access")
BEFORE_RESPONSE = "before_response"  # the scope state's list of what to run before the response
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
# Pages load scripts and styles only from our own /static (htmx is vendored): no inline script.
HTML_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    b" connect-src 'self'; frame-ancestors 'none'",
)


class HttpMetrics:
    """Prometheus metrics of one app, in a registry of its own (two apps in one process must
    not collide in the global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )


class RequestContext:
    """Adds X-Request-ID (the client's if well-formed, else a new one) and security headers,
    logs one JSON line per request and records metrics."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _CLIENT_ID.match(given) else _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                await _run_before_response(scope)
                status = message["status"]
                extra = scope.get("state", {}).get("extra_headers")
                message["headers"] = _response_headers(
                    message.get("headers", ()), request_id, extra
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            await _run_before_response(scope)  # no response was sent (the app raised)
            elapsed = time.perf_counter() - started
            route = str(scope.get("path_template") or "unmatched")
            method = str(scope.get("method", ""))
            self._observe(method, route, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                # Made directly: Logger.info would also walk the stack for the caller's line.
                record = log.makeRecord(
                    log.name,
                    logging.INFO,
                    __file__,
                    0,
                    "%s %s %s",
                    (method, scope.get("path", ""), status),
                    None,
                    extra={"status": status, "ms": round(elapsed * 1000, 2), "route": route},
                )
                log.handle(record)
            request_id_var.reset(token)

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        # The labelled children once per route and status (``labels`` takes a lock each call).
        count = self._counts.get((method, route, status))
        if count is None:
            count = self._counts[(method, route, status)] = self.metrics.requests.labels(
                method, route, str(status)
            )
        latency = self._latencies.get((method, route))
        if latency is None:
            latency = self._latencies[(method, route)] = self.metrics.latency.labels(method, route)
        count.inc()
        latency.observe(elapsed)


def _response_headers(
    given: Iterable[tuple[bytes, bytes]], request_id: str, extra: dict[str, str] | None
) -> list[tuple[bytes, bytes]]:
    """The response's headers with the request id, the request's extra headers (RateLimit-*)
    and the security headers the response does not set itself (a CSP for HTML)."""
    headers = list(given)
    headers.append((b"x-request-id", request_id.encode()))
    if extra:
        headers.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
    present: set[bytes] = set()
    html = False
    for given_name, value in headers:
        name = given_name.lower()
        present.add(name)
        if name == b"content-type" and value.lower().startswith(b"text/html"):
            html = True
    headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
    if html and HTML_CSP[0] not in present:
        headers.append(HTML_CSP)
    return headers


def before_response(scope: Scope, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` just before this request's response starts (or, when none is sent, when
    the request ends); ``RequestContext`` does it."""
    scope.setdefault("state", {}).setdefault(BEFORE_RESPONSE, []).append(action)


async def _run_before_response(scope: Scope) -> None:
    actions = scope.get("state", {}).pop(BEFORE_RESPONSE, None)
    for action in actions or ():
        await action()


def _new_request_id() -> str:
    """32 hex digits like a uuid4's, from the random module's generator (reseeded in a forked
    child) rather than a system call per request: a request id correlates log lines and
    answers, it authorises nothing (a client may even choose its own)."""
    return f"{random.getrandbits(128):032x}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def client_ip(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
