"""The reward centre's money side: the marketing budget, the grants it pays, daily check-ins.

* ``RewardBudget``: how much the house lets the reward centre pay from ``house:marketing``.
  Operators fund it (and may take unspent budget back); every grant spends from it, and a grant
  that would overdraw it is refused (``budget_exhausted``) and the refusal recorded, so
  operators see it. The budget is a spending limit, not money: its events post nothing. The
  money moves in the wallet's event of the same save (``Wallet.credit_reward``: from
  ``house:marketing`` to the player's bonus or available balance).
* ``RewardGrant``: one stream per (player, source, period) — ``ids.grant_id`` — so a mission,
  the signup bonus or a referral pays at most once per period however often it is asked for
  (a projector replaying from the start asks again; the event store refuses a second stream).
* ``DailyCheckIn``: one stream per player and UTC day, so a player checks in once a day.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, InvalidArgument
from domain.missions import RewardKind, day_of
from domain.money import check_currency_code, check_positive_amount

__all__ = [
    "MARKETING",
    "AlreadyCheckedIn",
    "BudgetExhausted",
    "DailyCheckIn",
    "RewardBudget",
    "RewardGrant",
    "referral_code",
]

MARKETING = "house:marketing"
MAX_SOURCE = 100
MAX_PERIOD = 100


class BudgetExhausted(DomainError):
    code = "budget_exhausted"


class AlreadyCheckedIn(DomainError):
    code = "already_checked_in"


def referral_code(player_id: str) -> str:
    """A short code a player hands out instead of their player id (which it does not reveal)."""
    digest = hashlib.sha256(f"referral|{player_id}".encode()).digest()
    return base64.b32encode(digest[:5]).decode().lower()


class RewardBudget(Aggregate):
    """The marketing budget of the reward centre, for one account (``house:marketing``)."""

    @staticmethod
    def create_id(account: str, **_: Any) -> UUID:
        return ids.reward_budget_id(account)

    @classmethod
    def open(cls, currency: str, cause: Cause, account: str = MARKETING) -> RewardBudget:
        check_currency_code(currency)
        return cls(
            account=account, currency=currency, actor=cause.actor, request_id=cause.request_id
        )

    @event("Opened")
    def __init__(self, account: str, currency: str, actor: str, request_id: str) -> None:
        self.account = account
        self.currency = currency
        self.funded = 0  # net of what operators took back
        self.spent = 0
        self.grants = 0
        self.refusals = 0

    @property
    def remaining(self) -> int:
        return self.funded - self.spent

    def fund(self, amount_minor: int, cause: Cause) -> None:
        """An operator adds to the budget."""
        self._check_operator(cause)
        check_positive_amount(amount_minor)
        self._funded(
            amount_minor=amount_minor,
            currency=self.currency,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Funded")
    def _funded(self, amount_minor: int, currency: str, actor: str, request_id: str) -> None:
        self.funded += amount_minor

    def defund(self, amount_minor: int, cause: Cause) -> None:
        """An operator takes unspent budget back (never more than remains)."""
        self._check_operator(cause)
        check_positive_amount(amount_minor)
        self.check_covers(amount_minor)
        self._defunded(
            amount_minor=amount_minor,
            currency=self.currency,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Defunded")
    def _defunded(self, amount_minor: int, currency: str, actor: str, request_id: str) -> None:
        self.funded -= amount_minor

    def check_covers(self, amount_minor: int) -> None:
        if amount_minor > self.remaining:
            raise BudgetExhausted(
                f"the marketing budget has {self.remaining} left, {amount_minor} needed"
            )

    def spend(
        self, grant_id: str, player_id: str, source: str, amount_minor: int, cause: Cause
    ) -> None:
        """Pay a grant from the budget (the wallet's credit moves the money)."""
        check_positive_amount(amount_minor)
        self.check_covers(amount_minor)
        self._spent(
            grant_id=grant_id,
            player_id=player_id,
            source=source,
            amount_minor=amount_minor,
            currency=self.currency,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Spent")
    def _spent(
        self,
        grant_id: str,
        player_id: str,
        source: str,
        amount_minor: int,
        currency: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.spent += amount_minor
        self.grants += 1

    def note_refused_grant(
        self,
        grant_id: str,
        player_id: str,
        source: str,
        period: str,
        amount_minor: int,
        reason: str,
        cause: Cause,
    ) -> None:
        """A grant that could not be paid (the budget ran out, the wallet is frozen…): kept
        for operators, and it lets the player claim the reward later. Moves nothing."""
        if not reason:
            raise InvalidArgument("a refused grant needs a reason")
        self._grant_refused(
            grant_id=grant_id,
            player_id=player_id,
            source=source,
            period=period,
            amount_minor=amount_minor,
            currency=self.currency,
            reason=reason,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("GrantRefused")
    def _grant_refused(
        self,
        grant_id: str,
        player_id: str,
        source: str,
        period: str,
        amount_minor: int,
        currency: str,
        reason: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.refusals += 1

    @staticmethod
    def _check_operator(cause: Cause) -> None:
        if not cause.is_operator:
            raise InvalidArgument("only an operator can change the marketing budget")


class RewardGrant(Aggregate):
    """A reward paid to a player: once per (player, source, period). ``source`` is a mission
    key, ``signup`` or ``referral`` (then ``period`` is the referred player's id)."""

    @staticmethod
    def create_id(player_id: str, source: str, period: str, **_: Any) -> UUID:
        return ids.grant_id(player_id, source, period)

    @classmethod
    def make(
        cls,
        player_id: str,
        source: str,
        period: str,
        reward_kind: RewardKind,
        amount_minor: int,
        currency: str,
        at: datetime,
        cause: Cause,
    ) -> RewardGrant:
        if not player_id or not 0 < len(source) <= MAX_SOURCE or not 0 < len(period) <= MAX_PERIOD:
            raise InvalidArgument("a grant names its player, source and period")
        check_positive_amount(amount_minor)
        check_currency_code(currency)
        return cls(
            player_id=player_id,
            source=source,
            period=period,
            reward_kind=RewardKind(reward_kind).value,
            amount_minor=amount_minor,
            currency=currency,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Granted")
    def __init__(
        self,
        player_id: str,
        source: str,
        period: str,
        reward_kind: str,
        amount_minor: int,
        currency: str,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        self.player_id = player_id
        self.source = source
        self.period = period
        self.reward_kind = reward_kind
        self.amount_minor = amount_minor
        self.currency = currency
        self.granted_at = at


class DailyCheckIn(Aggregate):
    """A player's check-in on one UTC day (``ids.check_in_id``): the stream exists at most once."""

    @staticmethod
    def create_id(player_id: str, day: str, **_: Any) -> UUID:
        return ids.check_in_id(player_id, day)

    @classmethod
    def record(cls, player_id: str, at: datetime, cause: Cause) -> DailyCheckIn:
        if not player_id:
            raise InvalidArgument("a check-in names its player")
        return cls(
            player_id=player_id,
            day=day_of(at),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Recorded")
    def __init__(self, player_id: str, day: str, at: datetime, actor: str, request_id: str) -> None:
        self.player_id = player_id
        self.day = day
        self.at = at
