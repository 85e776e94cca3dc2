"""The reward centre for players: missions with progress, claims, daily check-ins, referrals.

Progress is counted by the rewards read model a moment after it happens (draws, deposits,
check-ins, TOTP); rewards granted automatically arrive shortly after a mission completes.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import PathParameter

from application.rewards import CheckInView, GrantOutcome
from domain.cause import Cause
from domain.errors import DomainError
from domain.rewards import referral_code
from infrastructure.bootstrap import System
from interfaces.player.security import MoneyKey, SignedIn

__all__ = ["SHOWN", "router"]

SOURCE = PathParameter(
    pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
    description="a mission's key, or signup / referral",
)
# Rows a player sees besides this period's missions: what waits for them and what was paid.
SHOWN = ("waiting", "due", "claimable", "granted", "refused")


class MissionOut(msgspec.Struct, frozen=True):
    mission_key: str
    title: str
    kind: str
    cadence: str  # one_time | daily (UTC days)
    award: str  # auto | claim
    reward_kind: str  # bonus | cash
    reward_minor: int
    target: int
    period: str  # "once" or today's UTC date
    progress: int
    state: str  # open | due (being granted) | claimable | granted
    ends_at: str | None


class RewardOut(msgspec.Struct, frozen=True):
    source: str  # a mission's key, "signup" or "referral"
    period: str  # "once", a UTC date, or (referral) the referred player's id
    state: str  # waiting | due | claimable | granted | refused
    reward_kind: str
    reward_minor: int
    refusal: str | None  # why it was not paid (budget_exhausted, shared_device_or_ip, …)
    completed_at: str | None
    granted_at: str | None


class RewardsOut(msgspec.Struct, frozen=True):
    referral_code: str  # give it to a friend: it is their `referrer` at registration
    missions: list[MissionOut]
    rewards: list[RewardOut]


class GrantOut(msgspec.Struct, frozen=True):
    grant_id: str
    source: str
    period: str
    state: str
    reward_kind: str
    amount_minor: int
    currency: str


class CheckInOut(msgspec.Struct, frozen=True):
    day: str


class GrantRefused(DomainError):
    """A claim the budget (or a freeze) refused: the refusal's code, nothing paid."""

    def __init__(self, outcome: GrantOutcome) -> None:
        super().__init__(f"the reward was not paid: {outcome.reason} (grant {outcome.grant_id})")
        self.code = outcome.reason or "grant_refused"


@get("/rewards", sync_to_thread=True)
def rewards(state: State, caller: SignedIn) -> RewardsOut:
    """The missions open now with your progress in this period, what is waiting, claimable or
    paid, and your referral code."""
    system: System = state.system
    reads = system.read_models
    missions = [
        MissionOut(
            mission_key=r.mission.mission_key,
            title=r.mission.title,
            kind=r.mission.kind,
            cadence=r.mission.cadence,
            award=r.mission.award,
            reward_kind=r.mission.reward_kind,
            reward_minor=r.mission.reward_minor,
            target=r.mission.target,
            period=r.period,
            progress=r.progress,
            state=r.state,
            ends_at=r.mission.ends_at,
        )
        for r in reads.player_rewards(caller.player_id, system.clock())
    ]
    rows = [
        RewardOut(
            r.source,
            r.period,
            r.state,
            r.reward_kind,
            r.reward_minor,
            r.refusal,
            r.completed_at,
            r.granted_at,
        )
        for r in reads.reward_rows(caller.player_id, SHOWN)
    ]
    return RewardsOut(referral_code(caller.player_id), missions, rows)


@post("/rewards/{source:str}/claim", sync_to_thread=True, status_code=201)
def claim(
    state: State,
    caller: SignedIn,
    idempotency: MoneyKey,
    source: Annotated[str, SOURCE],
) -> GrantOut:
    """Claim a completed reward (the oldest claimable period of this mission). Retrying with
    the same Idempotency-Key returns the same outcome. 409 ``nothing_to_claim`` when nothing is
    claimable (yet); 422 ``budget_exhausted`` when the marketing budget cannot pay it now (claim
    again later)."""
    cause = Cause(caller.actor, idempotency.value)
    outcome = state.system.rewards.claim(caller.player_id, source, cause)
    if outcome.state != "granted":
        raise GrantRefused(outcome)
    return GrantOut(
        outcome.grant_id,
        outcome.source,
        outcome.period,
        outcome.state,
        outcome.reward_kind,
        outcome.amount_minor,
        outcome.currency,
    )


@post("/rewards/check-in", sync_to_thread=True, status_code=201)
def check_in(state: State, caller: SignedIn, idempotency: MoneyKey) -> CheckInOut:
    """Today's check-in (UTC day; counts for daily check-in missions). A second check-in the
    same day is 409 ``already_checked_in``."""
    view: CheckInView = state.system.rewards.check_in(
        caller.player_id, Cause(caller.actor, idempotency.value)
    )
    return CheckInOut(view.day)


router = Router("/", route_handlers=[rewards, claim, check_in], tags=["rewards"])
