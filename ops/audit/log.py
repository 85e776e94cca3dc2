"""Reading the raw notification log: pages in order, decoded by the ledger's own mapper.

The next page is fetched in a background thread while the caller works on the current one, so
a long audit waits on the database and on Python in parallel rather than in turn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

__all__ = ["PAGE", "HIDDEN", "pages", "plain", "qualname_of", "redacted"]

PAGE = 2_000
HIDDEN = "<secret>"
# Attribute names whose values are never printed or exported: a pool's current server seed
# (revealed only by the next EpochRotated's ``revealed_seed``), password and token hashes, TOTP
# secrets.
_SECRET_WORDS = ("server_seed", "password", "secret", "token")


def pages(
    recorder: ApplicationRecorder,
    start: int = 1,
    stop: int | None = None,
    size: int = PAGE,
    topics: Sequence[str] = (),
) -> Iterator[Sequence[Notification]]:
    """Notifications from ``start`` to ``stop`` (inclusive; None: as far as the log goes)."""

    def fetch(first: int) -> Sequence[Notification]:
        return recorder.select_notifications(
            start=first, limit=size, stop=stop, topics=list(topics)
        )

    with ThreadPoolExecutor(1, thread_name_prefix="prizeledger-log") as prefetch:
        future = prefetch.submit(fetch, start)
        while True:
            page = future.result()
            if not page:
                return
            more = len(page) == size
            if more:
                future = prefetch.submit(fetch, page[-1].id + 1)
            yield page
            if not more:
                return


def qualname_of(topic: str) -> str:
    """``domain.wallet:Wallet.DepositCredited`` -> ``Wallet.DepositCredited``."""
    return topic.rpartition(":")[2]


def _is_secret(key: str) -> bool:
    return any(word in key for word in _SECRET_WORDS)


def redacted(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes with secrets replaced (see ``_SECRET_WORDS``), recursively."""
    return {k: HIDDEN if _is_secret(k) else _redact_value(v) for k, v in attributes.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return redacted({str(k): v for k, v in value.items()})
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO-8601, UUIDs as strings, dict keys as strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value
