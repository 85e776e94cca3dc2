"""The notification outbox and its worker.

Rows come from the ``notifications`` projection (withdrawal status changes, security alerts)
and from ``Outbox.enqueue`` (mails no event may carry, such as a password-reset link: the raw
token never goes into an event). ``Notifier`` delivers them:

* **Claim** up to ``limit`` due rows in one short transaction: each gets a claim token and its
  ``next_attempt_at`` moves ``claim_s`` ahead (a lease). On Postgres the rows are chosen with
  ``FOR UPDATE SKIP LOCKED``, so concurrent workers take different rows and never wait on each
  other; on SQLite the transaction is ``BEGIN IMMEDIATE``, which serialises claimers.
* **Send** outside any transaction (a slow mail server holds no lock, nor the SQLite store),
  then record the result under the claim token: ``sent``; or, on ``MailError``, one more
  attempt and a retry after ``min(max_delay_s, base_delay_s · 2^attempts)`` (jittered down to
  half), until ``max_attempts`` makes it ``dead`` — the dead-letter list an operator reads and
  retries.
* **At least once**: a crash between sending and recording, or a send that outlasts its lease,
  sends that mail again once the lease ends (the Message-ID, derived from the row id, lets a
  mail client see it is the same mail). Never zero times while the row exists.
* **Stale** rows — never tried and older than ``stale_after_s`` — are dead-lettered instead of
  sent: the first start on a long history, or a projector that was down for days, must not mail
  players about last month. An operator can still send them with ``retry_dead``.
"""

# ruff: noqa: S608 - SQL names the outbox table from a constant, never from input.
from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from application.clock import Clock, system_clock
from infrastructure.mail import Mail, MailSender
from projections.base import iso
from projections.notifications import OUTBOX, create_outbox
from projections.store import ReadStore

__all__ = ["Notifier", "Outbox", "OutboxRow"]

log = logging.getLogger(__name__)

