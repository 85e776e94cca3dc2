"""Reward centre use cases: the marketing budget, grants, claims and daily check-ins, and the
acting half of the rewards process manager (``RewardGranter``).

A grant saves in one transaction: the ``RewardGrant`` (its id derived from player, source and
period, so it happens at most once), the budget's ``Spent`` and the wallet's credit (postings
from ``house:marketing``). A grant the budget cannot cover, or for a wallet frozen for play, is
refused: the budget records ``GrantRefused`` (operators see it; the player may claim it later)
and nothing moves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import ConcurrencyConflict
from domain import ids
from domain.cause import Cause
from domain.errors import DomainError
from domain.missions import RESERVED_SOURCES, Mission, RewardKind, day_of
from domain.rewards import MARKETING, AlreadyCheckedIn, DailyCheckIn, RewardBudget, RewardGrant
from domain.wallet import Balance, Wallet

__all__ = [
    "GRANTER_ACTOR",
    "BudgetView",
    "CheckInView",
    "GrantOutcome",
    "NothingToClaim",
    "RewardGranter",
    "RewardProgress",
    "RewardRecord",
    "Rewards",
]

log = logging.getLogger(__name__)
GRANTER_ACTOR = "system:rewards"


class NothingToClaim(DomainError):
    """Nothing of this mission is claimable (yet: progress is counted a moment after it
    happens). Not stored, so the same request may succeed once it is claimable."""

    recorded = False
    code = "nothing_to_claim"


class RewardRecord(Protocol):
    """A completed reward as the rewards read model knows it."""

    @property
    def player_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def reward_minor(self) -> int: ...


class RewardProgress(Protocol):
    """The port to the rewards read model (``projections.reads.rewards``)."""

    def claimable_rewards(self, player_id: str, source: str) -> Sequence[RewardRecord]:
        """What the player may claim from ``source``, oldest first."""
        ...

    def due_rewards(self, limit: int) -> Sequence[RewardRecord]:
        """Completed auto-award rewards not yet granted or refused, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class GrantOutcome:
    grant_id: str
    player_id: str
    source: str
    period: str
    state: str  # granted | refused
    reward_kind: str
    amount_minor: int
    currency: str
    reason: str | None = None  # the refusal's code

    @classmethod
    def of(cls, grant: RewardGrant) -> GrantOutcome:
        return cls(
            str(grant.id),
            grant.player_id,
            grant.source,
            grant.period,
            "granted",
            grant.reward_kind,
            grant.amount_minor,
            grant.currency,
        )


@dataclass(frozen=True, slots=True)
class BudgetView:
    account: str
    currency: str
    funded: int
    spent: int
    remaining: int
    grants: int
    refusals: int
    version: int

    @classmethod
    def of(cls, budget: RewardBudget) -> BudgetView:
        return cls(
            budget.account,
            budget.currency,
            budget.funded,
            budget.spent,
            budget.remaining,
            budget.grants,
            budget.refusals,
            budget.version,
        )


@dataclass(frozen=True, slots=True)
class CheckInView:
    player_id: str
    day: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Terms:
    reward_kind: RewardKind
    amount_minor: int


