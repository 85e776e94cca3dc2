"""Draw use cases: debit, decide, credit, update the pool, keep the trace — one atomic save.

``Draws.draw`` goes through the process's group-commit desk (``application.draw_desk``);
``Draws.draw_direct`` loads, decides and saves one request alone with optimistic retries — the
naive path, kept for the benchmarks. Both share the same decision code
(``domain.draws.execute_draw``) and the same retry semantics: the same request id always returns
the first outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_string
from uuid import UUID

from application.clock import Clock
from application.commands import RetryPolicy, Unit, fingerprint_of
from application.draw_desk import DeskStats, DrawDesk, DrawOutcome, Pending, settle
from application.errors import NotFound
from application.ledger import Ledger
from domain.cause import Cause
from domain.draw import Draw
from domain.draws import DrawRequest

__all__ = ["DrawOutcome", "Draws"]


def _request(
    player_id: str,
    pool_key: str,
    count: int,
    cause: Cause,
    on_answer: Callable[[], None] | None = None,
) -> Pending:
    fingerprint = _fingerprint(player_id, pool_key, count)
    return Pending(DrawRequest(player_id, pool_key, count, fingerprint), cause, on_answer)


def _pass_answer(pending: Pending, answered: asyncio.Future[DrawOutcome]) -> None:
    if answered.done():  # the caller timed out and cancelled it
        return
    error = pending.exception()
    if error is not None:
        answered.set_exception(error)
    else:
        answered.set_result(pending.result(timeout=0))


def _fingerprint(player_id: str, pool_key: str, count: int) -> str:
    """``fingerprint_of("draw", {"player": ..., "pool": ..., "count": ...})``: for the usual
    types the same canonical JSON (sorted keys, default separators, ASCII escapes) is written
    directly, without building a JSON encoder per request; other types go the general way."""
    if type(count) is int and type(player_id) is str and type(pool_key) is str:
        canonical = (
            f'{{"command": "draw", "params": {{"count": {count}, '
            f'"player": {_json_string(player_id)}, "pool": {_json_string(pool_key)}}}}}'
        )
        return hashlib.sha256(canonical.encode()).hexdigest()
    return fingerprint_of("draw", {"player": player_id, "pool": pool_key, "count": count})


class Draws:
    """``max_batch`` bounds one group commit."""

    def __init__(
        self, ledger: Ledger, clock: Clock, retry: RetryPolicy | None = None, max_batch: int = 64
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._max_batch = max_batch
        self._desk: DrawDesk | None = None
        self._lock = threading.Lock()
        self.direct_stats = DeskStats()

    def draw(
        self, player_id: str, pool_key: str, count: int, cause: Cause, timeout_s: float = 10.0
    ) -> DrawOutcome:
        """Execute ``count`` draws (1..the pool's max) for the player on the pool."""
        pending = _request(player_id, pool_key, count, cause)
        self.desk.submit(pending)
        return pending.result(timeout=timeout_s)

    async def draw_async(
        self, player_id: str, pool_key: str, count: int, cause: Cause, timeout_s: float = 10.0
    ) -> DrawOutcome:
        """The same as ``draw`` for an event loop: waits without holding a thread (what an
        async HTTP handler calls; many concurrent players then cost one thread, not many)."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[DrawOutcome] = loop.create_future()

        def wake() -> None:  # in the desk's thread, once the answer is set
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_pass_answer, pending, answered)

        pending = _request(player_id, pool_key, count, cause, wake)
        self.desk.submit(pending)
        return await asyncio.wait_for(answered, timeout_s)

    def draw_direct(self, player_id: str, pool_key: str, count: int, cause: Cause) -> DrawOutcome:
        """The same draw, loaded, decided and saved alone with optimistic retries (no desk)."""
        pending = _request(player_id, pool_key, count, cause)
        settle(self._ledger, self._clock, self._retry, [pending], stats=self.direct_stats)
        return pending.result(timeout=0)

    def get(self, draw_id: UUID) -> DrawOutcome:
        draw = Unit(self._ledger).find(Draw, draw_id)
        if draw is None:
            raise NotFound(f"draw {draw_id} not found")
        return DrawOutcome.of(draw)

    @property
    def desk(self) -> DrawDesk:
        with self._lock:
            if self._desk is None:
                self._desk = DrawDesk(self._ledger, self._clock, self._retry, self._max_batch)
            return self._desk

    def close(self) -> None:
        with self._lock:
            desk, self._desk = self._desk, None
        if desk is not None:
            desk.stop()
