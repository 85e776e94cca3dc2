"""Which players' sessions this process trusts as open without asking the store.

A session is checked in the store (``Accounts.session_expiry``, in a worker thread) the first
time a request shows it. After that its check is trusted:

- for ``CHECK_TTL_S`` in any case (the rule when nothing watches the store);
- while ``watch`` keeps up, until the account records another event or ``MAX_TRUST_S`` passes.
  ``watch`` reads every ``WATCH_INTERVAL_S`` which accounts recorded events since its last
  read (``Accounts.account_changes``: one read for the whole process, however many sessions
  it trusts) and forgets their sessions' checks;
- never past the session's own expiry (on the system clock).

So a session revoked in another process stops working here within ``WATCH_STALE_S`` of the
revocation's commit while the watcher keeps up (typically one interval), and within
``CHECK_TTL_S`` when it does not (the store unreachable); in this process at once
(``forget``). Before, every session was checked in the store again every two seconds on the
request path, each check a worker-thread hop and a select.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio

from application.accounts import AccountChanges

__all__ = [
    "CHECK_TTL_S",
    "MAX_TRUST_S",
    "WATCH_INTERVAL_S",
    "WATCH_STALE_S",
    "SessionChecks",
]

log = logging.getLogger(__name__)

CHECK_TTL_S = 2.0
WATCH_INTERVAL_S = 0.25
WATCH_STALE_S = 1.0  # a read that began longer ago than this no longer vouches for a check
MAX_TRUST_S = 60.0
MAX_CHECKS = 100_000

SessionExpiry = Callable[[str, str], datetime | None]
ChangesSince = Callable[[int | None], AccountChanges]


@dataclass(frozen=True, slots=True)
class _Check:
    account_id: str
    at: float  # monotonic time the check began
    expires_at: datetime
    watched: bool  # began after the watcher's first read (its changes then reach it)


class SessionChecks:
    def __init__(
        self,
        session_expiry: SessionExpiry,
        account_changes: ChangesSince,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_expiry = session_expiry
        self._account_changes = account_changes
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checks: dict[str, _Check] = {}  # session id -> its check
        self._sessions_of: dict[str, set[str]] = {}  # account id -> its checked sessions
        # The watcher's: the notification id read up to (None: not read yet), when its last
        # applied read began, and the position at which each account was last seen changed.
        self._position: int | None = None
        self._watched_at = float("-inf")
        self._changed_at: dict[str, int] = {}

    def trusted(self, session_id: str) -> bool:
        """Whether the session's check may be trusted now (no store lookup)."""
        check = self._checks.get(session_id)
        if check is None:
            return False
        now = self._monotonic()
        age = now - check.at
        if age >= MAX_TRUST_S or self._clock() >= check.expires_at:
            return False
        return age < CHECK_TTL_S or (check.watched and now - self._watched_at < WATCH_STALE_S)

    async def check(self, account_id: str, session_id: str) -> bool:
        """Ask the store whether the session is open now, and trust the answer from then on."""
        began, since = self._monotonic(), self._position
        expires_at = await anyio.to_thread.run_sync(self._session_expiry, account_id, session_id)
        with self._lock:
            if expires_at is None or self._clock() >= expires_at:
                self._drop(session_id)
                return False
            if since is not None and self._changed_at.get(account_id, -1) > since:
                return True  # the account changed while it was read: open then, not trusted
            if len(self._checks) >= MAX_CHECKS:
                self._forget_all()
            self._checks[session_id] = _Check(account_id, began, expires_at, since is not None)
            self._sessions_of.setdefault(account_id, set()).add(session_id)
        return True

    def forget(self, session_id: str) -> None:
        """This process revoked the session: stop trusting its check at once."""
        with self._lock:
            self._drop(session_id)

    async def watch(self) -> None:
        """Forget the checks of accounts that record events, every ``WATCH_INTERVAL_S``, until
        cancelled. A failed read is retried; meanwhile checks are trusted for ``CHECK_TTL_S``."""
        failing = False
        while True:
            began = self._monotonic()
            try:
                changes = await anyio.to_thread.run_sync(self._account_changes, self._position)
            except Exception as error:  # the store is down: the checks' own TTL applies
                if not failing:
                    log.warning("session watcher: cannot read account changes: %s", error)
                failing = True
            else:
                failing = False
                self.apply(changes, began)
            await asyncio.sleep(WATCH_INTERVAL_S)

    def apply(self, changes: AccountChanges, began: float) -> None:
        """What a read that began at ``began`` found."""
        with self._lock:
            if len(self._changed_at) + len(changes.accounts) > MAX_CHECKS:
                self._changed_at.clear()
                self._forget_all()  # no check may outlive the record of its account's change
            for account_id in changes.accounts:
                self._changed_at[account_id] = changes.position
                for session_id in self._sessions_of.pop(account_id, ()):
                    self._checks.pop(session_id, None)
            self._position = changes.position
            self._watched_at = began

    def _drop(self, session_id: str) -> None:
        check = self._checks.pop(session_id, None)
        if check is not None:
            sessions = self._sessions_of.get(check.account_id)
            if sessions is not None:
                sessions.discard(session_id)
                if not sessions:
                    del self._sessions_of[check.account_id]

    def _forget_all(self) -> None:
        self._checks.clear()
        self._sessions_of.clear()
