"""Deterministic ids: the same request always maps to the same stream, so a retry can't fork."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

__all__ = [
    "LEDGER_NAMESPACE",
    "account_id",
    "check_in_id",
    "deposit_id",
    "draw_id",
    "grant_id",
    "mission_id",
    "operator_id",
    "operator_roster_id",
    "payout_methods_id",
    "pool_id",
    "receipt_id",
    "reward_budget_id",
    "wallet_id",
    "withdrawal_id",
]

LEDGER_NAMESPACE = UUID("6f1c1f52-6b9f-4d3e-9a55-2f0d7f4e8a10")


def _id(kind: str, *parts: str) -> UUID:
    # "|" cannot appear inside the parts' meaning without being escaped, so joins are unambiguous
    # only if parts never contain it; ids validated at the edge never do, and escaping makes sure.
    return uuid5(LEDGER_NAMESPACE, "|".join([kind, *(p.replace("|", "||") for p in parts)]))


def account_id(email: str) -> UUID:
    """One stream per e-mail address (case and surrounding blanks ignored): a second
    registration of the same address collides with the first stream in the event store."""
    return _id("account", email.strip().lower())


def operator_id(email: str) -> UUID:
    """One stream per operator e-mail address (normalised like ``account_id``): an address is
    created once. A namespace of its own, so an operator and a player may share an address."""
    return _id("operator", email.strip().lower())


def operator_roster_id() -> UUID:
    """The one stream listing every operator."""
    return _id("operator_roster")


def wallet_id(player_id: str) -> UUID:
    return _id("wallet", player_id)


def deposit_id(player_id: str, request_id: str) -> UUID:
    return _id("deposit", player_id, request_id)


def withdrawal_id(player_id: str, request_id: str) -> UUID:
    return _id("withdrawal", player_id, request_id)


def receipt_id(actor: str, request_id: str) -> UUID:
    return _id("receipt", actor, request_id)


def payout_methods_id(player_id: str) -> UUID:
    return _id("payout_methods", player_id)


def pool_id(pool_key: str) -> UUID:
    return _id("pool", pool_key)


@lru_cache(maxsize=8_192)
def draw_id(player_id: str, request_id: str) -> UUID:
    # Cached: the draw path asks for the same id several times per request (request, decision,
    # the Draw's own stream id) and uuid5 is a SHA-1 each time.
    return _id("draw", player_id, request_id)


def mission_id(mission_key: str) -> UUID:
    return _id("mission", mission_key)


def reward_budget_id(account: str) -> UUID:
    """The reward centre's budget over a house account (``house:marketing``)."""
    return _id("reward_budget", account)


def grant_id(player_id: str, source: str, period: str) -> UUID:
    """A reward paid to a player once per period: a mission key (or ``signup``, ``referral``)
    and its period (``once``, a UTC day, or the referred player's id)."""
    return _id("grant", player_id, source, period)


def check_in_id(player_id: str, day: str) -> UUID:
    return _id("check_in", player_id, day)
