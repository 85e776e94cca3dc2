"""The auditor's commands on the embedded SQLite store (no DATABASE_URL server needed)."""

from __future__ import annotations

import json
import sqlite3

from tests.cli.conftest import Store


def test_verify_passes_and_a_missing_id_is_a_violation_on_sqlite(embedded_store: Store) -> None:
    """SQLite never leaves a gap in its ids (a rolled-back insert returns its rowid), so a
    deleted event is caught even when it was the only event of its stream."""
    done = embedded_store.cli("verify", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {m["outcome"] for m in report["read_models"] if m["name"] == "balances"} == {"equal"}
    [(position, receipt)] = embedded_store.notifications("Receipt.Recorded")[3:4]
    path = embedded_store.settings.data_dir / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
    db.close()
    done = embedded_store.cli("verify", "--json")
    assert done.returncode == 1
    [gaps] = [c for c in json.loads(done.stdout)["checks"] if c["name"] == "notification_ids"]
    assert gaps["violations"] == 1
    assert gaps["first"][0]["notification_id"] == position + 1
    assert gaps["first"][0]["message"] == f"ids {position}..{position} are missing"
    assert receipt.originator_version == 1  # no version gap could have shown it


def test_verify_draw_and_export_on_sqlite(embedded_store: Store) -> None:
    proofs = embedded_store.cli("verify-draw", "--all", "--pool", "chips", "--json")
    assert proofs.returncode == 0, proofs.stderr
    assert json.loads(proofs.stdout)["counts"]["pending"] == 2
    out = embedded_store.settings.data_dir / "export"
    assert embedded_store.cli("export", "postings", "--out", str(out)).returncode == 0
    assert embedded_store.cli("export", "verify", str(out)).returncode == 0
