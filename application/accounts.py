"""Player accounts: registration, logins and sessions, password reset, e-mail verification, TOTP.

Every change runs through ``Commands.execute`` (a receipt per request, so a retry gets the first
answer). Slow password hashing happens outside the domain, through the ``PasswordHasher`` port;
TOTP maths through ``TotpCodes``. Receipts are stored in the event store too, so what a use case
returns from ``decide`` never holds a secret that its events do not already hold: raw one-time
tokens are attached afterwards, and a replayed request gets no token back (see ``_TokenIssued``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import NotFound
from application.ports import PasswordHasher, RegistrationsByIp, TotpCodes
from domain import ids
from domain.account import (
    EmailTaken,
    InvalidCredentials,
    PlayerAccount,
    TokenInvalid,
    TotpRequired,
    check_email,
    check_password,
    token_digest,
)
from domain.cause import Cause
from domain.errors import AccountFrozen, DomainError
from domain.wallet import FreezeScope, Wallet

__all__ = [
    "replacement_hash",
    "AccountChanges",
    "AccountView",
    "Accounts",
    "LoginResult",
    "ResetToken",
    "SessionView",
    "TokenAlreadyIssued",
    "TooManyAccounts",
    "TotpEnrolment",
    "VerificationToken",
]

R = TypeVar("R")
_MAX_TOKEN_LENGTH = 200


class TokenAlreadyIssued(DomainError):
    """A retried request that issued a one-time token: the raw token cannot be given again."""

    recorded = False
    code = "token_already_issued"


class TooManyAccounts(DomainError):
    """The client's address already registered the allowed number of accounts."""

    recorded = False
    code = "too_many_accounts"


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: str
    player_id: str
    email: str
    email_verified: bool
    totp_enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, account: PlayerAccount) -> AccountView:
        return cls(
            account_id=str(account.id),
            player_id=account.player_id,
            email=account.email,
            email_verified=account.email_verified,
            totp_enabled=account.totp_enabled,
            created_at=account.created_at,
        )


@dataclass(frozen=True, slots=True)
class LoginResult:
    account_id: str
    player_id: str
    session_id: str
    expires_at: datetime
    new_device: bool


@dataclass(frozen=True, slots=True)
class SessionView:
    session_id: str
    account_id: str
    player_id: str
    opened_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    current: bool = False

    @classmethod
    def of(
        cls, account: PlayerAccount, session_id: str, session: Mapping[str, Any], current: bool
    ) -> SessionView:
        return cls(
            session_id=session_id,
            account_id=str(account.id),
            player_id=account.player_id,
            opened_at=session["opened_at"],
            expires_at=session["expires_at"],
            ip=session["ip"],
            user_agent=session["user_agent"],
            current=current,
        )


@dataclass(frozen=True, slots=True)
class ResetToken:
    account_id: str
    email: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class VerificationToken:
    account_id: str
    email: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str
    provisioning_uri: str


# ---- what the receipts store (plain values, no raw secrets) --------------------------------


@dataclass(frozen=True, slots=True)
class _LoginAttempt:
    """A wrong password is saved (it counts towards the lock) and only then refused."""

    succeeded: bool
    account_id: str
    player_id: str
    session_id: str
    expires_at: datetime | None
    new_device: bool


@dataclass(frozen=True, slots=True)
class _TokenIssued:
    """The token's hash only. The raw token exists in the process that made it and in the mail;
    a retried request (its receipt replayed) finds a hash that is not its own token's."""

    account_id: str
    email: str
    token_hash: str
    expires_at: datetime

    def made_from(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, token_digest(token))


@dataclass(frozen=True, slots=True)
class _Revoked:
    revoked: list[str]


@dataclass(frozen=True, slots=True)
class _Done:
    pass


def _new_token(account_id: UUID) -> str:
    # The account id up front lets the token find its account without an index of tokens.
    return f"{account_id.hex}.{secrets.token_urlsafe(32)}"


def _account_of_token(token: str) -> UUID | None:
    head, dot, rest = token.partition(".")
    if not dot or not rest or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return _uuid(head)


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _step_up_cause(cause: Cause) -> Cause:
    """A TOTP step-up is its own command inside another request (a withdrawal): it keeps a
    receipt of its own, so the request's own command can still record its receipt."""
    request_id = f"totp:{cause.request_id}"
    if len(request_id) > 200:
        request_id = "totp:" + hashlib.sha256(cause.request_id.encode()).hexdigest()
    return Cause(cause.actor, request_id)


