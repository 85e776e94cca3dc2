"""Queries over the read models (what the APIs, the console and finance read)."""

from __future__ import annotations

from projections.reads.audit import AuditReads, AuditRow
from projections.reads.changes import ChangeReads, ChangeRow
from projections.reads.common import Page
from projections.reads.draws import DrawReads, DrawRow, PoolStats, PrizeStats, PublicPoolStats
from projections.reads.expiry import ExpiryReads
from projections.reads.finance import FinanceReads, FinanceReport, FinanceRow
from projections.reads.ledger import BalanceRow, HistoryPage, LedgerReads, PostingRow, TrialBalance
from projections.reads.payments import DepositRow, PaymentReads, WithdrawalRow
from projections.reads.players import (
    AdjustmentRow,
    Association,
    DeviceRow,
    FreezeRow,
    IpRow,
    PlayerRow,
)
from projections.reads.rewards import RewardReads
from projections.reads.risk import RapidWithdrawal, RiskReads, RiskScore, VelocityRow

__all__ = [
    "BalanceRow",
    "HistoryPage",
    "PostingRow",
    "ReadModels",
    "TrialBalance",
    "Page",
    "DrawRow",
    "PrizeStats",
    "PoolStats",
    "PublicPoolStats",
    "DepositRow",
    "WithdrawalRow",
    "AuditRow",
    "ChangeRow",
    "FinanceRow",
    "FinanceReport",
    "VelocityRow",
    "RapidWithdrawal",
    "RiskScore",
    "PlayerRow",
    "DeviceRow",
    "IpRow",
    "FreezeRow",
    "Association",
    "AdjustmentRow",
]


class ReadModels(
    LedgerReads,
    DrawReads,
    PaymentReads,
    AuditReads,
    FinanceReads,
    RiskReads,
    ChangeReads,
    ExpiryReads,
    RewardReads,
):
    """Every read over the read models, on one store (the areas live in projections.reads)."""
