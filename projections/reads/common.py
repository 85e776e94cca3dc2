"""What every read shares: pages and cursors, and the active-version lookup."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from projections.base import ACTIVE_DDL, LedgerProjection, LedgerView, iso
from projections.store import ReadStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None  # the last row's position, when more may follow


# How long a read trusts the active versions it looked up before looking again.
VERSIONS_TTL_S = 2.0


class ReadBase:
    """The store, the active versions of the read models, and how the reads query them."""

    def __init__(self, store: ReadStore) -> None:
        self._store = store
        self._versions: dict[str, int] = {}
        self._versions_read = -VERSIONS_TTL_S

    def _table(self, cls: type[LedgerProjection], short: str) -> str:
        return LedgerView(self._store, cls.name, self._version(cls)).table(short)

    def _version(self, cls: type[LedgerProjection]) -> int:
        """The active version, re-read at most every VERSIONS_TTL_S (rebuilds switch it)."""
        now = time.monotonic()
        if now - self._versions_read >= VERSIONS_TTL_S:
            with self._store.transaction() as tx:
                if self._versions_read < 0:
                    tx.execute(ACTIVE_DDL)
                rows = tx.fetchall("SELECT projection, version FROM rm_active")
            self._versions = {str(name): int(version) for name, version in rows}
            self._versions_read = now
        return self._versions.get(cls.name, cls.version)

    def _fetch(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._store.transaction() as tx:
            return tx.fetchall(sql, params)


_MAX = 2**62


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return _MAX, 0
    try:
        position, line = (int(part) for part in cursor.split(".", 1))
    except ValueError:
        raise ValueError(f"malformed cursor {cursor!r}") from None
    return position, line


def _check(limit: int) -> int:
    if not 1 <= limit <= 500:
        raise ValueError("limit must be 1..500")
    return limit


def _position(cursor: str | None, default: int) -> int:
    if not cursor:
        return default
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"malformed cursor {cursor!r}") from None


def _page(rows: list[T], limit: int) -> Page[T]:
    more = len(rows) > limit
    page = rows[:limit]
    return Page(page, str(page[-1].position) if more else None)  # type: ignore[attr-defined]


def _at(at: datetime) -> str:
    try:
        return iso(at.astimezone(UTC))
    except OverflowError:  # year 1 or 9999 shifted past the calendar: clamp, it bounds nothing
        edge = datetime.min if at.year < 5000 else datetime.max
        return iso(edge.replace(tzinfo=UTC))


def _like_prefix(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching what starts with ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"
