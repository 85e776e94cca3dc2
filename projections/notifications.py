"""Notifications: mails the player should get when something happens to their money or their
account, written to a durable outbox that the notifier (``infrastructure.notifier``) delivers.

* Withdrawal status changes (requested, approved, rejected, cancelled, submitted, paid,
  failed, reversed; not ``processing``, the provider's internal step).
* Security alerts: a login from a new device, a password changed or reset, an account locked
  after failed logins.

The outbox (``notification_outbox``) is one table for every version of this projection: a
row's id is ``{notification id}:{kind}`` and inserts do nothing on conflict, so a rebuild (a
new version projecting from position 0) or a replay never queues a mail twice. The lookups it
needs — account → player and e-mail, withdrawal → player and amount — are versioned tables of
their own; a handler only writes, so outbox rows are ``INSERT … SELECT`` joins over them (a
player without an account gets no mail). Operator-entered reasons are not mailed: they may be
internal notes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from projections.base import Handler, LedgerProjection, Writes, iso
from projections.store import ReadStore

__all__ = ["OUTBOX", "OUTBOX_DDL", "NotificationsProjection", "create_outbox", "format_amount"]

OUTBOX = "notification_outbox"
OUTBOX_DDL = [
    f"CREATE TABLE IF NOT EXISTS {OUTBOX} (id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " position BIGINT, player_id TEXT, recipient TEXT NOT NULL, subject TEXT NOT NULL,"
    " body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,"
    " state TEXT NOT NULL DEFAULT 'pending', last_error TEXT, created_at TEXT NOT NULL,"
    " sent_at TEXT, claim TEXT)",
    f"CREATE INDEX IF NOT EXISTS {OUTBOX}_due ON {OUTBOX} (state, next_attempt_at)",
]

# ISO 4217 minor-unit exponents other than 2.
_EXPONENT = {
    **dict.fromkeys(
        ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"], 0
    ),
    **dict.fromkeys(["VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}

_SUPPORT = "If you did not expect this, contact support."
_WITHDRAWAL_MAILS = {
    # event name: (kind, subject, body; {amount} is filled from the lookup table)
    "Requested": (
        "Withdrawal request received",
        "We received your request to withdraw {amount}. We will write again when it is paid.",
    ),
    "Rejected": (
        "Withdrawal rejected",
        "Your withdrawal of {amount} was rejected and the amount is back in your available"
        " balance. Contact support if you would like to know more.",
    ),
    "Cancelled": (
        "Withdrawal cancelled",
        "You cancelled your withdrawal of {amount}; the amount is back in your available"
        f" balance. {_SUPPORT}",
    ),
    "Submitted": (
        "Withdrawal on its way",
        "Your withdrawal of {amount} was sent to the payment provider.",
    ),
    "Paid": ("Withdrawal paid", "Your withdrawal of {amount} has been paid out."),
    "Failed": (
        "Withdrawal failed",
        "The payment of your withdrawal of {amount} failed and the amount is back in your"
        " available balance. Please check your payout method or contact support.",
    ),
    "Reversed": (
        "Withdrawal reversed",
        "Your paid withdrawal of {amount} came back from the payment provider and was credited"
        " to your available balance. Please check your payout method or contact support.",
    ),
}
_APPROVED = (
    "Withdrawal approved",
    "Your withdrawal of {amount} was approved and will be sent to your payout method shortly.",
)


def format_amount(amount_minor: int, currency: str) -> str:
    """12345 EUR → "123.45 EUR" (integer arithmetic; never a float)."""
    exponent = _EXPONENT.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    return (
        f"{sign}{whole}.{fraction:0{exponent}d} {currency}"
        if exponent
        else f"{sign}{whole} {currency}"
    )


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def create_outbox(store: ReadStore) -> None:
    with store.transaction() as tx:
        for statement in OUTBOX_DDL:
            tx.execute(statement)


class NotificationsProjection(LedgerProjection):
    name = "notifications"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {accounts} (account_id TEXT PRIMARY KEY,"
        " player_id TEXT NOT NULL, email TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {accounts}_by_player ON {accounts} (player_id)",
        "CREATE TABLE IF NOT EXISTS {withdrawals} (withdrawal_id TEXT PRIMARY KEY,"
        " player_id TEXT NOT NULL, amount_text TEXT NOT NULL,"
        " approvals_required INTEGER NOT NULL, approvals INTEGER NOT NULL)",
    ]

    def create(self) -> None:
        super().create()
        create_outbox(self.view.store)  # not versioned: a rebuild must not queue mail again

    def handlers(self) -> dict[str, Handler]:
        handlers = self._account_handlers()
        handlers.update(self._withdrawal_handlers())
        return handlers

    def _account_handlers(self) -> dict[str, Handler]:
        accounts = self.t("accounts")
        registered = (
            f"INSERT INTO {accounts} (account_id, player_id, email) VALUES (%s, %s, %s)"
            " ON CONFLICT (account_id) DO NOTHING"
        )
        mail = (
            f"INSERT INTO {OUTBOX} (id, kind, position, player_id, recipient, subject, body,"
            " created_at) SELECT %s, %s, %s, a.player_id, a.email, %s, %s, %s"
            f" FROM {accounts} a WHERE a.account_id = %s ON CONFLICT (id) DO NOTHING"
        )

        def on_registered(w: Writes, e: Any, _: int) -> None:
            w.add(registered, str(e.originator_id), e.player_id, e.email)

        def alert(kind: str, subject: str, body: str) -> Handler:
            def on_event(w: Writes, e: Any, position: int) -> None:
                text = body.format(
                    at=_when(e.at),
                    until=_when(getattr(e, "until", e.at)),
                    ip=getattr(e, "ip", ""),
                    user_agent=getattr(e, "user_agent", ""),
                    revoked=len(getattr(e, "revoked", ())),
                )
                created = iso(e.timestamp)
                w.add(
                    mail,
                    f"{position}:{kind}",
                    kind,
                    position,
                    subject,
                    text,
                    created,
                    str(e.originator_id),
                )

            return on_event

        new_device = alert(
            "new_device_login",
            "New sign-in to your account",
            "Your account was signed in from a device we have not seen before, on {at}.\n\n"
            "IP address: {ip}\nBrowser: {user_agent}\n\n"
            "If this was you, there is nothing to do. If not, change your password now: that"
            " signs out every other session.",
        )

        def on_logged_in(w: Writes, e: Any, position: int) -> None:
            if e.new_device:
                new_device(w, e, position)

        return {
            "PlayerAccount.Registered": on_registered,
            "PlayerAccount.LoggedIn": on_logged_in,
            "PlayerAccount.PasswordChanged": alert(
                "password_changed",
                "Your password was changed",
                "The password of your account was changed on {at}; {revoked} other session(s)"
                f" were signed out. {_SUPPORT}",
            ),
            "PlayerAccount.PasswordReset": alert(
                "password_reset",
                "Your password was reset",
                "The password of your account was reset with an e-mailed link on {at}; every"
                f" session was signed out. {_SUPPORT}",
            ),
            "PlayerAccount.Locked": alert(
                "account_locked",
                "Your account is temporarily locked",
                "After several failed sign-in attempts your account is locked until {until}."
                " If they were not yours, reset your password once the lock ends.",
            ),
        }

    def _withdrawal_handlers(self) -> dict[str, Handler]:
        withdrawals, accounts = self.t("withdrawals"), self.t("accounts")
        requested = (
            f"INSERT INTO {withdrawals} (withdrawal_id, player_id, amount_text,"
            " approvals_required, approvals) VALUES (%s, %s, %s, %s, 0)"
            " ON CONFLICT (withdrawal_id) DO NOTHING"
        )
        approval = f"UPDATE {withdrawals} SET approvals = approvals + 1 WHERE withdrawal_id = %s"
        # The body's {amount} is filled in SQL: later events do not carry the amount.
        mail = (
            f"INSERT INTO {OUTBOX} (id, kind, position, player_id, recipient, subject, body,"
            " created_at) SELECT %s, %s, %s, w.player_id, a.email, %s,"
            " replace(CAST(%s AS TEXT), '{amount}', w.amount_text), %s"
            f" FROM {withdrawals} w JOIN {accounts} a ON a.player_id = w.player_id"
            " WHERE w.withdrawal_id = %s"
        )
        mail_when_approved = f"{mail} AND w.approvals = w.approvals_required"

        def queue(
            w: Writes, sql: str, e: Any, position: int, kind: str, texts: tuple[str, str]
        ) -> None:
            subject, body = texts
            body += f"\n\nReference: withdrawal {e.originator_id}"
            created = iso(e.timestamp)
            params = (
                f"{position}:{kind}",
                kind,
                position,
                subject,
                body,
                created,
                str(e.originator_id),
            )
            w.add(f"{sql} ON CONFLICT (id) DO NOTHING", *params)

        def on_requested(w: Writes, e: Any, position: int) -> None:
            amount = format_amount(e.amount_minor, e.currency)
            w.add(requested, str(e.originator_id), e.player_id, amount, e.approvals_required)
            queue(w, mail, e, position, "withdrawal_requested", _WITHDRAWAL_MAILS["Requested"])

        def on_approval(w: Writes, e: Any, position: int) -> None:
            w.add(approval, str(e.originator_id))
            queue(w, mail_when_approved, e, position, "withdrawal_approved", _APPROVED)

        def moved(name: str) -> Handler:
            kind = f"withdrawal_{name.lower()}"
            return lambda w, e, position: queue(w, mail, e, position, kind, _WITHDRAWAL_MAILS[name])

        handlers: dict[str, Handler] = {
            f"Withdrawal.{name}": moved(name) for name in _WITHDRAWAL_MAILS if name != "Requested"
        }
        handlers["Withdrawal.Requested"] = on_requested
        handlers["Withdrawal.ApprovalGiven"] = on_approval
        return handlers
