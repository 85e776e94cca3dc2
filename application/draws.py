"""Draw execution: debit, decide, credit, update the pool, keep the trace — one atomic save.

Two paths share the same decision code (``domain.draws.execute_draw``):

* ``Draws.draw`` routes every request for a pool through that pool's **desk**: a single writer
  thread per pool and process that takes whatever requests are waiting and settles them as one
  batch in one save (group commit). It keeps the pool and the wallets it wrote in memory; a
  version conflict (another process, or a deposit on a wallet) drops them and retries the batch.
* ``Draws.draw_direct`` loads, decides and saves one request at a time with optimistic retries:
  the naive path, kept for comparison in the benchmarks.

Either way a retried request finds its Draw (stream id from player + request id) and returns the
stored outcome: it never re-rolls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

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

__all__ = ["DrawOutcome", "Draws"]

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


def _fingerprint(player_id: str, pool_key: str, count: int) -> str:
    canonical = json.dumps({"draw": [player_id, pool_key, count]})
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Pending:
    request: DrawRequest
    cause: Cause
    future: Future[DrawOutcome] = field(default_factory=Future)
    draw_id: UUID = field(init=False)

    def __post_init__(self) -> None:
        self.draw_id = ids.draw_id(self.request.player_id, self.cause.request_id)


class _Batch:
    """One attempt at settling some requests on one pool: decide all, then one save."""

    def __init__(self, ledger: Ledger, pool: PrizePool, wallets: dict[str, Wallet]) -> None:
        self.ledger = ledger
        self.pool = pool
        self.wallets = wallets
        self.decided: list[tuple[_Pending, Draw]] = []
        self.refused: list[tuple[_Pending, DomainError]] = []
        self.duplicates: list[tuple[_Pending, _Pending]] = []

    def _wallet(self, player_id: str) -> Wallet:
        wallet = self.wallets.get(player_id)
        if wallet is None:
            wallet = Unit(self.ledger).get(Wallet, ids.wallet_id(player_id))
            self.wallets[player_id] = wallet
        return wallet

    def decide(self, items: list[_Pending], clock: Clock) -> None:
        at = clock()
        working = self.pool.working()
        wins: list[str] = []
        settled = 0
        first_of: dict[UUID, _Pending] = {}
        for item in items:
            if item.draw_id in first_of:  # the same request twice in one batch: decide once
                self.duplicates.append((item, first_of[item.draw_id]))
                continue
            first_of[item.draw_id] = item
            try:
                wallet = self._wallet(item.request.player_id)
                draw, won = execute_draw(self.pool, working, wallet, item.request, at, item.cause)
            except DomainError as error:  # bad input or no wallet: nothing was recorded
                self.refused.append((item, error))
                continue
            self.decided.append((item, draw))
            wins.extend(won)
            settled += len(draw.results)
        if self.decided:
            draw_ids = [str(d.id) for _, d in self.decided]
            cause = Cause(DESK_ACTOR, f"batch-{uuid4()}")
            self.pool.record_draws(draw_ids, wins, settled, at, cause)

    def save(self) -> None:
        if self.decided:
            touched = {d.player_id for _, d in self.decided}
            wallets = [self.wallets[p] for p in touched]
            self.ledger.save(self.pool, *wallets, *(d for _, d in self.decided))


class Draws:
    """Draw use cases. ``max_batch`` bounds one group commit."""

    def __init__(
        self, ledger: Ledger, clock: Clock, retry: RetryPolicy | None = None, max_batch: int = 64
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._max_batch = max_batch
        self._desks: dict[str, _Desk] = {}
        self._lock = threading.Lock()

    def draw(
        self, player_id: str, pool_key: str, count: int, cause: Cause, timeout_s: float = 10.0
    ) -> DrawOutcome:
        """Execute ``count`` draws for the player through the pool's group-commit desk."""
        pending = _Pending(
            DrawRequest(player_id, pool_key, count, _fingerprint(player_id, pool_key, count)), cause
        )
        self._desk(pool_key).submit(pending)
        return pending.future.result(timeout=timeout_s)

    def draw_direct(self, player_id: str, pool_key: str, count: int, cause: Cause) -> DrawOutcome:
        """The same draw, loaded, decided and saved alone with optimistic retries (no desk)."""
        pending = _Pending(
            DrawRequest(player_id, pool_key, count, _fingerprint(player_id, pool_key, count)), cause
        )
        _settle_with_retries(self._ledger, self._clock, self._retry, [pending], cache=None)
        return pending.future.result(timeout=0)

    def get(self, draw_id: UUID) -> DrawOutcome:
        draw = Unit(self._ledger).find(Draw, draw_id)
        if draw is None:
            raise NotFound(f"draw {draw_id} not found")
        return DrawOutcome.of(draw)

    def _desk(self, pool_key: str) -> _Desk:
        with self._lock:
            desk = self._desks.get(pool_key)
            if desk is None:
                desk = _Desk(self._ledger, pool_key, self._clock, self._retry, self._max_batch)
                self._desks[pool_key] = desk
            return desk

    def close(self) -> None:
        with self._lock:
            desks, self._desks = list(self._desks.values()), {}
        for desk in desks:
            desk.stop()


