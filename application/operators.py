"""Operators: staff identities, TOTP with recovery codes, logins, sessions, step-up, roles.

Every change runs through ``Commands.execute`` (a receipt per request). Receipts never hold a
raw secret that the events do not: recovery codes are returned to the caller once and stored
only as digests (a replayed request gets ``TokenAlreadyIssued`` instead of the codes).

Who may manage operators is checked here as well as at the route: an ``operator:`` actor needs
``operators.manage``; a ``system:`` actor (the CLI that creates the first admin) may.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4

from application.accounts import TokenAlreadyIssued, TotpEnrolment, replacement_hash
from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import NotFound
from application.ports import PasswordHasher, TotpCodes
from domain import ids
from domain.account import (
    EmailTaken,
    InvalidCredentials,
    TotpInvalid,
    check_email,
    check_password,
    token_digest,
)
from domain.cause import Cause
from domain.staff import (
    RECOVERY_CODE_COUNT,
    Operator,
    OperatorRoster,
    PermissionDenied,
    SecondFactor,
    StepUpInvalid,
)

__all__ = [
    "OPERATOR_SESSION_TTL",
    "OperatorSession",
    "OperatorView",
    "Operators",
    "RecoveryCodes",
    "StaffSessionView",
]

R = TypeVar("R")
OPERATOR_SESSION_TTL = timedelta(hours=8)
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are typed by hand


@dataclass(frozen=True, slots=True)
class OperatorView:
    operator_id: str
    email: str
    roles: list[str]
    disabled: bool
    totp_enabled: bool
    recovery_codes_left: int
    created_at: datetime

    @classmethod
    def of(cls, op: Operator) -> OperatorView:
        return cls(
            str(op.id),
            op.email,
            list(op.roles),
            op.disabled,
            op.totp_enabled,
            len(op.recovery_hashes),
            op.created_at,
        )


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """An open session of an enabled operator: what a login opened, and what each request
    is authorised with."""

    operator_id: str
    email: str
    roles: list[str]
    session_id: str
    expires_at: datetime
    enrolment_only: bool


@dataclass(frozen=True, slots=True)
class StaffSessionView:
    session_id: str
    opened_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    enrolment_only: bool
    current: bool


@dataclass(frozen=True, slots=True)
class RecoveryCodes:
    """Shown once; only their digests are kept."""

    codes: list[str]


# ---- what the receipts store (plain values, no raw secrets) --------------------------------


@dataclass(frozen=True, slots=True)
class _Attempt:
    """A wrong password or code is saved (it counts towards the lock) and only then refused."""

    failure: str  # "" when it succeeded, else the error's code
    operator_id: str
    email: str
    roles: list[str]
    session_id: str
    expires_at: datetime | None
    enrolment_only: bool


@dataclass(frozen=True, slots=True)
class _CodesIssued:
    digest: str  # of the sorted codes: a replayed receipt is not this process's codes

    def made_from(self, codes: list[str]) -> bool:
        return hmac.compare_digest(self.digest, _digest_of(codes))


@dataclass(frozen=True, slots=True)
class _Revoked:
    revoked: list[str]


@dataclass(frozen=True, slots=True)
class _Done:
    pass


def _digest_of(codes: list[str]) -> str:
    return token_digest("|".join(sorted(codes)))


def new_recovery_codes() -> list[str]:
    return [
        "-".join("".join(secrets.choice(_CODE_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _step_up_cause(cause: Cause, action: str, code: str | None) -> Cause:
    """A step-up is its own command inside the guarded request, with a receipt of its own per
    action and code: the same request with the same code replays (a client's retry), a
    corrected code is a new attempt, and the pair proves nothing for another action."""
    digest = hashlib.sha256(f"{cause.request_id}|{action}|{code or ''}".encode()).hexdigest()
    return Cause(cause.actor, f"stepup:{digest}", cause.reason)


class Operators:
    def __init__(
        self,
        commands: Commands,
        clock: Clock,
        hasher: PasswordHasher,
        totp: TotpCodes,
        session_ttl: timedelta = OPERATOR_SESSION_TTL,
    ) -> None:
        self._commands = commands
        self._clock = clock
        self._hasher = hasher
        self._totp = totp
        self._session_ttl = session_ttl
        self._dummy_hash: str | None = None

    # ---- creation and reads --------------------------------------------------------------------

    def create(self, email: str, password: str, roles: list[str], cause: Cause) -> OperatorView:
        """A new operator with a password and roles; TOTP is enrolled at the first login. The
        first admin comes from the CLI (actor ``system:cli``)."""
        normalised = check_email(email)
        check_password(password, normalised)
        password_hash = self._hasher.hash(password)

        def decide(unit: Unit) -> OperatorView:
            self._check_manager(unit, cause)
            if unit.find(Operator, ids.operator_id(normalised)) is not None:
                raise EmailTaken("an operator with this e-mail address exists")
            op = Operator.create(normalised, roles, password_hash, self._clock(), cause)
            roster = unit.find(OperatorRoster, ids.operator_roster_id())
            if roster is None:
                roster = OperatorRoster.start(cause)
                unit.add(roster)
            roster.add(op, cause)
            unit.add(op)
            return OperatorView.of(op)

        params = {"email": normalised, "roles": sorted(roles)}
        return self._commands.execute("create_operator", cause, params, decide, OperatorView)

    def operator(self, operator_id: str) -> OperatorView:
        return OperatorView.of(self._get(operator_id))

    def operators(self) -> list[OperatorView]:
        """Every operator, in creation order."""
        unit = Unit(self._commands.ledger)
        roster = unit.find(OperatorRoster, ids.operator_roster_id())
        if roster is None:
            return []
        return [OperatorView.of(unit.get(Operator, UUID(oid))) for oid in roster.operator_ids]

    # ---- logins and sessions -------------------------------------------------------------------

    def login(
        self,
        email: str,
        password: str,
        ip: str,
        user_agent: str,
        cause: Cause,
        *,
        totp_code: str | None = None,
        recovery_code: str | None = None,
    ) -> OperatorSession:
        """Check the password and the second factor and open a session (8 hours at most).
        Before TOTP is enrolled the session is enrolment-only. Wrong passwords and wrong codes
        count together; five in a row lock the operator for 15 minutes."""
        op = Unit(self._commands.ledger).find(Operator, ids.operator_id(email))
        if op is None:
            self._hasher.verify(self._dummy(), password)
            raise InvalidCredentials("wrong e-mail or password")
        checked = op.password_hash
        password_ok = self._hasher.verify(checked, password)
        session_id = uuid4().hex

        def decide(unit: Unit) -> _Attempt:
            acc = unit.get(Operator, op.id)
            at = self._clock()
            acc.check_can_sign_in(at)
            same_hash = acc.password_hash == checked
            if not (password_ok if same_hash else self._hasher.verify(acc.password_hash, password)):
                acc.fail_login(ip, at, cause)
                return self._attempt(acc, InvalidCredentials.code)
            factor = self._factor(acc, totp_code, recovery_code, at)
            expires_at = at + self._session_ttl
            try:
                enrolment_only = acc.log_in(
                    session_id, ip, user_agent, expires_at, factor, at, cause
                )
            except TotpInvalid:
                acc.fail_login(ip, at, cause)
                return self._attempt(acc, TotpInvalid.code)
            return self._attempt(acc, "", session_id, expires_at, enrolment_only)

        # What was checked (never the secrets) is part of the request: a retry of this request
        # id with another password or code is refused instead of replaying a success.
        params = {
            "email": op.email,
            "ip": ip,
            "agent": user_agent,
            "ok": password_ok,
            "factor": token_digest(f"{totp_code}|{recovery_code}"),
        }
        attempt = self._commands.execute("operator_login", cause, params, decide, _Attempt)
        if attempt.failure == TotpInvalid.code:
            raise TotpInvalid("the code is wrong or was already used")
        if attempt.failure or attempt.expires_at is None:
            raise InvalidCredentials("wrong e-mail or password")
        return OperatorSession(
            attempt.operator_id,
            attempt.email,
            attempt.roles,
            attempt.session_id,
            attempt.expires_at,
            attempt.enrolment_only,
        )

    def session(self, operator_id: str, session_id: str) -> OperatorSession | None:
        """The session if it is open now and its operator is enabled, else None."""
        op = self._find(operator_id)
        if op is None:
            return None
        found = op.open_sessions(self._clock()).get(session_id)
        if found is None:
            return None
        return OperatorSession(
            str(op.id),
            op.email,
            list(op.roles),
            session_id,
            found["expires_at"],
            bool(found["enrolment_only"]),
        )

    def sessions(self, operator_id: str, current_session_id: str = "") -> list[StaffSessionView]:
        """The operator's open sessions, newest first."""
        op = self._get(operator_id)
        views = [
            StaffSessionView(
                sid,
                s["opened_at"],
                s["expires_at"],
                s["ip"],
                s["user_agent"],
                bool(s["enrolment_only"]),
                sid == current_session_id,
            )
            for sid, s in op.open_sessions(self._clock()).items()
        ]
        return sorted(views, key=lambda v: v.opened_at, reverse=True)

    def revoke_session(
        self, operator_id: str, session_id: str, cause: Cause, reason: str = "revoked"
    ) -> None:
        """End one of the operator's own open sessions (logout, or from the sessions list)."""

        def act(op: Operator, at: datetime) -> _Done:
            op.revoke_session(session_id, reason, at, cause)
            return _Done()

        self._on("revoke_operator_session", operator_id, cause, {"session": session_id}, act, _Done)

    def force_logout(self, operator_id: str, cause: Cause) -> list[str]:
        """End every open session of another operator (``operators.manage``)."""

        def act(op: Operator, at: datetime) -> _Revoked:
            return _Revoked(op.revoke_all_sessions("forced", at, cause))

        return self._on(
            "force_logout_operator", operator_id, cause, {}, act, _Revoked, managed=True
        ).revoked

    # ---- administration ------------------------------------------------------------------------

    def change_roles(self, operator_id: str, roles: list[str], cause: Cause) -> OperatorView:
        """Give another operator these roles (not yourself)."""

        def act(op: Operator, at: datetime) -> OperatorView:
            op.change_roles(roles, at, cause)
            return OperatorView.of(op)

        params = {"roles": sorted(roles)}
        return self._on(
            "change_operator_roles", operator_id, cause, params, act, OperatorView, managed=True
        )

    def disable(self, operator_id: str, cause: Cause) -> OperatorView:
        """No more logins for another operator; their sessions end at once."""

        def act(op: Operator, at: datetime) -> OperatorView:
            op.disable(at, cause)
            return OperatorView.of(op)

        return self._on("disable_operator", operator_id, cause, {}, act, OperatorView, managed=True)

    def enable(self, operator_id: str, cause: Cause) -> OperatorView:
        """Let a disabled operator sign in again (a lock from failed logins is lifted too)."""

        def act(op: Operator, at: datetime) -> OperatorView:
            op.enable(at, cause)
            return OperatorView.of(op)

        return self._on("enable_operator", operator_id, cause, {}, act, OperatorView, managed=True)

    def change_password(
        self,
        operator_id: str,
        current_password: str,
        new_password: str,
        keep_session_id: str | None,
        cause: Cause,
    ) -> list[str]:
        """Set a new password; every session but ``keep_session_id`` ends. Returns their ids."""

        def act(op: Operator, at: datetime) -> _Revoked:
            new_hash = replacement_hash(
                self._hasher, op.password_hash, op.email, current_password, new_password
            )
            return _Revoked(op.change_password(new_hash, keep_session_id, at, cause))

        params = {"keep": keep_session_id}
        return self._on(
            "change_operator_password", operator_id, cause, params, act, _Revoked
        ).revoked

    # ---- TOTP, recovery codes and step-up ------------------------------------------------------

    def start_totp(self, operator_id: str, cause: Cause) -> TotpEnrolment:
        """A new pending secret for the operator's authenticator app; a first code enables it."""
        secret = self._totp.new_secret()

        def act(op: Operator, at: datetime) -> TotpEnrolment:
            op.start_totp(secret, at, cause)
            return TotpEnrolment(secret, self._totp.provisioning_uri(secret, op.email))

        return self._on("start_operator_totp", operator_id, cause, {}, act, TotpEnrolment)

    def enable_totp(self, operator_id: str, code: str, cause: Cause) -> RecoveryCodes:
        """Turn TOTP on with a code from the pending secret. Returns the recovery codes: the
        only time they are shown."""
        codes = new_recovery_codes()

        def act(op: Operator, at: datetime) -> _CodesIssued:
            op.enable_totp(self._step(op, code, at), codes, at, cause)
            return _CodesIssued(_digest_of(codes))

        params = {"code": code}
        issued = self._on("enable_operator_totp", operator_id, cause, params, act, _CodesIssued)
        return self._shown_once(issued, codes)

    def issue_recovery_codes(self, operator_id: str, cause: Cause) -> RecoveryCodes:
        """New recovery codes; every earlier one stops working."""
        codes = new_recovery_codes()

        def act(op: Operator, at: datetime) -> _CodesIssued:
            op.issue_recovery_codes(codes, at, cause)
            return _CodesIssued(_digest_of(codes))

        issued = self._on("issue_recovery_codes", operator_id, cause, {}, act, _CodesIssued)
        return self._shown_once(issued, codes)

    def step_up(self, operator_id: str, code: str | None, cause: Cause, action: str = "") -> None:
        """A fresh TOTP code for a sensitive ``action`` (a route, say), or StepUpRequired /
        StepUpInvalid. A wrong code counts towards the lock. A retried request passes with the
        code it was first sent with, and only with it."""

        def act(op: Operator, at: datetime) -> _Attempt:
            factor = None if code is None else SecondFactor(step=self._step(op, code, at))
            try:
                op.step_up(factor, at, cause)
            except StepUpInvalid:
                op.fail_login("", at, cause)
                return self._attempt(op, StepUpInvalid.code)
            return self._attempt(op, "")

        step_up = _step_up_cause(cause, action, code)
        attempt = self._on("operator_step_up", operator_id, step_up, {}, act, _Attempt)
        if attempt.failure:
            raise StepUpInvalid("the code is wrong or was already used")

    # ---- helpers -------------------------------------------------------------------------------

    def _on(
        self,
        command: str,
        operator_id: str,
        cause: Cause,
        params: Mapping[str, object],
        act: Callable[[Operator, datetime], R],
        result_type: type[R],
        *,
        managed: bool = False,
    ) -> R:
        """Run ``act`` on the operator as one command. ``managed``: a change one operator makes
        to another, which needs ``operators.manage``."""

        def decide(unit: Unit) -> R:
            if managed:
                self._check_manager(unit, cause)
            return act(self._in(unit, operator_id), self._clock())

        return self._commands.execute(
            command, cause, {"operator": operator_id, **params}, decide, result_type
        )

    def _check_manager(self, unit: Unit, cause: Cause) -> None:
        if not cause.is_operator:
            return  # the CLI and other system actors
        uuid = _uuid(cause.actor.removeprefix("operator:"))
        manager = None if uuid is None else unit.find(Operator, uuid)
        if manager is None or manager.disabled:
            raise PermissionDenied("only an enabled operator may manage operators")
        if "operators.manage" not in manager.permissions:
            raise PermissionDenied("managing operators needs the operators.manage permission")

    @staticmethod
    def _in(unit: Unit, operator_id: str) -> Operator:
        uuid = _uuid(operator_id)
        if uuid is None:
            raise NotFound(f"operator {operator_id} not found")
        return unit.get(Operator, uuid)

    def _find(self, operator_id: str) -> Operator | None:
        uuid = _uuid(operator_id)
        return None if uuid is None else Unit(self._commands.ledger).find(Operator, uuid)

    def _get(self, operator_id: str) -> Operator:
        op = self._find(operator_id)
        if op is None:
            raise NotFound(f"operator {operator_id} not found")
        return op

    def _factor(
        self, op: Operator, totp_code: str | None, recovery_code: str | None, at: datetime
    ) -> SecondFactor | None:
        if recovery_code:
            return SecondFactor(recovery_code=recovery_code)
        if totp_code:
            return SecondFactor(step=self._step(op, totp_code, at))
        return None

    def _step(self, op: Operator, code: str, at: datetime) -> int | None:
        secret = op.totp_secret
        return None if secret is None else self._totp.step_for(secret, code, at)

    @staticmethod
    def _attempt(
        op: Operator,
        failure: str,
        session_id: str = "",
        expires_at: datetime | None = None,
        enrolment_only: bool = False,
    ) -> _Attempt:
        return _Attempt(
            failure, str(op.id), op.email, list(op.roles), session_id, expires_at, enrolment_only
        )

    @staticmethod
    def _shown_once(issued: _CodesIssued, codes: list[str]) -> RecoveryCodes:
        if not issued.made_from(codes):
            raise TokenAlreadyIssued(
                "this request already issued its recovery codes; send a new request"
            )
        return RecoveryCodes(codes)

    def _dummy(self) -> str:
        """A hash to verify against for an unknown e-mail, so a login takes as long."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
