"""Draw use cases: debit, decide, credit, update the pool, keep the trace — one atomic save.

``Draws.draw`` goes through the process's group-commit desk (``application.draw_desk``);
``Draws.draw_direct`` loads, decides and saves one request alone with optimistic retries — the
naive path, kept for the benchmarks. Both share the same decision code
(``domain.draws.execute_draw``) and the same retry semantics: the same request id always returns
the first outcome.
"""

from __future__ import annotations

import asyncio
import threading
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


def _request(player_id: str, pool_key: str, count: int, cause: Cause) -> Pending:
    fingerprint = fingerprint_of("draw", {"player": player_id, "pool": pool_key, "count": count})
    return Pending(DrawRequest(player_id, pool_key, count, fingerprint), cause)


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
        return pending.future.result(timeout=timeout_s)

    async def draw_async(
        self, player_id: str, pool_key: str, count: int, cause: Cause, timeout_s: float = 10.0
    ) -> DrawOutcome:
        """The same as ``draw`` for an event loop: waits without holding a thread (what an
        async HTTP handler calls; many concurrent players then cost one thread, not many)."""
        pending = _request(player_id, pool_key, count, cause)
        self.desk.submit(pending)
        return await asyncio.wait_for(asyncio.wrap_future(pending.future), timeout_s)

    def draw_direct(self, player_id: str, pool_key: str, count: int, cause: Cause) -> DrawOutcome:
        """The same draw, loaded, decided and saved alone with optimistic retries (no desk)."""
        pending = _request(player_id, pool_key, count, cause)
        settle(self._ledger, self._clock, self._retry, [pending], stats=self.direct_stats)
        return pending.future.result(timeout=0)

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
