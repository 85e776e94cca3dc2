"""Live updates for the pages: the same per-player live bus as ``GET /api/v1/events``, over the
cookie session, with each event rendered as the HTML fragment the htmx SSE extension swaps in
(``balance`` into the balance boxes, ``notice`` into the page's live region)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import get
from litestar.datastructures import State
from litestar.response import ServerSentEvent, ServerSentEventMessage

from infrastructure.live import HEARTBEAT, LiveBus
from interfaces.player.live import HEARTBEAT_S
from interfaces.player.pages.common import Req, fragment
from interfaces.player.security import SignedIn

__all__ = ["ROUTES"]


def _event(request: Req, message: dict[str, Any]) -> ServerSentEventMessage | None:
    kind = message.get("type")
    if kind == "balance":
        return ServerSentEventMessage(
            event="balance", data=fragment(request, "_balance.html", wallet=message)
        )
    if kind in {"draw", "deposit", "withdrawal"}:
        return ServerSentEventMessage(
            event="notice", data=fragment(request, "_notice.html", message=message)
        )
    return None


@get("/live", include_in_schema=False)
async def live(request: Req, state: State, caller: SignedIn) -> ServerSentEvent:
    """A text/event-stream of HTML fragments for the signed-in player's page."""
    bus: LiveBus = state.system.live_bus()

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        yield ServerSentEventMessage(comment="ready", retry=3000)
        async with bus.subscription(caller.player_id, heartbeat_s=HEARTBEAT_S) as messages:
            async for message in messages:
                if message is HEARTBEAT or message.get("type") == "heartbeat":
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                event = _event(request, message)
                if event is not None:
                    yield event

    return ServerSentEvent(stream())


ROUTES = [live]
