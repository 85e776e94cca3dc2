"""Reads over the reward centre's read model: a player's missions and progress, what is due or
claimable, the marketing budget, and the grants and refusals reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.reads.common import Page, ReadBase, _at, _check, _page, _position
from projections.rewards import RewardsProjection

__all__ = [
    "BudgetRow",
    "GrantRow",
    "MissionRow",
    "PlayerReward",
    "RefusalRow",
    "RewardReads",
    "RewardRow",
    "SourceTotals",
]


@dataclass(frozen=True, slots=True)
class MissionRow:
    mission_key: str
    title: str
    kind: str
    target: int
    cadence: str
    award: str
    reward_kind: str
    reward_minor: int
    starts_at: str | None
    ends_at: str | None
    retired: bool
    version: int


@dataclass(frozen=True, slots=True)
class RewardRow:
    """One (player, source, period) of the process: its progress and state."""

    player_id: str
    source: str  # a mission key, "signup" or "referral"
    period: str  # "once", a UTC day, or (referral) the referred player's id
    progress: int
    target: int
    state: str  # open | waiting | due | claimable | granted | refused
    award: str
    reward_kind: str
    reward_minor: int
    completed_at: str | None
    granted_at: str | None
    refusal: str | None


@dataclass(frozen=True, slots=True)
class PlayerReward:
    """An active mission as one player sees it now: the terms and this period's progress."""

    mission: MissionRow
    period: str
    progress: int
    state: str  # open when nothing counted yet


@dataclass(frozen=True, slots=True)
class BudgetRow:
    account: str
    currency: str
    funded: int
    spent: int
    remaining: int
    grants: int
    refusals: int
    updated_at: str


@dataclass(frozen=True, slots=True)
class GrantRow:
    position: int
    grant_id: str
    player_id: str
    source: str
    period: str
    reward_kind: str
    amount: int
    currency: str
    actor: str
    at: str


@dataclass(frozen=True, slots=True)
class RefusalRow:
    position: int
    grant_id: str
    player_id: str
    source: str
    period: str
    amount: int
    currency: str
    reason: str
    actor: str
    at: str


@dataclass(frozen=True, slots=True)
class SourceTotals:
    source: str
    grants: int
    amount: int
    refusals: int


_MISSION = (
    "m.mission_key, m.title, m.kind, m.target, m.cadence, m.award, m.reward_kind,"
    " m.reward_minor, m.starts_at, m.ends_at, m.retired, m.version"
)
_REWARD = (
    "player_id, source, period, progress, target, state, award, reward_kind, reward_minor,"
    " completed_at, granted_at, refusal"
)


def _mission(row: tuple[Any, ...]) -> MissionRow:
    key, title, kind, target, cadence, award, reward_kind, reward, starts, ends, retired, ver = row
    return MissionRow(
        key, title, kind, target, cadence, award, reward_kind, reward, starts, ends,
        bool(retired), int(ver),
    )  # fmt: skip


