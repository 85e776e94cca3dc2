"""Open requests with a deadline: deposits the provider has not settled and withdrawals nobody
has finished reviewing, each with the time it was made (the wallet's own ``at``: the use case's
clock, not the event's store timestamp).

* A deposit is open from ``Wallet.DepositStarted`` until ``DepositCredited`` or
  ``DepositAbandoned`` (failed).
* A withdrawal is open for review from ``Wallet.FundsLocked`` while it has fewer approvals than
  its ``Withdrawal.Requested`` asked for, and until its lock ends (``FundsReleased``: rejected,
  cancelled or failed; ``WithdrawalPaidOut``).

The process manager (``application.expiry``) reads what is due here and fails or rejects it with
a deterministic request id; this model only says what *may* be due — the aggregates decide.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

from projections.base import Handler, LedgerProjection, Writes, iso

__all__ = ["ExpiryProjection"]


class ExpiryProjection(LedgerProjection):
    name = "expiry"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {deposits} (deposit_id TEXT PRIMARY KEY,"
        " opened_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {deposits}_by_time ON {deposits} (opened_at)",
        "CREATE TABLE IF NOT EXISTS {withdrawals} (withdrawal_id TEXT PRIMARY KEY,"
        " opened_at TEXT, approvals_required INTEGER NOT NULL, approvals INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {withdrawals}_by_time ON {withdrawals} (opened_at)",
    ]

    def handlers(self) -> dict[str, Handler]:
        deposits, withdrawals = self.t("deposits"), self.t("withdrawals")
        deposit_opened = f"INSERT INTO {deposits} (deposit_id, opened_at) VALUES (%s, %s)"
        deposit_closed = f"DELETE FROM {deposits} WHERE deposit_id = %s"
        # The lock (with its time) and the request (with its approvals) come in one save, in
        # an order this model does not rely on: each fills its own columns.
        locked = (
            f"INSERT INTO {withdrawals} (withdrawal_id, opened_at, approvals_required, approvals)"
            " VALUES (%s, %s, 1, 0) ON CONFLICT (withdrawal_id) DO UPDATE"
            " SET opened_at = excluded.opened_at"
        )
        requested = (
            f"INSERT INTO {withdrawals} (withdrawal_id, opened_at, approvals_required, approvals)"
            " VALUES (%s, NULL, %s, 0) ON CONFLICT (withdrawal_id) DO UPDATE"
            " SET approvals_required = excluded.approvals_required"
        )
        approved = f"UPDATE {withdrawals} SET approvals = approvals + 1 WHERE withdrawal_id = %s"
        unlocked = f"DELETE FROM {withdrawals} WHERE withdrawal_id = %s"

        def on_requested(w: Writes, e: Any, _: int) -> None:
            w.add(requested, str(e.originator_id), e.approvals_required)

        def at(e: Any) -> str:
            return iso(e.at.astimezone(UTC))

        return {
            "Wallet.DepositStarted": lambda w, e, _: w.add(deposit_opened, e.deposit_id, at(e)),
            "Wallet.DepositCredited": lambda w, e, _: w.add(deposit_closed, e.deposit_id),
            "Wallet.DepositAbandoned": lambda w, e, _: w.add(deposit_closed, e.deposit_id),
            "Wallet.FundsLocked": lambda w, e, _: w.add(locked, e.withdrawal_id, at(e)),
            "Withdrawal.Requested": on_requested,
            "Withdrawal.ApprovalGiven": lambda w, e, _: w.add(approved, str(e.originator_id)),
            "Wallet.FundsReleased": lambda w, e, _: w.add(unlocked, e.withdrawal_id),
            "Wallet.WithdrawalPaidOut": lambda w, e, _: w.add(unlocked, e.withdrawal_id),
        }
