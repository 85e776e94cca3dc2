"""PrizePool: a wheel of prizes with a prize fund, payout controls and a fairness epoch.

Small on purpose: counters that are only reported (draws, wins per prize, observed RTP) belong
in projections. The pool keeps what the next draw needs: fund, stock, rolling payout windows,
the prize table, the controls and the current epoch's committed server seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, IllegalTransition, InsufficientFunds, InvalidArgument
from domain.fairness import commitment_of
from domain.money import check_currency_code, check_positive_amount
from domain.prizes import (
    BPS,
    BUCKETS,
    PoolControls,
    Prize,
    bucket_of,
    check_key,
    rebucket,
    window_sum,
)

__all__ = ["PoolStatus", "PrizePool", "UnknownPrize", "WindowKey", "WorkingPool"]

HOUR_S = 3_600
MAX_TOTAL_WEIGHT = 2**64
DAY_S = 86_400


class PoolStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class UnknownPrize(DomainError):
    code = "unknown_prize"


class WindowKey(StrEnum):
    """Keys of the rolling-window counters the controls read."""

    PAYOUT_HOUR = "payout:hour"
    BIG_HOUR = "big:hour"
    BIG_DAY = "big:day"


def _budget_key(prize_id: str) -> str:
    return f"budget:{prize_id}"


@dataclass
class WorkingPool:
    """The mutable part of a pool while a batch of draws is decided: each win updates it at once
    so the next draw in the batch sees the stock, fund and windows left. The pool records the
    batch's wins with one event whose body applies them through this same class."""

    fund: int
    stock: dict[str, int | None]
    windows: dict[str, dict[int, int]]
    # The rules, parsed once per batch rather than once per draw.
    controls: PoolControls
    prizes: list[Prize]
    # key -> the bucket its window was last trimmed to (``_add``).
    _trimmed: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def window(self, key: str, at: datetime, window_s: int) -> int:
        return window_sum(self.windows.get(key, {}), at, window_s)

    @property
    def prizes_by_id(self) -> dict[str, Prize]:
        return {p.prize_id: p for p in self.prizes}

    def apply_win(self, prize: Prize, at: datetime) -> None:
        controls = self.controls
        self.fund -= prize.reward
        stock = self.stock.get(prize.prize_id)
        if stock is not None:
            self.stock[prize.prize_id] = stock - 1
        self._add(WindowKey.PAYOUT_HOUR.value, at, HOUR_S, prize.reward)
        if prize.budget is not None:
            self._add(_budget_key(prize.prize_id), at, prize.budget_window_s, prize.reward)
        if controls.is_big(prize.reward):
            self._add(WindowKey.BIG_HOUR.value, at, HOUR_S, 1)
            self._add(WindowKey.BIG_DAY.value, at, DAY_S, 1)

    def _add(self, key: str, at: datetime, window_s: int, amount: int) -> None:
        """``windows[key] = window_add(windows[key], at, window_s, amount)``. The working pool
        owns its bucket dicts (``PrizePool.working`` copies them), so the buckets that fell out
        of the window are dropped once per bucket of time, not at every win of a batch."""
        current = bucket_of(at, window_s)
        buckets = self.windows.get(key)
        if buckets is None or self._trimmed.get(key) != current:
            old = buckets if buckets is not None else {}
            buckets = self.windows[key] = {k: v for k, v in old.items() if k >= current - BUCKETS}
            self._trimmed[key] = current
        buckets[current] = buckets.get(current, 0) + amount

    def budget_used(self, prize: Prize, at: datetime) -> int:
        return self.window(_budget_key(prize.prize_id), at, prize.budget_window_s)


