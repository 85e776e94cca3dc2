"""ChangeRequest: a proposed change to a pool, its prizes or a runtime setting (maker-checker).

draft → submitted → approved → published; submitted | approved → rejected;
draft | submitted | approved → withdrawn (by its maker).

The maker drafts against the target's revision (``base_version``, the ETag the maker saw); an
operator other than the maker approves; publishing applies the change — in the same save as the
``Published`` event — only if the target is still at that revision, so nobody publishes a
change whose preview (diff and odds) no longer describes what it would do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, IllegalTransition, InvalidArgument, SelfApprovalRefused

__all__ = [
    "ChangeEmpty",
    "ChangeKind",
    "ChangeRequest",
    "ChangeRequestStale",
    "ChangeState",
    "NotChangeMaker",
    "PreconditionFailed",
    "PreconditionRequired",
    "change_request_id",
    "diff",
]


class ChangeKind(StrEnum):
    POOL_CREATE = "pool.create"
    POOL_UPDATE = "pool.update"
    PRIZE_ADD = "prize.add"
    PRIZE_CHANGE = "prize.change"
    PRIZE_RETIRE = "prize.retire"
    PRIZE_RESTOCK = "prize.restock"
    CONFIG_SET = "config.set"
    MISSION_CREATE = "mission.create"
    MISSION_CHANGE = "mission.change"
    MISSION_RETIRE = "mission.retire"

    @property
    def on_pool(self) -> bool:
        return self is not ChangeKind.CONFIG_SET and not self.on_mission

    @property
    def on_mission(self) -> bool:
        """A reward-centre mission (``application.missions``); the target is its key."""
        return self.value.startswith("mission.")

    @property
    def edits_existing(self) -> bool:
        """Every kind but creating a pool or a mission edits something that exists: drafting
        it needs the target's current ETag (If-Match)."""
        return self not in (ChangeKind.POOL_CREATE, ChangeKind.MISSION_CREATE)

    @classmethod
    def parse(cls, kind: str) -> ChangeKind:
        try:
            return cls(kind)
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise InvalidArgument(f"unknown change kind {kind!r}; known: {known}") from None


class ChangeState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class NotChangeMaker(DomainError):
    """Only the change request's maker submits or withdraws it."""

    code = "not_change_maker"


class ChangeRequestStale(DomainError):
    """The target changed since the request was drafted; draft it again against the new one."""

    code = "change_request_stale"


class PreconditionRequired(DomainError):
    """Drafting an edit needs the target's ETag (If-Match)."""

    recorded = False
    code = "precondition_required"


class PreconditionFailed(DomainError):
    """The ETag given is not the target's current one."""

    recorded = False
    code = "precondition_failed"


class ChangeEmpty(DomainError):
    """The change would leave the target as it is."""

    recorded = False
    code = "change_empty"


def change_request_id(maker: str, request_id: str) -> UUID:
    """One stream per drafting request, so a retried draft cannot make a second request."""
    parts = [p.replace("|", "||") for p in ("change_request", maker, request_id)]
    return uuid5(ids.LEDGER_NAMESPACE, "|".join(parts))


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """{field, before, after} for every field that differs (None where a side lacks it), in
    the order the fields first appear."""
    fields = [*before, *(k for k in after if k not in before)]
    return [
        {"field": f, "before": before.get(f), "after": after.get(f)}
        for f in fields
        if before.get(f) != after.get(f) or (f in before) != (f in after)
    ]


_MAX_PAYLOAD_KEYS = 40


