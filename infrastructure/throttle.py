"""Fixed-window request budgets (per client IP, per player) and idempotency in-flight locks.

Redis in production, so every API process shares one budget and one lock table; an in-process
stand-in in the embedded mode. When Redis is unreachable both degrade instead of failing the
request: budgets fall back to this process's own counters (a client spread over N processes then
gets up to N times its budget), and in-flight locks are skipped — money stays exactly-once
because the durable idempotency record (the receipt) lives in the event store, not in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["Budget", "InMemoryThrottle", "RedisThrottle", "Throttle"]

log = logging.getLogger(__name__)
WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Budget:
    """What is left of one fixed window: the RateLimit-* headers are made from this."""

    limit: int
    remaining: int
    reset_s: int

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0


class Throttle(Protocol):
    async def spend(self, key: str, limit: int) -> Budget: ...

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        """A token if the lock was free (now held), None if someone holds it."""
        ...

    async def release(self, key: str, token: str) -> None: ...

    async def close(self) -> None: ...


class InMemoryThrottle:
    """One process's counters and locks (the embedded default, and the Redis fallback)."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int]] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._guard = threading.Lock()

    async def spend(self, key: str, limit: int) -> Budget:
        now = time.time()
        window = int(now // WINDOW_S)
        with self._guard:
            started, used = self._windows.get(key, (window, 0))
            used = used + 1 if started == window else 1
            self._windows[key] = (window, used)
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        return Budget(limit, limit - used, _reset(now))

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        now = time.monotonic()
        with self._guard:
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return None
            token = secrets.token_hex(8)
            self._locks[key] = (token, now + ttl_s)
            return token

    async def release(self, key: str, token: str) -> None:
        with self._guard:
            held = self._locks.get(key)
            if held is not None and held[0] == token:
                del self._locks[key]

    async def close(self) -> None:
        return None


# Delete the lock only if we still hold it (its TTL may have passed and another request taken it).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class RedisThrottle:
    """Shared counters and locks in Redis. The async client is made inside the running event
    loop on first use (a client made on another loop cannot be awaited here)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._clients: dict[int, aioredis.Redis] = {}
        self._fallback = InMemoryThrottle()
        self._down_until = 0.0

    def _client(self) -> aioredis.Redis:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(
                self._url, socket_connect_timeout=0.5, socket_timeout=0.5
            )
            self._clients[loop] = client
        return client

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, error: Exception) -> None:
        # Don't pay a connect timeout on every request while Redis is down: retry in a second.
        log.warning("redis unavailable, throttling in-process: %s", error)
        self._down_until = time.monotonic() + 1.0

    async def spend(self, key: str, limit: int) -> Budget:
        if not self._available():
            return await self._fallback.spend(key, limit)
        now = time.time()
        window_key = f"{self._prefix}rl:{key}:{int(now // WINDOW_S)}"
        try:
            pipe = self._client().pipeline(transaction=False)
            pipe.incr(window_key)
            pipe.expire(window_key, WINDOW_S + 1)
            used, _ = await pipe.execute()
        except (RedisError, OSError) as error:
            self._failed(error)
            return await self._fallback.spend(key, limit)
        return Budget(limit, limit - int(used), _reset(now))

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        if not self._available():
            return token
        try:
            ok = await self._client().set(
                f"{self._prefix}inflight:{key}", token, nx=True, px=int(ttl_s * 1000)
            )
        except (RedisError, OSError) as error:
            self._failed(error)
            return token
        return token if ok else None

    async def release(self, key: str, token: str) -> None:
        if not self._available():
            return
        try:
            await self._client().eval(_RELEASE, 1, f"{self._prefix}inflight:{key}", token)
        except (RedisError, OSError) as error:
            self._failed(error)

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await client.aclose()


def _reset(now: float) -> int:
    return WINDOW_S - int(now % WINDOW_S)
