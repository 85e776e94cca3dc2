"""The projector on the real Postgres: crash safety, tailing concurrent writers, poison events,
leader/standby leases and lag.

Every view is checked against an independent fold of the raw events (``tests.ledger_checks``):
balances per player from the ledger's postings, the trial balance per account (summing to zero),
and the history as the player postings of every notification. Only the projections balances,
history and trial_balance are used.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from application.errors import ConcurrencyConflict
from domain import ids
from domain.cause import Cause
from domain.errors import DomainError
from domain.postings import postings_for
from domain.prizes import PoolControls, Prize
from domain.wallet import Wallet
from infrastructure import projector as projector_module
from infrastructure.bootstrap import System
from infrastructure.projector import ProjectionStatus, Projector
from infrastructure.rebuild import rebuild
from infrastructure.settings import Settings
from projections.base import Handler, LedgerProjection, LedgerView, Writes, iso
from projections.catalog import active_version
from projections.ledger import BalancesProjection, HistoryProjection, TrialBalanceProjection
from projections.store import ReadStore, ReadTx
from tests.ledger_checks import account_balances, fold

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["balances", "history", "trial_balance"]
TABLE = {"balances": "balances", "history": "postings", "trial_balance": "accounts"}
COLUMNS = {
    "balances": "wallet_id, player_id, currency, available, locked, bonus, version, updated_at",
    "history": "position, line, player_id, balance, amount_minor, currency, kind, at",
    "trial_balance": "account, currency, balance, postings",
}
ORDER = {"balances": "wallet_id", "history": "position, line", "trial_balance": "account, currency"}
BALANCES = ("available", "locked", "bonus")
OP = "operator:test"
POOL = "wheel"


# ---- writing -------------------------------------------------------------------------------------


def _open_pool(system: System) -> None:
    system.pools.create(POOL, "Wheel", 100, PoolControls(), Cause(OP, "pool-create"))
    system.pools.add_prize(POOL, Prize("big", "Big", "cash", 5_000, 1), Cause(OP, "prize-big"))
    system.pools.add_prize(
        POOL, Prize("bonus", "Bonus", "bonus", 100, 30), Cause(OP, "prize-bonus")
    )
    system.pools.fund(POOL, 10**11, Cause(OP, "pool-fund"))


def _deposit(system: System, player: str, amount: int, tag: str) -> None:
    d = system.deposits.request(player, amount, "EUR", "sandbox", Cause(f"player:{player}", tag))
    system.deposits.confirm(
        UUID(d.deposit_id), f"ref-{tag}", Cause("system:sandbox", f"wh-{player}-{tag}")
    )


def _open_players(system: System, players: list[str], threads: int = 8) -> None:
    """Wallets with a deposit, a bonus and an open withdrawal each (every balance non-zero)."""

    def one(player: str) -> None:
        system.wallets.open(player, Cause(f"player:{player}", "open"))
        _deposit(system, player, 1_000_000, "first")
        system.wallets.credit_bonus(player, 500, "welcome", Cause(OP, f"bonus-{player}"))
        system.withdrawals.request(
            player, 1_000, "EUR", "iban", Cause(f"player:{player}", "first-withdrawal")
        )

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(one, p) for p in players]:
            future.result()


def _draw_until(system: System, players: list[str], threads: int, stop: threading.Event) -> None:
    def client(seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        while not stop.is_set():
            n += 1
            player = rng.choice(players)
            cause = Cause(f"player:{player}", f"draw-{seed}-{n}")
            try:
                system.draws.draw(player, POOL, rng.randint(1, 3), cause)
            except ConcurrencyConflict:
                continue

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(client, i) for i in range(threads)]:
            future.result()


def _write_history(system: System, events: int, players: int = 64) -> int:
    """At least ``events`` events from real use cases; returns the head notification id."""
    names = [f"player-{i}" for i in range(players)]
    _open_pool(system)
    _open_players(system, names)
    stop = threading.Event()
    writers = threading.Thread(target=_draw_until, args=(system, names, 32, stop))
    writers.start()
    try:
        while (system.ledger.recorder.max_notification_id() or 0) < events and writers.is_alive():
            time.sleep(0.05)
    finally:
        stop.set()
        writers.join()
    return _head(system)


def _head(system: System) -> int:
    return system.ledger.recorder.max_notification_id() or 0


def _record_poison(system: System, player: str) -> int:
    """A Wallet.DepositCredited as a buggy older release could have written it (the amount is
    a bool, not an int): every money projection refuses it. Returns its notification id."""
    wallet: Wallet = system.ledger.repository.get(ids.wallet_id(player))
    wallet._deposit_credited(
        deposit_id="legacy",
        player_id=player,
        currency="EUR",
        amount_minor=True,
        actor="system:legacy",
        request_id="legacy-1",
    )
    recordings = system.ledger.save(wallet)
    return recordings[-1].notification.id


# ---- reading -------------------------------------------------------------------------------------


def _notifications(system: System) -> list[tuple[int, Any]]:
    """(notification id, domain event) of the whole log, from the raw event store."""
    out: list[tuple[int, Any]] = []
    start = 1
    while True:
        page = system.ledger.recorder.select_notifications(start=start, limit=1_000)
        out.extend((n.id, system.ledger.mapper.to_domain_event(n)) for n in page)
        if len(page) < 1_000:
            return out
        start = page[-1].id + 1


def _rows(store: ReadStore, name: str, version: int | None = None) -> list[tuple[Any, ...]]:
    cls = {c.name: c for c in (BalancesProjection, HistoryProjection, TrialBalanceProjection)}[name]
    version = version if version is not None else active_version(store, cls)
    table = LedgerView(store, name, version).table(TABLE[name])
    with store.transaction() as tx:
        return tx.fetchall(f"SELECT {COLUMNS[name]} FROM {table} ORDER BY {ORDER[name]}")


def _folded_views(notes: list[tuple[int, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """What each view must hold, from a fold of the raw events alone."""
    events = [e for _, e in notes]
    sums = account_balances(events)
    by_currency: Counter[str] = Counter()
    for (_, currency), amount in sums.items():
        by_currency[currency] += amount
    assert all(v == 0 for v in by_currency.values()), by_currency  # the ledger balances
    counts = Counter((p.account, p.currency) for e in events for p in postings_for(e))
    wallets = [w for w in fold(events).values() if isinstance(w, Wallet)]
    balances = []
    for w in wallets:
        got = [sums.get((f"player:{w.player_id}:{b}", w.currency), 0) for b in BALANCES]
        assert got == [w.available, w.locked, w.bonus]
        balances.append((str(w.id), w.player_id, w.currency, *got, w.version, iso(w.modified_on)))
    history = []
    for position, event in notes:
        for line, p in enumerate(postings_for(event)):
            if p.account.startswith("player:"):
                player, _, balance = p.account.removeprefix("player:").rpartition(":")
                history.append(
                    (
                        position,
                        line,
                        player,
                        balance,
                        p.amount_minor,
                        p.currency,
                        type(event).__name__,
                        iso(event.timestamp),
                    )
                )
    trial = [(a, c, b, counts[(a, c)]) for (a, c), b in sums.items()]
    return {
        "balances": sorted(balances),
        "history": sorted(history),
        "trial_balance": sorted(trial),
    }


def _assert_views_equal_fold(system: System, names: list[str] = NAMES) -> None:
    expected = _folded_views(_notifications(system))
    for name in names:
        got = _rows(system.read_store, name)
        assert got == expected[name], f"{name} differs from the fold of the raw events"
    if "trial_balance" in names:
        assert system.read_models.trial_balance().balanced


# ---- running -------------------------------------------------------------------------------------


def _wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def _drain(projector: Projector) -> None:
    """Step to the head keeping the leases (``catch_up`` releases them at the end)."""
    while projector.step():
        pass


class _Running:
    """``Projector.run`` in a thread until ``stop``."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=projector.run, args=(self.stop_event,))
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _status(projector: Projector) -> dict[str, ProjectionStatus]:
    return {s.name: s for s in projector.status()}


