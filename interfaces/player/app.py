"""The player-facing Litestar app: the REST API under /api/v1, the web pages at / (server-rendered,
``interfaces.player.web``), health, metrics and the OpenAPI schema at /schema (rendered with a
vendored Redoc: no CDN). Routes parse, call one use case or
query, and render; the rules live in the domain."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from infrastructure.bootstrap import System, bootstrap
from infrastructure.logs import configure_logging
from infrastructure.throttle import InMemoryThrottle, RedisThrottle, Throttle
from infrastructure.tokens import AccessTokens
from interfaces.http import HttpMetrics, RequestContext
from interfaces.player import auth, live, money, play, rewards, wallet
from interfaces.player.security import (
    Authenticator,
    Limits,
    provide_caller,
    provide_idempotency,
)
from interfaces.player.web import web_kit, web_router
from interfaces.problems import ApiError, exception_handlers

__all__ = ["create_app"]

# Readiness fails when a read model is further behind the event log than this.
MAX_READY_LAG = 10_000
STATIC = Path(__file__).resolve().parent.parent / "static"
UNTHROTTLED = ("/health/", "/metrics", "/schema", "/static/")
API_PREFIX = "/api/v1/"
JSON_MEDIA_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


@get("/health/live", sync_to_thread=False, include_in_schema=False)
def alive() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/health/ready", sync_to_thread=True, include_in_schema=False)
def ready(state: State) -> Response[dict[str, Any]]:
    """The event store and Redis answer and the read models are not far behind."""
    system: System = state.system
    try:
        head = system.ledger.recorder.max_notification_id() or 0
        projections = [asdict(s) for s in system.projection_status()]
    except Exception as error:  # any store failure means "not ready", never a 500
        failure: dict[str, Any] = {"status": "unavailable", "detail": type(error).__name__}
        return Response(failure, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    redis_ok = _redis_ok(system)
    lagging = any(p["lag"] > MAX_READY_LAG or p["state"] == "failed" for p in projections)
    status = "ok" if not lagging and redis_ok else ("lagging" if lagging else "redis_unavailable")
    body: dict[str, Any] = {
        "status": status,
        "head": head,
        "redis": "ok" if redis_ok else "unavailable",
        "projections": projections,
    }
    return Response(body, status_code=200 if status == "ok" else HTTP_503_SERVICE_UNAVAILABLE)


def _redis_ok(system: System) -> bool:
    if system.settings.redis_url is None:
        return True
    import redis

    try:
        client = redis.Redis.from_url(system.settings.redis_url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@get("/metrics", sync_to_thread=False, include_in_schema=False)
def metrics(state: State) -> Response[bytes]:
    """Prometheus metrics of this process (requests by route and status, latency, draw desk)."""
    http: HttpMetrics = state.http_metrics
    return Response(generate_latest(http.registry), media_type=CONTENT_TYPE_LATEST)


class _EmbeddedWorkers:
    """In the embedded mode the projections, the live feed, the mail notifier and the sweeper
    (expiry, auto-freeze) run in the app's process (SQLite has no notifications to wake
    separate ones); in production they run in the ``prizeledger projector`` process."""

    def __init__(self, system: System) -> None:
        self._system = system
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._feed: Any = None

    def start(self) -> None:
        if not self._system.settings.embedded:
            return
        for name, target in (
            ("projector", self._system.projector().run),
            ("notifier", self._system.notifier().run),
            ("rewards", self._system.reward_granter().run),
            ("sweeper", self._system.sweeper().run),
        ):
            thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._feed = self._system.live_feed()
        self._feed.start()

    def stop(self) -> None:
        self._stop.set()
        if self._feed is not None:
            self._feed.stop()
        for thread in self._threads:
            thread.join(timeout=10)


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


def _throttle(system: System) -> Throttle:
    settings = system.settings
    if settings.redis_url is None:
        return InMemoryThrottle()
    return RedisThrottle(settings.redis_url, settings.redis_prefix)


def create_app(system: System | None = None, *, run_workers: bool = True) -> Litestar:
    """Build the app around a System from the composition root (one per process)."""
    configure_logging()
    system = system or bootstrap()
    settings = system.settings
    tokens = AccessTokens(settings.require_jwt_secret(), settings.access_token_ttl_s)
    authenticator = Authenticator(
        tokens, lambda account, session: system.accounts.session(account, session) is not None
    )
    limits = Limits(_throttle(system), settings.rate_ip_per_minute, settings.rate_player_per_minute)
    http_metrics = HttpMetrics()
    workers = _EmbeddedWorkers(system)

    def prepare() -> None:
        # The read-model tables must exist before the first query (``prizeledger migrate`` and
        # the projector make them too). A store that is down now is retried by the projector.
        try:
            system.projection_status()
        except Exception as error:  # the app still starts; /health/ready reports the store
            logging.getLogger(__name__).warning("read models not prepared: %s", error)

    async def throttle_ip(request: Request[Any, Any, Any]) -> None:
        if not request.url.path.startswith(UNTHROTTLED):
            await limits.spend_ip(request)
        if request.url.path.startswith(API_PREFIX):
            require_json(request)

    async def shutdown() -> None:
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
        before_request=throttle_ip,
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=_openapi(),
        on_startup=[prepare, workers.start] if run_workers else [prepare],
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
