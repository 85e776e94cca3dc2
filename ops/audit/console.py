"""What the auditor's commands share: exit codes, the system they open, progress, JSON."""

from __future__ import annotations

import json
import sys
import time
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
    """``label: done/total (rate/s)`` on one stderr line, redrawn at most five times a second,
    and only when stderr is a terminal (logs and pipes stay clean)."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._tty = sys.stderr.isatty()
        self._started = time.perf_counter()
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self._tty or now - self._drawn < 0.2:
            return
        self._drawn = now
        rate = done / max(now - self._started, 1e-9)
        print(
            f"\r{self._label}: {done}/{total} ({rate:,.0f}/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self._tty and self._drawn:
            print(file=sys.stderr)


def emit_json(data: Any) -> None:
    print(json.dumps(plain(data), indent=2))


def parse_time(text: str, option: str) -> datetime:
    """ISO-8601; a time without an offset is UTC."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: not an ISO-8601 time: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
