"""PlayerAccount: a player's identity — credentials, sessions, one-time tokens and TOTP.

One stream per e-mail address (``ids.account_id``), so an address can register only once: the
event store refuses a second stream with the same id. Public methods decide and raise a named
error; the private ``@event`` methods only assign state (the library re-runs them on replay).
Secrets never enter an event in the clear except the TOTP secret, which the server needs back:
passwords arrive already hashed and one-time tokens are stored as their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import DomainError, InvalidArgument
from domain.money import MAX_AMOUNT_MINOR

__all__ = [
    "LOCK_DURATION",
    "MAX_FAILED_LOGINS",
    "RESET_TOKEN_TTL",
    "VERIFICATION_TOKEN_TTL",
    "AccountLocked",
    "EmailTaken",
    "InvalidCredentials",
    "InvalidEmail",
    "PlayerAccount",
    "SessionNotFound",
    "TokenInvalid",
    "TotpAlreadyEnabled",
    "TotpInvalid",
    "TotpNotEnabled",
    "TotpRequired",
    "WeakPassword",
    "check_email",
    "check_password",
    "device_of",
    "token_digest",
]

MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
RESET_TOKEN_TTL = timedelta(minutes=30)
VERIFICATION_TOKEN_TTL = timedelta(hours=48)
MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# Bounds on what a client sends us and we store: events stay small whatever the headers hold.
MAX_IP_LENGTH = 64
MAX_USER_AGENT_LENGTH = 512
# Only the most recent devices are remembered; an older one counts as new again (an alert, no harm).
MAX_KNOWN_DEVICES = 32
_REFERRER = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class InvalidEmail(DomainError):
    recorded = False
    code = "invalid_email"


class WeakPassword(DomainError):
    recorded = False
    code = "weak_password"


class InvalidCredentials(DomainError):
    """Wrong password or unknown e-mail: deliberately the same error for both."""

    recorded = False
    code = "invalid_credentials"


class AccountLocked(DomainError):
    code = "account_locked"


class SessionNotFound(DomainError):
    recorded = False
    code = "session_not_found"


class TokenInvalid(DomainError):
    """Wrong, expired or already used: deliberately one error for all three."""

    recorded = False
    code = "token_invalid"


class TotpRequired(DomainError):
    recorded = False
    code = "totp_required"


class TotpInvalid(DomainError):
    recorded = False
    code = "totp_invalid"


class TotpAlreadyEnabled(DomainError):
    code = "totp_already_enabled"


class TotpNotEnabled(DomainError):
    code = "totp_not_enabled"


class EmailTaken(DomainError):
    code = "email_taken"


def check_email(email: str) -> str:
    """The normalised address (stripped, lower-case), or InvalidEmail. Deliberately simple:
    whether the address receives mail is what e-mail verification finds out."""
    normalised = email.strip().lower()
    local, at_sign, domain = normalised.partition("@")
    sane = (
        at_sign == "@"
        and 0 < len(normalised) <= MAX_EMAIL_LENGTH
        and local
        and "@" not in domain
        and "." in domain
        and not domain.startswith(".")
        and not domain.endswith(".")
        and normalised.isprintable()
        and not any(c.isspace() for c in normalised)
    )
    if not sane:
        raise InvalidEmail("an e-mail address looks like name@example.org")
    return normalised


def check_password(password: str, email: str) -> None:
    """Length is what makes a password strong; refuse only what is plainly guessable."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"a password has {MIN_PASSWORD_LENGTH}..{MAX_PASSWORD_LENGTH} characters"
        )
    if password.strip().lower() == email.strip().lower():
        raise WeakPassword("a password may not be the e-mail address")
    if len(set(password)) == 1:
        raise WeakPassword("a password may not repeat one character")


def device_of(user_agent: str) -> str:
    """A short, stable fingerprint of the client software (new-device alerts, risk signals)."""
    return hashlib.sha256(user_agent.encode()).hexdigest()[:16]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_matches(
    digest: str | None, expires_at: datetime | None, token: str, at: datetime
) -> bool:
    if digest is None or expires_at is None or at >= expires_at:
        return False
    return hmac.compare_digest(digest, token_digest(token))


