"""``admit`` on Redis (one Lua script) does what the in-process throttle does with one ``spend``
per budget and an ``acquire``: budgets spent in order up to the first exceeded, the lock taken
only when none was, and released only by its holder. Without Redis it degrades to in-process
budgets and no lock (the receipts keep money exactly-once)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from infrastructure import throttle as throttle_module
from infrastructure.redis_link import RedisLink
from infrastructure.throttle import Admission, InMemoryThrottle, RedisThrottle, Throttle

BUDGETS = [("ip:203.0.113.9", 3), ("player:p1", 2)]


def summary(admission: Admission) -> tuple[list[int], bool]:
    return [b.remaining for b in admission.budgets], admission.token is not None


async def scenario(throttle: Throttle) -> list[tuple[list[int], bool]]:
    first = await throttle.admit(BUDGETS, ("p1:k", 5))
    held = await throttle.admit(BUDGETS, ("p1:k", 5))
    over_player = await throttle.admit(BUDGETS, ("p1:other", 5))
    over_ip = await throttle.admit(BUDGETS)
    assert first.token is not None
    await throttle.release("p1:k", "not the holder's token")
    still_held = await throttle.admit([("ip:198.51.100.1", 9)], ("p1:k", 5))
    await throttle.release("p1:k", first.token)
    freed = await throttle.admit([("ip:198.51.100.1", 9)], ("p1:k", 5))
    await throttle.close()
    return [summary(a) for a in (first, held, over_player, over_ip, still_held, freed)]


EXPECTED = [
    ([2, 1], True),
    ([1, 0], False),  # the lock is held
    ([0, -1], False),  # the player's budget is exceeded: no lock taken
    ([-1], False),  # the IP's is: the player's is not spent
    ([8], False),  # a stranger's token does not release it
    ([7], True),
]


class CountedScript:
    """A throttle script that counts its round trips."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    async def run(self, link: RedisLink, keys: list[str], args: list[str | int]) -> Any:
        self.calls.append(keys)
        return await self.script.run(link, keys, args)


def test_in_process(redis_prefix: tuple[str, str]) -> None:
    assert asyncio.run(scenario(InMemoryThrottle())) == EXPECTED


def test_on_redis_in_one_script(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    throttle = RedisThrottle(url, f"{prefix}throttle-{secrets.token_hex(4)}:")

    assert asyncio.run(scenario(throttle)) == EXPECTED


@pytest.mark.parametrize("lock", [None, ("p1:k", 5.0)])
def test_without_redis_budgets_are_in_process_and_locks_skipped(
    lock: tuple[str, float] | None,
) -> None:
    throttle = RedisThrottle("redis://127.0.0.1:1/0", "unreachable:")

    async def twice() -> list[Admission]:
        return [await throttle.admit(BUDGETS, lock) for _ in range(2)]

    admissions = asyncio.run(twice())

    assert [[b.remaining for b in a.budgets] for a in admissions] == [[2, 1], [1, 0]]
    assert all((a.token is not None) == (lock is not None) for a in admissions)


def test_releases_that_come_together_go_in_one_round_trip(
    redis_prefix: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Releases waiting while one is in flight are sent together; each holder's lock is free
    when its ``release`` returns, and a stranger's token in the same batch frees nothing."""
    url, prefix = redis_prefix
    script = CountedScript(throttle_module._RELEASE)
    monkeypatch.setattr(throttle_module, "_RELEASE", script)
    throttle = RedisThrottle(url, f"{prefix}throttle-{secrets.token_hex(4)}:")
    locks = [f"p{i}:k" for i in range(20)]

    async def run() -> tuple[int, list[bool], bool]:
        tokens = [(await throttle.admit([], (lock, 30))).token for lock in locks]
        assert all(tokens)
        releases = [
            throttle.release(lock, str(token)) for lock, token in zip(locks, tokens, strict=True)
        ]
        await asyncio.gather(throttle.release(locks[0], "a stranger's"), *releases[1:])
        freed = [(await throttle.admit([], (lock, 30))).token is not None for lock in locks]
        await releases[0]  # its holder's release, alone: the lock is free when it returns
        first_freed = (await throttle.admit([], (locks[0], 30))).token is not None
        await throttle.close()
        return len(script.calls), freed, first_freed

    calls, freed, first_freed = asyncio.run(run())

    assert calls == 2  # the 20 that came in the same moment together, then the last alone
    assert freed == [False] + [True] * 19
    assert first_freed


def test_a_release_that_fails_unexpectedly_fails_every_waiting_one(
    redis_prefix: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No release is left waiting for a sender that has stopped (a stalled response)."""
    url, prefix = redis_prefix
    throttle = RedisThrottle(url, f"{prefix}throttle-{secrets.token_hex(4)}:")
    first = asyncio.Event()

    class Broken:
        async def run(self, *_: object) -> object:
            first.set()
            await asyncio.sleep(0.01)
            raise ValueError("not a Redis error")

    monkeypatch.setattr(throttle_module, "_RELEASE", Broken())

    async def run() -> list[object]:
        sent = asyncio.ensure_future(throttle.release("p1:k", "t1"))
        await first.wait()  # in flight: the next one waits for it
        later = asyncio.ensure_future(throttle.release("p2:k", "t2"))
        outcomes = await asyncio.wait_for(
            asyncio.gather(sent, later, return_exceptions=True), timeout=5
        )
        await throttle.close()
        return [type(o) for o in outcomes]

    assert asyncio.run(run()) == [ValueError, ValueError]


def test_a_release_whose_caller_gives_up_still_goes_and_the_others_complete(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    throttle = RedisThrottle(url, f"{prefix}throttle-{secrets.token_hex(4)}:")
    locks = [f"p{i}:k" for i in range(3)]

    async def run() -> tuple[list[bool], list[bool]]:
        tokens = [str((await throttle.admit([], (lock, 30))).token) for lock in locks]
        waiting = [
            asyncio.ensure_future(throttle.release(lock, token))
            for lock, token in zip(locks, tokens, strict=True)
        ]
        await asyncio.sleep(0)  # all three queued; the first batch is in flight
        waiting[1].cancel()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        await asyncio.sleep(0.05)
        freed = [(await throttle.admit([], (lock, 30))).token is not None for lock in locks]
        await throttle.close()
        return [isinstance(o, asyncio.CancelledError) for o in outcomes], freed

    cancelled, freed = asyncio.run(run())

    assert cancelled == [False, True, False]
    assert freed == [True, True, True]
