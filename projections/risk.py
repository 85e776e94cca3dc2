"""Risk signals: per-player velocity per UTC hour, and the timestamps that rapid
deposit-then-withdraw detection joins.

``velocity`` counts, per player and hour of the event's timestamp, draw requests and draws
played, deposits requested and deposits credited (and their amount). ``credits`` and ``locks``
keep every deposit credit and every withdrawal request (funds locked) with its time in
microseconds; the query joins them to flag a withdrawal requested within an hour of a credit —
no handler has to read a player's last credit. Devices, addresses, payout destinations and failed
logins are in the players read model (``projections.players``); the risk score
(``projections.reads.risk``) adds them up with these signals, each occurrence worth
``SIGNAL_POINTS``: the score only grows, as evidence accumulates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from projections.base import Handler, LedgerProjection, Merge, Writes, iso

__all__ = [
    "RAPID_WITHDRAWAL_S",
    "SIGNAL_POINTS",
    "VELOCITY_DEPOSITS_PER_HOUR",
    "VELOCITY_DRAWS_PER_HOUR",
    "RiskProjection",
    "hour_of",
    "micros",
]

RAPID_WITHDRAWAL_S = 3_600
# An hour with more draw requests or deposit requests than these is a velocity signal.
VELOCITY_DRAWS_PER_HOUR = 300
VELOCITY_DEPOSITS_PER_HOUR = 10
# What one occurrence of each signal adds to a player's risk score.
SIGNAL_POINTS = {
    "rapid_withdrawal": 20,  # a withdrawal within RAPID_WITHDRAWAL_S of a deposit credit
    "velocity_hour": 10,  # an hour over a velocity limit
    "shared_device": 15,  # per other player on one of the player's devices
    "shared_ip": 5,  # per other player on one of the player's addresses (NAT is common)
    "shared_destination": 30,  # per other player paying out to one of the same destinations
    "failed_login": 1,  # per wrong password (someone may be guessing it)
}
_COUNTERS = ("draw_requests", "draws", "deposits_requested", "deposits_credited", "deposited")


def hour_of(at: datetime) -> str:
    """The UTC hour, e.g. ``2026-01-01T12`` (sorts as text)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def micros(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class RiskProjection(LedgerProjection):
    name = "risk"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {velocity} (player_id TEXT NOT NULL, hour TEXT NOT NULL, "
        + ", ".join(f"{c} BIGINT NOT NULL" for c in _COUNTERS)
        + ", PRIMARY KEY (player_id, hour))",
        "CREATE INDEX IF NOT EXISTS {velocity}_by_hour ON {velocity} (hour)",
        "CREATE TABLE IF NOT EXISTS {credits} (position BIGINT PRIMARY KEY,"
        " player_id TEXT NOT NULL, deposit_id TEXT NOT NULL, amount BIGINT NOT NULL,"
        " at TEXT NOT NULL, at_us BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {credits}_by_player ON {credits} (player_id, at_us)",
        "CREATE TABLE IF NOT EXISTS {locks} (position BIGINT PRIMARY KEY,"
        " player_id TEXT NOT NULL, withdrawal_id TEXT NOT NULL, amount BIGINT NOT NULL,"
        " at TEXT NOT NULL, at_us BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {locks}_by_player ON {locks} (player_id, position)",
    ]

    def handlers(self) -> dict[str, Handler]:
        # Counters only: a commutative merge, one statement per batch.
        count = Merge(self.t("velocity"), ("player_id", "hour"), _COUNTERS, insert=True)
        credits, locks = self.t("credits"), self.t("locks")
        credit = ("position", "player_id", "deposit_id", "amount", "at", "at_us")
        lock = ("position", "player_id", "withdrawal_id", "amount", "at", "at_us")

        def counted(w: Writes, e: Any, **deltas: int) -> None:
            row = [deltas.get(c, 0) for c in _COUNTERS]
            w.merge(count, (e.player_id, hour_of(e.timestamp)), row, ())

        def on_draw(w: Writes, e: Any, _: int) -> None:
            counted(w, e, draw_requests=1, draws=len(e.results))

        def on_deposit_requested(w: Writes, e: Any, _: int) -> None:
            counted(w, e, deposits_requested=1)

        def on_credited(w: Writes, e: Any, position: int) -> None:
            counted(w, e, deposits_credited=1, deposited=e.amount_minor)
            at = e.timestamp
            w.insert(
                credits,
                credit,
                position,
                e.player_id,
                e.deposit_id,
                e.amount_minor,
                iso(at),
                micros(at),
            )

        def on_locked(w: Writes, e: Any, position: int) -> None:
            at = e.timestamp
            w.insert(
                locks,
                lock,
                position,
                e.player_id,
                e.withdrawal_id,
                e.amount_minor,
                iso(at),
                micros(at),
            )

        return {
            "Draw.Executed": on_draw,
            "Deposit.Requested": on_deposit_requested,
            "Wallet.DepositCredited": on_credited,
            "Wallet.FundsLocked": on_locked,
        }
