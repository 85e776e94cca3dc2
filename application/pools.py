"""Prize pool use cases (operator side) and the odds/fairness queries (public side)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import NotFound
from domain import ids
from domain.cause import Cause
from domain.draws import PlayerPlay, odds, weigh
from domain.errors import DomainError
from domain.pool import PrizePool
from domain.prizes import PoolControls, Prize
from domain.wallet import Wallet

__all__ = [
    "EpochView",
    "OddsRow",
    "PoolExists",
    "PoolOdds",
    "PoolSummary",
    "Pools",
    "SeedSource",
    "new_server_seed",
]

SeedSource = Callable[[], str]


class PoolExists(DomainError):
    code = "pool_exists"


def new_server_seed() -> str:
    """256 bits from the OS's CSPRNG."""
    return secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class PoolSummary:
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    fund: int
    epoch: int
    commitment: str
    version: int
    prizes: list[dict[str, Any]] = field(default_factory=list)
    stock: dict[str, int | None] = field(default_factory=dict)
    controls: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, pool: PrizePool) -> PoolSummary:
        return cls(
            pool_key=pool.pool_key,
            name=pool.name,
            currency=pool.currency,
            status=pool.status,
            draw_cost=pool.draw_cost,
            fund=pool.fund,
            epoch=pool.epoch,
            commitment=pool.commitment,
            version=pool.version,
            prizes=[p.to_record() for p in pool.prize_table()],
            stock=dict(pool.stock),
            controls=dict(pool.controls_record),
        )


@dataclass(frozen=True, slots=True)
class OddsRow:
    arm: str  # prize id or "miss"
    weight: int
    numerator: int
    denominator: int
    probability: float


@dataclass(frozen=True, slots=True)
class PoolOdds:
    pool_key: str
    draw_cost: int
    epoch: int
    commitment: str
    rows: list[OddsRow]
    excluded: dict[str, str]
    miss_floor: int
    pity_boost_bps: int
    expected_payout_per_draw: float


@dataclass(frozen=True, slots=True)
class EpochView:
    epoch: int
    commitment: str
    revealed_seed: str | None  # None while the epoch is in use