class PlayerAccount(Aggregate):
    """``sessions`` keeps revoked and expired sessions only until the next login prunes them."""

    @staticmethod
    def create_id(email: str, **_: Any) -> UUID:
        return ids.account_id(email)

    @classmethod
    def register(
        cls,
        email: str,
        player_id: str,
        password_hash: str,
        at: datetime,
        cause: Cause,
        ip: str = "",
        referrer: str | None = None,
        signup_bonus: int = 0,
        referral_bonus: int = 0,
    ) -> PlayerAccount:
        """``ip``: the client's address, kept for the limit of accounts per address and for
        finding players who share one. ``referrer``: the referring player's id or referral
        code, as given. ``signup_bonus`` and ``referral_bonus`` (minor units, 0 = none): the
        reward centre's offers in force now, kept so the bonuses paid later are these."""
        normalised = check_email(email)
        if not player_id or len(player_id) > 100:
            raise InvalidArgument("player id must be 1..100 characters")
        if not password_hash:
            raise InvalidArgument("an account needs a password hash")
        if referrer is not None and not _REFERRER.match(referrer):
            raise InvalidArgument("a referrer is 1..100 of A-Z, a-z, 0-9, '-', '_'")
        for bonus in (signup_bonus, referral_bonus):
            if type(bonus) is not int or not 0 <= bonus <= MAX_AMOUNT_MINOR:
                raise InvalidArgument(f"a bonus is an integer in [0, {MAX_AMOUNT_MINOR}]")
        return cls(
            email=normalised,
            player_id=player_id,
            password_hash=password_hash,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
            ip=ip[:MAX_IP_LENGTH],
            referrer=referrer,
            signup_bonus=signup_bonus,
            referral_bonus=referral_bonus if referrer else 0,
        )

    @event("Registered")
    def __init__(
        self,
        email: str,
        player_id: str,
        password_hash: str,
        at: datetime,
        actor: str,
        request_id: str,
        ip: str = "",  # absent from accounts registered before the address was kept
        # Absent from accounts registered before the reward centre.
        referrer: str | None = None,
        signup_bonus: int = 0,
        referral_bonus: int = 0,
    ) -> None:
        self.email = email
        self.player_id = player_id
        self.password_hash = password_hash
        self.created_at = at
        self.registration_ip = ip
        self.referrer = referrer
        self.email_verified = False
        self.failed_logins = 0
        self.locked_until: datetime | None = None
        self.sessions: dict[str, dict[str, Any]] = {}
        self.known_devices: list[str] = []
        self.reset_token_hash: str | None = None
        self.reset_expires_at: datetime | None = None
        self.verification_token_hash: str | None = None
        self.verification_expires_at: datetime | None = None
        self.totp_secret: str | None = None  # pending until totp_enabled
        self.totp_enabled = False
        self.totp_last_step: int | None = None

    # ---- queries -------------------------------------------------------------------------------

    def is_locked(self, at: datetime) -> bool:
        return self.locked_until is not None and at < self.locked_until

    def open_sessions(self, at: datetime) -> dict[str, dict[str, Any]]:
        return {
            sid: s
            for sid, s in self.sessions.items()
            if s["revoked_at"] is None and at < s["expires_at"]
        }

    def check_not_locked(self, at: datetime) -> None:
        if self.is_locked(at):
            raise AccountLocked(f"too many failed logins: locked until {self.locked_until}")

    # ---- logins and sessions -------------------------------------------------------------------

    def log_in(
        self,
        session_id: str,
        ip: str,
        user_agent: str,
        expires_at: datetime,
        at: datetime,
        cause: Cause,
    ) -> bool:
        """Open a session (the password was checked by the caller: hashes are slow and are
        not the domain's business). A success resets the failure count. Returns whether the
        login came from a device this account has not used before."""
        self.check_not_locked(at)
        if not session_id or len(session_id) > 100 or session_id in self.sessions:
            raise InvalidArgument("a session id must be new and 1..100 characters")
        if expires_at <= at:
            raise InvalidArgument("a session must expire after it opens")
        device = device_of(user_agent)
        # The very first login has nothing to compare with: not worth a security alert.
        new_device = bool(self.known_devices) and device not in self.known_devices
        still_open = self.open_sessions(at)
        self._logged_in(
            session_id=session_id,
            ip=ip[:MAX_IP_LENGTH],
            user_agent=user_agent[:MAX_USER_AGENT_LENGTH],
            device=device,
            new_device=new_device,
            expires_at=expires_at,
            pruned=[sid for sid in self.sessions if sid not in still_open],
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        return new_device

    @event("LoggedIn")
    def _logged_in(
        self,
        session_id: str,
        ip: str,
        user_agent: str,
        device: str,
        new_device: bool,
        expires_at: datetime,
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
            "device": device,
            "revoked_at": None,
        }
        if device not in self.known_devices:
            self.known_devices = [*self.known_devices, device][-MAX_KNOWN_DEVICES:]
        self.failed_logins = 0

    def fail_login(self, ip: str, at: datetime, cause: Cause) -> None:
        """A wrong password: counted, and the fifth in a row locks the account for a while."""
        self.check_not_locked(at)
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
        # The count starts again after the lock: five more failures lock again.
        self.locked_until = until
        self.failed_logins = 0

    def rehash_password(self, password_hash: str, at: datetime, cause: Cause) -> None:
        """The same password under the current hashing parameters (done at a login)."""
        if not password_hash:
            raise InvalidArgument("a password hash may not be empty")
        self._password_rehashed(
            password_hash=password_hash, at=at, actor=cause.actor, request_id=cause.request_id
        )

    @event("PasswordRehashed")
    def _password_rehashed(
        self, password_hash: str, at: datetime, actor: str, request_id: str
    ) -> None:
        self.password_hash = password_hash

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

    @event("SessionRevoked")
    def _session_revoked(
        self, session_id: str, reason: str, at: datetime, actor: str, request_id: str
    ) -> None:
        self.sessions[session_id]["revoked_at"] = at

    # ---- passwords -----------------------------------------------------------------------------

    def change_password(
        self, password_hash: str, keep_session_id: str | None, at: datetime, cause: Cause
    ) -> list[str]:
        """A new password (the current one was checked by the caller); every other session
        ends, so whoever else knew the old password is logged out."""
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
        # A reset link mailed before the change must not undo it.
        self.reset_token_hash = None
        self.reset_expires_at = None

    def request_password_reset(self, token: str, at: datetime, cause: Cause) -> datetime:
        """Remember the token's hash for 30 minutes (a newer request replaces an older one)."""
        expires_at = at + RESET_TOKEN_TTL
        self._password_reset_requested(
            token_hash=token_digest(token),
            expires_at=expires_at,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        return expires_at

    @event("PasswordResetRequested")
    def _password_reset_requested(
        self, token_hash: str, expires_at: datetime, at: datetime, actor: str, request_id: str
    ) -> None:
        self.reset_token_hash = token_hash
        self.reset_expires_at = expires_at

    def check_reset_token(self, token: str, at: datetime) -> None:
        if not _token_matches(self.reset_token_hash, self.reset_expires_at, token, at):
            raise TokenInvalid("the reset link is wrong, expired or already used")

    def reset_password(self, token: str, password_hash: str, at: datetime, cause: Cause) -> None:
        """Whoever holds the mailed token sets a new password: every session ends, the token
        is used up, and a lock from failed logins is lifted."""
        self.check_reset_token(token, at)
        if not password_hash:
            raise InvalidArgument("a password hash may not be empty")
        self._password_reset(
            password_hash=password_hash,
            revoked=list(self.open_sessions(at)),
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("PasswordReset")
    def _password_reset(
        self, password_hash: str, revoked: list[str], at: datetime, actor: str, request_id: str
    ) -> None:
        self.password_hash = password_hash
        for sid in revoked:
            self.sessions[sid]["revoked_at"] = at
        self.reset_token_hash = None
        self.reset_expires_at = None
        self.locked_until = None
        self.failed_logins = 0

    # ---- e-mail verification -------------------------------------------------------------------

    def request_email_verification(self, token: str, at: datetime, cause: Cause) -> datetime:
        expires_at = at + VERIFICATION_TOKEN_TTL
        self._email_verification_requested(
            token_hash=token_digest(token),
            expires_at=expires_at,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )
        return expires_at

    @event("EmailVerificationRequested")
    def _email_verification_requested(
        self, token_hash: str, expires_at: datetime, at: datetime, actor: str, request_id: str
    ) -> None:
        self.verification_token_hash = token_hash
        self.verification_expires_at = expires_at

    def verify_email(self, token: str, at: datetime, cause: Cause) -> None:
        if not _token_matches(
            self.verification_token_hash, self.verification_expires_at, token, at
        ):
            raise TokenInvalid("the verification link is wrong, expired or already used")
        self._email_verified(at=at, actor=cause.actor, request_id=cause.request_id)

    @event("EmailVerified")
    def _email_verified(self, at: datetime, actor: str, request_id: str) -> None:
        self.email_verified = True
        self.verification_token_hash = None
        self.verification_expires_at = None

    # ---- TOTP ----------------------------------------------------------------------------------
    # Codes are checked by the caller (the TOTP maths lives behind a port); the domain gets the
    # matched time-step, or None for a wrong code, and refuses a step that was already used.

    def start_totp(self, secret: str, at: datetime, cause: Cause) -> None:
        if self.totp_enabled:
            raise TotpAlreadyEnabled("TOTP is already enabled; disable it first")
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

    def enable_totp(self, step: int | None, at: datetime, cause: Cause) -> None:
        """The first good code proves the authenticator app holds the pending secret."""
        if self.totp_enabled:
            raise TotpAlreadyEnabled("TOTP is already enabled")
        if self.totp_secret is None:
            raise TotpNotEnabled("no TOTP enrolment is pending: start one first")
        self._totp_enabled(
            step=self._unused(step), at=at, actor=cause.actor, request_id=cause.request_id
        )

    @event("TotpEnabled")
    def _totp_enabled(self, step: int, at: datetime, actor: str, request_id: str) -> None:
        self.totp_enabled = True
        self.totp_last_step = step

    def disable_totp(self, step: int | None, at: datetime, cause: Cause) -> None:
        self.check_totp_enabled()
        self._totp_disabled(
            step=self._unused(step), at=at, actor=cause.actor, request_id=cause.request_id
        )

    @event("TotpDisabled")
    def _totp_disabled(self, step: int, at: datetime, actor: str, request_id: str) -> None:
        self.totp_enabled = False
        self.totp_secret = None
        self.totp_last_step = step

    def use_totp(self, step: int | None, at: datetime, cause: Cause) -> None:
        """Step-up: a good code, used once."""
        self.check_totp_enabled()
        self._totp_used(
            step=self._unused(step), at=at, actor=cause.actor, request_id=cause.request_id
        )

    @event("TotpUsed")
    def _totp_used(self, step: int, at: datetime, actor: str, request_id: str) -> None:
        self.totp_last_step = step

    def check_totp_enabled(self) -> None:
        if not self.totp_enabled:
            raise TotpNotEnabled("TOTP is not enabled: enable it first")

    def _unused(self, step: int | None) -> int:
        """The matched step, if it is later than every step used before."""
        if step is None:
            raise TotpInvalid("the code is wrong")
        if self.totp_last_step is not None and step <= self.totp_last_step:
            # A code seen once (even by an eavesdropper) never works again, nor an older one.
            raise TotpInvalid("the code was already used")
        return step
