"""One pipelined connection to Redis for one event loop: the throttle's hot path.

redis-py's asyncio client takes a connection from a pool, packs the command, sends it, and reads
the reply under a timeout for every call (~100-200 us of CPU each on this kind of machine). The
throttle sends two short scripts per request, so here every call writes its packed command to
one connection and waits for its reply in order (Redis answers a connection's commands in the
order sent); the commands of one event-loop turn go out in one write, and hiredis parses the
replies. A call that gets no reply within ``timeout_s`` fails every call in flight and closes
the connection (the next call connects again); so does a lost connection.

Errors are redis-py's: ``ConnectionError``/``TimeoutError`` (both ``RedisError``) for the link,
``ResponseError`` for an error reply, so callers catch what they caught with redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["RedisAddress", "RedisLink"]

Arg = str | bytes | int


def _pack(args: tuple[Arg, ...]) -> bytes:
    # hiredis' stub types the command as a 1-tuple; it takes any number of arguments.
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """Where and how to connect, from a ``redis://``, ``rediss://`` or ``unix://`` URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def of(cls, url: str) -> RedisAddress:
        parts = urlparse(url)
        query = parse_qs(parts.query)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if parts.scheme == "unix":
            db = int(query.get("db", ["0"])[0])
            return cls(path=parts.path, db=db, username=username, password=password)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a Redis URL: {parts.scheme}://…")
        path_db = parts.path.lstrip("/")
        db = int(query.get("db", [path_db or "0"])[0])
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=db,
            username=username,
            password=password,
            tls=parts.scheme == "rediss",
        )

    def greeting(self) -> list[tuple[Arg, ...]]:
        """The commands a new connection sends before any other."""
        commands: list[tuple[Arg, ...]] = []
        if self.password is not None:
            who = (self.username,) if self.username else ()
            commands.append(("AUTH", *who, self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


class _Protocol(asyncio.Protocol):
    """The connection: commands out in one write per loop turn, replies matched in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        self._waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._out: list[bytes] = []
        self._watchdog: asyncio.TimerHandle | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but have its methods
        self._transport = cast(asyncio.Transport, transport)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.lost is not None:
            raise RedisConnectionError(f"redis connection lost: {self.lost}")
        reply = self._loop.create_future()
        self._waiting.append((reply, self._loop.time()))
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(packed)
        if self._watchdog is None:
            self._watchdog = self._loop.call_later(self._timeout_s, self._check_timeout)
        return reply

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and self.lost is None and out:
            self._transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self._waiting:
                self._fail(RedisConnectionError("redis sent a reply nobody asked for"))
                return
            future, _ = self._waiting.popleft()
            if future.done():
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(ResponseError(str(reply)))
            else:
                future.set_result(reply)

    def _check_timeout(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        oldest = self._waiting[0][1]
        due = oldest + self._timeout_s
        if self._loop.time() >= due:
            self._fail(RedisTimeoutError(f"no reply from redis within {self._timeout_s} s"))
        else:
            self._watchdog = self._loop.call_at(due, self._check_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"redis closed the connection: {exc or 'EOF'}"))

    def _fail(self, error: BaseException) -> None:
        if self.lost is None:
            self.lost = error
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, collections.deque()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(error)
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        self._fail(RedisConnectionError("closed"))


class RedisLink:
    """Commands to Redis over one connection of the running event loop (made on first use,
    made again after it failed)."""

    def __init__(self, url: str, connect_timeout_s: float = 0.5, timeout_s: float = 0.5) -> None:
        self._address = RedisAddress.of(url)
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, *args: Arg) -> Any:
        """Send one command; its reply (hiredis' types: bytes, int, list, None)."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        return await protocol.send(_pack(args))

    async def calls(self, commands: Sequence[tuple[Arg, ...]]) -> list[Any]:
        """Several commands in one write; their replies in order (an error reply raises)."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        replies = [protocol.send(_pack(args)) for args in commands]
        return list(await asyncio.gather(*replies))

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a link belongs to one loop: forget another loop's
            self._protocol, self._connecting, self._loop = None, None, loop
        if self._connecting is None or self._connecting.done():
            self._connecting = loop.create_future()
            task = loop.create_task(self._open(loop))
            task.add_done_callback(self._opened)
        return await asyncio.shield(self._connecting)

    def _opened(self, task: asyncio.Task[_Protocol]) -> None:
        connecting = self._connecting
        if connecting is None or connecting.done():
            return
        if task.cancelled():
            connecting.set_exception(RedisConnectionError("connecting was cancelled"))
        elif (error := task.exception()) is not None:
            connecting.set_exception(error)
        else:
            self._protocol = task.result()
            connecting.set_result(self._protocol)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        address = self._address
        protocol = _Protocol(loop, self._timeout_s)
        try:
            if address.path is not None:
                opening = loop.create_unix_connection(lambda: protocol, address.path)
            else:
                tls = ssl.create_default_context() if address.tls else None
                opening = loop.create_connection(
                    lambda: protocol, address.host, address.port, ssl=tls
                )
            await asyncio.wait_for(opening, self._connect_timeout_s)
        except (TimeoutError, OSError) as error:
            raise RedisConnectionError(f"cannot connect to redis: {error!r}") from error
        greeting = [protocol.send(_pack(c)) for c in address.greeting()]
        try:
            await asyncio.gather(*greeting)
        except BaseException:
            protocol.close()
            raise
        return protocol

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)
