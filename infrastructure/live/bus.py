"""The live bus: ``publish`` and ``publish_batch`` (sync, any thread, never raise) and
``subscription`` (async), in this process (``InMemoryLiveBus``) or across processes over Redis
pub/sub (``RedisLiveBus``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, Protocol

import msgspec
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["HEARTBEAT", "InMemoryLiveBus", "LiveBus", "Message", "RedisLiveBus"]

log = logging.getLogger(__name__)

Message = dict[str, Any]
# What a subscription yields after ``heartbeat_s`` without a message (an SSE keep-alive).
HEARTBEAT: Message = {"type": "heartbeat"}


class LiveBus(Protocol):
    def publish(self, player_id: str, message: Message) -> None:
        """Send ``message`` (JSON-serialisable) to the player's open subscriptions, if any.
        Thread-safe; never raises (an outage logs and drops)."""

    def publish_batch(self, messages: Mapping[str, Sequence[Message]]) -> None:
        """``publish`` each player's messages, in order, at once (over Redis: one round trip,
        one PUBLISH per player)."""

    def subscription(
        self, player_id: str, heartbeat_s: float | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[Message]]:
        """``async with bus.subscription(p) as sub: async for message in sub: ...`` — the
        iteration ends when the bus closes; leaving the block (a client disconnect cancels
        the task) unsubscribes."""

    def subscribe(
        self, player_id: str, heartbeat_s: float | None = None
    ) -> AsyncGenerator[Message, None]:
        """The same as an async generator (close it, or let it be garbage collected)."""

    def close(self) -> None: ...


class _Bus:
    def publish(self, player_id: str, message: Message) -> None:
        raise NotImplementedError

    def publish_batch(self, messages: Mapping[str, Sequence[Message]]) -> None:
        for player_id, theirs in messages.items():
            for message in theirs:
                self.publish(player_id, message)

    def subscription(
        self, player_id: str, heartbeat_s: float | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[Message]]:
        raise NotImplementedError

    async def subscribe(
        self, player_id: str, heartbeat_s: float | None = None
    ) -> AsyncGenerator[Message, None]:
        async with self.subscription(player_id, heartbeat_s) as messages:
            async for message in messages:
                yield message


# ---- in memory -----------------------------------------------------------------------------------

_CLOSED: Message = {"type": "closed"}


class _Inbox:
    """One subscriber's bounded queue; only touched from its event loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Message] = asyncio.Queue(size)
        self.closed = False

    def put(self, message: Message) -> None:
        if self.closed:
            return
        if self.queue.full():
            self.queue.get_nowait()  # a slow reader loses the oldest update, not the newest
        self.queue.put_nowait(message)

    def close(self) -> None:
        self.put(_CLOSED)
        self.closed = True

    async def messages(self, heartbeat_s: float | None) -> AsyncGenerator[Message, None]:
        while True:
            try:
                message = await asyncio.wait_for(self.queue.get(), heartbeat_s)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if message is _CLOSED:
                return
            yield message


class InMemoryLiveBus(_Bus):
    """Subscribers of this process only: the embedded mode, where the feed runs in the app."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._inboxes: dict[str, set[_Inbox]] = {}
        self._closed = False

    def publish(self, player_id: str, message: Message) -> None:
        with self._lock:
            inboxes = list(self._inboxes.get(player_id, ()))
        for inbox in inboxes:
            try:
                inbox.loop.call_soon_threadsafe(inbox.put, message)
            except RuntimeError:  # its event loop is closed: the subscriber is gone
                self._remove(player_id, inbox)

    @asynccontextmanager
    async def subscription(
        self, player_id: str, heartbeat_s: float | None = None
    ) -> AsyncIterator[AsyncIterator[Message]]:
        inbox = _Inbox(asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            if self._closed:
                inbox.close()
            else:
                self._inboxes.setdefault(player_id, set()).add(inbox)
        messages = inbox.messages(heartbeat_s)
        try:
            yield messages
        finally:
            self._remove(player_id, inbox)
            await messages.aclose()

    def _remove(self, player_id: str, inbox: _Inbox) -> None:
        with self._lock:
            inboxes = self._inboxes.get(player_id)
            if inboxes is not None:
                inboxes.discard(inbox)
                if not inboxes:
                    del self._inboxes[player_id]

    def subscribers(self, player_id: str) -> int:
        with self._lock:
            return len(self._inboxes.get(player_id, ()))

    def close(self) -> None:
        """End every subscription's iteration."""
        with self._lock:
            self._closed = True
            inboxes = [i for group in self._inboxes.values() for i in group]
        for inbox in inboxes:
            with suppress(RuntimeError):
                inbox.loop.call_soon_threadsafe(inbox.close)


# ---- Redis ---------------------------------------------------------------------------------------

# What JSON has no type for (a UUID, a Decimal, a datetime left in a message) goes as its str().
_ENCODER = msgspec.json.Encoder(enc_hook=str)


