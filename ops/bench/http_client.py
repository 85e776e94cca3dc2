"""HTTP/1.1 keep-alive clients for the load generator: one connection per simulated player.

``RawConnection`` speaks just enough HTTP/1.1 over asyncio streams (Content-Length or chunked
bodies, reconnect when the server closes) to keep the load generator's own CPU small: on a
2-core machine every millisecond the client spends is taken from the server and Postgres.
``HttpxConnection`` does the same through httpx, to compare. Bench code only.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import httpx

__all__ = ["Connection", "HttpxConnection", "RawConnection", "connect"]

Response = tuple[int, bytes]  # status, body


class Connection(Protocol):
    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Response: ...

    async def close(self) -> None: ...


class RawConnection:
    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self._host, self._port, self._timeout = host, port, timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n" if body or method != "GET" else "\r\n"
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        try:
            self._writer.write(head.encode("latin-1") + body)
            return await asyncio.wait_for(self._response(), self._timeout)
        except BaseException:
            await self.close()  # the stream's state is unknown: never reuse it
            raise

    async def _response(self) -> Response:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.lower().split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = b"close" in value
        body = await self._chunked() if chunked else await self._reader.readexactly(length)
        if close:
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await self._reader.readexactly(size + 2))
            if size == 0:
                # the last chunk's CRLF; no trailers are sent by the servers we measure
                return b"".join(p[:-2] for p in parts)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class HttpxConnection:
    """One player's requests through an ``httpx.AsyncClient`` shared by every player."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        try:
            response = await self._client.request(
                method, path, headers=headers, content=body or None
            )
        except httpx.TransportError as error:  # the raw client's failures are OSErrors too
            raise ConnectionError(str(error)) from error
        return response.status_code, response.content

    async def close(self) -> None:
        await self._client.aclose()  # idempotent: every player closes the shared client


def connect(kind: str, base_url: str, players: int) -> list[Connection]:
    """One connection per player (``kind``: raw or httpx); nothing is opened until used."""
    if kind == "httpx":
        limits = httpx.Limits(max_connections=players, max_keepalive_connections=players)
        client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)
        return [HttpxConnection(client) for _ in range(players)]
    url = httpx.URL(base_url)
    return [RawConnection(url.host, url.port or 80) for _ in range(players)]
