"""The load generator's raw HTTP/1.1 client against a scripted local server: keep-alive,
Content-Length and chunked bodies, and a fresh connection when the server closes one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from ops.bench.http_client import RawConnection

Reply = Callable[[bytes], bytes | None]  # request head -> raw response (None: hang up)


async def _serve(
    reply: Reply, scenario: Callable[[RawConnection], Awaitable[object]]
) -> tuple[object, list[bytes], int]:
    heads: list[bytes] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                heads.append(head + await reader.readexactly(length))
                response = reply(head)
                if response is None:
                    break
                writer.write(response)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connection = RawConnection("127.0.0.1", port, timeout_s=5)
    try:
        outcome = await scenario(connection)
    finally:
        await connection.close()
        server.close()
        await server.wait_closed()
    return outcome, heads, connections


def _ok(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 201 Created\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


def test_requests_reuse_one_connection_and_send_their_headers_and_body() -> None:
    async def scenario(c: RawConnection) -> object:
        first = await c.request("POST", "/draws", {"Idempotency-Key": "k1"}, b'{"count":1}')
        second = await c.request("GET", "/wallet", {"Authorization": "Bearer t"})
        return first, second

    outcome, heads, connections = asyncio.run(_serve(lambda _: _ok(b'{"a":1}'), scenario))

    assert outcome == ((201, b'{"a":1}'), (201, b'{"a":1}'))
    assert connections == 1
    assert heads[0].startswith(b"POST /draws HTTP/1.1\r\n")
    assert b"Idempotency-Key: k1\r\n" in heads[0]
    assert heads[0].endswith(b'Content-Length: 11\r\n\r\n{"count":1}')
    assert heads[1].startswith(b"GET /wallet HTTP/1.1\r\n")
    assert b"Authorization: Bearer t\r\n" in heads[1]


def test_a_chunked_body_is_reassembled() -> None:
    chunked = (
        b"HTTP/1.1 422 Unprocessable Content\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"cod\r\n12;ext=1\r\ne":"insufficient"}\r\n0\r\n\r\n'
    )

    async def scenario(c: RawConnection) -> object:
        return await c.request("GET", "/x", {}), await c.request("GET", "/x", {})

    outcome, _, connections = asyncio.run(_serve(lambda _: chunked, scenario))

    assert outcome == ((422, b'{"code":"insufficient"}'),) * 2
    assert connections == 1


def test_connection_close_from_the_server_opens_a_new_connection() -> None:
    async def scenario(c: RawConnection) -> object:
        return [await c.request("GET", "/x", {}) for _ in range(3)]

    outcome, _, connections = asyncio.run(
        _serve(lambda _: _ok(b"{}", "Connection: close"), scenario)
    )

    assert outcome == [(201, b"{}")] * 3
    assert connections == 3


def test_a_server_that_hangs_up_mid_exchange_raises_and_the_next_request_reconnects() -> None:
    answers = iter([None, _ok(b"{}")])

    async def scenario(c: RawConnection) -> object:
        with pytest.raises(EOFError):
            await c.request("GET", "/x", {})
        return await c.request("GET", "/x", {})

    outcome, _, connections = asyncio.run(_serve(lambda _: next(answers), scenario))

    assert outcome == (201, b"{}")
    assert connections == 2
