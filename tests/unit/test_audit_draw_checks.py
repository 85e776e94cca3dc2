"""``ops.audit.draw_checks`` on hand-made records: a sound request passes, and each kind of
disagreement between a Draw, its wallet record and its pool batch is named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from ops.audit.draw_checks import Charge, DrawChecks, Ref

_T = datetime(2026, 1, 1, 12, tzinfo=UTC)
_POOL = SimpleNamespace(
    pool_key="p",
    epoch=1,
    commitment="c",
    draw_cost=100,
    prizes={"a": {"kind": "cash", "reward": 50}},
)


def _result(index: int, won: bool) -> dict[str, Any]:
    return {
        "index": index,
        "nonce": index,
        "client_seed": "ann",
        "epoch": 1,
        "commitment": "c",
        "cost": 100,
        "outcome": "won" if won else "miss",
        "kind": "cash" if won else None,
        "prize_id": "a" if won else None,
        "arm": "a" if won else "miss",
        "reward": 50 if won else 0,
    }


class _Request:
    """One sound request of two draws (one won) recorded by pool, wallet and Draw."""

    def __init__(self) -> None:
        self.batch = SimpleNamespace(wins=["a"], draws=2, draw_ids=["d1"], at=_T)
        self.charge = SimpleNamespace(
            draw_id="d1", pool_key="p", cost_total=200, cash_won=50, bonus_won=0, nonce=2
        )
        self.draw = SimpleNamespace(
            player_id="ann",
            pool_key="p",
            status="settled",
            reason=None,
            requested=2,
            results=[_result(0, True), _result(1, False)],
            cost_total=200,
            at=_T,
        )


def _run(request: _Request, *extra: Callable[[DrawChecks], None]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def offend(check: str, message: str, _: Ref) -> None:
        found.append((check, message))

    checks = DrawChecks(offend)
    checks.on_batch((1, "pool", "PrizePool.DrawsSettled"), request.batch, _POOL)  # type: ignore[arg-type]
    ref = (2, "wallet", "Wallet.DrawsSettled")
    checks.on_charge(ref, request.charge, Charge(ref, request.charge, "ann", 0, "ann"))
    checks.on_draw((3, "d1", "Draw.Executed"), request.draw)
    for step in extra:
        step(checks)
    checks.finish()
    return found


def test_a_sound_request_passes() -> None:
    request = _Request()
    assert _run(request) == []


def _nonce_reused(r: _Request) -> None:
    r.draw.results[1]["nonce"] = 0


def _other_commitment(r: _Request) -> None:
    r.draw.results[1]["commitment"] = "x"


def _odd_outcome(r: _Request) -> None:
    r.draw.results[1]["outcome"] = "maybe"


def _pool_won_twice(r: _Request) -> None:
    r.batch.wins = ["a", "a"]


def _undercharged(r: _Request) -> None:
    r.charge.cost_total = 100


def _prize_overpaid(r: _Request) -> None:
    r.draw.results[0]["reward"] = 500


def _refused_but_charged(r: _Request) -> None:
    r.draw.status = "refused"


@pytest.mark.parametrize(
    ("tamper", "check", "words"),
    [
        (_nonce_reused, "draw_inputs", "nonces [0, 0]"),
        (_other_commitment, "draw_inputs", "traces name"),
        (_odd_outcome, "draws", "neither won nor miss"),
        (_pool_won_twice, "draws", "the pool recorded wins ['a', 'a']"),
        (_undercharged, "draws", "the wallet charged 100"),
        (_prize_overpaid, "draws", "pays cash 500 for a"),
        (_refused_but_charged, "draws", "a refused draw was charged"),
    ],
)
def test_each_disagreement_is_named(
    tamper: Callable[[_Request], None], check: str, words: str
) -> None:
    request = _Request()
    tamper(request)
    found = _run(request)
    assert any(c == check and words in m for c, m in found), found


def test_a_second_record_and_a_missing_part_are_named() -> None:
    request = _Request()
    ref = (4, "wallet", "Wallet.DrawsSettled")
    again = Charge(ref, request.charge, "ann", 2, "ann")
    found = _run(
        request,
        lambda c: c.on_charge(ref, request.charge, again),
        lambda c: c.on_draw((5, "d1", "Draw.Executed"), request.draw),
        lambda c: c.on_draw((6, "d2", "Draw.Executed"), request.draw),
    )
    messages = [m for c, m in found if c == "draws"]
    assert "draw d1 was already settled: a second wallet record" in messages
    assert "a second Draw record for the same request" in messages
    assert "draw d2 has no wallet record and no pool batch" in messages


@pytest.mark.parametrize("rows", [True, False])
@pytest.mark.parametrize("missing", ["at", "reason"])
def test_a_draw_without_its_time_or_reason_cannot_be_checked_digested_or_not(
    rows: bool, missing: str
) -> None:
    """Whether or not its ``draws`` row is digested (``DrawChecks.rows``: that read model is
    still to be compared), a Draw without a column of that row is refused, for the fold to name
    (``LedgerFold._handle``: "cannot be checked")."""
    checks = DrawChecks(lambda *_: None)
    checks.rows = rows
    draw = _Request().draw
    delattr(draw, missing)
    with pytest.raises(AttributeError, match=missing):
        checks.on_draw((3, "d1", "Draw.Executed"), draw)
    assert checks.digests == {}
