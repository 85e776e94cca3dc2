"""Reads over the risk read model: velocity per hour, rapid withdrawals, and the risk score
that adds them up with the players read model's signals (shared devices, addresses and payout
destinations, failed logins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.players import PlayersProjection
from projections.reads.common import _check
from projections.reads.players import MAX_SHARED, PlayerReads
from projections.risk import (
    RAPID_WITHDRAWAL_S,
    SIGNAL_POINTS,
    VELOCITY_DEPOSITS_PER_HOUR,
    VELOCITY_DRAWS_PER_HOUR,
    RiskProjection,
)


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


@dataclass(frozen=True, slots=True)
class RiskScore:
    player_id: str
    email: str | None
    score: int  # the sum of occurrences times SIGNAL_POINTS
    signals: dict[str, int]  # signal -> occurrences (only those that occurred)
    frozen: list[str]  # scopes frozen now

    def describe(self) -> str:
        """The signals in words, for a freeze's reason: ``rapid_withdrawal: 2, shared_ip: 1``."""
        return ", ".join(f"{name}: {count}" for name, count in sorted(self.signals.items()))


class RiskReads(PlayerReads):
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

    def risk_scores(
        self, min_score: int = 1, player_id: str | None = None, limit: int = 100
    ) -> list[RiskScore]:
        """Players scoring at least ``min_score`` (all players, or one), highest first."""
        counts: dict[str, dict[str, int]] = {}
        for signal, rows in self._signal_counts(player_id).items():
            for pid, count in rows:
                if count:
                    counts.setdefault(str(pid), {})[signal] = int(count)
        scored = sorted(
            (
                (sum(SIGNAL_POINTS[s] * n for s, n in signals.items()), pid)
                for pid, signals in counts.items()
            ),
            key=lambda scored: (-scored[0], scored[1]),
        )
        chosen = [(score, pid) for score, pid in scored if score >= min_score][: _check(limit)]
        players = {pid: self.player(pid) for _, pid in chosen}
        return [
            RiskScore(
                pid,
                row.email if (row := players[pid]) else None,
                score,
                counts[pid],
                row.frozen if row else [],
            )
            for score, pid in chosen
        ]

    def _signal_counts(self, player_id: str | None) -> dict[str, list[tuple[Any, ...]]]:
        velocity = self._table(RiskProjection, "velocity")
        credits = self._table(RiskProjection, "credits")
        locks = self._table(RiskProjection, "locks")
        players = self._table(PlayersProjection, "players")
        only, one = ("", ()) if player_id is None else (" AND {p}.player_id = %s", (player_id,))
        found = {
            "rapid_withdrawal": self._fetch(
                f"SELECT l.player_id, COUNT(DISTINCT l.position) FROM {locks} l JOIN {credits} c"
                " ON c.player_id = l.player_id AND c.position < l.position"
                f" AND c.at_us >= l.at_us - %s WHERE 1 = 1{only.format(p='l')}"
                " GROUP BY l.player_id",
                (RAPID_WITHDRAWAL_S * 1_000_000, *one),
            ),
            "velocity_hour": self._fetch(
                f"SELECT v.player_id, COUNT(*) FROM {velocity} v"
                f" WHERE (v.draw_requests > %s OR v.deposits_requested > %s){only.format(p='v')}"
                " GROUP BY v.player_id",
                (VELOCITY_DRAWS_PER_HOUR, VELOCITY_DEPOSITS_PER_HOUR, *one),
            ),
            "failed_login": self._fetch(
                f"SELECT p.player_id, p.failed_logins FROM {players} p"
                f" WHERE p.failed_logins > 0{only.format(p='p')}",
                one,
            ),
        }
        for signal, short, column in (
            ("shared_device", "devices", "device"),
            ("shared_ip", "ips", "ip"),
            ("shared_destination", "destinations", "destination"),
        ):
            table = self._table(PlayersProjection, short)
            found[signal] = self._fetch(
                f"SELECT m.player_id, COUNT(DISTINCT o.player_id) FROM {table} m JOIN {table} o"
                f" ON o.{column} = m.{column} AND o.player_id <> m.player_id"
                f" WHERE m.{column} IN (SELECT {column} FROM {table} GROUP BY {column}"
                f" HAVING COUNT(DISTINCT player_id) <= %s){only.format(p='m')}"
                " GROUP BY m.player_id",
                (MAX_SHARED, *one),
            )
        return found
