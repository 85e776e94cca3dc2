"""The player-facing Litestar app: the REST API under /api/v1, the web pages at / (server-rendered,
``interfaces.player.web``), health, metrics and the OpenAPI schema at /schema (rendered with a
vendored Redoc: no CDN). Routes parse, call one use case or
query, and render; the rules live in the domain."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from infrastructure.bootstrap import System, bootstrap
from infrastructure.heap import settle_heap
from infrastructure.logs import configure_logging
from infrastructure.tokens import AccessTokens
from interfaces.http import HttpMetrics, RequestContext
from interfaces.player import auth, live, money, play, rewards, wallet
from interfaces.player.security import (
    Authenticator,
    Limits,
    provide_caller,
    provide_idempotency,
)
from interfaces.player.sessions import SessionChecks
from interfaces.player.web import web_kit, web_router
from interfaces.problems import ApiError, exception_handlers
from interfaces.runtime import EmbeddedWorkers, alive, metrics, ready, throttle_for

__all__ = ["create_app"]

STATIC = Path(__file__).resolve().parent.parent / "static"
UNTHROTTLED = ("/health/", "/metrics", "/schema", "/static/")
API_PREFIX = "/api/v1/"
JSON_MEDIA_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


def require_json(request: Request[Any, Any, Any]) -> None:
    """REST bodies are JSON: another media type is 415, not a form read as if it were JSON
    (nor a decoder's 400 that blames the content)."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return  # no body (logout, cancel, TOTP start)
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if not JSON_MEDIA_TYPE.match(media_type):
        raise ApiError(
            415, "unsupported_media_type", "send the body as JSON (Content-Type: application/json)"
        )


def create_app(system: System | None = None, *, run_workers: bool = True) -> Litestar:
    """Build the app around a System from the composition root (one per process)."""
    configure_logging()
    system = system or bootstrap()
    settings = system.settings
    tokens = AccessTokens(settings.require_jwt_secret(), settings.access_token_ttl_s)
    sessions = SessionChecks(
        system.accounts.session_expiry, system.accounts.account_changes, system.clock
    )
    authenticator = Authenticator(tokens, sessions)
    watching: list[asyncio.Task[None]] = []
    limits = Limits(
        throttle_for(system), settings.rate_ip_per_minute, settings.rate_player_per_minute
    )
    http_metrics = HttpMetrics()
    workers = EmbeddedWorkers(system)

    def prepare() -> None:
        # The read-model tables must exist before the first query (``prizeledger migrate`` and
        # the projector make them too). A store that is down now is retried by the projector.
        try:
            system.projection_status()
        except Exception as error:  # the app still starts; /health/ready reports the store
            logging.getLogger(__name__).warning("read models not prepared: %s", error)

    async def admit(request: Request[Any, Any, Any]) -> None:
        # The budgets, authentication and the in-flight lock up front, in one throttle call.
        path: str = request.scope["path"]
        if path.startswith(UNTHROTTLED):
            return
        await limits.admit(
            request, authenticator, require_json if path.startswith(API_PREFIX) else None
        )

    async def watch_sessions() -> None:
        watching.append(asyncio.get_running_loop().create_task(sessions.watch()))

    async def shutdown() -> None:
        for task in watching:
            task.cancel()
        workers.stop()
        await limits.throttle.close()
        system.close()

    api = Router(
        "/api/v1",
        route_handlers=[
            auth.router,
            wallet.router,
            play.router,
            money.router,
            rewards.router,
            live.events,
        ],
        dependencies={
            "caller": Provide(provide_caller),
            "idempotency": Provide(provide_idempotency),
        },
    )
    app = Litestar(
        route_handlers=[
            alive,
            ready,
            metrics,
            api,
            web_router(),
            create_static_files_router("/static", directories=[STATIC], include_in_schema=False),
        ],
        state=State(
            {
                "system": system,
                "authenticator": authenticator,
                "limits": limits,
                "http_metrics": http_metrics,
                "outbox": system.outbox(),
                "web": web_kit(settings),
            }
        ),
        before_request=admit,
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=_openapi(),
        on_startup=[
            prepare,
            watch_sessions,
            *([workers.start] if run_workers else []),
            settle_heap,  # last: what start-up made lives as long as the process
        ],
        on_shutdown=[shutdown],
        logging_config=None,
    )
    # Around the whole app rather than as route middleware, so that what no route answers
    # (404, 405) also gets its request id, security headers, log line and metrics.
    app.asgi_handler = RequestContext(app.asgi_handler, http_metrics)
    return app


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="prizeledger player API",
        version="1.0.0",
        description=(
            "Wallet, deposits, provably fair draws and withdrawals. Errors are RFC 9457"
            " problem+json with a stable `code`. Money-moving POSTs require an Idempotency-Key."
        ),
        path="/schema",
        render_plugins=[
            RedocRenderPlugin(
                path="/", js_url="/static/vendor/redoc/redoc.standalone.js", google_fonts=False
            ),
            JsonRenderPlugin(path="/openapi.json"),
        ],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
        security=[{"bearer": []}],
        use_handler_docstrings=True,
    )
