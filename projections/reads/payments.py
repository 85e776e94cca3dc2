"""Reads over the payments read models: the deposit and withdrawal review queues."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from projections.payments import DepositsProjection, WithdrawalsProjection
from projections.reads.common import Page, ReadBase, _check, _page, _position


@dataclass(frozen=True, slots=True)
class DepositRow:
    deposit_id: str
    position: int
    player_id: str
    amount: int
    currency: str
    provider: str
    state: str
    provider_ref: str | None
    failure_reason: str | None
    requested_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class WithdrawalRow:
    withdrawal_id: str
    position: int
    player_id: str
    amount: int
    currency: str
    destination: str
    state: str
    approvals_required: int
    approvals: int
    approvers: list[str]
    provider_ref: str | None
    reason: str | None
    requested_at: str
    updated_at: str


class PaymentReads(ReadBase):
    def deposits(
        self,
        state: str | None = None,
        player_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[DepositRow]:
        """The review queue: deposits in ``state`` and/or of a player, oldest first."""
        rows = self._queue(DepositsProjection, DepositRow, state, player_id, cursor, limit)
        return _page([DepositRow(*r) for r in rows], limit)

    def deposit(self, deposit_id: str) -> DepositRow | None:
        rows = self._queue(DepositsProjection, DepositRow, None, None, None, 1, deposit_id)
        return DepositRow(*rows[0]) if rows else None

    def withdrawals(
        self,
        state: str | None = None,
        player_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[WithdrawalRow]:
        """The review queue: withdrawals in ``state`` and/or of a player, oldest first."""
        rows = self._queue(WithdrawalsProjection, WithdrawalRow, state, player_id, cursor, limit)
        return _page([_withdrawal(r) for r in rows], limit)

    def withdrawal(self, withdrawal_id: str) -> WithdrawalRow | None:
        rows = self._queue(WithdrawalsProjection, WithdrawalRow, None, None, None, 1, withdrawal_id)
        return _withdrawal(rows[0]) if rows else None

    def _queue(
        self,
        cls: type,
        row: type,
        state: str | None,
        player_id: str | None,
        cursor: str | None,
        limit: int,
        one: str | None = None,
    ) -> list[tuple[Any, ...]]:
        table = self._table(cls, cls.name)  # type: ignore[attr-defined]
        columns = [f.name for f in fields(row)]
        where: list[str] = ["position > %s"]
        params: list[object] = [_position(cursor, 0)]
        for column, value in ((columns[0], one), ("state", state), ("player_id", player_id)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        return self._fetch(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where)}"
            " ORDER BY position LIMIT %s",
            (*params, _check(limit) + 1),
        )


def _withdrawal(row: tuple[Any, ...]) -> WithdrawalRow:
    values = list(row)
    values[9] = json.loads(values[9])
    return WithdrawalRow(*values)
