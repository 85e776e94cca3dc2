"""What the auditor's commands share: exit codes, the system they open, progress, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ops.audit.log import plain

if TYPE_CHECKING:
    from infrastructure.bootstrap import System

__all__ = ["FAILED", "OK", "USAGE", "Progress", "UsageError", "emit_json", "opened", "parse_time"]

OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input on the command line: exit 2 with the message."""


@contextmanager
def opened() -> Iterator[System]:
    """The system from the environment (DATABASE_URL selects Postgres), closed afterwards."""
    from infrastructure.bootstrap import bootstrap

    system = bootstrap()
    try:
        yield system
    finally:
        system.close()


class Progress:
    """A rich progress bar (done/total, rate, time left) on stderr, drawn only when stderr is a
    terminal: logs and pipes stay clean."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._bar: Any = None
        self._task: Any = None
        self._tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self._tty:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as Bar,
            )

            self._bar = Bar(
                f"[bold]{self._label}",
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label, total=total)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def emit_json(data: Any) -> None:
    print(json.dumps(plain(data), indent=2))


def parse_time(text: str, option: str) -> datetime:
    """ISO-8601; a time without an offset is UTC."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: not an ISO-8601 time: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