class ChangeRequest(Aggregate):
    @staticmethod
    def create_id(maker: str, request_id: str, **_: Any) -> UUID:
        return change_request_id(maker, request_id)

    @classmethod
    def draft(
        cls,
        kind: ChangeKind,
        target: str,
        payload: dict[str, Any],
        base_version: str,
        cause: Cause,
    ) -> ChangeRequest:
        """Record the proposal. The caller has checked that ``payload`` applies cleanly to the
        target at ``base_version`` (a dry run), so a draft never proposes the impossible."""
        if not isinstance(payload, dict) or len(payload) > _MAX_PAYLOAD_KEYS:
            raise InvalidArgument(f"a payload is an object of at most {_MAX_PAYLOAD_KEYS} fields")
        if not target or len(target) > 100:
            raise InvalidArgument("a target is 1..100 characters")
        return cls(
            kind=kind.value,
            target=target,
            payload=payload,
            base_version=base_version,
            maker=cause.actor,
            reason=cause.reason,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Drafted")
    def __init__(
        self,
        kind: str,
        target: str,
        payload: dict[str, Any],
        base_version: str,
        maker: str,
        reason: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.kind = kind
        self.target = target
        self.payload = payload
        self.base_version = base_version
        self.maker = maker
        self.reason = reason
        self.state = ChangeState.DRAFT.value
        self.approver: str | None = None
        self.publisher: str | None = None
        # Who rejected or withdrew it, and why.
        self.closed_by: str | None = None
        self.closing_reason: str | None = None

    @property
    def change_kind(self) -> ChangeKind:
        return ChangeKind(self.kind)

    # ---- transitions ---------------------------------------------------------------------------

    def _require(self, *states: ChangeState) -> None:
        if self.state not in {s.value for s in states}:
            allowed = " or ".join(s.value for s in states)
            raise IllegalTransition(f"the change request is {self.state}, not {allowed}")

    def _require_maker(self, cause: Cause, action: str) -> None:
        if cause.actor != self.maker:
            raise NotChangeMaker(f"only its maker ({self.maker}) may {action} a change request")

    def _require_fresh(self, current_version: str) -> None:
        if current_version != self.base_version:
            raise ChangeRequestStale(
                f"{self.target} changed since this request was drafted (drafted against "
                f"{self.base_version}, now {current_version}); draft it again"
            )

    def submit(self, cause: Cause) -> None:
        """The maker asks for approval."""
        self._require(ChangeState.DRAFT)
        self._require_maker(cause, "submit")
        self._submitted(reason=cause.reason, actor=cause.actor, request_id=cause.request_id)

    @event("Submitted")
    def _submitted(self, reason: str, actor: str, request_id: str) -> None:
        self.state = ChangeState.SUBMITTED.value

    def approve(self, current_version: str, cause: Cause) -> None:
        """An operator other than the maker approves, while the target is as drafted."""
        self._require(ChangeState.SUBMITTED)
        if not cause.is_operator:
            raise IllegalTransition("only an operator approves a change request")
        if cause.actor == self.maker:
            raise SelfApprovalRefused("a change request must be approved by another operator")
        self._require_fresh(current_version)
        self._approved(reason=cause.reason, actor=cause.actor, request_id=cause.request_id)

    @event("Approved")
    def _approved(self, reason: str, actor: str, request_id: str) -> None:
        self.state = ChangeState.APPROVED.value
        self.approver = actor

    def reject(self, cause: Cause) -> None:
        """Refuse the change, with a reason."""
        self._require(ChangeState.SUBMITTED, ChangeState.APPROVED)
        reason = _reason(cause)
        self._rejected(reason=reason, actor=cause.actor, request_id=cause.request_id)

    @event("Rejected")
    def _rejected(self, reason: str, actor: str, request_id: str) -> None:
        self.state = ChangeState.REJECTED.value
        self.closed_by = actor
        self.closing_reason = reason

    def withdraw(self, cause: Cause) -> None:
        """The maker takes the request back before it is published."""
        self._require(ChangeState.DRAFT, ChangeState.SUBMITTED, ChangeState.APPROVED)
        self._require_maker(cause, "withdraw")
        self._withdrawn(reason=cause.reason, actor=cause.actor, request_id=cause.request_id)

    @event("Withdrawn")
    def _withdrawn(self, reason: str, actor: str, request_id: str) -> None:
        self.state = ChangeState.WITHDRAWN.value
        self.closed_by = actor
        self.closing_reason = reason

    def publish(self, current_version: str, cause: Cause) -> None:
        """Mark the approved change applied; the caller applies it to the target in the same
        save (and only after this check passed)."""
        self._require(ChangeState.APPROVED)
        self._require_fresh(current_version)
        self._published(reason=cause.reason, actor=cause.actor, request_id=cause.request_id)

    @event("Published")
    def _published(self, reason: str, actor: str, request_id: str) -> None:
        self.state = ChangeState.PUBLISHED.value
        self.publisher = actor


def _reason(cause: Cause) -> str:
    if not cause.reason.strip():
        raise InvalidArgument("a reason is required")
    return cause.reason.strip()
