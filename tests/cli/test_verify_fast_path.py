"""``prizeledger verify`` decodes most events itself (``ops.audit.fold._Topic``) and makes the
postings of a draw settlement itself (``ops.audit.fast``): on a store with tampered events its
report is the one it gives when every event goes through the ledger's mapper and
``domain.postings``."""

from __future__ import annotations

from typing import Any

import pytest

from domain.postings import postings_for
from ops.audit import fold
from ops.audit.fast import moves
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
    monkeypatch.setattr(fold, "event_moves", lambda event: moves(postings_for(event)))
    assert _report(store) == fast
