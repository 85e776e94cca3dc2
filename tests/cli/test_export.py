"""``prizeledger export``: files with a manifest that ``export verify`` can check; the
postings of a whole-history export reproduce the trial balance read model."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.audit import cli, export_files
from tests.cli.conftest import Store

pytestmark = pytest.mark.postgres


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def export(store: Store, kind: str, out: Path, *args: str) -> dict[str, Any]:
    done = store.cli("export", kind, "--out", str(out), "--json", *args)
    assert done.returncode == 0, done.stderr
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    assert json.loads(done.stdout) == manifest
    return manifest


def test_postings_round_trip_reproduces_the_trial_balance(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "postings"
    manifest = export(store, "postings", out)
    head = store.system.ledger.recorder.max_notification_id()
    assert manifest["notifications"]["scanned"] == [1, head]
    assert manifest["notifications"]["events"] == head
    assert set(manifest["files"]) == {"postings.csv", "trial_balance.csv"}
    checked = store.cli("export", "verify", str(out))
    assert checked.returncode == 0, checked.stdout
    assert "matches its manifest" in checked.stdout

    read_model = store.system.read_models.trial_balance()
    exported = rows(out / "trial_balance.csv")
    assert [(r["account"], r["currency"], int(r["balance"])) for r in exported] == sorted(
        read_model.accounts
    )
    balances = [b for _, _, b in read_model.accounts]
    assert manifest["trial_balance"] == {
        "EUR": {
            "net": 0,
            "positive": sum(b for b in balances if b > 0),
            "negative": sum(b for b in balances if b <= 0),
            "accounts": len(balances),
            "postings": len(rows(out / "postings.csv")),
        }
    }
    sums: dict[str, int] = {}
    for posting in rows(out / "postings.csv"):
        assert posting["amount_minor"].lstrip("-").isdigit()  # integers in minor units
        sums[posting["account"]] = sums.get(posting["account"], 0) + int(posting["amount_minor"])
    assert sums == {a: b for a, _, b in read_model.accounts}


def test_export_verify_detects_a_modified_file(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "postings"
    export(store, "postings", out)
    postings = out / "postings.csv"
    text = postings.read_text().splitlines(keepends=True)
    row = next(csv.reader([text[1]]))
    row[7] = str(int(row[7]) + 1)  # one posting's amount
    text[1] = ",".join(row) + "\n"
    postings.write_text("".join(text))
    done = store.cli("export", "verify", str(out), "--json")
    assert done.returncode == 1
    problems = json.loads(done.stdout)["problems"]
    assert "postings.csv: SHA-256 differs from the manifest" in problems
    assert "postings.csv does not sum to trial_balance.csv" in problems
    (out / "trial_balance.csv").unlink()
    done = store.cli("export", "verify", str(out))
    assert done.returncode == 1
    assert "trial_balance.csv: missing" in done.stdout


@pytest.mark.parametrize(
    ("kind", "files"),
    [
        ("audit", {"audit.csv"}),
        ("draws", {"draws.csv", "draw_results.csv"}),
        ("finance", {"finance.csv"}),
    ],
)
def test_every_kind_exports_and_verifies(
    store: Store, tmp_path: Path, kind: str, files: set[str]
) -> None:
    manifest = export(store, kind, tmp_path / kind)
    assert set(manifest["files"]) == {*files, "trial_balance.csv"}
    for name, entry in manifest["files"].items():
        assert len(rows(tmp_path / kind / name)) == entry["rows"]
    assert store.cli("export", "verify", str(tmp_path / kind)).returncode == 0
    if kind == "draws":
        draws = rows(tmp_path / kind / "draws.csv")
        assert {r["draw_id"] for r in draws} == set(store.draws.values())
        results = rows(tmp_path / kind / "draw_results.csv")
        assert len(results) == 2 + 3 + 1  # the refused request drew nothing
    if kind == "finance":
        (day,) = rows(tmp_path / kind / "finance.csv")[:1]
        assert day["day"] == "2026-01-01"


def test_a_window_exports_only_its_events(store: Store, tmp_path: Path) -> None:
    """The withdrawals happened 16 minutes after the start; the deposits before."""
    since = (store.clock.now - timedelta(seconds=1)).isoformat()
    manifest = export(store, "postings", tmp_path / "late", "--from", since)
    kinds = {r["event"] for r in rows(tmp_path / "late" / "postings.csv")}
    assert kinds == {"Wallet.FundsLocked", "Wallet.FundsReleased", "Wallet.WithdrawalPaidOut"}
    first, last = manifest["notifications"]["included"]
    assert last == store.system.ledger.recorder.max_notification_id()
    assert first > 1
    assert manifest["trial_balance"]["EUR"]["net"] == 0
    assert store.cli("export", "verify", str(tmp_path / "late")).returncode == 0


def test_a_parquet_export_round_trips_to_the_trial_balance(store: Store, tmp_path: Path) -> None:
    from pyarrow import parquet

    manifest = export(store, "postings", tmp_path / "pq", "--format", "parquet")

    assert manifest["file_format"] == "parquet"
    assert set(manifest["files"]) == {"postings.parquet", "trial_balance.csv"}
    table = parquet.read_table(tmp_path / "pq" / "postings.parquet")
    assert table.num_rows == manifest["files"]["postings.parquet"]["rows"] > 0
    assert str(table.schema.field("amount_minor").type) == "int64"
    assert sum(table.column("amount_minor").to_pylist()) == 0
    assert store.cli("export", "verify", str(tmp_path / "pq")).returncode == 0
    # A changed file is caught, as with CSV.
    (tmp_path / "pq" / "postings.parquet").write_bytes(b"PAR1 not really")
    broken = store.cli("export", "verify", str(tmp_path / "pq"), "--json")
    assert broken.returncode == 1, broken.stderr
    assert any("postings.parquet" in p for p in json.loads(broken.stdout)["problems"])


def test_usage_errors(store: Store, tmp_path: Path) -> None:
    bad = store.cli("export", "postings", "--from", "yesterday", "--out", str(tmp_path))
    assert bad.returncode == 2
    export(store, "postings", tmp_path / "once")
    again = store.cli("export", "postings", "--out", str(tmp_path / "once"))
    assert again.returncode == 2
    assert "already holds an export" in again.stderr
    assert store.cli("export", "verify", str(tmp_path / "none")).returncode == 2


def test_the_cli_offers_the_kinds_export_knows() -> None:
    assert set(cli.EXPORT_KINDS) == set(export_files.KINDS)