def replacement_hash(
    hasher: PasswordHasher, stored_hash: str, email: str, current: str, new: str
) -> str:
    """The hash of a new password, once the current one is proven and the new one is allowed
    (players and operators change passwords by the same rule)."""
    if not hasher.verify(stored_hash, current):
        raise InvalidCredentials("the current password is wrong")
    check_password(new, email)
    return hasher.hash(new)


MAX_KNOWN_ACCOUNTS = 100_000  # accounts whose unrevoked sessions session_open keeps
CHANGES_PAGE = 1_000  # account notifications read at a time by account_changes
# Every kind of event an account records (a session opened, revoked, a password changed…).
_ACCOUNT_TOPICS = tuple(
    get_topic(cls)
    for cls in vars(PlayerAccount).values()
    if isinstance(cls, type) and issubclass(cls, PlayerAccount.Event)
)


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """What ``account_changes`` found: the notification id it read up to, and the ids of the
    accounts with an event after the one it was asked from."""

    position: int
    accounts: frozenset[str]


class Accounts:
    def __init__(
        self,
        commands: Commands,
        clock: Clock,
        hasher: PasswordHasher,
        totp: TotpCodes,
        currency: str,
        session_ttl: timedelta = timedelta(days=7),
        registrations: RegistrationsByIp | None = None,
        max_accounts_per_ip: int | None = None,
        signup_bonus: int = 0,
        referral_bonus: int = 0,
    ) -> None:
        """``registrations`` and ``max_accounts_per_ip``: registering from an address that
        already has that many accounts is refused (no limit when either is None).
        ``signup_bonus`` and ``referral_bonus``: the reward centre's offers (minor units, 0 =
        off), recorded with each registration; the rewards process manager pays them."""
        self._commands = commands
        self._signup_bonus = signup_bonus
        self._referral_bonus = referral_bonus
        self._registrations = registrations
        self._max_accounts_per_ip = max_accounts_per_ip
        self._clock = clock
        self._hasher = hasher
        self._totp = totp
        self._currency = currency
        self._session_ttl = session_ttl
        self._dummy_hash: str | None = None
        # account -> (the version it was read at, each unrevoked session's expiry then): what
        # ``session_open`` answers from while the account has no later event.
        self._unrevoked: dict[UUID, tuple[int, dict[str, datetime]]] = {}

    # ---- registration and reads ----------------------------------------------------------------

    def register(
        self,
        email: str,
        password: str,
        cause: Cause,
        ip: str = "",
        referrer: str | None = None,
    ) -> AccountView:
        """Create the account and open the player's wallet in the same save. An e-mail address
        (case-insensitive) registers once: the account's stream id is derived from it. ``ip``
        is the client's address: recorded, and limited to a number of accounts. ``referrer``:
        the referring player's id or referral code (the referral bonus, if on, is paid once
        this player deposits, unless the two share a device or address)."""
        normalised = check_email(email)
        check_password(password, normalised)
        self._check_registrations_from(ip)
        player_id = uuid4().hex
        password_hash = self._hasher.hash(password)

        def decide(unit: Unit) -> AccountView:
            if unit.find(PlayerAccount, ids.account_id(normalised)) is not None:
                raise EmailTaken("this e-mail address is already registered")
            account = PlayerAccount.register(
                normalised,
                player_id,
                password_hash,
                self._clock(),
                cause,
                ip,
                referrer=referrer,
                signup_bonus=self._signup_bonus,
                referral_bonus=self._referral_bonus,
            )
            unit.add(account, Wallet.open(player_id, self._currency, cause))
            return AccountView.of(account)

        # Requests before referrals existed had no referrer: their fingerprints stay the same.
        params = {"email": normalised}
        if referrer is not None:
            params["referrer"] = referrer
        return self._commands.execute("register", cause, params, decide, AccountView)

    def _check_registrations_from(self, ip: str) -> None:
        limit, registrations = self._max_accounts_per_ip, self._registrations
        if not ip or limit is None or registrations is None:
            return
        if registrations.accounts_registered_from(ip) >= limit:
            raise TooManyAccounts(f"at most {limit} accounts may be registered from one address")

    def account(self, account_id: str) -> AccountView:
        return AccountView.of(self._get(account_id))

    def session(self, account_id: str, session_id: str) -> SessionView | None:
        """The session if it is open now (not revoked, not expired), else None."""
        account = self._find(account_id)
        if account is None:
            return None
        found = account.open_sessions(self._clock()).get(session_id)
        return None if found is None else SessionView.of(account, session_id, found, True)

    def session_open(self, account_id: str, session_id: str) -> bool:
        """Whether the session is open now: the same answer as ``session``."""
        expires_at = self.session_expiry(account_id, session_id)
        return expires_at is not None and self._clock() < expires_at

    def session_expiry(self, account_id: str, session_id: str) -> datetime | None:
        """When the session expires if it is not revoked (None: revoked, unknown, or no such
        account), from what this process last read of the account while the store holds no
        later event of it (one indexed select that finds nothing, instead of loading and
        copying the account)."""
        uuid = _uuid(account_id)
        if uuid is None:
            return None
        known = self._unrevoked.get(uuid)
        recorder = self._commands.ledger.recorder
        if known is None or recorder.select_events(uuid, gt=known[0], limit=1):
            account = Unit(self._commands.ledger).find(PlayerAccount, uuid)
            if account is None:
                return None
            known = (
                account.version,
                {
                    sid: s["expires_at"]
                    for sid, s in account.sessions.items()
                    if s["revoked_at"] is None
                },
            )
            if len(self._unrevoked) >= MAX_KNOWN_ACCOUNTS:
                self._unrevoked.clear()
            self._unrevoked[uuid] = known
        return known[1].get(session_id)

    def account_changes(self, after: int | None) -> AccountChanges:
        """The accounts with an event recorded after notification ``after``, read up to where
        the log ends now (``after`` None: nothing, only where it ends). Notification ids are
        committed in order (the recorder's table lock), so reading on from ``position`` misses
        none."""
        recorder = self._commands.ledger.recorder
        head = recorder.max_notification_id() or 0
        if after is None or head <= after:
            return AccountChanges(head if after is None else after, frozenset())
        changed: set[str] = set()
        start = after + 1
        while True:
            page = recorder.select_notifications(
                start, CHANGES_PAGE, stop=head, topics=_ACCOUNT_TOPICS
            )
            changed.update(str(n.originator_id) for n in page)
            if len(page) < CHANGES_PAGE:
                return AccountChanges(head, frozenset(changed))
            start = page[-1].id + 1

    def sessions(self, account_id: str, current_session_id: str | None = None) -> list[SessionView]:
        """The open sessions, newest first; ``current_session_id`` is marked ``current``."""
        account = self._get(account_id)
        views = [
            SessionView.of(account, sid, s, sid == current_session_id)
            for sid, s in account.open_sessions(self._clock()).items()
        ]
        return sorted(views, key=lambda v: v.opened_at, reverse=True)

    # ---- logins and sessions -------------------------------------------------------------------

    def login(
        self, email: str, password: str, ip: str, user_agent: str, cause: Cause
    ) -> LoginResult:
        """Check the password and open a session. Unknown e-mail and wrong password are the
        same error and take the same time; five wrong passwords in a row lock the account."""
        account = self._find_by_email(email)
        if account is None:
            self._hasher.verify(self._dummy(), password)
            raise InvalidCredentials("wrong e-mail or password")
        checked = account.password_hash
        password_ok = self._hasher.verify(checked, password)
        rehashed = (
            self._hasher.hash(password)
            if password_ok and self._hasher.needs_rehash(checked)
            else None
        )
        session_id = uuid4().hex

        def decide(unit: Unit) -> _LoginAttempt:
            acc = unit.get(PlayerAccount, account.id)
            at = self._clock()
            acc.check_not_locked(at)
            same_hash = acc.password_hash == checked
            if not (password_ok if same_hash else self._hasher.verify(acc.password_hash, password)):
                acc.fail_login(ip, at, cause)
                return _LoginAttempt(False, str(acc.id), acc.player_id, "", None, False)
            self._check_not_frozen(acc.player_id)
            expires_at = at + self._session_ttl
            new_device = acc.log_in(session_id, ip, user_agent, expires_at, at, cause)
            if rehashed is not None and same_hash:
                acc.rehash_password(rehashed, at, cause)
            return _LoginAttempt(
                True, str(acc.id), acc.player_id, session_id, expires_at, new_device
            )

        # The password's check (never the password) is part of the request: a retry of this
        # request id with another password is refused instead of replaying a success.
        params = {"email": account.email, "ip": ip, "agent": user_agent, "ok": password_ok}
        attempt = self._commands.execute("login", cause, params, decide, _LoginAttempt)
        if not attempt.succeeded or attempt.expires_at is None:
            raise InvalidCredentials("wrong e-mail or password")
        return LoginResult(
            attempt.account_id,
            attempt.player_id,
            attempt.session_id,
            attempt.expires_at,
            attempt.new_device,
        )

    def revoke_session(
        self, account_id: str, session_id: str, cause: Cause, reason: str = "revoked"
    ) -> None:
        """End one of the account's open sessions (logout, or from the sessions list)."""

        def act(account: PlayerAccount, at: datetime) -> _Done:
            account.revoke_session(session_id, reason, at, cause)
            return _Done()

        self._on_account("revoke_session", account_id, cause, {"session": session_id}, act, _Done)

    def revoke_all_sessions(self, account_id: str, reason: str, cause: Cause) -> list[str]:
        """Force a logout: end every open session of the account (an operator's action).
        Returns the ended sessions' ids."""

        def act(account: PlayerAccount, at: datetime) -> _Revoked:
            ended = list(account.open_sessions(at))
            for session_id in ended:
                account.revoke_session(session_id, reason, at, cause)
            return _Revoked(ended)

        params = {"reason": reason}
        return self._on_account(
            "revoke_all_sessions", account_id, cause, params, act, _Revoked
        ).revoked

    # ---- passwords -----------------------------------------------------------------------------

    def change_password(
        self,
        account_id: str,
        current_password: str,
        new_password: str,
        keep_session_id: str | None,
        cause: Cause,
    ) -> list[str]:
        """Set a new password; every session but ``keep_session_id`` ends. Returns their ids."""

        def act(account: PlayerAccount, at: datetime) -> _Revoked:
            new_hash = replacement_hash(
                self._hasher, account.password_hash, account.email, current_password, new_password
            )
            return _Revoked(account.change_password(new_hash, keep_session_id, at, cause))

        params = {"keep": keep_session_id}
        return self._on_account("change_password", account_id, cause, params, act, _Revoked).revoked

    def request_password_reset(self, email: str, cause: Cause) -> ResetToken | None:
        """A single-use token (30 minutes) to mail to the address. None for an unknown address
        (the caller answers the same either way), and None when this request already ran: its
        token went out then and is stored only as a hash."""
        normalised = check_email(email)
        account = self._find_by_email(normalised)
        if account is None:
            return None
        token = _new_token(account.id)

        def act(acc: PlayerAccount, at: datetime) -> _TokenIssued:
            expires_at = acc.request_password_reset(token, at, cause)
            return _TokenIssued(str(acc.id), acc.email, token_digest(token), expires_at)

        issued = self._on_account(
            "request_password_reset", str(account.id), cause, {}, act, _TokenIssued
        )
        if not issued.made_from(token):
            return None
        return ResetToken(issued.account_id, issued.email, token, issued.expires_at)

    def confirm_password_reset(self, token: str, new_password: str, cause: Cause) -> None:
        """Set a new password with a mailed token: every session ends and a lock is lifted.
        A wrong, expired or used token is TokenInvalid, whatever the reason."""

        def decide(unit: Unit) -> _Done:
            account = self._account_of_token(unit, token)
            at = self._clock()
            # Cheap check first: a bad token must not cost a password hash.
            account.check_reset_token(token, at)
            check_password(new_password, account.email)
            account.reset_password(token, self._hasher.hash(new_password), at, cause)
            return _Done()

        params = {"token": token_digest(token)}
        self._commands.execute("confirm_password_reset", cause, params, decide, _Done)

    # ---- e-mail verification -------------------------------------------------------------------

    def request_email_verification(self, account_id: str, cause: Cause) -> VerificationToken:
        """A token (48 hours) to mail to the account's address. TokenAlreadyIssued when this
        request already ran: its token went out then and is stored only as a hash."""
        uuid = _uuid(account_id)
        if uuid is None:
            raise NotFound(f"account {account_id} not found")
        token = _new_token(uuid)

        def act(acc: PlayerAccount, at: datetime) -> _TokenIssued:
            expires_at = acc.request_email_verification(token, at, cause)
            return _TokenIssued(str(acc.id), acc.email, token_digest(token), expires_at)

        issued = self._on_account(
            "request_email_verification", account_id, cause, {}, act, _TokenIssued
        )
        if not issued.made_from(token):
            raise TokenAlreadyIssued("this request already issued its token; send a new request")
        return VerificationToken(issued.account_id, issued.email, token, issued.expires_at)

    def verify_email(self, token: str, cause: Cause) -> None:
        """Mark the address verified with the mailed token (single use, 48 hours)."""

        def decide(unit: Unit) -> _Done:
            self._account_of_token(unit, token).verify_email(token, self._clock(), cause)
            return _Done()

        params = {"token": token_digest(token)}
        self._commands.execute("verify_email", cause, params, decide, _Done)

    # ---- TOTP ----------------------------------------------------------------------------------

    def start_totp(self, account_id: str, cause: Cause) -> TotpEnrolment:
        """A new pending secret for the player's authenticator app; enabled by a first code."""
        secret = self._totp.new_secret()

        def act(account: PlayerAccount, at: datetime) -> TotpEnrolment:
            account.start_totp(secret, at, cause)
            return TotpEnrolment(secret, self._totp.provisioning_uri(secret, account.email))

        return self._on_account("start_totp", account_id, cause, {}, act, TotpEnrolment)

    def enable_totp(self, account_id: str, code: str, cause: Cause) -> None:
        """Turn TOTP on with a code from the pending secret."""

        def act(account: PlayerAccount, at: datetime) -> _Done:
            account.enable_totp(self._step(account, code, at), at, cause)
            return _Done()

        self._on_account("enable_totp", account_id, cause, {"code": code}, act, _Done)

    def disable_totp(self, account_id: str, code: str, cause: Cause) -> None:
        """Turn TOTP off; it takes a current code."""

        def act(account: PlayerAccount, at: datetime) -> _Done:
            account.disable_totp(self._step(account, code, at), at, cause)
            return _Done()

        self._on_account("disable_totp", account_id, cause, {"code": code}, act, _Done)

    def check_totp(self, account_id: str, code: str | None, cause: Cause) -> None:
        """Step-up for a sensitive action: a good, unused code, or TotpNotEnabled,
        TotpRequired, TotpInvalid. Its receipt is kept under ``totp:<request id>``, so the
        action's own command can run with the same cause afterwards."""

        def act(account: PlayerAccount, at: datetime) -> _Done:
            account.check_totp_enabled()
            if code is None:
                raise TotpRequired("this action needs a code from your authenticator app")
            account.use_totp(self._step(account, code, at), at, cause)
            return _Done()

        step_up = _step_up_cause(cause)
        self._on_account("check_totp", account_id, step_up, {"code": code}, act, _Done)

    # ---- helpers -------------------------------------------------------------------------------

    def _on_account(
        self,
        command: str,
        account_id: str,
        cause: Cause,
        params: Mapping[str, object],
        act: Callable[[PlayerAccount, datetime], R],
        result_type: type[R],
    ) -> R:
        def decide(unit: Unit) -> R:
            uuid = _uuid(account_id)
            if uuid is None:
                raise NotFound(f"account {account_id} not found")
            return act(unit.get(PlayerAccount, uuid), self._clock())

        return self._commands.execute(
            command, cause, {"account": account_id, **params}, decide, result_type
        )

    def _find(self, account_id: str) -> PlayerAccount | None:
        uuid = _uuid(account_id)
        return None if uuid is None else Unit(self._commands.ledger).find(PlayerAccount, uuid)

    def _get(self, account_id: str) -> PlayerAccount:
        account = self._find(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        return account

    def _find_by_email(self, email: str) -> PlayerAccount | None:
        return Unit(self._commands.ledger).find(PlayerAccount, ids.account_id(email))

    def _account_of_token(self, unit: Unit, token: str) -> PlayerAccount:
        uuid = _account_of_token(token)
        account = None if uuid is None else unit.find(PlayerAccount, uuid)
        if account is None:
            raise TokenInvalid("the link is wrong, expired or already used")
        return account

    def _check_not_frozen(self, player_id: str) -> None:
        wallet = Unit(self._commands.ledger).find(Wallet, ids.wallet_id(player_id))
        if wallet is not None and wallet.is_frozen_for(FreezeScope.ACCOUNT):
            raise AccountFrozen("this account is frozen; contact support")

    def _step(self, account: PlayerAccount, code: str, at: datetime) -> int | None:
        secret = account.totp_secret
        return None if secret is None else self._totp.step_for(secret, code, at)

    def _dummy(self) -> str:
        """A hash to verify against when the e-mail is unknown, made with the same parameters
        as real ones, so a login takes as long whether the address exists or not."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