class Pools:
    def __init__(self, commands: Commands, clock: Clock, currency: str, seeds: SeedSource) -> None:
        self._commands = commands
        self._clock = clock
        self._currency = currency
        self._seeds = seeds

    # ---- commands (operator) -------------------------------------------------------------------

    def create(
        self, pool_key: str, name: str, draw_cost: int, controls: PoolControls, cause: Cause
    ) -> PoolSummary:
        """Create an open pool with an empty prize fund and the first epoch's commitment."""

        def decide(unit: Unit) -> PoolSummary:
            return PoolSummary.of(self.create_in(unit, pool_key, name, draw_cost, controls, cause))

        params = {
            "pool": pool_key,
            "name": name,
            "cost": draw_cost,
            "controls": controls.to_record(),
        }
        return self._commands.execute("create_pool", cause, params, decide, PoolSummary)

    def create_in(
        self,
        unit: Unit,
        pool_key: str,
        name: str,
        draw_cost: int,
        controls: PoolControls,
        cause: Cause,
        server_seed: str | None = None,
    ) -> PrizePool:
        """Create the pool inside ``unit`` (saved with whatever else the unit holds, as when a
        change request publishes it). ``server_seed`` only for previews that are never saved."""
        if unit.find(PrizePool, ids.pool_id(pool_key)) is not None:
            raise PoolExists(f"pool {pool_key} already exists")
        seed = server_seed or self._seeds()
        pool = PrizePool.create(pool_key, name, self._currency, draw_cost, controls, seed, cause)
        unit.add(pool)
        return pool

    def _on_pool(
        self,
        name: str,
        pool_key: str,
        cause: Cause,
        params: dict[str, object],
        act: Callable[[PrizePool], None],
    ) -> PoolSummary:
        def decide(unit: Unit) -> PoolSummary:
            pool = unit.get(PrizePool, ids.pool_id(pool_key))
            act(pool)
            return PoolSummary.of(pool)

        return self._commands.execute(
            name, cause, {"pool": pool_key, **params}, decide, PoolSummary
        )

    def add_prize(self, pool_key: str, prize: Prize, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "add_prize",
            pool_key,
            cause,
            {"prize": prize.to_record()},
            lambda p: p.add_prize(prize, cause),
        )

    def change_prize(self, pool_key: str, prize: Prize, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "change_prize",
            pool_key,
            cause,
            {"prize": prize.to_record()},
            lambda p: p.change_prize(prize, cause),
        )

    def restock(self, pool_key: str, prize_id: str, added: int, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "restock_prize",
            pool_key,
            cause,
            {"prize": prize_id, "added": added},
            lambda p: p.restock(prize_id, added, cause),
        )

    def retire_prize(self, pool_key: str, prize_id: str, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "retire_prize",
            pool_key,
            cause,
            {"prize": prize_id},
            lambda p: p.retire_prize(prize_id, cause),
        )

    def set_controls(self, pool_key: str, controls: PoolControls, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "set_controls",
            pool_key,
            cause,
            {"controls": controls.to_record()},
            lambda p: p.set_controls(controls, cause),
        )

    def set_draw_cost(self, pool_key: str, draw_cost: int, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "set_draw_cost",
            pool_key,
            cause,
            {"cost": draw_cost},
            lambda p: p.set_draw_cost(draw_cost, cause),
        )

    def fund(self, pool_key: str, amount_minor: int, cause: Cause) -> PoolSummary:
        """Move money from the marketing budget into the prize fund."""
        return self._on_pool(
            "fund_pool",
            pool_key,
            cause,
            {"amount": amount_minor},
            lambda p: p.fund_from_marketing(amount_minor, cause),
        )

    def defund(self, pool_key: str, amount_minor: int, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "defund_pool",
            pool_key,
            cause,
            {"amount": amount_minor},
            lambda p: p.defund(amount_minor, cause),
        )

    def pause(self, pool_key: str, reason: str, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "pause_pool", pool_key, cause, {"reason": reason}, lambda p: p.pause(reason, cause)
        )

    def resume(self, pool_key: str, reason: str, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "resume_pool", pool_key, cause, {"reason": reason}, lambda p: p.resume(reason, cause)
        )

    def close(self, pool_key: str, reason: str, cause: Cause) -> PoolSummary:
        return self._on_pool(
            "close_pool", pool_key, cause, {"reason": reason}, lambda p: p.close(reason, cause)
        )

    def rotate_epoch(self, pool_key: str, cause: Cause) -> PoolSummary:
        """Reveal the current server seed and commit to a fresh one."""
        seed = self._seeds()
        return self._on_pool(
            "rotate_epoch", pool_key, cause, {}, lambda p: p.rotate_epoch(seed, cause)
        )

    # ---- queries -------------------------------------------------------------------------------

    def _load(self, pool_key: str) -> PrizePool:
        pool = Unit(self._commands.ledger).find(PrizePool, ids.pool_id(pool_key))
        if pool is None:
            raise NotFound(f"pool {pool_key} not found")
        return pool

    def summary(self, pool_key: str) -> PoolSummary:
        return PoolSummary.of(self._load(pool_key))

    def epochs(self, pool_key: str) -> list[EpochView]:
        """Every fairness epoch of the pool: its commitment, and its seed once revealed."""
        return [EpochView(*epoch) for epoch in self._load(pool_key).epochs()]

    def odds(self, pool_key: str, player_id: str | None = None) -> PoolOdds:
        """Each arm's exact probability for the next draw — computed by the engine's own
        ``weigh``, for a given player (their pity, thresholds) or for a new player."""
        pool = self._load(pool_key)
        play = PlayerPlay()
        if player_id is not None:
            wallet = Unit(self._commands.ledger).find(Wallet, ids.wallet_id(player_id))
            play = PlayerPlay.of(wallet, pool_key) if wallet else play
        return self.odds_of(pool, play)

    def odds_of(self, pool: PrizePool, play: PlayerPlay | None = None) -> PoolOdds:
        """The odds of ``pool`` as given (a pool loaded, or a copy with a change applied that
        is never saved), for ``play`` or a new player."""
        weights = weigh(
            pool.prize_table(),
            pool.controls,
            pool.draw_cost,
            pool.working(),
            PlayerPlay() if play is None else play,
            self._clock(),
        )
        rows = [
            OddsRow(o.arm, o.weight, o.numerator, o.denominator, o.probability)
            for o in odds(weights)
        ]
        rewards = {p.prize_id: p.reward for p in pool.prize_table()}
        expected = sum(r.probability * rewards.get(r.arm, 0) for r in rows)
        return PoolOdds(
            pool_key=pool.pool_key,
            draw_cost=pool.draw_cost,
            epoch=pool.epoch,
            commitment=pool.commitment,
            rows=rows,
            excluded=weights.excluded,
            miss_floor=weights.miss_floor,
            pity_boost_bps=weights.pity_boost_bps,
            expected_payout_per_draw=expected,
        )
