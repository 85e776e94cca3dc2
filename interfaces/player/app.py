"""The player-facing Litestar app. Routes parse, call one use case or query, and render."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.response import Response
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from infrastructure.bootstrap import System, bootstrap

__all__ = ["create_app"]


@get("/health/live", sync_to_thread=False)
def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/health/ready", sync_to_thread=True)
def ready(state: State) -> Response[dict[str, str]]:
    """The event store answers."""
    system: System = state.system
    try:
        system.ledger.recorder.max_notification_id()
    except Exception as error:  # any store failure means "not ready", never a 500
        return Response(
            {"status": "unavailable", "detail": type(error).__name__},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    return Response({"status": "ok"})


def create_app(system: System | None = None) -> Litestar:
    """Build the app around a System from the composition root (one per process)."""
    system = system or bootstrap()
    return Litestar(
        route_handlers=[live, ready],
        state=State({"system": system}),
        on_shutdown=[system.close],
    )
