"""Payment review queues: deposits and withdrawals with their state, for operators.

``position`` is the notification id of the request: the queues list oldest first by it, and it
is the keyset cursor. ``approvers`` is the JSON list of approving operators, in order, kept by
string concatenation so that no handler has to read it first.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from projections.base import Handler, LedgerProjection, Writes, iso

__all__ = ["DepositsProjection", "WithdrawalsProjection"]


class DepositsProjection(LedgerProjection):
    name = "deposits"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {deposits} (deposit_id TEXT PRIMARY KEY,"
        " position BIGINT NOT NULL, player_id TEXT NOT NULL, amount BIGINT NOT NULL,"
        " currency TEXT NOT NULL, provider TEXT NOT NULL, state TEXT NOT NULL, provider_ref TEXT,"
        " failure_reason TEXT, requested_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {deposits}_by_state ON {deposits} (state, position)",
        "CREATE INDEX IF NOT EXISTS {deposits}_by_player ON {deposits} (player_id, position)",
    ]

    def handlers(self) -> dict[str, Handler]:
        table = self.t("deposits")
        requested = (
            f"INSERT INTO {table} (deposit_id, position, player_id, amount, currency, provider,"
            " state, provider_ref, failure_reason, requested_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'requested', NULL, NULL, %s, %s)"
        )
        moved = (
            f"UPDATE {table} SET state = %s, provider_ref = COALESCE(%s, provider_ref),"
            " failure_reason = COALESCE(%s, failure_reason), updated_at = %s WHERE deposit_id = %s"
        )
        states = {
            "ProviderPending": "provider_pending",
            "ProviderSucceeded": "provider_succeeded",
            "Credited": "credited",
            "Failed": "failed",
            "Reversed": "reversed",
        }

        def on_requested(w: Writes, e: Any, position: int) -> None:
            at = iso(e.timestamp)
            did = str(e.originator_id)
            w.add(
                requested,
                did,
                position,
                e.player_id,
                e.amount_minor,
                e.currency,
                e.provider,
                at,
                at,
            )

        def on_moved(w: Writes, e: Any, _: int) -> None:
            w.add(
                moved,
                states[type(e).__name__],
                getattr(e, "provider_ref", None),
                getattr(e, "reason", None),
                iso(e.timestamp),
                str(e.originator_id),
            )

        handlers: dict[str, Handler] = {f"Deposit.{n}": on_moved for n in states}
        handlers["Deposit.Requested"] = on_requested
        return handlers


class WithdrawalsProjection(LedgerProjection):
    name = "withdrawals"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {withdrawals} (withdrawal_id TEXT PRIMARY KEY,"
        " position BIGINT NOT NULL, player_id TEXT NOT NULL, amount BIGINT NOT NULL,"
        " currency TEXT NOT NULL, destination TEXT NOT NULL, state TEXT NOT NULL,"
        " approvals_required INTEGER NOT NULL, approvals INTEGER NOT NULL, approvers TEXT NOT NULL,"
        " provider_ref TEXT, reason TEXT, requested_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {withdrawals}_by_state ON {withdrawals} (state, position)",
        "CREATE INDEX IF NOT EXISTS {withdrawals}_by_player ON {withdrawals} (player_id, position)",
    ]

    def handlers(self) -> dict[str, Handler]:
        table = self.t("withdrawals")
        requested = (
            f"INSERT INTO {table} (withdrawal_id, position, player_id, amount, currency,"
            " destination, state, approvals_required, approvals, approvers, provider_ref, reason,"
            " requested_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'requested', %s, 0, '[]', NULL, NULL, %s, %s)"
        )
        # '[]' + "a" -> '["a"]'; '["a"]' + "b" -> '["a", "b"]' (exactly what json.dumps writes).
        approved = (
            f"UPDATE {table} SET approvals = approvals + 1,"
            " state = CASE WHEN approvals + 1 >= approvals_required THEN 'approved' ELSE state END,"
            " approvers = CASE WHEN approvers = '[]' THEN '[' || %s || ']'"
            " ELSE substr(approvers, 1, length(approvers) - 1) || ', ' || %s || ']' END,"
            " updated_at = %s WHERE withdrawal_id = %s"
        )
        moved = (
            f"UPDATE {table} SET state = %s, provider_ref = COALESCE(%s, provider_ref),"
            " reason = COALESCE(%s, reason), updated_at = %s WHERE withdrawal_id = %s"
        )
        states = {
            "Rejected": "rejected",
            "Cancelled": "cancelled",
            "Submitted": "submitted",
            "Processing": "processing",
            "Paid": "paid",
            "Failed": "failed",
            "Reversed": "reversed",
        }

        def on_requested(w: Writes, e: Any, position: int) -> None:
            at = iso(e.timestamp)
            w.add(
                requested,
                str(e.originator_id),
                position,
                e.player_id,
                e.amount_minor,
                e.currency,
                e.destination,
                e.approvals_required,
                at,
                at,
            )

        def on_approval(w: Writes, e: Any, _: int) -> None:
            actor = json.dumps(e.actor)
            w.add(approved, actor, actor, iso(e.timestamp), str(e.originator_id))

        def on_moved(w: Writes, e: Any, _: int) -> None:
            w.add(
                moved,
                states[type(e).__name__],
                getattr(e, "provider_ref", None),
                getattr(e, "reason", None),
                iso(e.timestamp),
                str(e.originator_id),
            )

        handlers: dict[str, Handler] = {f"Withdrawal.{n}": on_moved for n in states}
        handlers["Withdrawal.Requested"] = on_requested
        handlers["Withdrawal.ApprovalGiven"] = on_approval
        return handlers