class Rewards:
    def __init__(
        self, commands: Commands, clock: Clock, currency: str, progress: RewardProgress
    ) -> None:
        self._commands = commands
        self._clock = clock
        self._currency = currency
        self._progress = progress
        self._budget_id = ids.reward_budget_id(MARKETING)

    # ---- the budget ----------------------------------------------------------------------------

    def budget(self) -> BudgetView:
        """The marketing budget now (empty until an operator first funds it)."""
        budget = Unit(self._commands.ledger).find(RewardBudget, self._budget_id)
        if budget is None:
            return BudgetView(MARKETING, self._currency, 0, 0, 0, 0, 0, 0)
        return BudgetView.of(budget)

    def fund_budget(self, amount_minor: int, cause: Cause) -> BudgetView:
        """An operator adds to the marketing budget (a step-up action)."""
        return self._on_budget("fund_reward_budget", amount_minor, cause, RewardBudget.fund)

    def defund_budget(self, amount_minor: int, cause: Cause) -> BudgetView:
        """An operator takes unspent budget back."""
        return self._on_budget("defund_reward_budget", amount_minor, cause, RewardBudget.defund)

    def _on_budget(
        self,
        command: str,
        amount_minor: int,
        cause: Cause,
        act: Callable[[RewardBudget, int, Cause], None],
    ) -> BudgetView:
        def decide(unit: Unit) -> BudgetView:
            budget = self._budget(unit, cause)
            act(budget, amount_minor, cause)
            return BudgetView.of(budget)

        return self._commands.execute(command, cause, {"amount": amount_minor}, decide, BudgetView)

    # ---- grants --------------------------------------------------------------------------------

    def grant(self, reward: RewardRecord, cause: Cause) -> GrantOutcome:
        """Pay a completed reward (a mission's period, the signup bonus, a referral) once."""
        params = {"player": reward.player_id, "source": reward.source, "period": reward.period}
        return self._commands.execute(
            "grant_reward",
            cause,
            params,
            lambda unit: self._grant(unit, reward, cause),
            GrantOutcome,
        )

    def claim(self, player_id: str, source: str, cause: Cause) -> GrantOutcome:
        """The player claims a completed reward (the oldest claimable period of ``source``)."""

        def decide(unit: Unit) -> GrantOutcome:
            claimable = self._progress.claimable_rewards(player_id, source)
            if not claimable:
                raise NothingToClaim(f"nothing of {source!r} is claimable")
            return self._grant(unit, claimable[0], cause)

        params = {"player": player_id, "source": source}
        return self._commands.execute("claim_reward", cause, params, decide, GrantOutcome)

    def _grant(self, unit: Unit, reward: RewardRecord, cause: Cause) -> GrantOutcome:
        player_id, source, period = reward.player_id, reward.source, reward.period
        grant_id = ids.grant_id(player_id, source, period)
        existing = unit.find(RewardGrant, grant_id)
        if existing is not None:  # asked again (a replay, a retry): paid once already
            return GrantOutcome.of(existing)
        terms = self._terms(unit, reward)
        budget = self._budget(unit, cause)
        wallet = unit.get(Wallet, ids.wallet_id(player_id))
        try:
            budget.check_covers(terms.amount_minor)
            wallet.check_can_receive_reward()
        except DomainError as refusal:
            budget.note_refused_grant(
                str(grant_id), player_id, source, period, terms.amount_minor, refusal.code, cause
            )
            return GrantOutcome(
                str(grant_id),
                player_id,
                source,
                period,
                "refused",
                terms.reward_kind.value,
                terms.amount_minor,
                budget.currency,
                refusal.code,
            )
        budget.spend(str(grant_id), player_id, source, terms.amount_minor, cause)
        balance = Balance.BONUS if terms.reward_kind is RewardKind.BONUS else Balance.AVAILABLE
        wallet.credit_reward(balance, terms.amount_minor, f"grant:{grant_id}", cause)
        grant = RewardGrant.make(
            player_id,
            source,
            period,
            terms.reward_kind,
            terms.amount_minor,
            budget.currency,
            self._clock(),
            cause,
        )
        unit.add(grant)
        return GrantOutcome.of(grant)

    def _terms(self, unit: Unit, reward: RewardRecord) -> _Terms:
        """A mission pays what its terms say now; the signup and referral bonuses pay what was
        offered when the player registered (the event the read model took them from)."""
        if reward.source in RESERVED_SOURCES:
            return _Terms(RewardKind.BONUS, reward.reward_minor)
        terms = unit.get(Mission, ids.mission_id(reward.source)).terms
        return _Terms(terms.reward_kind, terms.reward_minor)

    def _budget(self, unit: Unit, cause: Cause) -> RewardBudget:
        budget = unit.find(RewardBudget, self._budget_id)
        if budget is None:
            budget = RewardBudget.open(self._currency, cause)
            unit.add(budget)
        return budget

    # ---- check-ins -----------------------------------------------------------------------------

    def check_in(self, player_id: str, cause: Cause) -> CheckInView:
        """Today's check-in (UTC day); a second one the same day is refused."""

        def decide(unit: Unit) -> CheckInView:
            at = self._clock()
            unit.get(Wallet, ids.wallet_id(player_id))  # only a player checks in
            if unit.find(DailyCheckIn, ids.check_in_id(player_id, day_of(at))) is not None:
                raise AlreadyCheckedIn(f"already checked in on {day_of(at)}")
            check_in = DailyCheckIn.record(player_id, at, cause)
            unit.add(check_in)
            return CheckInView(player_id, check_in.day, at)

        return self._commands.execute("check_in", cause, {"player": player_id}, decide, CheckInView)


class RewardGranter:
    """The acting half of the rewards process manager: grants what the read model says is due.

    Each grant runs with the request id ``grant:{grant id}``, so asking again (the row is still
    due until the projection sees the grant, or the projection was replayed) replays the first
    outcome instead of paying twice. Safe to run in several processes at once."""

    def __init__(
        self, rewards: Rewards, progress: RewardProgress, poll_s: float = 1.0, batch: int = 100
    ) -> None:
        self._rewards = rewards
        self._progress = progress
        self._poll_s = poll_s
        self._batch = batch

    def issue_due(self) -> int:
        """Grant every due reward once; returns how many were due."""
        due = self._progress.due_rewards(self._batch)
        for reward in due:
            grant_id = ids.grant_id(reward.player_id, reward.source, reward.period)
            try:
                self._rewards.grant(reward, Cause(GRANTER_ACTOR, f"grant:{grant_id}"))
            except (DomainError, ConcurrencyConflict) as error:  # stays due: tried again
                log.warning("grant %s not made yet: %s", grant_id, error)
        return len(due)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set. Never raises: a store that is down is tried again."""
        while not stop.is_set():
            try:
                busy = self.issue_due() >= self._batch
            except Exception as error:
                log.warning("reward granter: %s", error)
                busy = False
            if not busy:
                stop.wait(self._poll_s)
