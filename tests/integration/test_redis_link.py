"""``RedisLink``: every call gets its own reply over one pipelined connection, an error reply
raises redis-py's ``ResponseError``, and a link that stops answering or is closed fails the
calls in flight with redis-py's errors and connects again on the next call."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse, urlunparse

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infrastructure.redis_link import RedisAddress, RedisLink
from infrastructure.throttle import _Script


def test_addresses_from_urls() -> None:
    assert RedisAddress.of("redis://127.0.0.1:6379/0") == RedisAddress("127.0.0.1", 6379)
    assert RedisAddress.of("rediss://u:p%40ss@cache.internal:6380/2") == RedisAddress(
        "cache.internal", 6380, db=2, username="u", password="p@ss", tls=True
    )
    assert RedisAddress.of("redis://:secret@localhost?db=5").greeting() == [
        ("AUTH", "secret"),
        ("SELECT", 5),
    ]
    assert RedisAddress.of("unix:///run/redis.sock?db=1") == RedisAddress(
        path="/run/redis.sock", db=1
    )
    with pytest.raises(ValueError, match="not a Redis URL"):
        RedisAddress.of("http://127.0.0.1:6379")


def test_concurrent_calls_each_get_their_own_reply(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    key = f"{prefix}link-{secrets.token_hex(4)}"

    async def run() -> tuple[list[object], list[object]]:
        link = RedisLink(url)
        echoes = await asyncio.gather(*(link.call("ECHO", f"m{i}") for i in range(200)))
        together = await link.calls([("INCRBY", key, 5), ("GET", key), ("DEL", key)])
        await link.close()
        return echoes, together

    echoes, together = asyncio.run(run())

    assert echoes == [f"m{i}".encode() for i in range(200)]
    assert together == [5, b"5", 1]


def test_an_error_reply_raises_and_the_link_goes_on(redis_prefix: tuple[str, str]) -> None:
    url, _ = redis_prefix

    async def run() -> object:
        link = RedisLink(url)
        with pytest.raises(ResponseError, match="unknown command"):
            await link.call("NO-SUCH-COMMAND")
        answer = await link.call("PING")
        await link.close()
        return answer

    assert asyncio.run(run()) == b"PONG"


def test_a_script_redis_lacks_is_sent_in_full_once(redis_prefix: tuple[str, str]) -> None:
    url, _ = redis_prefix
    # A script no Redis has seen: the first call's EVALSHA is refused with NOSCRIPT.
    script = _Script.of(f"-- {secrets.token_hex(8)}\nreturn ARGV[1] .. KEYS[1]")
    sent: list[object] = []

    async def run() -> list[object]:
        link = RedisLink(url)
        call = link.call

        async def recorded(*args: object) -> object:
            sent.append(args[0])
            return await call(*args)  # type: ignore[arg-type]

        link.call = recorded  # type: ignore[method-assign]
        replies = [await script.run(link, ["k"], ["v"]) for _ in range(2)]
        await link.close()
        return replies

    assert asyncio.run(run()) == [b"vk", b"vk"]
    assert sent == ["EVALSHA", "EVAL", "EVALSHA"]


def test_the_greeting_selects_the_database(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    in_db_3 = urlunparse(urlparse(url)._replace(path="/3"))
    key = f"{prefix}link-db-{secrets.token_hex(4)}"

    async def run() -> None:
        link = RedisLink(in_db_3)
        await link.call("SET", key, "here", "EX", 60)
        await link.close()

    asyncio.run(run())
    other = redis.Redis.from_url(in_db_3)
    try:
        assert other.get(key) == b"here"
        assert redis.Redis.from_url(url).get(key) is None
        other.delete(key)
    finally:
        other.close()


async def _fake_redis(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, str]:
    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(answer_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"redis://127.0.0.1:{port}/0"


def test_no_reply_in_time_fails_the_calls_in_flight_and_the_next_call_reconnects() -> None:
    connections = 0

    async def silent_then_pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await reader.read(1024)  # read, never answer
            await reader.read(1024)  # until the link hangs up
        else:
            await reader.read(1024)
            writer.write(b"+PONG\r\n")
            await writer.drain()

    async def run() -> tuple[list[type[BaseException]], float, object]:
        server, url = await _fake_redis(silent_then_pong)
        link = RedisLink(url, timeout_s=0.2)
        started = time.monotonic()
        failed = await asyncio.gather(link.call("PING"), link.call("PING"), return_exceptions=True)
        waited = time.monotonic() - started
        again = await link.call("PING")
        await link.close()
        server.close()
        await server.wait_closed()
        return [type(f) for f in failed], waited, again

    failed, waited, again = asyncio.run(run())

    assert failed == [RedisTimeoutError, RedisTimeoutError]
    assert 0.15 < waited < 2.0
    assert again == b"PONG"
    assert connections == 2


def test_a_closed_connection_fails_the_calls_in_flight() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)

    async def run() -> list[type[BaseException]]:
        server, url = await _fake_redis(hang_up)
        link = RedisLink(url, timeout_s=5)
        failed = await asyncio.gather(link.call("PING"), link.call("PING"), return_exceptions=True)
        await link.close()
        server.close()
        await server.wait_closed()
        return [type(f) for f in failed]

    assert asyncio.run(run()) == [RedisConnectionError, RedisConnectionError]


def test_nothing_listening_is_a_connection_error() -> None:
    async def run() -> None:
        await RedisLink("redis://127.0.0.1:1/0").call("PING")

    with pytest.raises(RedisConnectionError):
        asyncio.run(run())
