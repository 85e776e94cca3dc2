"""Group commit for draws: decide whatever requests are waiting, save them in one transaction.

One desk per process serves every pool: a batch may hold requests for several pools, each pool
decided on its own working state, all saved together. The desk keeps the pools and wallets it
last saved in memory; a version conflict (another process, or a deposit on a wallet) drops them
and the batch is decided again from freshly loaded aggregates. Requests whose Draw already
exists were retries and get the stored outcome: a draw never re-rolls.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.clock import Clock
from application.commands import RetryPolicy, Unit
from application.errors import ConcurrencyConflict, NotFound
from application.ledger import Ledger
from domain import ids
from domain.cause import Cause
from domain.draw import Draw
from domain.draws import DrawRequest, execute_draw
from domain.errors import DomainError
from domain.pool import PrizePool
from domain.wallet import Wallet

__all__ = ["DeskStats", "DrawDesk", "DrawOutcome", "Pending", "settle"]

log = logging.getLogger(__name__)
DESK_ACTOR = "system:draw-desk"
MAX_CACHED_WALLETS = 20_000


@dataclass(frozen=True, slots=True)
class DrawOutcome:
    draw_id: str
    player_id: str
    pool_key: str
    status: str
    reason: str | None
    requested: int
    cost_total: int
    available_after: int
    bonus_after: int
    results: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, draw: Draw) -> DrawOutcome:
        return cls(
            draw_id=str(draw.id),
            player_id=draw.player_id,
            pool_key=draw.pool_key,
            status=draw.status,
            reason=draw.reason,
            requested=draw.requested,
            cost_total=draw.cost_total,
            available_after=draw.available_after,
            bonus_after=draw.bonus_after,
            results=draw.results,
        )


class Pending:
    """A request waiting for its outcome, answered exactly once (by the desk, or by ``settle``
    in the caller's own thread). A thread waits in ``result`` on a bare lock, the cheapest
    wake-up CPython has (a ``concurrent.futures.Future`` builds a condition and a waiter lock
    per wait); an event loop passes ``on_answer``, called in the answering thread when the
    caller is woken. The desk may set an answer and wake its caller a little later (``wake``;
    see ``DrawDesk``). There is no cancelling: a caller that stops waiting leaves the answer
    unread."""

    __slots__ = (
        "_answered",
        "_error",
        "_on_answer",
        "_outcome",
        "_ready",
        "_woken",
        "cause",
        "draw_id",
        "request",
    )

    def __init__(
        self, request: DrawRequest, cause: Cause, on_answer: Callable[[], None] | None = None
    ) -> None:
        self.request = request
        self.cause = cause
        self.draw_id: UUID = ids.draw_id(request.player_id, cause.request_id)
        self._ready = threading.Lock()
        self._ready.acquire()  # released when the caller is woken
        self._answered = False
        self._woken = False
        self._outcome: DrawOutcome | None = None
        self._error: BaseException | None = None
        self._on_answer = on_answer

    def set_result(self, outcome: DrawOutcome) -> None:
        self._answer(outcome, None)

    def set_exception(self, error: BaseException) -> None:
        self._answer(None, error)

    def _answer(
        self, outcome: DrawOutcome | None, error: BaseException | None, wake: bool = True
    ) -> None:
        if self._answered:
            raise RuntimeError("a draw request is answered exactly once")
        self._answered = True
        self._outcome, self._error = outcome, error
        if wake:
            self.wake()

    def wake(self) -> None:
        """Let the caller have the answer (set before; waking twice does nothing)."""
        if self._woken or not self._answered:
            return
        self._woken = True
        self._ready.release()
        if self._on_answer is not None:
            self._on_answer()

    def done(self) -> bool:
        return self._answered

    def exception(self) -> BaseException | None:
        """The error the request was answered with (None for an outcome); only once done."""
        if not self._answered:
            raise RuntimeError("the request has not been answered yet")
        return self._error

    def result(self, timeout: float | None = None) -> DrawOutcome:
        """The outcome, waiting up to ``timeout`` seconds for it; raises the error the request
        was answered with, or TimeoutError."""
        if self._ready.acquire(timeout=-1 if timeout is None else timeout):
            self._ready.release()  # woken for good: every later call returns at once
        elif not self._answered:  # (answered but not woken yet: the answer stands)
            raise TimeoutError("the draw was not answered in time")
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome


@dataclass
class DeskStats:
    """Counters for benchmarks and /metrics (approximate under threads; never used to decide)."""

    batches: int = 0
    requests: int = 0
    conflicts: int = 0


@dataclass
class _Cache:
    pools: dict[str, PrizePool] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)

    def forget(self) -> None:
        self.pools.clear()
        self.wallets.clear()


class _Batch:
    """One attempt at settling some requests: decide all, then one save."""

    def __init__(self, ledger: Ledger, cache: _Cache) -> None:
        self.ledger = ledger
        self.cache = cache
        self.decided: list[tuple[Pending, Draw]] = []
        self.refused: list[tuple[Pending, DomainError]] = []
        self.duplicates: list[Pending] = []
        self.pools: list[PrizePool] = []

    def _load(
        self, cls: type[Any], key: str, store: dict[str, Any], aggregate_id: Callable[[str], UUID]
    ) -> Any:
        found = store.get(key)
        if found is None:  # the id is only hashed on a miss
            found = Unit(self.ledger).get(cls, aggregate_id(key))
            store[key] = found
        return found

    def decide(self, items: list[Pending], clock: Clock) -> None:
        at = clock()
        seen: set[UUID] = set()
        by_pool: dict[str, list[Pending]] = defaultdict(list)
        for item in items:
            if item.draw_id in seen:  # the same request twice in one batch: decide it once
                self.duplicates.append(item)
                continue
            seen.add(item.draw_id)
            by_pool[item.request.pool_key].append(item)
        for pool_key, pool_items in by_pool.items():
            try:
                pool = self._load(PrizePool, pool_key, self.cache.pools, ids.pool_id)
            except DomainError as error:  # no such pool
                self.refused.extend((item, error) for item in pool_items)
                continue
            self._decide_pool(pool, pool_items, at)

    def _decide_pool(self, pool: PrizePool, items: list[Pending], at: Any) -> None:
        working = pool.working()
        wins: list[str] = []
        settled = 0
        draw_ids: list[str] = []
        wallets = self.cache.wallets
        for item in items:
            try:
                player = item.request.player_id
                wallet = wallets.get(player) or self._load(Wallet, player, wallets, ids.wallet_id)
                draw, won = execute_draw(
                    pool, working, wallet, item.request, at, item.cause, item.draw_id
                )
            except DomainError as error:  # bad input or no wallet: nothing was recorded
                self.refused.append((item, error))
                continue
            self.decided.append((item, draw))
            draw_ids.append(str(draw.id))
            wins.extend(won)
            settled += len(draw.results)
        if draw_ids:
            cause = Cause(DESK_ACTOR, f"batch-{uuid4()}")
            pool.record_draws(draw_ids, wins, settled, at, cause)
            self.pools.append(pool)

    def save(self) -> None:
        if not self.decided:
            return
        touched = {d.player_id for _, d in self.decided}
        aggregates: list[Aggregate] = [*self.pools, *(self.cache.wallets[p] for p in touched)]
        aggregates.extend(d for _, d in self.decided)
        self.ledger.save(*aggregates)


def settle(
    ledger: Ledger,
    clock: Clock,
    retry: RetryPolicy,
    items: list[Pending],
    cache: _Cache | None = None,
    stats: DeskStats | None = None,
    held: _Held | None = None,
) -> None:
    """Settle ``items``, answering every request exactly once. Without a cache every attempt
    loads afresh (the naive path). With ``held`` (the desk's), the callers of the saved
    requests are woken later, by the desk; the callers ``held`` had from before are woken just
    before this batch's save, so that they run while the desk waits on the store."""
    cache = cache if cache is not None else _Cache()
    stats = stats or DeskStats()
    deadline = time.monotonic() + retry.deadline_s
    delay = retry.first_delay_s
    while items:
        stats.batches += 1
        batch = _Batch(ledger, cache)
        try:
            batch.decide(items, clock)
            if held is not None:
                held.wake()
            batch.save()
        except IntegrityError:
            stats.conflicts += 1
            cache.forget()
            items = _answer_retries(ledger, items)
            if items and time.monotonic() + delay > deadline:
                _fail_all(items, ConcurrencyConflict("draw: too much contention, retry later"))
                return
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, retry.max_delay_s)
            continue
        except Exception as failure:  # e.g. the store is down: nothing was saved
            if held is not None:
                held.wake()
            cache.forget()
            log.exception("draw batch failed")
            _fail_all(items, failure)
            return
        stats.requests += len(items)
        if len(cache.wallets) > MAX_CACHED_WALLETS:
            cache.wallets.clear()
        _deliver(ledger, batch, held)
        return


class _Held:
    """Answered requests whose callers the desk has not woken yet."""

    def __init__(self) -> None:
        self.items: list[Pending] = []

    def wake(self) -> None:
        items, self.items = self.items, []
        for item in items:
            item.wake()


def _fail_all(items: list[Pending], error: BaseException) -> None:
    for item in items:
        item.set_exception(error)


def _deliver(ledger: Ledger, batch: _Batch, held: _Held | None = None) -> None:
    for item, draw in batch.decided:
        item._answer(DrawOutcome.of(draw), None, wake=held is None)
    if held is not None:
        held.items.extend(item for item, _ in batch.decided)
    for item, error in batch.refused:
        # Bad input is not recorded — unless the request already ran under this id.
        if _answer_retries(ledger, [item]):
            item.set_exception(error)
    for item in batch.duplicates:
        if _answer_retries(ledger, [item]):
            item.set_exception(NotFound("the first of these identical requests failed"))


def _answer_retries(ledger: Ledger, items: list[Pending]) -> list[Pending]:
    """Answer the requests whose Draw exists (retries) from it; return the others."""
    still: list[Pending] = []
    for item in items:
        stored = Unit(ledger).find(Draw, item.draw_id)
        if stored is None:
            still.append(item)
            continue
        try:
            stored.check_same_request(item.request.fingerprint)
            item.set_result(DrawOutcome.of(stored))
        except DomainError as error:
            item.set_exception(error)
    return still


class DrawDesk:
    """The single draw writer of this process: a thread that settles waiting requests in
    batches of up to ``max_batch``.

    The callers of a saved batch are woken when the desk next waits: before the next batch's
    save (the desk then waits on the store and they run meanwhile, instead of taking turns with
    the desk's own deciding for the interpreter) or at once when no request is waiting."""

    def __init__(self, ledger: Ledger, clock: Clock, retry: RetryPolicy, max_batch: int) -> None:
        self._ledger = ledger
        self._clock = clock
        self._retry = retry
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._cache = _Cache()
        self._held = _Held()
        self.stats = DeskStats()
        self._thread = threading.Thread(target=self._run, name="draw-desk", daemon=True)
        self._thread.start()

    def submit(self, pending: Pending) -> None:
        self._queue.put(pending)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._held.wake()

    def _next(self) -> Pending | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            self._held.wake()  # nothing else to decide: the last batch's callers go now
            return self._queue.get()

    def _serve(self) -> None:
        while True:
            first = self._next()
            if first is None:
                return
            items, stop = [first], False
            while len(items) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                items.append(item)
            try:
                settle(
                    self._ledger,
                    self._clock,
                    self._retry,
                    items,
                    self._cache,
                    self.stats,
                    self._held,
                )
            except Exception as failure:  # a bug or the store failing while answering retries
                log.exception("draw desk: settling a batch failed")
                self._cache.forget()
                self._held.wake()
                _fail_all([item for item in items if not item.done()], failure)
            if stop:
                return
