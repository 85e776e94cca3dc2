"""Fixed-window request budgets (per client IP, per player) and idempotency in-flight locks.

Redis in production, so every API process shares one budget and one lock table; an in-process
stand-in in the embedded mode. ``admit`` spends a request's budgets and takes its lock in one
call (one Redis round trip, a Lua script, instead of one per budget and one for the lock).
Releases that come while another release's round trip is in flight go together in the next one
(one script call for all of them, as a group commit does): the draws of one saved batch answer
together, and each release still completes before its caller goes on.

When Redis is unreachable both degrade instead of failing the request: budgets fall back to this
process's own counters (a client spread over N processes then gets up to N times its budget), and
in-flight locks are skipped — money stays exactly-once because the durable idempotency record (the
receipt) lives in the event store, not in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError, ResponseError

from infrastructure.redis_link import RedisLink

__all__ = ["Admission", "Budget", "InMemoryThrottle", "RedisThrottle", "Throttle"]

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


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``admit`` did: the budgets spent, in the order asked, up to and including the first
    one exceeded (the later ones are not spent); the lock's token if it was asked for and taken
    (None: not asked for, someone holds it, or a budget was exceeded first)."""

    budgets: list[Budget]
    token: str | None

    @property
    def exceeded(self) -> Budget | None:
        last = self.budgets[-1] if self.budgets else None
        return last if last is not None and last.exceeded else None


