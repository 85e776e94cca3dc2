"""What both Litestar apps run the same way: health and metrics routes, the embedded mode's
background workers and the request throttle (Redis, or in memory when embedded)."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from litestar import get
from litestar.datastructures import State
from litestar.response import Response
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from infrastructure.bootstrap import System
from infrastructure.throttle import InMemoryThrottle, RedisThrottle, Throttle
from interfaces.http import HttpMetrics

__all__ = ["MAX_READY_LAG", "EmbeddedWorkers", "alive", "metrics", "ready", "throttle_for"]

# Readiness fails when a read model is further behind the event log than this.
MAX_READY_LAG = 10_000


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


class EmbeddedWorkers:
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


def throttle_for(system: System) -> Throttle:
    settings = system.settings
    if settings.redis_url is None:
        return InMemoryThrottle()
    return RedisThrottle(settings.redis_url, settings.redis_prefix)
