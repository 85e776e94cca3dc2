"""Reads over the open-requests model: what the expiry process manager may have to expire."""

from __future__ import annotations

from datetime import datetime

from projections.expiry import ExpiryProjection
from projections.reads.common import ReadBase, _at, _check


class ExpiryReads(ReadBase):
    def stale_deposits(self, opened_before: datetime, limit: int = 100) -> list[str]:
        """Deposits still waiting for the provider, started before ``opened_before``, oldest
        first."""
        table = self._table(ExpiryProjection, "deposits")
        rows = self._fetch(
            f"SELECT deposit_id FROM {table} WHERE opened_at < %s"
            " ORDER BY opened_at, deposit_id LIMIT %s",
            (_at(opened_before), _check(limit)),
        )
        return [str(r[0]) for r in rows]

    def stale_withdrawals(self, opened_before: datetime, limit: int = 100) -> list[str]:
        """Withdrawals not yet fully approved, requested before ``opened_before``, oldest
        first."""
        table = self._table(ExpiryProjection, "withdrawals")
        rows = self._fetch(
            f"SELECT withdrawal_id FROM {table} WHERE opened_at < %s"
            " AND approvals < approvals_required ORDER BY opened_at, withdrawal_id LIMIT %s",
            (_at(opened_before), _check(limit)),
        )
        return [str(r[0]) for r in rows]
