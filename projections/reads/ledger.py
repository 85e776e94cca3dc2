"""Reads over the ledger's read models: balances, posting history, trial balance."""

from __future__ import annotations

from dataclasses import dataclass

from projections.ledger import BalancesProjection, HistoryProjection, TrialBalanceProjection
from projections.reads.common import ReadBase, _parse_cursor


@dataclass(frozen=True, slots=True)
class BalanceRow:
    player_id: str
    currency: str
    available: int
    locked: int
    bonus: int
    version: int
    updated_at: str


@dataclass(frozen=True, slots=True)
class PostingRow:
    position: int
    line: int
    balance: str
    amount_minor: int
    currency: str
    kind: str
    reference: str | None
    at: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    rows: list[PostingRow]
    next_cursor: str | None  # "position.line" of the last row, when more may follow


@dataclass(frozen=True, slots=True)
class TrialBalance:
    accounts: list[tuple[str, str, int]]  # (account, currency, balance)
    totals: dict[str, int]  # currency -> Σ (must be 0)

    @property
    def balanced(self) -> bool:
        return all(v == 0 for v in self.totals.values())


class LedgerReads(ReadBase):
    def balance(self, player_id: str) -> BalanceRow | None:
        table = self._table(BalancesProjection, "balances")
        row = self._store.fetchone(
            f"SELECT player_id, currency, available, locked, bonus, version, updated_at"
            f" FROM {table} WHERE player_id = %s",
            (player_id,),
        )
        return BalanceRow(*row) if row else None

    def history(self, player_id: str, cursor: str | None = None, limit: int = 50) -> HistoryPage:
        """Newest first; ``cursor`` continues after the last row of the previous page."""
        if not 1 <= limit <= 500:
            raise ValueError("limit must be 1..500")
        table = self._table(HistoryProjection, "postings")
        position, line = _parse_cursor(cursor)
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT position, line, balance, amount_minor, currency, kind, reference, at"
                f" FROM {table} WHERE player_id = %s AND (position < %s OR"
                f" (position = %s AND line < %s)) ORDER BY position DESC, line DESC LIMIT %s",
                (player_id, position, position, line, limit + 1),
            )
        page = [PostingRow(*r) for r in rows[:limit]]
        more = len(rows) > limit
        return HistoryPage(page, f"{page[-1].position}.{page[-1].line}" if more else None)

    def trial_balance(self) -> TrialBalance:
        table = self._table(TrialBalanceProjection, "accounts")
        with self._store.transaction() as tx:
            rows = tx.fetchall(f"SELECT account, currency, balance FROM {table} ORDER BY account")
        totals: dict[str, int] = {}
        for _, currency, balance in rows:
            totals[currency] = totals.get(currency, 0) + balance
        return TrialBalance([(a, c, b) for a, c, b in rows], totals)
