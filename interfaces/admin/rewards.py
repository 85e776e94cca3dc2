"""The reward centre for operators: missions (read here; created, changed and retired through
change requests — ``POST /changes`` with kind ``mission.create|change|retire``, target the
mission's key, If-Match the ETag of ``GET /missions/{key}`` for changes), the marketing budget
(usage; funding and taking back need ``pools.write`` and a fresh TOTP code), and the grants and
refusals reports (``finance.read``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Response

from application.missions import MissionView
from application.rewards import BudgetView
from domain.changes import ChangeKind
from infrastructure.bootstrap import System
from interfaces.admin.security import Staff
from interfaces.problems import ApiError

__all__ = ["router"]

MISSION_KEY = PathParameter(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="the mission's key")
Amount = Annotated[int, msgspec.Meta(ge=1, le=10**15)]
Cursor = Annotated[str | None, QueryParameter(max_length=32)]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
READ = {"permission": "pools.read"}
REPORTS = {"permission": "finance.read"}
# The budget is money the house lets the reward centre pay out: a fresh TOTP code as well.
MONEY = {"permission": "pools.write", "step_up": True}


class MissionOut(msgspec.Struct, frozen=True):
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
    revision: str | None = None  # the ETag (one mission only): If-Match for mission.change


class BudgetOut(msgspec.Struct, frozen=True):
    account: str
    currency: str
    funded: int
    spent: int
    remaining: int
    grants: int
    refusals: int


class SourceOut(msgspec.Struct, frozen=True):
    source: str  # a mission's key, signup or referral
    grants: int
    amount: int
    refusals: int


class UsageOut(msgspec.Struct, frozen=True):
    budget: BudgetOut  # as the ledger has it now
    by_source: list[SourceOut]  # from the rewards read model


class AmountBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount_minor: Amount
    reason: str = ""


class GrantOut(msgspec.Struct, frozen=True):
    grant_id: str
    player_id: str
    source: str
    period: str
    reward_kind: str
    amount: int
    currency: str
    actor: str
    at: str


class RefusalOut(msgspec.Struct, frozen=True):
    grant_id: str
    player_id: str
    source: str
    period: str
    amount: int
    currency: str
    reason: str  # budget_exhausted, account_frozen
    actor: str
    at: str


class GrantPage(msgspec.Struct, frozen=True):
    rows: list[GrantOut]
    next_cursor: str | None


class RefusalPage(msgspec.Struct, frozen=True):
    rows: list[RefusalOut]
    next_cursor: str | None


def _budget_out(b: BudgetView) -> BudgetOut:
    return BudgetOut(b.account, b.currency, b.funded, b.spent, b.remaining, b.grants, b.refusals)


def _mission_out(m: MissionView, revision: str) -> MissionOut:
    return MissionOut(
        m.mission_key,
        m.title,
        m.kind,
        m.target,
        m.cadence,
        m.award,
        m.reward_kind,
        m.reward_minor,
        m.starts_at.isoformat() if m.starts_at else None,
        m.ends_at.isoformat() if m.ends_at else None,
        m.retired,
        revision,
    )


@get("/missions", sync_to_thread=True, opt=READ)
def missions(state: State, retired: Annotated[bool, QueryParameter()] = True) -> list[MissionOut]:
    """Every mission (``retired=false``: only those not retired), by key (the read model)."""
    return [
        MissionOut(
            r.mission_key,
            r.title,
            r.kind,
            r.target,
            r.cadence,
            r.award,
            r.reward_kind,
            r.reward_minor,
            r.starts_at,
            r.ends_at,
            r.retired,
        )
        for r in state.system.read_models.missions(include_retired=retired)
    ]


@get("/missions/{mission_key:str}", sync_to_thread=True, opt=READ)
def mission(state: State, mission_key: Annotated[str, MISSION_KEY]) -> Response[MissionOut]:
    """One mission as the ledger has it now. The ETag is its revision: draft a
    ``mission.change`` or ``mission.retire`` with it as If-Match."""
    system: System = state.system
    view = system.missions.get(mission_key)
    revision = system.changes.revision(ChangeKind.MISSION_CHANGE, mission_key)
    return Response(_mission_out(view, revision), headers={"ETag": f'"{revision}"'})


@get("/rewards/budget", sync_to_thread=True, opt=REPORTS)
def budget(state: State) -> UsageOut:
    """The marketing budget (funded, spent, remaining, grants, refusals) and what each mission,
    the signup and the referral bonus paid from it."""
    system: System = state.system
    totals = [
        SourceOut(t.source, t.grants, t.amount, t.refusals)
        for t in system.read_models.reward_totals()
    ]
    return UsageOut(_budget_out(system.rewards.budget()), totals)


@post("/rewards/budget/fund", sync_to_thread=True, status_code=200, opt=MONEY)
def fund(state: State, caller: Staff, data: JSONBody[AmountBody]) -> BudgetOut:
    """Add to the marketing budget that grants are paid from (step-up)."""
    return _budget_out(
        state.system.rewards.fund_budget(data.amount_minor, caller.cause(data.reason))
    )


@post("/rewards/budget/defund", sync_to_thread=True, status_code=200, opt=MONEY)
def defund(state: State, caller: Staff, data: JSONBody[AmountBody]) -> BudgetOut:
    """Take unspent budget back (never more than remains; step-up)."""
    return _budget_out(
        state.system.rewards.defund_budget(data.amount_minor, caller.cause(data.reason))
    )


@get("/rewards/grants", sync_to_thread=True, opt=REPORTS)
def grants(
    state: State,
    cursor: Cursor = None,
    limit: Limit = 50,
    player: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> GrantPage:
    """Grants paid (mission, signup, referral), newest first; ``player`` narrows to one."""
    try:
        page = state.system.read_models.reward_grants(cursor, limit, player)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    rows = [
        GrantOut(r.grant_id, r.player_id, r.source, r.period, r.reward_kind, r.amount,
                 r.currency, r.actor, r.at)
        for r in page.rows
    ]  # fmt: skip
    return GrantPage(rows, page.next_cursor)


@get("/rewards/refusals", sync_to_thread=True, opt=REPORTS)
def refusals(state: State, cursor: Cursor = None, limit: Limit = 50) -> RefusalPage:
    """Grants that could not be paid (the budget ran out, a frozen wallet), newest first. The
    player may claim them once the budget is funded again."""
    try:
        page = state.system.read_models.reward_refusals(cursor, limit)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    rows = [
        RefusalOut(r.grant_id, r.player_id, r.source, r.period, r.amount, r.currency, r.reason,
                   r.actor, r.at)
        for r in page.rows
    ]  # fmt: skip
    return RefusalPage(rows, page.next_cursor)


router = Router(
    "/",
    route_handlers=[missions, mission, budget, fund, defund, grants, refusals],
    tags=["reward centre"],
)
