"""The files of an export: one CSV writer per kind, and the trial balance of the window."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from domain.postings import Posting
from projections.audit import audited, details_of
from projections.base import iso
from projections.finance import COLUMNS, day_of, finance_deltas

__all__ = ["KINDS", "CsvFile", "FileEntry", "Rows", "TrialBalance"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    name: str
    rows: int
    sha256: str
    size: int


class CsvFile:
    """A CSV file written row by row (header first); hashed when closed."""

    def __init__(self, directory: Path, name: str, header: list[str]) -> None:
        self.path = directory / name
        self._file = self.path.open("w", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(header)
        self.rows = 0

    def write(self, row: list[Any]) -> None:
        self._writer.writerow(row)
        self.rows += 1

    def close(self) -> FileEntry:
        self._file.close()
        data = self.path.read_bytes()
        return FileEntry(self.path.name, self.rows, hashlib.sha256(data).hexdigest(), len(data))


class Rows:
    """One kind of export: ``add`` is called for every event in the window, in log order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, position: int, topic: str, event: Any, postings: list[Posting]) -> None:
        raise NotImplementedError

    def close(self) -> list[FileEntry]:
        raise NotImplementedError


def _reference(event: Any) -> str:
    for name in ("deposit_id", "withdrawal_id", "draw_id", "source", "pool_key"):
        value = getattr(event, name, None)
        if value is not None:
            return str(value)
    return ""


class PostingRows(Rows):
    """Every posting (account movement) of every event: postings.csv."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        header = ["notification_id", "line", "at", "event", "originator_id", "account"]
        self.file = CsvFile(
            directory, "postings.csv", [*header, "currency", "amount_minor", "reference"]
        )

    def add(self, position: int, topic: str, event: Any, postings: list[Posting]) -> None:
        at, origin, reference = iso(event.timestamp), str(event.originator_id), _reference(event)
        for line, p in enumerate(postings):
            self.file.write(
                [
                    position,
                    line,
                    at,
                    topic,
                    origin,
                    p.account,
                    p.currency,
                    p.amount_minor,
                    reference,
                ]
            )

    def close(self) -> list[FileEntry]:
        return [self.file.close()]


class AuditRows(Rows):
    """Operator actions and security-relevant events (as the audit log keeps them): audit.csv."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        header = ["notification_id", "at", "actor", "action", "originator_id", "reason"]
        self.file = CsvFile(directory, "audit.csv", [*header, "request_id", "details"])

    def add(self, position: int, topic: str, event: Any, postings: list[Posting]) -> None:
        if audited(event):
            self.file.write([
                position, iso(event.timestamp), getattr(event, "actor", ""), topic,
                str(event.originator_id), getattr(event, "reason", None) or "",
                getattr(event, "request_id", ""), details_of(event),
            ])  # fmt: skip

    def close(self) -> list[FileEntry]:
        return [self.file.close()]


class DrawRows(Rows):
    """Every draw request (draws.csv) and every draw with its fairness trace (draw_results.csv)."""

    RESULT_FIELDS: ClassVar[list[str]] = [
        "index", "nonce", "client_seed", "epoch", "commitment", "value", "total", "chunks",
        "arm", "outcome", "prize_id", "kind", "reward", "cost", "miss_floor", "pity_boost_bps",
    ]  # fmt: skip

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        header = ["notification_id", "draw_id", "at", "player_id", "pool_key", "status", "reason"]
        header += ["requested", "settled", "cost_total", "won_total"]
        self.draws = CsvFile(directory, "draws.csv", header)
        fields = ["draw_id", *self.RESULT_FIELDS, "weights", "excluded"]
        self.results = CsvFile(directory, "draw_results.csv", fields)

    def add(self, position: int, topic: str, event: Any, postings: list[Posting]) -> None:
        if topic != "Draw.Executed":
            return
        draw_id = str(event.originator_id)
        won = sum(int(r["reward"]) for r in event.results)
        self.draws.write([
            position, draw_id, iso(event.at), event.player_id, event.pool_key, event.status,
            event.reason or "", event.requested, len(event.results), event.cost_total, won,
        ])  # fmt: skip
        for r in event.results:
            values = ["" if r.get(f) is None else r.get(f) for f in self.RESULT_FIELDS]
            extra = [json.dumps(r.get("weights")), json.dumps(r.get("excluded"), sort_keys=True)]
            self.results.write([draw_id, *values, *extra])

    def close(self) -> list[FileEntry]:
        return [self.draws.close(), self.results.close()]


class FinanceRows(Rows):
    """Money in and out per UTC day, currency and pool (as the finance report counts it):
    finance.csv."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.days: dict[tuple[str, str, str], list[int]] = {}

    def add(self, position: int, topic: str, event: Any, postings: list[Posting]) -> None:
        pool, deltas = finance_deltas(event)
        if deltas:
            line = self.days.setdefault((day_of(event), event.currency, pool), [0] * len(COLUMNS))
            for i, column in enumerate(COLUMNS):
                line[i] += deltas[column]

    def close(self) -> list[FileEntry]:
        file = CsvFile(self.directory, "finance.csv", ["day", "currency", "pool_key", *COLUMNS])
        for key in sorted(self.days):
            file.write([*key, *self.days[key]])
        return [file.close()]


KINDS: dict[str, type[Rows]] = {
    "audit": AuditRows,
    "postings": PostingRows,
    "draws": DrawRows,
    "finance": FinanceRows,
}


class TrialBalance:
    """Σ postings per account and currency over the exported window."""

    NAME = "trial_balance.csv"

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], list[int]] = {}  # -> [balance, postings]
        self.events = 0

    def add(self, postings: list[Posting]) -> None:
        self.events += 1
        for p in postings:
            line = self.accounts.setdefault((p.account, p.currency), [0, 0])
            line[0] += p.amount_minor
            line[1] += 1

    def totals(self) -> dict[str, dict[str, int]]:
        """Per currency: net (zero when balanced), the sums of the positive and of the negative
        account balances, accounts and postings."""
        totals: dict[str, dict[str, int]] = {}
        for (_, currency), (balance, postings) in self.accounts.items():
            t = totals.setdefault(
                currency, {"net": 0, "positive": 0, "negative": 0, "accounts": 0, "postings": 0}
            )
            t["net"] += balance
            t["positive" if balance > 0 else "negative"] += balance
            t["accounts"] += 1
            t["postings"] += postings
        return totals

    def write(self, directory: Path) -> FileEntry:
        file = CsvFile(directory, self.NAME, ["account", "currency", "balance", "postings"])
        for (account, currency), (balance, postings) in sorted(self.accounts.items()):
            file.write([account, currency, balance, postings])
        return file.close()

    @classmethod
    def read(cls, path: Path) -> TrialBalance:
        found = cls()
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                key = (row["account"], row["currency"])
                found.accounts[key] = [int(row["balance"]), int(row["postings"])]
        return found
