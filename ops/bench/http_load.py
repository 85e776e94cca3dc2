"""The load generator: a process of its own running one asyncio task per player, each sending
requests in a closed loop (the next as soon as the last is answered).

The run starts at ``start_at`` (wall clock, so the parent can sample server and Postgres CPU at
the same moments), warms up for ``warmup_s`` and is measured for ``seconds``. Responses that
complete inside the measured window give the rates, latencies and status mix; every 2xx draw
(warm-up included) is reported by id so that the store can be checked against it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ops.bench.http_client import Connection, connect

__all__ = ["LoadPlan", "LoadProcess", "LoadResult"]

TRANSPORT_ERROR = "transport_error"


@dataclass(frozen=True)
class LoadPlan:
    base_url: str
    players: list[tuple[str, str]]  # (player id, access token)
    method: str  # POST draws to a pool, or GET the wallet
    path: str
    body: bytes
    start_at: float  # time.time()
    warmup_s: float
    seconds: float
    client: str  # raw | httpx
    money: bool  # send a fresh Idempotency-Key with every request

    @property
    def measure_from(self) -> float:
        return self.start_at + self.warmup_s

    @property
    def stop_at(self) -> float:
        return self.measure_from + self.seconds


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)  # measured window only
    statuses: Counter[str] = field(default_factory=Counter)  # measured window only
    codes: Counter[str] = field(default_factory=Counter)  # problem codes, measured window only
    answered: list[tuple[str, str]] = field(default_factory=list)  # 2xx draws: (id, player)
    requests: int = 0  # all of them, warm-up included
    client_cpu_s: float = 0.0  # this process, measured window only


class _Reply(msgspec.Struct):
    draw_id: str | None = None
    code: str | None = None


_decode = msgspec.json.Decoder(_Reply).decode


def _reply(body: bytes) -> _Reply | None:
    try:
        return _decode(body)
    except msgspec.DecodeError:  # an empty or non-JSON body (a proxy's or server's plain 5xx)
        return None


async def _player(
    plan: LoadPlan, connection: Connection, player: tuple[str, str], out: LoadResult
) -> None:
    player_id, token = player
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    prefix = f"{secrets.token_hex(4)}-"
    n = 0
    while (started_wall := time.time()) < plan.stop_at:
        n += 1
        if plan.money:
            headers["Idempotency-Key"] = f"{prefix}{n}"
        t0 = time.perf_counter()
        try:
            status, body = await connection.request(plan.method, plan.path, headers, plan.body)
        except (OSError, EOFError, TimeoutError):
            status, body = 0, b""
        elapsed_ms = (time.perf_counter() - t0) * 1000
        out.requests += 1
        reply = _reply(body) if status >= 400 or plan.money else None
        if plan.money and 200 <= status < 300 and reply is not None and reply.draw_id:
            out.answered.append((reply.draw_id, player_id))
        if started_wall + elapsed_ms / 1000 < plan.measure_from:
            continue
        out.latencies_ms.append(elapsed_ms)
        out.statuses[str(status) if status else TRANSPORT_ERROR] += 1
        if status >= 400 and reply is not None:
            out.codes[reply.code or "no_code"] += 1
        if status == 0:
            await asyncio.sleep(0.05)  # a dead server must not turn the loop into a spin
    await connection.close()


async def _run(plan: LoadPlan) -> LoadResult:
    out = LoadResult()
    connections = connect(plan.client, plan.base_url, len(plan.players))
    await asyncio.sleep(max(0.0, plan.start_at - time.time()))

    async def cpu_at_measure_start() -> float:
        await asyncio.sleep(max(0.0, plan.measure_from - time.time()))
        return time.process_time()

    cpu_task = asyncio.ensure_future(cpu_at_measure_start())
    await asyncio.gather(
        *(_player(plan, c, p, out) for c, p in zip(connections, plan.players, strict=True))
    )
    out.client_cpu_s = time.process_time() - await cpu_task
    return out


def _main(plan: LoadPlan, sink: Any) -> None:
    sink.send(asyncio.run(_run(plan)))
    sink.close()


class LoadProcess:
    """``plan`` running in a freshly spawned process (it inherits nothing from this one).
    Leaving the ``with`` block ends the process if its result was never collected."""

    def __init__(self, plan: LoadPlan) -> None:
        context = multiprocessing.get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_main, args=(plan, send), name="http-load")
        self._process.start()
        send.close()

    def __enter__(self) -> LoadProcess:
        return self

    def __exit__(self, *_: object) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()

    def result(self) -> LoadResult:
        try:
            result: LoadResult = self._receive.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(f"load generator died (exit {self._process.exitcode})") from None
        self._process.join()
        return result
