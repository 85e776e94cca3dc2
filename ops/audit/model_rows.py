"""What each read model's rows must be, built from the fold, and the SQL that reads them.

One function per projection with an independent fold; each reads the projection's own tables
(by the names its class gives them) inside the snapshot ``model_checks`` opened, and reports
differences through a ``Comparison``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from domain.deposit import Deposit
from domain.pool import PrizePool
from domain.withdrawal import Withdrawal
from ops.audit.draw_checks import canonical_json, digest
from ops.audit.fold import LedgerFold
from projections.base import LedgerView, iso
from projections.store import ReadTx, Row

__all__ = ["COMPARE", "Comparison"]

PAGE = 5_000


class Comparison(Protocol):
    """Where one projection's differences go."""

    def diff(
        self,
        columns: tuple[str, ...],
        expected: dict[Any, tuple[Any, ...]],
        found: Iterable[tuple[Any, ...]],
    ) -> None:
        """``found`` rows are (key, *columns); the key may be a tuple of the first columns."""

    def fail(self, message: str, key: str | None = None) -> None: ...

    def explain(self, draw_id: str) -> tuple[Any, ...] | None:
        """The row (after ``position``) the Draw's own stream says it must have."""


def _select(
    tx: ReadTx,
    view: LedgerView,
    table: str,
    columns: Iterable[str],
    tail: str = "",
    params: Sequence[object] = (),
) -> list[Row]:
    """Columns of one of the view's tables; the names come from the projection classes and
    this module, never from input."""
    sql = f"SELECT {', '.join(columns)} FROM {view.table(table)} {tail}"  # noqa: S608
    return tx.fetchall(sql, params)


