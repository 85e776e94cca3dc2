"""``prizeledger verify-draw``: every draw recomputes once its epoch is revealed; a tampered
trace is named; an unrevealed epoch is not passed off as verified."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.cause import Cause
from tests.cli.conftest import OPERATOR, Store

pytestmark = pytest.mark.postgres

SETTLED = {"gold-2": "gold", "chips-3": "chips", "p2-chips": "chips"}


def rotate(store: Store, *pools: str) -> None:
    for pool in pools:
        store.system.pools.rotate_epoch(pool, Cause(OPERATOR, f"rotate-{pool}"))


def proofs(store: Store, *args: str) -> tuple[int, dict[str, Any]]:
    done = store.cli("verify-draw", "--json", *args)
    assert done.returncode in {0, 1}, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_an_unrevealed_epoch_cannot_be_verified_yet(store: Store) -> None:
    done = store.cli("verify-draw", store.draws["gold-2"])
    assert done.returncode == 1
    assert "pending reveal (epoch 1 not rotated yet)" in done.stdout
    code, report = proofs(store, "--all", "--pool", "gold")
    assert code == 0  # --all counts them as pending
    assert report["counts"] == {"verified": 0, "pending": 1, "refused": 1, "failed": 0}


def test_every_draw_verifies_after_the_epoch_rotates(store: Store) -> None:
    rotate(store, "gold", "chips")
    for name, pool in SETTLED.items():
        done = store.cli("verify-draw", store.draws[name])
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{pool}  verified" in done.stdout
    code, gold = proofs(store, "--all", "--pool", "gold", "--epoch", "1")
    assert code == 0
    assert gold["counts"] == {"verified": 1, "pending": 0, "refused": 0, "failed": 0}
    code, chips = proofs(store, "--all", "--pool", "chips")
    assert code == 0
    assert chips["counts"] == {"verified": 2, "pending": 0, "refused": 0, "failed": 0}
    assert sum(p["results"] for p in chips["draws"]) == 4  # 3 + 1 draws
    refused = store.cli("verify-draw", store.draws["gold-refused"])
    assert (refused.returncode, "refused: nothing was drawn" in refused.stdout) == (0, True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", 0, "recomputed"),  # the random value that picked the arm
        ("weights", [["chip", 1000], ["miss", 1]], "recomputed"),  # better odds than offered
        ("commitment", "0" * 64, "is not epoch 1's published"),
    ],
)
def test_a_tampered_trace_is_named(store: Store, field: str, value: Any, message: str) -> None:
    rotate(store, "chips")
    draw = store.draws["chips-3"]
    [(position, event)] = [
        (n, e) for n, e in store.notifications("Draw.Executed") if str(e.originator_id) == draw
    ]
    original = event.results[1][field]
    if field == "value":
        value = (original + 1) % event.results[1]["total"]

    def tamper(state: dict[str, Any]) -> None:
        state["results"][1][field] = value

    store.rewrite_event(position, tamper)
    done = store.cli("verify-draw", draw)
    assert done.returncode == 1
    assert draw in done.stdout
    assert "FAILED: result 1:" in done.stdout
    assert message in done.stdout
    code, report = proofs(store, "--all", "--pool", "chips")
    assert code == 1
    [failed] = [p for p in report["draws"] if p["status"] == "failed"]
    assert failed["draw_id"] == draw
    assert report["counts"]["verified"] == 1


def test_usage_and_unknown_draws(store: Store) -> None:
    assert store.cli("verify-draw").returncode == 2
    assert store.cli("verify-draw", "not-a-uuid").returncode == 2
    assert store.cli("verify-draw", "--all").returncode == 2
    missing = store.cli("verify-draw", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1
    assert "no draw" in missing.stderr
    assert store.cli("verify-draw", "--all", "--pool", "nope").returncode == 1
