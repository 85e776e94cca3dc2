"""Change requests (maker-checker) for pools, prizes and runtime settings.

A draft is dry-run against a copy of its target, so it can only propose what the target's own
rules accept; its preview (diff, and for pools the odds before and after) is computed the same
way, on copies that are never saved. Publishing applies the change through the pool's or the
config's own commands in ONE save together with the request's ``Published`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.commands import Commands, Unit
from application.config import Config
from application.errors import NotFound
from application.missions import apply_mission_change, mission_revision, simulate_mission_change
from application.pools import PoolOdds, Pools
from domain import ids
from domain.cause import Cause
from domain.changes import (
    ChangeEmpty,
    ChangeKind,
    ChangeRequest,
    ChangeState,
    PreconditionFailed,
    PreconditionRequired,
    diff,
)
from domain.errors import DomainError, InvalidArgument
from domain.missions import Mission
from domain.pool import PrizePool
from domain.pool_changes import apply_to_pool, describe_pool, parse_pool_create, pool_revision

__all__ = ["ChangePreview", "ChangeView", "Changes"]

# Previews create pools that are never saved; they need a seed of the right shape, not a secret.
PREVIEW_SEED = "preview-only-never-saved-" + "0" * 32
_OPEN = {ChangeState.DRAFT.value, ChangeState.SUBMITTED.value, ChangeState.APPROVED.value}


@dataclass(frozen=True, slots=True)
class ChangeView:
    change_id: str
    kind: str
    target: str
    payload: dict[str, Any]
    base_version: str
    state: str
    maker: str
    reason: str
    approver: str | None
    publisher: str | None
    closed_by: str | None
    closing_reason: str | None
    version: int

    @classmethod
    def of(cls, change: ChangeRequest) -> ChangeView:
        return cls(
            change_id=str(change.id),
            kind=change.kind,
            target=change.target,
            payload=dict(change.payload),
            base_version=change.base_version,
            state=change.state,
            maker=change.maker,
            reason=change.reason,
            approver=change.approver,
            publisher=change.publisher,
            closed_by=change.closed_by,
            closing_reason=change.closing_reason,
            version=change.version,
        )


@dataclass(frozen=True, slots=True)
class ChangePreview:
    """What publishing would do now: ``diff`` against the current target, and for pools the
    odds of the next draw (for a new player) before and after. ``problem`` is why the change
    would be refused now (it is then not publishable as it stands)."""

    change: ChangeView
    current_version: str
    stale: bool
    diff: list[dict[str, Any]]
    odds_before: PoolOdds | None
    odds_after: PoolOdds | None
    problem: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class _Simulation:
    before: dict[str, Any]
    after: dict[str, Any]
    pool_before: PrizePool | None
    pool_after: PrizePool | None


class Changes:
    def __init__(self, commands: Commands, pools: Pools, config: Config) -> None:
        self._commands = commands
        self._pools = pools
        self._config = config

    # ---- commands ------------------------------------------------------------------------------

    def draft(
        self,
        kind: str,
        target: str,
        payload: dict[str, Any],
        if_match: str | None,
        cause: Cause,
    ) -> ChangeView:
        """Propose a change. Edits of something that exists need ``if_match``, the target's
        current revision (its ETag); a draft is refused unless it applies to the target now."""
        change_kind = ChangeKind.parse(kind)

        def decide(unit: Unit) -> ChangeView:
            scratch = Unit(self._commands.ledger)
            current = self._revision_in(scratch, change_kind, target)
            if change_kind.edits_existing:
                if if_match is None:
                    raise PreconditionRequired(
                        f"send If-Match with the ETag of {target} (GET it first)"
                    )
                if if_match != current:
                    raise PreconditionFailed(
                        f"{target} is at {current}, not {if_match}: GET it again and redraft"
                    )
            outcome = self._simulate(scratch, change_kind, target, payload, cause)
            if not diff(outcome.before, outcome.after):
                raise ChangeEmpty(f"this change would leave {target} as it is")
            change = ChangeRequest.draft(change_kind, target, payload, current, cause)
            unit.add(change)
            return ChangeView.of(change)

        params = {"kind": kind, "target": target, "payload": payload, "if_match": if_match}
        return self._commands.execute("draft_change", cause, params, decide, ChangeView)

    def _on_change(
        self,
        name: str,
        change_id: UUID,
        cause: Cause,
        act: Callable[[ChangeRequest, str], None],
    ) -> ChangeView:
        """Load the request, let ``act`` decide with the target's current revision, save."""

        def decide(unit: Unit) -> ChangeView:
            change = self._load(unit, change_id)
            scratch = Unit(self._commands.ledger)  # read only: the target is not saved here
            act(change, self._revision_in(scratch, change.change_kind, change.target))
            return ChangeView.of(change)

        params = {"change": str(change_id)}
        return self._commands.execute(name, cause, params, decide, ChangeView)

    def submit(self, change_id: UUID, cause: Cause) -> ChangeView:
        """The maker asks for approval."""
        return self._on_change("submit_change", change_id, cause, lambda c, _: c.submit(cause))

    def approve(self, change_id: UUID, cause: Cause) -> ChangeView:
        """Another operator approves, while the target is as drafted."""
        return self._on_change(
            "approve_change", change_id, cause, lambda c, current: c.approve(current, cause)
        )

    def reject(self, change_id: UUID, cause: Cause) -> ChangeView:
        """Refuse the change (``cause.reason`` says why)."""
        return self._on_change("reject_change", change_id, cause, lambda c, _: c.reject(cause))

    def withdraw(self, change_id: UUID, cause: Cause) -> ChangeView:
        """The maker takes the request back."""
        return self._on_change("withdraw_change", change_id, cause, lambda c, _: c.withdraw(cause))

    def publish(self, change_id: UUID, cause: Cause) -> ChangeView:
        """Apply the approved change and mark it published, in one save; refused as stale if
        the target changed since the draft."""

        def decide(unit: Unit) -> ChangeView:
            change = self._load(unit, change_id)
            kind = change.change_kind
            change.publish(self._revision_in(unit, kind, change.target), cause)
            self._apply_in(unit, change, cause)
            return ChangeView.of(change)

        published = self._commands.execute(
            "publish_change", cause, {"change": str(change_id)}, decide, ChangeView
        )
        self._config.forget()
        return published

    # ---- queries -------------------------------------------------------------------------------

    def get(self, change_id: UUID) -> ChangeView:
        return ChangeView.of(self._load(Unit(self._commands.ledger), change_id))

    def revision(self, kind: ChangeKind, target: str) -> str:
        """The target's current revision: the ETag to send as If-Match when drafting."""
        return self._revision_in(Unit(self._commands.ledger), kind, target)

    def preview(self, change_id: UUID) -> ChangePreview:
        """The diff against the current target and, for pools, the odds before and after.
        Closed requests (published, rejected, withdrawn) have no preview."""
        scratch = Unit(self._commands.ledger)
        change = self._load(scratch, change_id)
        kind = change.change_kind
        current = self._revision_in(scratch, kind, change.target)
        view = ChangeView.of(change)
        if change.state not in _OPEN:
            return ChangePreview(view, current, False, [], None, None, None)
        stale = current != change.base_version
        cause = Cause(change.maker, f"preview:{change.id}", change.reason)
        try:
            outcome = self._simulate(scratch, kind, change.target, change.payload, cause)
        except DomainError as error:
            problem = {"code": error.code, "detail": error.message}
            return ChangePreview(view, current, stale, [], None, None, problem)
        return ChangePreview(
            change=view,
            current_version=current,
            stale=stale,
            diff=diff(outcome.before, outcome.after),
            odds_before=self._odds(outcome.pool_before),
            odds_after=self._odds(outcome.pool_after),
            problem=None,
        )

    # ---- the target ----------------------------------------------------------------------------

    def _odds(self, pool: PrizePool | None) -> PoolOdds | None:
        return None if pool is None else self._pools.odds_of(pool)

    @staticmethod
    def _load(unit: Unit, change_id: UUID) -> ChangeRequest:
        change = unit.find(ChangeRequest, change_id)
        if change is None:
            raise NotFound(f"change request {change_id} not found")
        return change

    def _revision_in(self, unit: Unit, kind: ChangeKind, target: str) -> str:
        if kind is ChangeKind.CONFIG_SET:
            return self._config.revision_in(unit, target)
        if kind.on_mission:
            return mission_revision(unit.find(Mission, ids.mission_id(target)))
        return pool_revision(unit.find(PrizePool, ids.pool_id(target)))

    @staticmethod
    def _pool(unit: Unit, pool_key: str) -> PrizePool:
        pool = unit.find(PrizePool, ids.pool_id(pool_key))
        if pool is None:
            raise NotFound(f"pool {pool_key} not found")
        return pool

    def _simulate(
        self, scratch: Unit, kind: ChangeKind, target: str, payload: dict[str, Any], cause: Cause
    ) -> _Simulation:
        """Apply the change to copies of the target (in ``scratch``, never saved)."""
        if not isinstance(payload, dict):
            raise InvalidArgument("a payload is an object")
        if kind is ChangeKind.CONFIG_SET:
            if set(payload) != {"value"}:
                raise InvalidArgument('config.set: the payload is {"value": ...}')
            before, after = self._config.simulate_in(scratch, target, payload["value"], cause)
            return _Simulation({target: before}, {target: after}, None, None)
        if kind.on_mission:
            described = simulate_mission_change(scratch, kind.value, target, payload, cause)
            return _Simulation(*described, None, None)
        if kind is ChangeKind.POOL_CREATE:
            draft = parse_pool_create(payload)
            created = self._pools.create_in(
                scratch, target, draft.name, draft.draw_cost, draft.controls, cause, PREVIEW_SEED
            )
            return _Simulation({}, describe_pool(created), None, created)
        pool = self._pool(scratch, target)
        changed = deepcopy(pool)
        apply_to_pool(changed, kind, payload, cause)
        return _Simulation(describe_pool(pool), describe_pool(changed), pool, changed)

    def _apply_in(self, unit: Unit, change: ChangeRequest, cause: Cause) -> None:
        kind, target, payload = change.change_kind, change.target, change.payload
        if kind is ChangeKind.CONFIG_SET:
            self._config.change_in(unit, target, payload["value"], str(change.id), cause)
        elif kind.on_mission:
            apply_mission_change(unit, kind.value, target, payload, cause)
        elif kind is ChangeKind.POOL_CREATE:
            draft = parse_pool_create(payload)
            self._pools.create_in(unit, target, draft.name, draft.draw_cost, draft.controls, cause)
        else:
            apply_to_pool(self._pool(unit, target), kind, payload, cause)