@dataclass
class _Cache:
    """What a desk keeps between batches: the pool and the wallets as it last saved them."""

    pool: PrizePool | None = None
    wallets: dict[str, Wallet] = field(default_factory=dict)

    def forget(self) -> None:
        self.pool = None
        self.wallets.clear()


def _settle_with_retries(
    ledger: Ledger, clock: Clock, retry: RetryPolicy, items: list[_Pending], cache: _Cache | None
) -> None:
    """Settle ``items`` (all on one pool), resolving every future exactly once."""
    deadline = time.monotonic() + retry.deadline_s
    delay = retry.first_delay_s
    while items:
        try:
            batch = _attempt(ledger, clock, items, cache)
        except IntegrityError:
            if cache:
                cache.forget()
            items = _resolve_retried(ledger, items)
            if items and time.monotonic() + delay > deadline:
                _fail_all(items, ConcurrencyConflict("draw: too much contention, retry later"))
                return
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, retry.max_delay_s)
            continue
        except DomainError as refusal:  # the pool itself is missing: every request fails alike
            _fail_all(items, refusal)
            return
        except Exception as failure:  # e.g. the store is down: nothing was saved
            if cache:
                cache.forget()
            log.exception("draw batch on %s failed", items[0].request.pool_key)
            _fail_all(items, failure)
            return
        if cache:
            cache.pool = batch.pool
            if len(cache.wallets) > MAX_CACHED_WALLETS:
                cache.wallets.clear()
        _deliver(ledger, batch)
        return


def _attempt(ledger: Ledger, clock: Clock, items: list[_Pending], cache: _Cache | None) -> _Batch:
    pool = cache.pool if cache and cache.pool else None
    if pool is None:
        pool = Unit(ledger).get(PrizePool, ids.pool_id(items[0].request.pool_key))
    batch = _Batch(ledger, pool, cache.wallets if cache else {})
    batch.decide(items, clock)
    batch.save()
    return batch


def _fail_all(items: list[_Pending], error: BaseException) -> None:
    for item in items:
        item.future.set_exception(error)


def _deliver(ledger: Ledger, batch: _Batch) -> None:
    for item, draw in batch.decided:
        item.future.set_result(DrawOutcome.of(draw))
    for item, error in batch.refused:
        _resolve_refused(ledger, item, error)
    for item, _first in batch.duplicates:
        if _resolve_retried(ledger, [item]):
            item.future.set_exception(NotFound("the first of these identical requests failed"))


def _resolve_retried(ledger: Ledger, items: list[_Pending]) -> list[_Pending]:
    """After a conflict: requests whose Draw now exists were retries; answer them from it."""
    still: list[_Pending] = []
    for item in items:
        stored = Unit(ledger).find(Draw, item.draw_id)
        if stored is None:
            still.append(item)
            continue
        try:
            stored.check_same_request(item.request.fingerprint)
            item.future.set_result(DrawOutcome.of(stored))
        except DomainError as error:
            item.future.set_exception(error)
    return still


def _resolve_refused(ledger: Ledger, item: _Pending, error: DomainError) -> None:
    """Bad input is not recorded — unless the request already ran under this id."""
    if _resolve_retried(ledger, [item]):
        item.future.set_exception(error)


class _Desk:
    """The single writer of one pool in this process."""

    def __init__(
        self, ledger: Ledger, pool_key: str, clock: Clock, retry: RetryPolicy, max_batch: int
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._retry = retry
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._cache = _Cache()
        self._thread = threading.Thread(target=self._run, name=f"draw-desk-{pool_key}", daemon=True)
        self._thread.start()

    def submit(self, pending: _Pending) -> None:
        self._queue.put(pending)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            _settle_with_retries(self._ledger, self._clock, self._retry, batch, self._cache)
            if stop:
                return
