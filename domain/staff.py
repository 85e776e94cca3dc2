"""Operator: a staff member's identity — roles, credentials, TOTP, recovery codes and sessions.

One stream per e-mail address (``ids.operator_id``), so an address is created once. Operators
sign in with a password *and* a second factor: until TOTP is enrolled a login only opens an
``enrolment_only`` session (good for enrolling TOTP and nothing else); once enrolled every login
needs a TOTP code or an unused recovery code. Failed passwords and codes count together, five
in a row lock the operator for 15 minutes. TOTP steps are single use (replay-proof), for logins
and for step-ups alike.

Public methods decide and raise a named error; private ``@event`` methods only assign state.
The credential events have the same shape as ``PlayerAccount``'s, on purpose not through a
shared base class: an ``@event`` method inherited from a base records under the *base's*
topic, so sharing one would rename ``PlayerAccount``'s stored events. The rules' helpers
(e-mail and password checks, token digests, the TOTP errors) are shared.
Passwords arrive hashed; recovery codes are stored as SHA-256 digests (they are random and
long, so a fast hash is enough); the TOTP secret is stored because the server needs it back.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.account import (
    MAX_IP_LENGTH,
    MAX_USER_AGENT_LENGTH,
    SessionNotFound,
    TotpAlreadyEnabled,
    TotpInvalid,
    TotpNotEnabled,
    TotpRequired,
    check_email,
    token_digest,
)
from domain.cause import Cause
from domain.errors import DomainError, InvalidArgument

__all__ = [
    "LOCK_DURATION",
    "MAX_FAILED_LOGINS",
    "PERMISSIONS",
    "RECOVERY_CODE_COUNT",
    "ROLES",
    "ROLE_PERMISSIONS",
    "Operator",
    "OperatorRoster",
    "OperatorDisabled",
    "OperatorLocked",
    "PermissionDenied",
    "SecondFactor",
    "SelfManagementRefused",
    "StepUpInvalid",
    "StepUpRequired",
    "TotpEnrolmentRequired",
    "UnknownRole",
    "check_roles",
    "permissions_of",
]

MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
RECOVERY_CODE_COUNT = 10

_READS = frozenset(
    {
        "pools.read",
        "config.read",
        "players.read",
        "risk.read",
        "audit.read",
        "finance.read",
        "mail.read",
    }
)
PERMISSIONS: frozenset[str] = _READS | {
    "pools.write",
    "config.write",
    "changes.approve",
    "deposits.review",
    "withdrawals.review",
    "withdrawals.pay",
    "players.freeze",
    "players.adjust",
    "audit.export",
    "operators.manage",
}
# viewer: what anyone on staff may look at. Reports, risk signals and mail are narrower: they
# name players and amounts, so only the roles that act on them read them.
_VIEWER = frozenset({"pools.read", "config.read", "players.read", "audit.read"})
_SUPPORT = _VIEWER | {"players.freeze", "mail.read"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "support": _SUPPORT,
    "risk": _SUPPORT | {"risk.read"},
    "finance": _VIEWER
    | {
        "deposits.review",
        "withdrawals.review",
        "withdrawals.pay",
        "players.adjust",
        "finance.read",
        "audit.export",
    },
    "admin": PERMISSIONS,
}
ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)


class PermissionDenied(DomainError):
    recorded = False
    code = "permission_denied"


class UnknownRole(DomainError):
    recorded = False
    code = "unknown_role"


class OperatorLocked(DomainError):
    code = "operator_locked"


class OperatorDisabled(DomainError):
    code = "operator_disabled"


class TotpEnrolmentRequired(DomainError):
    """The session was opened before TOTP was enrolled: it may only enrol TOTP."""

    recorded = False
    code = "totp_enrolment_required"


class StepUpRequired(DomainError):
    recorded = False
    code = "step_up_required"


class StepUpInvalid(DomainError):
    recorded = False
    code = "step_up_invalid"


class SelfManagementRefused(DomainError):
    """An operator may not change their own roles, nor disable themselves: another operator
    with ``operators.manage`` must (so one stolen admin session cannot entrench itself)."""

    recorded = False
    code = "self_management_refused"


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    """Every permission the roles grant together (unknown roles grant nothing)."""
    granted: frozenset[str] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return granted


def check_roles(roles: Iterable[str]) -> list[str]:
    """The roles, sorted and without duplicates; at least one, each a known role."""
    chosen = sorted(set(roles))
    if not chosen:
        raise UnknownRole(f"an operator needs at least one role of {', '.join(ROLES)}")
    unknown = [r for r in chosen if r not in ROLE_PERMISSIONS]
    if unknown:
        raise UnknownRole(f"unknown roles {unknown}; known: {', '.join(ROLES)}")
    return chosen


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """What the operator gave beside the password, as the caller checked it: a TOTP code's
    matched time-step (``step``; None when the code matched no step), or a recovery code."""

    step: int | None = None
    recovery_code: str | None = None


class Operator(Aggregate):
    """``sessions`` keeps revoked and expired sessions only until the next login prunes them."""

    @staticmethod
    def create_id(email: str, **_: Any) -> UUID:
        return ids.operator_id(email)

    @classmethod
    def create(
        cls, email: str, roles: Iterable[str], password_hash: str, at: datetime, cause: Cause
    ) -> Operator:
        normalised = check_email(email)
        chosen = check_roles(roles)
        if not password_hash:
            raise InvalidArgument("an operator needs a password hash")
        return cls(
            email=normalised,
            roles=chosen,
            password_hash=password_hash,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Created")
    def __init__(
        self,
        email: str,
        roles: list[str],
        password_hash: str,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        self.email = email
        self.roles = list(roles)
        self.password_hash = password_hash
        self.created_at = at
        self.disabled = False
        self.failed_logins = 0
        self.locked_until: datetime | None = None
        self.sessions: dict[str, dict[str, Any]] = {}
        self.totp_secret: str | None = None  # pending until totp_enabled
        self.totp_enabled = False
        self.totp_last_step: int | None = None
        self.recovery_hashes: list[str] = []

    # ---- queries -------------------------------------------------------------------------------

    @property
    def actor(self) -> str:
        return f"operator:{self.id}"

    @property
    def permissions(self) -> frozenset[str]:
        return permissions_of(self.roles)

    def is_locked(self, at: datetime) -> bool:
        return self.locked_until is not None and at < self.locked_until

    def open_sessions(self, at: datetime) -> dict[str, dict[str, Any]]:
        if self.disabled:
            return {}
        return {
            sid: s
            for sid, s in self.sessions.items()
            if s["revoked_at"] is None and at < s["expires_at"]
        }

    def check_can_sign_in(self, at: datetime) -> None:
        if self.disabled:
            raise OperatorDisabled("this operator is disabled")
        if self.is_locked(at):
            raise OperatorLocked(f"too many failed attempts: locked until {self.locked_until}")

    # ---- logins and sessions -------------------------------------------------------------------

    def log_in(
        self,
        session_id: str,
        ip: str,
        user_agent: str,
        expires_at: datetime,
        factor: SecondFactor | None,
        at: datetime,
        cause: Cause,
    ) -> bool:
        """Open a session (the password was checked by the caller). Before TOTP enrolment the
        session is enrolment-only; after it the second factor is required and used up.
        Returns whether the session is enrolment-only."""
        self.check_can_sign_in(at)
        if not session_id or len(session_id) > 100 or session_id in self.sessions:
            raise InvalidArgument("a session id must be new and 1..100 characters")
        if expires_at <= at:
            raise InvalidArgument("a session must expire after it opens")
        if self.totp_enabled:
            self._use_factor(factor, at, cause)
        still_open = self.open_sessions(at)
        self._logged_in(
            session_id=session_id,
            ip=ip[:MAX_IP_LENGTH],
            user_agent=user_agent[:MAX_USER_AGENT_LENGTH],
            expires_at=expires_at,
            enrolment_only=not self.totp_enabled,
            pruned=[sid for sid in self.sessions if sid not in still_open],
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        return not self.totp_enabled

    def _use_factor(self, factor: SecondFactor | None, at: datetime, cause: Cause) -> None:
        if factor is None:
            raise TotpRequired("sign-in needs a code from your authenticator app")
        if factor.recovery_code is not None:
            digest = self._recovery_hash(factor.recovery_code)
            self._recovery_code_used(
                hash=digest, at=at, actor=cause.actor, request_id=cause.request_id
            )
            return
        self._totp_used(
            step=self._unused(factor.step, TotpInvalid),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    def _recovery_hash(self, code: str) -> str:
        digest = _recovery_digest(code)
        if not any(hmac.compare_digest(digest, h) for h in self.recovery_hashes):
            raise TotpInvalid("the recovery code is wrong or was already used")
        return digest

    @event("LoggedIn")
    def _logged_in(
        self,
        session_id: str,
        ip: str,
        user_agent: str,
        expires_at: datetime,
        enrolment_only: bool,
        pruned: list[str],
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        for sid in pruned:
            self.sessions.pop(sid, None)
        self.sessions[session_id] = {
            "opened_at": at,
            "expires_at": expires_at,
            "ip": ip,
            "user_agent": user_agent,
            "enrolment_only": enrolment_only,
            "revoked_at": None,
        }
        self.failed_logins = 0

    @event("RecoveryCodeUsed")
    def _recovery_code_used(self, hash: str, at: datetime, actor: str, request_id: str) -> None:
        self.recovery_hashes = [h for h in self.recovery_hashes if h != hash]

    def fail_login(self, ip: str, at: datetime, cause: Cause) -> None:
        """A wrong password or code: counted, and the fifth in a row locks the operator."""
        self.check_can_sign_in(at)
        failures = self.failed_logins + 1
        self._login_failed(
            ip=ip[:MAX_IP_LENGTH],
            failures=failures,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        if failures >= MAX_FAILED_LOGINS:
            self._locked(
                until=at + LOCK_DURATION, at=at, actor=cause.actor, request_id=cause.request_id
            )

    @event("LoginFailed")
    def _login_failed(
        self, ip: str, failures: int, at: datetime, actor: str, request_id: str
    ) -> None:
        self.failed_logins = failures

    @event("Locked")
    def _locked(self, until: datetime, at: datetime, actor: str, request_id: str) -> None:
        self.locked_until = until
        self.failed_logins = 0

    def revoke_session(self, session_id: str, reason: str, at: datetime, cause: Cause) -> None:
        if session_id not in self.open_sessions(at):
            raise SessionNotFound("no such open session")
        self._session_revoked(
            session_id=session_id,
            reason=reason[:100],
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    def revoke_all_sessions(self, reason: str, at: datetime, cause: Cause) -> list[str]:
        """Force logout: every open session ends. Returns their ids."""
        revoked = list(self.open_sessions(at))
        for session_id in revoked:
            self.revoke_session(session_id, reason, at, cause)
        return revoked

    @event("SessionRevoked")
    def _session_revoked(
        self, session_id: str, reason: str, at: datetime, actor: str, request_id: str
    ) -> None:
        self.sessions[session_id]["revoked_at"] = at

    # ---- administration ------------------------------------------------------------------------

    def change_roles(self, roles: Iterable[str], at: datetime, cause: Cause) -> list[str]:
        self._not_self(cause, "change your own roles")
        chosen = check_roles(roles)
        if chosen == self.roles:
            raise InvalidArgument(f"the operator already has the roles {chosen}")
        self._roles_changed(
            roles=chosen, previous=self.roles, at=at, actor=cause.actor, request_id=cause.request_id
        )
        return chosen

    @event("RolesChanged")
    def _roles_changed(
        self, roles: list[str], previous: list[str], at: datetime, actor: str, request_id: str
    ) -> None:
        self.roles = list(roles)

    def disable(self, at: datetime, cause: Cause) -> None:
        """No more logins, and every open session ends at once."""
        self._not_self(cause, "disable yourself")
        if self.disabled:
            raise InvalidArgument("the operator is already disabled")
        self._disabled(
            revoked=list(self.open_sessions(at)),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Disabled")
    def _disabled(self, revoked: list[str], at: datetime, actor: str, request_id: str) -> None:
        for sid in revoked:
            self.sessions[sid]["revoked_at"] = at
        self.disabled = True

    def enable(self, at: datetime, cause: Cause) -> None:
        if not self.disabled:
            raise InvalidArgument("the operator is not disabled")
        self._enabled(at=at, actor=cause.actor, request_id=cause.request_id)

    @event("Enabled")
    def _enabled(self, at: datetime, actor: str, request_id: str) -> None:
        self.disabled = False
        self.failed_logins = 0
        self.locked_until = None

    def _not_self(self, cause: Cause, what: str) -> None:
        if cause.actor == self.actor:
            raise SelfManagementRefused(f"you may not {what}; ask another administrator")

    # ---- passwords -----------------------------------------------------------------------------

    def change_password(
        self, password_hash: str, keep_session_id: str | None, at: datetime, cause: Cause
    ) -> list[str]:
        """A new password (the current one was checked by the caller); every other session
        ends. Returns their ids."""
        if not password_hash:
            raise InvalidArgument("a password hash may not be empty")
        revoked = [sid for sid in self.open_sessions(at) if sid != keep_session_id]
        self._password_changed(
            password_hash=password_hash,
            revoked=revoked,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        return revoked

    @event("PasswordChanged")
    def _password_changed(
        self, password_hash: str, revoked: list[str], at: datetime, actor: str, request_id: str
    ) -> None:
        self.password_hash = password_hash
        for sid in revoked:
            self.sessions[sid]["revoked_at"] = at

    # ---- TOTP and recovery codes ---------------------------------------------------------------
    # Codes are checked by the caller (the TOTP maths lives behind a port); the domain gets the
    # matched time-step, or None for a wrong code, and refuses a step that was already used.

    def start_totp(self, secret: str, at: datetime, cause: Cause) -> None:
        if self.totp_enabled:
            raise TotpAlreadyEnabled("TOTP is already enabled")
        if not secret:
            raise InvalidArgument("a TOTP secret may not be empty")
        self._totp_enrolment_started(
            secret=secret, at=at, actor=cause.actor, request_id=cause.request_id
        )

    @event("TotpEnrolmentStarted")
    def _totp_enrolment_started(
        self, secret: str, at: datetime, actor: str, request_id: str
    ) -> None:
        self.totp_secret = secret

    def enable_totp(
        self, step: int | None, recovery_codes: list[str], at: datetime, cause: Cause
    ) -> None:
        """The first good code proves the authenticator app holds the pending secret; the
        recovery codes (given to the operator once) are kept as digests. The enrolment-only
        sessions end: the operator signs in again, with a code."""
        if self.totp_enabled:
            raise TotpAlreadyEnabled("TOTP is already enabled")
        if self.totp_secret is None:
            raise TotpNotEnabled("no TOTP enrolment is pending: start one first")
        hashes = _recovery_hashes(recovery_codes)
        self._totp_enabled(
            step=self._unused(step, TotpInvalid),
            ended=[sid for sid, s in self.open_sessions(at).items() if s["enrolment_only"]],
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        self._recovery_codes_issued(
            hashes=hashes, at=at, actor=cause.actor, request_id=cause.request_id
        )

    @event("TotpEnabled")
    def _totp_enabled(
        self, step: int, ended: list[str], at: datetime, actor: str, request_id: str
    ) -> None:
        self.totp_enabled = True
        self.totp_last_step = step
        for sid in ended:
            self.sessions[sid]["revoked_at"] = at

    def issue_recovery_codes(self, recovery_codes: list[str], at: datetime, cause: Cause) -> None:
        """New recovery codes replace every earlier one (used or not)."""
        if not self.totp_enabled:
            raise TotpNotEnabled("recovery codes come with TOTP: enable it first")
        self._recovery_codes_issued(
            hashes=_recovery_hashes(recovery_codes),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("RecoveryCodesIssued")
    def _recovery_codes_issued(
        self, hashes: list[str], at: datetime, actor: str, request_id: str
    ) -> None:
        self.recovery_hashes = list(hashes)

    def step_up(self, factor: SecondFactor | None, at: datetime, cause: Cause) -> None:
        """A fresh TOTP code for a sensitive action (recovery codes are for signing in only)."""
        self.check_can_sign_in(at)
        if not self.totp_enabled:
            raise TotpEnrolmentRequired("enrol TOTP first: sensitive actions need a code")
        if factor is None or factor.recovery_code is not None:
            raise StepUpRequired("this action needs a current code in the X-TOTP-Code header")
        self._totp_used(
            step=self._unused(factor.step, StepUpInvalid),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("TotpUsed")
    def _totp_used(self, step: int, at: datetime, actor: str, request_id: str) -> None:
        self.totp_last_step = step

    def _unused(self, step: int | None, error: type[DomainError]) -> int:
        """The matched step, if it is later than every step used before."""
        if step is None:
            raise error("the code is wrong")
        if self.totp_last_step is not None and step <= self.totp_last_step:
            # A code seen once (even by an eavesdropper) never works again, nor an older one.
            raise error("the code was already used")
        return step


def _normal(code: str) -> str:
    """Case, blanks and dashes do not matter when a code is typed."""
    return "".join(code.lower().split()).replace("-", "")


def _recovery_digest(code: str) -> str:
    return token_digest(_normal(code))


def _recovery_hashes(codes: list[str]) -> list[str]:
    hashes = sorted({_recovery_digest(c) for c in codes})
    if len(hashes) != RECOVERY_CODE_COUNT or any(len(_normal(c)) < 10 for c in codes):
        raise InvalidArgument(f"{RECOVERY_CODE_COUNT} distinct recovery codes of 10+ characters")
    return hashes


class OperatorRoster(Aggregate):
    """Every operator ever created, in creation order: one small stream that the operator list
    reads (operators are few; each create appends here in the same save)."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return ids.operator_roster_id()

    @classmethod
    def start(cls, cause: Cause) -> OperatorRoster:
        return cls(actor=cause.actor, request_id=cause.request_id)

    @event("Started")
    def __init__(self, actor: str, request_id: str) -> None:
        self.operator_ids: list[str] = []

    def add(self, operator: Operator, cause: Cause) -> None:
        if str(operator.id) in self.operator_ids:
            raise InvalidArgument("the operator is already on the roster")
        self._added(
            operator_id=str(operator.id),
            email=operator.email,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("OperatorAdded")
    def _added(self, operator_id: str, email: str, actor: str, request_id: str) -> None:
        self.operator_ids = [*self.operator_ids, operator_id]
