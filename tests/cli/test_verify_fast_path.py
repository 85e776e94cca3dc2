"""``prizeledger verify`` decodes most events itself (``ops.audit.fold._Topic``) and makes the
postings of a draw settlement through the fast path (``domain.postings.moves_for``): on a store
with tampered events its report is the one it gives when every event goes through the ledger's
mapper and ``postings_for``."""

from __future__ import annotations

from typing import Any

import pytest

from domain import ids
from domain.cause import Cause
from domain.postings import postings_for
from ops.audit import fold
from ops.audit.draw_checks import DrawChecks
from ops.audit.model_checks import ReadModelAudit
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


def test_what_only_a_draws_comparison_reads_stops_after_the_last_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Draw's read-model digest and the per-pool counts are worked out only while the
    ``draws`` or ``pool_stats`` comparison is still to come. With both read models behind the
    head (two more draws, not projected), they are compared where they stand, the Draws after
    that are not digested, and the report is the one a fold that digests every Draw gives."""
    (projected,) = store.sql("SELECT position FROM rm_tracking WHERE projection = 'draws'")[0]
    for request in ("later-1", "later-2"):
        store.system.draws.draw("p2", "chips", 1, Cause("player:p2", request))
    digested: list[int] = []
    digest = DrawChecks._digest

    def spy(checks: DrawChecks, played: Any, at: Any) -> int:
        digested.append(played.ref[0])
        return digest(checks, played, at)

    monkeypatch.setattr(DrawChecks, "_digest", spy)
    report = _report(store)
    assert report["ok"]
    compared = {m["name"]: m for m in report["read_models"]}
    for name in ("draws", "pool_stats"):
        assert (compared[name]["outcome"], compared[name]["position"]) == ("equal", projected)
    draws = [at for at, _ in store.notifications("Draw.Executed")]
    assert digested == [at for at in draws if at <= projected]
    assert len(digested) == len(draws) - 2

    def every_draw(audit: ReadModelAudit) -> None:
        audit._fold.draws.rows = audit._fold.draws.stats = True

    monkeypatch.setattr(ReadModelAudit, "_tell_fold", every_draw)
    digested.clear()
    assert _report(store) == report
    assert digested == draws