def _caught_up(projector: Projector) -> bool:
    return all(s.lag == 0 and s.state == "running" for s in projector.status())


def _own_projector(
    system: System, settings: Settings, projections: list[LedgerProjection], batch: int = 1_000
) -> Projector:
    return Projector(
        system.ledger,
        projections,
        conninfo=settings.database_url,
        lease_scope=settings.schema,
        batch_size=batch,
    )


def _view(system: System, name: str) -> LedgerView:
    return LedgerView(system.read_store, name, 1)


@pytest.fixture
def projectors() -> Iterator[list[Projector]]:
    """Projectors a test made; their connections are released at the end."""
    made: list[Projector] = []
    yield made
    for projector in made:
        projector.close()


# ---- 1. crash safety -----------------------------------------------------------------------------


class _Tracking:
    """Tracking positions straight from SQL (what another process committed)."""

    def __init__(self, url: str, schema: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.schema = schema

    def positions(self) -> dict[str, int]:
        try:
            rows = self.conn.execute(
                f"SELECT projection, position FROM {self.schema}.rm_tracking WHERE version = 1"
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
        return {name: int(position) for name, position in rows if name in NAMES}

    def close(self) -> None:
        self.conn.close()


def _start_projector(url: str, schema: str, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PRIZELEDGER_SCHEMA": schema,
        "PRIZELEDGER_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "projector", *NAMES, "--batch", "200"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_a_killed_projector_resumes_exactly_where_it_committed(
    pg_system: System,
    pg_settings: Settings,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    head = _write_history(pg_system, 20_000)
    assert head >= 20_000
    tracking = _Tracking(postgres_url, pg_settings.schema)
    processes: list[subprocess.Popen[bytes]] = []
    with open(tmp_path / "projector.log", "wb") as log:
        try:
            first = _start_projector(postgres_url, pg_settings.schema, log)
            processes.append(first)
            _wait_until(
                lambda: max(tracking.positions().values(), default=0) >= 1_000,
                60,
                "the first projector to make progress",
            )
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            at_kill = tracking.positions()
            assert set(at_kill) == set(NAMES)
            assert min(at_kill.values()) > 0, at_kill  # it made progress ...
            assert max(at_kill.values()) < head, at_kill  # ... but had not finished

            second = _start_projector(postgres_url, pg_settings.schema, log)
            processes.append(second)
            _wait_until(
                lambda: tracking.positions() == dict.fromkeys(NAMES, head),
                90,
                "the restarted projector to catch up",
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            tracking.close()

    # Equal to a fold of the raw events ...
    _assert_views_equal_fold(pg_system)
    # ... and, row by row, to a fresh rebuild of every projection into a new version.
    live = {name: _rows(pg_system.read_store, name, 1) for name in NAMES}
    for name in NAMES:
        assert rebuild(pg_system.ledger, pg_system.read_store, name) == 2
        assert _rows(pg_system.read_store, name, 2) == live[name], name
        assert len(live[name]) > 0


# ---- 2. concurrent writers -----------------------------------------------------------------------


def _mixed_client(
    system: System, seed: int, mine: list[str], everyone: list[str], stop: threading.Event
) -> Counter[str]:
    rng = random.Random(seed)
    done: Counter[str] = Counter()
    n = 0
    while not stop.is_set():
        n += 1
        tag = f"c{seed}-{n}"
        player = rng.choice(mine)
        who = Cause(f"player:{player}", tag)
        roll = rng.random()
        try:
            if roll < 0.4:
                anyone = rng.choice(everyone)
                system.draws.draw(anyone, POOL, rng.randint(1, 3), Cause(f"player:{anyone}", tag))
                done["draw"] += 1
            elif roll < 0.65:
                _deposit(system, player, rng.randint(100, 5_000), tag)
                done["deposit"] += 1
            elif roll < 0.9:
                w = system.withdrawals.request(player, rng.randint(100, 3_000), "EUR", "iban", who)
                wid = UUID(w.withdrawal_id)
                if rng.random() < 0.3:
                    system.withdrawals.cancel(wid, Cause(f"player:{player}", f"{tag}-x"))
                else:
                    system.withdrawals.approve(wid, Cause(OP, f"{tag}-a"))
                    system.withdrawals.submit(wid, "psp", Cause(OP, f"{tag}-s"))
                    system.withdrawals.mark_paid(wid, Cause("system:psp", f"{tag}-p"))
                done["withdrawal"] += 1
            else:
                system.wallets.credit_bonus(player, rng.randint(1, 300), "promo", Cause(OP, tag))
                done["bonus"] += 1
        except (ConcurrencyConflict, DomainError):
            done["refused"] += 1
    return done


def test_a_tailing_projector_misses_nothing_from_concurrent_writers(
    pg_system: System, projectors: list[Projector]
) -> None:
    players = [f"p{i}" for i in range(16)]
    _open_pool(pg_system)
    _open_players(pg_system, players)
    projector = pg_system.projector(NAMES, batch_size=50)
    projectors.append(projector)
    running = _Running(projector)
    stop = threading.Event()
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [
                pool.submit(_mixed_client, pg_system, i, players[2 * i : 2 * i + 2], players, stop)
                for i in range(8)
            ]
            positions = []
            for _ in range(20):  # the projector follows while they write
                time.sleep(0.2)
                positions.append(min(s.position for s in projector.status()))
            stop.set()
            done = sum((f.result() for f in futures), Counter())
        head = _head(pg_system)
        _wait_until(lambda: _caught_up(projector), 30, "the projector to catch up")
    finally:
        stop.set()
        running.stop()
    assert done["draw"] > 100, done
    assert done["deposit"] > 50, done
    assert done["withdrawal"] > 50, done
    assert len(set(positions)) > 5, positions  # it tailed, not one catch-up at the end
    assert all(s.position == head for s in projector.status())
    _assert_views_equal_fold(pg_system)


# ---- 3. poison event -----------------------------------------------------------------------------


class _RefusesBonuses(TrialBalanceProjection):
    """The trial balance with a bug: it cannot handle a bonus credit."""

    name = "trial_balance"  # the library names a subclass after itself unless told

    def handlers(self) -> dict[str, Handler]:
        handlers = super().handlers()

        def refuse(w: Writes, e: Any, position: int) -> None:
            raise ValueError(f"cannot post {type(e).__qualname__}")

        handlers["Wallet.BonusCredited"] = refuse
        return handlers


def test_a_poison_event_stops_only_its_projection(
    pg_system: System, pg_settings: Settings, projectors: list[Projector]
) -> None:
    for p in ("ann", "ben", "cid"):
        pg_system.wallets.open(p, Cause(f"player:{p}", "open"))
        _deposit(pg_system, p, 10_000, "d1")
    pg_system.wallets.credit_bonus("ben", 700, "welcome", Cause(OP, "bonus-ben"))
    for p in ("ann", "ben", "cid"):
        _deposit(pg_system, p, 20_000, "d2")
    notes = _notifications(pg_system)
    poison = next(i for i, e in notes if type(e).__qualname__ == "Wallet.BonusCredited")
    before = max(i for i, _ in notes if i < poison)
    projector = _own_projector(
        pg_system,
        pg_settings,
        [
            BalancesProjection(_view(pg_system, "balances")),
            HistoryProjection(_view(pg_system, "history")),
            _RefusesBonuses(_view(pg_system, "trial_balance")),
        ],
    )
    projectors.append(projector)
    projector.catch_up()  # one page of every event: the poison sits in its middle

    def check() -> None:
        status = _status(projector)
        head = _head(pg_system)
        assert status["trial_balance"].state == "failed"
        assert status["trial_balance"].position == before
        assert status["trial_balance"].lag == head - before
        error = status["trial_balance"].last_error or ""
        assert f"notification {poison} " in error, error
        assert "(Wallet.BonusCredited): ValueError('cannot post" in error, error
        for name in ("balances", "history"):
            assert status[name].state == "running"
            assert status[name].position == head
            assert status[name].last_error is None
        assert (
            _rows(pg_system.read_store, "trial_balance")
            == (_folded_views([n for n in notes if n[0] <= before])["trial_balance"])
        )

    check()
    # Later events: the others keep going, the failed one stays where it stopped.
    for p in ("ann", "cid"):
        _deposit(pg_system, p, 30_000, "d3")
    projector.catch_up()
    check()
    _assert_views_equal_fold(pg_system, ["balances", "history"])


class _BreaksInTheDatabase(TrialBalanceProjection):
    """The trial balance with a bug the database finds: its statement for a bonus credit
    violates the table's NOT NULL (the handler itself does not fail)."""

    name = "trial_balance"

    def handlers(self) -> dict[str, Handler]:
        handlers = super().handlers()
        broken = f"INSERT INTO {self.t('accounts')} (account, currency, balance, postings)"
        broken += " VALUES (%s, %s, NULL, 0)"

        def breaks(w: Writes, e: Any, position: int) -> None:
            w.add(broken, "house:marketing", e.currency)

        handlers["Wallet.BonusCredited"] = breaks
        return handlers


@pytest.mark.parametrize("batch", [1_000, 3])
def test_a_statement_the_database_refuses_stops_only_its_projection(
    pg_system: System, pg_settings: Settings, projectors: list[Projector], batch: int
) -> None:
    """The projections share a transaction per page: when it fails, each is applied on its
    own, and only the one whose rows broke stops (at the event that broke them). With pages
    of 3 (full: written in the background while the next is worked out) the failure is found
    a step later, and the page worked out meanwhile is done again."""
    for p in ("ann", "ben"):
        pg_system.wallets.open(p, Cause(f"player:{p}", "open"))
        _deposit(pg_system, p, 10_000, "d1")
    pg_system.wallets.credit_bonus("ben", 700, "welcome", Cause(OP, "bonus-ben"))
    _deposit(pg_system, "ann", 20_000, "d2")
    notes = _notifications(pg_system)
    poison = next(i for i, e in notes if type(e).__qualname__ == "Wallet.BonusCredited")
    projector = _own_projector(
        pg_system,
        pg_settings,
        [
            BalancesProjection(_view(pg_system, "balances")),
            HistoryProjection(_view(pg_system, "history")),
            _BreaksInTheDatabase(_view(pg_system, "trial_balance")),
        ],
        batch,
    )
    projectors.append(projector)
    projector.catch_up()
    status = _status(projector)
    assert status["trial_balance"].state == "failed"
    assert status["trial_balance"].position == max(i for i, _ in notes if i < poison)
    assert f"notification {poison} " in (status["trial_balance"].last_error or "")
    assert "NotNullViolation" in (status["trial_balance"].last_error or "")
    head = _head(pg_system)
    for name in ("balances", "history"):
        assert (status[name].state, status[name].position) == ("running", head)
    _assert_views_equal_fold(pg_system, ["balances", "history"])


class _CountingStore:
    """A read store that counts its transactions."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store
        self.dialect = store.dialect
        self.transactions = 0

    def transaction(self) -> AbstractContextManager[ReadTx]:
        self.transactions += 1
        return self.store.transaction()

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        return self.store.fetchone(sql, params)

    def close(self) -> None:
        self.store.close()


def test_a_page_is_one_transaction_for_every_projection(
    pg_system: System,
    pg_settings: Settings,
    projectors: list[Projector],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(projector_module, "VERSION_CHECK_S", 3600.0)  # no version checks
    for p in ("ann", "ben"):
        pg_system.wallets.open(p, Cause(f"player:{p}", "open"))
        _deposit(pg_system, p, 10_000, "d1")
    store = _CountingStore(pg_system.read_store)
    classes = (BalancesProjection, HistoryProjection, TrialBalanceProjection)
    projector = _own_projector(
        pg_system, pg_settings, [cls(LedgerView(store, cls.name, 1)) for cls in classes]
    )
    projectors.append(projector)
    projector.prepare()
    store.transactions = 0
    assert projector.step() == len(_notifications(pg_system))
    assert store.transactions == 1
    assert {s.position for s in projector.status()} == {_head(pg_system)}
    _assert_views_equal_fold(pg_system)


def test_status_from_another_thread_while_pages_are_written_in_the_background(
    pg_system: System,
    pg_settings: Settings,
    projectors: list[Projector],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI logs status() from its main thread while the projector thread catches up with
    a page in flight; a version check is due at every call."""
    monkeypatch.setattr(projector_module, "VERSION_CHECK_S", 0.0)
    for i in range(6):
        pg_system.wallets.open(f"p{i}", Cause(f"player:p{i}", "open"))
        for k in range(4):
            _deposit(pg_system, f"p{i}", 1_000, f"d{k}")
    projector = _own_projector(
        pg_system,
        pg_settings,
        [
            BalancesProjection(_view(pg_system, "balances")),
            HistoryProjection(_view(pg_system, "history")),
            TrialBalanceProjection(_view(pg_system, "trial_balance")),
        ],
        batch=4,
    )
    projectors.append(projector)
    projector.prepare()
    running = _Running(projector)
    try:
        _wait_until(lambda: _caught_up(projector), 30, "the projector to catch up")
    finally:
        running.stop()
    assert {s.position for s in projector.status()} == {_head(pg_system)}
    _assert_views_equal_fold(pg_system)


def test_the_page_reader_connects_again_after_losing_its_connection(
    pg_system: System, pg_settings: Settings, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 1_000, "d1")
    projector = _own_projector(
        pg_system, pg_settings, [BalancesProjection(_view(pg_system, "balances"))]
    )
    projectors.append(projector)
    projector.prepare()
    assert projector.step() > 0
    with psycopg.connect(pg_settings.database_url or "", autocommit=True) as conn:
        (pid,) = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE %s AND pid <> pg_backend_pid()",
            ("%WHERE notification_id >= %",),
        ).fetchone() or (None,)
        assert pid is not None
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    _deposit(pg_system, "ann", 2_000, "d2")
    with pytest.raises(psycopg.OperationalError):
        projector.step()
    _drain(projector)  # a new connection
    assert {s.position for s in projector.status()} == {_head(pg_system)}
    _assert_views_equal_fold(pg_system, ["balances"])


# ---- 4. standby ----------------------------------------------------------------------------------


class _CountingBalances(BalancesProjection):
    """Balances that count the batches this instance worked out (the projector writes them)."""

    name = "balances"

    def __init__(self, view: LedgerView) -> None:
        super().__init__(view)
        self.batches = 0

    def prepare_batch(self, events: Any) -> Writes:
        self.batches += 1
        return super().prepare_batch(events)


def test_a_standby_takes_over_when_the_leader_stops(
    pg_system: System, pg_settings: Settings, projectors: list[Projector]
) -> None:
    for p in ("ann", "ben"):
        pg_system.wallets.open(p, Cause(f"player:{p}", "open"))
        _deposit(pg_system, p, 10_000, "d1")
    first = _CountingBalances(_view(pg_system, "balances"))
    second = _CountingBalances(_view(pg_system, "balances"))
    first.create()
    leader = _own_projector(pg_system, pg_settings, [first], batch=20)
    standby = _own_projector(pg_system, pg_settings, [second], batch=20)
    projectors.extend([leader, standby])
    running_leader = _Running(leader)
    running_standby: _Running | None = None
    try:
        _wait_until(lambda: _caught_up(leader), 20, "the leader to catch up")
        running_standby = _Running(standby)
        _wait_until(
            lambda: _status(standby)["balances"].state == "standby", 20, "the second to stand by"
        )
        for i in range(5):
            _deposit(pg_system, "ann", 1_000, f"more-{i}")
        _wait_until(lambda: _caught_up(leader), 20, "the leader to follow")
        assert _status(leader)["balances"].state == "running"
        assert _status(standby)["balances"].state == "standby"
        assert first.batches > 0
        assert second.batches == 0  # only one instance advances

        running_leader.stop()  # its lease connection closes
        for i in range(5):
            _deposit(pg_system, "ben", 1_000, f"more-{i}")
        _wait_until(lambda: _caught_up(standby), 20, "the standby to take over")
        assert second.batches > 0
        assert _status(standby)["balances"].position == _head(pg_system)
    finally:
        running_leader.stop()
        if running_standby is not None:
            running_standby.stop()
    _assert_views_equal_fold(pg_system, ["balances"])


# ---- 5. lag --------------------------------------------------------------------------------------


def test_lag_is_head_minus_position(pg_system: System, projectors: list[Projector]) -> None:
    for p in ("ann", "ben", "cid"):
        pg_system.wallets.open(p, Cause(f"player:{p}", "open"))
        for i in range(5):
            _deposit(pg_system, p, 1_000, f"d{i}")
    head = _head(pg_system)
    projector = pg_system.projector(NAMES, batch_size=25)
    projectors.append(projector)
    projector.prepare()
    for s in projector.status():
        assert (s.position, s.head, s.lag) == (0, head, head)
    assert projector.step() == 25
    page_end = _notifications(pg_system)[24][0]
    for s in projector.status():
        assert (s.position, s.head, s.lag) == (page_end, head, head - page_end)
        assert s.lag > 0
    projector.catch_up()
    for s in projector.status():
        assert (s.position, s.head, s.lag) == (head, head, 0)
    _deposit(pg_system, "ann", 1_000, "late")
    new_head = _head(pg_system)
    for s in projector.status():
        assert (s.position, s.head, s.lag) == (head, new_head, new_head - head)
    projector.catch_up()
    assert all(s.lag == 0 and s.position == new_head for s in projector.status())


# ---- regressions: bugs found while writing these tests, now fixed -------------------------------


def _lease_holders(settings: Settings) -> set[int]:
    """Backends holding advisory locks in this database."""
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND"
            " database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    return {int(pid) for (pid,) in rows}


def _lose_lease(settings: Settings, pid: int) -> None:
    """Kill a lease connection (a network blip, an idle timeout, a failover, a pooler restart)."""
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    _wait_until(lambda: pid not in _lease_holders(settings), 10, "the lease to be gone")


def _leader_and_standby(
    system: System, settings: Settings, projectors: list[Projector]
) -> tuple[Projector, Projector, int]:
    """Two instances of balances + trial_balance; returns them and the leader's lease pid."""
    before = _lease_holders(settings)
    made = [
        _own_projector(
            system,
            settings,
            [
                BalancesProjection(_view(system, "balances")),
                TrialBalanceProjection(_view(system, "trial_balance")),
            ],
        )
        for _ in range(2)
    ]
    projectors.extend(made)
    for projector in made:
        projector.prepare()
        _drain(projector)
    assert {s.state for s in made[0].status()} == {"running"}
    assert {s.state for s in made[1].status()} == {"standby"}
    (leader_pid,) = _lease_holders(settings) - before
    return made[0], made[1], leader_pid


def test_a_leader_that_lost_its_lease_never_applies_an_event_twice(
    pg_system: System, pg_settings: Settings, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 10_000, "d1")
    leader, standby, pid = _leader_and_standby(pg_system, pg_settings, projectors)
    _lose_lease(pg_settings, pid)
    _deposit(pg_system, "ann", 5_000, "d2")
    _drain(standby)  # takes the free lease over and applies d2
    _drain(leader)  # still believes it leads; the tracking guard must refuse d2 again
    _deposit(pg_system, "ann", 7_000, "d3")
    _drain(leader)
    _drain(standby)
    assert {s.state for s in standby.status()} == {"running"}
    _assert_views_equal_fold(pg_system, ["balances", "trial_balance"])


def test_a_leader_that_lost_its_lease_reports_standby(
    pg_system: System, pg_settings: Settings, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 10_000, "d1")
    leader, standby, pid = _leader_and_standby(pg_system, pg_settings, projectors)
    _lose_lease(pg_settings, pid)
    _deposit(pg_system, "ann", 5_000, "d2")
    _drain(standby)
    _drain(leader)
    assert {s.state for s in standby.status()} == {"running"}
    assert {s.state for s in leader.status()} == {"standby"}


def test_a_rebuild_reports_a_poison_event(
    pg_system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 10_000, "d1")
    poison = _record_poison(pg_system, "ann")
    _deposit(pg_system, "ann", 10_000, "d2")
    pg_system.projector(["trial_balance"])  # the read models exist (see the next test)
    _spin_guard(pg_system, monkeypatch)
    with pytest.raises(Exception, match=f"notification {poison}"):
        rebuild(pg_system.ledger, pg_system.read_store, "trial_balance")
    assert active_version(pg_system.read_store, TrialBalanceProjection) == 1


def _spin_guard(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn a rebuild loop that would spin forever into an error after 200 turns."""
    recorder = system.ledger.recorder
    real, calls = recorder.max_notification_id, [0]

    def counting() -> int | None:
        calls[0] += 1
        if calls[0] > 200:
            raise RuntimeError("rebuild is spinning")
        return real()

    monkeypatch.setattr(recorder, "max_notification_id", counting)


def test_a_rebuild_that_outlasts_the_version_check_finishes(
    pg_system: System, monkeypatch: pytest.MonkeyPatch, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    for i in range(10):
        _deposit(pg_system, "ann", 1_000, f"d{i}")
    projectors.append(pg_system.projector(NAMES))
    projectors[0].catch_up()  # version 1 is live and at the head
    # The check is due at the rebuild's first page: a rebuild as long as VERSION_CHECK_S.
    monkeypatch.setattr("infrastructure.projector.VERSION_CHECK_S", 0.0)
    _spin_guard(pg_system, monkeypatch)
    assert rebuild(pg_system.ledger, pg_system.read_store, "balances", batch_size=10) == 2
    assert _rows(pg_system.read_store, "balances", 2) == _rows(pg_system.read_store, "balances", 1)


def test_a_rebuild_works_on_a_fresh_read_store(pg_system: System) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 10_000, "d1")
    assert rebuild(pg_system.ledger, pg_system.read_store, "trial_balance") == 2
    _assert_views_equal_fold(pg_system, ["trial_balance"])


def test_a_poison_event_fails_every_money_projection(
    pg_system: System, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 10_000, "d1")
    poison = _record_poison(pg_system, "ann")
    before = max(i for i, _ in _notifications(pg_system) if i < poison)
    projector = pg_system.projector(NAMES)
    projectors.append(projector)
    projector.catch_up()
    for s in projector.status():
        assert s.state == "failed", s
        assert s.position == before, s
        assert f"notification {poison} (Wallet.DepositCredited)" in (s.last_error or "")


def test_projections_status_reports_a_failed_projection(
    pg_system: System, pg_settings: Settings, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    _deposit(pg_system, "ann", 10_000, "d1")
    poison = _record_poison(pg_system, "ann")
    projector = pg_system.projector(NAMES)
    projectors.append(projector)
    projector.catch_up()  # every projection fails on the poison (the test above)
    env = {
        **os.environ,
        "DATABASE_URL": pg_settings.database_url or "",
        "PRIZELEDGER_SCHEMA": pg_settings.schema,
    }
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "projections", "status", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["trial_balance"]["state"] == "failed", rows
    assert f"notification {poison}" in (rows["trial_balance"]["last_error"] or "")
    assert done.returncode == 1


def test_an_undecodable_event_shows_in_status(
    pg_system: System, projectors: list[Projector]
) -> None:
    pg_system.wallets.open("ann", Cause("player:ann", "open"))
    # A later release's event type (or a renamed class): this code cannot decode it.
    recorded = pg_system.ledger.recorder.insert_events(
        [StoredEvent(uuid4(), 1, "domain.wallet:Wallet.Vanished", b"\x80")]
    )
    assert recorded
    bad = recorded[0]
    projector = pg_system.projector(NAMES)
    projectors.append(projector)
    running = _Running(projector)
    try:
        time.sleep(2.0)
        status = projector.status()
    finally:
        running.stop()
    assert any(f"notification {bad}" in (s.last_error or "") for s in status), status
