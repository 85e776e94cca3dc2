"""``prizeledger verify`` decodes most events itself (``ops.audit.fold._Topic``) and makes the
postings of a draw settlement through the fast path (``domain.postings.moves_for``): on a store
with tampered events its report is the one it gives when every event goes through the ledger's
mapper and ``postings_for``."""

from __future__ import annotations

from typing import Any

import pytest

from domain import ids
from domain.postings import postings_for
from ops.audit import fold
from ops.audit.verify import verify_ledger
from tests.cli.conftest import Store

pytestmark = pytest.mark.postgres


def _report(store: Store) -> dict[str, Any]:
    report = verify_ledger(store.system).to_json()
    del report["elapsed_s"], report["events_per_s"]
    return report


def test_the_fast_paths_report_what_the_mapper_and_the_domain_report(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    (draw_at, _), *_ = store.notifications("Draw.Executed")
    (settled_at, _), (other_at, _), *_ = store.notifications("Wallet.DrawsSettled")

    def reuse_nonce(state: dict[str, Any]) -> None:
        state["results"][0]["nonce"] += 5

    def overcharge(state: dict[str, Any]) -> None:
        state["cost_total"] += 1

    def mistype(state: dict[str, Any]) -> None:
        state["cash_won"] = True

    store.rewrite_event(draw_at, reuse_nonce)
    store.rewrite_event(settled_at, overcharge)
    store.rewrite_event(other_at, mistype)
    fast = _report(store)
    assert not fast["ok"]
    failed = {c["name"] for c in fast["checks"] if c["violations"]}
    assert {"draw_inputs", "postings", "draws"} <= failed

    monkeypatch.setattr(fold._Topic, "decode", lambda *_: None)
    monkeypatch.setattr(
        fold,
        "moves_for",
        lambda e: [(p.account, p.amount_minor, p.currency) for p in postings_for(e)],
    )
    assert _report(store) == fast


def test_pool_wins_applied_once_report_what_applying_them_again_reports(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold keeps the working copy its pool checks applied the wins to
    (``ops.audit.pool_checks.apply_checked``): on batches with wins past stock and budget, a
    prize not in the table or an attribute missing, the report is the one the fold gives when
    it applies every batch to its pool again."""
    batches: dict[str, list[int]] = {"gold": [], "chips": []}
    for at, event in store.notifications("PrizePool.DrawsSettled"):
        for key, found in batches.items():
            if event.originator_id == ids.pool_id(key):
                found.append(at)
    (gold, *_), (chips, chips_later, *_) = batches["gold"], batches["chips"]

    def past_stock(state: dict[str, Any]) -> None:
        state["wins"] += ["nugget"] * 4

    def ghost(state: dict[str, Any]) -> None:
        state["wins"] += ["chip", "ghost", "chip"]

    def no_actor(state: dict[str, Any]) -> None:
        state["wins"] += ["chip"]
        del state["actor"]

    store.rewrite_event(gold, past_stock)
    store.rewrite_event(chips, ghost)
    store.rewrite_event(chips_later, no_actor)
    once = _report(store)
    failed = {c["name"] for c in once["checks"] if c["violations"]}
    assert {"stock", "budgets", "events", "pool_funds", "draws"} <= failed

    monkeypatch.setattr(fold, "apply_checked", lambda *_: False)
    assert _report(store) == once
