"""Helpers shared by the domain unit tests (given past commands, when a command, then events).

"given" builds an aggregate with earlier commands and clears its pending events; "then" reads
the new events with ``names``/``payload``, or ``refused`` checks that a command raised exactly
the named error, recorded nothing and left the aggregate's state as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from domain.errors import DomainError

__all__ = ["T0", "names", "payload", "refused", "state_of"]

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)

# Envelope fields every event carries; the tests compare what the command itself recorded.
_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def names(events: Any) -> list[str]:
    return [type(e).__name__ for e in events]


def payload(event: object) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE}


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    return deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})


@contextmanager
def refused(
    aggregate: Aggregate, error: type[DomainError]
) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """The block raises exactly ``error``; the aggregate records nothing and keeps its state."""
    before = state_of(aggregate)
    with pytest.raises(error) as excinfo:
        yield excinfo
    assert type(excinfo.value) is error
    assert aggregate.collect_events() == []
    assert state_of(aggregate) == before
