"""How long a process trusts a session's check (interfaces.player.sessions): until its account
records an event while the watcher keeps up, CHECK_TTL_S when it does not, never past the
session's expiry or MAX_TRUST_S; a check that raced a change is answered but not trusted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from application.accounts import AccountChanges
from interfaces.player.sessions import (
    CHECK_TTL_S,
    MAX_TRUST_S,
    WATCH_INTERVAL_S,
    WATCH_STALE_S,
    SessionChecks,
)

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


class Store:
    """Sessions open until their expiry, and the accounts' changes as a watcher reads them."""

    def __init__(self) -> None:
        self.expiry: dict[str, datetime | None] = {"s1": T0 + timedelta(hours=1)}
        self.asked = 0
        self.position = 100
        self.changed: set[str] = set()
        self.during_check: list[object] = []  # run while a check reads the store

    def session_expiry(self, account_id: str, session_id: str) -> datetime | None:
        self.asked += 1
        for action in self.during_check:
            action()  # type: ignore[operator]
        return self.expiry.get(session_id)

    def account_changes(self, after: int | None) -> AccountChanges:
        changed, self.changed = frozenset(self.changed), set()
        self.position += 1
        return AccountChanges(self.position, changed if after is not None else frozenset())


class Fixture:
    def __init__(self) -> None:
        self.store = Store()
        self.now = 1_000.0
        self.clock_now = T0
        self.checks = SessionChecks(
            self.store.session_expiry,
            self.store.account_changes,
            lambda: self.clock_now,
            lambda: self.now,
        )

    def watcher_reads(self) -> None:
        self.checks.apply(self.store.account_changes(self.checks._position), self.now)

    def check(self) -> bool:
        return asyncio.run(self.checks.check("a1", "s1"))

    def trusted(self) -> bool:
        return self.checks.trusted("s1")


def test_while_the_watcher_keeps_up_a_check_is_trusted_until_its_account_changes() -> None:
    f = Fixture()
    f.watcher_reads()
    assert f.check()
    for _ in range(int(30 / WATCH_INTERVAL_S)):  # 30 s of reads that find nothing
        f.now += WATCH_INTERVAL_S
        f.watcher_reads()
        assert f.trusted()
    assert f.store.asked == 1

    f.store.changed = {"a1"}  # say the session was revoked in another process
    f.now += WATCH_INTERVAL_S
    f.watcher_reads()

    assert not f.trusted()
    f.store.expiry["s1"] = None
    assert not f.check()
    assert f.store.asked == 2


def test_a_change_to_another_account_leaves_the_check_trusted() -> None:
    f = Fixture()
    f.watcher_reads()
    assert f.check()
    f.store.changed = {"a2"}
    f.now += CHECK_TTL_S + 1
    f.watcher_reads()
    assert f.trusted()


def test_without_a_watcher_keeping_up_a_check_is_trusted_for_its_ttl_only() -> None:
    f = Fixture()
    assert f.check()  # the watcher never read: the TTL rule
    f.now += CHECK_TTL_S - 0.01
    assert f.trusted()
    f.now += 0.02
    assert not f.trusted()

    f.watcher_reads()
    assert f.check()
    f.now += WATCH_STALE_S + 0.01  # the watcher stopped reading (the store is down)
    assert f.trusted()  # still within the TTL
    f.now += CHECK_TTL_S
    assert not f.trusted()


def test_a_check_that_raced_a_change_of_its_account_is_answered_but_not_trusted() -> None:
    f = Fixture()
    f.watcher_reads()

    def revoked_meanwhile() -> None:  # the watcher applies a change while the check reads
        f.store.changed = {"a1"}
        f.watcher_reads()

    f.store.during_check.append(revoked_meanwhile)
    assert f.check()  # open when it was read
    assert not f.trusted()


def test_never_past_the_sessions_expiry_nor_max_trust() -> None:
    f = Fixture()
    f.watcher_reads()
    assert f.check()
    f.clock_now = T0 + timedelta(hours=1)
    assert not f.trusted()
    assert not f.check()

    f.clock_now = T0
    assert f.check()
    for _ in range(int(MAX_TRUST_S / WATCH_INTERVAL_S) + 1):
        f.now += WATCH_INTERVAL_S
        f.watcher_reads()
    assert not f.trusted()


def test_forget_ends_the_trust_at_once() -> None:
    f = Fixture()
    f.watcher_reads()
    assert f.check()
    f.checks.forget("s1")
    assert not f.trusted()


def test_the_watcher_survives_a_failing_store_and_applies_what_it_reads_later() -> None:
    f = Fixture()
    reads: list[int | None] = []

    def flaky(after: int | None) -> AccountChanges:
        reads.append(after)
        if len(reads) == 2:
            raise OSError("store down")
        return AccountChanges(200 + len(reads), frozenset())

    checks = SessionChecks(f.store.session_expiry, flaky, lambda: T0)

    async def run() -> None:
        task = asyncio.ensure_future(checks.watch())
        while len(reads) < 3:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    assert reads[:3] == [None, 201, 201]
    assert checks._position == 203
