"""Reads over the risk read model: velocity per hour, rapid withdrawals."""

from __future__ import annotations

from dataclasses import dataclass

from projections.reads.common import ReadBase, _check
from projections.risk import RAPID_WITHDRAWAL_S, RiskProjection


@dataclass(frozen=True, slots=True)
class VelocityRow:
    player_id: str
    hour: str  # UTC, e.g. 2026-01-01T12
    draw_requests: int
    draws: int
    deposits_requested: int
    deposits_credited: int
    deposited: int


@dataclass(frozen=True, slots=True)
class RapidWithdrawal:
    """A withdrawal requested soon after a deposit credit (the latest credit before it)."""

    player_id: str
    withdrawal_id: str
    amount: int
    requested_at: str
    deposit_id: str
    deposit_amount: int
    credited_at: str
    gap_s: float


class RiskReads(ReadBase):
    def velocity(
        self,
        player_id: str | None = None,
        first_hour: str | None = None,
        last_hour: str | None = None,
        limit: int = 500,
    ) -> list[VelocityRow]:
        """Per player and UTC hour (``YYYY-MM-DDTHH``, inclusive bounds), newest hour first."""
        table = self._table(RiskProjection, "velocity")
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        for clause, value in (
            ("player_id = %s", player_id),
            ("hour >= %s", first_hour),
            ("hour <= %s", last_hour),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self._fetch(
            f"SELECT player_id, hour, draw_requests, draws, deposits_requested,"
            f" deposits_credited, deposited FROM {table} WHERE {' AND '.join(where)}"
            " ORDER BY hour DESC, player_id LIMIT %s",
            (*params, _check(limit)),
        )
        return [VelocityRow(*r) for r in rows]

    def rapid_withdrawals(
        self, player_id: str | None = None, within_s: int = RAPID_WITHDRAWAL_S
    ) -> list[RapidWithdrawal]:
        """Withdrawals requested within ``within_s`` of the player's latest deposit credit
        before them, newest first."""
        credits = self._table(RiskProjection, "credits")
        locks = self._table(RiskProjection, "locks")
        where, params = "", (within_s * 1_000_000,)  # type: str, tuple[object, ...]
        if player_id is not None:
            where, params = " WHERE l.player_id = %s", (within_s * 1_000_000, player_id)
        rows = self._fetch(
            "SELECT l.position, l.player_id, l.withdrawal_id, l.amount, l.at, c.deposit_id,"
            f" c.amount, c.at, l.at_us - c.at_us FROM {locks} l JOIN {credits} c"
            " ON c.player_id = l.player_id AND c.position < l.position"
            f" AND c.at_us >= l.at_us - %s{where} ORDER BY l.position DESC, c.position DESC",
            params,
        )
        found: dict[int, RapidWithdrawal] = {}
        for position, *values, gap_us in rows:
            if position not in found:
                found[position] = RapidWithdrawal(*[*values, gap_us / 1_000_000])
        return list(found.values())
