"""Real Postgres, many threads, the same wallets: optimistic concurrency loses nothing and
applies nothing twice."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from application.errors import ConcurrencyConflict
from domain.cause import Cause
from domain.errors import DomainError, IllegalTransition
from infrastructure.bootstrap import System
from tests.ledger_checks import assert_ledger_invariants, stored_events

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PLAYERS = ["alice", "bob", "carol", "dave"]
THREADS = 8
SECONDS = 5.0


class Tally:
    """What the clients were told succeeded (the acknowledged movements)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credited: dict[str, int] = defaultdict(int)
        self.paid: dict[str, int] = defaultdict(int)
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, player: str = "", amount: int = 0) -> None:
        with self.lock:
            self.counts[kind] += 1
            if kind == "credited":
                self.credited[player] += amount
            elif kind == "paid":
                self.paid[player] += amount


def _client(system: System, worker: int, tally: Tally, stop_at: float) -> None:
    rng = random.Random(worker)
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        player = rng.choice(PLAYERS)
        rid = f"w{worker}-{n}"
        try:
            if rng.random() < 0.55:
                _deposit(system, player, rid, rng.randint(100, 5_000), tally)
            else:
                _withdraw(system, player, rid, rng.randint(100, 3_000), rng, tally)
        except ConcurrencyConflict:
            tally.add("conflict")
        except DomainError as error:
            tally.add(f"refused:{error.code}")


def _deposit(system: System, player: str, rid: str, amount: int, tally: Tally) -> None:
    deposit = system.deposits.request(
        player, amount, "EUR", "sandbox", Cause(f"player:{player}", rid)
    )
    deposit_id = UUID(deposit.deposit_id)
    webhook = Cause("system:sandbox", f"wh-{rid}")
    system.deposits.confirm(deposit_id, "ref", webhook)
    tally.add("credited", player, amount)
    # The provider delivers the same webhook again, and then a duplicate with a new id.
    assert system.deposits.confirm(deposit_id, "ref", webhook).state == "credited"
    with pytest.raises(IllegalTransition):
        system.deposits.confirm(deposit_id, "ref", Cause("system:sandbox", f"wh2-{rid}"))


def _withdraw(
    system: System, player: str, rid: str, amount: int, rng: random.Random, tally: Tally
) -> None:
    w = system.withdrawals.request(
        player, amount, "EUR", "iban:DE00", Cause(f"player:{player}", rid)
    )
    wid = UUID(w.withdrawal_id)
    system.withdrawals.approve(wid, Cause("operator:ops", f"a-{rid}"))
    if rng.random() < 0.3:
        system.withdrawals.reject(wid, "risk", Cause("operator:ops", f"r-{rid}"))
        tally.add("rejected")
        return
    system.withdrawals.submit(wid, f"po-{rid}", Cause("operator:ops", f"s-{rid}"))
    system.withdrawals.mark_paid(wid, Cause("system:bank", f"p-{rid}"))
    tally.add("paid", player, amount)


def test_threads_hammering_the_same_wallets_lose_nothing(pg_system: System) -> None:
    for player in PLAYERS:
        pg_system.wallets.open(player, Cause(f"player:{player}", "open"))
    tally = Tally()
    stop_at = time.monotonic() + SECONDS
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(_client, pg_system, i, tally, stop_at) for i in range(THREADS)]:
            future.result()

    assert tally.counts["credited"] > 50, tally.counts
    assert tally.counts["paid"] > 10, tally.counts
    folded = assert_ledger_invariants(pg_system.ledger)
    wallets = {w.player_id: w for w in folded.values() if type(w).__name__ == "Wallet"}
    for player in PLAYERS:
        wallet = wallets[player]
        # Nothing acknowledged was lost, nothing was applied twice.
        assert wallet.available + wallet.locked == tally.credited[player] - tally.paid[player]
        assert wallet.locked == 0  # every withdrawal here ended paid or rejected
    credits = Counter(
        e.deposit_id
        for e in stored_events(pg_system.ledger)
        if type(e).__name__ == "DepositCredited"
    )
    assert credits
    assert max(credits.values()) == 1


def test_same_request_from_eight_threads_records_one_set_of_events(pg_system: System) -> None:
    pg_system.wallets.open("erin", Cause("player:erin", "open"))
    before = pg_system.ledger.recorder.max_notification_id()
    cause = Cause("player:erin", "same-key")

    def send() -> str:
        return pg_system.deposits.request("erin", 1_000, "EUR", "sandbox", cause).deposit_id

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: send(), range(8)))
    assert len(set(results)) == 1
    # Receipt + DepositStarted + Deposit.Requested, once.
    assert pg_system.ledger.recorder.max_notification_id() == (before or 0) + 3
