"""The draw engine: guards, eligibility, weights with the miss arm, the fair pick, settlement.

Pure: it reads a pool, a working copy of the pool's counters and a wallet, and records events on
the wallet and a new Draw. The caller records the batch's wins on the pool and saves everything
in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain import ids
from domain.cause import Cause
from domain.draw import Draw, RefusalReason
from domain.errors import InvalidArgument
from domain.fairness import MISS, pick
from domain.pool import HOUR_S, PoolStatus, PrizePool, WindowKey, WorkingPool
from domain.prizes import BPS, PoolControls, Prize, PrizeKind
from domain.wallet import FreezeScope, Wallet

__all__ = [
    "DrawRequest",
    "Odds",
    "PlayerPlay",
    "Weights",
    "exclusion",
    "execute_draw",
    "odds",
    "weigh",
]


@dataclass
class PlayerPlay:
    """A player's state in one pool: daily count, cooldowns, spend since the last win, pity."""

    day: str = ""
    draws_today: int = 0
    last_draw_at: datetime | None = None
    last_win_at: datetime | None = None
    spend_since_win: int = 0
    streak: int = 0  # misses in a row

    @classmethod
    def of(cls, wallet: Wallet, pool_key: str) -> PlayerPlay:
        return cls(**wallet.plays.get(pool_key, {}))

    def today(self, at: datetime) -> int:
        return self.draws_today if self.day == at.date().isoformat() else 0

    def played(self, cost: int, won: bool, at: datetime) -> None:
        self.draws_today = self.today(at) + 1
        self.day = at.date().isoformat()
        self.last_draw_at = at
        if won:
            self.last_win_at, self.spend_since_win, self.streak = at, 0, 0
        else:
            self.spend_since_win += cost
            self.streak += 1


@dataclass(frozen=True, slots=True)
class Weights:
    """The arms of one draw in pick order (prizes by id, then the miss arm if it has weight)."""

    arms: list[tuple[str, int]]
    excluded: dict[str, str]  # prize id -> why it cannot be won in this draw
    miss_floor: int  # the least miss weight that keeps expected payout <= cost * RTP target
    pity_boost_bps: int

    @property
    def total(self) -> int:
        return sum(w for _, w in self.arms)

    @property
    def has_prize(self) -> bool:
        return any(arm != MISS for arm, _ in self.arms)


def exclusion(
    prize: Prize, controls: PoolControls, working: WorkingPool, player: PlayerPlay, at: datetime
) -> str | None:
    """Why ``prize`` cannot be won now, or None. Checked before the pick, never after. The
    first failing check in this order names the reason (checks stop at the first failure).
    ``weigh`` applies it to every prize; the auditor asks it about one prize at a time."""
    return _supply_exclusion(prize, working, player, at) or _payout_exclusion(
        prize, controls, working, at
    )


def _supply_exclusion(
    prize: Prize, working: WorkingPool, player: PlayerPlay, at: datetime
) -> str | None:
    stock = working.stock.get(prize.prize_id)
    if stock is not None and stock <= 0:
        return "out_of_stock"
    if prize.budget is not None and working.budget_used(prize, at) + prize.reward > prize.budget:
        return "over_budget"
    if working.fund < prize.pool_threshold:
        return "below_pool_threshold"
    if player.spend_since_win < prize.player_threshold:
        return "below_player_threshold"
    return None


def _payout_exclusion(
    prize: Prize, controls: PoolControls, working: WorkingPool, at: datetime
) -> str | None:
    fund, reward = working.fund, prize.reward
    if fund - reward < controls.min_reserve:
        return "reserve"
    if reward * BPS > fund * controls.max_single_payout_bps:
        return "max_single_payout"
    if (
        controls.max_payout_per_hour is not None
        and working.window(_PAYOUT_HOUR, at, HOUR_S) + reward > controls.max_payout_per_hour
    ):
        return "hourly_payout_cap"
    if controls.is_big(reward):
        cap_hour, cap_day = controls.big_prize_cap_hour, controls.big_prize_cap_day
        if cap_hour is not None and working.window(_BIG_HOUR, at, HOUR_S) >= cap_hour:
            return "big_prize_cap_hour"
        if cap_day is not None and working.window(_BIG_DAY, at, 86_400) >= cap_day:
            return "big_prize_cap_day"
    return None