class RedisLiveBus(_Bus):
    """Redis pub/sub, channel ``{prefix}live:{player_id}``.

    Publishing uses a sync client (the feed runs in a thread) without retries: after a failure
    it drops messages for ``retry_after_s`` instead of stalling the feed on every one. Each
    subscription has its own async client, created inside the running event loop (an asyncio
    client belongs to the loop that created it, and a Litestar test client runs the app on a
    loop of its own); it re-subscribes with backoff when its connection drops.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str = "prizeledger:",
        *,
        client_name: str | None = None,
        timeout_s: float = 1.0,
        retry_after_s: float = 1.0,
    ) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._client_name = client_name
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            client_name=client_name,
        )
        self._lock = threading.Lock()
        self._down_until: float | None = None  # set while Redis is failing
        self._closed = threading.Event()

    def channel(self, player_id: str) -> str:
        return f"{self._prefix}live:{player_id}"

    @property
    def client_name(self) -> str | None:
        """The name its connections give Redis (``CLIENT LIST``)."""
        return self._client_name

    def publish(self, player_id: str, message: Message) -> None:
        self.publish_batch({player_id: [message]})

    def publish_batch(self, messages: Mapping[str, Sequence[Message]]) -> None:
        if self._closed.is_set() or not messages:
            return
        down_until = self._down_until
        if down_until is not None and time.monotonic() < down_until:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for player_id, theirs in messages.items():
                # One message as itself, several as a list (the listener takes both).
                body = theirs[0] if len(theirs) == 1 else theirs
                pipe.publish(self.channel(player_id), _ENCODER.encode(body))
            pipe.execute()
        except Exception as error:  # never the publisher's problem
            with self._lock:
                if self._down_until is None:
                    log.warning("live updates: Redis publish failed, dropping: %r", error)
                self._down_until = time.monotonic() + self._retry_after_s
            return
        if down_until is not None:
            with self._lock:
                self._down_until = None
            log.info("live updates: Redis publishes again")

    @asynccontextmanager
    async def subscription(
        self, player_id: str, heartbeat_s: float | None = None
    ) -> AsyncIterator[AsyncIterator[Message]]:
        listener = _RedisListener(self, self.channel(player_id))
        await listener.start()
        messages = listener.messages(heartbeat_s)
        try:
            yield messages
        finally:
            await messages.aclose()
            await listener.stop()

    def _async_client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self._url,
            socket_connect_timeout=self._timeout_s,
            retry=AsyncRetry(NoBackoff(), 0),
            client_name=self._client_name,
        )

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Subscriptions end within a second; publishing stops."""
        self._closed.set()
        self._client.close()


class _RedisListener:
    POLL_S = 0.5  # how often a waiting subscription notices that the bus closed

    def __init__(self, bus: RedisLiveBus, channel: str) -> None:
        self._bus = bus
        self._channel = channel
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._delay = 0.1

    async def start(self) -> None:
        """Subscribe before returning (so nothing published afterwards is missed); when Redis
        is down, the iteration keeps trying instead."""
        try:
            await self._subscribe()
        except (redis.RedisError, OSError) as error:
            log.warning("live updates: cannot subscribe yet, will retry: %r", error)
            await self._drop()

    async def _subscribe(self) -> None:
        self._client = self._bus._async_client()
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(self._channel)
        deadline = asyncio.get_running_loop().time() + 5.0
        while asyncio.get_running_loop().time() < deadline:  # wait for Redis to confirm
            reply = await self._pubsub.get_message(timeout=self.POLL_S)
            if reply is not None and reply["type"] == "subscribe":
                self._delay = 0.1
                return
        raise redis.TimeoutError("no subscribe confirmation")

    async def _drop(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        for closing in (pubsub, client):
            if closing is not None:
                with suppress(redis.RedisError, OSError):
                    await closing.aclose()

    async def messages(self, heartbeat_s: float | None) -> AsyncGenerator[Message, None]:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while not self._bus.closed:
            if heartbeat_s is not None and loop.time() - quiet_since >= heartbeat_s:
                quiet_since = loop.time()
                yield HEARTBEAT
            if self._pubsub is None and not await self._resubscribe():
                continue
            try:
                reply = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=self.POLL_S
                )
            except (redis.RedisError, OSError) as error:
                log.warning("live updates: subscription lost, re-subscribing: %r", error)
                await self._drop()
                continue
            if reply is None or reply["type"] != "message":
                continue
            try:
                body = msgspec.json.decode(reply["data"])
            except msgspec.DecodeError:
                body = None
            batch = body if isinstance(body, list) else [body]
            if not all(isinstance(message, dict) for message in batch):
                log.warning("live updates: ignoring a malformed message on %s", self._channel)
                continue
            quiet_since = loop.time()
            for message in batch:
                yield message

    async def _resubscribe(self) -> bool:
        try:
            await self._subscribe()
        except (redis.RedisError, OSError):
            await self._drop()
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, 5.0)
            return False
        log.info("live updates: re-subscribed to %s", self._channel)
        return True

    async def stop(self) -> None:
        if self._pubsub is not None:
            with suppress(redis.RedisError, OSError):
                await self._pubsub.unsubscribe(self._channel)
        await self._drop()
