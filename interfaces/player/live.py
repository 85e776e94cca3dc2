"""Live updates over Server-Sent Events: your balance changes, draw results and payment states
as they happen. Best effort: after a reconnect, fetch the wallet again (events missed while
disconnected are not replayed)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

from litestar import get
from litestar.datastructures import State
from litestar.response import ServerSentEvent, ServerSentEventMessage

from infrastructure.live import HEARTBEAT, LiveBus
from interfaces.player.security import SignedIn

__all__ = ["events"]

HEARTBEAT_S = 15.0


@get("/events")
async def events(state: State, caller: SignedIn) -> ServerSentEvent:
    """A text/event-stream of ``balance``, ``draw``, ``deposit`` and ``withdrawal`` events for
    you, with a comment line every 15 s to keep proxies from closing it."""
    bus: LiveBus = state.system.live_bus()

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        async with bus.subscription(caller.player_id, heartbeat_s=HEARTBEAT_S) as messages:
            # Only once subscribed: a client that fetches its wallet on ``ready`` misses nothing.
            yield ServerSentEventMessage(event="ready", data="{}", retry=3000)
            async for message in messages:
                if message is HEARTBEAT or message.get("type") == "heartbeat":
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                yield ServerSentEventMessage(
                    event=str(message.get("type", "message")), data=json.dumps(message)
                )

    return ServerSentEvent(stream())