class Throttle(Protocol):
    async def spend(self, key: str, limit: int) -> Budget: ...

    async def admit(
        self, budgets: Sequence[tuple[str, int]], lock: tuple[str, float] | None = None
    ) -> Admission:
        """Spend each ``(key, limit)`` budget in turn, stopping at the first exceeded; then,
        if none was, take ``lock`` (``(key, ttl_s)``) — the same as ``spend`` calls and an
        ``acquire``, in one call."""
        ...

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

    async def admit(
        self, budgets: Sequence[tuple[str, int]], lock: tuple[str, float] | None = None
    ) -> Admission:
        spent: list[Budget] = []
        for key, limit in budgets:
            spent.append(await self.spend(key, limit))
            if spent[-1].exceeded:
                return Admission(spent, None)
        token = await self.acquire(*lock) if lock is not None else None
        return Admission(spent, token)

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        now = time.monotonic()
        with self._guard:
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return None
            token = _lock_token()
            self._locks[key] = (token, now + ttl_s)
            return token

    async def release(self, key: str, token: str) -> None:
        with self._guard:
            held = self._locks.get(key)
            if held is not None and held[0] == token:
                del self._locks[key]

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Script:
    """A Lua script, sent by its SHA-1 (EVALSHA) and in full only when Redis lacks it."""

    text: str
    sha: str

    @classmethod
    def of(cls, text: str) -> _Script:
        # SHA-1 is how Redis names a script (EVALSHA), not a security measure here.
        return cls(text, hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())

    async def run(self, link: RedisLink, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await link.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
            return await link.call("EVAL", self.text, len(keys), *keys, *args)


# Delete each lock only if we still hold it (its TTL may have passed and another request taken it).
# KEYS: the locks' keys; ARGV: their tokens, in the same order.
_RELEASE = _Script.of("""
for i = 1, #KEYS do
  if redis.call('get', KEYS[i]) == ARGV[i] then redis.call('del', KEYS[i]) end
end
""")
# KEYS: the budgets' window keys, then the lock's key if any. ARGV: the number of budgets n, the
# window TTL, each budget's limit, then the lock's token and TTL in ms. Returns each budget's
# count (stopping after the first over its limit), then 1/0 for the lock if asked for and reached.
# A window's key gets its TTL when the INCR makes it (in the same script, so it always has one).
_ADMIT = _Script.of("""
local n = tonumber(ARGV[1])
local counts = {}
for i = 1, n do
  local used = redis.call('INCR', KEYS[i])
  if used == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2]) end
  counts[i] = used
  if used > tonumber(ARGV[i + 2]) then return counts end
end
if #KEYS > n then
  counts[n + 1] = redis.call('SET', KEYS[n + 1], ARGV[n + 3], 'NX', 'PX', ARGV[n + 4]) and 1 or 0
end
return counts
""")


class RedisThrottle:
    """Shared counters and locks in Redis, over one pipelined connection per event loop
    (``RedisLink``, made inside the running loop on first use: a connection made on another
    loop cannot be awaited here)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._links: dict[int, tuple[asyncio.AbstractEventLoop, RedisLink]] = {}
        self._fallback = InMemoryThrottle()
        self._down_until = 0.0
        # Per event loop: the releases waiting for the next round trip, and whether one is in
        # flight (its sender then sends the waiting ones when it returns).
        self._releases: dict[int, _Releases] = {}

    def _link(self) -> RedisLink:
        """This loop's link (not one left by a closed loop whose id this one reuses)."""
        loop = asyncio.get_running_loop()
        known = self._links.get(id(loop))
        if known is None or known[0] is not loop:
            known = self._links[id(loop)] = (loop, RedisLink(self._url, 0.5, 0.5))
        return known[1]

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, error: Exception) -> None:
        # Don't pay a connect timeout on every request while Redis is down: retry in a second.
        log.warning("redis unavailable, throttling in-process: %s", error)
        self._down_until = time.monotonic() + 1.0

    async def spend(self, key: str, limit: int) -> Budget:
        return (await self.admit([(key, limit)])).budgets[0]

    async def admit(
        self, budgets: Sequence[tuple[str, int]], lock: tuple[str, float] | None = None
    ) -> Admission:
        if not self._available():
            return await self._admit_in_process(budgets, lock)
        now = time.time()
        window = int(now // WINDOW_S)
        keys = [f"{self._prefix}rl:{key}:{window}" for key, _ in budgets]
        args: list[str | int] = [len(budgets), WINDOW_S + 1, *(limit for _, limit in budgets)]
        token = _lock_token() if lock is not None else None
        if lock is not None and token is not None:
            keys.append(f"{self._prefix}inflight:{lock[0]}")
            args += [token, int(lock[1] * 1000)]
        try:
            counts = await _ADMIT.run(self._link(), keys, args)
        except (RedisError, OSError) as error:
            self._failed(error)
            return await self._admit_in_process(budgets, lock)
        reset = _reset(now)
        spent = [
            Budget(limit, limit - int(used), reset)
            for (_, limit), used in zip(budgets, counts, strict=False)
        ]
        taken = len(counts) > len(budgets) and int(counts[-1]) == 1
        return Admission(spent, token if taken else None)

    async def _admit_in_process(
        self, budgets: Sequence[tuple[str, int]], lock: tuple[str, float] | None
    ) -> Admission:
        # Budgets in this process's counters; the lock skipped (see the module's docstring).
        admission = await self._fallback.admit(budgets)
        if lock is None or admission.exceeded is not None:
            return admission
        return Admission(admission.budgets, _lock_token())

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        return (await self.admit([], (key, ttl_s))).token

    async def release(self, key: str, token: str) -> None:
        """Release the lock if ``token`` still holds it; returns once Redis has done it (or
        could not: the lock then ends with its TTL)."""
        if not self._available():
            return
        loop = asyncio.get_running_loop()
        releases = self._releases.get(id(loop))
        if releases is None or releases.loop is not loop:  # not one left by a closed loop
            releases = self._releases[id(loop)] = _Releases(loop)
        done = loop.create_future()
        releases.waiting.append((f"{self._prefix}inflight:{key}", token, done))
        if not releases.sending:
            releases.sending = True
            # A task, not this caller: the caller goes on as soon as its own batch is done.
            releases.task = loop.create_task(self._send_releases(releases))
        # Not shielded: ``done`` is this caller's alone; cancelling it cancels nothing shared
        # (the sender skips answers nobody waits for).
        await done

    async def _send_releases(self, releases: _Releases) -> None:
        try:
            while releases.waiting:
                batch, releases.waiting = releases.waiting, []
                try:
                    await self._release_all(batch)
                except BaseException as error:
                    # Those that came meanwhile too: no sender is left to send them.
                    _fail(batch + releases.waiting, error)
                    releases.waiting = []
                    if not isinstance(error, Exception):
                        raise  # a cancellation (the loop is ending): the waiters have it too
                    return
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            releases.sending = False

    async def _release_all(self, batch: list[tuple[str, str, asyncio.Future[None]]]) -> None:
        if not self._available():  # the last round trip failed: their TTLs end them
            return
        try:
            await _RELEASE.run(
                self._link(), [key for key, _, _ in batch], [token for _, token, _ in batch]
            )
        except (RedisError, OSError) as error:
            self._failed(error)

    async def close(self) -> None:
        links, self._links = self._links, {}
        self._releases = {}
        for _, link in links.values():
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await link.close()


@dataclass(slots=True)
class _Releases:
    loop: asyncio.AbstractEventLoop
    waiting: list[tuple[str, str, asyncio.Future[None]]] = field(default_factory=list)
    sending: bool = False
    task: asyncio.Task[None] | None = None  # kept referenced while it runs


def _fail(batch: list[tuple[str, str, asyncio.Future[None]]], error: BaseException) -> None:
    for _, _, done in batch:
        if done.done():
            continue
        if isinstance(error, asyncio.CancelledError):
            done.cancel()
        else:
            done.set_exception(error)


def _lock_token() -> str:
    """Who holds a lock: it only has to differ from any other holder's (it never leaves this
    server and grants nothing), so the random module's generator (reseeded in a forked child)
    instead of a system call per request as ``secrets`` makes."""
    return f"{random.getrandbits(64):016x}"


def _reset(now: float) -> int:
    return WINDOW_S - int(now % WINDOW_S)
