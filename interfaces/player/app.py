"""The player-facing Litestar app. Routes parse, call one use case or query, and render."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.response import Response
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from infrastructure.bootstrap import System, bootstrap

__all__ = ["create_app"]

# Readiness fails when a read model is further behind the event log than this.
MAX_READY_LAG = 10_000


@get("/health/live", sync_to_thread=False)
def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/health/ready", sync_to_thread=True)
def ready(state: State) -> Response[dict[str, Any]]:
    """The event store answers and the read models are not far behind."""
    system: System = state.system
    try:
        head = system.ledger.recorder.max_notification_id() or 0
        projections = [asdict(s) for s in system.projection_status()]
    except Exception as error:  # any store failure means "not ready", never a 500
        failure: dict[str, Any] = {"status": "unavailable", "detail": type(error).__name__}
        return Response(failure, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    lagging = any(p["lag"] > MAX_READY_LAG or p["state"] == "failed" for p in projections)
    body: dict[str, Any] = {
        "status": "lagging" if lagging else "ok",
        "head": head,
        "projections": projections,
    }
    return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE if lagging else 200)


class _EmbeddedProjector:
    """In the embedded mode the projections run in the app's process (SQLite has no
    notifications to wake a separate projector); in production they run in their own."""

    def __init__(self, system: System) -> None:
        self._system = system
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._system.settings.embedded:
            projector = self._system.projector()
            self._thread = threading.Thread(
                target=projector.run, args=(self._stop,), name="projector", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def create_app(system: System | None = None) -> Litestar:
    """Build the app around a System from the composition root (one per process)."""
    system = system or bootstrap()
    projector = _EmbeddedProjector(system)

    def shutdown() -> None:
        projector.stop()
        system.close()

    return Litestar(
        route_handlers=[live, ready],
        state=State({"system": system}),
        on_startup=[projector.start],
        on_shutdown=[shutdown],
    )
