"""``prizeledger export``: CSV files an auditor can prove complete, from the raw events.

The whole notification log up to its head is scanned; an event belongs to the export when its
timestamp is in ``[--from, --to)``. ``manifest.json`` lists each file's rows and SHA-256, the
notification ids scanned and included, and the trial balance of the included events' postings
(``trial_balance.csv`` holds it per account); ``export verify`` recomputes all of it.
Amounts are integers in minor units.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.postings import Posting, postings_for
from ops.audit.console import FAILED, OK, USAGE, Progress, UsageError, emit_json, opened, parse_time
from ops.audit.export_files import KINDS, FileEntry, Rows, TrialBalance
from ops.audit.log import pages, plain, qualname_of

if TYPE_CHECKING:
    from infrastructure.bootstrap import System

__all__ = ["MANIFEST", "export", "run_export", "run_verify", "verify_export"]

MANIFEST = "manifest.json"
FORMAT = "prizeledger-export/1"


def export(
    system: System,
    kind: str,
    out: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    file_format: str = "csv",
) -> dict[str, Any]:
    """Write ``kind``'s files, ``trial_balance.csv`` and ``manifest.json`` into ``out``;
    returns the manifest. With ``file_format="parquet"`` the data files are Parquet (integer
    columns stay int64); the trial balance stays CSV, small and readable by anyone."""
    recorder, mapper = system.ledger.recorder, system.ledger.mapper
    head = recorder.max_notification_id() or 0
    out.mkdir(parents=True, exist_ok=True)
    rows: Rows = KINDS[kind](out)
    balance = TrialBalance()
    first = last = None  # the first and the last notification id in the window
    for page in pages(recorder, 1, stop=head):
        for notification in page:
            event: Any = mapper.to_domain_event(notification)
            if (since and event.timestamp < since) or (until and event.timestamp >= until):
                continue
            first, last = first or notification.id, notification.id
            postings = postings_for(event)
            balance.add(postings)
            rows.add(notification.id, qualname_of(notification.topic), event, postings)
        if progress is not None:
            progress(page[-1].id, head)
    data = rows.close()
    if file_format == "parquet":
        data = [_to_parquet(out, entry) for entry in data]
    files = [*data, balance.write(out)]
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "file_format": file_format,
        "generated_at": datetime.now(UTC).isoformat(),
        "window": {"from": since, "to": until, "rule": "from <= event timestamp < to"},
        "notifications": {
            "scanned": [1, head] if head else None,
            "included": [first, last] if first else None,
            "events": balance.events,
        },
        "files": {f.name: {"rows": f.rows, "sha256": f.sha256, "bytes": f.size} for f in files},
        "trial_balance": balance.totals(),
    }
    (out / MANIFEST).write_text(json.dumps(plain(manifest), indent=2) + "\n")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="") as f:
        yield from csv.DictReader(f)


def _to_parquet(out: Path, entry: FileEntry) -> FileEntry:
    """The CSV just written, as Parquet (then the CSV goes): the same rows and columns."""
    from pyarrow import csv as pa_csv
    from pyarrow import parquet

    source = out / entry.name
    target = source.with_suffix(".parquet")
    table = pa_csv.read_csv(source)
    parquet.write_table(table, target)
    source.unlink()
    return FileEntry(target.name, table.num_rows, _sha256(target), target.stat().st_size)


def _count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        from pyarrow import parquet

        return int(parquet.read_metadata(path).num_rows)
    return sum(1 for _ in _csv_rows(path))


def _postings(directory: Path) -> tuple[str, list[dict[str, Any]]] | None:
    """The postings file of the export (CSV or Parquet) and its rows, if it has one."""
    if (directory / "postings.csv").is_file():
        return "postings.csv", list(_csv_rows(directory / "postings.csv"))
    if (directory / "postings.parquet").is_file():
        from pyarrow import parquet

        rows: list[dict[str, Any]] = parquet.read_table(directory / "postings.parquet").to_pylist()
        return "postings.parquet", rows
    return None


def verify_export(directory: Path) -> list[str]:
    """What does not match the manifest (an empty list: the export is intact)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    problems: list[str] = []
    for name, wanted in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        if _sha256(path) != wanted["sha256"]:
            problems.append(f"{name}: SHA-256 differs from the manifest")
        try:
            rows = _count_rows(path)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            problems.append(f"{name}: unreadable ({error})")
            continue
        if rows != wanted["rows"]:
            problems.append(f"{name}: {rows} rows, the manifest says {wanted['rows']}")
    if not (directory / TrialBalance.NAME).is_file():
        return [*problems, f"{TrialBalance.NAME}: missing"]
    balance = TrialBalance.read(directory / TrialBalance.NAME)
    if balance.totals() != manifest["trial_balance"]:
        problems.append(
            f"{TrialBalance.NAME} sums to {balance.totals()}, the manifest says"
            f" {manifest['trial_balance']}"
        )
    unbalanced = {c: t["net"] for c, t in balance.totals().items() if t["net"]}
    if unbalanced:
        problems.append(f"the postings do not sum to zero: {unbalanced}")
    try:
        postings = _postings(directory)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        return [*problems, f"the postings file is unreadable ({error})"]
    if postings is not None:
        name, posted = postings
        summed = TrialBalance()
        for row in posted:
            summed.add([Posting(row["account"], int(row["amount_minor"]), row["currency"])])
        if summed.accounts != balance.accounts:
            problems.append(f"{name} does not sum to trial_balance.csv")
    return problems


def run_export(args: argparse.Namespace) -> int:
    """Write the events of a time window as CSV or Parquet with a manifest (row counts,
    SHA-256 of each file, notification ids covered, trial-balance totals)."""
    try:
        since = parse_time(args.since, "--from") if args.since else None
        until = parse_time(args.until, "--to") if args.until else None
        if since and until and since >= until:
            raise UsageError("--from must be before --to")
        out = Path(args.out)
        if (out / MANIFEST).exists():
            raise UsageError(f"{out} already holds an export; choose an empty directory")
    except UsageError as error:
        print(f"prizeledger export: {error}", file=sys.stderr)
        return USAGE
    progress = Progress("export")
    with opened() as system:
        manifest = export(system, args.kind, out, since, until, progress, args.format)
    progress.close()
    if args.json:
        emit_json(manifest)
    else:
        for name, f in manifest["files"].items():
            print(f"{out / name}: {f['rows']} rows, sha256 {f['sha256']}")
        print(f"{out / MANIFEST}: notifications {manifest['notifications']}")
    return OK


def run_verify(args: argparse.Namespace) -> int:
    """Re-read an export: files, row counts and SHA-256 against its manifest, and the postings
    against the trial balance (exit 1 on any mismatch)."""
    directory = Path(args.dir)
    if not (directory / MANIFEST).is_file():
        print(f"prizeledger export verify: no {MANIFEST} in {directory}", file=sys.stderr)
        return USAGE
    problems = verify_export(directory)
    if args.json:
        emit_json({"ok": not problems, "problems": problems})
    else:
        print("\n".join(problems) if problems else f"{directory}: the export matches its manifest")
    return FAILED if problems else OK