_PAYOUT_HOUR = WindowKey.PAYOUT_HOUR.value
_BIG_HOUR = WindowKey.BIG_HOUR.value
_BIG_DAY = WindowKey.BIG_DAY.value


def weigh(
    prizes: list[Prize],
    controls: PoolControls,
    cost: int,
    working: WorkingPool,
    player: PlayerPlay,
    at: datetime,
) -> Weights:
    """Remove ineligible prizes, then size the miss arm: the declared miss weight, raised so
    that sum(w * reward) / (W + miss) <= cost * RTP target, then shrunk by pity — but never below
    what the RTP target requires."""
    eligible: list[Prize] = []
    excluded: dict[str, str] = {}
    for prize in prizes:
        reason = exclusion(prize, controls, working, player, at)
        if reason is None:
            eligible.append(prize)
        else:
            excluded[prize.prize_id] = reason
    prize_weight = sum(p.weight for p in eligible)
    weighted_payout = sum(p.weight * p.reward for p in eligible)
    # ceil(weighted_payout * BPS / (cost * rtp)) - W, in integers
    floor = max(0, -(-weighted_payout * BPS // (cost * controls.rtp_target_bps)) - prize_weight)
    miss = max(controls.miss_weight, floor)
    boost = 0
    if controls.pity_streak is not None and player.streak >= controls.pity_streak:
        steps = player.streak - controls.pity_streak + 1
        boost = min(controls.pity_max_boost_bps, steps * controls.pity_boost_bps)
        miss = max(floor, miss - miss * boost // BPS)
    arms = [(p.prize_id, p.weight) for p in eligible]
    if miss:
        arms.append((MISS, miss))
    return Weights(arms=arms, excluded=excluded, miss_floor=floor, pity_boost_bps=boost)


@dataclass(frozen=True, slots=True)
class Odds:
    arm: str
    weight: int
    numerator: int
    denominator: int

    @property
    def probability(self) -> float:
        return self.numerator / self.denominator


def odds(weights: Weights) -> list[Odds]:
    """Exact probabilities of every arm (miss included): the numbers the engine picks with."""
    total = weights.total
    return [Odds(arm, w, w, total) for arm, w in weights.arms]


@dataclass(frozen=True, slots=True)
class DrawRequest:
    player_id: str
    pool_key: str
    count: int
    fingerprint: str


def _guard(
    pool: PrizePool,
    controls: PoolControls,
    wallet: Wallet,
    player: PlayerPlay,
    count: int,
    at: datetime,
) -> RefusalReason | None:
    """Why the request cannot be played at all, or None. The first failing check in this
    order names the reason (checks stop at the first failure)."""
    return _state_refusal(pool, controls, wallet) or _play_refusal(
        pool, controls, wallet, player, count, at
    )


def _state_refusal(pool: PrizePool, controls: PoolControls, wallet: Wallet) -> RefusalReason | None:
    status, cost = pool.status, pool.draw_cost
    if status == _CLOSED:
        return RefusalReason.POOL_CLOSED
    if status == _PAUSED:
        return RefusalReason.POOL_PAUSED
    if wallet.is_frozen_for(FreezeScope.GAMEPLAY):
        return RefusalReason.PLAYER_FROZEN
    if wallet.currency != pool.currency:
        return RefusalReason.CURRENCY_MISMATCH
    if not controls.cost_min <= cost <= controls.cost_max:
        return RefusalReason.COST_OUT_OF_RANGE
    return None


def _play_refusal(
    pool: PrizePool,
    controls: PoolControls,
    wallet: Wallet,
    player: PlayerPlay,
    count: int,
    at: datetime,
) -> RefusalReason | None:
    limit = controls.player_daily_draw_limit
    if limit is not None and player.today(at) + count > limit:
        return RefusalReason.DAILY_LIMIT
    if player.last_draw_at is not None and at < player.last_draw_at + timedelta(
        seconds=controls.player_draw_cooldown_s
    ):
        return RefusalReason.DRAW_COOLDOWN
    if _in_payout_cooldown(player, controls, at):
        return RefusalReason.PAYOUT_COOLDOWN
    if pool.draw_cost * count > wallet.available + wallet.bonus:
        return RefusalReason.INSUFFICIENT_FUNDS
    return None


_CLOSED = PoolStatus.CLOSED.value
_PAUSED = PoolStatus.PAUSED.value


def _in_payout_cooldown(player: PlayerPlay, controls: PoolControls, at: datetime) -> bool:
    if player.last_win_at is None or not controls.player_win_cooldown_s:
        return False
    return at < player.last_win_at + timedelta(seconds=controls.player_win_cooldown_s)


def execute_draw(
    pool: PrizePool,
    working: WorkingPool,
    wallet: Wallet,
    request: DrawRequest,
    at: datetime,
    cause: Cause,
    draw_id: UUID | None = None,
) -> tuple[Draw, list[str]]:
    """Decide one request of ``count`` draws. Returns the Draw record and the prize ids won (the
    caller records them on the pool). ``working`` is updated win by win, so the next request in
    the same batch sees what is left. ``draw_id``: the caller's copy of ``ids.draw_id(player,
    request id)`` (computed here when not given)."""
    controls = working.controls
    if type(request.count) is not int or not 1 <= request.count <= controls.max_multi_draw:
        raise InvalidArgument(f"count must be 1..{controls.max_multi_draw}")
    player = PlayerPlay.of(wallet, pool.pool_key)
    reason = _guard(pool, controls, wallet, player, request.count, at)
    results: list[dict[str, Any]] = []
    wins: list[str] = []
    prizes = working.prizes
    by_id = working.prizes_by_id
    cash = bonus = 0
    for index in range(request.count if reason is None else 0):
        if index and _in_payout_cooldown(player, controls, at):
            reason = RefusalReason.PAYOUT_COOLDOWN
            break
        weights = weigh(prizes, controls, pool.draw_cost, working, player, at)
        if not weights.has_prize:
            reason = RefusalReason.NO_PRIZE_AVAILABLE
            break
        nonce = wallet.nonce + index
        chosen = pick(weights.arms, pool.server_seed, wallet.client_seed, nonce)
        prize = by_id.get(chosen.arm)
        if prize is not None:
            working.apply_win(prize, at)
            wins.append(prize.prize_id)
            cash += prize.reward if prize.kind == _CASH else 0
            bonus += prize.reward if prize.kind == _BONUS else 0
        player.played(pool.draw_cost, won=prize is not None, at=at)
        results.append(
            {
                "index": index,
                "nonce": nonce,
                "client_seed": wallet.client_seed,
                "epoch": pool.epoch,
                "commitment": pool.commitment,
                "weights": [[arm, w] for arm, w in weights.arms],
                "excluded": weights.excluded,
                "miss_floor": weights.miss_floor,
                "pity_boost_bps": weights.pity_boost_bps,
                "value": chosen.value,
                "total": chosen.total,
                "chunks": chosen.chunks,
                "arm": chosen.arm,
                "outcome": "miss" if prize is None else "won",
                "prize_id": None if prize is None else prize.prize_id,
                "kind": None if prize is None else prize.kind,
                "reward": 0 if prize is None else prize.reward,
                "cost": pool.draw_cost,
            }
        )
    cost_total = pool.draw_cost * len(results)
    if draw_id is None:
        draw_id = ids.draw_id(request.player_id, cause.request_id)
    draw_key = str(draw_id)
    if results:
        wallet.settle_draws(
            draw_key,
            pool.pool_key,
            cost_total,
            cash,
            bonus,
            len(results),
            _record(player),
            cause,
        )
    else:
        # Recorded so that the save checks the wallet's version: a refusal decided on a stale
        # wallet (a deposit it had not seen) fails the save and is decided again.
        wallet.note_refused_draw(draw_key, pool.pool_key, reason.value if reason else "", cause)
    draw = Draw.record(
        request.player_id,
        pool.pool_key,
        request.count,
        request.fingerprint,
        results,
        None if reason is None else reason.value,
        cost_total,
        wallet.available,
        wallet.bonus,
        at,
        cause,
        draw_id,
    )
    return draw, wins


def _record(player: PlayerPlay) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies, and this runs once per draw on the hot path.
    return {f.name: getattr(player, f.name) for f in _PLAY_FIELDS}


_PLAY_FIELDS = fields(PlayerPlay)
_CASH = PrizeKind.CASH.value
_BONUS = PrizeKind.BONUS.value
