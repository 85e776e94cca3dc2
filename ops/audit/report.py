"""Findings of an audit: checks with counts and the first offending events, for people or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Check", "Findings", "Offence"]


@dataclass(frozen=True, slots=True)
class Offence:
    """One violation, named by the event that shows it (when one does)."""

    message: str
    notification_id: int | None = None
    aggregate_id: str | None = None
    topic: str | None = None

    def line(self) -> str:
        where = [
            f"#{self.notification_id}" if self.notification_id is not None else "",
            self.topic or "",
            self.aggregate_id or "",
        ]
        named = " ".join(w for w in where if w)
        return f"{named}: {self.message}" if named else self.message


@dataclass
class Check:
    """``violations`` fail the audit; ``warnings`` are reported and do not."""

    name: str
    rule: str
    show: int = 10
    checked: int = 0
    violations: int = 0
    warnings: int = 0
    first: list[Offence] = field(default_factory=list)
    notes: list[Offence] = field(default_factory=list)

    def fail(self, offence: Offence) -> None:
        self.violations += 1
        if len(self.first) < self.show:
            self.first.append(offence)

    def warn(self, offence: Offence) -> None:
        self.warnings += 1
        if len(self.notes) < self.show:
            self.notes.append(offence)

    @property
    def status(self) -> str:
        return "FAILED" if self.violations else "warning" if self.warnings else "ok"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["show"]
        data["status"] = self.status
        return data


class Findings:
    """The checks of one audit, in the order they were declared."""

    def __init__(self, rules: dict[str, str], show: int) -> None:
        self.checks = {name: Check(name, rule, show) for name, rule in rules.items()}

    def __getitem__(self, name: str) -> Check:
        return self.checks[name]

    @property
    def violations(self) -> int:
        return sum(c.violations for c in self.checks.values())

    def lines(self) -> list[str]:
        out = [f"{'check':<22} {'checked':>10} {'violations':>10} {'warnings':>9}  status"]
        for c in self.checks.values():
            out.append(
                f"{c.name:<22} {c.checked:>10} {c.violations:>10} {c.warnings:>9}  {c.status}"
            )
            out.extend(f"    ! {o.line()}" for o in c.first)
            out.extend(f"    ~ {o.line()}" for o in c.notes)
            more = c.violations + c.warnings - len(c.first) - len(c.notes)
            if more > 0:
                out.append(f"    … and {more} more")
        return out

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.checks.values()]
