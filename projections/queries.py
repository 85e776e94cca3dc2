"""Queries over the read models (what the APIs, the console and finance read)."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from domain import ids
from domain.prizes import BUCKETS
from projections.audit import AuditProjection
from projections.base import ACTIVE_DDL, LedgerProjection, LedgerView, iso
from projections.draws import DrawsProjection, PoolStatsProjection
from projections.finance import COLUMNS, FinanceDailyProjection
from projections.ledger import BalancesProjection, HistoryProjection, TrialBalanceProjection
from projections.payments import DepositsProjection, WithdrawalsProjection
from projections.risk import RAPID_WITHDRAWAL_S, RiskProjection
from projections.store import ReadStore

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
    "DepositRow",
    "WithdrawalRow",
    "AuditRow",
    "FinanceRow",
    "FinanceReport",
    "VelocityRow",
    "RapidWithdrawal",
]

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None  # the last row's position, when more may follow


@dataclass(frozen=True, slots=True)
class DrawRow:
    draw_id: str
    position: int
    player_id: str
    pool_key: str
    status: str
    reason: str | None
    requested: int
    settled: int
    cost_total: int
    won_total: int
    at: str
    results: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class PrizeStats:
    prize_id: str
    name: str
    kind: str
    reward: int
    weight: int
    stock: int | None  # None: unlimited, or retired
    budget: int | None
    budget_window_s: int
    active: bool  # False once retired
    wins: int
    paid: int
    budget_used: int | None  # paid within the budget window now (None: no budget)


@dataclass(frozen=True, slots=True)
class PoolStats:
    pool_key: str
    name: str
    currency: str
    status: str
    draw_cost: int
    rtp_target_bps: int
    epoch: int
    fund: int
    funded: int
    defunded: int
    requests: int
    refused: int
    draws: int
    wins: int
    cost_total: int
    payout_total: int
    updated_at: str
    prizes: list[PrizeStats]

    @property
    def observed_rtp_bps(self) -> int | None:
        """Paid out per amount staked, in basis points (None before the first draw)."""
        return self.payout_total * 10_000 // self.cost_total if self.cost_total else None


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


@dataclass(frozen=True, slots=True)
class AuditRow:
    position: int
    at: str
    actor: str
    action: str
    target_id: str
    subject: str | None  # the target's player id or pool key, when known
    reason: str | None
    request_id: str | None
    ip: str | None  # events carry no IP yet: always None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FinanceRow:
    day: str | None  # None in range totals
    currency: str
    pool_key: str | None  # '' for lines of no pool; None in per-day and range totals
    deposits: int
    withdrawals: int
    draw_revenue: int
    prize_payouts: int
    bonus_granted: int
    adjustments: int
    house_result: int  # draw_revenue - prize_payouts - bonus_granted


@dataclass(frozen=True, slots=True)
class FinanceReport:
    rows: list[FinanceRow]  # per day, currency and pool
    days: list[FinanceRow]  # per day and currency, all pools
    totals: list[FinanceRow]  # per currency over the range


@dataclass(frozen=True, slots=True)
class VelocityRow:
    player_id: str
    hour: str  # UTC, e.g. 2026-01-01T12
    draw_requests: int
    draws: int
    deposits_requested: int
    deposits_credited: int
    deposited: int


@dataclass(frozen=True, slots=True)
class RapidWithdrawal:
    """A withdrawal requested soon after a deposit credit (the latest credit before it)."""

    player_id: str
    withdrawal_id: str
    amount: int
    requested_at: str
    deposit_id: str
    deposit_amount: int
    credited_at: str
    gap_s: float


# How long a read trusts the active versions it looked up before looking again.
VERSIONS_TTL_S = 2.0


class ReadModels:
    def __init__(self, store: ReadStore) -> None:
        self._store = store
        self._versions: dict[str, int] = {}
        self._versions_read = -VERSIONS_TTL_S

    def _table(self, cls: type[LedgerProjection], short: str) -> str:
        return LedgerView(self._store, cls.name, self._version(cls)).table(short)

    def _version(self, cls: type[LedgerProjection]) -> int:
        """The active version, re-read at most every VERSIONS_TTL_S (rebuilds switch it)."""
        now = time.monotonic()
        if now - self._versions_read >= VERSIONS_TTL_S:
            with self._store.transaction() as tx:
                if self._versions_read < 0:
                    tx.execute(ACTIVE_DDL)
                rows = tx.fetchall("SELECT projection, version FROM rm_active")
            self._versions = {str(name): int(version) for name, version in rows}
            self._versions_read = now
        return self._versions.get(cls.name, cls.version)

    def balance(self, player_id: str) -> BalanceRow | None:
        table = self._table(BalancesProjection, "balances")
        with self._store.transaction() as tx:
            row = tx.fetchone(
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

    # ---- draws and pools -----------------------------------------------------------------------

    _DRAW = (
        "SELECT draw_id, position, player_id, pool_key, status, reason, requested, settled,"
        " cost_total, won_total, at, results FROM {t}"
    )

    def draws(self, player_id: str, cursor: str | None = None, limit: int = 50) -> Page[DrawRow]:
        """The player's draw requests, newest first."""
        table = self._table(DrawsProjection, "draws")
        rows = self._fetch(
            self._DRAW.format(t=table) + " WHERE player_id = %s AND position < %s"
            " ORDER BY position DESC LIMIT %s",
            (player_id, _position(cursor, _MAX), _check(limit) + 1),
        )
        return _page([_draw(r) for r in rows], limit)

    def draw(self, draw_id: str) -> DrawRow | None:
        table = self._table(DrawsProjection, "draws")
        rows = self._fetch(self._DRAW.format(t=table) + " WHERE draw_id = %s", (draw_id,))
        return _draw(rows[0]) if rows else None

    def pools(self, at: datetime | None = None) -> list[PoolStats]:
        """Every pool by key, with its prizes; ``budget_used`` as of ``at`` (default now)."""
        keys = self._fetch(f"SELECT pool_key FROM {self._table(PoolStatsProjection, 'pools')}")
        stats = [self.pool_stats(k, at) for (k,) in sorted(keys)]
        return [s for s in stats if s is not None]

    def pool_stats(self, pool_key: str, at: datetime | None = None) -> PoolStats | None:
        pools = self._table(PoolStatsProjection, "pools")
        prizes = self._table(PoolStatsProjection, "prizes")
        wins = self._table(PoolStatsProjection, "wins")
        now_s = int((at or datetime.now(UTC)).timestamp())
        pool_id = str(ids.pool_id(pool_key))
        with self._store.transaction() as tx:
            row = tx.fetchone(
                "SELECT pool_key, name, currency, status, draw_cost, rtp_target_bps, epoch, fund,"
                " funded, defunded, requests, refused, draws, wins, cost_total, payout_total,"
                f" updated_at FROM {pools} WHERE pool_id = %s",
                (pool_id,),
            )
            if row is None:
                return None
            found = tx.fetchall(
                "SELECT prize_id, name, kind, reward, weight, stock, budget, budget_window_s,"
                f" active, wins, paid, budget_from FROM {prizes} WHERE pool_id = %s"
                " ORDER BY prize_id",
                (pool_id,),
            )
            listed = []
            for *values, active, won, paid, budget_from in found:
                used = None
                budget, window_s = values[6], values[7]
                if budget is not None and budget_from is not None and active:
                    # The same buckets as the pool's own window (domain.prizes.window_sum).
                    size = max(1, window_s // BUCKETS)
                    since = (now_s // size - BUCKETS) * size
                    used_row = tx.fetchone(
                        f"SELECT COALESCE(SUM(reward), 0) FROM {wins} WHERE pool_id = %s"
                        " AND prize_id = %s AND position > %s AND at_s >= %s",
                        (pool_id, values[0], budget_from, since),
                    )
                    used = int(used_row[0]) if used_row else 0
                listed.append(PrizeStats(*[*values, bool(active), won, paid, used]))
        return PoolStats(*[*row, listed])

    # ---- payments ------------------------------------------------------------------------------

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

    # ---- audit ---------------------------------------------------------------------------------

    def audit(
        self,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[AuditRow]:
        """Newest first. ``target`` is an aggregate id, a player id or a pool key; ``since`` is
        inclusive, ``until`` exclusive."""
        audit = self._table(AuditProjection, "audit")
        subjects = self._table(AuditProjection, "subjects")
        where: list[str] = ["a.position < %s"]
        params: list[object] = [_position(cursor, _MAX)]
        filters: list[tuple[str, object]] = [("a.actor = %s", actor), ("a.action = %s", action)]
        filters += [("a.at >= %s", since and _at(since)), ("a.at < %s", until and _at(until))]
        for clause, value in filters:
            if value is not None:
                where.append(clause)
                params.append(value)
        if target is not None:
            where.append("(a.target_id = %s OR s.subject = %s)")
            params += [target, target]
        rows = self._fetch(
            "SELECT a.position, a.at, a.actor, a.action, a.target_id, s.subject, a.reason,"
            f" a.request_id, a.ip, a.details FROM {audit} a LEFT JOIN {subjects} s"
            f" ON s.aggregate_id = a.target_id WHERE {' AND '.join(where)}"
            " ORDER BY a.position DESC LIMIT %s",
            (*params, _check(limit) + 1),
        )
        return _page([AuditRow(*[*r[:-1], json.loads(r[-1])]) for r in rows], limit)

    def audit_csv(self, **filters: Any) -> str:
        """Every row matching ``audit``'s filters, newest first, as CSV with a header."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([f.name for f in fields(AuditRow)])
        cursor = None
        while True:
            page = self.audit(**filters, cursor=cursor, limit=500)
            for row in page.rows:
                values = astuple(row)
                writer.writerow([*values[:-1], json.dumps(row.details, sort_keys=True)])
            if page.next_cursor is None:
                return out.getvalue()
            cursor = page.next_cursor

    # ---- finance -------------------------------------------------------------------------------

    def finance(self, first: date | str, last: date | str) -> FinanceReport:
        """UTC days ``first``..``last`` (inclusive): per pool, per day and over the range."""
        table = self._table(FinanceDailyProjection, "daily")
        rows = self._fetch(
            f"SELECT day, currency, pool_key, {', '.join(COLUMNS)} FROM {table}"
            " WHERE day >= %s AND day <= %s ORDER BY day, currency, pool_key",
            (str(first), str(last)),
        )
        days: dict[tuple[str | None, str], list[int]] = {}
        totals: dict[tuple[str | None, str], list[int]] = {}
        for day, currency, _, *amounts in rows:
            for key, into in (((day, currency), days), ((None, currency), totals)):
                into[key] = [a + b for a, b in zip(into.get(key, [0] * 6), amounts, strict=True)]
        return FinanceReport(
            rows=[_finance(day, cur, pool, amounts) for day, cur, pool, *amounts in rows],
            days=[_finance(d, c, None, a) for (d, c), a in days.items()],
            totals=[_finance(d, c, None, a) for (d, c), a in sorted(totals.items())],
        )

    # ---- risk ----------------------------------------------------------------------------------

    def velocity(
        self,
        player_id: str | None = None,
        first_hour: str | None = None,
        last_hour: str | None = None,
        limit: int = 500,
    ) -> list[VelocityRow]:
        """Per player and UTC hour (``YYYY-MM-DDTHH``, inclusive bounds), newest hour first."""
        table = self._table(RiskProjection, "velocity")
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        for clause, value in (
            ("player_id = %s", player_id),
            ("hour >= %s", first_hour),
            ("hour <= %s", last_hour),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self._fetch(
            f"SELECT player_id, hour, draw_requests, draws, deposits_requested,"
            f" deposits_credited, deposited FROM {table} WHERE {' AND '.join(where)}"
            " ORDER BY hour DESC, player_id LIMIT %s",
            (*params, _check(limit)),
        )
        return [VelocityRow(*r) for r in rows]

    def rapid_withdrawals(
        self, player_id: str | None = None, within_s: int = RAPID_WITHDRAWAL_S
    ) -> list[RapidWithdrawal]:
        """Withdrawals requested within ``within_s`` of the player's latest deposit credit
        before them, newest first."""
        credits = self._table(RiskProjection, "credits")
        locks = self._table(RiskProjection, "locks")
        where, params = "", (within_s * 1_000_000,)  # type: str, tuple[object, ...]
        if player_id is not None:
            where, params = " WHERE l.player_id = %s", (within_s * 1_000_000, player_id)
        rows = self._fetch(
            "SELECT l.position, l.player_id, l.withdrawal_id, l.amount, l.at, c.deposit_id,"
            f" c.amount, c.at, l.at_us - c.at_us FROM {locks} l JOIN {credits} c"
            " ON c.player_id = l.player_id AND c.position < l.position"
            f" AND c.at_us >= l.at_us - %s{where} ORDER BY l.position DESC, c.position DESC",
            params,
        )
        found: dict[int, RapidWithdrawal] = {}
        for position, *values, gap_us in rows:
            if position not in found:
                found[position] = RapidWithdrawal(*[*values, gap_us / 1_000_000])
        return list(found.values())

    def _fetch(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._store.transaction() as tx:
            return tx.fetchall(sql, params)


_MAX = 2**62


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return _MAX, 0
    try:
        position, line = (int(part) for part in cursor.split(".", 1))
    except ValueError:
        raise ValueError(f"malformed cursor {cursor!r}") from None
    return position, line


def _check(limit: int) -> int:
    if not 1 <= limit <= 500:
        raise ValueError("limit must be 1..500")
    return limit


def _position(cursor: str | None, default: int) -> int:
    if not cursor:
        return default
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"malformed cursor {cursor!r}") from None


def _page(rows: list[T], limit: int) -> Page[T]:
    more = len(rows) > limit
    page = rows[:limit]
    return Page(page, str(page[-1].position) if more else None)  # type: ignore[attr-defined]


def _at(at: datetime) -> str:
    return iso(at.astimezone(UTC))


def _draw(row: tuple[Any, ...]) -> DrawRow:
    return DrawRow(*[*row[:-1], json.loads(row[-1])])


def _withdrawal(row: tuple[Any, ...]) -> WithdrawalRow:
    values = list(row)
    values[9] = json.loads(values[9])
    return WithdrawalRow(*values)


def _finance(day: str | None, currency: str, pool: str | None, amounts: list[int]) -> FinanceRow:
    by = dict(zip(COLUMNS, amounts, strict=True))
    house = by["draw_revenue"] - by["prize_payouts"] - by["bonus_granted"]
    d, w, r, p, b, a = amounts
    return FinanceRow(day, currency, pool, d, w, r, p, b, a, house)
