"""Every projection, and how to build them against a read store at their active versions."""

from __future__ import annotations

from collections.abc import Sequence

from projections.audit import AuditProjection
from projections.base import ACTIVE_DDL, LedgerProjection, LedgerView
from projections.changes import ChangeRequestsProjection
from projections.draws import DrawsProjection, PoolStatsProjection
from projections.expiry import ExpiryProjection
from projections.finance import FinanceDailyProjection
from projections.ledger import BalancesProjection, HistoryProjection, TrialBalanceProjection
from projections.notifications import NotificationsProjection
from projections.payments import DepositsProjection, WithdrawalsProjection
from projections.players import PlayersProjection
from projections.rewards import RewardsProjection
from projections.risk import RiskProjection
from projections.store import ReadStore

__all__ = ["ALL", "active_version", "active_versions", "build", "names"]

ALL: list[type[LedgerProjection]] = [
    BalancesProjection,
    HistoryProjection,
    TrialBalanceProjection,
    DrawsProjection,
    PoolStatsProjection,
    DepositsProjection,
    WithdrawalsProjection,
    AuditProjection,
    FinanceDailyProjection,
    RiskProjection,
    NotificationsProjection,
    RewardsProjection,
    ChangeRequestsProjection,
    PlayersProjection,
    ExpiryProjection,
]


def names() -> list[str]:
    return [cls.name for cls in ALL]


def active_version(store: ReadStore, cls: type[LedgerProjection]) -> int:
    with store.transaction() as tx:
        tx.execute(ACTIVE_DDL)
        row = tx.fetchone("SELECT version FROM rm_active WHERE projection = %s", (cls.name,))
    return int(row[0]) if row else cls.version


def active_versions(store: ReadStore) -> dict[str, int]:
    """Every projection's active version (a projection never rebuilt has no entry), in one
    query."""
    with store.transaction() as tx:
        tx.execute(ACTIVE_DDL)
        rows = tx.fetchall("SELECT projection, version FROM rm_active")
    return {str(name): int(version) for name, version in rows}


def build(store: ReadStore, selected: Sequence[str] | None = None) -> list[LedgerProjection]:
    """Projections at their active versions (all, or those named), tables created."""
    unknown = set(selected or ()) - set(names())
    if unknown:
        raise ValueError(f"unknown projections: {', '.join(sorted(unknown))}; known: {names()}")
    chosen = [cls for cls in ALL if not selected or cls.name in selected]
    projections = [cls(LedgerView(store, cls.name, active_version(store, cls))) for cls in chosen]
    for projection in projections:
        projection.create()
    return projections
