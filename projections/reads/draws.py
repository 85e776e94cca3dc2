"""Reads over the draws and pools read models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain import ids
from domain.prizes import BUCKETS
from projections.draws import DrawsProjection, PoolStatsProjection
from projections.reads.common import _MAX, Page, ReadBase, _at, _check, _page, _position


@dataclass(frozen=True, slots=True)
class DrawRow:
    draw_id: str
    position: int
    player_id: str
    pool_key: str
    status: str
    reason: str | None
    requested: int
    settled: int
    cost_total: int
    won_total: int
    at: str
    results: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class PrizeStats:
    prize_id: str
    name: str
    kind: str
    reward: int
    weight: int
    stock: int | None  # None: unlimited, or retired
    budget: int | None
    budget_window_s: int
    active: bool  # False once retired
    wins: int
    paid: int
    budget_used: int | None  # paid within the budget window now (None: no budget)


@dataclass(frozen=True, slots=True)
class PoolStats:
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    rtp_target_bps: int
    epoch: int
    fund: int
    funded: int
    defunded: int
    requests: int
    refused: int
    draws: int
    wins: int
    cost_total: int
    payout_total: int
    updated_at: str
    prizes: list[PrizeStats]

    @property
    def observed_rtp_bps(self) -> int | None:
        """Paid out per amount staked, in basis points (None before the first draw)."""
        return self.payout_total * 10_000 // self.cost_total if self.cost_total else None


@dataclass(frozen=True, slots=True)
class PublicPoolStats:
    pool_key: str
    requests: int  # settled requests (one request may hold several draws)
    draws: int
    winning_requests: int
    cost_total: int
    won_total: int


class DrawReads(ReadBase):
    _DRAW = (
        "SELECT draw_id, position, player_id, pool_key, status, reason, requested, settled,"
        " cost_total, won_total, at, results FROM {t}"
    )

    def draws(self, player_id: str, cursor: str | None = None, limit: int = 50) -> Page[DrawRow]:
        """The player's draw requests, newest first."""
        table = self._table(DrawsProjection, "draws")
        rows = self._fetch(
            self._DRAW.format(t=table) + " WHERE player_id = %s AND position < %s"
            " ORDER BY position DESC LIMIT %s",
            (player_id, _position(cursor, _MAX), _check(limit) + 1),
        )
        return _page([_draw(r) for r in rows], limit)

    def draw(self, draw_id: str) -> DrawRow | None:
        table = self._table(DrawsProjection, "draws")
        rows = self._fetch(self._DRAW.format(t=table) + " WHERE draw_id = %s", (draw_id,))
        return _draw(rows[0]) if rows else None

    def public_stats(self, until: datetime) -> list[PublicPoolStats]:
        """Per pool, the settled draws made before ``until`` (public statistics are delayed so
        that they reveal nothing about draws in progress)."""
        table = self._table(DrawsProjection, "draws")
        rows = self._fetch(
            "SELECT pool_key, COUNT(*), COALESCE(SUM(settled), 0),"
            " COALESCE(SUM(CASE WHEN won_total > 0 THEN 1 ELSE 0 END), 0),"
            f" COALESCE(SUM(cost_total), 0), COALESCE(SUM(won_total), 0) FROM {table}"
            " WHERE status = 'settled' AND at < %s GROUP BY pool_key ORDER BY pool_key",
            (_at(until),),
        )
        return [PublicPoolStats(str(r[0]), *(int(v) for v in r[1:])) for r in rows]

    def pools(self, at: datetime | None = None) -> list[PoolStats]:
        """Every pool by key, with its prizes; ``budget_used`` as of ``at`` (default now)."""
        keys = self._fetch(f"SELECT pool_key FROM {self._table(PoolStatsProjection, 'pools')}")
        stats = [self.pool_stats(k, at) for (k,) in sorted(keys)]
        return [s for s in stats if s is not None]

    def pool_stats(self, pool_key: str, at: datetime | None = None) -> PoolStats | None:
        pools = self._table(PoolStatsProjection, "pools")
        prizes = self._table(PoolStatsProjection, "prizes")
        wins = self._table(PoolStatsProjection, "wins")
        now_s = int((at or datetime.now(UTC)).timestamp())
        pool_id = str(ids.pool_id(pool_key))
        with self._store.transaction() as tx:
            row = tx.fetchone(
                "SELECT pool_key, name, currency, status, draw_cost, rtp_target_bps, epoch, fund,"
                " funded, defunded, requests, refused, draws, wins, cost_total, payout_total,"
                f" updated_at FROM {pools} WHERE pool_id = %s",
                (pool_id,),
            )
            if row is None:
                return None
            found = tx.fetchall(
                "SELECT prize_id, name, kind, reward, weight, stock, budget, budget_window_s,"
                f" active, wins, paid, budget_from FROM {prizes} WHERE pool_id = %s"
                " ORDER BY prize_id",
                (pool_id,),
            )
            listed = []
            for *values, active, won, paid, budget_from in found:
                used = None
                budget, window_s = values[6], values[7]
                if budget is not None and budget_from is not None and active:
                    # The same buckets as the pool's own window (domain.prizes.window_sum).
                    size = max(1, window_s // BUCKETS)
                    since = (now_s // size - BUCKETS) * size
                    used_row = tx.fetchone(
                        f"SELECT COALESCE(SUM(reward), 0) FROM {wins} WHERE pool_id = %s"
                        " AND prize_id = %s AND position > %s AND at_s >= %s",
                        (pool_id, values[0], budget_from, since),
                    )
                    used = int(used_row[0]) if used_row else 0
                listed.append(PrizeStats(*[*values, bool(active), won, paid, used]))
        return PoolStats(*[*row, listed])


def _draw(row: tuple[Any, ...]) -> DrawRow:
    return DrawRow(*[*row[:-1], json.loads(row[-1])])