_COLUMNS = (
    "id, kind, recipient, subject, body, attempts, state, next_attempt_at, last_error,"
    " created_at, sent_at"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    kind: str
    to: str
    subject: str
    body: str
    attempts: int
    state: str  # pending | sent | dead
    next_attempt_at: str | None  # None: due now
    last_error: str | None
    created_at: str
    sent_at: str | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> OutboxRow:
        id_, kind, to, subject, body, attempts, state, next_at, error, created, sent = row
        return cls(
            id_, kind, to, subject, body, int(attempts), state, next_at, error, created, sent
        )


class Outbox:
    """Queues mails that no event drives. Keys are the caller's (say ``reset:{request id}``):
    queueing the same key again changes nothing."""

    def __init__(self, store: ReadStore, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock
        self._created = False

    def _table(self) -> None:
        if not self._created:
            create_outbox(self._store)
            self._created = True

    def enqueue(
        self, key: str, to: str, subject: str, body: str, player_id: str | None = None
    ) -> str:
        """Returns the row id (``key:{key}``, apart from the projection's ids)."""
        self._table()
        row_id = f"key:{key}"
        with self._store.transaction() as tx:
            tx.execute(
                f"INSERT INTO {OUTBOX} (id, kind, player_id, recipient, subject, body, created_at)"
                " VALUES (%s, 'direct', %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (row_id, player_id, to, subject, body, iso(self._clock())),
            )
        return row_id

    def get(self, row_id: str) -> OutboxRow | None:
        self._table()
        with self._store.transaction() as tx:
            row = tx.fetchone(f"SELECT {_COLUMNS} FROM {OUTBOX} WHERE id = %s", (row_id,))
        return OutboxRow.of(row) if row else None

    def rows(self, state: str, limit: int = 50) -> list[OutboxRow]:
        """Rows in ``state``, newest first."""
        self._table()
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT {_COLUMNS} FROM {OUTBOX} WHERE state = %s"
                " ORDER BY created_at DESC, id DESC LIMIT %s",
                (state, limit),
            )
        return [OutboxRow.of(r) for r in rows]


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: str
    to: str
    subject: str
    body: str
    attempts: int


class Notifier:
    def __init__(
        self,
        store: ReadStore,
        sender: MailSender,
        clock: Clock = system_clock,
        max_attempts: int = 8,
        base_delay_s: float = 2,
        max_delay_s: float = 600,
        *,
        claim_s: float = 300,
        stale_after_s: float | None = 2 * 86_400,
        poll_s: float = 1.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._claim_s = claim_s
        self._stale_after_s = stale_after_s
        self._poll_s = poll_s
        self._jitter = jitter
        self._outbox = Outbox(store, clock)

    def run_once(self, limit: int = 20) -> int:
        """Claim and send up to ``limit`` due mails; returns how many were tried."""
        self._outbox._table()
        token = secrets.token_hex(8)
        claimed = self._claim(token, limit)
        started = time.monotonic()
        for index, row in enumerate(claimed):
            if time.monotonic() - started > self._claim_s / 2:  # the lease is running out
                self._release(token, [r.id for r in claimed[index:]])
                return index
            try:
                self._sender.send(Mail(row.to, row.subject, row.body, row.id))
            except Exception as error:  # a MailError, or a sender's bug: retried the same way
                self._failed(token, row, error)
            else:
                self._sent(token, row)
        return len(claimed)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: deliver what is due, then wait ``poll_s``. Never raises."""
        delay = self._poll_s
        while not stop.is_set():
            try:
                tried = self.run_once()
                delay = self._poll_s
            except Exception as error:  # the store went away: keep trying
                log.warning("notifier failed, retrying in %.1fs: %r", delay, error)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            if not tried:
                stop.wait(self._poll_s)

    def dead_letters(self, limit: int = 50) -> list[OutboxRow]:
        """Mails given up on (attempts exhausted, or stale), newest first."""
        return self._outbox.rows("dead", limit)

    def retry_dead(self, row_id: str) -> bool:
        """Queue a dead mail again with fresh attempts; False if it is not dead."""
        with self._store.transaction() as tx:
            changed = tx.execute(
                f"UPDATE {OUTBOX} SET state = 'pending', attempts = 0, next_attempt_at = NULL,"
                " claim = NULL WHERE id = %s AND state = 'dead'",
                (row_id,),
            )
        return changed == 1

    # ---- steps ---------------------------------------------------------------------------------

    def _claim(self, token: str, limit: int) -> list[_Claimed]:
        now = self._clock()
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._store.dialect == "postgres" else ""
        with self._store.transaction() as tx:
            if self._stale_after_s is not None:
                # Never claimed nor retried by an operator (those have a last_error).
                tx.execute(
                    f"UPDATE {OUTBOX} SET state = 'dead', last_error = %s WHERE state = 'pending'"
                    " AND attempts = 0 AND claim IS NULL AND last_error IS NULL"
                    " AND created_at < %s",
                    (
                        f"stale: not sent within {self._stale_after_s:.0f} s of its event",
                        iso(now - timedelta(seconds=self._stale_after_s)),
                    ),
                )
            rows = tx.fetchall(
                f"UPDATE {OUTBOX} SET claim = %s, next_attempt_at = %s WHERE id IN"
                f" (SELECT id FROM {OUTBOX} WHERE state = 'pending'"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
                f" ORDER BY created_at, id LIMIT %s{skip_locked})"
                " RETURNING id, recipient, subject, body, attempts",
                (token, iso(now + timedelta(seconds=self._claim_s)), iso(now), limit),
            )
        claimed = [_Claimed(str(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]
        return sorted(claimed, key=lambda r: r.id)

    def _sent(self, token: str, row: _Claimed) -> None:
        with self._store.transaction() as tx:
            changed = tx.execute(
                f"UPDATE {OUTBOX} SET state = 'sent', attempts = attempts + 1, sent_at = %s,"
                " next_attempt_at = NULL WHERE id = %s AND claim = %s",
                (iso(self._clock()), row.id, token),
            )
        if changed != 1:
            log.warning("outbox %s: sent after its lease ended; it may go out twice", row.id)

    def _failed(self, token: str, row: _Claimed, error: Exception) -> None:
        attempts = row.attempts + 1
        dead = attempts >= self.max_attempts
        delay = min(self.max_delay_s, self.base_delay_s * 2**row.attempts)
        delay *= 0.5 + self._jitter() / 2  # spread retries so a recovering server is not stormed
        retry_at = None if dead else iso(self._clock() + timedelta(seconds=delay))
        log.warning("outbox %s: attempt %s failed%s: %r", row.id, attempts, " (dead)" * dead, error)
        with self._store.transaction() as tx:
            tx.execute(
                f"UPDATE {OUTBOX} SET attempts = %s, state = %s, next_attempt_at = %s,"
                " last_error = %s, claim = NULL WHERE id = %s AND claim = %s",
                (
                    attempts,
                    "dead" if dead else "pending",
                    retry_at,
                    repr(error)[:1000],
                    row.id,
                    token,
                ),
            )

    def _release(self, token: str, ids: list[str]) -> None:
        with self._store.transaction() as tx:
            tx.executemany(
                f"UPDATE {OUTBOX} SET claim = NULL, next_attempt_at = NULL"
                " WHERE id = %s AND claim = %s",
                [(row_id, token) for row_id in ids],
            )
