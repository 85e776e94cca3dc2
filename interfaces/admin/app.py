"""The operator Litestar app: the operator API under /admin/api/v1, the operator console's pages
at / (``interfaces.admin.console``), health, metrics and its own OpenAPI schema at /schema.
A separate app (own process and port in production, never mounted in the player app) so that
nothing of operator auth ships in the public one.

Every route declares its access in ``opt`` and one app-level guard enforces it
(``interfaces.admin.security``). Each feature is a module exporting ``router``; add it to
``ROUTERS``. Health, metrics, the embedded workers and the throttle are the same for both apps:
they come from the player app's module (importing it mounts none of its routes here).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from application.operators import OPERATOR_SESSION_TTL
from infrastructure.bootstrap import System, bootstrap
from infrastructure.logs import configure_logging
from infrastructure.tokens import OPERATOR_AUDIENCE, AccessTokens
from interfaces.admin import (
    audit,
    changes,
    config,
    finance,
    operators,
    players,
    pools,
    reports,
    rewards,
)
from interfaces.admin.console.kit import ConsoleKit
from interfaces.admin.console.router import console_router
from interfaces.admin.security import StaffGate, authorise, provide_staff
from interfaces.http import HttpMetrics, RequestContext
from interfaces.player.security import Limits
from interfaces.problems import exception_handlers
from interfaces.runtime import EmbeddedWorkers, alive, metrics, ready, throttle_for

__all__ = ["API_PATH", "ROUTERS", "create_admin_app"]

API_PATH = "/admin/api/v1"
# Operator tokens are short; POST /auth/refresh renews one while its session (8 h) is open.
OPERATOR_TOKEN_TTL_S = 900
STATIC = Path(__file__).resolve().parent.parent / "static"
UNTHROTTLED = ("/health/", "/metrics", "/schema", "/static/")
PUBLIC = {"public": True}

# The feature routers of the operator API, each a Router at "/".
ROUTERS: list[Router] = [
    operators.router,
    pools.router,
    changes.router,
    config.router,
    rewards.router,
    finance.router,
    players.router,
    audit.router,
    reports.router,
]


def create_admin_app(system: System | None = None, *, run_workers: bool = True) -> Litestar:
    """Build the operator app around a System from the composition root. With
    ``run_workers`` (and the embedded store) it runs the projections in-process; off when the
    player app in the same process already does (``prizeledger run``)."""
    configure_logging()
    system = system or bootstrap()
    settings = system.settings
    tokens = AccessTokens(
        settings.require_admin_jwt_secret(), OPERATOR_TOKEN_TTL_S, OPERATOR_AUDIENCE
    )
    throttle = throttle_for(system)
    limits = Limits(throttle, settings.rate_ip_per_minute, settings.rate_player_per_minute)
    http_metrics = HttpMetrics()
    workers = EmbeddedWorkers(system)

    def prepare() -> None:
        # The read-model tables must exist before the first query (the projector makes them
        # too). A store that is down now is reported by /health/ready.
        try:
            system.projection_status()
        except Exception as error:  # the app still starts
            logging.getLogger(__name__).warning("read models not prepared: %s", error)

    async def throttle_ip(request: Request[Any, Any, Any]) -> None:
        if not request.url.path.startswith(UNTHROTTLED):
            await limits.spend_ip(request)

    async def shutdown() -> None:
        workers.stop()
        await throttle.close()
        if run_workers:  # otherwise the app that runs the workers owns the system
            system.close()

    api = Router(
        API_PATH,
        route_handlers=list(ROUTERS),
        dependencies={"caller": Provide(provide_staff)},
    )
    return Litestar(
        route_handlers=[
            Router("/", route_handlers=[alive, ready, metrics], opt=PUBLIC),
            api,
            console_router(),
            create_static_files_router(
                "/static", directories=[STATIC], include_in_schema=False, opt=PUBLIC
            ),
        ],
        guards=[authorise],
        state=State(
            {
                "system": system,
                "staff_gate": StaffGate(tokens, system.operators),
                "throttle": throttle,
                "cookie_auth": ConsoleKit.build(
                    settings.require_admin_jwt_secret(), int(OPERATOR_SESSION_TTL.total_seconds())
                ),
                "http_metrics": http_metrics,
            }
        ),
        middleware=[lambda app: RequestContext(app, http_metrics)],
        before_request=throttle_ip,
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=_openapi(),
        on_startup=[prepare, workers.start] if run_workers else [prepare],
        on_shutdown=[shutdown],
        logging_config=None,
    )


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="prizeledger operator API",
        version="1.0.0",
        description=(
            "For support, risk, finance and admin staff. Sign in with password + TOTP; every"
            " route needs a permission of your roles; sensitive ones also a fresh code in"
            " `X-TOTP-Code`. State changes take a `reason` (kept in the audit log). Errors are"
            " RFC 9457 problem+json with a stable `code`."
        ),
        path="/schema",
        openapi_router=Router("/schema", route_handlers=[], include_in_schema=False, opt=PUBLIC),
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
