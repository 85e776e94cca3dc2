"""The embedded in-memory event store is one database, whichever thread reads it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from domain.cause import Cause
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings


def test_threads_reading_at_once_see_the_same_in_memory_store() -> None:
    """The recorder's pool opens a connection per thread reading at the same time; with plain
    ``:memory:`` each of those connections was an empty database of its own."""
    system = bootstrap(Settings(database_url="sqlite::memory:"))
    recorder = system.commands.ledger.recorder
    threads = 6
    barrier = threading.Barrier(threads)

    def read(_: int) -> int:
        barrier.wait(timeout=10)
        return recorder.max_notification_id() or 0

    with ThreadPoolExecutor(threads) as executor:
        heads = list(executor.map(read, range(threads)))
    assert heads == [heads[0]] * threads


def test_two_in_memory_systems_do_not_share_their_store() -> None:
    first = bootstrap(Settings(database_url="sqlite::memory:"))
    second = bootstrap(Settings(database_url="sqlite::memory:"))
    first.accounts.register(
        "one@example.com", "a long enough passphrase", Cause("system:test", "register-1")
    )
    assert (second.commands.ledger.recorder.max_notification_id() or 0) == 0
    assert (first.commands.ledger.recorder.max_notification_id() or 0) > 0
