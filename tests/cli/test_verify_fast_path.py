"""``prizeledger verify`` decodes most events itself (``ops.audit.fold._Topic``), its two most
common ones as views of what its checks read (``ops.audit.views``), and makes the postings of a
draw settlement through the fast path (``domain.postings.moves_for``): on a store with tampered
events its report is the one it gives when every event goes through the ledger's mapper and
``postings_for``."""

from __future__ import annotations

from typing import Any

import pytest

from domain import ids
from domain.cause import Cause
from domain.postings import postings_for
from ops.audit import fold, views
from ops.audit.draw_checks import DrawChecks
from ops.audit.model_checks import ReadModelAudit
from ops.audit.verify import verify_ledger
from tests.cli.conftest import Store

pytestmark = pytest.mark.postgres


def _report(store: Store) -> dict[str, Any]:
    report = verify_ledger(store.system).to_json()
    del report["elapsed_s"], report["events_per_s"]
    return report


def _slow_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event through the ledger's mapper, every posting through ``postings_for``."""
    monkeypatch.setattr(fold._Topic, "decode", lambda *_: None)
    monkeypatch.setattr(fold, "view_decoder", lambda *_: None)
    monkeypatch.setattr(
        fold,
        "moves_of",
        lambda e: [(p.account, p.amount_minor, p.currency) for p in postings_for(e)],
    )


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

    _slow_paths(monkeypatch)
    assert _report(store) == fast


def test_the_views_report_what_the_whole_events_report(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Draws past the ``draws`` read model's position are read as views; on tampered Draws and
    settlements (an attribute or a result's key missing, a value of another type, results that
    are not a list of maps) the report is the one the whole events give, and the sound ones
    among them were read as views."""
    (projected,) = store.sql("SELECT position FROM rm_tracking WHERE projection = 'draws'")[0]
    for n in range(10):
        store.system.draws.draw("p2", "chips", 2, Cause("player:p2", f"later-{n}"))
    later = [at for at, _ in store.notifications("Draw.Executed") if at > projected]
    every_settled = [at for at, _ in store.notifications("Wallet.DrawsSettled")]
    settled = [at for at in every_settled if at > projected]

    def drop(key: str) -> Any:
        return lambda state: state.pop(key)

    def first_result(change: Any) -> Any:
        return lambda state: change(state["results"][0])

    # Changes a view reads as they are (its values are the stored ones), then changes it
    # cannot take (the event is then decoded whole).
    draw_taken = [
        first_result(lambda r: r.pop("nonce")),
        first_result(lambda r: r.update(cost="100")),
        first_result(lambda r: r.update(outcome="jackpot", reward=10**6)),
    ]
    draw_refused = [
        lambda state: state.update(results={"0": state["results"][0]}),
        lambda state: state["results"].append(7),
        drop("at"),
        drop("status"),
    ]
    draw_changes = draw_taken + draw_refused
    settled_changes = [
        lambda state: state.update(from_available=state["from_available"] + 1),
        drop("nonce"),
        lambda state: state.update(pool_key=7),
        lambda state: state.update(cash_won=float(state["cash_won"])),
    ]
    for at, change in zip(later, draw_changes, strict=False):
        store.rewrite_event(at, change)
    for at, change in zip(settled, settled_changes, strict=False):
        store.rewrite_event(at, change)
    viewed: list[str] = []
    decoder = views.view_decoder

    def spy(name: str, mapper: Any) -> Any:
        decode = decoder(name, mapper)
        if decode is None:
            return None

        def counted(state: bytes) -> Any:
            event = decode(state)
            if event is not None:
                viewed.append(type(event).__name__)
            return event

        return counted

    monkeypatch.setattr(fold, "view_decoder", spy)
    seen = _report(store)
    failed = {c["name"] for c in seen["checks"] if c["violations"]}
    assert {"draws", "draw_inputs", "events", "postings"} <= failed
    # Every Draw past the read model but those a view cannot take was read as a view; so was
    # every settlement but those whose attributes a view cannot take (all but the first change).
    assert viewed.count("ExecutedView") == len(later) - len(draw_refused)
    assert viewed.count("DrawsSettledView") == len(every_settled) - len(settled_changes) + 1

    _slow_paths(monkeypatch)
    assert _report(store) == seen


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