class RewardReads(ReadBase):
    def missions(self, include_retired: bool = True) -> list[MissionRow]:
        """Every mission, by key."""
        table = self._table(RewardsProjection, "missions")
        where = "" if include_retired else " WHERE m.retired = 0"
        rows = self._fetch(f"SELECT {_MISSION} FROM {table} m{where} ORDER BY m.mission_key")
        return [_mission(r) for r in rows]

    def player_rewards(self, player_id: str, at: datetime) -> list[PlayerReward]:
        """The missions active at ``at`` with the player's progress in the period it is in."""
        missions = self._table(RewardsProjection, "missions")
        progress = self._table(RewardsProjection, "progress")
        stamp, day = _at(at), _at(at)[:10]
        rows = self._fetch(
            f"SELECT {_MISSION}, CASE WHEN m.cadence = 'daily' THEN %s ELSE 'once' END,"
            f" COALESCE(p.progress, 0), COALESCE(p.state, 'open') FROM {missions} m"
            f" LEFT JOIN {progress} p ON p.player_id = %s AND p.source = m.mission_key"
            " AND p.period = CASE WHEN m.cadence = 'daily' THEN %s ELSE 'once' END"
            " WHERE m.retired = 0 AND (m.starts_at IS NULL OR m.starts_at <= %s)"
            " AND (m.ends_at IS NULL OR m.ends_at > %s) ORDER BY m.mission_key",
            (day, player_id, day, stamp, stamp),
        )
        return [PlayerReward(_mission(r[:12]), str(r[12]), int(r[13]), str(r[14])) for r in rows]

    def reward_rows(
        self, player_id: str, states: tuple[str, ...] | None = None, limit: int = 100
    ) -> list[RewardRow]:
        """The player's rewards in the given states (all when None), most recent first."""
        progress = self._table(RewardsProjection, "progress")
        where, params = "player_id = %s", [player_id]
        if states:
            where += f" AND state IN ({', '.join(['%s'] * len(states))})"
            params += list(states)
        rows = self._fetch(
            f"SELECT {_REWARD} FROM {progress} WHERE {where}"
            " ORDER BY updated_at DESC, source, period LIMIT %s",
            (*params, _check(limit)),
        )
        return [RewardRow(*r) for r in rows]

    def claimable_rewards(self, player_id: str, source: str) -> list[RewardRow]:
        """What the player may claim from ``source``, oldest first."""
        progress = self._table(RewardsProjection, "progress")
        rows = self._fetch(
            f"SELECT {_REWARD} FROM {progress} WHERE player_id = %s AND source = %s"
            " AND state = 'claimable' ORDER BY completed_at, period",
            (player_id, source),
        )
        return [RewardRow(*r) for r in rows]

    def due_rewards(self, limit: int = 100) -> list[RewardRow]:
        """Completed auto-award rewards not yet granted (or refused), oldest first."""
        progress = self._table(RewardsProjection, "progress")
        rows = self._fetch(
            f"SELECT {_REWARD} FROM {progress} WHERE state = 'due'"
            " ORDER BY completed_at, player_id, source, period LIMIT %s",
            (_check(limit),),
        )
        return [RewardRow(*r) for r in rows]

    def reward_budget(self) -> BudgetRow | None:
        """The marketing budget as the events funded and spent it (None before it opens)."""
        table = self._table(RewardsProjection, "budget")
        rows = self._fetch(
            "SELECT account, currency, funded, spent, funded - spent, grants, refusals,"
            f" updated_at FROM {table} ORDER BY account LIMIT 1"
        )
        return BudgetRow(*rows[0]) if rows else None

    def reward_grants(
        self, cursor: str | None = None, limit: int = 50, player_id: str | None = None
    ) -> Page[GrantRow]:
        """Grants paid, newest first (keyset pagination on the event position)."""
        table = self._table(RewardsProjection, "grants")
        where = "position < %s"
        params: list[object] = [_position(cursor, 2**62)]
        if player_id is not None:
            where += " AND player_id = %s"
            params.append(player_id)
        rows = self._fetch(
            "SELECT position, grant_id, player_id, source, period, reward_kind, amount,"
            f" currency, actor, at FROM {table} WHERE {where} ORDER BY position DESC LIMIT %s",
            (*params, _check(limit) + 1),
        )
        return _page([GrantRow(*r) for r in rows], limit)

    def reward_refusals(self, cursor: str | None = None, limit: int = 50) -> Page[RefusalRow]:
        """Grants the budget (or a frozen wallet) refused, newest first."""
        table = self._table(RewardsProjection, "refusals")
        rows = self._fetch(
            "SELECT position, grant_id, player_id, source, period, amount, currency, reason,"
            f" actor, at FROM {table} WHERE position < %s ORDER BY position DESC LIMIT %s",
            (_position(cursor, 2**62), _check(limit) + 1),
        )
        return _page([RefusalRow(*r) for r in rows], limit)

    def reward_totals(self) -> list[SourceTotals]:
        """Per source (mission, signup, referral): grants paid, their sum, refusals."""
        grants = self._table(RewardsProjection, "grants")
        refusals = self._table(RewardsProjection, "refusals")
        paid = self._fetch(
            f"SELECT source, COUNT(*), SUM(amount) FROM {grants} GROUP BY source ORDER BY source"
        )
        refused = dict(
            self._fetch(f"SELECT source, COUNT(*) FROM {refusals} GROUP BY source ORDER BY source")
        )
        sources = sorted({str(r[0]) for r in paid} | {str(s) for s in refused})
        by_source = {str(r[0]): (int(r[1]), int(r[2])) for r in paid}
        return [SourceTotals(s, *by_source.get(s, (0, 0)), int(refused.get(s, 0))) for s in sources]
