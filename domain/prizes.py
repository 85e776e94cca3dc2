"""Value objects of a prize pool: prizes, payout controls, rolling-window counters.

The aggregate keeps them as plain dicts (so snapshots and the transcoder store them exactly);
these classes validate them and give the draw engine typed views.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from domain.errors import InvalidArgument
from domain.money import MAX_AMOUNT_MINOR

__all__ = [
    "BPS",
    "PoolControls",
    "Prize",
    "PrizeKind",
    "check_key",
    "window_sum",
]

BPS = 10_000  # ratios are integer basis points: 9_500 = 95 %
MAX_WEIGHT = 10**12
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_key(kind: str, key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key) or key == "miss":
        raise InvalidArgument(
            f"{kind} must be 1..63 of a-z, 0-9, '-', '_' (not 'miss'), got {key!r}"
        )
    return key


def _check_int(name: str, value: object, low: int, high: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an integer in [{low}, {high}], got {value!r}")


class PrizeKind(StrEnum):
    CASH = "cash"  # credited to available (withdrawable)
    BONUS = "bonus"  # credited to bonus (playable, not withdrawable)


@dataclass(frozen=True, slots=True)
class Prize:
    """One arm of the wheel. ``stock`` None = unlimited; ``budget`` None = no payout budget."""

    prize_id: str
    name: str
    kind: str
    reward: int
    weight: int
    stock: int | None = None
    budget: int | None = None
    budget_window_s: int = 86_400
    pool_threshold: int = 0
    player_threshold: int = 0

    def __post_init__(self) -> None:
        check_key("prize id", self.prize_id)
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise InvalidArgument("prize name must be 1..200 characters")
        if self.kind not in _KINDS:
            raise InvalidArgument(f"prize kind must be cash or bonus, got {self.kind!r}")
        _check_int("reward", self.reward, 1, MAX_AMOUNT_MINOR)
        _check_int("weight", self.weight, 1, MAX_WEIGHT)
        _check_int("stock", self.stock, 0, 10**9, optional=True)
        _check_int("budget", self.budget, 1, MAX_AMOUNT_MINOR, optional=True)
        _check_int("budget window", self.budget_window_s, 60, 366 * 86_400)
        _check_int("pool threshold", self.pool_threshold, 0, MAX_AMOUNT_MINOR)
        _check_int("player threshold", self.player_threshold, 0, MAX_AMOUNT_MINOR)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Prize:
        key = _record_key(record)
        if key is None or cls is not Prize:
            return cls._parse(record)
        return _cached_prize(key)

    @classmethod
    def _parse(cls, record: dict[str, Any]) -> Prize:
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PoolControls:
    """Payout controls. The defaults let every prize be won: nothing is capped until an operator
    sets a cap, and the RTP target only sizes the miss arm."""

    rtp_target_bps: int = 9_500
    miss_weight: int = 0
    cost_min: int = 1
    cost_max: int = MAX_AMOUNT_MINOR
    min_reserve: int = 0
    max_single_payout_bps: int = BPS
    max_payout_per_hour: int | None = None
    big_prize_min: int | None = None
    big_prize_cap_hour: int | None = None
    big_prize_cap_day: int | None = None
    player_win_cooldown_s: int = 0
    player_daily_draw_limit: int | None = None
    player_draw_cooldown_s: int = 0
    pity_streak: int | None = None
    pity_boost_bps: int = 0
    pity_max_boost_bps: int = 0
    max_multi_draw: int = 10
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.extra:
            raise InvalidArgument(f"unknown controls: {sorted(self.extra)}")
        _check_int("rtp target", self.rtp_target_bps, 1, BPS)
        _check_int("miss weight", self.miss_weight, 0, MAX_WEIGHT)
        _check_int("cost min", self.cost_min, 1, MAX_AMOUNT_MINOR)
        _check_int("cost max", self.cost_max, self.cost_min, MAX_AMOUNT_MINOR)
        _check_int("min reserve", self.min_reserve, 0, MAX_AMOUNT_MINOR)
        _check_int("max single payout", self.max_single_payout_bps, 1, BPS)
        _check_int("max payout per hour", self.max_payout_per_hour, 1, MAX_AMOUNT_MINOR, True)
        _check_int("big prize min", self.big_prize_min, 1, MAX_AMOUNT_MINOR, True)
        _check_int("big prize cap per hour", self.big_prize_cap_hour, 0, 10**9, True)
        _check_int("big prize cap per day", self.big_prize_cap_day, 0, 10**9, True)
        _check_int("payout cooldown", self.player_win_cooldown_s, 0, 366 * 86_400)
        _check_int("daily draw limit", self.player_daily_draw_limit, 1, 10**9, True)
        _check_int("draw cooldown", self.player_draw_cooldown_s, 0, 86_400)
        _check_int("pity streak", self.pity_streak, 1, 10**6, True)
        _check_int("pity boost", self.pity_boost_bps, 0, BPS)
        _check_int("pity max boost", self.pity_max_boost_bps, 0, BPS)
        _check_int("max multi-draw", self.max_multi_draw, 1, 100)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PoolControls:
        key = _record_key(record)
        if key is None or cls is not PoolControls:
            return cls._parse(record)
        return _cached_controls(key)

    @classmethod
    def _parse(cls, record: dict[str, Any]) -> PoolControls:
        known = {f.name for f in fields(cls)} - {"extra"}
        unknown = {k: v for k, v in record.items() if k not in known}
        return cls(**{k: v for k, v in record.items() if k in known}, extra=unknown)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        del record["extra"]
        return record

    def is_big(self, reward: int) -> bool:
        return self.big_prize_min is not None and reward >= self.big_prize_min


_KINDS = frozenset(k.value for k in PrizeKind)


# ---- parsed records, memoised -------------------------------------------------------------
# A pool keeps its prizes and controls as plain records and parses them for every batch of draws
# and on every replayed DrawsSettled event. Both value objects are frozen, so one parsed instance
# can serve every equal record. The key holds each value's type as well: True == 1 and 1.0 == 1,
# and a record with those must still be refused by the checks, not served a cached valid parse.
# Only valid records are cached (a refused one raises again on every call).


def _record_key(record: dict[str, Any]) -> tuple[tuple[str, type, Any], ...] | None:
    key = tuple([(name, type(value), value) for name, value in record.items()])
    try:
        hash(key)
    except TypeError:  # an unhashable value: parse it uncached (and most likely refuse it)
        return None
    return key


@lru_cache(maxsize=1024)
def _cached_prize(key: tuple[tuple[str, type, Any], ...]) -> Prize:
    return Prize._parse({name: value for name, _, value in key})


@lru_cache(maxsize=256)
def _cached_controls(key: tuple[tuple[str, type, Any], ...]) -> PoolControls:
    return PoolControls._parse({name: value for name, _, value in key})


# ---- rolling windows -----------------------------------------------------------------------
# A window is split in 60 buckets; a sum covers the current bucket and the 60 before it, so it
# always spans at least the whole window (it errs towards counting a little more, never less).
BUCKETS = 60


def bucket_of(at: datetime, window_s: int) -> int:
    size = max(1, window_s // BUCKETS)
    return int(at.timestamp()) // size


def window_sum(buckets: dict[int, int], at: datetime, window_s: int) -> int:
    current = bucket_of(at, window_s)
    return sum(v for k, v in buckets.items() if k >= current - BUCKETS)


def window_add(buckets: dict[int, int], at: datetime, window_s: int, amount: int) -> dict[int, int]:
    """A new bucket dict with ``amount`` added now and buckets older than the window dropped."""
    current = bucket_of(at, window_s)
    kept = {k: v for k, v in buckets.items() if k >= current - BUCKETS}
    kept[current] = kept.get(current, 0) + amount
    return kept


def rebucket(buckets: dict[int, int], old_window_s: int, new_window_s: int) -> dict[int, int]:
    """Move counts to the buckets of a new window size. Each count lands in the new bucket of the
    *end* of its old bucket, so a narrower window never forgets a payout early."""
    old_size = max(1, old_window_s // BUCKETS)
    new_size = max(1, new_window_s // BUCKETS)
    moved: dict[int, int] = {}
    for index, amount in buckets.items():
        target = (index * old_size + old_size - 1) // new_size
        moved[target] = moved.get(target, 0) + amount
    return moved
