"""The HTTP benchmark's checks on the raw events: they pass on a real run's events and fail on
each kind of disagreement between what clients were told and what the store holds. On Postgres,
as the benchmark runs them (they load draws from several threads)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from uuid import UUID

import pytest

from domain.cause import Cause
from infrastructure.bootstrap import System
from ops.bench.fixtures import open_bench_pool
from ops.bench.ledger_audit import _Fold, audit

pytestmark = pytest.mark.postgres


@pytest.fixture
def answered(pg_system: System) -> list[tuple[str, str]]:
    """Two players who drew three times each on the bench pool: (draw id, player id)."""
    open_bench_pool(pg_system, "bench-0")
    draws = []
    for player in ("ann", "bob"):
        pg_system.wallets.open(player, Cause(f"player:{player}", "open"))
        d = pg_system.deposits.request(
            player, 1_000, "EUR", "sandbox", Cause(f"player:{player}", "d")
        )
        pg_system.deposits.confirm(UUID(d.deposit_id), "ref", Cause("system:sandbox", player))
        for n in range(3):
            outcome = pg_system.draws.draw(player, "bench-0", 1, Cause(f"player:{player}", f"k{n}"))
            draws.append((outcome.draw_id, player))
    return draws


def test_a_real_run_passes_every_check(pg_system: System, answered: list[tuple[str, str]]) -> None:
    report = audit(pg_system, answered)

    assert report["ok"] is True
    assert all(report["checks"].values())
    assert report["ledger_totals"] == {"EUR": 0}
    assert report["answered_draws"] == 6
    assert report["settled_not_answered"] == 0


def test_a_draw_the_store_does_not_hold_fails(
    pg_system: System, answered: list[tuple[str, str]]
) -> None:
    report = audit(pg_system, [*answered, (str(uuid.uuid4()), "ann")])

    assert report["ok"] is False
    assert report["checks"]["every_2xx_draw_stored_once"] is False
    assert report["checks"]["every_2xx_draw_loads_settled"] is False


def test_the_same_draw_answered_twice_fails(
    pg_system: System, answered: list[tuple[str, str]]
) -> None:
    report = audit(pg_system, [*answered, answered[0]])

    assert report["checks"] == {**report["checks"], "answered_draw_ids_unique": False}
    assert report["ok"] is False


def test_a_draw_answered_to_another_player_fails(
    pg_system: System, answered: list[tuple[str, str]]
) -> None:
    (draw_id, _), *rest = answered

    report = audit(pg_system, [(draw_id, "bob"), *rest])

    assert report["checks"]["every_2xx_draw_loads_settled"] is False
    assert report["ok"] is False


def test_a_settled_draw_nobody_was_answered_for_is_counted_not_failed(
    pg_system: System, answered: list[tuple[str, str]]
) -> None:
    report = audit(pg_system, answered[1:])

    assert report["ok"] is True
    assert report["settled_not_answered"] == 1


def _event(qualname: str, **attributes: object) -> object:
    kind = type("Event", (SimpleNamespace,), {})
    kind.__qualname__ = qualname
    return kind(**attributes)


def test_a_balance_below_zero_at_any_point_is_reported_even_if_it_recovers() -> None:
    fold = _Fold()
    money = {"player_id": "ann", "currency": "EUR"}

    fold.add(_event("Wallet.DepositReversed", amount_minor=500, **money))
    fold.add(_event("Wallet.DepositCredited", amount_minor=500, **money))

    assert fold.negative == {"player:ann:available": -500}
    assert fold.balances["player:ann:available"] == 0
    assert fold.unbalanced == 0