class PrizePool(Aggregate):
    @staticmethod
    def create_id(pool_key: str, **_: Any) -> UUID:
        return ids.pool_id(pool_key)

    @classmethod
    def create(
        cls,
        pool_key: str,
        name: str,
        currency: str,
        draw_cost: int,
        controls: PoolControls,
        server_seed: str,
        cause: Cause,
    ) -> PrizePool:
        check_key("pool key", pool_key)
        cls._check_name(name)
        check_currency_code(currency)
        check_positive_amount(draw_cost)
        cls._check_cost(draw_cost, controls)
        cls._check_seed(server_seed)
        return cls(
            pool_key=pool_key,
            name=name.strip(),
            currency=currency,
            draw_cost=draw_cost,
            controls=controls.to_record(),
            commitment=commitment_of(server_seed),
            server_seed=server_seed,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Created")
    def __init__(
        self,
        pool_key: str,
        name: str,
        currency: str,
        draw_cost: int,
        controls: dict[str, Any],
        commitment: str,
        server_seed: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.pool_key = pool_key
        self.name = name
        self.currency = currency
        self.draw_cost = draw_cost
        self.controls_record = controls
        self.status = PoolStatus.OPEN.value
        self.prizes: dict[str, dict[str, Any]] = {}
        self.fund = 0
        self.stock: dict[str, int | None] = {}
        self.windows: dict[str, dict[int, int]] = {}
        self.epoch = 1
        self.past_commitments: list[str] = []
        # revealed_seeds[i] is epoch i+1's server seed, published when that epoch ended.
        self.revealed_seeds: list[str] = []
        self.commitment = commitment
        # The current epoch's secret. It never leaves the write side until the epoch rotates;
        # encrypt the event store at rest (eventsourcing's CIPHER_KEY) in production.
        self.server_seed = server_seed

    # ---- views ---------------------------------------------------------------------------------

    @property
    def controls(self) -> PoolControls:
        return PoolControls.from_record(self.controls_record)

    def prize_table(self) -> list[Prize]:
        """Active prizes in a stable order (by id): the order of the arms in every draw."""
        return [Prize.from_record(self.prizes[k]) for k in sorted(self.prizes)]

    def working(self) -> WorkingPool:
        return WorkingPool(
            fund=self.fund,
            stock=dict(self.stock),
            windows={k: dict(v) for k, v in self.windows.items()},
            controls=self.controls,
            prizes=self.prize_table(),
        )

    # ---- configuration -------------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidArgument("pool name must be 1..200 characters")

    @staticmethod
    def _check_cost(draw_cost: int, controls: PoolControls) -> None:
        if not controls.cost_min <= draw_cost <= controls.cost_max:
            raise InvalidArgument(
                f"draw cost must be within [{controls.cost_min}, {controls.cost_max}]"
            )

    @staticmethod
    def _check_seed(server_seed: str) -> None:
        if not isinstance(server_seed, str) or len(server_seed) < 32:
            raise InvalidArgument("a server seed must be at least 32 characters of entropy")

    def _check_drawable(
        self,
        prizes: list[Prize] | None = None,
        controls: PoolControls | None = None,
        draw_cost: int | None = None,
    ) -> None:
        """Refuse a configuration whose odds the random source cannot pick from: the largest
        total weight a draw can see (all prizes eligible) must stay below 2**64."""
        prizes = self.prize_table() if prizes is None else prizes
        controls = controls or self.controls
        cost = draw_cost or self.draw_cost
        weight = sum(p.weight for p in prizes)
        payout = sum(p.weight * p.reward for p in prizes)
        rtp_total = -(-payout * BPS // (cost * controls.rtp_target_bps))
        if max(weight + controls.miss_weight, rtp_total) >= MAX_TOTAL_WEIGHT:
            raise InvalidArgument(
                "these weights, rewards, cost and RTP target need odds finer than 1 in 2**64; "
                "use smaller weights or a higher RTP target"
            )

    def _with_prize(self, prize: Prize) -> list[Prize]:
        return [p for p in self.prize_table() if p.prize_id != prize.prize_id] + [prize]

    def _check_not_closed(self) -> None:
        if self.status == PoolStatus.CLOSED.value:
            raise IllegalTransition("the pool is closed")

    def add_prize(self, prize: Prize, cause: Cause) -> None:
        self._check_not_closed()
        if prize.prize_id in self.prizes:
            raise InvalidArgument(f"prize {prize.prize_id} already exists")
        self._check_drawable(prizes=self._with_prize(prize))
        self._prize_added(prize=prize.to_record(), actor=cause.actor, request_id=cause.request_id)

    @event("PrizeAdded")
    def _prize_added(self, prize: dict[str, Any], actor: str, request_id: str) -> None:
        self.prizes[prize["prize_id"]] = prize
        self.stock[prize["prize_id"]] = prize["stock"]

    def change_prize(self, prize: Prize, cause: Cause) -> None:
        """Edit name, reward, weight, budget or thresholds. Stock only changes by ``restock``."""
        self._check_not_closed()
        current = self._prize(prize.prize_id)
        self._check_drawable(prizes=self._with_prize(prize))
        record = prize.to_record()
        record["stock"] = current.stock
        self._prize_changed(prize=record, actor=cause.actor, request_id=cause.request_id)

    @event("PrizeChanged")
    def _prize_changed(self, prize: dict[str, Any], actor: str, request_id: str) -> None:
        key = _budget_key(prize["prize_id"])
        old_window = self.prizes[prize["prize_id"]]["budget_window_s"]
        if key in self.windows and old_window != prize["budget_window_s"]:
            self.windows[key] = rebucket(self.windows[key], old_window, prize["budget_window_s"])
        self.prizes[prize["prize_id"]] = prize

    def restock(self, prize_id: str, added: int, cause: Cause) -> None:
        self._check_not_closed()
        check_positive_amount(added)
        if self.stock[self._prize(prize_id).prize_id] is None:
            raise InvalidArgument(f"prize {prize_id} has unlimited stock")
        self._restocked(
            prize_id=prize_id, added=added, actor=cause.actor, request_id=cause.request_id
        )

    @event("Restocked")
    def _restocked(self, prize_id: str, added: int, actor: str, request_id: str) -> None:
        self.stock[prize_id] = (self.stock[prize_id] or 0) + added

    def retire_prize(self, prize_id: str, cause: Cause) -> None:
        self._check_not_closed()
        self._prize(prize_id)
        self._prize_retired(prize_id=prize_id, actor=cause.actor, request_id=cause.request_id)

    @event("PrizeRetired")
    def _prize_retired(self, prize_id: str, actor: str, request_id: str) -> None:
        del self.prizes[prize_id]
        del self.stock[prize_id]
        self.windows.pop(_budget_key(prize_id), None)

    def _prize(self, prize_id: str) -> Prize:
        if prize_id not in self.prizes:
            raise UnknownPrize(f"pool {self.pool_key} has no prize {prize_id}")
        return Prize.from_record(self.prizes[prize_id])

    def set_controls(self, controls: PoolControls, cause: Cause) -> None:
        self._check_not_closed()
        self._check_cost(self.draw_cost, controls)
        self._check_drawable(controls=controls)
        self._controls_changed(
            controls=controls.to_record(), actor=cause.actor, request_id=cause.request_id
        )

    @event("ControlsChanged")
    def _controls_changed(self, controls: dict[str, Any], actor: str, request_id: str) -> None:
        self.controls_record = controls

    def set_draw_cost(self, draw_cost: int, cause: Cause) -> None:
        self._check_not_closed()
        check_positive_amount(draw_cost)
        self._check_cost(draw_cost, self.controls)
        self._check_drawable(draw_cost=draw_cost)
        self._cost_changed(draw_cost=draw_cost, actor=cause.actor, request_id=cause.request_id)

    @event("DrawCostChanged")
    def _cost_changed(self, draw_cost: int, actor: str, request_id: str) -> None:
        self.draw_cost = draw_cost

    def rename(self, name: str, cause: Cause) -> None:
        """The name players see; the key (and so the stream) stays."""
        self._check_not_closed()
        self._check_name(name)
        if name.strip() == self.name:
            raise InvalidArgument(f"the pool is already named {self.name!r}")
        self._renamed(name=name.strip(), actor=cause.actor, request_id=cause.request_id)

    @event("Renamed")
    def _renamed(self, name: str, actor: str, request_id: str) -> None:
        self.name = name

    # ---- money ---------------------------------------------------------------------------------

    def fund_from_marketing(self, amount_minor: int, cause: Cause) -> None:
        """Add to the prize fund from the house marketing budget."""
        self._check_not_closed()
        check_positive_amount(amount_minor)
        self._funded(
            pool_key=self.pool_key,
            currency=self.currency,
            amount_minor=amount_minor,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Funded")
    def _funded(
        self, pool_key: str, currency: str, amount_minor: int, actor: str, request_id: str
    ) -> None:
        self.fund += amount_minor

    def defund(self, amount_minor: int, cause: Cause) -> None:
        """Return part of the prize fund to marketing (it cannot take more than the fund holds)."""
        check_positive_amount(amount_minor)
        if amount_minor > self.fund:
            raise InsufficientFunds(f"the prize fund holds {self.fund}")
        self._defunded(
            pool_key=self.pool_key,
            currency=self.currency,
            amount_minor=amount_minor,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Defunded")
    def _defunded(
        self, pool_key: str, currency: str, amount_minor: int, actor: str, request_id: str
    ) -> None:
        self.fund -= amount_minor

    # ---- lifecycle -----------------------------------------------------------------------------

    def pause(self, reason: str, cause: Cause) -> None:
        if self.status != PoolStatus.OPEN.value:
            raise IllegalTransition(f"cannot pause a {self.status} pool")
        self._paused(reason=_reason(reason), actor=cause.actor, request_id=cause.request_id)

    @event("Paused")
    def _paused(self, reason: str, actor: str, request_id: str) -> None:
        self.status = PoolStatus.PAUSED.value

    def resume(self, reason: str, cause: Cause) -> None:
        if self.status != PoolStatus.PAUSED.value:
            raise IllegalTransition(f"cannot resume a {self.status} pool")
        self._resumed(reason=_reason(reason), actor=cause.actor, request_id=cause.request_id)

    @event("Resumed")
    def _resumed(self, reason: str, actor: str, request_id: str) -> None:
        self.status = PoolStatus.OPEN.value

    def close(self, reason: str, cause: Cause) -> None:
        """Close for good; what is left in the prize fund goes back to marketing (postings)."""
        self._check_not_closed()
        self._closed(
            pool_key=self.pool_key,
            currency=self.currency,
            amount_minor=self.fund,
            reason=_reason(reason),
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Closed")
    def _closed(
        self,
        pool_key: str,
        currency: str,
        amount_minor: int,
        reason: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.status = PoolStatus.CLOSED.value
        self.fund -= amount_minor

    # ---- fairness ------------------------------------------------------------------------------

    def rotate_epoch(self, next_seed: str, cause: Cause) -> None:
        """Reveal the current server seed and commit to the next one."""
        self._check_seed(next_seed)
        next_commitment = commitment_of(next_seed)
        if next_commitment == self.commitment or next_commitment in self.past_commitments:
            raise InvalidArgument("the next server seed must never have been used before")
        self._epoch_rotated(
            revealed_epoch=self.epoch,
            revealed_seed=self.server_seed,
            epoch=self.epoch + 1,
            commitment=next_commitment,
            server_seed=next_seed,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("EpochRotated")
    def _epoch_rotated(
        self,
        revealed_epoch: int,
        revealed_seed: str,
        epoch: int,
        commitment: str,
        server_seed: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.epoch = epoch
        self.past_commitments = [*self.past_commitments, self.commitment]
        self.revealed_seeds = [*self.revealed_seeds, revealed_seed]
        self.commitment = commitment
        self.server_seed = server_seed

    def epochs(self) -> list[tuple[int, str, str | None]]:
        """(epoch, commitment, revealed seed or None while the epoch is current), oldest first."""
        commitments = [*self.past_commitments, self.commitment]
        return [
            (number, commitment, self.revealed_seeds[number - 1] if number < self.epoch else None)
            for number, commitment in enumerate(commitments, start=1)
        ]

    # ---- draws ---------------------------------------------------------------------------------

    def record_draws(
        self, draw_ids: list[str], wins: list[str], draws: int, at: datetime, cause: Cause
    ) -> None:
        """Record a batch of draw requests: ``wins`` lists the prize id of each win, in order.

        Recorded even when every request was refused (``draws`` 0), so that the save checks the
        pool's version: a decision taken on a stale pool never commits."""
        if not draw_ids or draws < 0:
            raise InvalidArgument("a batch has at least one request")
        self._draws_settled(
            draw_ids=draw_ids,
            wins=wins,
            draws=draws,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("DrawsSettled")
    def _draws_settled(
        self,
        draw_ids: list[str],
        wins: list[str],
        draws: int,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        working = self.working()
        by_id = working.prizes_by_id
        for prize_id in wins:
            working.apply_win(by_id[prize_id], at)
        self.fund, self.stock, self.windows = working.fund, working.stock, working.windows


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidArgument("a reason is required")
    return reason.strip()
