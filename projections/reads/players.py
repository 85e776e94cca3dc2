"""Reads over the players read model: search, one player's identity, devices and addresses,
freezes, players sharing a device, address or payout destination, and adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.players import PlayersProjection
from projections.reads.common import Page, ReadBase, _check, _like_prefix, _page, _position

__all__ = [
    "MAX_SHARED",
    "AdjustmentRow",
    "Association",
    "DeviceRow",
    "FreezeRow",
    "IpRow",
    "PlayerReads",
    "PlayerRow",
]

# A device fingerprint or address used by more players than this is too common to link them
# (a popular browser version, a carrier's NAT): it is not an association, nor a risk signal.
MAX_SHARED = 20


@dataclass(frozen=True, slots=True)
class PlayerRow:
    player_id: str
    account_id: str | None  # None: a wallet without an account
    email: str | None
    currency: str | None
    created_at: str
    registration_ip: str | None
    last_login_at: str | None
    last_ip: str | None
    logins: int
    failed_logins: int
    locked_until: str | None
    devices: int
    frozen: list[str]  # scopes frozen now


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device: str
    user_agent: str
    first_at: str
    last_at: str
    logins: int


@dataclass(frozen=True, slots=True)
class IpRow:
    ip: str
    first_at: str
    last_at: str
    logins: int  # 0: the registration address, never logged in from


@dataclass(frozen=True, slots=True)
class FreezeRow:
    scope: str
    reason: str
    actor: str
    at: str


@dataclass(frozen=True, slots=True)
class Association:
    player_id: str
    email: str | None
    via: str  # device | ip | payout_destination
    value: str  # the device fingerprint, the address, or the destination (masked)


@dataclass(frozen=True, slots=True)
class AdjustmentRow:
    adjustment_id: str
    position: int
    player_id: str
    balance: str
    delta_minor: int
    reason: str
    state: str  # requested | posted | rejected
    requested_by: str
    decided_by: str | None
    decision_reason: str | None
    requested_at: str
    decided_at: str | None


_PLAYER = (
    "SELECT p.player_id, p.account_id, p.email, p.currency, p.created_at, p.registration_ip,"
    " p.last_login_at, p.last_ip, p.logins, p.failed_logins, p.locked_until,"
    " (SELECT COUNT(*) FROM {devices} d WHERE d.player_id = p.player_id) FROM {players} p"
)


class PlayerReads(ReadBase):
    def _players_sql(self) -> str:
        return _PLAYER.format(
            players=self._table(PlayersProjection, "players"),
            devices=self._table(PlayersProjection, "devices"),
        )

    def players(
        self, query: str = "", cursor: str | None = None, limit: int = 50
    ) -> Page[PlayerRow]:
        """Players whose e-mail starts with ``query`` (case-insensitive) or whose id is
        ``query`` (every player when empty), by player id; ``cursor`` is the last id seen."""
        where, params = ["p.player_id > %s"], [cursor or ""]  # type: list[str], list[object]
        if query:
            where.append("(p.email LIKE %s ESCAPE '\\' OR p.player_id = %s)")
            params += [_like_prefix(query.strip().lower()), query.strip()]
        rows = self._fetch(
            f"{self._players_sql()} WHERE {' AND '.join(where)} ORDER BY p.player_id LIMIT %s",
            (*params, _check(limit) + 1),
        )
        found = self._with_freezes(rows)
        more = len(found) > limit
        page = found[:limit]
        return Page(page, page[-1].player_id if more else None)

    def player(self, player_id: str) -> PlayerRow | None:
        rows = self._fetch(f"{self._players_sql()} WHERE p.player_id = %s", (player_id,))
        found = self._with_freezes(rows)
        return found[0] if found else None

    def _with_freezes(self, rows: list[tuple[Any, ...]]) -> list[PlayerRow]:
        if not rows:
            return []
        freezes = self._table(PlayersProjection, "freezes")
        ids = [str(r[0]) for r in rows]
        marks = ", ".join(["%s"] * len(ids))
        frozen: dict[str, list[str]] = {}
        for player_id, scope in self._fetch(
            f"SELECT player_id, scope FROM {freezes} WHERE player_id IN ({marks}) ORDER BY scope",
            tuple(ids),
        ):
            frozen.setdefault(player_id, []).append(scope)
        return [PlayerRow(*[*r, frozen.get(str(r[0]), [])]) for r in rows]

    def devices(self, player_id: str) -> list[DeviceRow]:
        """The player's devices, most recently used first."""
        table = self._table(PlayersProjection, "devices")
        rows = self._fetch(
            f"SELECT device, user_agent, first_at, last_at, logins FROM {table}"
            " WHERE player_id = %s ORDER BY last_at DESC, device",
            (player_id,),
        )
        return [DeviceRow(*r) for r in rows]

    def ips(self, player_id: str) -> list[IpRow]:
        """The addresses the player registered or logged in from, most recent first."""
        table = self._table(PlayersProjection, "ips")
        rows = self._fetch(
            f"SELECT ip, first_at, last_at, logins FROM {table}"
            " WHERE player_id = %s ORDER BY last_at DESC, ip",
            (player_id,),
        )
        return [IpRow(*r) for r in rows]

    def freezes(self, player_id: str) -> list[FreezeRow]:
        table = self._table(PlayersProjection, "freezes")
        rows = self._fetch(
            f"SELECT scope, reason, actor, at FROM {table} WHERE player_id = %s ORDER BY scope",
            (player_id,),
        )
        return [FreezeRow(*r) for r in rows]

    def accounts_registered_from(self, ip: str) -> int:
        """How many accounts were registered from ``ip``."""
        table = self._table(PlayersProjection, "players")
        rows = self._fetch(f"SELECT COUNT(*) FROM {table} WHERE registration_ip = %s", (ip,))
        return int(rows[0][0])

    def associations(self, player_id: str) -> list[Association]:
        """Other players who used one of this player's devices or addresses, or pay out to
        one of their destinations (values shared by more than MAX_SHARED players excluded)."""
        players = self._table(PlayersProjection, "players")
        found: list[Association] = []
        for via, short, column, shown in (
            ("device", "devices", "device", "o.device"),
            ("ip", "ips", "ip", "o.ip"),
            ("payout_destination", "destinations", "destination", "o.masked"),
        ):
            table = self._table(PlayersProjection, short)
            rows = self._fetch(
                f"SELECT DISTINCT o.player_id, p.email, {shown} FROM {table} mine"
                f" JOIN {table} o ON o.{column} = mine.{column} AND o.player_id <> mine.player_id"
                f" LEFT JOIN {players} p ON p.player_id = o.player_id"
                f" WHERE mine.player_id = %s AND (SELECT COUNT(DISTINCT s.player_id) FROM {table} s"
                f" WHERE s.{column} = mine.{column}) <= %s ORDER BY o.player_id, {shown}",
                (player_id, MAX_SHARED),
            )
            found += [Association(str(p), e, via, str(v)) for p, e, v in rows]
        return found

    def adjustments(
        self,
        state: str | None = None,
        player_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[AdjustmentRow]:
        """Manual adjustments in ``state`` and/or of a player, oldest first."""
        table = self._table(PlayersProjection, "adjustments")
        where, params = ["position > %s"], [_position(cursor, 0)]  # type: list[str], list[object]
        for column, value in (("state", state), ("player_id", player_id)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        rows = self._fetch(
            "SELECT adjustment_id, position, player_id, balance, delta_minor, reason, state,"
            " requested_by, decided_by, decision_reason, requested_at, decided_at"
            f" FROM {table} WHERE {' AND '.join(where)} ORDER BY position LIMIT %s",
            (*params, _check(limit) + 1),
        )
        return _page([AdjustmentRow(*r) for r in rows], limit)