def balances(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    columns = ("player_id", "currency", "available", "locked", "bonus", "version", "updated_at")
    expected = {
        str(wallet_id): (
            f.player_id,
            f.currency,
            *(
                fold.balance(f"player:{f.player_id}:{b}", f.currency)
                for b in ("available", "locked", "bonus")
            ),
            f.version,
            iso(f.updated) if f.updated else None,
        )
        for wallet_id, f in fold.wallets.items()
    }
    to.diff(columns, expected, _select(tx, view, "balances", ("wallet_id", *columns)))


def history(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    """The postings rows, summed per player, balance and currency."""
    columns = ("sum(amount_minor)", "count(*)", "sum(position)")
    expected = {k: tuple(v) for k, v in fold.player_postings.items()}
    keys = ("player_id", "balance", "currency")
    rows = _select(tx, view, "postings", (*keys, *columns), f"GROUP BY {', '.join(keys)}")
    to.diff(columns, expected, [(*r[:3], *(int(v) for v in r[3:])) for r in rows])


def trial_balance(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    expected: dict[Any, tuple[Any, ...]] = dict(fold.accounts())
    rows = _select(tx, view, "accounts", ("account", "currency", "balance", "postings"))
    to.diff(("balance", "postings"), expected, rows)


_DRAW_COLUMNS: tuple[str, ...] = ("position", "player_id", "pool_key", "status", "reason")
_DRAW_COLUMNS += ("requested",)
_DRAW_COLUMNS += ("settled", "cost_total", "won_total", "at", "results")


def draws(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    """Row by row against each Draw's digest, in pages by draw id (the table can be large)."""
    remaining = dict(fold.draws.digests)
    last = ""
    while True:
        tail = "WHERE draw_id > %s ORDER BY draw_id LIMIT %s"
        rows = _select(tx, view, "draws", ("draw_id", *_DRAW_COLUMNS), tail, (last, PAGE))
        for row in rows:
            wanted = remaining.pop(row[0], None)
            if wanted is None:
                to.fail(f"row {row[0]} has no Draw behind it", row[0])
            elif row[1] != wanted[0] or not _same_draw(row, wanted[1]):
                _draw_mismatch(row, wanted[0], to)
        if len(rows) < PAGE:
            break
        last = rows[-1][0]
    for draw_id, (position, _) in remaining.items():
        to.fail(f"no row for the Draw at notification {position}", draw_id)


def _same_draw(row: tuple[Any, ...], wanted: int) -> bool:
    """Does the row (after ``position``) digest to ``wanted``? Its results text as stored is
    tried first: the projector writes it in the canonical form the digest is of (sorted keys, no
    blanks), and equal text is an equal value. Only text that differs is put in that form (a
    row written otherwise, or a different value) and tried again."""
    columns, results = row[2:-1], row[-1]
    if digest((*columns, results.encode())) == wanted:
        return True
    return digest((*columns, canonical_json(results))) == wanted


def _draw_mismatch(row: tuple[Any, ...], position: int, to: Comparison) -> None:
    wanted = to.explain(row[0])
    if wanted is None:
        to.fail(f"row {row[0]}: its Draw cannot be read", row[0])
        return
    found = (row[1], *row[2:-1], json.loads(row[-1]))
    want = (position, *wanted[:-1], json.loads(wanted[-1]))
    diff = [
        f"{c} {v!r} (events: {w!r})"
        for c, v, w in zip(_DRAW_COLUMNS, found, want, strict=True)
        if v != w
    ]
    to.fail(f"row {row[0]}: {', '.join(diff)}", row[0])


def pool_stats(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    pools = [p for p in fold.aggregates.values() if isinstance(p, PrizePool)]
    columns: tuple[str, ...] = ("pool_key", "name", "currency", "status", "draw_cost")
    columns += (
        "rtp_target_bps",
        "epoch",
        "fund",
        "funded",
        "defunded",
        "requests",
        "refused",
        "draws",
        "wins",
    )
    columns += ("cost_total", "payout_total")
    expected = {
        str(p.id): (
            p.pool_key,
            p.name,
            p.currency,
            p.status,
            p.draw_cost,
            p.controls_record["rtp_target_bps"],
            p.epoch,
            p.fund,
            *fold.pool_money.get(p.pool_key, [0, 0]),
            *fold.draws.pool_counts.get(p.pool_key, [0] * 6),
        )
        for p in pools
    }
    to.diff(columns, expected, _select(tx, view, "pools", ("pool_id", *columns)))
    _prizes(tx, view, fold, to, pools)


def _prizes(
    tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison, pools: list[PrizePool]
) -> None:
    """Prizes in a pool's table in full; a retired prize's row keeps only its wins."""
    counts = fold.draws.prize_counts
    columns: tuple[str, ...] = ("name", "kind", "reward", "weight", "stock", "budget")
    columns += ("budget_window_s", "active", "wins", "paid")
    rows = _select(tx, view, "prizes", ("pool_id", "prize_id", *columns))
    tables = {str(p.id): p for p in pools}
    active: dict[Any, tuple[Any, ...]] = {}
    for p in pools:
        for prize_id, r in p.prizes.items():
            wins, paid = counts.get((p.pool_key, prize_id), [0, 0])
            active[(str(p.id), prize_id)] = (
                *(r[c] for c in ("name", "kind", "reward", "weight")),
                p.stock.get(prize_id),
                r["budget"],
                r["budget_window_s"],
                1,
                wins,
                paid,
            )
    retired_keys = {(str(p.id), k) for p in pools for (key, k) in counts if key == p.pool_key}
    retired_keys |= {(r[0], r[1]) for r in rows if r[0] in tables}
    retired_keys -= set(active)
    retired = {
        (pool_id, prize_id): (0, *counts.get((tables[pool_id].pool_key, prize_id), [0, 0]))
        for pool_id, prize_id in retired_keys
    }
    to.diff(columns, active, [r for r in rows if (r[0], r[1]) not in retired])
    found = [(r[0], r[1], r[9], r[10], r[11]) for r in rows if (r[0], r[1]) in retired]
    to.diff(("active", "wins", "paid"), retired, found)


def deposits(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    columns = ("provider", "state", "provider_ref", "failure_reason")

    def values(d: Deposit) -> tuple[Any, ...]:
        return (d.provider, d.state, d.provider_ref, d.failure_reason)

    _payments(tx, view, fold, to, Deposit, columns, values)


def withdrawals(tx: ReadTx, view: LedgerView, fold: LedgerFold, to: Comparison) -> None:
    columns: tuple[str, ...] = ("destination", "state", "approvals_required", "approvals")
    columns += ("approvers", "provider_ref", "reason")

    def values(w: Withdrawal) -> tuple[Any, ...]:
        approvers = list(w.approvers)
        own = (w.destination, w.state, w.approvals_required, len(approvers), approvers)
        return (*own, w.provider_ref, w.reason)

    _payments(tx, view, fold, to, Withdrawal, columns, values)


def _payments(
    tx: ReadTx,
    view: LedgerView,
    fold: LedgerFold,
    to: Comparison,
    cls: type[Any],
    own: tuple[str, ...],
    values: Callable[[Any], tuple[Any, ...]],
) -> None:
    """A review queue (``deposits`` or ``withdrawals``): one row per payment, with the
    columns every queue has around the payment's ``own`` ones."""
    columns = ("position", "player_id", "amount", "currency", *own, "requested_at")
    columns += ("updated_at",)
    expected = {
        str(p.id): (
            fold.created[p.id],
            p.player_id,
            p.amount_minor,
            p.currency,
            *values(p),
            iso(p.created_on),
            iso(p.modified_on),
        )
        for p in fold.aggregates.values()
        if isinstance(p, cls)
    }
    name = view.name
    rows = _select(tx, view, name, (f"{name[:-1]}_id", *columns))
    if "approvers" in columns:  # a JSON list in the queue's row
        at = columns.index("approvers") + 1
        rows = [(*r[:at], json.loads(r[at]), *r[at + 1 :]) for r in rows]
    to.diff(columns, expected, rows)


COMPARE: dict[str, Callable[[ReadTx, LedgerView, LedgerFold, Comparison], None]] = {
    "balances": balances,
    "history": history,
    "trial_balance": trial_balance,
    "draws": draws,
    "pool_stats": pool_stats,
    "deposits": deposits,
    "withdrawals": withdrawals,
}
