"""Mail: a message, the port that sends one, SMTP (production) and a local outbox (embedded).

Senders only send; retries, backoff and the dead-letter list belong to the notifier
(``infrastructure.notifier``), which calls ``send`` at least once per outbox row.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

from application.clock import Clock, system_clock
from projections.base import iso
from projections.store import ReadStore

__all__ = [
    "LocalMail",
    "LocalOutboxSender",
    "Mail",
    "MailError",
    "MailSender",
    "SmtpMailSender",
    "list_local_mail",
    "mail_sender",
]


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str  # plain text
    key: str  # the outbox row's id: a resend of the same mail carries the same key


class MailError(Exception):
    """The mail was not accepted; the caller may try again later."""


class MailSender(Protocol):
    def send(self, message: Mail) -> None:
        """Hand the mail over for delivery, or raise MailError."""


def message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the key: a resent mail is recognisably the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


class SmtpMailSender:
    """One SMTP connection per mail (notifications are few; a pooled connection would need a
    keep-alive and reconnect logic for no measurable gain)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        *,
        implicit_tls: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self._username = username
        self._password = password
        self._timeout_s = timeout_s

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpMailSender:
        """``smtp://user:pass@host:587?starttls=1`` or ``smtps://user:pass@host:465``."""
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"} or not parsed.hostname:
            raise ValueError(
                f"an SMTP URL is smtp://[user:pass@]host[:port][?starttls=1], got {url!r}"
            )
        implicit_tls = parsed.scheme == "smtps"
        starttls = parse_qs(parsed.query).get("starttls", ["0"])[-1] in {"1", "true", "yes"}
        default_port = 465 if implicit_tls else 587 if starttls else 25
        return cls(
            parsed.hostname,
            parsed.port or default_port,
            sender,
            starttls=starttls,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            implicit_tls=implicit_tls,
        )

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(mail.key, self.sender.rpartition("@")[2] or "localhost")
        message.set_content(mail.body)
        return message

    def send(self, message: Mail) -> None:
        try:
            email = self._message(message)  # a header with a line break is refused here
            context = ssl.create_default_context()
            smtp = (
                smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout_s, context=context)
                if self.implicit_tls
                else smtplib.SMTP(self.host, self.port, timeout=self._timeout_s)
            )
            with smtp:
                if self.starttls:
                    smtp.starttls(context=context)
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError, ValueError) as error:
            raise MailError(f"SMTP {self.host}:{self.port}: {error!r}") from error


# ---- the embedded mode's local outbox ------------------------------------------------------------

MAIL_LOCAL_DDL = (
    "CREATE TABLE IF NOT EXISTS mail_local (id TEXT PRIMARY KEY, recipient TEXT NOT NULL,"
    " subject TEXT NOT NULL, body TEXT NOT NULL, sent_at TEXT NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class LocalMail:
    id: str  # the mail's key
    to: str
    subject: str
    body: str
    sent_at: str  # ISO-8601 UTC


class LocalOutboxSender:
    """Keeps sent mail in the read store's ``mail_local`` table, where the console and the
    CLI list it: the embedded mode works end to end (reset links, alerts) without a mail
    server. A resent mail (same key) is kept once."""

    def __init__(self, store: ReadStore, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    def send(self, message: Mail) -> None:
        try:
            with self._store.transaction() as tx:
                tx.execute(MAIL_LOCAL_DDL)
                tx.execute(
                    "INSERT INTO mail_local (id, recipient, subject, body, sent_at)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (message.key, message.to, message.subject, message.body, iso(self._clock())),
                )
        except Exception as error:  # the store's own errors: retried like a mail server's
            raise MailError(f"local outbox: {error!r}") from error


def list_local_mail(store: ReadStore, to: str | None = None, limit: int = 50) -> list[LocalMail]:
    """Mail the local outbox sent, newest first (all, or to one address)."""
    select = "SELECT id, recipient, subject, body, sent_at FROM mail_local"
    newest = "ORDER BY sent_at DESC, id DESC LIMIT %s"
    with store.transaction() as tx:
        tx.execute(MAIL_LOCAL_DDL)
        if to is None:
            rows = tx.fetchall(f"{select} {newest}", (limit,))
        else:
            rows = tx.fetchall(f"{select} WHERE recipient = %s {newest}", (to, limit))
    return [LocalMail(*(str(value) for value in row)) for row in rows]


def mail_sender(
    smtp_url: str | None, mail_from: str, store: ReadStore, clock: Clock = system_clock
) -> MailSender:
    """SMTP when a URL is configured, else the local outbox."""
    if smtp_url:
        return SmtpMailSender.from_url(smtp_url, mail_from)
    return LocalOutboxSender(store, clock)
