"""The event store's pre-ping, narrowed to idle connections (``IdleCheck``), on a real Postgres:
the recorder installs it on the pool; a connection is pinged when handed out for the first time
or after ``idle_s``, not in between; and a connection whose backend died since its last use costs
a retry, never an event: the save lands exactly once on another connection."""

from __future__ import annotations

import time
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from infrastructure.bootstrap import System
from infrastructure.postgres_recorder import CopyPostgresApplicationRecorder, IdleCheck

pytestmark = [pytest.mark.postgres]


def _recorder(system: System) -> CopyPostgresApplicationRecorder:
    recorder = system.ledger.recorder
    assert isinstance(recorder, CopyPostgresApplicationRecorder)
    return recorder


def _kill_backends(url: str, pids: list[int]) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_the_recorder_installs_the_idle_check_on_its_pool(pg_system: System) -> None:
    datastore = _recorder(pg_system).datastore
    assert datastore.pre_ping
    assert isinstance(datastore.pool._check, IdleCheck)


def test_a_connection_is_pinged_on_first_use_and_after_idling_only(
    pg_system: System, postgres_url: str
) -> None:
    pool = _recorder(pg_system).datastore.pool
    check = IdleCheck(idle_s=0.3)
    with pool.connection() as conn:  # a live connection of the store's pool, checked by hand
        check(conn)
        check(conn)
        assert check.pings == 1  # first hand-out only
        time.sleep(0.35)
        check(conn)
        assert check.pings == 2  # idle long enough: pinged again
        pid = conn.info.backend_pid
        _kill_backends(postgres_url, [pid])
        check(conn)  # handed out a moment ago: not pinged, so not noticed here
        assert check.pings == 2
        time.sleep(0.35)
        with pytest.raises(psycopg.OperationalError):  # idle, pinged: the dead backend shows
            check(conn)


def test_a_save_on_connections_killed_since_their_last_use_lands_exactly_once(
    pg_system: System, postgres_url: str
) -> None:
    """The next two connections in line die just after their last use: the save's first two
    attempts meet them (the pool drops each), the third lands, once."""
    recorder = _recorder(pg_system)
    pool = recorder.datastore.pool
    recorder.insert_events([StoredEvent(uuid4(), 1, "tests:Topic", b"warm")])
    before = recorder.max_notification_id()
    assert before is not None
    bad_before = pool.get_stats().get("returns_bad", 0)
    # Every idle connection handed out (stamped) and returned in the same order: the pool hands
    # them out first in, first out, so the first two are next in line again.
    conns = [pool.getconn() for _ in range(pool.get_stats()["pool_available"])]
    for c in conns:
        pool.putconn(c)
    _kill_backends(postgres_url, [c.info.backend_pid for c in conns[:2]])
    originator = uuid4()
    ids = recorder.insert_events([StoredEvent(originator, v, "tests:Topic", b"x") for v in (1, 2)])
    assert ids is not None
    assert len(ids) == 2
    assert [e.originator_version for e in recorder.select_events(originator)] == [1, 2]
    assert recorder.max_notification_id() == before + 2
    assert pool.get_stats().get("returns_bad", 0) == bad_before + 2  # it did meet both
